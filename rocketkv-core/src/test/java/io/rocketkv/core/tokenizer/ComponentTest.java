package io.rocketkv.core.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** Normalizers, decoders and the regex translation, on small inputs with known answers. */
class ComponentTest {

    private static Normalizer normalizer(String json) {
        return Normalizer.fromJson(CraftedTokenizers.json(json));
    }

    private static Decoder decoder(String json) {
        return Decoder.fromJson(CraftedTokenizers.json(json));
    }

    @Test
    void normalizers() {
        assertEquals("fi", normalizer("{'type': 'NFKC'}").normalize("ﬁ"));
        assertEquals("é", normalizer("{'type': 'NFC'}").normalize("e\u0301"));
        assertEquals("e\u0301", normalizer("{'type': 'NFD'}").normalize("é"));
        // Per character, like Rust's char::to_lowercase: İ -> i + U+0307, and no final-sigma rule.
        assertEquals("i\u0307stanbul σσ", normalizer("{'type': 'Lowercase'}").normalize("İSTANBUL ΣΣ"));
        assertEquals("cafe", normalizer("{'type': 'Sequence', 'normalizers': [{'type': 'NFD'}, {'type': 'StripAccents'}]}")
                .normalize("café"));
        assertEquals("a b", normalizer("{'type': 'Strip', 'strip_left': true, 'strip_right': true}").normalize("\u3000 a b\n"));
        assertEquals("▁a", normalizer("{'type': 'Prepend', 'prepend': '▁'}").normalize("a"));
        assertEquals("", normalizer("{'type': 'Prepend', 'prepend': '▁'}").normalize(""));
        assertEquals("a_b_c", normalizer("{'type': 'Replace', 'pattern': {'Regex': '\\\\s+'}, 'content': '_'}")
                .normalize("a \t b\u3000c"));
        assertEquals("a$1b", normalizer("{'type': 'Replace', 'pattern': {'String': '.'}, 'content': '$1'}").normalize("a.b"));
    }

    @Test
    void byteFallbackDecoder() {
        // The cases of tokenizers' byte_fallback.rs tests.
        Decoder d = decoder("{'type': 'ByteFallback'}");
        assertEquals(List.of("Hey", "friend!"), d.decodeChain(List.of("Hey", "friend!")));
        assertEquals(List.of("a"), d.decodeChain(List.of("<0x61>")));
        assertEquals(List.of("\uFFFD"), d.decodeChain(List.of("<0xE5>")));
        assertEquals(List.of("\uFFFD", "\uFFFD"), d.decodeChain(List.of("<0xE5>", "<0x8f>")));
        assertEquals(List.of("叫"), d.decodeChain(List.of("<0xE5>", "<0x8f>", "<0xab>")));
        assertEquals(List.of("叫", "a"), d.decodeChain(List.of("<0xE5>", "<0x8f>", "<0xab>", "a")));
        assertEquals(List.of("\uFFFD", "\uFFFD", "a"), d.decodeChain(List.of("<0xE5>", "<0x8f>", "a")));
    }

    @Test
    void stripMetaspaceFuseReplaceDecoders() {
        assertEquals(List.of("ey", " friend!", "HH"),
                decoder("{'type': 'Strip', 'content': 'H', 'start': 1, 'stop': 0}").decodeChain(List.of("Hey", " friend!", "HHH")));
        assertEquals(List.of("Hey", " friend!"),
                decoder("{'type': 'Metaspace', 'replacement': '▁', 'prepend_scheme': 'always', 'split': true}")
                        .decodeChain(List.of("▁Hey", "▁friend!")));
        assertEquals(List.of(" Hey", " friend!"),
                decoder("{'type': 'Metaspace', 'replacement': '▁', 'prepend_scheme': 'never', 'split': true}")
                        .decodeChain(List.of("▁Hey", "▁friend!")));
        assertEquals("Hey friend", decoder("{'type': 'Sequence', 'decoders': [{'type': 'Replace', 'pattern': {'String': '▁'},"
                + " 'content': ' '}, {'type': 'Fuse'}, {'type': 'Strip', 'content': ' ', 'start': 1, 'stop': 0}]}")
                .decode(List.of("▁Hey", "▁friend")));
    }

    @Test
    void byteLevelDecoder() {
        Decoder d = decoder("{'type': 'ByteLevel'}");
        assertEquals("Hello world é", d.decode(List.of("Hello", "Ġworld", "ĠÃ©")));
        assertEquals("a\uFFFD", d.decode(List.of("a", "Ã"))); // a lone lead byte
        assertEquals("<|eot|>€", d.decode(List.of("<|eot|>", "âĤ¬"))); // bytes E2 82 AC
        assertEquals("日本", d.decode(List.of("日本"))); // not byte-level characters: kept as UTF-8
    }

    @Test
    void regexTranslation() {
        Pattern s = OnigPattern.compile("\\s+");
        assertTrue(s.matcher("\u00a0\u3000\u2028\u0085").matches());
        assertFalse(s.matcher("\u200b").matches()); // zero-width space is not White_Space
        assertTrue(OnigPattern.compile("(?i:'s|'re)").matcher("'RE").matches());
        assertTrue(OnigPattern.compile("(?i:'s)").matcher("'ſ").matches()); // Unicode case folding
        assertTrue(OnigPattern.compile("\\p{Han}+").matcher("漢字").matches());
        assertTrue(OnigPattern.compile("\\p{^L}+").matcher("123 !").matches());
        assertTrue(OnigPattern.compile("\\h+[^\\h]").matcher("0aF?").matches());
        assertTrue(OnigPattern.compile("\\p{N}+").matcher("١٢३४Ⅻ½").matches());
        assertEquals("[0-9a-fA-F]x[^0-9a-fA-F][a0-9a-fA-F]", OnigPattern.translate("\\hx\\H[a\\h]"));
    }
}
