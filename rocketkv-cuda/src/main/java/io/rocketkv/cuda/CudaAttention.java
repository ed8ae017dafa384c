package io.rocketkv.cuda;

import static io.rocketkv.cuda.CudaChecks.ceilDiv;
import static io.rocketkv.cuda.CudaChecks.checkCache;
import static io.rocketkv.cuda.CudaChecks.checkGrid;
import static io.rocketkv.cuda.CudaChecks.checkTables;
import static io.rocketkv.cuda.CudaChecks.contains;
import static io.rocketkv.cuda.CudaChecks.requireFloats;

import io.rocketkv.core.kernels.AttentionShape;
import io.rocketkv.core.kernels.StepBatch;
import io.rocketkv.core.numeric.DType;
import java.util.HashMap;
import java.util.Map;

/**
 * Dense attention over the paged KV cache, for {@link CudaKernels}: the prefill kernels of
 * {@code attention_prefill.cu} (causal, each sequence over its own cached tokens: a chunk of a chunked prefill, with
 * kvLen > queryLen, attends the earlier chunks' keys there too) and the split-KV decode kernels of
 * {@code attention_decode.cu} (one query per sequence; partials merged by {@code attention_decode_merge}). CPU twins:
 * {@code CpuKernels.prefillAttention} and {@code CpuKernels.decodeAttention}. Both read the step's lengths and block
 * tables from its {@link CudaStepPlan}; the decode launch depends on the lengths only through the plan's
 * {@link CudaStepPlan#launchKvLen()}, so a recorded step replays for any lengths up to it.
 *
 * <p>An F8_E4M3 cache ({@code kv_cache_config.dtype fp8}): decode reads it directly ({@code attention_decode_e4m3_*},
 * half the bytes of bf16); prefill first widens the blocks its sequences hold into a bf16 scratch copy
 * ({@code kv_cache_e4m3_to_bf16}, {@link StagedBlocks}) and runs the bf16 kernels on that, so a prefill step holds
 * that copy (2 bytes per cached element of its sequences, for one layer at a time) in scratch memory.
 *
 * <p>Sliding windows ({@link AttentionShape#slidingWindow}): every kernel takes the window as its last argument and
 * starts its key walk at each query's window (v1, v2, v3 prefill; the split and naive decode, whose splits cover the
 * window's keys only), so the blocks before it, which may have gone back to the pool, are never read. The Hopper
 * prefill kernels (v4 {@code wgmma}, v5 {@code ws}) do not mask a window: a windowed layer with one of them selected
 * is refused.
 */
final class CudaAttention implements AutoCloseable {

    /** Fewest keys one split of split-KV decode attention takes. */
    private static final int MIN_KV_PER_SPLIT = 256;
    private static final int PREFILL_TILE = 64;
    private static final int[] PREFILL_DIMS = {16, 32, 64, 128};
    /** The v3 (mma.sync) prefill kernels: head dim → launch, mirroring {@code attention_prefill.cu}'s configurations. */
    private static final Map<Integer, MmaPrefill> PREFILL_MMA = Map.of(
            64, new MmaPrefill("attention_prefill_mma_d64", 64, 2, 4, 64),
            128, new MmaPrefill("attention_prefill_mma_d128", 128, 2, 8, 64));

    /**
     * One v3 prefill configuration ({@code rkv_prefill_mma::Cfg<D, MT, NW, BN, QREG>}): a block of {@code nw} warps
     * owns {@code nw · 16 · mt} query rows and walks {@code bn}-key tiles through a two-stage shared-memory ring.
     */
    record MmaPrefill(String name, int d, int mt, int nw, int bn) {
        int rowsPerBlock() {
            return nw * 16 * mt;
        }

        int threads() {
            return nw * 32;
        }

        /** (BM + 4·BN) rows of D + 8 bf16: the Q tile and two stages of K and V. */
        int sharedBytes() {
            return (rowsPerBlock() + 4 * bn) * (d + 8) * 2;
        }
    }
    /** The v4 (wgmma, sm_90a) prefill kernels: head dim → launch, mirroring {@code attention_prefill.cu}. */
    private static final Map<Integer, HopperPrefill> PREFILL_WGMMA = Map.of(
            64, HopperPrefill.v4("attention_prefill_wgmma_d64", 64, 128),
            128, HopperPrefill.v4("attention_prefill_wgmma_d128", 128, 128));
    /** The v5 (warp-specialised wgmma, sm_90a) prefill kernels, mirroring {@code attention_prefill.cu}. */
    private static final Map<Integer, HopperPrefill> PREFILL_WS = Map.of(
            64, HopperPrefill.v5("attention_prefill_ws_d64", 64, 128, 3),
            128, HopperPrefill.v5("attention_prefill_ws_d128", 128, 128, 2));

    /**
     * One Hopper prefill configuration: a block owns {@link #ROWS} query rows of one head (64 per consumer
     * warpgroup) and walks {@code bn}-key tiles of K and V through {@code stages} stages of 128-byte-swizzled tiles.
     * v4 ({@code rkv_prefill_wgmma::Cfg<D, BN>}): 256 threads, two stages of K and V together, 1024 bytes to align
     * them. v5 ({@code rkv_prefill_ws::Cfg<D, BN, NS>}): 384 threads (a producer warpgroup beside the two), K and V
     * in stages of their own, 1024 bytes to align them and 32 bytes of mbarriers per stage.
     */
    record HopperPrefill(String name, int d, int bn, int stages, int threads, int barrierBytesPerStage) {
        static final int ROWS = 128;

        static HopperPrefill v4(String name, int d, int bn) {
            return new HopperPrefill(name, d, bn, 2, 256, 0);
        }

        static HopperPrefill v5(String name, int d, int bn, int stages) {
            return new HopperPrefill(name, d, bn, stages, 384, 32);
        }

        int sharedBytes() {
            return ROWS * d * 2 + stages * 2 * bn * d * 2 + 1024 + stages * barrierBytesPerStage;
        }
    }
    private static final int[] DECODE_DIMS = {16, 32, 64, 128, 256};

    private final CudaContext context;
    private final CudaStream stream;
    private final CudaScratch scratch;
    private final CudaModule prefillModule;
    private final CudaModule decodeModule;
    private final CudaFunction prefillNaive;
    private final CudaFunction decodeNaive;
    private final CudaFunction decodeMerge;
    private final Map<String, CudaFunction> functions = new HashMap<>();
    private final SplitKvLaunch launch;
    /** The prefill kernel for head dims 64 and 128 on this device ({@link PrefillKernel#resolve}). */
    private final PrefillKernel prefillKernel;
    /** The Hopper kernels for head dims 64 and 128 when {@link #prefillKernel} is v4 or v5, else empty. */
    private final Map<Integer, HopperPrefill> hopper;
    private DeviceBuffer decodeWorkspace; // split partials [S][Hq][splits][D + 2] f32
    /** {@code kv_cache_e4m3_to_bf16}: widens an fp8 cache's blocks for prefill. */
    private final CudaFunction widenFp8;
    private DeviceBuffer stagedIndex; // StagedBlocks.image() of stagedPlan
    private DeviceBuffer stagedCache; // the bf16 copies of one layer's blocks
    private CudaStepPlan stagedPlan;
    private StagedBlocks staged;

    CudaAttention(CudaContext context, CudaStream stream, CudaScratch scratch, CudaFunction widenFp8) {
        this.context = context;
        this.stream = stream;
        this.scratch = scratch;
        this.widenFp8 = widenFp8;
        this.launch = new SplitKvLaunch(context);
        CudaModule prefill = KernelImages.load(context, "attention_prefill");
        try {
            this.decodeModule = KernelImages.load(context, "attention_decode");
        } catch (RuntimeException e) {
            prefill.close();
            throw e;
        }
        this.prefillModule = prefill;
        try {
            this.prefillNaive = prefillModule.function("attention_prefill_naive");
            this.decodeNaive = decodeModule.function("attention_decode_naive");
            this.decodeMerge = decodeModule.function("attention_decode_merge");
            for (int d : PREFILL_DIMS) {
                CudaFunction f = prefillModule.function("attention_prefill_d" + d);
                int smem = prefillSharedBytes(d);
                if (smem > 48 * 1024) {
                    f.setMaxDynamicSharedMemory(smem);
                }
                functions.put("attention_prefill_d" + d, f);
            }
            for (MmaPrefill m : PREFILL_MMA.values()) {
                CudaFunction f = prefillModule.function(m.name());
                f.setMaxDynamicSharedMemory(m.sharedBytes());
                functions.put(m.name(), f);
            }
            PrefillKernel requested = PrefillKernel.requested();
            boolean hopperAsked = requested == PrefillKernel.WGMMA || requested == PrefillKernel.WS;
            this.prefillKernel = requested.resolve(hopperAsked && probeWgmma());
            this.hopper = switch (prefillKernel) {
                case WGMMA -> PREFILL_WGMMA;
                case WS -> PREFILL_WS;
                default -> Map.of();
            };
            for (HopperPrefill m : hopper.values()) {
                CudaFunction f = prefillModule.function(m.name());
                f.setMaxDynamicSharedMemory(m.sharedBytes());
                functions.put(m.name(), f);
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /**
     * Runs {@code attention_prefill_wgmma_probe}, which writes 1 only where the code the driver chose for this device
     * was compiled for sm_90a (the v4 kernels trap elsewhere: on sm_100, on PTX, in an image built for plain sm_90).
     */
    private boolean probeWgmma() {
        try (DeviceBuffer flag = DeviceBuffer.allocate(context, Integer.BYTES)) {
            flag.memset((byte) 0);
            prefillModule.function("attention_prefill_wgmma_probe").launch(Dim3.of(1), Dim3.of(1), 0, stream, flag);
            stream.synchronize();
            int[] v = new int[1];
            flag.copyTo(v);
            return v[0] == 1;
        }
    }

    /** The prefill kernel that runs for head dims 64 and 128 on this device (never {@link PrefillKernel#AUTO}). */
    PrefillKernel prefillKernel() {
        return prefillKernel;
    }

    static int prefillSharedBytes(int d) {
        return 2 * 192 * (d + 8) + 256 * (Math.max(d, 64) + 4) + 9216;
    }

    /**
     * Causal prefill attention: q, out [T, Hq·D] F32; the step's K/V already in {@code kvCache} (BF16, or F8_E4M3 with
     * the layer's scales {@code kScale} / {@code vScale}, which a BF16 cache ignores).
     */
    void prefill(CudaTensor q, CudaTensor kvCache, CudaStepPlan p, AttentionShape shape, CudaTensor out,
                 float kScale, float vScale) {
        StepBatch batch = p.batch();
        int numBlocks = checkCache(kvCache, shape);
        int t = batch.numTokens();
        int d = shape.headDim();
        requireFloats(q, (long) t * shape.numHeads() * d, "prefill q");
        requireFloats(out, (long) t * shape.numHeads() * d, "prefill out");
        checkTables(batch, shape, numBlocks);
        int seqs = batch.numSeqs();
        checkGrid(seqs, shape.numHeads());
        DeviceBuffer cache = kvCache.buffer();
        DeviceBuffer tables = p.tables();
        if (kvCache.dtype() == DType.F8_E4M3) {
            cache = widen(kvCache, p, shape, kScale, vScale);
            tables = stagedIndex.slice((long) staged.tablesOffset() * Integer.BYTES,
                    (long) staged.tables().length * Integer.BYTES);
        }
        Object[] args = {q.buffer(), cache, p.queryStart(), p.kvLens(), tables, out.buffer(),
                shape.numHeads(), shape.numKvHeads(), d, shape.tokensPerBlock(), p.maxBlocks(), shape.scale(),
                shape.slidingWindow()};
        MmaPrefill v3 = PREFILL_MMA.get(d);
        HopperPrefill v4 = hopper.get(d);
        if (v4 != null && shape.slidingWindow() > 0) {
            throw new IllegalArgumentException("-D" + PrefillKernel.PROPERTY + "=" + prefillKernel.key() + " selects a "
                    + "prefill kernel without sliding-window masking, and this model's layer has a sliding_window of "
                    + shape.slidingWindow() + "; use " + PrefillKernel.PROPERTY + "=auto or mma");
        }
        CudaFunction v2 = d % 4 == 0 ? functions.get("attention_prefill_d" + d) : null;
        if (v4 != null) {
            int tiles = ceilDiv(p.maxQueryLen(), HopperPrefill.ROWS);
            if (tiles > 65535) {
                throw new IllegalArgumentException("a prefill of " + p.maxQueryLen() + " query rows needs " + tiles
                        + " tiles of " + HopperPrefill.ROWS + " rows, more than a launch takes (65535); split it with"
                        + " enable_chunked_prefill");
            }
            functions.get(v4.name()).launch(new Dim3(shape.numHeads(), tiles, seqs), Dim3.of(v4.threads()),
                    v4.sharedBytes(), stream, args);
        } else if (v3 != null) {
            int tiles = ceilDiv(p.maxQueryLen(), v3.rowsPerBlock());
            if (tiles > 65535) {
                throw new IllegalArgumentException("a prefill of " + p.maxQueryLen() + " query rows needs " + tiles
                        + " tiles of " + v3.rowsPerBlock() + " rows, more than a launch takes (65535); split it with"
                        + " enable_chunked_prefill");
            }
            functions.get(v3.name()).launch(new Dim3(shape.numHeads(), tiles, seqs), Dim3.of(v3.threads()),
                    v3.sharedBytes(), stream, args);
        } else if (v2 != null) {
            v2.launch(new Dim3(ceilDiv(p.maxQueryLen(), PREFILL_TILE), shape.numHeads(), seqs), Dim3.of(128),
                    prefillSharedBytes(d), stream, args);
        } else if (d <= 256) {
            prefillNaive.launch(new Dim3(ceilDiv(p.maxQueryLen(), 4), shape.numHeads(), seqs), Dim3.of(128), 0, stream,
                    args);
        } else {
            throw new IllegalArgumentException("CUDA prefill attention supports head dims up to 256, got " + d);
        }
    }

    /**
     * The bf16 copies of the blocks {@code p}'s sequences hold in the F8_E4M3 {@code kvCache}, for one layer: the
     * index ({@link StagedBlocks}) is built and uploaded once per plan, the widening runs for every layer.
     */
    private DeviceBuffer widen(CudaTensor kvCache, CudaStepPlan p, AttentionShape shape, float kScale, float vScale) {
        long blockElems = (long) shape.numKvHeads() * shape.tokensPerBlock() * shape.headDim();
        if (blockElems % 8 != 0) {
            throw new IllegalArgumentException("an fp8 KV cache on CUDA needs numKvHeads * tokensPerBlock * head_dim"
                    + " to be a multiple of 8, got " + shape.numKvHeads() + " * " + shape.tokensPerBlock() + " * "
                    + shape.headDim());
        }
        if (stagedPlan != p) {
            StagedBlocks s = StagedBlocks.of(p.batch(), shape.tokensPerBlock(), p.maxBlocks());
            int[] image = s.image();
            stagedIndex = scratch.grow(stagedIndex, Math.max(16, (long) image.length * Integer.BYTES));
            stagedIndex.copyFrom(image);
            staged = s;
            stagedPlan = p;
        }
        int n = staged.count();
        stagedCache = scratch.grow(stagedCache, Math.max(1, n) * 2 * blockElems * Short.BYTES);
        if (n > 0) {
            widenFp8.launch(Dim3.of(n), Dim3.of(256), 0, stream, kvCache.buffer(), stagedIndex, stagedCache, n,
                    shape.numKvHeads(), shape.headDim(), shape.tokensPerBlock(), kScale, vScale);
        }
        return stagedCache;
    }

    /**
     * Split-KV decode attention: q, out [S, Hq·D] F32, one query per sequence over its cached tokens (BF16, or
     * F8_E4M3 with the layer's scales, which a BF16 cache ignores).
     */
    void decode(CudaTensor q, CudaTensor kvCache, CudaStepPlan p, AttentionShape shape, CudaTensor out,
                float kScale, float vScale) {
        StepBatch batch = p.batch();
        int numBlocks = checkCache(kvCache, shape);
        boolean fp8 = kvCache.dtype() == DType.F8_E4M3;
        int seqs = batch.numSeqs();
        int h = shape.numHeads();
        int hkv = shape.numKvHeads();
        int d = shape.headDim();
        if (batch.numTokens() != seqs) {
            throw new IllegalArgumentException("decode attention takes one query per sequence, got " + batch.numTokens()
                    + " tokens for " + seqs + " sequences");
        }
        requireFloats(q, (long) seqs * h * d, "decode q");
        requireFloats(out, (long) seqs * h * d, "decode out");
        checkTables(batch, shape, numBlocks);
        checkGrid(seqs, h);
        DeviceBuffer kvLens = p.kvLens();
        DeviceBuffer tables = p.tables();
        DeviceBuffer qb = q.buffer();
        DeviceBuffer ob = out.buffer();
        DeviceBuffer cache = kvCache.buffer();
        int g = shape.groupSize();
        if (!contains(DECODE_DIMS, d)) {
            if (fp8) {
                throw new IllegalArgumentException("an fp8 KV cache on CUDA needs head_dim 16, 32, 64, 128 or 256 for"
                        + " decode attention, got " + d + "; use kv_cache_config.dtype auto or bfloat16");
            }
            if (d > 256) {
                throw new IllegalArgumentException("CUDA decode attention supports head dims up to 256, got " + d);
            }
            decodeNaive.launch(Dim3.of(seqs, h), Dim3.of(32), 0, stream, qb, cache, kvLens, tables, ob, h, hkv, d,
                    shape.tokensPerBlock(), p.maxBlocks(), shape.scale(), shape.slidingWindow());
            return;
        }
        int gt = SplitKvLaunch.groupTile(g);
        int headChunks = ceilDiv(g, gt);
        CudaFunction split = functions.computeIfAbsent("attention_decode_" + (fp8 ? "e4m3_" : "") + "d" + d + "_g" + gt,
                decodeModule::function);
        int resident = launch.residentBlocks(split);
        long base = (long) seqs * hkv * headChunks;
        // a window caps the keys each sequence attends (its splits cover only those)
        int maxKv = shape.slidingWindow() > 0 ? Math.min(p.launchKvLen(), shape.slidingWindow()) : p.launchKvLen();
        int numSplits = (int) Math.max(1, Math.min(2L * resident / base, ceilDiv(maxKv, MIN_KV_PER_SPLIT)));
        int kvPerSplit = MIN_KV_PER_SPLIT;
        DeviceBuffer ws = ob;
        if (numSplits > 1) {
            long floats = (long) seqs * h * numSplits * (d + 2);
            ws = decodeWorkspace = scratch.grow(decodeWorkspace, floats * Float.BYTES);
        }
        Dim3 grid = new Dim3(seqs, hkv * headChunks, numSplits);
        if (fp8) {
            split.launch(grid, Dim3.of(SplitKvLaunch.THREADS), 0, stream, qb, cache, kvLens, tables, ob, ws, h, hkv, d,
                    shape.tokensPerBlock(), p.maxBlocks(), kvPerSplit, shape.scale(), shape.slidingWindow(), kScale,
                    vScale);
        } else {
            split.launch(grid, Dim3.of(SplitKvLaunch.THREADS), 0, stream, qb, cache, kvLens, tables, ob, ws, h, hkv, d,
                    shape.tokensPerBlock(), p.maxBlocks(), kvPerSplit, shape.scale(), shape.slidingWindow());
        }
        if (numSplits > 1) {
            decodeMerge.launch(Dim3.of(seqs, h), Dim3.of(128), 0, stream, ws, kvLens, ob, h, d, kvPerSplit, numSplits,
                    shape.slidingWindow());
        }
    }

    @Override
    public void close() {
        RuntimeException failure = Closeables.closeAll(null,
                java.util.Arrays.asList(decodeWorkspace, stagedIndex, stagedCache, prefillModule, decodeModule));
        decodeWorkspace = null;
        stagedIndex = null;
        stagedCache = null;
        stagedPlan = null;
        if (failure != null) {
            throw failure;
        }
    }
}
