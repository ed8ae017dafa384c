package io.rocketkv.core.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;

/**
 * SentencePiece-style spaces: {@code ' '} becomes the replacement ({@code '▁'}), which is prepended
 * by {@code prepend_scheme} ({@code always}, {@code first}: only to the piece at the input's start,
 * {@code never}); with {@code split}, each replacement starts a new piece. Both a pre-tokenizer and
 * (see {@link Decoder}) a decoder.
 */
record Metaspace(int replacement, PrependScheme prependScheme, boolean split) implements PreTokenizer {

    enum PrependScheme { ALWAYS, FIRST, NEVER }

    static Metaspace fromJson(JsonNode node) {
        String replacement = JsonFields.textOr(node, "replacement", "\u2581");
        if (replacement.codePointCount(0, replacement.length()) != 1) {
            throw new TokenizerFormatException("Metaspace: \"replacement\" must be one character, got '" + replacement + "'");
        }
        PrependScheme scheme;
        if (node.has("prepend_scheme")) {
            scheme = switch (node.get("prepend_scheme").asText()) {
                case "always" -> PrependScheme.ALWAYS;
                case "first" -> PrependScheme.FIRST;
                case "never" -> PrependScheme.NEVER;
                default -> throw TokenizerFormatException.unsupported("Metaspace prepend_scheme",
                        node.get("prepend_scheme").asText(), "always", "first", "never");
            };
        } else {
            // Files written before prepend_scheme existed carry add_prefix_space.
            scheme = JsonFields.bool(node, "add_prefix_space", true) ? PrependScheme.ALWAYS : PrependScheme.NEVER;
        }
        return new Metaspace(replacement.codePointAt(0), scheme, JsonFields.bool(node, "split", true));
    }

    @Override
    public void split(Piece piece, List<Piece> out) {
        String rep = Character.toString(replacement);
        String text = piece.text().replace(" ", rep);
        boolean prepend = switch (prependScheme) {
            case ALWAYS -> !text.startsWith(rep);
            case FIRST -> !text.startsWith(rep) && piece.atStart();
            case NEVER -> false;
        };
        if (prepend) {
            text = rep + text;
        }
        Piece replaced = new Piece(text, piece.atStart());
        if (split) {
            SplitBehavior.MERGED_WITH_NEXT.split(replaced, cp -> cp == replacement, out);
        } else {
            out.add(replaced);
        }
    }

    /** Decoder side: the replacement becomes a space, except in the first token unless scheme is never. */
    String decodeToken(String token, boolean first) {
        StringBuilder out = new StringBuilder(token.length());
        token.codePoints().forEach(cp -> {
            if (cp != replacement) {
                out.appendCodePoint(cp);
            } else if (!first || prependScheme == PrependScheme.NEVER) {
                out.append(' ');
            }
        });
        return out.toString();
    }
}
