package io.rocketkv.api;

import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;

/**
 * A test class over one {@link TinyLlm} (written to a fresh directory and opened before the class's tests, closed
 * after them) in {@link #llm}. The fields are static and shared by the subclasses, so their classes must run one at a
 * time (JUnit's default, as in this build).
 */
abstract class TinyLlmSuite {

    @TempDir
    static Path dir;

    static LLM llm;

    @BeforeAll
    static void openTinyLlm() throws Exception {
        llm = TinyLlm.open(TinyLlm.write(dir));
    }

    @AfterAll
    static void closeTinyLlm() {
        llm.close();
    }
}
