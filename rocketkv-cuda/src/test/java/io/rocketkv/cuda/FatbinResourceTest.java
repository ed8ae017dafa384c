package io.rocketkv.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Runs everywhere: the build put one fatbin per {@code src/main/cuda/*.cu} on the class path, each with
 * SASS for sm_90 and sm_100 and PTX for compute_100; and the fatbin reader rejects garbage cleanly.
 */
class FatbinResourceTest {

    private static final String KERNEL_LESS = "this build packed no kernels (nvcc was not found at build time)";

    @Test
    void everyIndexedFatbinHasHopperAndBlackwellCode() {
        assumeTrue(KernelImages.available(), KERNEL_LESS);
        List<String> names = KernelImages.names();
        assertTrue(names.contains(KernelImages.fatbinName(ElementwiseKernels.FAMILY)), names.toString());
        for (String name : names) {
            byte[] image = KernelImages.read(name);
            assertTrue(image.length > 1000, name + " is " + image.length + " bytes");
            assertTrue(Fatbin.isFatbin(image), name + " lacks the fatbin magic");
            List<Fatbin.Entry> entries = Fatbin.entries(image);
            List<String> archs = entries.stream().map(Fatbin.Entry::toString).toList();
            assertTrue(archs.contains("sm_90"), name + ": " + archs);
            assertTrue(archs.contains("sm_100"), name + ": " + archs);
            assertTrue(archs.contains("compute_100"), name + ": " + archs);
            CudaDevice.ComputeCapability hopper = new CudaDevice.ComputeCapability(9, 0);
            CudaDevice.ComputeCapability ampere = new CudaDevice.ComputeCapability(8, 0);
            assertTrue(entries.stream().anyMatch(e -> e.runsOn(hopper)), name);
            assertFalse(entries.stream().anyMatch(e -> e.runsOn(ampere)), name);
        }
    }

    @Test
    void everyKernelSourceIsIndexed() throws IOException {
        Path dir = Stream.of(Path.of("src/main/cuda"), Path.of("rocketkv-cuda/src/main/cuda"))
                .filter(Files::isDirectory).findFirst().orElse(null);
        assumeTrue(dir != null, "kernel sources are not beside the tests here");
        assumeTrue(KernelImages.available(), KERNEL_LESS);
        List<String> names = KernelImages.names();
        try (Stream<Path> files = Files.list(dir)) {
            List<String> expected = files.map(p -> p.getFileName().toString()).filter(f -> f.endsWith(".cu"))
                    .map(f -> KernelImages.fatbinName(f.substring(0, f.length() - 3))).sorted().toList();
            assertEquals(expected, names.stream().sorted().toList());
        }
    }

    @Test
    void missingResourceSaysHowToBuildIt() {
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> KernelImages.read("kernels-nope.fatbin"));
        assertTrue(e.getMessage().contains("nvcc"), e.getMessage());
    }

    @Test
    void kernelLessJarRefusesWithHowToGetKernels() {
        assumeFalse(KernelImages.available(), "this build packed the kernels");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> KernelImages.require("the test"));
        assertTrue(e.getMessage().contains("built without its CUDA kernels"), e.getMessage());
        assertTrue(e.getMessage().contains("CUDA 13"), e.getMessage());
        assertThrows(IllegalStateException.class, KernelImages::names);
    }

    @Test
    void readerRejectsGarbageAndTruncation() {
        assertFalse(Fatbin.isFatbin(new byte[] {1, 2, 3}));
        assertThrows(IllegalArgumentException.class, () -> Fatbin.entries(new byte[64]));
        assumeTrue(KernelImages.available(), KERNEL_LESS);
        byte[] image = KernelImages.read(KernelImages.fatbinName(ElementwiseKernels.FAMILY));
        for (int cut : new int[] {16, 40, 100, image.length / 2, image.length - 1}) {
            byte[] truncated = Arrays.copyOf(image, cut);
            assertThrows(IllegalArgumentException.class, () -> Fatbin.entries(truncated), "cut at " + cut);
        }
        byte[] corrupt = image.clone();
        corrupt[16 + 4] = (byte) 0xFF; // first entry's header size
        corrupt[16 + 5] = (byte) 0xFF;
        corrupt[16 + 6] = (byte) 0xFF;
        assertThrows(IllegalArgumentException.class, () -> Fatbin.entries(corrupt));
    }
}
