package io.rocketkv.core.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.OptionalInt;
import org.junit.jupiter.api.Test;

/** Vocabulary facts and tokenizer_config.json values of the three fixtures. */
class TokenizerLoadTest {

    @Test
    void llama3() {
        Tokenizer t = TokenizerFixtures.tokenizer("llama3");
        assertEquals(128_256, t.vocabSize());
        assertEquals(128_000, t.bosId());
        assertArrayEquals(new int[] {128_001}, t.eosIds());
        assertEquals(OptionalInt.of(128_009), t.tokenToId("<|eot_id|>"));
        assertEquals("<|eot_id|>", t.idToToken(128_009));
        assertTrue(t.isSpecial(128_009));
        assertEquals("Ġworld", t.idToToken(1917));
        assertEquals(256, t.addedTokens().size());
        assertTrue(t.chatTemplate().orElseThrow().contains("start_header_id"));
        assertEquals(Long.MAX_VALUE, t.config().modelMaxLength()); // 1e30 in the file
    }

    @Test
    void qwen3() {
        Tokenizer t = TokenizerFixtures.tokenizer("qwen3");
        assertEquals(151_669, t.vocabSize());
        assertEquals(-1, t.bosId()); // "bos_token": null
        assertArrayEquals(new int[] {151_645}, t.eosIds()); // <|im_end|>
        assertEquals(OptionalInt.of(151_667), t.tokenToId("<think>"));
        assertFalse(t.isSpecial(151_667));
        assertEquals(131_072, t.config().modelMaxLength());
        assertEquals(Boolean.FALSE, t.config().addBosToken());
    }

    @Test
    void llama2() {
        Tokenizer t = TokenizerFixtures.tokenizer("llama2");
        assertEquals(32_000, t.vocabSize());
        assertEquals(1, t.bosId());
        assertArrayEquals(new int[] {2}, t.eosIds());
        assertEquals(OptionalInt.of(0), t.tokenToId("<unk>"));
        assertEquals("<0x0A>", t.idToToken(13));
        assertEquals(OptionalInt.empty(), t.tokenToId("no such token"));
        assertNull(t.idToToken(32_000));
        assertEquals(Boolean.TRUE, t.config().addBosToken());
        assertFalse(t.chatTemplate().isPresent());
    }

    @Test
    void loadsFromFileAsWellAsDirectory() {
        Tokenizer fromFile = Tokenizer.load(TokenizerFixtures.dir("llama2").resolve("tokenizer.json"));
        assertArrayEquals(TokenizerFixtures.tokenizer("llama2").encode("Hello world", true), fromFile.encode("Hello world", true));
        assertEquals(1, fromFile.bosId()); // tokenizer_config.json beside the file is read too
    }
}
