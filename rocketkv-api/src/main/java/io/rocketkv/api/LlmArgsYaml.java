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
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.yaml.snakeyaml.error.MarkedYAMLException;

/**
 * Reads and writes {@link LlmArgs} as {@code extra_config.yaml}. The YAML is parsed into a tree and walked by
 * hand, so that every unknown key and every value of the wrong type is reported with its key path; values
 * are then checked by the builders, whose errors get the source name in front.
 */
final class LlmArgsYaml {

    private static final Logger log = LoggerFactory.getLogger(LlmArgsYaml.class);

    private static final YAMLMapper MAPPER = YAMLMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
            .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
            .build();

    static final List<String> SPARSE_ALGORITHMS = List.of(RocketSparseAttentionConfig.ALGORITHM);

    private LlmArgsYaml() {
    }

    static LlmArgs.Loaded read(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new ConfigException(null, "config file " + file + " cannot be read: " + e, e);
        }
        return read(text, file.toString());
    }

    static LlmArgs.Loaded read(String text, String source) {
        JsonNode root = parse(text, source);
        List<String> warnings = new ArrayList<>();
        LlmArgs args;
        try {
            args = toArgs(root, warnings);
        } catch (ConfigException e) {
            throw e.inSource(source);
        }
        for (String w : warnings) {
            log.warn("{}: {}", source, w);
        }
        return new LlmArgs.Loaded(args, warnings);
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

    private static LlmArgs toArgs(JsonNode root, List<String> warnings) {
        LlmArgs.Builder b = LlmArgs.builder();
        if (root == null || root.isMissingNode() || root.isNull()) {
            return b.build(); // empty file: all defaults
        }
        if (!root.isObject()) {
            throw new ConfigException(null, "the top level must be a mapping of keys (TensorRT-LLM's LLM API "
                    + "arguments), got " + describe(root));
        }
        checkKeys(root, TrtLlmKeys.TOP, warnings);
        Integer blockSize = null; // tokens_per_block, top level or under kv_cache_config
        for (Map.Entry<String, JsonNode> e : root.properties()) {
            String key = e.getKey();
            JsonNode v = e.getValue();
            switch (key) {
                case "backend" -> b.backend(Backend.parse(text(v, key)));
                case "attn_backend" -> b.attnBackend(text(v, key));
                case "sparse_attention_config" -> b.sparseAttentionConfig(v.isNull() ? null : toSparse(v, warnings));
                case "kv_cache_config" -> {
                    if (!v.isNull()) {
                        KvCacheRead kv = toKvCache(v, warnings);
                        b.kvCacheConfig(kv.config());
                        blockSize = sameBlockSize(blockSize, kv.tokensPerBlock(), "kv_cache_config.tokens_per_block");
                    }
                }
                case "enable_chunked_prefill" -> b.enableChunkedPrefill(bool(v, key));
                case "max_seq_len" -> b.maxSeqLen(nullableInt(v, key));
                case "allow_long_max_seq_len" -> b.allowLongMaxSeqLen(bool(v, key));
                case "check_weights" -> b.checkWeights(bool(v, key));
                case "print_iter_log" -> b.printIterLog(bool(v, key));
                case "stream_interval" -> b.streamInterval(integer(v, key));
                case "max_batch_size" -> b.maxBatchSize(integer(v, key));
                case "max_num_tokens" -> b.maxNumTokens(integer(v, key));
                case "tokens_per_block" -> blockSize = sameBlockSize(blockSize, integer(v, key), key);
                case "tensor_parallel_size" -> b.tensorParallelSize(integer(v, key));
                case "cuda_graph_config" ->
                        b.cudaGraphConfig(v.isNull() ? CudaGraphConfig.disabled() : toCudaGraph(v, warnings));
                case "scheduler_config" -> {
                    if (!v.isNull()) {
                        requireMapping(v, key);
                        checkKeys(v, TrtLlmKeys.SCHEDULER, warnings);
                    }
                }
                default -> { } // an accepted-ignored key: checkKeys warned about it
            }
        }
        if (blockSize != null) {
            b.tokensPerBlock(blockSize);
        }
        return b.build();
    }

    /** The block size given by {@code key}, which must equal the one already given by the other key, if any. */
    private static Integer sameBlockSize(Integer before, Integer now, String key) {
        if (before != null && now != null && !before.equals(now)) {
            throw new ConfigException(key, key + " is " + now + " but tokens_per_block is " + before + "; they are"
                    + " the same setting (the KV cache block size): give one of them, or the same value");
        }
        return now != null ? now : before;
    }

    private static RocketSparseAttentionConfig toSparse(JsonNode node, List<String> warnings) {
        String path = "sparse_attention_config";
        requireMapping(node, path);
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
        checkKeys(node, TrtLlmKeys.SPARSE, warnings);
        RocketSparseAttentionConfig.Builder b = RocketSparseAttentionConfig.builder();
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            String key = path + "." + e.getKey();
            JsonNode v = e.getValue();
            switch (e.getKey()) {
                case "window_size" -> b.windowSize(integer(v, key));
                case "kernel_size" -> b.kernelSize(integer(v, key));
                case "prompt_budget" -> b.promptBudget(integer(v, key));
                case "topk" -> b.topk(integer(v, key));
                case "topr" -> b.topr(integer(v, key));
                case "page_size" -> b.pageSize(integer(v, key));
                case "kt_cache_dtype" -> b.ktCacheDtype(KtCacheDtype.parse(text(v, key)));
                default -> { } // algorithm (checked above) or an accepted-ignored key
            }
        }
        return b.build();
    }

    private static CudaGraphConfig toCudaGraph(JsonNode node, List<String> warnings) {
        String path = "cuda_graph_config";
        requireMapping(node, path);
        checkKeys(node, TrtLlmKeys.CUDA_GRAPH, warnings);
        JsonNode mode = node.get("mode");
        if (mode != null && mode.isTextual() && !"decode".equalsIgnoreCase(mode.textValue())) {
            throw new ConfigException(path + ".mode", path + ".mode must be decode (graphs record decode steps; no"
                    + " encoder models here), got " + describe(mode));
        }
        List<Integer> sizes = null;
        Integer max = null;
        boolean padding = CudaGraphConfig.DEFAULT_ENABLE_PADDING;
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
                    sizes = new ArrayList<>();
                    for (JsonNode item : v) {
                        sizes.add(integer(item, key));
                    }
                }
                case "max_batch_size" -> {
                    max = nullableInt(v, key);
                    if (max != null && max == 0) {
                        max = null; // TensorRT-LLM's 0: unset
                    }
                }
                case "enable_padding" -> padding = bool(v, key);
                default -> { } // an accepted-ignored key
            }
        }
        return new CudaGraphConfig(true, sizes, max, padding);
    }

    /** {@code kv_cache_config}: the config, and its {@code tokens_per_block} (null when not given). */
    private record KvCacheRead(KvCacheConfig config, Integer tokensPerBlock) {
    }

    private static KvCacheRead toKvCache(JsonNode node, List<String> warnings) {
        String path = "kv_cache_config";
        requireMapping(node, path);
        checkKeys(node, TrtLlmKeys.KV_CACHE, warnings);
        KvCacheConfig.Builder b = KvCacheConfig.builder();
        Integer blockSize = null;
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            String key = path + "." + e.getKey();
            JsonNode v = e.getValue();
            switch (e.getKey()) {
                case "enable_block_reuse" -> b.enableBlockReuse(bool(v, key));
                case "max_tokens" -> b.maxTokens(nullableInt(v, key));
                case "free_gpu_memory_fraction" -> b.freeGpuMemoryFraction(number(v, key));
                case "dtype" -> b.dtype(KvCacheDtype.parse(text(v, key)));
                case "tokens_per_block" -> blockSize = integer(v, key);
                default -> { } // an accepted-ignored key
            }
        }
        return new KvCacheRead(b.build(), blockSize);
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
        if (kv.dtype() != KvCacheDtype.AUTO) {
            k.put("dtype", kv.dtype().yamlName());
        }
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
        if (args.printIterLog()) {
            root.put("print_iter_log", true);
        }
        if (args.streamInterval() != LlmArgs.DEFAULT_STREAM_INTERVAL) {
            root.put("stream_interval", args.streamInterval());
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
