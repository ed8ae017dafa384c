package io.rocketkv.core.kernels;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * The reference twin of {@link CpuAttention}: per query head, every score first, then {@link Math#exp} of each
 * score minus the row's maximum, fp32 sums in key order; K/V rows decoded from the cache to floats. With an F32
 * cache it computes exactly what the CPU backend computed before the cache had a dtype.
 */
final class ScalarAttention implements CpuAttention {

    @Override
    public void prefill(float[] q, float[] k, float[] v, CpuKvCache cache, StepBatch b, AttentionShape s, float[] out,
                        Parallel par) {
        long work = CpuAttention.checkPrefill(b, s);
        int h = s.numHeads();
        int hkv = s.numKvHeads();
        int d = s.headDim();
        int g = s.groupSize();
        int p = s.tokensPerBlock();
        float[] ks = rounded(k, cache, b.numTokens() * hkv * d, false);
        float[] vs = rounded(v, cache, b.numTokens() * hkv * d, true);
        par.forEach(b.numSeqs() * h, work, task -> {
            int seq = task / h;
            int head = task % h;
            int kvh = head / g;
            int start = b.queryStart()[seq];
            int len = b.queryLen(seq);
            int past = b.kvLens()[seq] - len;
            int[] table = b.blockTables()[seq];
            float[] scores = new float[past + len];
            float[] acc = new float[d];
            float[] row = new float[d];
            for (int i = 0; i < len; i++) {
                int qo = ((start + i) * h + head) * d;
                int last = past + i; // keys first … last (first = 0 without a sliding window)
                int first = s.firstKey(last);
                float max = Float.NEGATIVE_INFINITY;
                for (int j = first; j <= last; j++) {
                    float sc;
                    if (j < past) {
                        int blk = table[j / p];
                        cache.readRow(cache.block(blk), cache.kOffset(kvh, j % p), row, 0);
                        sc = CpuKernels.dot(q, qo, row, 0, d);
                    } else {
                        sc = CpuKernels.dot(q, qo, ks, ((start + j - past) * hkv + kvh) * d, d);
                    }
                    sc *= s.scale();
                    scores[j] = sc;
                    max = Math.max(max, sc);
                }
                Arrays.fill(acc, 0f);
                float sum = 0f;
                for (int j = first; j <= last; j++) {
                    float e = (float) Math.exp(scores[j] - max);
                    sum += e;
                    if (j < past) {
                        int blk = table[j / p];
                        cache.readRow(cache.block(blk), cache.vOffset(kvh, j % p), row, 0);
                        axpy(e, row, 0, acc, d);
                    } else {
                        axpy(e, vs, ((start + j - past) * hkv + kvh) * d, acc, d);
                    }
                }
                float inv = 1f / sum;
                for (int c = 0; c < d; c++) {
                    out[qo + c] = acc[c] * inv;
                }
            }
        });
    }

    /** {@code x}'s first {@code n} values as the cache stores them as K ({@code v} false) or V (x itself for F32). */
    private static float[] rounded(float[] x, CpuKvCache cache, int n, boolean v) {
        if (cache.dtype() == io.rocketkv.core.numeric.DType.F32) {
            return x;
        }
        float[] r = new float[n];
        for (int i = 0; i < n; i++) {
            r[i] = cache.round(x[i], v);
        }
        return r;
    }

    @Override
    public void decode(float[] q, CpuKvCache cache, StepBatch b, AttentionShape s, float[] out, Parallel par) {
        long work = CpuAttention.checkDecode(b, s);
        int hkv = s.numKvHeads();
        // one task per (sequence, KV head): each K and V row is read once for the whole GQA group; every
        // query head's arithmetic (dot, softmax, accumulation order) is the same as attending head by head
        par.forEach(b.numSeqs() * hkv, work, task -> {
            int seq = task / hkv;
            int kvh = task % hkv;
            attendGroup(q, cache, seq, kvh, CpuAttention.decodeSlots(b, seq, s), s, out);
        });
    }

    @Override
    public void listed(float[] q, CpuKvCache cache, int[][][] slots, AttentionShape s, float[] out, Parallel par) {
        int hkv = s.numKvHeads();
        par.forEach(slots.length * hkv, CpuAttention.listedWork(slots, s), task -> {
            int seq = task / hkv;
            int kvh = task % hkv;
            attendGroup(q, cache, seq, kvh, slots[seq] == null ? new int[0] : slots[seq][kvh], s, out);
        });
    }

    /** The GQA group of KV head {@code kvh} of sequence {@code seq} over physical {@code slots}; none: zeros. */
    private static void attendGroup(float[] q, CpuKvCache cache, int seq, int kvh, int[] slots, AttentionShape s,
                                    float[] out) {
        int d = s.headDim();
        int g = s.groupSize();
        int p = s.tokensPerBlock();
        int len = slots.length;
        int q0 = (seq * s.numHeads() + kvh * g) * d; // first query head of the group
        float[] row = new float[d];
        float[][] scores = new float[g][len];
        float[] max = new float[g];
        Arrays.fill(max, Float.NEGATIVE_INFINITY);
        for (int j = 0; j < len; j++) {
            MemorySegment blk = cache.block(slots[j] / p);
            cache.readRow(blk, cache.kOffset(kvh, slots[j] % p), row, 0);
            for (int gi = 0; gi < g; gi++) {
                float sc = CpuKernels.dot(q, q0 + gi * d, row, 0, d) * s.scale();
                scores[gi][j] = sc;
                max[gi] = Math.max(max[gi], sc);
            }
        }
        float[][] acc = new float[g][d];
        float[] sum = new float[g];
        for (int j = 0; j < len; j++) {
            MemorySegment blk = cache.block(slots[j] / p);
            cache.readRow(blk, cache.vOffset(kvh, slots[j] % p), row, 0);
            for (int gi = 0; gi < g; gi++) {
                float e = (float) Math.exp(scores[gi][j] - max[gi]);
                sum[gi] += e;
                axpy(e, row, 0, acc[gi], d);
            }
        }
        for (int gi = 0; gi < g; gi++) {
            float inv = len == 0 ? 0f : 1f / sum[gi]; // a padding sequence (kvLen 0) gets zeros
            int qo = q0 + gi * d;
            for (int c = 0; c < d; c++) {
                out[qo + c] = acc[gi][c] * inv;
            }
        }
    }

    private static void axpy(float alpha, float[] x, int xo, float[] y, int n) {
        for (int i = 0; i < n; i++) {
            y[i] += alpha * x[xo + i];
        }
    }
}
