package io.rocketkv.core.tokenizer;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;

/**
 * A Hugging Face {@code tokenizer.json} tokenizer (BPE models: Llama 2/3, Qwen, Mistral, GPT-2 style),
 * giving the same ids and text as the Python {@code tokenizers} library.
 *
 * <p>Encoding: added tokens are cut out of the raw text; each span between them is normalized,
 * pre-tokenized into words, and each word is BPE-merged; the post-processor adds special tokens
 * when asked. Decoding: ids become token strings (added tokens as their content; specials dropped
 * when asked) and the decoder turns the list into text.
 *
 * <p>Immutable after {@link #load}; {@link #encode} and {@link #decode} may be called from many
 * threads at once (the word cache is concurrent).
 */
public final class Tokenizer {
    private final BpeModel model;
    private final AddedVocabulary added;
    private final Normalizer normalizer;       // null: none
    private final PreTokenizer preTokenizer;   // null: the whole span is one word
    private final PostProcessor postProcessor; // null: no special tokens added
    private final Decoder decoder;             // null: tokens joined with spaces
    private final TokenizerConfig config;
    private final int vocabSize;
    private final int bosId;
    private final int[] eosIds;

    Tokenizer(BpeModel model, AddedVocabulary added, Normalizer normalizer, PreTokenizer preTokenizer,
              PostProcessor postProcessor, Decoder decoder, TokenizerConfig config) {
        this.model = model;
        this.added = added;
        this.normalizer = normalizer;
        this.preTokenizer = preTokenizer;
        this.postProcessor = postProcessor;
        this.decoder = decoder;
        this.config = config;
        this.vocabSize = Math.max(model.size(), added.maxId() + 1);
        this.bosId = config.bosToken() == null ? -1 : tokenToId(config.bosToken()).orElse(-1);
        Set<Integer> eos = new LinkedHashSet<>();
        if (config.eosToken() != null) {
            tokenToId(config.eosToken()).ifPresent(eos::add);
        }
        eos.addAll(config.extraEosIds());
        this.eosIds = eos.stream().mapToInt(Integer::intValue).toArray();
    }

    /**
     * Loads a {@code tokenizer.json} file, or the one in a model directory. {@code tokenizer_config.json}
     * and {@code generation_config.json} in the same directory are read when present.
     *
     * @throws TokenizerFormatException naming the file when it is malformed or uses an unsupported component
     */
    public static Tokenizer load(Path path) {
        return TokenizerLoader.load(path);
    }

    /**
     * Token ids of {@code text}; with {@code addSpecialTokens} the post-processor's template is applied.
     * Unpaired surrogates are read as U+FFFD.
     */
    public int[] encode(String text, boolean addSpecialTokens) {
        text = Utf8.withoutLoneSurrogates(text);
        IntArrayBuilder ids = new IntArrayBuilder(text.length() / 3 + 8);
        for (AddedVocabulary.Segment raw : added.splitRaw(text)) {
            if (raw.id() >= 0) {
                ids.add(raw.id());
                continue;
            }
            String normalized = normalizer == null ? raw.text() : normalizer.normalize(raw.text());
            for (AddedVocabulary.Segment span : added.splitNormalized(normalized)) {
                if (span.id() >= 0) {
                    ids.add(span.id());
                    continue;
                }
                List<Piece> words = List.of(new Piece(span.text(), raw.start() == 0 && span.start() == 0));
                if (preTokenizer != null) {
                    words = preTokenizer.apply(words);
                }
                for (Piece word : words) {
                    model.tokenize(word.text(), ids);
                }
            }
        }
        int[] out = ids.toArray();
        return postProcessor == null ? out : postProcessor.process(out, addSpecialTokens);
    }

    /**
     * The text of {@code ids}; with {@code skipSpecialTokens}, added tokens marked special are left out.
     *
     * @throws IllegalArgumentException for an id outside {@code [0, vocabSize())}
     */
    public String decode(int[] ids, boolean skipSpecialTokens) {
        List<String> tokens = new ArrayList<>(ids.length);
        for (int id : ids) {
            if (id < 0 || id >= vocabSize) {
                throw new IllegalArgumentException("token id " + id + " is out of range: vocab size is " + vocabSize);
            }
            String token = added.contentOf(id);
            if (token == null) {
                token = model.idToToken(id);
            }
            if (token == null || (skipSpecialTokens && added.isSpecial(token))) {
                continue; // an id without a token (a hole in the vocab) decodes to nothing, as in tokenizers
            }
            tokens.add(token);
        }
        return decoder == null ? String.join(" ", tokens) : decoder.decode(tokens);
    }

    /** Max id + 1 over the model vocab and the added tokens. */
    public int vocabSize() {
        return vocabSize;
    }

    /** The id of {@code bos_token} from tokenizer_config.json, or -1 when there is none. */
    public int bosId() {
        return bosId;
    }

    /** The ids that end generation: {@code eos_token} of tokenizer_config.json, then generation_config.json's. */
    public int[] eosIds() {
        return eosIds.clone();
    }

    /** The id of a token string (added tokens first, then the model vocab). */
    public OptionalInt tokenToId(String token) {
        Integer id = added.idOf(token);
        if (id != null) {
            return OptionalInt.of(id);
        }
        int modelId = model.tokenToId(token);
        return modelId < 0 ? OptionalInt.empty() : OptionalInt.of(modelId);
    }

    /** The token string of {@code id} (an added token's content, or the model's raw token), or null. */
    public String idToToken(int id) {
        String token = added.contentOf(id);
        return token != null ? token : model.idToToken(id);
    }

    /** Whether {@code id} is an added token marked special. */
    public boolean isSpecial(int id) {
        String token = added.contentOf(id);
        return token != null && added.isSpecial(token);
    }

    /** The added tokens, by id. */
    public List<AddedToken> addedTokens() {
        return added.tokens();
    }

    /** The settings read from tokenizer_config.json / generation_config.json. */
    public TokenizerConfig config() {
        return config;
    }

    /** The chat template of tokenizer_config.json, when present. */
    public Optional<String> chatTemplate() {
        return config.chatTemplateIfPresent();
    }
}
