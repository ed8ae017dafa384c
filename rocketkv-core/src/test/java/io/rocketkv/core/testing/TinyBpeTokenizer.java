package io.rocketkv.core.testing;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A tiny byte-level BPE tokenizer in Hugging Face {@code tokenizers} format ({@code tokenizer.json} and
 * {@code tokenizer_config.json}), loadable by {@code tokenizers.Tokenizer.from_file} and transformers'
 * {@code AutoTokenizer}.
 *
 * <p>Vocabulary: ids 0..255 are the 256 byte symbols of GPT-2's {@code bytes_to_unicode} (id = byte value, so
 * id 32 is {@code "Ġ"}, the space), then one token per merge of {@link #MERGES} in order, then the added
 * special tokens {@value #BOS} ({@link #bosId()}) and {@value #EOS} ({@link #eosId()}). Pre-tokenizer:
 * ByteLevel (add_prefix_space false, trim_offsets, use_regex, i.e. the GPT-2 split regex); decoder: ByteLevel;
 * post-processor: TemplateProcessing that puts {@value #BOS} in front, as Llama 3's does.
 */
public final class TinyBpeTokenizer {

    public static final String BOS = "<|begin_of_text|>";
    public static final String EOS = "<|end_of_text|>";

    /**
     * Merges in rank order, byte-level spelled ("Ġ" is a space). Each part is a byte symbol or the result of an
     * earlier merge; common English pairs, so "the cat and the hat" merges visibly.
     */
    public static final List<String> MERGES = List.of(
            "Ġ t", "Ġ a", "h e", "i n", "r e", "o n", "Ġt he", "e r", "Ġ s", "a t",
            "Ġ w", "Ġ o", "e n", "Ġ c", "i t", "i s", "a n", "o r", "e s", "Ġ b",
            "e d", "Ġ f", "in g", "Ġ p", "o u", "Ġa n", "a r", "a l", "Ġ m", "Ġo f",
            "Ġ in", "Ġ d", "Ġ h", "Ġan d", "l l", "Ġt o", "Ġ l", "Ġ re", "l e", "Ġ I");

    /** A sentence and its ids, as Python {@code tokenizers} 0.23 and transformers 5.18 encode it (bos added). */
    public static final String EXAMPLE_TEXT = "the cat and the hat, in the house of Irene";
    public static final List<Integer> EXAMPLE_IDS = List.of(
            296, 116, 258, 269, 265, 289, 262, 288, 265, 44, 286, 262, 288, 280, 115, 101, 285, 295, 260, 110, 101);
    /** The tokens of {@link #EXAMPLE_IDS}. */
    public static final List<String> EXAMPLE_TOKENS = List.of("<|begin_of_text|>", "t", "he", "Ġc", "at", "Ġand",
            "Ġthe", "Ġh", "at", ",", "Ġin", "Ġthe", "Ġh", "ou", "s", "e", "Ġof", "ĠI", "re", "n", "e");

    private TinyBpeTokenizer() {}

    /** Number of ids: 256 bytes + merges + 2 special tokens. */
    public static int size() {
        return 256 + MERGES.size() + 2;
    }

    public static int bosId() {
        return 256 + MERGES.size();
    }

    public static int eosId() {
        return 256 + MERGES.size() + 1;
    }

    /**
     * GPT-2's {@code bytes_to_unicode}: printable bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') map to themselves, the
     * others in increasing order to U+0100, U+0101, ... Index = byte value.
     */
    public static String[] byteSymbols() {
        String[] symbols = new String[256];
        int next = 256;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            symbols[b] = Character.toString(printable ? b : next++);
        }
        return symbols;
    }

    /** The model vocabulary (token → id), without the special tokens. */
    public static Map<String, Integer> vocab() {
        Map<String, Integer> vocab = new LinkedHashMap<>();
        String[] symbols = byteSymbols();
        for (int b = 0; b < 256; b++) {
            vocab.put(symbols[b], b);
        }
        for (String merge : MERGES) {
            String[] parts = merge.split(" ");
            if (parts.length != 2 || !vocab.containsKey(parts[0]) || !vocab.containsKey(parts[1])) {
                throw new IllegalStateException("merge '" + merge + "' uses a token not yet in the vocabulary");
            }
            if (vocab.putIfAbsent(parts[0] + parts[1], vocab.size()) != null) {
                throw new IllegalStateException("merge '" + merge + "' makes a token already in the vocabulary");
            }
        }
        return vocab;
    }

    /** Writes {@code tokenizer.json} and {@code tokenizer_config.json} into {@code dir}. */
    public static void write(Path dir, int modelMaxLength) throws IOException {
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        json.writeValue(dir.resolve("tokenizer.json").toFile(), tokenizerJson(json));
        json.writeValue(dir.resolve("tokenizer_config.json").toFile(), tokenizerConfig(json, modelMaxLength));
    }

    private static ObjectNode tokenizerJson(ObjectMapper json) {
        ObjectNode root = json.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        added.add(addedToken(json, bosId(), BOS));
        added.add(addedToken(json, eosId(), EOS));
        root.putNull("normalizer");
        ObjectNode pre = root.putObject("pre_tokenizer");
        pre.put("type", "ByteLevel");
        pre.put("add_prefix_space", false);
        pre.put("trim_offsets", true);
        pre.put("use_regex", true);
        ObjectNode post = root.putObject("post_processor");
        post.put("type", "TemplateProcessing");
        ArrayNode single = post.putArray("single");
        single.addObject().putObject("SpecialToken").put("id", BOS).put("type_id", 0);
        single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        ArrayNode pair = post.putArray("pair");
        pair.addObject().putObject("SpecialToken").put("id", BOS).put("type_id", 0);
        pair.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        pair.addObject().putObject("SpecialToken").put("id", BOS).put("type_id", 1);
        pair.addObject().putObject("Sequence").put("id", "B").put("type_id", 1);
        ObjectNode special = post.putObject("special_tokens").putObject(BOS);
        special.put("id", BOS);
        special.putArray("ids").add(bosId());
        special.putArray("tokens").add(BOS);
        ObjectNode decoder = root.putObject("decoder");
        decoder.put("type", "ByteLevel");
        decoder.put("add_prefix_space", true);
        decoder.put("trim_offsets", true);
        decoder.put("use_regex", true);
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.putNull("unk_token");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        model.put("ignore_merges", false);
        ObjectNode vocab = model.putObject("vocab");
        vocab().forEach(vocab::put);
        ArrayNode merges = model.putArray("merges");
        MERGES.forEach(merges::add);
        return root;
    }

    private static ObjectNode addedToken(ObjectMapper json, int id, String content) {
        ObjectNode t = json.createObjectNode();
        t.put("id", id);
        t.put("content", content);
        t.put("single_word", false);
        t.put("lstrip", false);
        t.put("rstrip", false);
        t.put("normalized", false);
        t.put("special", true);
        return t;
    }

    private static ObjectNode tokenizerConfig(ObjectMapper json, int modelMaxLength) {
        ObjectNode c = json.createObjectNode();
        c.put("add_bos_token", true);
        c.put("add_eos_token", false);
        ObjectNode decoder = c.putObject("added_tokens_decoder");
        for (int id : new int[] {bosId(), eosId()}) {
            ObjectNode t = decoder.putObject(String.valueOf(id));
            t.put("content", id == bosId() ? BOS : EOS);
            t.put("lstrip", false);
            t.put("normalized", false);
            t.put("rstrip", false);
            t.put("single_word", false);
            t.put("special", true);
        }
        c.put("bos_token", BOS);
        c.put("clean_up_tokenization_spaces", false);
        c.put("eos_token", EOS);
        c.put("model_max_length", modelMaxLength);
        c.putNull("pad_token"); // else transformers' Qwen2Tokenizer adds a default "<|endoftext|>"
        c.putNull("unk_token");
        c.put("tokenizer_class", "PreTrainedTokenizerFast");
        return c;
    }
}
