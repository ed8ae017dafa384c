package io.rocketkv.cuda;

import io.rocketkv.core.kernels.AttentionShape;
import io.rocketkv.core.kernels.StepBatch;
import io.rocketkv.core.sparse.RocketKvParams;

/**
 * RocketKV stage 1 on the GPU ({@code rocket_stage1.cu}; CPU twin {@code CpuRocketKv.stage1}): for each
 * sequence whose prefill the step ends (a whole prompt, or the last chunk of a chunked prefill) longer than
 * {@code prompt_budget}, the window-query scores, max-pool, top-(B − W) per KV head and the compaction of the kept
 * K/V into slots {@code 0 … B−1} of the sequence's kept table ({@code StepBatch.keptTable}: its own table, or with
 * block reuse blocks of its own, so that shared prompt blocks are only read). Runs sequence after sequence on the backend's stream with one scratch buffer;
 * stage 1 is not graph-captured, but it reads nothing back either.
 *
 * <p>Inputs: the prefix keys come from the cache, gathered to f32 by {@code rocket_prompt_keys_gather}
 * ({@code rocket_stage1_inputs.cu}) into {@link #keys}: the bf16-rounded keys attention reads, the same for a whole
 * and a chunked prefill (the keys of earlier chunks exist nowhere else). The window queries are the step's q rows
 * when the window lies in the step (a whole prompt, a suffix after cached blocks) and the caller's stash [W][Hq·D]
 * when it spans chunks; {@code rocket_stage1_pass} reads query row
 * {@code start + L − W + i} and key row {@code start + j} from one {@code start}, so it gets {@code start = 0}, the
 * gathered keys, and a q pointer placed {@code L − W} rows before the first window row (the kernel reads only rows
 * {@code L − W …}, which lie inside the stash or the step's q).
 *
 * <p>The logit passes ({@code rocket_stage1_pass*}, v2): pass 0 computes the scaled logits of the R = G·W window
 * rows × n prefix keys of each KV head and, when they fit {@link #MAX_STORED_LOGIT_BYTES}, stores them in scratch
 * ([Hkv][R][tiles·128] fp32, 4·Hkv·R·n bytes: 134 MB at a 32k prompt with Hkv 8, R 128); passes 1 and 2 then read
 * them instead of computing them again. Past the cap every pass recomputes them (v1's way), same bits either way.
 */
final class CudaRocketStage1 implements AutoCloseable {

    static final int TILE = 128;       // keys per block of rocket_stage1_pass* (S1_TK)
    static final int PASS_THREADS = 256;   // S1_THREADS
    static final int STAGE_CHANNELS = 16;  // S1_BK
    static final int MAX_HEAD_DIM = 256;
    /** Largest logit store (bytes) passes 1 and 2 read instead of recomputing: 1 GiB, a 256k prompt at Hkv 8, R 128. */
    static final long MAX_STORED_LOGIT_BYTES = 1L << 30;
    /** Largest dynamic shared memory of rocket_stage1_select (it copies a head's n pooled scores there when they fit). */
    static final int MAX_SELECT_SMEM = 192 * 1024;

    private final CudaStream stream;
    private final CudaScratch scratchPool;
    private final CudaModule module;
    private final CudaFunction pass128;   // rocket_stage1_pass: 128 rows per chunk (R > 64)
    private final CudaFunction pass64;    // rocket_stage1_pass_r64 (32 < R <= 64)
    private final CudaFunction pass32;    // rocket_stage1_pass_r32 (R <= 32)
    private final CudaFunction reduce;
    private final CudaFunction pool;
    private final CudaFunction select;
    private final CudaFunction gather;
    private final CudaFunction scatter;
    private final CudaFunction gatherFp8;
    private final CudaFunction scatterFp8;
    private final int[] passSmemAllowed = {48 * 1024, 48 * 1024, 48 * 1024};   // pass128, pass64, pass32
    private int selectSmemAllowed = 48 * 1024;
    private final CudaModule inputsModule;
    private final CudaFunction keysGather;
    private final CudaFunction keysGatherFp8;
    private DeviceBuffer scratch;
    private DeviceBuffer keys;          // f32 [n][Hkv][D]: the prefix keys of the sequence being scored
    private Layout last;                // layout of the last sequence processed (for lastKeptRegion)

    /** Byte offsets of one sequence's scratch regions (each 256-aligned). */
    private record Layout(int numKvHeads, int budget, long rowMax, long rowInv, long tileMax, long tileSum,
                          long score, long pooled, long kept, long kvTmp, long logits, long total) {

        /** The logits' bytes ([Hkv][rows][tiles * TILE] fp32), 0 when they would pass the cap (recomputed). */
        static long logitBytes(int hkv, int rows, int tiles) {
            long b = 4L * hkv * rows * tiles * TILE;
            return b <= MAX_STORED_LOGIT_BYTES ? b : 0;
        }

        static Layout of(int hkv, int rows, int tiles, int n, int budget, int d) {
            long o = 0;
            long rowMax = o;
            o = align(o + 4L * hkv * rows);
            long rowInv = o;
            o = align(o + 4L * hkv * rows);
            long tileMax = o;
            o = align(o + 4L * hkv * rows * tiles);
            long tileSum = o;
            o = align(o + 8L * hkv * rows * tiles);
            long score = o;
            o = align(o + 4L * hkv * n);
            long pooled = o;
            o = align(o + 4L * hkv * n);
            long kept = o;
            o = align(o + 4L * hkv * budget);
            long kvTmp = o;
            o = align(o + 2L * hkv * budget * 2 * d);
            long logitBytes = logitBytes(hkv, rows, tiles);
            long logits = logitBytes > 0 ? o : -1;
            o = align(o + logitBytes);
            return new Layout(hkv, budget, rowMax, rowInv, tileMax, tileSum, score, pooled, kept, kvTmp, logits, o);
        }

        private static long align(long b) {
            return (b + 255) & ~255L;
        }
    }

    CudaRocketStage1(CudaContext context, CudaStream stream, CudaScratch scratchPool) {
        this.stream = stream;
        this.scratchPool = scratchPool;
        this.module = KernelImages.load(context, "rocket_stage1");
        CudaModule inputs = null;
        try {
            inputs = KernelImages.load(context, "rocket_stage1_inputs");
            this.keysGather = inputs.function("rocket_prompt_keys_gather");
            this.keysGatherFp8 = inputs.function("rocket_prompt_keys_gather_e4m3");
            this.pass128 = module.function("rocket_stage1_pass");
            this.pass64 = module.function("rocket_stage1_pass_r64");
            this.pass32 = module.function("rocket_stage1_pass_r32");
            this.reduce = module.function("rocket_stage1_reduce");
            this.pool = module.function("rocket_stage1_pool");
            this.select = module.function("rocket_stage1_select");
            this.gather = module.function("rocket_stage1_gather");
            this.scatter = module.function("rocket_stage1_scatter");
            this.gatherFp8 = module.function("rocket_stage1_gather_e4m3");
            this.scatterFp8 = module.function("rocket_stage1_scatter_e4m3");
        } catch (RuntimeException e) {
            if (inputs != null) {
                inputs.close();
            }
            module.close();
            throw e;
        }
        this.inputsModule = inputs;
    }

    /** Dynamic shared memory of rocket_stage1_select: the n pooled scores when they fit, else none (read from L2). */
    static int selectSharedBytes(int n) {
        return 4L * n <= MAX_SELECT_SMEM ? 4 * n : 0;
    }

    /** Rows per chunk of the pass kernel for R rows per KV head: 128, 64 or 32 (the kernel variant). */
    static int chunkRows(int rows) {
        return rows > 64 ? 128 : rows > 32 ? 64 : 32;
    }

    /** Dynamic shared memory of a pass that only loads stored logits: the tile [bm][TILE + 1] (S1_SMEM_TILE). */
    static int passTileBytes(int bm) {
        return bm * (TILE + 1) * Float.BYTES;
    }

    /** Dynamic shared memory of a pass that computes the logits (S1_SMEM_COMPUTE): the tile, staged queries, keys. */
    static int passComputeBytes(int bm) {
        return passTileBytes(bm) + 2 * STAGE_CHANNELS * (bm + 4) * Float.BYTES
                + 2 * STAGE_CHANNELS * (TILE + 4) * Float.BYTES;
    }

    /**
     * Stage 1 of every sequence whose prefill the step ends, longer than the budget: window queries from {@code q}
     * ([T][Hq·D], a whole prompt) or {@code stash} ([W][Hq·D], the last chunk of a chunked prefill; may be null when
     * there is none), keys from the cache. The caller has checked the tensors' dtypes and shapes; this checks what is
     * particular to stage 1.
     */
    void run(DeviceBuffer q, DeviceBuffer stash, CudaStepPlan dp, AttentionShape shape, RocketKvParams p,
             DeviceBuffer cache, int numBlocks, boolean fp8, float kScale) {
        StepBatch batch = dp.batch();
        int hkv = shape.numKvHeads();
        int d = shape.headDim();
        int w = p.windowSize();
        int budget = p.promptBudget();
        int g = shape.groupSize();
        if (d > MAX_HEAD_DIM) {
            throw new IllegalArgumentException("CUDA RocketKV stage 1 supports head dims up to " + MAX_HEAD_DIM
                    + ", got " + d);
        }
        long need = 0;
        long keyBytes = 0;
        for (int s = 0; s < batch.numSeqs(); s++) {
            int len = batch.kvLens()[s];
            if (len <= budget || !batch.endsPrefill(s)) {
                continue;
            }
            if (batch.needsWindowStash(s, budget, w) && stash == null) {
                throw new IllegalArgumentException("sequence " + s + " ends a chunked prefill: RocketKV stage 1 needs"
                        + " the window stash its chunks filled (rocketStashWindow)");
            }
            int n = len - w;
            need = Math.max(need, Layout.of(hkv, g * w, ceilDiv(n, TILE), n, budget, d).total());
            keyBytes = Math.max(keyBytes, (long) n * hkv * d * Float.BYTES);
        }
        if (need == 0) {
            return;
        }
        CudaChecks.checkTables(batch, shape.tokensPerBlock(), numBlocks);
        int bm = chunkRows(g * w);
        int variant = bm == 128 ? 0 : bm == 64 ? 1 : 2;
        CudaFunction pass = variant == 0 ? pass128 : variant == 1 ? pass64 : pass32;
        int smem = passComputeBytes(bm);
        if (smem > passSmemAllowed[variant]) {
            pass.setMaxDynamicSharedMemory(smem);
            passSmemAllowed[variant] = smem;
        }
        scratch = scratchPool.grow(scratch, need);
        keys = scratchPool.grow(keys, keyBytes);
        int h = shape.numHeads();
        float scale = CudaRocketKv.selectionScale(d);
        for (int s = 0; s < batch.numSeqs(); s++) {
            int len = batch.kvLens()[s];
            if (len <= budget || !batch.endsPrefill(s)) {
                continue;
            }
            int n = len - w;
            int rows = g * w;
            int tiles = ceilDiv(n, TILE);
            Layout l = Layout.of(hkv, rows, tiles, n, budget, d);
            DeviceBuffer rowMax = region(l.rowMax());
            DeviceBuffer rowInv = region(l.rowInv());
            DeviceBuffer tileMax = region(l.tileMax());
            DeviceBuffer tileSum = region(l.tileSum());
            DeviceBuffer score = region(l.score());
            DeviceBuffer pooled = region(l.pooled());
            DeviceBuffer kept = region(l.kept());
            DeviceBuffer kvTmp = region(l.kvTmp());
            Object logits = l.logits() >= 0 ? region(l.logits()) : (Object) 0L;   // 0L: recompute in every pass
            DeviceBuffer table = dp.tables().slice((long) s * dp.maxBlocks() * Integer.BYTES,
                    (long) dp.maxBlocks() * Integer.BYTES);
            DeviceBuffer into = dp.keptTables().slice((long) s * dp.maxBlocks() * Integer.BYTES,
                    (long) dp.maxBlocks() * Integer.BYTES); // the table itself unless copy-on-evict (block reuse)
            // query row L − W + i of what the pass reads is window row i: of the stash, or of the step's q, whose
            // first row is position pastLen (after earlier chunks or cached blocks)
            long rowBytes = (long) h * d * Float.BYTES;
            long qRows = batch.needsWindowStash(s, budget, w) ? stash.address() - (long) n * rowBytes
                    : q.address() + ((long) batch.queryStart()[s] - batch.pastLen(s)) * rowBytes;
            if (fp8) {
                keysGatherFp8.launch(Dim3.of(n, hkv), Dim3.of(64), 0, stream, cache, table, keys, n, hkv, d,
                        shape.tokensPerBlock(), kScale);
            } else {
                keysGather.launch(Dim3.of(n, hkv), Dim3.of(64), 0, stream, cache, table, keys, n, hkv, d,
                        shape.tokensPerBlock());
            }
            Dim3 passGrid = Dim3.of(tiles, hkv);
            Dim3 reduceGrid = Dim3.of(ceilDiv((long) hkv * rows, 128));
            for (int pi = 0; pi < 3; pi++) {
                int passSmem = pi > 0 && l.logits() >= 0 ? passTileBytes(bm) : smem;
                pass.launch(passGrid, Dim3.of(PASS_THREADS), passSmem, stream, qRows, keys, rowMax, rowInv, tileMax,
                        tileSum, score, logits, 0, len, w, h, hkv, d, scale, pi);
                if (pi < 2) {
                    reduce.launch(reduceGrid, Dim3.of(128), 0, stream, tileMax, tileSum, rowMax, rowInv, hkv * rows,
                            tiles, pi);
                }
            }
            pool.launch(Dim3.of(ceilDiv(n, 256), hkv), Dim3.of(256), 0, stream, score, pooled, n, p.kernelSize() / 2);
            int selectSmem = selectSharedBytes(n);
            if (selectSmem > selectSmemAllowed) {
                select.setMaxDynamicSharedMemory(selectSmem);
                selectSmemAllowed = selectSmem;
            }
            select.launch(Dim3.of(hkv), Dim3.of(1024), selectSmem, stream, pooled, kept, n, budget, w);
            (fp8 ? gatherFp8 : gather).launch(Dim3.of(budget, hkv), Dim3.of(64), 0, stream, cache, kept, table,
                    kvTmp, budget, hkv, d, shape.tokensPerBlock());
            (fp8 ? scatterFp8 : scatter).launch(Dim3.of(budget, hkv), Dim3.of(64), 0, stream, cache, into, kvTmp,
                    budget, hkv, d, shape.tokensPerBlock());
            last = l;
        }
    }

    /** The kept token indices [Hkv][budget] (i32) of the last sequence {@link #run} processed, in scratch. */
    record KeptRegion(DeviceBuffer indices, int numKvHeads, int budget) {
    }

    /** Where the last sequence's kept indices lie (valid until the next stage 1), for test probes; null before any. */
    KeptRegion lastKeptRegion() {
        return last == null ? null : new KeptRegion(scratch.slice(last.kept(), 4L * last.numKvHeads() * last.budget()),
                last.numKvHeads(), last.budget());
    }

    private DeviceBuffer region(long offset) {
        return scratch.slice(offset, scratch.byteSize() - offset);
    }

    private static int ceilDiv(long a, long b) {
        return (int) ((a + b - 1) / b);
    }

    @Override
    public void close() {
        if (scratch != null) {
            scratch.close();
            scratch = null;
        }
        if (keys != null) {
            keys.close();
            keys = null;
        }
        inputsModule.close();
        module.close();
    }
}
