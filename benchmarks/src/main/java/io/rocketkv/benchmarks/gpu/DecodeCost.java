package io.rocketkv.benchmarks.gpu;

/**
 * What one decode step of the whole model must read, and how many sequences the engine's KV pool holds: the
 * arithmetic behind the byte floors and the capacity rows of {@link EndToEndReport}. Pure, so it is tested
 * without a GPU.
 *
 * @param layers             decoder layers
 * @param hidden             hidden size
 * @param attention          one layer's attention shape (heads, head dim, tokens per block)
 * @param weightBytesPerStep weight bytes a step reads (all matrices but the embedding table)
 * @param kvDtypeBytes       bytes of one cached K or V element (bf16: 2)
 */
public record DecodeCost(int layers, int hidden, AttentionCost attention, long weightBytesPerStep, int kvDtypeBytes) {

    public DecodeCost {
        if (layers < 1 || hidden < 1 || attention == null || weightBytesPerStep < 0 || kvDtypeBytes < 1) {
            throw new IllegalArgumentException("need layers, hidden, kvDtypeBytes >= 1, an attention shape and"
                    + " weightBytesPerStep >= 0, got " + layers + ", " + hidden + ", " + attention + ", "
                    + weightBytesPerStep + ", " + kvDtypeBytes);
        }
    }

    /** K and V of one token over all layers. */
    public long kvBytesPerToken() {
        return 2L * layers * attention.hkv() * attention.d() * kvDtypeBytes;
    }

    /** Weights, one embedding row (bf16) per sequence, and every cached token's K and V. */
    public double denseStepBytes(int cacheTokens, int batch) {
        return weightBytesPerStep + (double) batch * hidden * 2 + (double) batch * cacheTokens * kvBytesPerToken();
    }

    /** Weights, embedding rows, and per layer what a RocketKV decode step reads ({@link AttentionCost#rocketDecodeBytes}). */
    public double rocketStepBytes(int cacheTokens, int batch, int topk, int page) {
        int pages = (cacheTokens + page - 1) / page;
        return weightBytesPerStep + (double) batch * hidden * 2
                + layers * attention.rocketDecodeBytes(batch, pages, topk, page);
    }

    /** Seconds to move {@code bytes} at {@code copyGbs}. */
    public static double floorSeconds(double bytes, double copyGbs) {
        if (!(copyGbs > 0)) {
            throw new IllegalArgumentException("copy bandwidth must be > 0 GB/s, got " + copyGbs);
        }
        return bytes / (copyGbs * 1e9);
    }

    /**
     * KV pool tokens as the engine sizes it on the GPU: {@code fraction} of the memory free after the weights
     * and the step workspace, over the bytes of one token ({@code bytesPerToken}: K, V and, with RocketKV, its KT
     * share).
     */
    public static long poolTokens(long freeAfterWeights, long workspaceBytes, double fraction, long bytesPerToken) {
        if (bytesPerToken < 1) {
            throw new IllegalArgumentException("bytesPerToken must be >= 1, got " + bytesPerToken);
        }
        long free = Math.max(0, freeAfterWeights - workspaceBytes);
        return (long) (free * fraction) / bytesPerToken;
    }

    /** Dense: whole sequences of {@code tokens} tokens, each rounded up to blocks. */
    public int maxDenseSequences(long poolTokens, int tokens) {
        long blocks = poolTokens / attention.tpb();
        return (int) Math.min(Integer.MAX_VALUE, blocks / attention.blocksFor(tokens));
    }

    /**
     * RocketKV: one sequence at its full prompt (the prefill needs every prompt token before stage 1 compacts
     * it), the others at {@code keptTokens + newTokens}; 0 when one prompt alone does not fit.
     */
    public int maxRocketSequences(long poolTokens, int context, int keptTokens, int newTokens) {
        long blocks = poolTokens / attention.tpb();
        long prefill = attention.blocksFor(Math.max(context, keptTokens + newTokens));
        if (prefill > blocks) {
            return 0;
        }
        return (int) Math.min(Integer.MAX_VALUE, 1 + (blocks - prefill) / attention.blocksFor(keptTokens + newTokens));
    }
}
