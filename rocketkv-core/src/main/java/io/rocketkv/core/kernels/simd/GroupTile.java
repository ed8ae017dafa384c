package io.rocketkv.core.kernels.simd;

import io.rocketkv.core.numeric.DType;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * One {@link SimdAttention} task's online-softmax state, reused by its thread from task to task (no allocation
 * once grown): M query rows attending the same KV head, a tile of at most {@link SimdAttention#TILE} keys at a
 * time. Query rows and accumulators are kept in {@link SimdRows#laneOrder lane order}.
 */
final class GroupTile {

    private static final int TILE = SimdAttention.TILE;

    private int m;
    private int d;
    private DType dtype;
    private float scale;    // the attention scale times the cache's K scale: applied to each raw dot
    private float vScale;   // the cache's V scale: applied to each probability before its axpy
    private int[] order = new int[0];
    private DType orderDtype;
    private float[] q = new float[0];   // [M][D] lane order
    private float[] acc = new float[0]; // [M][D] lane order
    private float[] max = new float[0]; // [M] running max of the scaled scores
    private float[] sum = new float[0]; // [M] running sum of e^(score − max)
    private int[] first = new int[0];   // [M] first key index each row attends (> 0 only with a sliding window)
    private int[] last = new int[0];    // [M] last key index (inclusive) each row attends
    private int[] from = new int[0];    // [M] first key of the current tile the row attends
    private int[] valid = new int[0];   // [M] end (exclusive) of the current tile's keys the row attends
    private float[] p = new float[0];   // [M][TILE] scores, then their exps
    private float[] row = new float[0]; // [D] an F8_E4M3 key's K or V row, widened
    private final MemorySegment[] kSeg = new MemorySegment[TILE];
    private final MemorySegment[] vSeg = new MemorySegment[TILE];
    private final long[] kOff = new long[TILE];
    private final long[] vOff = new long[TILE];

    /**
     * Starts a task of {@code m} query rows of head dim {@code d} over a cache of {@code dtype} whose K and V elements
     * read as stored · kScale and stored · vScale (1.0 unless F8_E4M3).
     */
    void begin(int m, int d, DType dtype, float scale, float kScale, float vScale) {
        this.m = m;
        this.d = d;
        this.dtype = dtype;
        this.scale = scale * kScale;
        this.vScale = vScale;
        if (order.length != d || orderDtype != dtype) {
            order = SimdRows.laneOrder(d, dtype);
            orderDtype = dtype;
        }
        if (q.length < m * d) {
            q = new float[m * d];
            acc = new float[m * d];
        }
        if (max.length < m) {
            max = new float[m];
            sum = new float[m];
            first = new int[m];
            last = new int[m];
            from = new int[m];
            valid = new int[m];
            p = new float[m * TILE];
        }
        Arrays.fill(acc, 0, m * d, 0f);
        Arrays.fill(max, 0, m, Float.NEGATIVE_INFINITY);
        Arrays.fill(sum, 0, m, 0f);
    }

    /** Row {@code r} is {@code src[so .. so+D)} and attends keys {@code 0 … lastKey} of the task's numbering. */
    void setQuery(int r, float[] src, int so, int lastKey) {
        setQuery(r, src, so, 0, lastKey);
    }

    /** Row {@code r} is {@code src[so .. so+D)} and attends keys {@code firstKey … lastKey} (a sliding window). */
    void setQuery(int r, float[] src, int so, int firstKey, int lastKey) {
        int o = r * d;
        for (int x = 0; x < d; x++) {
            q[o + x] = src[so + order[x]];
        }
        first[r] = firstKey;
        last[r] = lastKey;
    }

    /** Key {@code jj} of the next tile: its K row at ({@code ks}, {@code ko}) and V row at ({@code vs}, {@code vo}). */
    void key(int jj, MemorySegment ks, long ko, MemorySegment vs, long vo) {
        kSeg[jj] = ks;
        kOff[jj] = ko;
        vSeg[jj] = vs;
        vOff[jj] = vo;
    }

    /**
     * Folds the tile of keys {@code j0 … j0+n−1} (set with {@link #key}) into every row that attends them; keys before
     * every row's first key need not be set.
     */
    void fold(int j0, int n) {
        for (int r = 0; r < m; r++) {
            valid[r] = (int) Math.clamp((long) last[r] - j0 + 1, 0, n);
            from[r] = Math.min((int) Math.clamp((long) first[r] - j0, 0, n), valid[r]);
        }
        int lo = n; // keys before every row's window were not set (their blocks may be freed): not read
        for (int r = 0; r < m; r++) {
            lo = Math.min(lo, from[r]);
        }
        boolean fp8 = dtype == DType.F8_E4M3;
        if (fp8 && row.length < d) {
            row = new float[d];
        }
        for (int jj = lo; jj < n; jj++) {
            MemorySegment seg = kSeg[jj];
            long off = kOff[jj];
            if (fp8) { // widened once for the group's rows
                SimdRows.widenFp8(seg, off, row, d);
                for (int r = 0; r < m; r++) {
                    if (valid[r] > jj && jj >= from[r]) {
                        p[r * TILE + jj] = SimdRows.dotArray(q, r * d, row, d) * scale;
                    }
                }
                continue;
            }
            for (int r = 0; r < m; r++) {
                if (valid[r] > jj && jj >= from[r]) {
                    p[r * TILE + jj] = SimdRows.dot(dtype, q, r * d, seg, off, d) * scale;
                }
            }
        }
        for (int r = 0; r < m; r++) {
            int nv = valid[r] - from[r];
            if (nv == 0) {
                continue;
            }
            SimdRows.softmaxTile(p, r * TILE + from[r], nv, max, sum, r, acc, r * d, d);
        }
        for (int jj = lo; jj < n; jj++) {
            MemorySegment seg = vSeg[jj];
            long off = vOff[jj];
            if (fp8) {
                SimdRows.widenFp8(seg, off, row, d);
                for (int r = 0; r < m; r++) {
                    if (valid[r] > jj && jj >= from[r]) {
                        SimdRows.axpyArray(p[r * TILE + jj] * vScale, row, acc, r * d, d);
                    }
                }
                continue;
            }
            for (int r = 0; r < m; r++) {
                if (valid[r] > jj && jj >= from[r]) {
                    SimdRows.axpy(dtype, p[r * TILE + jj] * vScale, seg, off, acc, r * d, d);
                }
            }
        }
    }

    /** Row {@code r}'s attention output, element order, into {@code out[o .. o+D)}; zeros when it saw no key. */
    void writeOut(int r, float[] out, int o) {
        float inv = sum[r] == 0f ? 0f : 1f / sum[r];
        for (int x = 0; x < d; x++) {
            out[o + order[x]] = acc[r * d + x] * inv;
        }
    }

    /** Row {@code r}'s unnormalised state into partial {@code idx}: pm, pl [idx], pacc [idx][D] element order. */
    void writePartial(int r, float[] pm, float[] pl, float[] pacc, int idx) {
        pm[idx] = max[r];
        pl[idx] = sum[r];
        for (int x = 0; x < d; x++) {
            pacc[idx * d + order[x]] = acc[r * d + x];
        }
    }

    /**
     * Merges the partials of tasks {@code [from, to)} (G rows each, see {@link #writePartial}) into the G output
     * rows at {@code out[o ..]}: each chunk weighted by e^(its max − the overall max).
     */
    static void merge(float[] pm, float[] pl, float[] pacc, int from, int to, int g, int d, float[] out, int o) {
        for (int r = 0; r < g; r++) {
            float mAll = Float.NEGATIVE_INFINITY;
            for (int t = from; t < to; t++) {
                mAll = Math.max(mAll, pm[t * g + r]);
            }
            int oo = o + r * d;
            Arrays.fill(out, oo, oo + d, 0f);
            float total = 0f;
            for (int t = from; t < to; t++) {
                int idx = t * g + r;
                if (pl[idx] == 0f) {
                    continue;
                }
                float w = Lanes.exp(pm[idx] - mAll);
                total += pl[idx] * w;
                for (int c = 0; c < d; c++) {
                    out[oo + c] += pacc[idx * d + c] * w;
                }
            }
            float inv = total == 0f ? 0f : 1f / total;
            for (int c = 0; c < d; c++) {
                out[oo + c] *= inv;
            }
        }
    }
}
