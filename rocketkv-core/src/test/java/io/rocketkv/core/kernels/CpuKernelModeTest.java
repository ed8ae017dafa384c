package io.rocketkv.core.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class CpuKernelModeTest {

    @Test
    void propertyPicksTheModeAndRefusesOthers() {
        String old = System.getProperty(CpuKernelMode.PROPERTY);
        try {
            System.clearProperty(CpuKernelMode.PROPERTY);
            assertEquals(CpuKernelMode.SIMD, CpuKernelMode.fromSystemProperty());
            System.setProperty(CpuKernelMode.PROPERTY, "scalar");
            assertEquals("scalar", new CpuKernels().denseKernels());
            System.setProperty(CpuKernelMode.PROPERTY, "SIMD");
            assertEquals("simd", new CpuKernels().denseKernels()); // the tests' JVM has the module
            System.setProperty(CpuKernelMode.PROPERTY, "avx");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, CpuKernels::new);
            assertTrue(e.getMessage().contains("rocketkv.cpu.kernels") && e.getMessage().contains("'avx'"), e.getMessage());
        } finally {
            if (old == null) {
                System.clearProperty(CpuKernelMode.PROPERTY);
            } else {
                System.setProperty(CpuKernelMode.PROPERTY, old);
            }
        }
    }

    /**
     * A JVM started without {@code --add-modules jdk.incubator.vector}: the default kernels fall back to scalar,
     * run, and say so in one warning line naming the flag; asking for SIMD explicitly is refused.
     */
    @Test
    void aJvmWithoutTheVectorModuleFallsBackToScalarWithOneWarning() throws Exception {
        String java = System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
        Process p = new ProcessBuilder(List.of(java, "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), NoVectorModuleMain.class.getName()))
                .redirectErrorStream(true).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the child JVM did not finish");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), out);
        List<String> lines = out.lines().toList();
        assertEquals(List.of("module=false", "kernels=scalar", "matmul=ok", "explicit=refused"),
                lines.stream().filter(l -> !l.contains("WARN")).toList(), out);
        List<String> warnings = lines.stream().filter(l -> l.contains("WARN")).toList();
        assertEquals(1, warnings.size(), out);
        assertTrue(warnings.get(0).contains("--add-modules jdk.incubator.vector"), out);
    }
}
