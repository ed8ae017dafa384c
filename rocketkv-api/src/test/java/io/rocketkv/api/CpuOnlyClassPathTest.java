package io.rocketkv.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;

/**
 * A consumer that excludes io.rocketkv:rocketkv-cuda: this module's test class path less every entry holding
 * {@code io/rocketkv/cuda/}, in a new JVM running {@link CpuOnlyMain}. AUTO must run on the CPU and CUDA must
 * be refused naming the missing artifact; a class of rocketkv-api that linked a CUDA class would fail there
 * with NoClassDefFoundError instead.
 */
class CpuOnlyClassPathTest {

    @Test
    void withoutRocketkvCudaAutoRunsOnTheCpuAndCudaIsRefusedNamingTheArtifact() throws Exception {
        List<String> all = Arrays.asList(testClassPath().split(File.pathSeparator));
        List<String> kept = new ArrayList<>();
        List<String> dropped = new ArrayList<>();
        for (String entry : all) {
            (holdsCudaClasses(Path.of(entry)) ? dropped : kept).add(entry);
        }
        assertFalse(dropped.isEmpty(), "no rocketkv-cuda entry on the test class path: " + all);

        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-cp", String.join(File.pathSeparator, kept),
                CpuOnlyMain.class.getName()).redirectErrorStream(true).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), out);
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("cuda classes: absent"), out);
        assertTrue(out.contains("auto backend: cpu"), out);
        assertTrue(out.contains("auto tokens: 5"), out);
        assertTrue(out.contains("cuda backend: refused: backend CUDA was requested, but the CUDA backend is not on"
                + " the class path"), out);
        assertTrue(out.contains("add the dependency io.rocketkv:rocketkv-cuda"), out);
    }

    /** The real test class path (Surefire may start tests from a manifest-only jar). */
    private static String testClassPath() {
        String surefire = System.getProperty("surefire.test.class.path");
        return surefire != null && !surefire.isBlank() ? surefire : System.getProperty("java.class.path");
    }

    private static boolean holdsCudaClasses(Path entry) throws IOException {
        if (Files.isDirectory(entry)) {
            return Files.isDirectory(entry.resolve("io/rocketkv/cuda"));
        }
        if (!Files.isRegularFile(entry)) {
            return false;
        }
        try (ZipFile jar = new ZipFile(entry.toFile())) {
            return jar.getEntry("io/rocketkv/cuda/") != null
                    || jar.getEntry("io/rocketkv/cuda/CudaKernelsProvider.class") != null;
        }
    }
}
