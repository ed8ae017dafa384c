package io.rocketkv.api;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * The engine options a user sets in {@code --config extra_config.yaml} (everything but the model), named as in
 * TensorRT-LLM's LLM API. The builder mirrors the YAML keys in camelCase.
 *
 * <table>
 * <caption>Keys</caption>
 * <tr><th>YAML key</th><th>default</th><th>rule / meaning</th></tr>
 * <tr><td>{@code backend}</td><td>{@code auto}</td><td>{@code auto}, {@code cpu} or {@code cuda};
 *     {@code pytorch} (TensorRT-LLM's value) means {@code auto}</td></tr>
 * <tr><td>{@code attn_backend}</td><td>{@code TRTLLM}</td><td>one of TRTLLM, VANILLA, FLASHINFER, DEFAULT
 *     (any case). Recorded for compatibility with TensorRT-LLM files only: this library has one attention
 *     implementation per {@link Backend}, so the value changes nothing</td></tr>
 * <tr><td>{@code sparse_attention_config}</td><td>none (dense attention)</td><td>a
 *     {@link RocketSparseAttentionConfig}; in YAML a mapping with {@code algorithm: rocket}</td></tr>
 * <tr><td>{@code kv_cache_config}</td><td>{@link KvCacheConfig#defaults()}</td><td>see
 *     {@link KvCacheConfig}</td></tr>
 * <tr><td>{@code enable_chunked_prefill}</td><td>false</td><td>true prefills a prompt longer than
 *     {@code max_num_tokens} in chunks of at most {@code max_num_tokens} tokens over several steps, a decode step of
 *     the running requests between chunks; also with RocketKV (stage 1 runs once, after the last chunk). False
 *     refuses such a prompt</td></tr>
 * <tr><td>{@code max_seq_len}</td><td>unset (the model's limit)</td><td>&ge; 1 when set; prompt plus
 *     output tokens of one request. Above the model's {@code max_position_embeddings} it is refused when the
 *     LLM is built, unless {@code allow_long_max_seq_len} is true</td></tr>
 * <tr><td>{@code allow_long_max_seq_len}</td><td>false</td><td>true lets {@code max_seq_len} exceed the
 *     model's {@code max_position_embeddings} (positions past the model's range, logged as a warning; vLLM's
 *     {@code VLLM_ALLOW_LONG_MAX_MODEL_LEN})</td></tr>
 * <tr><td>{@code check_weights}</td><td>true</td><td>scan every floating-point weight for NaN and
 *     infinity when the LLM is built (one extra read of the weights, from the page cache); a hit is a
 *     {@code CheckpointFormatException} naming the tensor and element. False skips the scan</td></tr>
 * <tr><td>{@code max_batch_size}</td><td>2048</td><td>&ge; 1; requests decoded together, as in TensorRT-LLM
 *     (the KV pool, not this cap, usually bounds the batch)</td></tr>
 * <tr><td>{@code max_num_tokens}</td><td>8192</td><td>&ge; 1; tokens (prefill plus decode) in one
 *     step, as in TensorRT-LLM</td></tr>
 * <tr><td>{@code tokens_per_block}</td><td>32</td><td>power of two; slots per paged KV cache block, as in
 *     TensorRT-LLM, where it is {@code kv_cache_config.tokens_per_block} (either key sets it; both must then
 *     agree)</td></tr>
 * <tr><td>{@code print_iter_log}</td><td>false</td><td>true logs one INFO line per engine step (the step's
 *     kind, sequences, tokens, KV blocks in use and time), as TensorRT-LLM's {@code print_iter_log}</td></tr>
 * <tr><td>{@code stream_interval}</td><td>1</td><td>&ge; 1; a streamed request hands over its tokens every
 *     {@code stream_interval} generated tokens (one chunk of them), the rest with the last token, as TensorRT-LLM's
 *     {@code stream_interval}</td></tr>
 * <tr><td>{@code scheduler_config}</td><td>none</td><td>TensorRT-LLM's keys, accepted and ignored with a warning:
 *     the scheduler is first come, first served</td></tr>
 * <tr><td>{@code cuda_graph_config}</td><td>{@link CudaGraphConfig#defaults()} (on)</td><td>see
 *     {@link CudaGraphConfig}; {@code null} turns CUDA graphs off</td></tr>
 * <tr><td>{@code tensor_parallel_size}</td><td>1</td><td>&ge; 1; GPUs one model is split over (TensorRT-LLM's
 *     key). Above 1, building the LLM checks that it fits the model's shapes (it divides the query heads and
 *     {@code intermediate_size}, and divides or is a multiple of the KV heads) and that the CUDA backend, that
 *     many visible devices and NCCL are there</td></tr>
 * </table>
 *
 * <p>Every other key of TensorRT-LLM's {@code LlmArgs}/{@code TorchLlmArgs} is accepted in YAML and ignored, with one
 * warning naming it and why it does not apply (MoE, speculative decoding, multimodal, pipeline parallelism, …); a key
 * TensorRT-LLM does not define is an error with the nearest known key as a suggestion. docs/api.md has the table.
 *
 * <p>Rules across fields, reported, never silently fixed: with RocketKV ({@code sparse_attention_config} set)
 * {@code prompt_budget} may not exceed {@code max_seq_len} when both are set. Unlike TensorRT-LLM, RocketKV accepts
 * {@code enable_chunked_prefill: true} and {@code kv_cache_config.enable_block_reuse: true} (the default): the shared
 * prompt prefix's dense blocks are cached and each request compacts its own copy (docs/rocketkv.md, decision 14);
 * {@code false} is a choice (no cached blocks held, stage 1 compacts in place), no longer a requirement.
 *
 * @param backend               YAML {@code backend}
 * @param attnBackend           YAML {@code attn_backend}, upper case
 * @param sparseAttentionConfig YAML {@code sparse_attention_config}; null for dense attention
 * @param kvCacheConfig         YAML {@code kv_cache_config}; never null
 * @param enableChunkedPrefill  YAML {@code enable_chunked_prefill}
 * @param maxSeqLen             YAML {@code max_seq_len}; null when unset
 * @param maxBatchSize          YAML {@code max_batch_size}
 * @param maxNumTokens          YAML {@code max_num_tokens}
 * @param tokensPerBlock        YAML {@code tokens_per_block}
 * @param cudaGraphConfig       YAML {@code cuda_graph_config}; never null ({@link CudaGraphConfig#disabled()} for off)
 * @param tensorParallelSize    YAML {@code tensor_parallel_size}
 * @param allowLongMaxSeqLen    YAML {@code allow_long_max_seq_len}
 * @param checkWeights          YAML {@code check_weights}
 * @param printIterLog          YAML {@code print_iter_log}
 * @param streamInterval        YAML {@code stream_interval}
 */
public record LlmArgs(
        Backend backend,
        String attnBackend,
        RocketSparseAttentionConfig sparseAttentionConfig,
        KvCacheConfig kvCacheConfig,
        boolean enableChunkedPrefill,
        Integer maxSeqLen,
        int maxBatchSize,
        int maxNumTokens,
        int tokensPerBlock,
        CudaGraphConfig cudaGraphConfig,
        int tensorParallelSize,
        boolean allowLongMaxSeqLen,
        boolean checkWeights,
        boolean printIterLog,
        int streamInterval) {

    public static final Backend DEFAULT_BACKEND = Backend.AUTO;
    public static final String DEFAULT_ATTN_BACKEND = "TRTLLM";
    /** The accepted {@code attn_backend} values (TensorRT-LLM's names); recorded, not acted on. */
    public static final List<String> ATTN_BACKENDS = List.of("TRTLLM", "VANILLA", "FLASHINFER", "DEFAULT");
    public static final boolean DEFAULT_ENABLE_CHUNKED_PREFILL = false;
    public static final int DEFAULT_MAX_BATCH_SIZE = 2048;
    public static final int DEFAULT_MAX_NUM_TOKENS = 8192;
    public static final int DEFAULT_TOKENS_PER_BLOCK = 32;
    public static final int DEFAULT_TENSOR_PARALLEL_SIZE = 1;
    /** TensorRT-LLM's default {@code stream_interval}: every token streamed as it comes. */
    public static final int DEFAULT_STREAM_INTERVAL = 1;

    /**
     * Validates each field and the cross-field rules. A null backend, attnBackend or kvCacheConfig means the
     * default; attnBackend is stored upper case.
     */
    public LlmArgs {
        backend = backend == null ? DEFAULT_BACKEND : backend;
        attnBackend = attnBackend == null ? DEFAULT_ATTN_BACKEND : parseAttnBackend(attnBackend);
        kvCacheConfig = kvCacheConfig == null ? KvCacheConfig.defaults() : kvCacheConfig;
        cudaGraphConfig = cudaGraphConfig == null ? CudaGraphConfig.defaults() : cudaGraphConfig;
        if (maxSeqLen != null && maxSeqLen < 1) {
            throw ConfigException.invalid("max_seq_len", "maxSeqLen", ">= 1 when set", maxSeqLen);
        }
        if (maxBatchSize < 1) {
            throw ConfigException.invalid("max_batch_size", "maxBatchSize", ">= 1", maxBatchSize);
        }
        if (maxNumTokens < 1) {
            throw ConfigException.invalid("max_num_tokens", "maxNumTokens", ">= 1", maxNumTokens);
        }
        if (!RocketSparseAttentionConfig.isPowerOfTwo(tokensPerBlock)) {
            throw ConfigException.invalid("tokens_per_block", "tokensPerBlock", "a power of two (1, 2, 4, 8, ...)",
                    tokensPerBlock);
        }
        if (tensorParallelSize < 1) {
            throw ConfigException.invalid("tensor_parallel_size", "tensorParallelSize", ">= 1 (1 = one GPU)",
                    tensorParallelSize);
        }
        if (streamInterval < 1) {
            throw ConfigException.invalid("stream_interval", "streamInterval", ">= 1 (1 = every token)",
                    streamInterval);
        }
        cudaGraphConfig.resolve(maxBatchSize); // sizes within max_batch_size
        if (sparseAttentionConfig != null) {
            checkRocketKvRules(sparseAttentionConfig, maxSeqLen);
        }
    }

    private static void checkRocketKvRules(RocketSparseAttentionConfig sparse, Integer maxSeqLen) {
        if (maxSeqLen != null && sparse.promptBudget() > maxSeqLen) {
            throw ConfigException.invalid(RocketSparseAttentionConfig.PREFIX + "prompt_budget", "promptBudget",
                    "<= max_seq_len (" + maxSeqLen + ")", sparse.promptBudget());
        }
    }

    /** Upper-cases and checks an {@code attn_backend} name. */
    static String parseAttnBackend(String name) {
        String upper = name.trim().toUpperCase(Locale.ROOT);
        if (!ATTN_BACKENDS.contains(upper)) {
            throw ConfigException.invalid("attn_backend", "attnBackend",
                    "one of " + String.join(", ", ATTN_BACKENDS) + " (any case)", name);
        }
        return upper;
    }

    /** True when RocketKV sparse attention is configured. */
    public boolean isSparse() {
        return sparseAttentionConfig != null;
    }

    /** Options with every default (dense attention). */
    public static LlmArgs defaults() {
        return builder().build();
    }

    /**
     * Reads {@code extra_config.yaml}. An empty file gives the defaults. TensorRT-LLM keys that do not apply here
     * are logged, one WARN line each ({@link #readYaml(Path)} returns those lines). Unknown keys (at any level),
     * values of the wrong type, out-of-range values and rule violations are {@link ConfigException}s whose message
     * starts with the file name and names the key path; malformed YAML names the file and line.
     *
     * @throws ConfigException also when the file cannot be read
     */
    public static LlmArgs fromYaml(Path file) {
        return LlmArgsYaml.read(file).args();
    }

    /** Like {@link #fromYaml(Path)}, for YAML text; messages call the source {@code <yaml>}. */
    public static LlmArgs fromYaml(String yaml) {
        return LlmArgsYaml.read(yaml, "<yaml>").args();
    }

    /**
     * Like {@link #fromYaml(Path)}, also returning the warnings (one per accepted-ignored key, each naming the key
     * path and why it does not apply), which are logged as well.
     */
    public static Loaded readYaml(Path file) {
        return LlmArgsYaml.read(file);
    }

    /** Like {@link #readYaml(Path)}, for YAML text. */
    public static Loaded readYaml(String yaml) {
        return LlmArgsYaml.read(yaml, "<yaml>");
    }

    /**
     * The options a YAML file gave and the warnings about the keys it ignored.
     *
     * @param args     the options
     * @param warnings one line per accepted-ignored key, in file order
     */
    public record Loaded(LlmArgs args, List<String> warnings) {
        public Loaded {
            warnings = List.copyOf(warnings);
        }
    }

    /** These options as YAML that {@link #fromYaml} reads back to an equal object (unset values omitted). */
    public String toYaml() {
        return LlmArgsYaml.write(this);
    }

    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        return new Builder()
                .backend(backend)
                .attnBackend(attnBackend)
                .sparseAttentionConfig(sparseAttentionConfig)
                .kvCacheConfig(kvCacheConfig)
                .enableChunkedPrefill(enableChunkedPrefill)
                .maxSeqLen(maxSeqLen)
                .maxBatchSize(maxBatchSize)
                .maxNumTokens(maxNumTokens)
                .tokensPerBlock(tokensPerBlock)
                .cudaGraphConfig(cudaGraphConfig)
                .tensorParallelSize(tensorParallelSize)
                .allowLongMaxSeqLen(allowLongMaxSeqLen)
                .checkWeights(checkWeights)
                .printIterLog(printIterLog)
                .streamInterval(streamInterval);
    }

    /** The decode batch sizes recorded as CUDA graphs (empty when off). */
    public List<Integer> cudaGraphBatchSizes() {
        return cudaGraphConfig.resolve(maxBatchSize);
    }

    /** Mutable builder; {@link #build} validates. Starts from the defaults; null restores a default. */
    public static final class Builder {
        private Backend backend = DEFAULT_BACKEND;
        private String attnBackend = DEFAULT_ATTN_BACKEND;
        private RocketSparseAttentionConfig sparseAttentionConfig;
        private KvCacheConfig kvCacheConfig = KvCacheConfig.defaults();
        private boolean enableChunkedPrefill = DEFAULT_ENABLE_CHUNKED_PREFILL;
        private Integer maxSeqLen;
        private int maxBatchSize = DEFAULT_MAX_BATCH_SIZE;
        private int maxNumTokens = DEFAULT_MAX_NUM_TOKENS;
        private int tokensPerBlock = DEFAULT_TOKENS_PER_BLOCK;
        private CudaGraphConfig cudaGraphConfig = CudaGraphConfig.defaults();
        private int tensorParallelSize = DEFAULT_TENSOR_PARALLEL_SIZE;
        private boolean allowLongMaxSeqLen;
        private boolean checkWeights = true;
        private boolean printIterLog;
        private int streamInterval = DEFAULT_STREAM_INTERVAL;

        private Builder() {
        }

        /** CUDA graph settings; null = the defaults (on). {@link CudaGraphConfig#disabled()} turns them off. */
        public Builder cudaGraphConfig(CudaGraphConfig cudaGraphConfig) {
            this.cudaGraphConfig = cudaGraphConfig == null ? CudaGraphConfig.defaults() : cudaGraphConfig;
            return this;
        }

        public Builder backend(Backend backend) {
            this.backend = backend == null ? DEFAULT_BACKEND : backend;
            return this;
        }

        /** By name: auto, cpu, cuda or pytorch (= auto), any case. */
        public Builder backend(String backend) {
            this.backend = Backend.parse(backend);
            return this;
        }

        /** TRTLLM, VANILLA, FLASHINFER or DEFAULT, any case; checked at {@link #build}; null = TRTLLM. */
        public Builder attnBackend(String attnBackend) {
            this.attnBackend = attnBackend == null ? DEFAULT_ATTN_BACKEND : attnBackend;
            return this;
        }

        /** RocketKV settings; null = dense attention. */
        public Builder sparseAttentionConfig(RocketSparseAttentionConfig sparseAttentionConfig) {
            this.sparseAttentionConfig = sparseAttentionConfig;
            return this;
        }

        public Builder kvCacheConfig(KvCacheConfig kvCacheConfig) {
            this.kvCacheConfig = kvCacheConfig == null ? KvCacheConfig.defaults() : kvCacheConfig;
            return this;
        }

        public Builder enableChunkedPrefill(boolean enableChunkedPrefill) {
            this.enableChunkedPrefill = enableChunkedPrefill;
            return this;
        }

        /** Longest request (prompt plus output); null = the model's limit. */
        public Builder maxSeqLen(Integer maxSeqLen) {
            this.maxSeqLen = maxSeqLen;
            return this;
        }

        public Builder maxBatchSize(int maxBatchSize) {
            this.maxBatchSize = maxBatchSize;
            return this;
        }

        public Builder maxNumTokens(int maxNumTokens) {
            this.maxNumTokens = maxNumTokens;
            return this;
        }

        public Builder tokensPerBlock(int tokensPerBlock) {
            this.tokensPerBlock = tokensPerBlock;
            return this;
        }

        /**
         * GPUs to split the model over; &ge; 1, default 1. Above 1 it needs CUDA, that many devices and NCCL, and
         * must fit the model's shapes (checked when the LLM is built).
         */
        public Builder tensorParallelSize(int tensorParallelSize) {
            this.tensorParallelSize = tensorParallelSize;
            return this;
        }

        /**
         * Lets {@code maxSeqLen} exceed the model's {@code max_position_embeddings} (default false: refused when
         * the LLM is built). Positions past the range the model was trained for usually give poor output.
         */
        public Builder allowLongMaxSeqLen(boolean allow) {
            this.allowLongMaxSeqLen = allow;
            return this;
        }

        /** Whether the weights are scanned for NaN and infinity when the LLM is built (default true). */
        public Builder checkWeights(boolean check) {
            this.checkWeights = check;
            return this;
        }

        /** Whether each engine step is logged at INFO (default false). */
        public Builder printIterLog(boolean print) {
            this.printIterLog = print;
            return this;
        }

        /**
         * Generated tokens per streamed chunk (YAML {@code stream_interval}, default 1): a streamed request's listener
         * gets one chunk every {@code streamInterval} tokens and one with the rest at the end; &ge; 1.
         */
        public Builder streamInterval(int streamInterval) {
            this.streamInterval = streamInterval;
            return this;
        }

        /** @throws ConfigException when a value is out of range or the cross-field rules fail */
        public LlmArgs build() {
            return new LlmArgs(backend, attnBackend, sparseAttentionConfig, kvCacheConfig, enableChunkedPrefill,
                    maxSeqLen, maxBatchSize, maxNumTokens, tokensPerBlock, cudaGraphConfig, tensorParallelSize,
                    allowLongMaxSeqLen, checkWeights, printIterLog, streamInterval);
        }
    }
}
