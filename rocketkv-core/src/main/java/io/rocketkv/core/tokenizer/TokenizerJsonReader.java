package io.rocketkv.core.tokenizer;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads {@code tokenizer.json} with Jackson's streaming parser: the model's vocab and merges (the
 * bulk of the file) go straight into maps and arrays; the small component sections are read as trees.
 * Spec: the serde layout of {@code tokenizers}' {@code TokenizerImpl} (version "1.0").
 */
final class TokenizerJsonReader {
    private static final Logger LOG = LoggerFactory.getLogger(TokenizerJsonReader.class);

    /** The parsed sections, before the components are built. */
    record Sections(JsonNode addedTokens, JsonNode normalizer, JsonNode preTokenizer, JsonNode postProcessor,
                    JsonNode decoder, ObjectNode modelOptions, Vocab vocab, Merges merges) {
    }

    /**
     * The merges as text: merge i is {@code text[bounds[4i], bounds[4i+1])} then
     * {@code text[bounds[4i+2], bounds[4i+3])}. One string for all merges: no object per merge.
     */
    record Merges(char[] text, int[] bounds, int count) {
    }

    /** 100k+ distinct vocab keys: interning them as field names (Jackson's default) only costs time and memory. */
    static final ObjectMapper MAPPER = new ObjectMapper(JsonFactory.builder()
            .disable(JsonFactory.Feature.INTERN_FIELD_NAMES)
            .build());

    private TokenizerJsonReader() {
    }

    static Sections read(Path file) throws IOException {
        ObjectMapper mapper = MAPPER;
        JsonNode addedTokens = null;
        JsonNode normalizer = null;
        JsonNode preTokenizer = null;
        JsonNode postProcessor = null;
        JsonNode decoder = null;
        ObjectNode modelOptions = mapper.createObjectNode();
        Vocab vocab = null;
        Merges merges = new Merges(new char[0], new int[0], 0);
        try (JsonParser p = mapper.getFactory().createParser(file.toFile())) {
            expect(p, p.nextToken(), JsonToken.START_OBJECT, "the top level");
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                JsonToken value = p.nextToken();
                switch (name) {
                    case "version" -> {
                        if (!"1.0".equals(p.getText())) {
                            throw new TokenizerFormatException("unknown tokenizer.json version '" + p.getText() + "'");
                        }
                    }
                    case "added_tokens" -> addedTokens = p.readValueAsTree();
                    case "normalizer" -> normalizer = p.readValueAsTree();
                    case "pre_tokenizer" -> preTokenizer = p.readValueAsTree();
                    case "post_processor" -> postProcessor = p.readValueAsTree();
                    case "decoder" -> decoder = p.readValueAsTree();
                    case "model" -> {
                        expect(p, value, JsonToken.START_OBJECT, "\"model\"");
                        while (p.nextToken() == JsonToken.FIELD_NAME) {
                            String field = p.currentName();
                            JsonToken v = p.nextToken();
                            switch (field) {
                                case "vocab" -> vocab = readVocab(p, v);
                                case "merges" -> merges = readMerges(p, v);
                                default -> modelOptions.set(field, p.readValueAsTree());
                            }
                        }
                    }
                    default -> p.skipChildren(); // truncation, padding: not used for inference
                }
            }
        }
        if (vocab == null) {
            throw new TokenizerFormatException("\"model\" has no \"vocab\"");
        }
        LOG.debug("{}: {} vocab entries, {} merges", file, vocab.size(), merges.count());
        return new Sections(nullIfJsonNull(addedTokens), nullIfJsonNull(normalizer), nullIfJsonNull(preTokenizer),
                nullIfJsonNull(postProcessor), nullIfJsonNull(decoder), modelOptions, vocab, merges);
    }

    private static Vocab readVocab(JsonParser p, JsonToken start) throws IOException {
        expect(p, start, JsonToken.START_OBJECT, "\"model.vocab\"");
        Vocab vocab = new Vocab(1 << 17);
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String token = p.currentName();
            expect(p, p.nextToken(), JsonToken.VALUE_NUMBER_INT, "a \"model.vocab\" id");
            int id = p.getIntValue();
            if (id < 0) {
                throw new TokenizerFormatException("negative id " + id + " for '" + token + "' in \"model.vocab\"");
            }
            vocab.put(token, id);
        }
        return vocab;
    }

    /** Merges as {@code "a b"} strings (split on the single space) or {@code ["a", "b"]} pairs. */
    private static Merges readMerges(JsonParser p, JsonToken start) throws IOException {
        expect(p, start, JsonToken.START_ARRAY, "\"model.merges\"");
        StringBuilder text = new StringBuilder(1 << 22);
        int[] bounds = new int[1 << 20];
        int count = 0;
        JsonToken t;
        while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
            if (4 * count + 4 > bounds.length) {
                bounds = Arrays.copyOf(bounds, bounds.length * 2);
            }
            int b = 4 * count;
            if (t == JsonToken.VALUE_STRING) {
                int from = text.length();
                text.append(p.getTextCharacters(), p.getTextOffset(), p.getTextLength());
                int space = text.indexOf(" ", from);
                if (space < 0 || text.indexOf(" ", space + 1) >= 0) {
                    throw new TokenizerFormatException("merge " + (count + 1) + " '" + text.substring(from)
                            + "' is not two tokens separated by one space");
                }
                bounds[b] = from;
                bounds[b + 1] = space;
                bounds[b + 2] = space + 1;
                bounds[b + 3] = text.length();
            } else if (t == JsonToken.START_ARRAY) {
                for (int k = 0; k < 2; k++) {
                    expect(p, p.nextToken(), JsonToken.VALUE_STRING, "a merge pair");
                    bounds[b + 2 * k] = text.length();
                    text.append(p.getTextCharacters(), p.getTextOffset(), p.getTextLength());
                    bounds[b + 2 * k + 1] = text.length();
                }
                expect(p, p.nextToken(), JsonToken.END_ARRAY, "the end of a merge pair");
            } else {
                throw new TokenizerFormatException("merge " + (count + 1) + ": expected a string or a pair, got " + t);
            }
            count++;
        }
        char[] chars = new char[text.length()];
        text.getChars(0, chars.length, chars, 0);
        return new Merges(chars, bounds, count);
    }

    private static void expect(JsonParser p, JsonToken actual, JsonToken expected, String what) {
        if (actual != expected) {
            throw new TokenizerFormatException("expected " + expected + " for " + what + " but found " + actual
                    + " at line " + p.currentLocation().getLineNr() + ", column " + p.currentLocation().getColumnNr());
        }
    }

    private static JsonNode nullIfJsonNull(JsonNode node) {
        return node == null || node.isNull() ? null : node;
    }
}
