package io.rocketkv.core.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Pre-tokenizers and split behaviours the fixtures do not use, on the examples of the
 * {@code tokenizers} documentation and unit tests.
 */
class PreTokenizerTest {

    private static List<String> split(PreTokenizer preTokenizer, String text) {
        return preTokenizer.apply(List.of(new Piece(text, true))).stream().map(Piece::text).toList();
    }

    private static List<String> split(SplitBehavior behavior, String text) {
        return split(new PreTokenizer.Split(OnigPattern.literal("-"), behavior, false), text);
    }

    @Test
    void splitBehaviours() {
        // The example of SplitDelimiterBehavior in the tokenizers docs.
        String text = "the-final--countdown";
        assertEquals(List.of("the", "final", "countdown"), split(SplitBehavior.REMOVED, text));
        assertEquals(List.of("the", "-", "final", "-", "-", "countdown"), split(SplitBehavior.ISOLATED, text));
        assertEquals(List.of("the-", "final-", "-", "countdown"), split(SplitBehavior.MERGED_WITH_PREVIOUS, text));
        assertEquals(List.of("the", "-final", "-", "-countdown"), split(SplitBehavior.MERGED_WITH_NEXT, text));
        assertEquals(List.of("the", "-", "final", "--", "countdown"), split(SplitBehavior.CONTIGUOUS, text));
    }

    @Test
    void invertedSplitKeepsTheMatches() {
        PreTokenizer words = new PreTokenizer.Split(Pattern.compile("\\w+"), SplitBehavior.REMOVED, true);
        assertEquals(List.of("Hey", "friend"), split(words, "Hey, friend!"));
    }

    @Test
    void byteLevelWithGpt2Regex() {
        assertEquals(List.of("Hello", "Ġmy", "Ġfriend", ",", "Ġhow", "Ġis", "Ġyour", "Ġday", "Ġgoing", "?"),
                split(new PreTokenizer.ByteLevel(false, true), "Hello my friend, how is your day going?"));
        assertEquals(List.of("ĠHello", "Ġworld"), split(new PreTokenizer.ByteLevel(true, true), "Hello world"));
        // A space before a space stays alone (\s+(?!\S)); bytes of é become two characters.
        assertEquals(List.of("a", "Ġ", "Ġb", "Ċ", "Ã©"), split(new PreTokenizer.ByteLevel(false, true), "a  b\né"));
    }

    @Test
    void metaspace() {
        Metaspace always = new Metaspace('▁', Metaspace.PrependScheme.ALWAYS, true);
        assertEquals(List.of("▁Hey", "▁friend!"), split(always, "Hey friend!"));
        assertEquals(List.of("▁Hey", "▁", "▁", "▁friend!"), split(always, "Hey   friend!"));
        Metaspace noSplit = new Metaspace('▁', Metaspace.PrependScheme.ALWAYS, false);
        assertEquals(List.of("▁Hey▁friend!"), split(noSplit, "Hey friend!"));
        Metaspace first = new Metaspace('▁', Metaspace.PrependScheme.FIRST, true);
        assertEquals(List.of("▁Hey"), split(first, "Hey"));
        assertEquals(List.of("Hey"), first.apply(List.of(new Piece("Hey", false))).stream().map(Piece::text).toList());
        Metaspace never = new Metaspace('▁', Metaspace.PrependScheme.NEVER, true);
        assertEquals(List.of("Hey", "▁friend"), split(never, "Hey friend"));
    }

    @Test
    void digitsWhitespacePunctuation() {
        assertEquals(List.of("Hey ", "1", "2", "3", " friend"),
                split(new PreTokenizer.Digits(true), "Hey 123 friend"));
        assertEquals(List.of("Hey ", "123", " friend"), split(new PreTokenizer.Digits(false), "Hey 123 friend"));
        PreTokenizer whitespace = PreTokenizer.fromJson(CraftedTokenizers.json("{'type': 'Whitespace'}"));
        assertEquals(List.of("Hey", "friend", "!", "How", "are", "you", "?!?"), split(whitespace, "Hey friend!     How are you?!?"));
        assertEquals(List.of("Hey", "man!"), split(new PreTokenizer.WhitespaceSplit(), "Hey man!"));
        assertEquals(List.of("Hey friend", "!", "     How are you", "?", "!", "?"),
                split(new PreTokenizer.Punctuation(SplitBehavior.ISOLATED), "Hey friend!     How are you?!?"));
    }

    @Test
    void sequenceAppliesStepsInOrder() {
        PreTokenizer sequence = PreTokenizer.fromJson(CraftedTokenizers.json(
                "{'type': 'Sequence', 'pretokenizers': [{'type': 'WhitespaceSplit'}, {'type': 'Digits', 'individual_digits': true}]}"));
        assertEquals(List.of("a", "1", "2", "b"), split(sequence, "a12 b"));
    }
}
