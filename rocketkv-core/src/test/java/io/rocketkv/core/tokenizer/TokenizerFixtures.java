package io.rocketkv.core.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** The tokenizer fixtures under {@code src/test/resources/tokenizers}, each loaded once per JVM. */
final class TokenizerFixtures {
    static final List<String> NAMES = List.of("llama3", "qwen3", "llama2");

    private static final Map<String, Tokenizer> TOKENIZERS = new ConcurrentHashMap<>();
    private static final Map<String, List<GoldenCase>> GOLDENS = new ConcurrentHashMap<>();

    /** One line of golden.json (Python tokenizers output). */
    record GoldenCase(int index, String kind, String text, int[] ids, int[] idsNoSpecial, String decoded,
                      String decodedSkipSpecial) {
        String label() {
            return "#" + index + " " + kind + " " + quote(text, 60);
        }
    }

    private TokenizerFixtures() {
    }

    static Path dir(String name) {
        try {
            return Path.of(TokenizerFixtures.class.getResource("/tokenizers/" + name + "/tokenizer.json").toURI())
                    .getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static Tokenizer tokenizer(String name) {
        return TOKENIZERS.computeIfAbsent(name, n -> Tokenizer.load(dir(n)));
    }

    static List<GoldenCase> goldens(String name) {
        return GOLDENS.computeIfAbsent(name, n -> {
            try {
                JsonNode root = new ObjectMapper().readTree(dir(n).resolve("golden.json").toFile());
                List<GoldenCase> cases = new ArrayList<>();
                for (JsonNode c : root.get("cases")) {
                    cases.add(new GoldenCase(cases.size(), c.get("kind").asText(), c.get("text").asText(),
                            ints(c.get("ids")), ints(c.get("ids_no_special")), c.get("decoded").asText(),
                            c.get("decoded_skip_special").asText()));
                }
                return List.copyOf(cases);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    private static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }

    /** Java-escaped text, cut to {@code max} characters. */
    static String quote(String s, int max) {
        StringBuilder out = new StringBuilder("\"");
        s.codePoints().limit(max).forEach(cp -> {
            if (cp == '\n') {
                out.append("\\n");
            } else if (cp == '\r') {
                out.append("\\r");
            } else if (cp == '\t') {
                out.append("\\t");
            } else if (cp < 0x20 || (cp >= 0x7F && cp < 0xA1) || Character.getType(cp) == Character.FORMAT) {
                out.append(String.format("\\u%04x", cp));
            } else {
                out.appendCodePoint(cp);
            }
        });
        return out.append(s.codePointCount(0, s.length()) > max ? "...\"" : "\"").toString();
    }

    /** A failure message showing where two id arrays first differ. */
    static String idMismatch(String what, String text, int[] expected, int[] actual) {
        int i = 0;
        while (i < Math.min(expected.length, actual.length) && expected[i] == actual[i]) {
            i++;
        }
        int from = Math.max(0, i - 5);
        return what + " differ at index " + i + " for " + quote(text, 200) + "\n  expected (" + expected.length + "): "
                + window(expected, from) + "\n  actual   (" + actual.length + "): " + window(actual, from);
    }

    private static String window(int[] ids, int from) {
        int to = Math.min(ids.length, from + 30);
        return (from > 0 ? "..." : "") + Arrays.toString(Arrays.copyOfRange(ids, Math.min(from, to), to))
                + (to < ids.length ? "..." : "");
    }
}
