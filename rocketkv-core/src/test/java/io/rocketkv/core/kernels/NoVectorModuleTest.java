package io.rocketkv.core.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A JVM started without {@code --add-modules jdk.incubator.vector} runs the scalar attention twin and never loads
 * a class that uses the Vector API; asking for {@code simd} there is refused naming the flag.
 */
class NoVectorModuleTest {

    @Test
    void withoutTheVectorModuleTheScalarTwinRunsAndNoVectorClassLoads() throws Exception {
        String cp = System.getProperty("surefire.test.class.path");
        if (cp == null || cp.isBlank()) {
            cp = System.getProperty("java.class.path");
        }
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xlog:class+load=info", "-cp", cp, NoVectorAttentionMain.class.getName())
                .redirectErrorStream(true).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), out);
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("vector api: absent"), out);
        assertTrue(out.contains("decode out[7]: 8.0"), out); // one key: the output is its V row
        assertTrue(out.contains("simd: refused: the SIMD CPU kernels need the Vector API"), out);
        assertTrue(out.contains("io.rocketkv.core.kernels.ScalarAttention"), "the scalar twin loaded");
        for (String vectorClass : new String[] {"SimdAttention", "SimdRows", "GroupTile"}) {
            assertFalse(out.contains("io.rocketkv.core.kernels." + vectorClass + " source:"), vectorClass + " loaded");
        }
        assertFalse(out.contains("jdk.incubator.vector."), "a Vector API class loaded");
    }
}
