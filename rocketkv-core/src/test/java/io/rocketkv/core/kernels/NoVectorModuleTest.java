package io.rocketkv.core.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A JVM started without {@code --add-modules jdk.incubator.vector} runs the scalar attention twin and never loads
 * a class that uses the Vector API; asking for {@code simd} there is refused naming the flag. The same program with
 * the module loads the SIMD classes under the names checked, so a renamed or moved class cannot slip past.
 */
class NoVectorModuleTest {

    /** The Vector API classes of the CPU backend: its whole SIMD package. */
    private static final String SIMD_PACKAGE = "io.rocketkv.core.kernels.simd.";
    private static final String[] SIMD_ATTENTION = {"SimdAttention", "SimdRows", "GroupTile"};

    @Test
    void withoutTheVectorModuleTheScalarTwinRunsAndNoVectorClassLoads() throws Exception {
        String out = run(false);
        assertTrue(out.contains("vector api: absent"), out);
        assertTrue(out.contains("decode out[7]: 8.0"), out); // one key: the output is its V row
        assertTrue(out.contains("simd: refused: the SIMD CPU kernels need the Vector API"), out);
        assertTrue(out.contains("io.rocketkv.core.kernels.ScalarAttention source:"), "the scalar twin loaded");
        assertFalse(out.contains(SIMD_PACKAGE), "a class of " + SIMD_PACKAGE + " loaded");
        assertFalse(out.contains("jdk.incubator.vector."), "a Vector API class loaded");
    }

    /** The same program with the module loads the SIMD attention's classes, by the names the test above looks for. */
    @Test
    void withTheVectorModuleTheSimdAttentionClassesLoadUnderTheNamesChecked() throws Exception {
        String out = run(true);
        assertTrue(out.contains("vector api: present"), out);
        assertTrue(out.contains("decode out[7]: 8.0"), out);
        for (String c : SIMD_ATTENTION) {
            assertTrue(out.contains(SIMD_PACKAGE + c + " source:"), c + " did not load: " + out);
        }
        assertFalse(out.contains("io.rocketkv.core.kernels.ScalarAttention source:"), "the scalar twin loaded");
    }

    private static String run(boolean vectorModule) throws Exception {
        String cp = System.getProperty("surefire.test.class.path");
        if (cp == null || cp.isBlank()) {
            cp = System.getProperty("java.class.path");
        }
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xlog:class+load=info", "-cp", cp));
        if (vectorModule) {
            cmd.add("--add-modules=jdk.incubator.vector");
        }
        cmd.add(NoVectorAttentionMain.class.getName());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), out);
        assertEquals(0, p.exitValue(), out);
        return out;
    }
}
