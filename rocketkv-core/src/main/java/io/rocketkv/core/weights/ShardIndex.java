package io.rocketkv.core.weights;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/**
 * The index of a sharded checkpoint, {@code model.safetensors.index.json}, as written by transformers'
 * {@code save_pretrained}:
 * <pre>
 * {"metadata": {"total_size": 16060522496},
 *  "weight_map": {"lm_head.weight": "model-00004-of-00004.safetensors",
 *                 "model.embed_tokens.weight": "model-00001-of-00004.safetensors", ...}}
 * </pre>
 * {@code weight_map} maps every tensor name to the shard file (relative to the index's folder) that holds it.
 *
 * @param file      the index file
 * @param weightMap tensor name → shard path (resolved, inside the index's folder), sorted by name
 */
record ShardIndex(Path file, Map<String, Path> weightMap) {

    static final String FILE_NAME = "model.safetensors.index.json";

    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build();

    /** Reads and validates {@code indexFile}; shard files are not opened here. */
    static ShardIndex read(Path indexFile) {
        JsonNode root;
        try {
            root = JSON.readTree(Files.readAllBytes(indexFile));
        } catch (JsonProcessingException e) {
            throw fail(indexFile, "is not valid JSON: " + e.getOriginalMessage() + ".", e);
        } catch (IOException e) {
            throw fail(indexFile, "cannot be read: " + e + ".", e);
        }
        if (root == null || !root.isObject()) {
            throw fail(indexFile, "is not a JSON object.", null);
        }
        JsonNode map = root.get("weight_map");
        if (map == null || !map.isObject()) {
            throw fail(indexFile, "has no \"weight_map\" object (tensor name -> shard file).", null);
        }
        Path dir = indexFile.toAbsolutePath().getParent();
        Map<String, Path> weightMap = new TreeMap<>();
        for (Map.Entry<String, JsonNode> e : map.properties()) {
            String tensor = e.getKey();
            JsonNode shard = e.getValue();
            if (!shard.isTextual() || shard.textValue().isEmpty()) {
                throw fail(indexFile, "maps tensor '" + tensor + "' to " + shard + ", not a shard file name.", null);
            }
            weightMap.put(tensor, resolveShard(indexFile, dir, tensor, shard.textValue()));
        }
        return new ShardIndex(indexFile, Collections.unmodifiableMap(weightMap));
    }

    /** Resolves a shard name against the index's folder, refusing names that leave it. */
    private static Path resolveShard(Path indexFile, Path dir, String tensor, String shard) {
        Path resolved;
        try {
            resolved = dir.resolve(shard).normalize();
        } catch (InvalidPathException e) {
            throw fail(indexFile, "maps tensor '" + tensor + "' to \"" + shard + "\", not a valid file name.", e);
        }
        if (!resolved.startsWith(dir) || resolved.equals(dir)) {
            throw fail(indexFile, "maps tensor '" + tensor + "' to \"" + shard
                    + "\", outside the checkpoint folder " + dir + "; shards must sit beside the index.", null);
        }
        return resolved;
    }

    private static CheckpointFormatException fail(Path indexFile, String problem, Throwable cause) {
        return new CheckpointFormatException("shard index " + indexFile + " " + problem
                + " Download or export the checkpoint again.", cause);
    }
}
