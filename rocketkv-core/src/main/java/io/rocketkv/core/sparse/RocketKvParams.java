package io.rocketkv.core.sparse;

import io.rocketkv.core.numeric.Bf16;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.numeric.Fp8E5M2;

/**
 * RocketKV's settings as the engine and kernels use them (the API's {@code RocketSparseAttentionConfig},
 * which maps onto them by name through {@link #builder()}). The rules that need the model and the KV cache
 * ({@link #checkTopr}, {@link #checkPageSize}) live here too, once; {@link #validateAgainst} applies both.
 *
 * @param windowSize   W: the last W prompt tokens are always kept
 * @param kernelSize   max-pool width over the stage-1 scores (odd)
 * @param promptBudget B: tokens kept per KV head after prefill (≥ W)
 * @param topk         KT pages selected per KV head per decode step
 * @param topr         query channels used for page scoring (≤ head dim)
 * @param pageSize     P: tokens per KT page (a power of two dividing tokens_per_block)
 * @param ktDtype      {@link DType#F8_E5M2} or {@link DType#BF16}
 * @param stage1Policy which prompt tokens stage 1 keeps: {@link Stage1Policy#ROCKET} (the default), or an
 *                     evaluation-only baseline (CPU backend only)
 */
public record RocketKvParams(int windowSize, int kernelSize, int promptBudget, int topk, int topr, int pageSize,
                             DType ktDtype, Stage1Policy stage1Policy) {

    /**
     * RocketKV's settings with its own stage-1 selection ({@link Stage1Policy#ROCKET}), by position; prefer
     * {@link #builder()}, which names each field.
     */
    public RocketKvParams(int windowSize, int kernelSize, int promptBudget, int topk, int topr, int pageSize,
                          DType ktDtype) {
        this(windowSize, kernelSize, promptBudget, topk, topr, pageSize, ktDtype, Stage1Policy.ROCKET);
    }

    public RocketKvParams {
        if (windowSize < 1) {
            throw new IllegalArgumentException("window_size must be >= 1, got " + windowSize);
        }
        if (kernelSize < 1 || kernelSize % 2 == 0) {
            throw new IllegalArgumentException("kernel_size must be odd and >= 1, got " + kernelSize);
        }
        if (promptBudget < windowSize) {
            throw new IllegalArgumentException("prompt_budget (" + promptBudget + ") must be >= window_size (" + windowSize + ")");
        }
        if (topk < 1) {
            throw new IllegalArgumentException("topk must be >= 1, got " + topk);
        }
        if (topr < 1) {
            throw new IllegalArgumentException("topr must be >= 1, got " + topr);
        }
        if (pageSize < 1 || Integer.bitCount(pageSize) != 1) {
            throw new IllegalArgumentException("page_size must be a power of two, got " + pageSize);
        }
        if (ktDtype != DType.F8_E5M2 && ktDtype != DType.BF16) {
            throw new IllegalArgumentException("kt_cache_dtype must be float8_e5m2 or bfloat16, got " + ktDtype);
        }
        if (stage1Policy == null) {
            throw new IllegalArgumentException("stage1Policy must not be null; use Stage1Policy.ROCKET");
        }
    }

    /** A builder holding RocketKV's defaults (TensorRT-LLM's): W 32, kernel 63, B 2048, topk 64, topr 128, P 4, fp8. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding these settings. */
    public Builder toBuilder() {
        return new Builder().windowSize(windowSize).kernelSize(kernelSize).promptBudget(promptBudget).topk(topk)
                .topr(topr).pageSize(pageSize).ktDtype(ktDtype).stage1Policy(stage1Policy);
    }

    /** The same settings with another stage-1 policy (evaluation baselines). */
    public RocketKvParams withStage1Policy(Stage1Policy policy) {
        return toBuilder().stage1Policy(policy).build();
    }

    /**
     * Checks the settings against a model's head dim and the cache's block size: {@link #checkTopr} and
     * {@link #checkPageSize}.
     *
     * @return this, for chaining
     */
    public RocketKvParams validateAgainst(int headDim, int tokensPerBlock) {
        checkTopr(topr, headDim);
        checkPageSize(pageSize, tokensPerBlock);
        return this;
    }

    /**
     * The rule {@code topr <= head_dim}: page scoring keeps topr of the head's channels.
     *
     * @throws IllegalArgumentException naming {@code sparse_attention_config.topr}, the model's head_dim and the fix
     */
    public static void checkTopr(int topr, int headDim) {
        if (headDim < 1) {
            throw new IllegalArgumentException("headDim must be >= 1, got " + headDim);
        }
        if (topr > headDim) {
            throw new IllegalArgumentException("sparse_attention_config.topr (topr) must be <= the model's head_dim "
                    + headDim + " (config.json), got " + topr + "; set topr to at most " + headDim
                    + " (topr = head_dim skips the channel filter)");
        }
    }

    /**
     * The rule "{@code page_size} divides {@code tokens_per_block}": KT pages are laid out inside KV-cache blocks.
     *
     * @throws IllegalArgumentException naming {@code sparse_attention_config.page_size}, {@code tokens_per_block}
     *                                  and the fix
     */
    public static void checkPageSize(int pageSize, int tokensPerBlock) {
        if (pageSize < 1 || tokensPerBlock < 1 || tokensPerBlock % pageSize != 0) {
            throw new IllegalArgumentException("sparse_attention_config.page_size (pageSize) " + pageSize
                    + " must divide tokens_per_block (tokensPerBlock) " + tokensPerBlock
                    + ": KT pages live inside KV-cache blocks; lower page_size or raise tokens_per_block");
        }
    }

    /** Rounds a value to the KT dtype and back (round to nearest even, saturating). */
    public float roundToKt(float x) {
        return ktDtype == DType.BF16 ? Bf16.decode(Bf16.encode(x)) : Fp8E5M2.decode(Fp8E5M2.encode(x));
    }

    /** Tokens a KV head keeps after stage 1 of a prompt of {@code promptLen} tokens. */
    public int keptTokens(int promptLen) {
        return Math.min(promptLen, promptBudget);
    }

    /** KT pages covering {@code cacheLen} slots (a partial last page counts). */
    public int numPages(int cacheLen) {
        return (cacheLen + pageSize - 1) / pageSize;
    }

    /** Mutable builder; {@link #build} validates. Starts from RocketKV's defaults. */
    public static final class Builder {
        private int windowSize = 32;
        private int kernelSize = 63;
        private int promptBudget = 2048;
        private int topk = 64;
        private int topr = 128;
        private int pageSize = 4;
        private DType ktDtype = DType.F8_E5M2;
        private Stage1Policy stage1Policy = Stage1Policy.ROCKET;

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

        public Builder ktDtype(DType ktDtype) {
            this.ktDtype = ktDtype;
            return this;
        }

        public Builder stage1Policy(Stage1Policy stage1Policy) {
            this.stage1Policy = stage1Policy;
            return this;
        }

        /** @throws IllegalArgumentException when a value is out of range */
        public RocketKvParams build() {
            return new RocketKvParams(windowSize, kernelSize, promptBudget, topk, topr, pageSize, ktDtype,
                    stage1Policy);
        }
    }
}
