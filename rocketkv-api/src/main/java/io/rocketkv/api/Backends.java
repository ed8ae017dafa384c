package io.rocketkv.api;

import io.rocketkv.core.kernels.Collective;
import io.rocketkv.core.kernels.CpuKernels;
import io.rocketkv.core.kernels.Kernels;
import io.rocketkv.core.kernels.KernelsProvider;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The backends a model can run on: the CPU's, always, and the CUDA backend when the {@code rocketkv-cuda}
 * artifact is on the class path, found through {@link ServiceLoader} as a {@link KernelsProvider} named
 * {@code cuda}. A consumer that excludes {@code io.rocketkv:rocketkv-cuda} gets {@code Backend.AUTO} on the
 * CPU (one INFO line) and a clear error for {@code Backend.CUDA}; nothing here names a CUDA class.
 */
final class Backends {

    private static final Logger log = LoggerFactory.getLogger(Backends.class);

    /** The provider name of the CUDA backend. */
    static final String CUDA = "cuda";

    /** Why CUDA cannot run when its artifact is absent, and how to add it. */
    static final String CUDA_ARTIFACT_MISSING = "the CUDA backend is not on the class path: the artifact"
            + " io.rocketkv:rocketkv-cuda (which registers it in META-INF/services/"
            + KernelsProvider.class.getName() + ") is missing or was excluded; add the dependency"
            + " io.rocketkv:rocketkv-cuda (the version of rocketkv-api; io.rocketkv:rocketkv-bom manages it)";

    /** AUTO's reason for the CPU when the artifact is absent. */
    static final String CUDA_NOT_ON_CLASS_PATH =
            "io.rocketkv:rocketkv-cuda, the CUDA backend, is not on the class path";

    private final KernelsProvider cuda; // null when rocketkv-cuda is not on the class path

    /** The providers of {@code providers} (e.g. none, for a CPU-only class path); the first named cuda is used. */
    Backends(Iterable<KernelsProvider> providers) {
        KernelsProvider found = null;
        for (KernelsProvider p : providers) {
            if (found == null && CUDA.equals(p.name())) {
                found = p;
            }
        }
        this.cuda = found;
    }

    /** The providers registered on the class path of this library. */
    static Backends installed() {
        return new Backends(ServiceLoader.load(KernelsProvider.class, Backends.class.getClassLoader()));
    }

    /** True when rocketkv-cuda is on the class path (whether or not CUDA can run here). */
    boolean hasCuda() {
        return cuda != null;
    }

    private static Kernels cpu(KvCacheDtype kvDtype) {
        return kvDtype.dtype() == null ? new CpuKernels() : new CpuKernels(true, kvDtype.dtype());
    }

    /**
     * The backend of one device for {@code backend}; AUTO logs what it took and why. The CPU backend keeps its KV
     * cache in {@code kvDtype} where that names a type (bf16 or float32), else in its default (bf16).
     */
    Kernels open(Backend backend, boolean sparse, KvCacheDtype kvDtype) {
        return switch (backend) {
            case CPU -> cpu(kvDtype);
            case AUTO -> {
                String why = cuda == null ? CUDA_NOT_ON_CLASS_PATH : cuda.unavailableReason();
                if (why == null) {
                    log.info("backend AUTO: CUDA{}", sparse ? " (RocketKV sparse attention)" : "");
                    yield cuda.open(0, kvDtype.dtype());
                }
                log.info("backend AUTO: CPU ({})", why);
                yield cpu(kvDtype);
            }
            case CUDA -> {
                requireProvider("backend CUDA");
                cuda.requireAvailable("backend CUDA");
                yield cuda.open(0, kvDtype.dtype());
            }
        };
    }

    /**
     * The machine's part of the {@code tensor_parallel_size} rules: the CUDA backend, {@code tp} visible devices
     * and a collective library (NCCL). {@code name} names the setting in the messages.
     */
    void checkTensorParallel(String name, int tp) {
        if (cuda == null) {
            throw new ConfigException("tensor_parallel_size", name + " needs the CUDA backend, but "
                    + CUDA_ARTIFACT_MISSING + ", or set tensor_parallel_size: 1");
        }
        int devices = cuda.deviceCount();
        if (devices < tp) {
            String why = cuda.unavailableReason();
            throw new ConfigException("tensor_parallel_size", name + " needs " + tp + " visible CUDA devices, "
                    + devices + " visible" + (why == null ? "" : " (" + why + ")")
                    + "; lower tensor_parallel_size or set CUDA_VISIBLE_DEVICES");
        }
        String noCollectives = cuda.collectivesUnavailableReason();
        if (noCollectives != null) {
            throw new ConfigException("tensor_parallel_size", name + " needs NCCL (libnccl.so.2), which is "
                    + "unavailable: " + noCollectives + "; install NCCL or set tensor_parallel_size: 1");
        }
    }

    /**
     * One CUDA backend per device 0..n-1 (the devices were counted by {@link #checkTensorParallel}), each with its KV
     * cache in {@code kvDtype} where it stores that type.
     */
    List<Kernels> cudaRanks(int n, KvCacheDtype kvDtype) {
        requireProvider("tensor parallelism");
        List<Kernels> out = new ArrayList<>();
        try {
            for (int r = 0; r < n; r++) {
                out.add(cuda.open(r, kvDtype.dtype()));
            }
        } catch (RuntimeException e) {
            LLM.closeQuietly(out, e);
            throw e;
        }
        return List.copyOf(out);
    }

    /** The tensor-parallel group of {@code ranks} (from {@link #cudaRanks}), one collective per rank. */
    List<Collective> group(List<Kernels> ranks) {
        requireProvider("tensor parallelism");
        return cuda.collectives(ranks);
    }

    private void requireProvider(String what) {
        if (cuda == null) {
            throw new IllegalStateException(what + " was requested, but " + CUDA_ARTIFACT_MISSING
                    + ", or use backend AUTO or CPU");
        }
    }
}
