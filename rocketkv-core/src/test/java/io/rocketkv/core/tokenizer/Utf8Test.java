package io.rocketkv.core.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** Rust's String::from_utf8_lossy: one U+FFFD per maximal invalid subpart. */
class Utf8Test {

    private static String lossy(int... bytes) {
        byte[] b = new byte[bytes.length];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) bytes[i];
        }
        return Utf8.decode(b, b.length, false);
    }

    @Test
    void validTextIsUnchanged() {
        String s = "héllo 你好 😀";
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        assertEquals(s, Utf8.decode(b, b.length, false));
        assertEquals(s, Utf8.decode(b, b.length, true));
    }

    @Test
    void maximalSubpartsBecomeOneReplacementEach() {
        // Examples of the Rust documentation of Utf8Chunks / from_utf8_lossy.
        assertEquals("Hello \uFFFDWorld", lossy('H', 'e', 'l', 'l', 'o', ' ', 0xF0, 0x90, 0x80, 'W', 'o', 'r', 'l', 'd'));
        assertEquals("\uFFFD\uFFFD", lossy(0xE0, 0x80));        // E0 needs A0..BF next
        assertEquals("\uFFFD\uFFFD\uFFFD", lossy(0xED, 0xA0, 0x80)); // a surrogate
        assertEquals("\uFFFD", lossy(0xE5, 0x8F));              // truncated at the end
        assertEquals("\uFFFD\uFFFD", lossy(0xC0, 0x80));        // overlong
        assertEquals("\uFFFDa", lossy(0xFF, 'a'));
        assertEquals("\uFFFD\uFFFD", lossy(0xF4, 0x90));        // above U+10FFFF
    }

    @Test
    void strictRejectsInvalid() {
        assertNull(Utf8.decode(new byte[] {(byte) 0xE5, (byte) 0x8F}, 2, true));
    }

    @Test
    void loneSurrogatesBecomeReplacementCharacters() {
        assertEquals("a\uFFFDb\uFFFD😀", Utf8.withoutLoneSurrogates("a\uD800b\uDC00😀"));
        String clean = "abc😀";
        org.junit.jupiter.api.Assertions.assertSame(clean, Utf8.withoutLoneSurrogates(clean));
    }

    @Test
    void tokenizersReadLoneSurrogatesAsReplacementCharacters() {
        for (String name : TokenizerFixtures.NAMES) {
            Tokenizer t = TokenizerFixtures.tokenizer(name);
            org.junit.jupiter.api.Assertions.assertArrayEquals(t.encode("x\uFFFDy", true), t.encode("x\uD83Dy", true), name);
        }
    }
}
