package io.rocketkv.cuda;

import static io.rocketkv.cuda.CudaChecks.ceilDiv;
import static io.rocketkv.cuda.CudaChecks.checkCache;
import static io.rocketkv.cuda.CudaChecks.checkTables;
import static io.rocketkv.cuda.CudaChecks.contains;
import static io.rocketkv.cuda.CudaChecks.requireFloats;

import io.rocketkv.core.kernels.AttentionShape;
import io.rocketkv.core.kernels.StepBatch;
import io.rocketkv.core.kernels.Tensor;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.sparse.RocketKvParams;
import io.rocketkv.core.sparse.RocketKvPlan;
import java.util.HashMap;
import java.util.Map;

/**
 * RocketKV's four ops on the GPU, for {@link CudaKernels} (which delegates to this class): stage 1
 * ({@link CudaRocketStage1}, {@code rocket_stage1.cu}), the KT build and update ({@code rocket_kt.cu}) and
 * stage 2 + sparse attention ({@code rocket_decode.cu}). CPU twins: {@code CpuRocketKv}.
 *
 * <p>The KT cache is stored in the KT dtype itself ({@link DType#F8_E5M2} bytes or {@link DType#BF16}), layout
 * {@code [numKtPages][min|max][Hkv][D]} as on the CPU. {@link #ktUpdate} and {@link #sparseDecode} are
 * graph-capturable: no host synchronisation, no device reads, scratch only through
 * {@link CudaScratch#grow}, and launch sizes and arguments derived from the number of sequences, the
 * shapes, the RocketKV parameters, the pool sizes and the padded block-table width only — per-step lengths are
 * read on the device.
 */
final class CudaRocketKv implements AutoCloseable {

    private static final int[] ATTN_DIMS = {16, 32, 64, 128, 256};
    private static final int LOGIT_THREADS = 256;   // RKV_LOGIT_THREADS in rocket_decode.cu
    /** Dynamic shared memory the selection's last block may use for the logits and scores of its pages. */
    private static final int TAIL_SMEM_BYTES = 16 * 1024; // with the kernels' static shared memory, under 48 KiB
    private static final int MIN_SPLIT_TOKENS = 32;

    private final CudaContext context;
    private final CudaStream stream;
    private final CudaScratch scratch;
    private final CudaModule ktModule;
    private final CudaModule decodeModule;
    private final CudaRocketStage1 stage1;
    private final Map<String, CudaFunction> functions = new HashMap<>();
    private final SplitKvLaunch launch;

    // scratch, grown through the owner (sizes fixed per batch bucket)
    private DeviceBuffer selectScratch;  // selPages [S][Hkv][topk] i32, selCount [S][Hkv] i32, pageWork f32
    private DeviceBuffer attnWorkspace;  // split partials when numSplits > 1
    private DeviceBuffer counters;       // i32 "blocks done" per (sequence, KV head [, head chunk]); zero between launches

    CudaRocketKv(CudaContext context, CudaStream stream, CudaScratch scratch) {
        this.context = context;
        this.stream = stream;
        this.scratch = scratch;
        this.launch = new SplitKvLaunch(context);
        CudaModule kt = null;
        CudaModule dec = null;
        try {
            kt = KernelImages.load(context, "rocket_kt");
            dec = KernelImages.load(context, "rocket_decode");
            this.stage1 = new CudaRocketStage1(context, stream, scratch);
        } catch (RuntimeException e) {
            if (dec != null) {
                dec.close();
            }
            if (kt != null) {
                kt.close();
            }
            throw e;
        }
        this.ktModule = kt;
        this.decodeModule = dec;
    }

    // ---- the four ops -------------------------------------------------------------------------------

    /**
     * Stage 1 of every sequence whose prefill the step ends ({@link CudaRocketStage1#run}): window queries from q or,
     * for the last chunk of a chunked prefill, from {@code stash} [W, Hq·D] (null when the step has no chunk), keys
     * from the cache.
     */
    void stage1(CudaTensor q, CudaTensor stash, CudaStepPlan dp, AttentionShape shape, RocketKvParams p,
                CudaTensor cache, float kScale) {
        StepBatch batch = dp.batch();
        if (!batch.prefill()) {
            throw new IllegalArgumentException("RocketKV stage 1 runs after a prefill step");
        }
        if (!p.stage1Policy().isRocket()) {
            throw new UnsupportedOperationException("stage-1 policy " + p.stage1Policy().label()
                    + " is an evaluation-only baseline that the CUDA backend does not implement; run it on the CPU"
                    + " backend (Backend.CPU), or use Stage1Policy.ROCKET");
        }
        int numBlocks = checkCache(cache, shape);
        int t = batch.numTokens();
        requireFloats(q, (long) t * shape.numHeads() * shape.headDim(), "rocketStage1 q");
        if (stash != null) {
            requireFloats(stash, (long) p.windowSize() * shape.numHeads() * shape.headDim(), "rocketStage1 window stash");
        }
        stage1.run(q.buffer(), stash == null ? null : stash.buffer(), dp, shape, p, cache.buffer(), numBlocks,
                cache.dtype() == DType.F8_E4M3, kScale);
    }

    /**
     * Copies the window rows (positions {@code >= L − W}) of the step's chunk of a chunked prefill longer than the
     * budget whose window spans steps ({@code StepBatch.needsWindowStash}) from q [T, Hq·D] into {@code stash}
     * [W, Hq·D], row {@code position − (L − W)}: one device-to-device copy
     * on the stream (the rows are contiguous in both). CPU twin: {@code CpuRocketKv.stashWindow}. At most one such
     * chunk per step.
     */
    void stashWindow(CudaTensor q, CudaStepPlan dp, AttentionShape shape, RocketKvParams p, CudaTensor stash) {
        StepBatch batch = dp.batch();
        int seq = -1;
        for (int s = 0; batch.prefill() && s < batch.numSeqs(); s++) {
            if (batch.needsWindowStash(s, p.promptBudget(), p.windowSize())) {
                if (seq >= 0) {
                    throw new IllegalArgumentException("sequences " + seq + " and " + s + " of the step are both"
                            + " chunks of a RocketKV prefill; the window stash holds one (schedule one chunked"
                            + " prefill at a time)");
                }
                seq = s;
            }
        }
        if (seq < 0) {
            return;
        }
        long row = (long) shape.numHeads() * shape.headDim();
        requireFloats(q, batch.numTokens() * row, "rocketStashWindow q");
        requireFloats(stash, p.windowSize() * row, "rocketStashWindow window stash");
        int len = batch.queryLen(seq);
        int past = batch.kvLens()[seq] - len;
        int winStart = batch.prefillLens()[seq] - p.windowSize();
        int first = Math.max(0, winStart - past);
        if (first >= len) {
            return; // the chunk ends before the window
        }
        long bytes = (len - first) * row * Float.BYTES;
        DeviceBuffer src = q.buffer().slice((batch.queryStart()[seq] + first) * row * Float.BYTES, bytes);
        stash.buffer().slice((past + first - winStart) * row * Float.BYTES, bytes).copyFromAsync(src, stream);
    }

    void ktBuild(CudaTensor cache, CudaStepPlan dp, AttentionShape shape, RocketKvPlan plan, CudaTensor kt,
                 float kScale) {
        StepBatch batch = dp.batch();
        int numBlocks = checkCache(cache, shape);
        RocketKvParams p = plan.params();
        checkKt(kt, shape, p, numBlocks);
        int maxPages = 0;
        for (int s = 0; s < batch.numSeqs(); s++) {
            maxPages = Math.max(maxPages, p.numPages(p.keptTokens(batch.kvLens()[s])));
        }
        if (maxPages == 0) {
            return;
        }
        checkTables(batch, shape.tokensPerBlock(), numBlocks);
        if (cache.dtype() == DType.F8_E4M3) {
            function("kt_build_" + suffix(p) + "_e4m3").launch(Dim3.of(maxPages, batch.numSeqs()), Dim3.of(128), 0,
                    stream, cache.buffer(), dp.kvLens(), dp.keptTables(), kt.buffer(), shape.numKvHeads(),
                    shape.headDim(), shape.tokensPerBlock(), dp.maxBlocks(), p.pageSize(), p.promptBudget(), kScale);
            return;
        }
        function("kt_build_" + suffix(p)).launch(Dim3.of(maxPages, batch.numSeqs()), Dim3.of(128), 0, stream,
                cache.buffer(), dp.kvLens(), dp.keptTables(), kt.buffer(), shape.numKvHeads(), shape.headDim(),
                shape.tokensPerBlock(), dp.maxBlocks(), p.pageSize(), p.promptBudget());
    }

    void ktUpdate(CudaTensor k, CudaStepPlan dp, AttentionShape shape, RocketKvPlan plan, CudaTensor kt) {
        StepBatch batch = dp.batch();
        RocketKvParams p = plan.params();
        int t = batch.numTokens();
        requireFloats(k, (long) t * shape.numKvHeads() * shape.headDim(), "ktUpdate k");
        int tpb = shape.tokensPerBlock();
        if (kt.shape().length != 4) {
            throw new IllegalArgumentException("the KT cache must be [pages, 2, Hkv, D], got " + Tensor.describe(kt));
        }
        int numBlocks = kt.dim(0) / (tpb / p.pageSize()); // RocketKvParams.validateAgainst: page_size divides tpb
        checkKt(kt, shape, p, numBlocks);
        CudaChecks.checkSlots(batch, numBlocks, tpb, "KT cache");
        if (t == 0) {
            return;
        }
        function("kt_update_" + suffix(p)).launch(Dim3.of(t, ceilDiv((long) shape.numKvHeads() * shape.headDim(), 128)),
                Dim3.of(128), 0, stream, k.buffer(), dp.slots(),
                kt.buffer(), shape.numKvHeads(), shape.headDim(), shape.tokensPerBlock(), p.pageSize());
    }

    /**
     * Stage 2 and sparse attention of a decode step in two launches: the selection (with the KT update of the
     * step's keys {@code k} folded in when k is not null, see {@link CudaKernels#rocketDecodeAttention}) and the
     * split-KV attention over the selected pages, whose last split merges the others.
     */
    void sparseDecode(CudaTensor q, CudaTensor k, CudaTensor cache, CudaTensor kt, CudaStepPlan dp,
                      AttentionShape shape, RocketKvPlan plan, CudaTensor out, float[] kvScales) {
        sparseDecode(q, k, cache, kt, dp, shape, plan, out, kvScales, true, true);
    }

    /**
     * {@link #sparseDecode} with either launch left out (test probes time them apart): without the selection launch the
     * attention reads the pages the previous selection of the same shapes left in scratch; without the attention
     * launch {@code out} is not written.
     */
    void sparseDecode(CudaTensor q, CudaTensor k, CudaTensor cache, CudaTensor kt, CudaStepPlan dp,
                      AttentionShape shape, RocketKvPlan plan, CudaTensor out, float[] kvScales,
                      boolean launchSelection, boolean launchAttention) {
        StepBatch batch = dp.batch();
        Selection sel = select(q, k, cache, kt, dp, shape, plan, launchSelection);
        if (!launchAttention) {
            return;
        }
        int seqs = batch.numSeqs();
        int h = shape.numHeads();
        int hkv = shape.numKvHeads();
        int d = shape.headDim();
        RocketKvParams p = plan.params();
        requireFloats(out, (long) seqs * h * d, "sparseDecodeAttention out");
        int g = shape.groupSize();
        int gt = SplitKvLaunch.groupTile(g);
        int chunks = ceilDiv(g, gt);
        boolean fp8 = cache.dtype() == DType.F8_E4M3;
        CudaFunction attn = function("rocket_sparse_attn_" + (fp8 ? "e4m3_" : "") + "d" + d + "_g" + gt);
        int res = launch.residentBlocks(attn);
        long base = (long) seqs * hkv * chunks;
        int minPagesPerSplit = Math.max(1, ceilDiv(MIN_SPLIT_TOKENS, p.pageSize()));
        int maxSplits = Math.max(1, ceilDiv(p.topk(), minPagesPerSplit));
        int numSplits = (int) Math.max(1, Math.min(2L * res / base, maxSplits));
        int pagesPerSplit = ceilDiv(p.topk(), numSplits);
        numSplits = ceilDiv(p.topk(), pagesPerSplit);
        DeviceBuffer ws = out.buffer();
        if (numSplits > 1) {
            ws = attnWorkspace = scratch.grow(attnWorkspace, (long) seqs * h * numSplits * (d + 2) * Float.BYTES);
        }
        Dim3 grid = new Dim3(seqs, hkv * chunks, numSplits);
        if (fp8) {
            attn.launch(grid, Dim3.of(SplitKvLaunch.THREADS), 0, stream, q.buffer(), cache.buffer(), dp.kvLens(),
                    dp.tables(), sel.pages(), sel.phys(), sel.counts(), out.buffer(), ws, sel.attnCounters(), h, hkv,
                    shape.tokensPerBlock(), dp.maxBlocks(), p.pageSize(), p.topk(), pagesPerSplit, shape.scale(),
                    kvScales[0], kvScales[1]);
            return;
        }
        attn.launch(grid, Dim3.of(SplitKvLaunch.THREADS), 0, stream, q.buffer(),
                cache.buffer(), dp.kvLens(), dp.tables(), sel.pages(), sel.phys(), sel.counts(), out.buffer(), ws,
                sel.attnCounters(), h, hkv, shape.tokensPerBlock(), dp.maxBlocks(), p.pageSize(), p.topk(),
                pagesPerSplit, shape.scale());
    }

    /** Stage 1's scratch region of the last sequence it compacted (for test probes). */
    CudaRocketStage1.KeptRegion lastStage1Kept() {
        return stage1.lastKeptRegion();
    }

    // ---- stage 2 selection ------------------------------------------------------------------------------

    /**
     * Where stage 2's selection lies in scratch: the selected logical pages [S][Hkv][topk] (ascending) and their
     * physical pages, the counts [S][Hkv], and the attention launch's counters.
     */
    record Selection(DeviceBuffer pages, DeviceBuffer phys, DeviceBuffer counts, DeviceBuffer attnCounters) {
    }

    /** Stage 2's page selection (with the KT update of {@code k} folded in when not null), launched when {@code launch}. */
    Selection select(CudaTensor q, CudaTensor k, CudaTensor cache, CudaTensor kt, CudaStepPlan dp,
                     AttentionShape shape, RocketKvPlan plan, boolean launch) {
        StepBatch batch = dp.batch();
        if (batch.prefill() || batch.numTokens() != batch.numSeqs()) {
            throw new IllegalArgumentException("RocketKV sparse decode takes a decode step (one query per sequence), got "
                    + batch.numTokens() + " tokens for " + batch.numSeqs() + " sequences");
        }
        int numBlocks = checkCache(cache, shape);
        RocketKvParams p = plan.params();
        checkKt(kt, shape, p, numBlocks);
        int seqs = batch.numSeqs();
        int h = shape.numHeads();
        int hkv = shape.numKvHeads();
        int d = shape.headDim();
        int g = shape.groupSize();
        if (!contains(ATTN_DIMS, d)) {
            throw new IllegalArgumentException("CUDA RocketKV sparse decode supports head dims 16, 32, 64, 128 and 256, got "
                    + d);
        }
        if (g > 16) {
            throw new IllegalArgumentException("CUDA RocketKV page selection supports GQA groups up to 16 query heads per "
                    + "KV head, got " + g);
        }
        if (seqs > 65535 || hkv > 65535) {
            throw new IllegalArgumentException("at most 65535 sequences per launch, got " + seqs);
        }
        requireFloats(q, (long) seqs * h * d, "sparseDecodeAttention q");
        if (k != null) {
            requireFloats(k, (long) seqs * hkv * d, "rocketDecodeAttention k");
            CudaChecks.checkSlots(batch, numBlocks, shape.tokensPerBlock(), "KT cache");
        }
        checkTables(batch, shape.tokensPerBlock(), numBlocks);
        int maxPages = dp.maxBlocks() * (shape.tokensPerBlock() / p.pageSize());
        // one launch: KT update, every page's logits spread over many blocks (head dims up to 128 with fewer than 4
        // query heads per KV head: one thread per (page, head); otherwise one thread per page for all heads), then
        // softmax, group mean and top-k in the last block of each (sequence, KV head); rocket_decode.cu's
        // select_fused makes the same choice
        boolean perHead = d <= 128 && g < 4;
        long logitThreads = perHead ? (long) maxPages * g : maxPages;
        // blocks per (sequence, KV head): enough for about two blocks per SM in all, each looping over its share of
        // the (page, head) items; never more than the items need
        long pairs = (long) seqs * hkv;
        long itemBlocks = ceilDiv(logitThreads, LOGIT_THREADS);
        long logitBlocks = Math.max(1, Math.min(itemBlocks,
                ceilDiv(2L * context.device().multiprocessorCount(), pairs)));
        long pagesBytes = align((long) seqs * hkv * p.topk() * Integer.BYTES);
        long countBytes = align((long) seqs * hkv * Integer.BYTES);
        long workBytes = (long) seqs * hkv * (g + 1) * maxPages * Float.BYTES;
        selectScratch = scratch.grow(selectScratch, 2 * pagesBytes + countBytes + workBytes);
        DeviceBuffer pages = selectScratch.slice(0, pagesBytes);
        DeviceBuffer phys = selectScratch.slice(pagesBytes, pagesBytes);
        DeviceBuffer counts = selectScratch.slice(2 * pagesBytes, countBytes);
        DeviceBuffer work = selectScratch.slice(2 * pagesBytes + countBytes, workBytes);
        long selectCounterBytes = align((long) seqs * hkv * Integer.BYTES);
        long attnCounterBytes = align((long) seqs * hkv * g * Integer.BYTES); // head chunks <= g
        DeviceBuffer before = counters;
        counters = scratch.grow(counters, selectCounterBytes + attnCounterBytes);
        if (counters != before) {
            counters.memset((byte) 0); // the kernels leave them at zero from here on
        }
        int smemPages = Math.min(maxPages, TAIL_SMEM_BYTES / Float.BYTES / (g + 1));
        if (!launch) {
            return new Selection(pages, phys, counts, counters.slice(selectCounterBytes, attnCounterBytes));
        }
        function("rocket_select_" + suffix(p) + "_d" + d).launch(new Dim3(seqs * hkv, (int) logitBlocks, 1),
                Dim3.of(LOGIT_THREADS), (g + 1) * smemPages * Float.BYTES, stream, q.buffer(),
                k == null ? java.lang.foreign.MemorySegment.NULL : k.buffer(), dp.slots(), kt.buffer(), dp.kvLens(),
                dp.tables(), work, pages, phys, counts, counters.slice(0, selectCounterBytes), h, hkv, p.pageSize(),
                shape.tokensPerBlock(), dp.maxBlocks(), p.topk(), p.topr(), selectionScale(d), smemPages);
        return new Selection(pages, phys, counts, counters.slice(selectCounterBytes, attnCounterBytes));
    }

    // ---- checks and helpers ---------------------------------------------------------------------------

    private CudaFunction function(String name) {
        return functions.computeIfAbsent(name, n -> (n.startsWith("kt_") ? ktModule : decodeModule).function(n));
    }

    /** The scale both selection rules use, exactly as the CPU's WindowScores and PageScores compute it. */
    static float selectionScale(int headDim) {
        return (float) (1.0 / Math.sqrt(headDim));
    }

    private static String suffix(RocketKvParams p) {
        return p.ktDtype() == DType.F8_E5M2 ? "fp8" : "bf16";
    }

    /** The KT tensor: the KT dtype, [numBlocks · pagesPerBlock, 2, Hkv, D]. */
    private static void checkKt(Tensor kt, AttentionShape shape, RocketKvParams p, int numBlocks) {
        int[] sh = kt.shape();
        int tpb = shape.tokensPerBlock();
        long pages = (long) numBlocks * (tpb / p.pageSize()); // RocketKvParams.validateAgainst: page_size divides it
        if (kt.dtype() != p.ktDtype() || sh.length != 4 || sh[0] != pages || sh[1] != 2 || sh[2] != shape.numKvHeads()
                || sh[3] != shape.headDim()) {
            throw new IllegalArgumentException("the CUDA KT cache must be " + p.ktDtype() + " [" + pages + ", 2, "
                    + shape.numKvHeads() + ", " + shape.headDim() + "], got " + Tensor.describe(kt));
        }
        if (shape.headDim() % 16 != 0) {
            throw new IllegalArgumentException("CUDA RocketKV needs a head dim that is a multiple of 16, got "
                    + shape.headDim());
        }
    }


    private static long align(long bytes) {
        return Math.max(256, (bytes + 255) & ~255L);
    }

    @Override
    public void close() {
        RuntimeException failure = Closeables.closeAll(null,
                java.util.Arrays.asList(selectScratch, attnWorkspace, counters, stage1, decodeModule, ktModule));
        selectScratch = null;
        attnWorkspace = null;
        counters = null;
        if (failure != null) {
            throw failure;
        }
    }
}
