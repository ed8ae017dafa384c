package io.rocketkv.benchmarks.gpu;

/**
 * The bytes and FLOPs the GPU runner divides its times by, and the rule that decides whether a configuration
 * fits in device memory. Pure arithmetic, so it is tested without a GPU.
 *
 * @param hq    query heads
 * @param hkv   KV heads
 * @param d     head dim
 * @param tpb   tokens per KV block
 */
public record AttentionCost(int hq, int hkv, int d, int tpb) {

    /** Llama-3.1-8B attention: 32 query heads, 8 KV heads, head dim 128; 32-token blocks. */
    public static final AttentionCost LLAMA_8B = new AttentionCost(32, 8, 128, 32);

    /** Share of free device memory a configuration may use. */
    public static final double MEMORY_FRACTION = 0.8;

    public AttentionCost {
        if (hq < 1 || hkv < 1 || hq % hkv != 0 || d < 1 || tpb < 1) {
            throw new IllegalArgumentException("need hq, hkv, d, tpb >= 1 with hkv dividing hq, got hq=" + hq + " hkv="
                    + hkv + " d=" + d + " tpb=" + tpb);
        }
    }

    /** KV bytes dense decode reads: K and V, bf16, every cached token of every sequence. */
    public double denseDecodeBytes(int context, int batch) {
        return 2.0 * hkv * d * 2 * context * (double) batch;
    }

    /**
     * Bytes a RocketKV decode step must read: per sequence and KV head the fp8 KT pages (min and max, 1 B each
     * per channel) and the K/V of the {@code topk} selected pages in bf16, plus q and out (f32) and the new key.
     */
    public double rocketDecodeBytes(int batch, int pages, int topk, int page) {
        return (double) batch * hkv * (pages * 2.0 * d + (double) topk * page * 2 * d * 2)
                + batch * (hq * d * 4.0 * 2 + hkv * d * 4.0);
    }

    /** FLOPs of causal prefill attention over {@code len} tokens: 4·H·D·L² for full attention, halved. */
    public double prefillFlops(int len) {
        return 4.0 * hq * d * (double) len * len / 2;
    }

    /** FLOPs of {@code out[m,n] = x[m,k]·w[n,k]ᵀ}. */
    public static double gemmFlops(long m, long n, long k) {
        return 2.0 * m * n * k;
    }

    /** KV blocks a sequence of {@code tokens} tokens occupies. */
    public int blocksFor(int tokens) {
        return (tokens + tpb - 1) / tpb;
    }

    /** Device bytes of a bf16 paged cache of {@code blocks} blocks: [blocks, 2, hkv, tpb, d]. */
    public long cacheBytes(long blocks) {
        return blocks * 2L * hkv * tpb * d * 2;
    }

    /** Device bytes dense decode allocates: the cache, q and out (f32). */
    public long denseDecodeFootprint(int context, int batch) {
        return cacheBytes((long) blocksFor(context) * batch) + 2L * batch * hq * d * 4;
    }

    /** Device bytes the prefill measurement allocates: the cache and q, k, v, out in f32. */
    public long prefillFootprint(int len) {
        return cacheBytes(blocksFor(len)) + (long) len * (2L * hq + 2L * hkv) * d * 4;
    }

    /** Device bytes the RocketKV measurement allocates for {@code cacheTokens} tokens per sequence (a bound). */
    public long rocketFootprint(int cacheTokens, int batch) {
        long tokens = (long) cacheTokens * batch;
        return 2 * cacheBytes((long) blocksFor(cacheTokens + 1) * batch) // the cache, and the KT cache (smaller)
                + tokens * 2L * hkv * d * 4                              // the f32 K and V that fill it
                + batch * (2L * hq + hkv) * d * 4;                       // q, out, the new key
    }

    /** The memory-fit rule: a configuration runs if it needs at most {@link #MEMORY_FRACTION} of free memory. */
    public static boolean fits(long bytes, long freeBytes) {
        return bytes >= 0 && bytes <= MEMORY_FRACTION * freeBytes;
    }
}
