package io.rocketkv.core.tokenizer;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

/** Small hand-made tokenizer.json files for the behaviours the real fixtures do not reach. */
final class CraftedTokenizers {
    static final ObjectMapper MAPPER = new ObjectMapper();

    private CraftedTokenizers() {
    }

    /**
     * A BPE tokenizer over {@code tokens} (ids in order) and {@code merges} ("a b"), no components;
     * {@code edit} changes the JSON before it is written to {@code dir/tokenizer.json}.
     */
    static Path write(Path dir, String[] tokens, String[] merges, Consumer<ObjectNode> edit) {
        ObjectNode root = MAPPER.createObjectNode();
        root.put("version", "1.0");
        root.putArray("added_tokens");
        root.putNull("normalizer");
        root.putNull("pre_tokenizer");
        root.putNull("post_processor");
        root.putNull("decoder");
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        ObjectNode vocab = model.putObject("vocab");
        for (int i = 0; i < tokens.length; i++) {
            vocab.put(tokens[i], i);
        }
        ArrayNode m = model.putArray("merges");
        for (String merge : merges) {
            m.add(merge);
        }
        edit.accept(root);
        Path file = dir.resolve("tokenizer.json");
        try {
            MAPPER.writeValue(file.toFile(), root);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return file;
    }

    /** Parses a JSON snippet (single quotes allowed for readability). */
    static ObjectNode json(String text) {
        try {
            return (ObjectNode) MAPPER.readTree(text.replace('\'', '"'));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static ObjectNode addedToken(int id, String content, boolean special) {
        ObjectNode t = MAPPER.createObjectNode();
        t.put("id", id);
        t.put("content", content);
        t.put("single_word", false);
        t.put("lstrip", false);
        t.put("rstrip", false);
        t.put("normalized", false);
        t.put("special", special);
        return t;
    }

    static void write(Path file, String text) {
        try {
            Files.writeString(file, text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
