package io.rocketkv.core.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rocketkv.core.weights.CheckpointFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * What {@code transformers} keeps beside {@code tokenizer.json}: {@code tokenizer_config.json}
 * (bos/eos token strings, add_bos/add_eos flags, model_max_length, chat_template) and the
 * {@code eos_token_id} of {@code generation_config.json}. All fields optional.
 *
 * @param bosToken       {@code bos_token}, or null
 * @param eosToken       {@code eos_token}, or null
 * @param addBosToken    {@code add_bos_token}, or null when absent (the post_processor decides)
 * @param addEosToken    {@code add_eos_token}, or null when absent
 * @param modelMaxLength {@code model_max_length}, clamped to {@code Long.MAX_VALUE}; -1 when absent
 * @param chatTemplate   {@code chat_template} (the one named "default" when a list), or null
 * @param extraEosIds    {@code eos_token_id} of generation_config.json (int or list), possibly empty
 */
public record TokenizerConfig(String bosToken, String eosToken, Boolean addBosToken, Boolean addEosToken,
                              long modelMaxLength, String chatTemplate, List<Integer> extraEosIds) {

    public static final TokenizerConfig EMPTY = new TokenizerConfig(null, null, null, null, -1, null, List.of());

    public TokenizerConfig {
        extraEosIds = List.copyOf(extraEosIds);
    }

    public Optional<String> chatTemplateIfPresent() {
        return Optional.ofNullable(chatTemplate);
    }

    /** Reads whichever of the two files exist in {@code dir} ({@link #EMPTY}-like values for missing ones). */
    public static TokenizerConfig read(Path dir) {
        ObjectMapper mapper = TokenizerJsonReader.MAPPER;
        JsonNode config = readIfExists(mapper, dir.resolve("tokenizer_config.json"));
        JsonNode generation = readIfExists(mapper, dir.resolve("generation_config.json"));
        List<Integer> eosIds = new ArrayList<>();
        JsonNode eos = generation == null ? null : generation.get("eos_token_id");
        if (eos != null && eos.isArray()) {
            eos.forEach(e -> eosIds.add(e.asInt()));
        } else if (eos != null && eos.isNumber()) {
            eosIds.add(eos.asInt());
        }
        if (config == null) {
            return new TokenizerConfig(null, null, null, null, -1, null, eosIds);
        }
        JsonNode maxLength = config.get("model_max_length");
        long modelMaxLength = maxLength == null || !maxLength.isNumber() ? -1
                : maxLength.isIntegralNumber() && maxLength.canConvertToLong() ? maxLength.asLong()
                : maxLength.asDouble() >= Long.MAX_VALUE ? Long.MAX_VALUE : (long) maxLength.asDouble();
        return new TokenizerConfig(tokenString(config.get("bos_token")), tokenString(config.get("eos_token")),
                optionalBool(config.get("add_bos_token")), optionalBool(config.get("add_eos_token")),
                modelMaxLength, chatTemplate(config.get("chat_template")), eosIds);
    }

    private static JsonNode readIfExists(ObjectMapper mapper, Path file) {
        String kind = CheckpointFiles.nonRegularKind(file);
        if (kind != null) {
            throw new TokenizerFormatException(file.toAbsolutePath() + " is " + kind + ", not a regular file: replace"
                    + " it with the file itself, or remove it");
        }
        if (!Files.isRegularFile(file)) {
            return null;
        }
        try {
            return mapper.readTree(file.toFile());
        } catch (IOException e) {
            throw new TokenizerFormatException("malformed " + file + ": " + e.getMessage(), e);
        }
    }

    /** A token given as a string or as an AddedToken object {@code {"content": ...}}. */
    private static String tokenString(JsonNode node) {
        if (node == null || node.isNull()) {
            return null;
        }
        return node.isObject() ? node.path("content").asText(null) : node.asText();
    }

    private static Boolean optionalBool(JsonNode node) {
        return node == null || node.isNull() ? null : node.asBoolean();
    }

    private static String chatTemplate(JsonNode node) {
        if (node == null || node.isNull()) {
            return null;
        }
        if (node.isArray()) {
            for (JsonNode named : node) {
                if ("default".equals(named.path("name").asText())) {
                    return named.path("template").asText();
                }
            }
            return node.isEmpty() ? null : node.get(0).path("template").asText();
        }
        return node.asText();
    }
}
