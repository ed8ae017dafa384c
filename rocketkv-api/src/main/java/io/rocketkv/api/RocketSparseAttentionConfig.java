package io.rocketkv.api;

import io.rocketkv.core.sparse.RocketKvParams;
import io.rocketkv.core.sparse.Stage1Policy;

/**
 * RocketKV sparse attention settings: the {@code sparse_attention_config} of {@code extra_config.yaml}
 * ({@code algorithm: rocket}), with the fields, defaults and rules of TensorRT-LLM's
 * {@code RocketSparseAttentionConfig}. See {@code ROCKETKV.md} for what each one does.
 *
 * <table>
 * <caption>Fields</caption>
 * <tr><th>YAML key</th><th>default</th><th>rule</th></tr>
 * <tr><td>{@code window_size}</td><td>32</td><td>&ge; 1; the last W prompt tokens are always kept</td></tr>
 * <tr><td>{@code kernel_size}</td><td>63</td><td>odd, &ge; 1; max-pool width over the stage-1 scores</td></tr>
 * <tr><td>{@code prompt_budget}</td><td>2048</td><td>&ge; window_size; tokens kept per KV head after
 *     prefill</td></tr>
 * <tr><td>{@code topk}</td><td>64</td><td>&ge; 1; KT pages selected per KV head per decode step</td></tr>
 * <tr><td>{@code topr}</td><td>128</td><td>1 &le; topr &le; head_dim (checked against the model by
 *     {@link #validateAgainst}); topr = head_dim skips the channel filter</td></tr>
 * <tr><td>{@code page_size}</td><td>4</td><td>power of two; tokens per KT page</td></tr>
 * <tr><td>{@code kt_cache_dtype}</td><td>{@code float8_e5m2}</td><td>{@code float8_e5m2} or
 *     {@code bfloat16}</td></tr>
 * </table>
 *
 * <p>{@code kv_cache_config.enable_block_reuse} (default true) works with RocketKV, unlike TensorRT-LLM, which requires
 * it false: a shared prompt prefix's dense blocks are cached and reused, and each request runs stage 1 over its own
 * whole prompt, writing its compacted cache into blocks of its own. {@code enable_chunked_prefill: true} works with
 * RocketKV too (stage 1 runs after a prompt's last chunk). When the LLM is built,
 * {@code page_size} must divide {@code tokens_per_block} and {@code topr} may not exceed the model's
 * {@code head_dim}: the engine's rules ({@code RocketKvParams}), reported as {@link ConfigException}s.
 *
 * @param windowSize   W, the recent prompt tokens always kept (YAML {@code window_size})
 * @param kernelSize   max-pool width over the stage-1 scores (YAML {@code kernel_size})
 * @param promptBudget B, prompt tokens kept per KV head after prefill (YAML {@code prompt_budget})
 * @param topk         KT pages selected per KV head per decode step (YAML {@code topk})
 * @param topr         query channels used for page scoring (YAML {@code topr})
 * @param pageSize     tokens per KT page (YAML {@code page_size})
 * @param ktCacheDtype element type of the KT cache (YAML {@code kt_cache_dtype})
 */
public record RocketSparseAttentionConfig(
        int windowSize,
        int kernelSize,
        int promptBudget,
        int topk,
        int topr,
        int pageSize,
        KtCacheDtype ktCacheDtype) {

    /** The only {@code algorithm} value accepted in YAML. */
    public static final String ALGORITHM = "rocket";

    public static final int DEFAULT_WINDOW_SIZE = 32;
    public static final int DEFAULT_KERNEL_SIZE = 63;
    public static final int DEFAULT_PROMPT_BUDGET = 2048;
    public static final int DEFAULT_TOPK = 64;
    public static final int DEFAULT_TOPR = 128;
    public static final int DEFAULT_PAGE_SIZE = 4;
    public static final KtCacheDtype DEFAULT_KT_CACHE_DTYPE = KtCacheDtype.FLOAT8_E5M2;

    static final String PREFIX = "sparse_attention_config.";

    /** Validates every field on its own; {@link #validateAgainst} adds the check that needs the model. */
    public RocketSparseAttentionConfig {
        if (windowSize < 1) {
            throw ConfigException.invalid(PREFIX + "window_size", "windowSize", ">= 1", windowSize);
        }
        if (kernelSize < 1 || kernelSize % 2 == 0) {
            throw ConfigException.invalid(PREFIX + "kernel_size", "kernelSize", "odd and >= 1", kernelSize);
        }
        if (promptBudget < windowSize) {
            throw ConfigException.invalid(PREFIX + "prompt_budget", "promptBudget",
                    ">= window_size (" + windowSize + ")", promptBudget);
        }
        if (topk < 1) {
            throw ConfigException.invalid(PREFIX + "topk", "topk", ">= 1", topk);
        }
        if (topr < 1) {
            throw ConfigException.invalid(PREFIX + "topr", "topr", ">= 1 (and <= the model's head_dim)", topr);
        }
        if (!isPowerOfTwo(pageSize)) {
            throw ConfigException.invalid(PREFIX + "page_size", "pageSize", "a power of two (1, 2, 4, 8, ...)",
                    pageSize);
        }
        if (ktCacheDtype == null) {
            throw ConfigException.invalid(PREFIX + "kt_cache_dtype", "ktCacheDtype",
                    "one of " + KtCacheDtype.allowedNames(), null);
        }
    }

    /** A builder holding the defaults of the table above. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this config's values. */
    public Builder toBuilder() {
        return new Builder()
                .windowSize(windowSize)
                .kernelSize(kernelSize)
                .promptBudget(promptBudget)
                .topk(topk)
                .topr(topr)
                .pageSize(pageSize)
                .ktCacheDtype(ktCacheDtype);
    }

    /** A config with every default. */
    public static RocketSparseAttentionConfig defaults() {
        return builder().build();
    }

    /**
     * Checks the rule that needs the model: {@code 1 <= topr <= headDim} (the engine's rule,
     * {@code RocketKvParams.checkTopr}).
     *
     * @param headDim the model's head dimension D
     * @return this config, for chaining
     * @throws ConfigException naming {@code sparse_attention_config.topr} when topr exceeds headDim
     */
    public RocketSparseAttentionConfig validateAgainst(int headDim) {
        if (headDim < 1) {
            throw new IllegalArgumentException("headDim must be >= 1, got " + headDim);
        }
        ConfigException.check(PREFIX + "topr", () -> RocketKvParams.checkTopr(topr, headDim));
        return this;
    }

    /**
     * The engine's settings, field by field, once the rules that need the model and the KV cache hold:
     * {@link #validateAgainst(int) topr <= head_dim} and page_size dividing tokens_per_block.
     *
     * @throws ConfigException naming {@code sparse_attention_config.topr} or {@code sparse_attention_config.page_size}
     */
    RocketKvParams toRocketKvParams(int headDim, int tokensPerBlock, Stage1Policy stage1Policy) {
        validateAgainst(headDim);
        ConfigException.check(PREFIX + "page_size", () -> RocketKvParams.checkPageSize(pageSize, tokensPerBlock));
        return RocketKvParams.builder()
                .windowSize(windowSize)
                .kernelSize(kernelSize)
                .promptBudget(promptBudget)
                .topk(topk)
                .topr(topr)
                .pageSize(pageSize)
                .ktDtype(ktCacheDtype.dtype())
                .stage1Policy(stage1Policy)
                .build();
    }

    static boolean isPowerOfTwo(int v) {
        return v >= 1 && (v & (v - 1)) == 0;
    }

    /** Mutable builder; {@link #build} validates. Starts from the defaults. */
    public static final class Builder {
        private int windowSize = DEFAULT_WINDOW_SIZE;
        private int kernelSize = DEFAULT_KERNEL_SIZE;
        private int promptBudget = DEFAULT_PROMPT_BUDGET;
        private int topk = DEFAULT_TOPK;
        private int topr = DEFAULT_TOPR;
        private int pageSize = DEFAULT_PAGE_SIZE;
        private KtCacheDtype ktCacheDtype = DEFAULT_KT_CACHE_DTYPE;

        private Builder() {
        }

        public Builder windowSize(int windowSize) {
            this.windowSize = windowSize;
            return this;
        }

        public Builder kernelSize(int kernelSize) {
            this.kernelSize = kernelSize;
            return this;
        }

        public Builder promptBudget(int promptBudget) {
            this.promptBudget = promptBudget;
            return this;
        }

        public Builder topk(int topk) {
            this.topk = topk;
            return this;
        }

        public Builder topr(int topr) {
            this.topr = topr;
            return this;
        }

        public Builder pageSize(int pageSize) {
            this.pageSize = pageSize;
            return this;
        }

        /** The KT cache element type; null restores the default ({@code float8_e5m2}). */
        public Builder ktCacheDtype(KtCacheDtype ktCacheDtype) {
            this.ktCacheDtype = ktCacheDtype == null ? DEFAULT_KT_CACHE_DTYPE : ktCacheDtype;
            return this;
        }

        /** The KT cache element type by YAML name ({@code "float8_e5m2"} or {@code "bfloat16"}). */
        public Builder ktCacheDtype(String yamlName) {
            this.ktCacheDtype = KtCacheDtype.parse(yamlName);
            return this;
        }

        /** @throws ConfigException when a value is out of range */
        public RocketSparseAttentionConfig build() {
            return new RocketSparseAttentionConfig(windowSize, kernelSize, promptBudget, topk, topr, pageSize,
                    ktCacheDtype);
        }
    }
}
