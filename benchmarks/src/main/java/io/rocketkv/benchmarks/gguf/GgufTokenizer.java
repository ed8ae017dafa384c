package io.rocketkv.benchmarks.gguf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rocketkv.core.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The {@code tokenizer.ggml.*} metadata of a byte-level BPE {@code tokenizer.json}, in the form llama.cpp's
 * {@code gpt2} tokenizer model reads: the token strings by id (byte-level alphabet, as in the file), their types,
 * the merges ({@code "left right"}), the bos/eos ids, whether bos is prepended, and the pre-tokenizer name that
 * selects llama.cpp's split regex.
 *
 * <p>Pre-tokenizers recognised: {@code ByteLevel} with {@code use_regex} (GPT-2's split, llama.cpp {@code gpt-2});
 * and the same preceded by {@code Split(" ?[0-9]", Isolated)}, digits one per piece with the space before them,
 * as the project's retrieval model has: its merges never join a digit to anything but the space before it (no
 * training piece held more), so BPE over GPT-2's pieces gives the same ids, and {@code gpt-2} is written too.
 * Anything else is refused, since llama.cpp would split the text differently without saying so.
 *
 * <p>The token array has the model's {@code vocab_size} entries: ids the tokenizer lacks (the embedding's padding
 * rows) get a placeholder string and type {@code UNUSED}.
 */
final class GgufTokenizer {

    /** llama.cpp's token types ({@code llama_token_type}). */
    static final int NORMAL = 1;
    static final int CONTROL = 3;
    static final int USER_DEFINED = 4;
    static final int UNUSED = 5;

    private GgufTokenizer() {
    }

    /** Adds the tokenizer metadata of {@code modelDir}'s {@code tokenizer.json} for a model of {@code vocabSize} ids. */
    static void addMetadata(GgufWriter gguf, Path modelDir, int vocabSize) throws IOException {
        Path file = modelDir.resolve("tokenizer.json");
        JsonNode json = new ObjectMapper().readTree(file.toFile());
        JsonNode model = json.path("model");
        if (!"BPE".equals(model.path("type").asText())) {
            throw new IllegalArgumentException(file + ": model.type " + model.path("type")
                    + " is not converted (only byte-level BPE, llama.cpp's gpt2 tokenizer model)");
        }
        if (!json.path("normalizer").isNull() && !json.path("normalizer").isMissingNode()) {
            throw new IllegalArgumentException(file + ": a normalizer (" + json.path("normalizer").path("type")
                    + ") is not converted: llama.cpp's gpt2 tokenizer model has none");
        }
        String pre = preTokenizerName(json.path("pre_tokenizer"), file);
        Tokenizer tokenizer = Tokenizer.load(modelDir);
        if (tokenizer.vocabSize() > vocabSize) {
            throw new IllegalArgumentException(file + " has " + tokenizer.vocabSize()
                    + " ids, more than the model's vocab_size " + vocabSize);
        }
        List<String> tokens = new ArrayList<>(vocabSize);
        int[] types = new int[vocabSize];
        Set<String> seen = new HashSet<>();
        Set<String> added = new HashSet<>();
        tokenizer.addedTokens().forEach(t -> added.add(t.content()));
        for (int id = 0; id < vocabSize; id++) {
            String token = id < tokenizer.vocabSize() ? tokenizer.idToToken(id) : null;
            types[id] = token == null ? UNUSED
                    : tokenizer.isSpecial(id) ? CONTROL : added.contains(token) ? USER_DEFINED : NORMAL;
            String text = token != null ? token : "<unused_" + id + ">";
            if (!seen.add(text)) {
                throw new IllegalArgumentException(file + ": token string \"" + text + "\" (id " + id
                        + ") occurs twice; llama.cpp needs each token string once");
            }
            tokens.add(text);
        }
        gguf.putString("tokenizer.ggml.model", "gpt2")
                .putString("tokenizer.ggml.pre", pre)
                .putStringArray("tokenizer.ggml.tokens", tokens)
                .putInt32Array("tokenizer.ggml.token_type", types)
                .putStringArray("tokenizer.ggml.merges", merges(model.path("merges"), file));
        int[] withSpecials = tokenizer.encode("a", true);
        int[] plain = tokenizer.encode("a", false);
        boolean addsBos = withSpecials.length > plain.length && withSpecials[0] == tokenizer.bosId();
        boolean addsEos = withSpecials.length > plain.length && tokenizer.eosIds().length > 0
                && withSpecials[withSpecials.length - 1] == tokenizer.eosIds()[0];
        if (tokenizer.bosId() >= 0) {
            gguf.putUInt32("tokenizer.ggml.bos_token_id", tokenizer.bosId());
        }
        if (tokenizer.eosIds().length > 0) {
            gguf.putUInt32("tokenizer.ggml.eos_token_id", tokenizer.eosIds()[0]);
        }
        gguf.putBool("tokenizer.ggml.add_bos_token", addsBos).putBool("tokenizer.ggml.add_eos_token", addsEos);
    }

    /** llama.cpp's {@code tokenizer.ggml.pre} for the pre-tokenizers this converter knows (see the class comment). */
    static String preTokenizerName(JsonNode pre, Path file) {
        List<JsonNode> steps = new ArrayList<>();
        if ("Sequence".equals(pre.path("type").asText())) {
            pre.path("pretokenizers").forEach(steps::add);
        } else {
            steps.add(pre);
        }
        JsonNode last = steps.getLast();
        boolean gpt2Split = "ByteLevel".equals(last.path("type").asText()) && last.path("use_regex").asBoolean(true)
                && !last.path("add_prefix_space").asBoolean(false);
        boolean digitsFirst = steps.size() == 2 && "Split".equals(steps.getFirst().path("type").asText())
                && " ?[0-9]".equals(steps.getFirst().path("pattern").path("Regex").asText())
                && "Isolated".equals(steps.getFirst().path("behavior").asText());
        if (gpt2Split && (steps.size() == 1 || digitsFirst)) {
            return "gpt-2";
        }
        throw new IllegalArgumentException(file + ": pre_tokenizer " + pre + " is not one this converter maps to a"
                + " llama.cpp pre-tokenizer (known: ByteLevel with use_regex, optionally after Split \" ?[0-9]\")");
    }

    private static List<String> merges(JsonNode merges, Path file) {
        List<String> out = new ArrayList<>(merges.size());
        for (JsonNode m : merges) {
            if (m.isTextual()) {
                out.add(m.asText());
            } else if (m.isArray() && m.size() == 2) {
                out.add(m.get(0).asText() + " " + m.get(1).asText());
            } else {
                throw new IllegalArgumentException(file + ": merge " + m + " is neither \"a b\" nor [\"a\", \"b\"]");
            }
        }
        return out;
    }
}
