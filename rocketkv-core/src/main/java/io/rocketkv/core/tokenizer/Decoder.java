package io.rocketkv.core.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code "decoder"} of {@code tokenizer.json}: turns the list of token strings back into text.
 * As in {@code tokenizers}, each decoder maps a token list to a token list ({@code decode_chain}),
 * and the final list is concatenated.
 */
interface Decoder {

    List<String> decodeChain(List<String> tokens);

    default String decode(List<String> tokens) {
        return String.join("", decodeChain(tokens));
    }

    static Decoder fromJson(JsonNode node) {
        String type = JsonFields.type(node, "decoder");
        return switch (type) {
            case "ByteLevel" -> Decoder::byteLevel;
            case "ByteFallback" -> Decoder::byteFallback;
            case "Fuse" -> tokens -> List.of(String.join("", tokens));
            case "Replace" -> {
                Pattern pattern = JsonFields.pattern(node, "Replace decoder");
                String content = Matcher.quoteReplacement(JsonFields.text(node, "content", "Replace decoder"));
                yield tokens -> tokens.stream().map(t -> pattern.matcher(t).replaceAll(content)).toList();
            }
            case "Strip" -> {
                String content = JsonFields.text(node, "content", "Strip decoder");
                int start = JsonFields.integer(node, "start", 0);
                int stop = JsonFields.integer(node, "stop", 0);
                yield tokens -> tokens.stream().map(t -> strip(t, content.codePointAt(0), start, stop)).toList();
            }
            case "Metaspace" -> {
                Metaspace metaspace = Metaspace.fromJson(node);
                yield tokens -> {
                    List<String> out = new ArrayList<>(tokens.size());
                    for (int i = 0; i < tokens.size(); i++) {
                        out.add(metaspace.decodeToken(tokens.get(i), i == 0));
                    }
                    return out;
                };
            }
            case "Sequence" -> {
                List<Decoder> steps = new ArrayList<>();
                for (JsonNode step : JsonFields.array(node, "decoders", "Sequence decoder")) {
                    steps.add(fromJson(step));
                }
                yield tokens -> {
                    for (Decoder step : steps) {
                        tokens = step.decodeChain(tokens);
                    }
                    return tokens;
                };
            }
            default -> throw TokenizerFormatException.unsupported("decoder", type, "ByteLevel", "ByteFallback",
                    "Fuse", "Replace", "Strip", "Metaspace", "Sequence");
        };
    }

    /**
     * Byte-level tokens back to bytes (a token with a character outside the byte alphabet contributes
     * its own UTF-8), then all bytes decoded as UTF-8 with U+FFFD for invalid sequences.
     */
    private static List<String> byteLevel(List<String> tokens) {
        int total = 0;
        for (String t : tokens) {
            total += t.length() * 3;
        }
        byte[] bytes = new byte[total];
        int n = 0;
        for (String t : tokens) {
            boolean mapped = true;
            for (int i = 0; i < t.length() && mapped; i++) {
                mapped = ByteLevelAlphabet.byteOf(t.charAt(i)) >= 0;
            }
            if (mapped) {
                for (int i = 0; i < t.length(); i++) {
                    bytes[n++] = (byte) ByteLevelAlphabet.byteOf(t.charAt(i));
                }
            } else {
                byte[] raw = t.getBytes(java.nio.charset.StandardCharsets.UTF_8);
                System.arraycopy(raw, 0, bytes, n, raw.length);
                n += raw.length;
            }
        }
        return List.of(Utf8.decode(bytes, n, false));
    }

    /**
     * Runs of {@code <0xXX>} tokens become the string their bytes spell, or one U+FFFD per byte when
     * the run is not valid UTF-8.
     */
    private static List<String> byteFallback(List<String> tokens) {
        List<String> out = new ArrayList<>(tokens.size());
        byte[] pending = new byte[16];
        int n = 0;
        for (String token : tokens) {
            int b = fallbackByte(token);
            if (b >= 0) {
                if (n == pending.length) {
                    pending = java.util.Arrays.copyOf(pending, n * 2);
                }
                pending[n++] = (byte) b;
                continue;
            }
            flush(pending, n, out);
            n = 0;
            out.add(token);
        }
        flush(pending, n, out);
        return out;
    }

    private static void flush(byte[] bytes, int n, List<String> out) {
        if (n == 0) {
            return;
        }
        String s = Utf8.decode(bytes, n, true);
        if (s != null) {
            out.add(s);
        } else {
            for (int i = 0; i < n; i++) {
                out.add("\uFFFD");
            }
        }
    }

    /** The byte of a {@code <0xXX>} token (Rust {@code u8::from_str_radix} on XX), or -1. */
    private static int fallbackByte(String token) {
        if (token.length() != 6 || !token.startsWith("<0x") || token.charAt(5) != '>') {
            return -1;
        }
        int hi = Character.digit(token.charAt(3), 16);
        int lo = Character.digit(token.charAt(4), 16);
        if (token.charAt(3) == '+' && lo >= 0) {
            return lo; // from_str_radix accepts a leading '+'
        }
        return hi >= 0 && lo >= 0 && token.charAt(3) < 0x80 && token.charAt(4) < 0x80 ? hi * 16 + lo : -1;
    }

    /** Removes up to {@code start} leading and {@code stop} trailing {@code content} characters. */
    private static String strip(String token, int content, int start, int stop) {
        int[] cps = token.codePoints().toArray();
        int from = 0;
        while (from < start && from < cps.length && cps[from] == content) {
            from++;
        }
        int to = cps.length;
        for (int i = 0; i < stop && to > from && cps[to - 1] == content; i++) {
            to--;
        }
        return new String(cps, from, to - from);
    }
}
