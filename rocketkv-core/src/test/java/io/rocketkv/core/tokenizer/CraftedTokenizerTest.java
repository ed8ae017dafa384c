package io.rocketkv.core.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * BPE options and added-token flags that the fixtures leave unused, on hand-made vocabularies whose
 * answers follow from tokenizers' rules (BPE::merge_word, AddedVocabulary::find_matches).
 */
class CraftedTokenizerTest {
    @TempDir
    Path dir;

    private Tokenizer load(String[] tokens, String[] merges, Consumer<ObjectNode> edit) {
        return Tokenizer.load(CraftedTokenizers.write(dir, tokens, merges, edit));
    }

    private static ObjectNode model(ObjectNode root) {
        return (ObjectNode) root.get("model");
    }

    @Test
    void byteFallbackThenUnk() {
        String[] tokens = {"<unk>", "a", "b", "ab", "<0xC3>", "<0xA9>"};
        Tokenizer t = load(tokens, new String[] {"a b"}, root -> {
            model(root).put("unk_token", "<unk>").put("byte_fallback", true).put("fuse_unk", true);
            root.set("decoder", CraftedTokenizers.json("{'type': 'Sequence', 'decoders': [{'type': 'ByteFallback'}, {'type': 'Fuse'}]}"));
        });
        assertArrayEquals(new int[] {3, 4, 5}, t.encode("abé", false)); // é = C3 A9, both byte tokens exist
        assertArrayEquals(new int[] {1, 0}, t.encode("a€€", false));    // € lacks byte tokens: one fused unk
        assertEquals("abé", t.decode(new int[] {3, 4, 5}, false));
        assertEquals("\uFFFDa", t.decode(new int[] {4, 1}, false));
    }

    @Test
    void unkWithoutFusing() {
        Tokenizer t = load(new String[] {"<unk>", "a"}, new String[0], root -> model(root).put("unk_token", "<unk>"));
        assertArrayEquals(new int[] {0, 0, 1, 0}, t.encode("xya€", false));
    }

    @Test
    void unknownCharactersWithoutUnkAreDropped() {
        Tokenizer t = load(new String[] {"a"}, new String[0], root -> { });
        assertArrayEquals(new int[] {0, 0}, t.encode("axa", false));
    }

    @Test
    void continuingSubwordPrefixAndEndOfWordSuffix() {
        Tokenizer prefixed = load(new String[] {"h", "##e", "##y", "##ey", "hey", "y", "##h"},
                new String[] {"##e ##y", "h ##ey"}, root -> model(root).put("continuing_subword_prefix", "##"));
        assertArrayEquals(new int[] {4}, prefixed.encode("hey", false));
        assertArrayEquals(new int[] {5, 1, 6}, prefixed.encode("yeh", false));
        Tokenizer suffixed = load(new String[] {"a", "b</w>", "ab</w>", "b"}, new String[] {"a b</w>"},
                root -> model(root).put("end_of_word_suffix", "</w>"));
        assertArrayEquals(new int[] {2}, suffixed.encode("ab", false));
        assertArrayEquals(new int[] {3, 1}, suffixed.encode("bb", false));
    }

    @Test
    void ignoreMergesTakesWholeWordsFromTheVocab() {
        String[] tokens = {"a", "b", "ab"};
        assertArrayEquals(new int[] {0, 1}, load(tokens, new String[0], root -> { }).encode("ab", false));
        assertArrayEquals(new int[] {2}, load(tokens, new String[0], root -> model(root).put("ignore_merges", true))
                .encode("ab", false));
    }

    @Test
    void mergesAsPairs() {
        Tokenizer t = load(new String[] {"a", " ", "b", "c", "a ", "a b", "a bc"}, new String[0], root -> {
            ArrayNode merges = model(root).putArray("merges"); // the pair form allows spaces inside tokens
            merges.addArray().add("a").add(" ");
            merges.addArray().add("a ").add("b");
            merges.addArray().add("a b").add("c");
        });
        assertArrayEquals(new int[] {6}, t.encode("a bc", false));
    }

    @Test
    void addedTokenFlags() {
        String[] tokens = {"a", " ", "b", "y", "e", "s", "x"};
        Tokenizer t = load(tokens, new String[0], root -> {
            ArrayNode added = (ArrayNode) root.get("added_tokens");
            added.add(CraftedTokenizers.addedToken(7, "<m>", true).put("lstrip", true).put("rstrip", true));
            added.add(CraftedTokenizers.addedToken(8, "yes", false).put("single_word", true));
            added.add(CraftedTokenizers.addedToken(9, "<n>", true));
            root.set("decoder", CraftedTokenizers.json("{'type': 'Fuse'}"));
        });
        assertArrayEquals(new int[] {0, 7, 2}, t.encode("a  <m>  b", false));
        assertArrayEquals(new int[] {0, 1, 1, 9, 1, 1, 2}, t.encode("a  <n>  b", false));
        assertArrayEquals(new int[] {8, 1, 6}, t.encode("yes x", false));
        assertArrayEquals(new int[] {6, 3, 4, 5}, t.encode("xyes", false)); // not a single word
        assertEquals("a  b", t.decode(new int[] {0, 1, 9, 1, 2}, true));
    }

    @Test
    void addedTokenIdsFollowTheVocabLikeTokenizers() {
        // The file's ids are only a check: a token in the vocab keeps its vocab id, a new one gets the next id.
        Tokenizer t = load(new String[] {"a", "b"}, new String[0], root -> {
            ArrayNode added = (ArrayNode) root.get("added_tokens");
            added.add(CraftedTokenizers.addedToken(0, "a", true));
            added.add(CraftedTokenizers.addedToken(5, "<x>", true));
        });
        assertEquals(3, t.vocabSize());
        assertArrayEquals(new int[] {2, 0}, t.encode("<x>a", false));
    }

    @Test
    void normalizedAddedTokensMatchNormalizedText() {
        Tokenizer t = load(new String[] {"h", "e", "l", "o", " "}, new String[0], root -> {
            root.set("normalizer", CraftedTokenizers.json("{'type': 'Lowercase'}"));
            ((ArrayNode) root.get("added_tokens")).add(CraftedTokenizers.addedToken(5, "HELLO", false).put("normalized", true));
        });
        assertArrayEquals(new int[] {5, 4, 5}, t.encode("Hello hELLo", false));
    }

    @Test
    void metaspacePrependFirstOnlyAtTheStartOfTheInput() {
        String[] tokens = {"▁", "a", "b", "▁a", "▁b"};
        Consumer<ObjectNode> first = root -> {
            root.set("pre_tokenizer", CraftedTokenizers.json("{'type': 'Metaspace', 'replacement': '▁', 'prepend_scheme': 'first', 'split': true}"));
            root.set("decoder", CraftedTokenizers.json("{'type': 'Metaspace', 'replacement': '▁', 'prepend_scheme': 'first', 'split': true}"));
            ((ArrayNode) root.get("added_tokens")).add(CraftedTokenizers.addedToken(5, "<s>", true));
        };
        Tokenizer t = load(tokens, new String[] {"▁ a", "▁ b"}, first);
        assertArrayEquals(new int[] {3, 5, 2, 4}, t.encode("a<s>b b", false));
        assertEquals("a<s>b b", t.decode(new int[] {3, 5, 2, 4}, false));
    }

    @Test
    void templateProcessingAddsSpecialTokensOnlyWhenAsked() {
        Tokenizer t = load(new String[] {"<s>", "</s>", "a"}, new String[0], root -> root.set("post_processor",
                CraftedTokenizers.json("{'type': 'TemplateProcessing', 'single': [{'SpecialToken': {'id': '<s>', 'type_id': 0}},"
                        + " {'Sequence': {'id': 'A', 'type_id': 0}}, {'SpecialToken': {'id': '</s>', 'type_id': 0}}],"
                        + " 'pair': [], 'special_tokens': {'<s>': {'id': '<s>', 'ids': [0], 'tokens': ['<s>']},"
                        + " '</s>': {'id': '</s>', 'ids': [1], 'tokens': ['</s>']}}}")));
        assertArrayEquals(new int[] {0, 2, 2, 1}, t.encode("aa", true));
        assertArrayEquals(new int[] {2, 2}, t.encode("aa", false));
        assertArrayEquals(new int[] {0, 1}, t.encode("", true));
    }
}
