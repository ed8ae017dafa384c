package io.rocketkv.core.tokenizer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rocketkv.core.weights.CheckpointFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Builds a {@link Tokenizer} from {@code tokenizer.json} and the optional configs beside it. */
final class TokenizerLoader {
    private static final Logger LOG = LoggerFactory.getLogger(TokenizerLoader.class);

    /** SentencePiece's space, U+2581. */
    private static final String METASPACE = "\u2581";

    private TokenizerLoader() {
    }

    static Tokenizer load(Path path) {
        Path file = Files.isDirectory(path) ? path.resolve("tokenizer.json") : path;
        String kind = CheckpointFiles.nonRegularKind(file);
        if (kind != null) {
            throw new TokenizerFormatException("the tokenizer file " + file.toAbsolutePath() + " is " + kind
                    + ", not a regular file: replace it with the file itself (download the tokenizer again)");
        }
        if (!Files.isRegularFile(file)) {
            throw new TokenizerFormatException("no tokenizer file at " + file);
        }
        Path dir = file.toAbsolutePath().getParent();
        TokenizerConfig config = dir == null ? TokenizerConfig.EMPTY : TokenizerConfig.read(dir);
        try {
            TokenizerJsonReader.Sections s = TokenizerJsonReader.read(file);
            BpeModel model = bpeModel(s.modelOptions(), s.vocab(), s.merges());
            Normalizer normalizer = s.normalizer() == null ? null : Normalizer.fromJson(s.normalizer());
            PreTokenizer preTokenizer = s.preTokenizer() == null ? null : PreTokenizer.fromJson(s.preTokenizer());
            PostProcessor postProcessor = s.postProcessor() == null ? null : PostProcessor.fromJson(s.postProcessor());
            Decoder decoder = s.decoder() == null ? null : Decoder.fromJson(s.decoder());
            AddedVocabulary added = new AddedVocabulary(addedTokens(s.addedTokens(), s.vocab()), normalizer);
            return new Tokenizer(model, added, normalizer, preTokenizer, postProcessor, decoder, config);
        } catch (JsonProcessingException e) {
            throw new TokenizerFormatException("malformed tokenizer file " + file + ": " + e.getOriginalMessage()
                    + " at line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr(), e);
        } catch (IOException e) {
            throw new TokenizerFormatException("cannot read tokenizer file " + file + ": " + e.getMessage(), e);
        } catch (TokenizerFormatException e) {
            throw new TokenizerFormatException(file + ": " + e.getMessage(), e);
        }
    }

    private static BpeModel bpeModel(ObjectNode options, Vocab vocab, TokenizerJsonReader.Merges merges) {
        String type = JsonFields.textOr(options, "type", "BPE");
        if (!type.equals("BPE")) {
            throw TokenizerFormatException.unsupported("model", type, "BPE");
        }
        if (vocab.size() == 0) {
            // every piece of text would be dropped (or become unk): prompts would encode to nothing
            throw new TokenizerFormatException("BPE model: the vocab (model.vocab) is empty, so no text can be "
                    + "encoded; download the tokenizer again");
        }
        JsonNode dropout = options.get("dropout");
        if (dropout != null && !dropout.isNull() && dropout.asDouble() != 0.0) {
            throw new TokenizerFormatException("BPE model: dropout " + dropout + " is not supported (must be null)");
        }
        String prefix = JsonFields.textOr(options, "continuing_subword_prefix", null);
        int prefixLength = prefix == null ? 0 : prefix.length();
        int n = merges.count();
        char[] text = merges.text();
        int[] bounds = merges.bounds();
        int[] leftIds = new int[n];
        int[] rightIds = new int[n];
        int[] mergedIds = new int[n];
        // Can words be cut before each '▁' that follows another character? Only if no merge joins a
        // symbol not ending in '▁' to one starting with '▁' (see BpeModel.tokenize).
        boolean cutBeforeMetaspace = vocab.get(METASPACE) >= 0;
        for (int i = 0; i < n; i++) {
            int aFrom = bounds[4 * i];
            int aTo = bounds[4 * i + 1];
            int bFrom = bounds[4 * i + 2];
            int bTo = bounds[4 * i + 3];
            leftIds[i] = checkMerge(vocab.get(text, aFrom, aTo), text, aFrom, aTo, aTo, aTo, i);
            rightIds[i] = checkMerge(vocab.get(text, bFrom, bTo), text, bFrom, bTo, bTo, bTo, i);
            // The merged token is a + b without b's continuing_subword_prefix.
            int bStart = Math.min(bFrom + prefixLength, bTo);
            mergedIds[i] = checkMerge(vocab.getConcat(text, aFrom, aTo, bStart, bTo), text, aFrom, aTo, bStart, bTo, i);
            if (bFrom < bTo && text[bFrom] == METASPACE.charAt(0) && (aTo == aFrom || text[aTo - 1] != METASPACE.charAt(0))) {
                cutBeforeMetaspace = false;
            }
        }
        BpeModel.Options bpe = new BpeModel.Options(JsonFields.textOr(options, "unk_token", null),
                JsonFields.bool(options, "fuse_unk", false), JsonFields.bool(options, "byte_fallback", false), prefix,
                JsonFields.textOr(options, "end_of_word_suffix", null), JsonFields.bool(options, "ignore_merges", false),
                cutBeforeMetaspace ? METASPACE.charAt(0) : -1);
        return new BpeModel(vocab, new MergeTable(leftIds, rightIds, mergedIds), bpe);
    }

    /** {@code id}, or (when -1) an error naming the token {@code text[from1, to1) + text[from2, to2)}. */
    private static int checkMerge(int id, char[] text, int from1, int to1, int from2, int to2, int merge) {
        if (id < 0) {
            String token = new String(text, from1, to1 - from1) + new String(text, from2, to2 - from2);
            throw new TokenizerFormatException("BPE model: merge " + (merge + 1) + " uses '" + token
                    + "', which is not in the vocab");
        }
        return id;
    }

    /**
     * The added tokens with the ids {@code tokenizers} gives them on load: the model's id when the
     * content is in its vocab, else the next free id after the vocab; the file's {@code "id"} is only checked.
     */
    private static List<AddedToken> addedTokens(JsonNode list, Vocab vocab) {
        List<AddedToken> out = new ArrayList<>();
        if (list == null) {
            return out;
        }
        if (!list.isArray()) {
            throw new TokenizerFormatException("\"added_tokens\" must be an array");
        }
        Map<String, Integer> assigned = new HashMap<>();
        int modelSize = vocab.size();
        for (JsonNode node : list) {
            String content = JsonFields.text(node, "content", "added token");
            if (content.isEmpty()) {
                continue;
            }
            Integer id = assigned.get(content);
            if (id == null && vocab.get(content) >= 0) {
                id = vocab.get(content);
            }
            if (id == null) {
                int max = assigned.values().stream().mapToInt(Integer::intValue).max().orElse(-1);
                id = max < 0 ? modelSize : (max >= modelSize || modelSize == 0 ? max + 1 : modelSize);
            }
            int fileId = JsonFields.integer(node, "id", id);
            if (fileId != id) {
                LOG.warn("added token '{}' was expected to have id {} but was given id {}", content, fileId, id);
            }
            assigned.put(content, id);
            out.add(new AddedToken(id, content, JsonFields.bool(node, "single_word", false),
                    JsonFields.bool(node, "lstrip", false), JsonFields.bool(node, "rstrip", false),
                    JsonFields.bool(node, "normalized", true), JsonFields.bool(node, "special", false)));
        }
        return out;
    }
}
