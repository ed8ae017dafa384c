package io.rocketkv.core.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.rocketkv.core.tokenizer.TokenizerFixtures.GoldenCase;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Every input of golden.json, for each fixture tokenizer: ids with and without special tokens and
 * both decodings must equal what Hugging Face {@code tokenizers} produced.
 */
class TokenizerGoldenTest {

    @TestFactory
    Stream<DynamicTest> llama3() {
        return cases("llama3");
    }

    @TestFactory
    Stream<DynamicTest> qwen3() {
        return cases("qwen3");
    }

    @TestFactory
    Stream<DynamicTest> llama2() {
        return cases("llama2");
    }

    private static Stream<DynamicTest> cases(String name) {
        Tokenizer tokenizer = TokenizerFixtures.tokenizer(name);
        List<GoldenCase> goldens = TokenizerFixtures.goldens(name);
        assertFalse(goldens.isEmpty(), name + " golden.json has no cases");
        return goldens.stream().map(c -> DynamicTest.dynamicTest(name + " " + c.label(), () -> check(tokenizer, c)));
    }

    private static void check(Tokenizer tokenizer, GoldenCase c) {
        int[] ids = tokenizer.encode(c.text(), true);
        assertArrayEquals(c.ids(), ids, () -> TokenizerFixtures.idMismatch("ids (add_special_tokens)", c.text(), c.ids(), ids));
        int[] plain = tokenizer.encode(c.text(), false);
        assertArrayEquals(c.idsNoSpecial(), plain,
                () -> TokenizerFixtures.idMismatch("ids (no special tokens)", c.text(), c.idsNoSpecial(), plain));
        assertEquals(TokenizerFixtures.quote(c.decoded(), 100_000), TokenizerFixtures.quote(tokenizer.decode(c.ids(), false), 100_000),
                "decode(ids, skip_special_tokens=False)");
        assertEquals(TokenizerFixtures.quote(c.decodedSkipSpecial(), 100_000),
                TokenizerFixtures.quote(tokenizer.decode(c.ids(), true), 100_000), "decode(ids, skip_special_tokens=True)");
    }
}
