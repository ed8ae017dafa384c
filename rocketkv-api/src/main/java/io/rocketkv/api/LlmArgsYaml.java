package io.rocketkv.api;

import static io.rocketkv.api.YamlValues.bool;
import static io.rocketkv.api.YamlValues.checkKeys;
import static io.rocketkv.api.YamlValues.describe;
import static io.rocketkv.api.YamlValues.integer;
import static io.rocketkv.api.YamlValues.nullableInt;
import static io.rocketkv.api.YamlValues.number;
import static io.rocketkv.api.YamlValues.requireMapping;
import static io.rocketkv.api.YamlValues.text;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.yaml.snakeyaml.error.MarkedYAMLException;

/**
 * Reads and writes {@link LlmArgs} as {@code extra_config.yaml}. The YAML is parsed into a tree and walked by
 * hand, so that every unknown key and every value of the wrong type is reported with its key path; values
 * are then checked by the builders, whose errors get the source name in front.
 */
final class LlmArgsYaml {

    private static final YAMLMapper MAPPER = YAMLMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
            .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
            .build();

    static final List<String> TOP_LEVEL_KEYS = List.of("backend", "attn_backend", "sparse_attention_config",
            "kv_cache_config", "enable_chunked_prefill", "max_seq_len", "max_batch_size", "max_num_tokens",
            "tokens_per_block", "cuda_graph_config", "tensor_parallel_size", "allow_long_max_seq_len", "check_weights");
    static final List<String> CUDA_GRAPH_KEYS = List.of("batch_sizes", "max_batch_size", "enable_padding");
    static final List<String> SPARSE_KEYS = List.of("algorithm", "window_size", "kernel_size", "prompt_budget",
            "topk", "topr", "page_size", "kt_cache_dtype");
    static final List<String> KV_CACHE_KEYS = List.of("enable_block_reuse", "max_tokens",
            "free_gpu_memory_fraction");
    static final List<String> SPARSE_ALGORITHMS = List.of(RocketSparseAttentionConfig.ALGORITHM);

    private LlmArgsYaml() {
    }

    static LlmArgs read(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new ConfigException(null, "config file " + file + " cannot be read: " + e, e);
        }
        return read(text, file.toString());
    }

    static LlmArgs read(String text, String source) {
        JsonNode root = parse(text, source);
        try {
            return toArgs(root);
        } catch (ConfigException e) {
            throw e.inSource(source);
        }
    }

    private static JsonNode parse(String text, String source) {
        try (JsonParser parser = MAPPER.createParser(text)) {
            JsonNode root = MAPPER.readTree(parser);
            if (parser.nextToken() != null) {
                JsonLocation at = parser.currentTokenLocation();
                throw new ConfigException(null, source + ": malformed YAML at line " + at.getLineNr()
                        + ": a second YAML document starts here; put every key in one document");
            }
            return root;
        } catch (JsonProcessingException e) {
            throw malformed(source, e);
        } catch (IOException e) {
            throw new ConfigException(null, source + ": cannot read YAML: " + e, e);
        }
    }

    /** Malformed YAML: the file, the line and column of the problem, and SnakeYAML's description of it. */
    private static ConfigException malformed(String source, JsonProcessingException e) {
        if (e.getCause() instanceof MarkedYAMLException m && m.getProblemMark() != null) {
            String context = m.getContext() == null ? "" : " (" + m.getContext() + ")";
            return new ConfigException(null, source + ": malformed YAML at line " + (m.getProblemMark().getLine() + 1)
                    + ", column " + (m.getProblemMark().getColumn() + 1) + ": " + m.getProblem() + context, e);
        }
        JsonLocation at = e.getLocation();
        String where = at == null || at.getLineNr() < 1
                ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr();
        return new ConfigException(null, source + ": malformed YAML" + where + ": "
                + e.getOriginalMessage().replace("Duplicate field", "duplicate key"), e);
    }

    private static LlmArgs toArgs(JsonNode root) {
        LlmArgs.Builder b = LlmArgs.builder();
        if (root == null || root.isMissingNode() || root.isNull()) {
            return b.build(); // empty file: all defaults
        }
        if (!root.isObject()) {
            throw new ConfigException(null, "the top level must be a mapping of keys ("
                    + String.join(", ", TOP_LEVEL_KEYS) + "), got " + describe(root));
        }
        checkKeys(root, "", TOP_LEVEL_KEYS);
        for (Map.Entry<String, JsonNode> e : root.properties()) {
            String key = e.getKey();
            JsonNode v = e.getValue();
            switch (key) {
                case "backend" -> b.backend(Backend.parse(text(v, key)));
                case "attn_backend" -> b.attnBackend(text(v, key));
                case "sparse_attention_config" -> b.sparseAttentionConfig(v.isNull() ? null : toSparse(v));
                case "kv_cache_config" -> b.kvCacheConfig(v.isNull() ? null : toKvCache(v));
                case "enable_chunked_prefill" -> b.enableChunkedPrefill(bool(v, key));
                case "max_seq_len" -> b.maxSeqLen(nullableInt(v, key));
                case "allow_long_max_seq_len" -> b.allowLongMaxSeqLen(bool(v, key));
                case "check_weights" -> b.checkWeights(bool(v, key));
                case "max_batch_size" -> b.maxBatchSize(integer(v, key));
                case "max_num_tokens" -> b.maxNumTokens(integer(v, key));
                case "tokens_per_block" -> b.tokensPerBlock(integer(v, key));
                case "tensor_parallel_size" -> b.tensorParallelSize(integer(v, key));
                case "cuda_graph_config" -> b.cudaGraphConfig(v.isNull() ? CudaGraphConfig.disabled() : toCudaGraph(v));
                default -> throw new IllegalStateException("key checked above: " + key);
            }
        }
        return b.build();
    }

    private static RocketSparseAttentionConfig toSparse(JsonNode node) {
        String path = "sparse_attention_config";
        requireMapping(node, path);
        checkKeys(node, path + ".", SPARSE_KEYS);
        JsonNode algorithm = node.get("algorithm");
        if (algorithm == null) {
            throw new ConfigException(path + ".algorithm", path + ".algorithm is required; supported algorithms: "
                    + String.join(", ", SPARSE_ALGORITHMS) + " (write algorithm: rocket)");
        }
        String name = text(algorithm, path + ".algorithm");
        if (!SPARSE_ALGORITHMS.contains(name.trim().toLowerCase(Locale.ROOT))) {
            throw new ConfigException(path + ".algorithm", path + ".algorithm must be one of the supported "
                    + "algorithms: " + String.join(", ", SPARSE_ALGORITHMS) + " (any case), got "
                    + ConfigException.show(name));
        }
        RocketSparseAttentionConfig.Builder b = RocketSparseAttentionConfig.builder();
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            String key = path + "." + e.getKey();
            JsonNode v = e.getValue();
            switch (e.getKey()) {
                case "algorithm" -> { } // checked above
                case "window_size" -> b.windowSize(integer(v, key));
                case "kernel_size" -> b.kernelSize(integer(v, key));
                case "prompt_budget" -> b.promptBudget(integer(v, key));
                case "topk" -> b.topk(integer(v, key));
                case "topr" -> b.topr(integer(v, key));
                case "page_size" -> b.pageSize(integer(v, key));
                case "kt_cache_dtype" -> b.ktCacheDtype(KtCacheDtype.parse(text(v, key)));
                default -> throw new IllegalStateException("key checked above: " + key);
            }
        }
        return b.build();
    }

    private static CudaGraphConfig toCudaGraph(JsonNode node) {
        String path = "cuda_graph_config";
        requireMapping(node, path);
        checkKeys(node, path + ".", CUDA_GRAPH_KEYS);
        List<Integer> sizes = null;
        Integer max = null;
        boolean padding = true;
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            String key = path + "." + e.getKey();
            JsonNode v = e.getValue();
            switch (e.getKey()) {
                case "batch_sizes" -> {
                    if (v.isNull()) {
                        break;
                    }
                    if (!v.isArray()) {
                        throw new ConfigException(key, key + " must be a list of integers, got " + describe(v));
                    }
                    sizes = new java.util.ArrayList<>();
                    for (JsonNode item : v) {
                        sizes.add(integer(item, key));
                    }
                }
                case "max_batch_size" -> max = nullableInt(v, key);
                case "enable_padding" -> padding = bool(v, key);
                default -> throw new IllegalStateException("key checked above: " + key);
            }
        }
        return new CudaGraphConfig(true, sizes, max, padding);
    }

    private static KvCacheConfig toKvCache(JsonNode node) {
        String path = "kv_cache_config";
        requireMapping(node, path);
        checkKeys(node, path + ".", KV_CACHE_KEYS);
        KvCacheConfig.Builder b = KvCacheConfig.builder();
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            String key = path + "." + e.getKey();
            JsonNode v = e.getValue();
            switch (e.getKey()) {
                case "enable_block_reuse" -> b.enableBlockReuse(bool(v, key));
                case "max_tokens" -> b.maxTokens(nullableInt(v, key));
                case "free_gpu_memory_fraction" -> b.freeGpuMemoryFraction(number(v, key));
                default -> throw new IllegalStateException("key checked above: " + key);
            }
        }
        return b.build();
    }

    static String write(LlmArgs args) {
        ObjectNode root = MAPPER.createObjectNode();
        root.put("backend", args.backend().yamlName());
        root.put("attn_backend", args.attnBackend());
        RocketSparseAttentionConfig s = args.sparseAttentionConfig();
        if (s != null) {
            ObjectNode n = root.putObject("sparse_attention_config");
            n.put("algorithm", RocketSparseAttentionConfig.ALGORITHM);
            n.put("window_size", s.windowSize());
            n.put("kernel_size", s.kernelSize());
            n.put("prompt_budget", s.promptBudget());
            n.put("topk", s.topk());
            n.put("topr", s.topr());
            n.put("page_size", s.pageSize());
            n.put("kt_cache_dtype", s.ktCacheDtype().yamlName());
        }
        KvCacheConfig kv = args.kvCacheConfig();
        ObjectNode k = root.putObject("kv_cache_config");
        k.put("enable_block_reuse", kv.enableBlockReuse());
        if (kv.maxTokens() != null) {
            k.put("max_tokens", kv.maxTokens());
        }
        k.put("free_gpu_memory_fraction", kv.freeGpuMemoryFraction());
        root.put("enable_chunked_prefill", args.enableChunkedPrefill());
        if (args.maxSeqLen() != null) {
            root.put("max_seq_len", args.maxSeqLen());
        }
        if (args.allowLongMaxSeqLen()) {
            root.put("allow_long_max_seq_len", true);
        }
        if (!args.checkWeights()) {
            root.put("check_weights", false);
        }
        root.put("max_batch_size", args.maxBatchSize());
        root.put("max_num_tokens", args.maxNumTokens());
        root.put("tokens_per_block", args.tokensPerBlock());
        root.put("tensor_parallel_size", args.tensorParallelSize());
        CudaGraphConfig g = args.cudaGraphConfig();
        if (!g.enabled()) {
            root.putNull("cuda_graph_config");
        } else {
            ObjectNode n = root.putObject("cuda_graph_config");
            if (g.batchSizes() != null) {
                var arr = n.putArray("batch_sizes");
                g.batchSizes().forEach(arr::add);
            }
            if (g.maxBatchSize() != null) {
                n.put("max_batch_size", g.maxBatchSize());
            }
            n.put("enable_padding", g.enablePadding());
        }
        try {
            return MAPPER.writeValueAsString(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("writing a tree of plain scalars cannot fail", e);
        }
    }
}
