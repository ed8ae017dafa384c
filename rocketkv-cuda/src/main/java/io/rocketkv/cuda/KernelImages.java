package io.rocketkv.cuda;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The kernel fatbins the build packs into this jar: {@code src/main/cuda/NAME.cu} becomes the resource
 * {@code io/rocketkv/cuda/kernels-NAME.fatbin} (SASS for sm_90 and sm_100, PTX for compute_100), listed
 * one per line in {@code io/rocketkv/cuda/kernels.index}. Each is loaded as its own {@link CudaModule}.
 */
public final class KernelImages {

    /** Class-path directory of the fatbins. */
    public static final String DIRECTORY = "io/rocketkv/cuda/";
    /** The index resource: one fatbin file name per line. */
    public static final String INDEX = DIRECTORY + "kernels.index";

    private KernelImages() {
    }

    /** The resource name of the fatbin built from {@code src/main/cuda/<family>.cu}. */
    public static String fatbinName(String family) {
        return "kernels-" + family + ".fatbin";
    }

    /** What to say when this jar has no kernels: why, and how to get a jar that has them. */
    public static final String MISSING = "this rocketkv-cuda jar was built without its CUDA kernels (nvcc was not"
            + " found at build time, so " + INDEX + " is not on the class path); rebuild it with the CUDA 13"
            + " toolkit's nvcc on PATH, in $CUDA_HOME/bin or in -Dcuda.home=DIR/bin, or use the CPU backend";

    /** True when the build packed the kernels into this jar (the index is on the class path and names a fatbin). */
    public static boolean available() {
        if (KernelImages.class.getClassLoader().getResource(INDEX) == null) {
            return false;
        }
        return !names().isEmpty();
    }

    /** Throws {@link IllegalStateException} saying the jar has no kernels unless {@link #available()}. */
    public static void require(String what) {
        if (!available()) {
            throw new IllegalStateException(what + " cannot start: " + MISSING);
        }
    }

    /** The fatbin file names listed in the index. */
    public static List<String> names() {
        try (InputStream in = open(INDEX)) {
            return new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8)).lines()
                    .map(String::strip).filter(s -> !s.isEmpty()).toList();
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + INDEX, e);
        }
    }

    /** The bytes of fatbin {@code name} (e.g. {@code kernels-elementwise.fatbin}). */
    public static byte[] read(String name) {
        try (InputStream in = open(DIRECTORY + name)) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + DIRECTORY + name, e);
        }
    }

    /** Loads the fatbin of kernel family {@code family} into {@code context}. */
    public static CudaModule load(CudaContext context, String family) {
        String name = fatbinName(family);
        return context.loadModule(name, read(name));
    }

    private static InputStream open(String resource) {
        InputStream in = KernelImages.class.getClassLoader().getResourceAsStream(resource);
        if (in == null) {
            throw new IllegalStateException(resource + " is not on the class path: " + MISSING);
        }
        return in;
    }
}
