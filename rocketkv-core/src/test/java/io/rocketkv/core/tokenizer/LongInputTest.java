package io.rocketkv.core.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Inputs that defeat word caches and whitespace splitting (100 KB without a space) encode in
 * O(n log n): a quadratic merge or regex would take minutes here, not the few hundred ms allowed.
 */
class LongInputTest {
    private static final int CHARS = 100_000;

    @TestFactory
    Stream<DynamicTest> longWordsWithoutSpaces() {
        StringBuilder cjk = new StringBuilder();
        StringBuilder emoji = new StringBuilder();
        for (int i = 0; i < CHARS; i++) {
            cjk.append((char) (0x4E00 + (i * 7919) % 0x5000));
            if (i % 2 == 0) {
                emoji.appendCodePoint(0x1F300 + (i * 31) % 0x300);
            }
        }
        String[][] inputs = {
            {"cjk", cjk.toString()},
            {"a", "a".repeat(CHARS)},
            {"emoji", emoji.toString()},
            {"punctuation", "!?.-".repeat(CHARS / 4)},
            {"spaces", " ".repeat(CHARS) + "x"},
            {"newlines", "\n".repeat(CHARS)},
        };
        return TokenizerFixtures.NAMES.stream().flatMap(name -> Stream.of(inputs).map(input ->
                DynamicTest.dynamicTest(name + " " + input[0], () -> {
                    Tokenizer tokenizer = TokenizerFixtures.tokenizer(name);
                    long start = System.nanoTime();
                    int[] ids = tokenizer.encode(input[1], false);
                    long millis = (System.nanoTime() - start) / 1_000_000;
                    assertTrue(millis < 5_000, name + " " + input[0] + ": " + millis + " ms for " + ids.length + " tokens");
                    assertEquals(input[1], tokenizer.decode(ids, false));
                })));
    }
}
