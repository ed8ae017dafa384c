package io.rocketkv.core.kernels.simd;

import io.rocketkv.core.kernels.AttentionShape;
import io.rocketkv.core.kernels.CpuAttention;
import io.rocketkv.core.kernels.CpuKvCache;
import io.rocketkv.core.kernels.StepBatch;
import io.rocketkv.core.numeric.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The Vector API twin of {@link CpuAttention}. A task takes the query rows of one GQA group (decode: the group's
 * G heads; prefill: up to {@value #QUERY_ROWS} consecutive tokens × G heads) and walks its keys in tiles of
 * {@value #TILE}: each K row is read once and dotted with every query row of the task, then each query row's
 * online softmax (running max m, running sum l, accumulator rescaled by e^(m_old − m_new)) folds the tile in, and
 * each V row is read once and accumulated into every row ({@link SimdRows}: fp32 arithmetic, BF16 rows widened in
 * registers). Key tiles start at multiples of {@value #TILE} of the sequence's keys, so a query's result does not
 * depend on how a prefill was chunked, and a decode splits each sequence's keys into chunks of {@value #CHUNK}
 * (tasks over sequence × KV head × chunk, merged after) whatever the batch, so a sequence's result does not depend
 * on the batch either.
 *
 * <p>Public only so that {@link io.rocketkv.core.kernels.CpuKernelMode} can load it by name where the Vector API
 * module is present; the CPU backend reaches it through {@link CpuAttention}.
 */
public final class SimdAttention implements CpuAttention {

    static final int TILE = 64;
    static final int QUERY_ROWS = 16;
    static final int CHUNK = 4 * TILE;

    private static final ThreadLocal<GroupTile> TILES = ThreadLocal.withInitial(GroupTile::new);
    private static final ThreadLocal<MemorySegment[]> OWN = ThreadLocal.withInitial(() -> new MemorySegment[2]);

    /** For {@link io.rocketkv.core.kernels.CpuKernelMode}, which loads this class by name. */
    public SimdAttention() {
    }

    @Override
    public void prefill(float[] q, float[] k, float[] v, CpuKvCache cache, StepBatch b, AttentionShape s, float[] out,
                        Parallel par) {
        long work = CpuAttention.checkPrefill(b, s);
        int h = s.numHeads();
        int hkv = s.numKvHeads();
        int d = s.headDim();
        int g = s.groupSize();
        int p = s.tokensPerBlock();
        DType dt = cache.dtype();
        long rowBytes = (long) d * dt.byteSize();
        // the step's own K/V in the cache's dtype, [T][Hkv][D], so every key is read the same way
        int n = b.numTokens() * hkv * d;
        MemorySegment[] own = ownKv(n * (long) dt.byteSize());
        CpuKvCache.writeRow(dt, cache.kScale(), k, 0, own[0], 0, n);
        CpuKvCache.writeRow(dt, cache.vScale(), v, 0, own[1], 0, n);
        int seqs = b.numSeqs();
        int[] firstTask = new int[seqs + 1];
        for (int i = 0; i < seqs; i++) {
            firstTask[i + 1] = firstTask[i] + hkv * ((b.queryLen(i) + QUERY_ROWS - 1) / QUERY_ROWS);
        }
        par.forEach(firstTask[seqs], work, task -> {
            int seq = seqIndex(firstTask, task);
            int tilesPerHead = (firstTask[seq + 1] - firstTask[seq]) / hkv;
            int kvh = (task - firstTask[seq]) / tilesPerHead;
            int i0 = ((task - firstTask[seq]) % tilesPerHead) * QUERY_ROWS;
            int start = b.queryStart()[seq];
            int len = b.queryLen(seq);
            int past = b.kvLens()[seq] - len;
            int rows = Math.min(QUERY_ROWS, len - i0);
            int m = rows * g;
            int[] table = b.blockTables()[seq];
            GroupTile t = TILES.get();
            t.begin(m, d, dt, s.scale(), cache.kScale(), cache.vScale());
            for (int r = 0; r < m; r++) {
                int pos = past + i0 + r / g;
                t.setQuery(r, q, ((start + i0 + r / g) * h + kvh * g + r % g) * d, s.firstKey(pos), pos);
            }
            int keys = past + i0 + rows; // keys firstKey(past + i0) … past + i0 + rows − 1
            // tiles stay at multiples of TILE (chunking-independent); those wholly before every row's window are skipped,
            // so a freed block (before the window) is never read
            for (int j0 = s.firstKey(past + i0) / TILE * TILE; j0 < keys; j0 += TILE) {
                int nk = Math.min(TILE, keys - j0);
                int skip = Math.max(0, s.firstKey(past + i0) - j0); // before the first row's window: never read
                for (int jj = skip; jj < nk; jj++) {
                    int j = j0 + jj;
                    if (j < past) {
                        MemorySegment blk = cache.block(table[j / p]);
                        t.key(jj, blk, cache.kOffset(kvh, j % p), blk, cache.vOffset(kvh, j % p));
                    } else {
                        long off = ((long) (start + j - past) * hkv + kvh) * rowBytes;
                        t.key(jj, own[0], off, own[1], off);
                    }
                }
                t.fold(j0, nk);
            }
            for (int r = 0; r < m; r++) {
                t.writeOut(r, out, ((start + i0 + r / g) * h + kvh * g + r % g) * d);
            }
        });
    }

    /** The caller thread's scratch for the step's own K and V, at least {@code bytes} each. */
    private static MemorySegment[] ownKv(long bytes) {
        MemorySegment[] own = OWN.get();
        if (own[0] == null || own[0].byteSize() < bytes) {
            long size = Math.max(bytes, own[0] == null ? 0 : 2 * own[0].byteSize());
            own[0] = Arena.ofAuto().allocate(size, 64); // freed by the GC once a larger one replaces it
            own[1] = Arena.ofAuto().allocate(size, 64);
        }
        return own;
    }

    private static int seqIndex(int[] firstTask, int task) {
        int lo = 0;
        int hi = firstTask.length - 2;
        while (lo < hi) { // the last sequence whose first task is <= task
            int mid = (lo + hi + 1) >>> 1;
            if (firstTask[mid] <= task) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        return lo;
    }

    @Override
    public void decode(float[] q, CpuKvCache cache, StepBatch b, AttentionShape s, float[] out, Parallel par) {
        long work = CpuAttention.checkDecode(b, s);
        int seqs = b.numSeqs();
        int[][] slots = new int[seqs][];
        for (int i = 0; i < seqs; i++) {
            slots[i] = CpuAttention.decodeSlots(b, i, s);
        }
        attend(q, cache, slots, null, s, out, par, work);
    }

    @Override
    public void listed(float[] q, CpuKvCache cache, int[][][] slots, AttentionShape s, float[] out, Parallel par) {
        attend(q, cache, null, slots, s, out, par, CpuAttention.listedWork(slots, s));
    }

    /**
     * Each sequence's GQA groups over their keys: the physical slots {@code shared[seq]} for every KV head, or
     * {@code perHead[seq][kvh]} (null row: zeros). Keys are split into chunks of {@value #CHUNK}; a group with
     * several chunks gets each chunk's (m, l, acc) merged.
     */
    private static void attend(float[] q, CpuKvCache cache, int[][] shared, int[][][] perHead, AttentionShape s,
                               float[] out, Parallel par, long work) {
        int h = s.numHeads();
        int hkv = s.numKvHeads();
        int d = s.headDim();
        int g = s.groupSize();
        int p = s.tokensPerBlock();
        int seqs = shared != null ? shared.length : perHead.length;
        int groups = seqs * hkv;
        int[] firstTask = new int[groups + 1];
        for (int gr = 0; gr < groups; gr++) {
            int n = keysOf(shared, perHead, gr / hkv, gr % hkv).length;
            firstTask[gr + 1] = firstTask[gr] + Math.max(1, (n + CHUNK - 1) / CHUNK);
        }
        int tasks = firstTask[groups];
        boolean split = tasks > groups;
        float[] pm = split ? new float[tasks * g] : null;        // [task][G] running max of the chunk
        float[] pl = split ? new float[tasks * g] : null;        // [task][G] running sum
        float[] pacc = split ? new float[tasks * g * d] : null;  // [task][G][D] accumulator, element order
        par.forEach(tasks, work, task -> {
            int gr = seqIndex(firstTask, task);
            int seq = gr / hkv;
            int kvh = gr % hkv;
            int[] keys = keysOf(shared, perHead, seq, kvh);
            int chunk = task - firstTask[gr];
            int from = chunk * CHUNK;
            int to = Math.min(keys.length, from + CHUNK);
            int q0 = (seq * h + kvh * g) * d;
            GroupTile t = TILES.get();
            t.begin(g, d, cache.dtype(), s.scale(), cache.kScale(), cache.vScale());
            for (int r = 0; r < g; r++) {
                t.setQuery(r, q, q0 + r * d, Integer.MAX_VALUE);
            }
            for (int j0 = from; j0 < to; j0 += TILE) {
                int nk = Math.min(TILE, to - j0);
                for (int jj = 0; jj < nk; jj++) {
                    int slot = keys[j0 + jj];
                    MemorySegment blk = cache.block(slot / p);
                    t.key(jj, blk, cache.kOffset(kvh, slot % p), blk, cache.vOffset(kvh, slot % p));
                }
                t.fold(j0, nk);
            }
            for (int r = 0; r < g; r++) {
                if (split) {
                    t.writePartial(r, pm, pl, pacc, task * g + r);
                } else {
                    t.writeOut(r, out, q0 + r * d);
                }
            }
        });
        for (int gr = 0; split && gr < groups; gr++) {
            int q0 = ((gr / hkv) * h + (gr % hkv) * g) * d;
            GroupTile.merge(pm, pl, pacc, firstTask[gr], firstTask[gr + 1], g, d, out, q0);
        }
    }

    private static final int[] NONE = new int[0];

    private static int[] keysOf(int[][] shared, int[][][] perHead, int seq, int kvh) {
        if (shared != null) {
            return shared[seq];
        }
        return perHead[seq] == null ? NONE : perHead[seq][kvh];
    }
}
