package io.rocketkv.core.tokenizer;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Unsupported components, malformed files and bad ids fail with messages that say what and where. */
class TokenizerErrorTest {
    private static final String[] TOKENS = {"a", "b", "ab"};
    private static final String[] MERGES = {"a b"};

    @TempDir
    Path dir;

    @ParameterizedTest(name = "{0}")
    @CsvSource({
        "normalizer,     'unsupported normalizer type ''Bogus''',     NFC",
        "pre_tokenizer,  'unsupported pre_tokenizer type ''Bogus''',  ByteLevel",
        "post_processor, 'unsupported post_processor type ''Bogus''', TemplateProcessing",
        "decoder,        'unsupported decoder type ''Bogus''',        ByteFallback",
    })
    void unknownComponentType(String kind, String message, String aSupportedType) {
        Path file = CraftedTokenizers.write(dir, TOKENS, MERGES, root -> root.set(kind, CraftedTokenizers.json("{'type': 'Bogus'}")));
        String error = assertThrows(TokenizerFormatException.class, () -> Tokenizer.load(file)).getMessage();
        assertContains(error, message);
        assertContains(error, aSupportedType);
        assertContains(error, file.toString());
    }

    @Test
    void unknownTypeInsideSequence() {
        Path file = CraftedTokenizers.write(dir, TOKENS, MERGES, root -> root.set("pre_tokenizer",
                CraftedTokenizers.json("{'type': 'Sequence', 'pretokenizers': [{'type': 'Digits', 'individual_digits': true},"
                        + " {'type': 'UnicodeScripts'}]}")));
        assertContains(assertThrows(TokenizerFormatException.class, () -> Tokenizer.load(file)).getMessage(),
                "unsupported pre_tokenizer type 'UnicodeScripts'");
    }

    @Test
    void unknownModelType() {
        Path file = CraftedTokenizers.write(dir, TOKENS, MERGES, root -> ((com.fasterxml.jackson.databind.node.ObjectNode)
                root.get("model")).put("type", "Unigram"));
        String error = assertThrows(TokenizerFormatException.class, () -> Tokenizer.load(file)).getMessage();
        assertContains(error, "unsupported model type 'Unigram' (supported: BPE)");
    }

    @Test
    void dropoutIsRejected() {
        Path file = CraftedTokenizers.write(dir, TOKENS, MERGES, root -> ((com.fasterxml.jackson.databind.node.ObjectNode)
                root.get("model")).put("dropout", 0.1));
        assertContains(assertThrows(TokenizerFormatException.class, () -> Tokenizer.load(file)).getMessage(), "dropout");
    }

    @Test
    void anEmptyVocabIsAnErrorAtLoad() {
        Path file = CraftedTokenizers.write(dir, new String[0], new String[0], root -> { });
        String error = assertThrows(TokenizerFormatException.class, () -> Tokenizer.load(file)).getMessage();
        assertContains(error, "the vocab (model.vocab) is empty");
        assertContains(error, file.toString());
    }

    @Test
    void mergeOfUnknownToken() {
        Path file = CraftedTokenizers.write(dir, TOKENS, new String[] {"a b", "ab c"}, root -> { });
        String error = assertThrows(TokenizerFormatException.class, () -> Tokenizer.load(file)).getMessage();
        assertContains(error, "merge 2 uses 'c'");
    }

    @Test
    void malformedJsonNamesTheFile() {
        Path file = dir.resolve("tokenizer.json");
        CraftedTokenizers.write(file, "{\"version\": \"1.0\", \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0,");
        String error = assertThrows(TokenizerFormatException.class, () -> Tokenizer.load(file)).getMessage();
        assertContains(error, file.toString());
        assertContains(error, "malformed");
    }

    @Test
    void malformedConfigNamesTheFile() {
        CraftedTokenizers.write(dir, TOKENS, MERGES, root -> { });
        Path config = dir.resolve("tokenizer_config.json");
        CraftedTokenizers.write(config, "{\"bos_token\": ");
        assertContains(assertThrows(TokenizerFormatException.class, () -> Tokenizer.load(dir)).getMessage(), config.toString());
    }

    @Test
    void missingFile() {
        assertContains(assertThrows(TokenizerFormatException.class, () -> Tokenizer.load(dir)).getMessage(),
                dir.resolve("tokenizer.json").toString());
    }

    @Test
    void decodeRejectsOutOfRangeIds() {
        Tokenizer tokenizer = Tokenizer.load(CraftedTokenizers.write(dir, TOKENS, MERGES, root -> { }));
        assertContains(assertThrows(IllegalArgumentException.class, () -> tokenizer.decode(new int[] {0, 3}, false))
                .getMessage(), "token id 3 is out of range: vocab size is 3");
        assertContains(assertThrows(IllegalArgumentException.class, () -> tokenizer.decode(new int[] {-1}, true))
                .getMessage(), "token id -1");
    }

    @Test
    void decodeRejectsOutOfRangeIdsOfARealTokenizer() {
        Tokenizer llama3 = TokenizerFixtures.tokenizer("llama3");
        assertContains(assertThrows(IllegalArgumentException.class, () -> llama3.decode(new int[] {9906, 128_256}, false))
                .getMessage(), "token id 128256 is out of range: vocab size is 128256");
    }

    private static void assertContains(String actual, String expected) {
        assertTrue(actual.contains(expected), () -> "expected the message to contain <" + expected + "> but was <" + actual + ">");
    }
}
