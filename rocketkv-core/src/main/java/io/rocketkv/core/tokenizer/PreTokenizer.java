package io.rocketkv.core.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The {@code "pre_tokenizer"} of {@code tokenizer.json}: cuts normalized text into the words the
 * model tokenizes one by one (and, for ByteLevel, rewrites them into byte-level characters).
 */
interface PreTokenizer {

    /** Appends the pieces {@code piece} splits into to {@code out}. */
    void split(Piece piece, List<Piece> out);

    default List<Piece> apply(List<Piece> pieces) {
        List<Piece> out = new ArrayList<>(pieces.size() * 4);
        for (Piece piece : pieces) {
            split(piece, out);
        }
        return out;
    }

    static PreTokenizer fromJson(JsonNode node) {
        String type = JsonFields.type(node, "pre_tokenizer");
        return switch (type) {
            case "Sequence" -> {
                List<PreTokenizer> steps = new ArrayList<>();
                for (JsonNode step : JsonFields.array(node, "pretokenizers", "Sequence pre_tokenizer")) {
                    steps.add(fromJson(step));
                }
                yield new Sequence(List.copyOf(steps));
            }
            case "Split" -> new Split(JsonFields.pattern(node, "Split pre_tokenizer"),
                    SplitBehavior.fromJson(JsonFields.text(node, "behavior", "Split pre_tokenizer")),
                    JsonFields.bool(node, "invert", false));
            case "ByteLevel" -> new ByteLevel(JsonFields.bool(node, "add_prefix_space", true),
                    JsonFields.bool(node, "use_regex", true));
            case "Metaspace" -> Metaspace.fromJson(node);
            case "Digits" -> new Digits(JsonFields.bool(node, "individual_digits", false));
            case "Whitespace" -> new Split(WHITESPACE_WORDS, SplitBehavior.REMOVED, true);
            case "WhitespaceSplit" -> new WhitespaceSplit();
            case "Punctuation" -> new Punctuation(
                    SplitBehavior.fromJson(JsonFields.textOr(node, "behavior", "Isolated")));
            default -> throw TokenizerFormatException.unsupported("pre_tokenizer", type, "Sequence", "Split",
                    "ByteLevel", "Metaspace", "Digits", "Whitespace", "WhitespaceSplit", "Punctuation");
        };
    }

    /** {@code Whitespace}: keeps runs of word characters and runs of other non-space characters. */
    Pattern WHITESPACE_WORDS = OnigPattern.compile("\\w+|[^\\w\\s]+");

    record Sequence(List<PreTokenizer> steps) implements PreTokenizer {
        @Override
        public void split(Piece piece, List<Piece> out) {
            out.addAll(apply(List.of(piece)));
        }

        @Override
        public List<Piece> apply(List<Piece> pieces) {
            for (PreTokenizer step : steps) {
                pieces = step.apply(pieces);
            }
            return pieces;
        }
    }

    record Split(Pattern pattern, SplitBehavior behavior, boolean invert) implements PreTokenizer {
        @Override
        public void split(Piece piece, List<Piece> out) {
            behavior.split(piece, pattern, invert, out);
        }
    }

    /**
     * GPT-2 byte-level: optionally a leading space, optionally the GPT-2 word regex, then every piece
     * rewritten as its UTF-8 bytes in {@link ByteLevelAlphabet} characters.
     */
    record ByteLevel(boolean addPrefixSpace, boolean useRegex) implements PreTokenizer {
        static final Pattern GPT2 = OnigPattern.compile(
                "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+");

        @Override
        public void split(Piece piece, List<Piece> out) {
            if (addPrefixSpace && !piece.text().startsWith(" ")) {
                piece = new Piece(" " + piece.text(), piece.atStart());
            }
            if (!useRegex) {
                out.add(new Piece(ByteLevelAlphabet.encode(piece.text()), piece.atStart()));
                return;
            }
            List<Piece> words = new ArrayList<>();
            SplitBehavior.ISOLATED.split(piece, GPT2, false, words);
            for (Piece word : words) {
                out.add(new Piece(ByteLevelAlphabet.encode(word.text()), word.atStart()));
            }
        }
    }

    /** Splits off numbers (Nd, Nl, No), each digit alone or as runs. */
    record Digits(boolean individualDigits) implements PreTokenizer {
        @Override
        public void split(Piece piece, List<Piece> out) {
            (individualDigits ? SplitBehavior.ISOLATED : SplitBehavior.CONTIGUOUS)
                    .split(piece, Digits::isNumeric, out);
        }

        static boolean isNumeric(int cp) {
            int t = Character.getType(cp);
            return t == Character.DECIMAL_DIGIT_NUMBER || t == Character.LETTER_NUMBER || t == Character.OTHER_NUMBER;
        }
    }

    /** Splits on Unicode White_Space, dropping it. */
    record WhitespaceSplit() implements PreTokenizer {
        @Override
        public void split(Piece piece, List<Piece> out) {
            SplitBehavior.REMOVED.split(piece, Normalizer::isRustWhitespace, out);
        }
    }

    /** Splits on ASCII punctuation and Unicode punctuation (P*). */
    record Punctuation(SplitBehavior behavior) implements PreTokenizer {
        @Override
        public void split(Piece piece, List<Piece> out) {
            behavior.split(piece, Punctuation::isPunctuation, out);
        }

        static boolean isPunctuation(int cp) {
            if (cp < 0x80) {
                return (cp >= '!' && cp <= '/') || (cp >= ':' && cp <= '@') || (cp >= '[' && cp <= '`')
                        || (cp >= '{' && cp <= '~');
            }
            return switch (Character.getType(cp)) {
                case Character.CONNECTOR_PUNCTUATION, Character.DASH_PUNCTUATION, Character.START_PUNCTUATION,
                     Character.END_PUNCTUATION, Character.INITIAL_QUOTE_PUNCTUATION,
                     Character.FINAL_QUOTE_PUNCTUATION, Character.OTHER_PUNCTUATION -> true;
                default -> false;
            };
        }
    }
}
