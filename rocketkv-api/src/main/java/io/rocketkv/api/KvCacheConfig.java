package io.rocketkv.api;

/**
 * Paged KV cache settings: the {@code kv_cache_config} of {@code extra_config.yaml}, with TensorRT-LLM's
 * names and defaults.
 *
 * <ul>
 *   <li>{@code enable_block_reuse} (default {@code true}, as in TensorRT-LLM): prefix caching. Every full block of
 *       computed K/V is cached under the SHA-256 of its tokens chained to its parent block's key, and a request whose
 *       prompt starts with cached blocks shares them and prefills only the rest (never its last token); free cached
 *       blocks are evicted, least recently freed first, only when the pool needs them. Also with RocketKV: the
 *       shared prefix's dense blocks are cached and each request runs stage 1 over its whole prompt into blocks of
 *       its own. {@code false} caches nothing (see docs/engine.md, "Block reuse").</li>
 *   <li>{@code max_tokens} (default unset): cap on the tokens the KV pool holds, &ge; 1 when set. When both
 *       this and the memory fraction apply, the smaller pool wins.</li>
 *   <li>{@code free_gpu_memory_fraction} (default 0.9): share of the memory free after loading the weights
 *       that the KV pool may take, 0 &lt; f &le; 1.</li>
 *   <li>{@code dtype} (default {@code auto}, as in TensorRT-LLM): the KV cache's element type, see
 *       {@link KvCacheDtype}; {@code fp8} (e4m3 with per-layer scales) on both backends.</li>
 *   <li>{@code tokens_per_block} (YAML only; default 32, as in TensorRT-LLM): slots per block. It is the block size
 *       of {@link LlmArgs#tokensPerBlock()}, where YAML's top-level {@code tokens_per_block} also sets it.</li>
 * </ul>
 * The other keys of TensorRT-LLM's {@code KvCacheConfig} are accepted and ignored with a warning (docs/api.md).
 *
 * @param enableBlockReuse      YAML {@code enable_block_reuse}
 * @param maxTokens             YAML {@code max_tokens}; null when unset
 * @param freeGpuMemoryFraction YAML {@code free_gpu_memory_fraction}
 * @param dtype                 YAML {@code dtype}; never null
 */
public record KvCacheConfig(boolean enableBlockReuse, Integer maxTokens, double freeGpuMemoryFraction,
                            KvCacheDtype dtype) {

    public static final boolean DEFAULT_ENABLE_BLOCK_REUSE = true;
    public static final double DEFAULT_FREE_GPU_MEMORY_FRACTION = 0.9;

    static final String PREFIX = "kv_cache_config.";

    /** A config with the default {@code dtype} ({@code auto}). */
    public KvCacheConfig(boolean enableBlockReuse, Integer maxTokens, double freeGpuMemoryFraction) {
        this(enableBlockReuse, maxTokens, freeGpuMemoryFraction, KvCacheDtype.AUTO);
    }

    public KvCacheConfig {
        dtype = dtype == null ? KvCacheDtype.AUTO : dtype;
        if (maxTokens != null && maxTokens < 1) {
            throw ConfigException.invalid(PREFIX + "max_tokens", "maxTokens", ">= 1 when set", maxTokens);
        }
        if (!(freeGpuMemoryFraction > 0.0 && freeGpuMemoryFraction <= 1.0)) {
            throw ConfigException.invalid(PREFIX + "free_gpu_memory_fraction", "freeGpuMemoryFraction",
                    "in (0, 1] (0 < f <= 1)", freeGpuMemoryFraction);
        }
    }

    /** A builder holding the defaults. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this config's values. */
    public Builder toBuilder() {
        return new Builder()
                .enableBlockReuse(enableBlockReuse)
                .maxTokens(maxTokens)
                .freeGpuMemoryFraction(freeGpuMemoryFraction)
                .dtype(dtype);
    }

    /** A config with every default. */
    public static KvCacheConfig defaults() {
        return builder().build();
    }

    /** Mutable builder; {@link #build} validates. Starts from the defaults. */
    public static final class Builder {
        private boolean enableBlockReuse = DEFAULT_ENABLE_BLOCK_REUSE;
        private Integer maxTokens;
        private double freeGpuMemoryFraction = DEFAULT_FREE_GPU_MEMORY_FRACTION;
        private KvCacheDtype dtype = KvCacheDtype.AUTO;

        private Builder() {
        }

        public Builder enableBlockReuse(boolean enableBlockReuse) {
            this.enableBlockReuse = enableBlockReuse;
            return this;
        }

        /** Cap on the KV pool in tokens; null for no cap. */
        public Builder maxTokens(Integer maxTokens) {
            this.maxTokens = maxTokens;
            return this;
        }

        public Builder freeGpuMemoryFraction(double freeGpuMemoryFraction) {
            this.freeGpuMemoryFraction = freeGpuMemoryFraction;
            return this;
        }

        /** The KV cache element type; null = {@code auto}. */
        public Builder dtype(KvCacheDtype dtype) {
            this.dtype = dtype;
            return this;
        }

        /** By TensorRT-LLM name: {@code auto}, {@code bfloat16} ({@code bf16}), {@code float32}. */
        public Builder dtype(String dtype) {
            this.dtype = KvCacheDtype.parse(dtype);
            return this;
        }

        /** @throws ConfigException when a value is out of range */
        public KvCacheConfig build() {
            return new KvCacheConfig(enableBlockReuse, maxTokens, freeGpuMemoryFraction, dtype);
        }
    }
}
