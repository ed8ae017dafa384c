package io.rocketkv.core.sparse;

import io.rocketkv.core.numeric.DType;

/**
 * RocketKV's settings as the engine and kernels use them (the API's {@code RocketSparseAttentionConfig},
 * checked against the model and the KV-cache block size).
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

    /** RocketKV's settings with its own stage-1 selection ({@link Stage1Policy#ROCKET}). */
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

    /** The same settings with another stage-1 policy (evaluation baselines). */
    public RocketKvParams withStage1Policy(Stage1Policy policy) {
        return new RocketKvParams(windowSize, kernelSize, promptBudget, topk, topr, pageSize, ktDtype, policy);
    }

    /** Checks the settings against a model's head dim and the cache's block size. */
    public RocketKvParams validateAgainst(int headDim, int tokensPerBlock) {
        if (topr > headDim) {
            throw new IllegalArgumentException("sparse_attention_config.topr (" + topr + ") must be <= the model's head_dim ("
                    + headDim + ")");
        }
        if (pageSize > tokensPerBlock || tokensPerBlock % pageSize != 0) {
            throw new IllegalArgumentException("sparse_attention_config.page_size (" + pageSize
                    + ") must divide tokens_per_block (" + tokensPerBlock + "): KT pages are laid out inside KV blocks");
        }
        return this;
    }

    /** Rounds a value to the KT dtype and back (round to nearest even, saturating). */
    public float roundToKt(float x) {
        return ktDtype == DType.BF16
                ? io.rocketkv.core.numeric.Bf16.decode(io.rocketkv.core.numeric.Bf16.encode(x))
                : io.rocketkv.core.numeric.Fp8E5M2.decode(io.rocketkv.core.numeric.Fp8E5M2.encode(x));
    }

    /** Tokens a KV head keeps after stage 1 of a prompt of {@code promptLen} tokens. */
    public int keptTokens(int promptLen) {
        return Math.min(promptLen, promptBudget);
    }

    /** KT pages covering {@code cacheLen} slots (a partial last page counts). */
    public int numPages(int cacheLen) {
        return (cacheLen + pageSize - 1) / pageSize;
    }
}
