package io.rocketkv.benchmarks.gpu;

import io.rocketkv.benchmarks.gpu.GpuReport.Algo;
import io.rocketkv.benchmarks.gpu.GpuReport.Ceilings;
import io.rocketkv.benchmarks.gpu.GpuReport.DecodeRow;
import io.rocketkv.benchmarks.gpu.GpuReport.Metadata;
import io.rocketkv.benchmarks.gpu.GpuReport.PrefillRow;
import io.rocketkv.benchmarks.gpu.GpuReport.Skipped;
import io.rocketkv.core.kernels.AttentionShape;
import io.rocketkv.core.kernels.StepBatch;
import io.rocketkv.core.kernels.StepPlan;
import io.rocketkv.core.kernels.Tensor;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.cuda.Cublas;
import io.rocketkv.cuda.CudaContext;
import io.rocketkv.cuda.CudaDriver;
import io.rocketkv.cuda.CudaEvent;
import io.rocketkv.cuda.CudaKernels;
import io.rocketkv.cuda.CudaStream;
import io.rocketkv.cuda.CudaTensor;
import io.rocketkv.cuda.DeviceBuffer;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;

/**
 * The GPU benchmark sweep, written as one JSON ({@link GpuReport}) for {@code PerformancePlots} and
 * docs/performance.md. With Llama-3.1-8B attention shapes ({@link AttentionCost#LLAMA_8B}):
 * <ol>
 *   <li>ceilings: device-to-device copy of 1 GiB, and cuBLAS's bf16 GEMM at 8192³ (graph-replayed);</li>
 *   <li>decode, one layer, graph-replayed, at contexts 4k–128k and batch 1, 8, 32, 64: dense paged decode,
 *       and RocketKV decode at {@link #ROCKET_CONFIGS}. RocketKV's cache after stage 1 holds the budget
 *       (+ 64 decode steps) whatever the prompt length, so its step is timed once per (config, batch) and
 *       reported at every context above the budget;</li>
 *   <li>prefill attention of one prompt at 4k–128k: TFLOP/s ({@link AttentionCost#prefillFlops}) and % of the
 *       GEMM ceiling.</li>
 * </ol>
 * Prefill runs before decode. A configuration needing more than {@link AttentionCost#MEMORY_FRACTION} of the free
 * device memory, or not started before {@code --budget-s} ran out, is recorded as skipped. End to end is
 * {@link EndToEndBench}'s. Usage (from {@code benchmarks/peers/run_all.sh}):
 * {@code java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -cp <classpath> io.rocketkv.benchmarks.gpu.GpuBenchmarkRunner
 * --out rocketkv-gpu.json [--commit SHA] [--driver VERSION] [--gemm N] [--quick]}.
 */
public final class GpuBenchmarkRunner {

    static final int[] CONTEXTS = {4096, 8192, 16384, 32768, 65536, 131072};
    static final int[] BATCHES = {1, 8, 32, 64};
    /** The defaults (B 2048, topk 64, P 4) and budgets 256, 1024, 4096 with topk = budget / 32. */
    static final List<Algo> ROCKET_CONFIGS = List.of(Algo.rocketkv(2048, 64, 4), Algo.rocketkv(256, 8, 4),
            Algo.rocketkv(1024, 32, 4), Algo.rocketkv(4096, 128, 4));
    /** The GEMM ceiling's m = n = k (--gemm changes it). */
    static final int GEMM_SIZE = 8192;

    private static final AttentionCost COST = AttentionCost.LLAMA_8B;

    private GpuBenchmarkRunner() {
    }

    public static void main(String[] args) throws Exception {
        Options o = Options.parse(args);
        if (!CudaDriver.isAvailable()) {
            System.err.println("CUDA is unavailable: " + CudaDriver.unavailableReason());
            System.exit(2);
        }
        int[] contexts = o.quick ? new int[] {4096, 32768} : CONTEXTS;
        int[] batches = o.quick ? new int[] {1, 8} : BATCHES;
        List<DecodeRow> decode = new ArrayList<>();
        List<PrefillRow> prefill = new ArrayList<>();
        List<Skipped> skipped = new ArrayList<>();
        long deadline = System.nanoTime() + (long) (o.budgetSeconds * 1e9);
        try (CudaKernels k = new CudaKernels()) {
            CudaContext ctx = k.context();
            CudaStream stream = k.stream();
            Metadata meta = new Metadata(ctx.device().name(), o.driver, CudaDriver.driverVersion(), o.commit,
                    LocalDate.now().toString(), "Hq 32, Hkv 8, D 128, bf16 paged cache, 32-token blocks");
            System.out.printf("device: %s; driver %s; commit %s%n", ctx.device(), o.driver, o.commit);
            double copy = CudaKernelsBench.copyBandwidth(ctx, stream);
            double gemm = gemmTflops(k, stream, o.gemm);
            Ceilings ceilings = new Ceilings(copy, gemm, o.gemm, o.gemm, o.gemm);
            System.out.printf("ceilings: copy %.0f GB/s, bf16 GEMM %d³ %.0f TFLOP/s%n", copy, o.gemm, gemm);
            for (int context : contexts) {
                long need = COST.prefillFootprint(context);
                String late = overBudget(deadline);
                if (late != null) {
                    skipped.add(new Skipped("prefill context " + context, late));
                    continue;
                }
                if (!AttentionCost.fits(need, ctx.memoryInfo().free())) {
                    skipped.add(new Skipped("prefill context " + context, memoryReason(need, ctx.memoryInfo().free())));
                    continue;
                }
                double us = prefillMicros(k, stream, context);
                double tflops = COST.prefillFlops(context) / (us / 1e6) / 1e12;
                prefill.add(new PrefillRow(context, us, tflops, 100 * tflops / gemm));
                System.out.printf("prefill %6d: %10.1f us %7.1f TFLOP/s%n", context, us, tflops);
            }
            for (int batch : batches) {
                for (int context : contexts) {
                    String why = overBudget(deadline);
                    why = why != null ? why : decodeSkipReason(COST, Algo.dense(), context, batch, ctx.memoryInfo().free());
                    if (why != null) {
                        skipped.add(new Skipped(describe(Algo.dense(), context, batch), why));
                        continue;
                    }
                    double us = CudaKernelsBench.denseDecodeGraph(k, context, batch);
                    decode.add(row(Algo.dense(), context, batch, us, COST.denseDecodeBytes(context, batch), copy));
                }
                for (Algo a : ROCKET_CONFIGS) {
                    double[] measured = null; // {µs, bytes}, timed once per (config, batch)
                    for (int context : contexts) {
                        String why = measured == null ? overBudget(deadline) : null;
                        why = why != null ? why : decodeSkipReason(COST, a, context, batch, ctx.memoryInfo().free());
                        if (why != null) {
                            skipped.add(new Skipped(describe(a, context, batch), why));
                            continue;
                        }
                        if (measured == null) {
                            measured = CudaKernelsBench.rocketDecode(k, batch, a.budget(), a.topk(), a.page());
                        }
                        decode.add(row(a, context, batch, measured[0], measured[1], copy));
                    }
                }
            }
            GpuReport report = new GpuReport(meta, ceilings, decode, prefill, List.of(), skipped);
            report.write(o.out);
            System.out.println("wrote " + o.out);
        }
    }

    /** The reason to skip when the time budget is spent, else null. */
    static String overBudget(long deadlineNanos) {
        long left = deadlineNanos - System.nanoTime();
        return left > 0 ? null : "time budget (--budget-s) spent";
    }

    /** Why a decode configuration is not run, or null when it runs. */
    static String decodeSkipReason(AttentionCost cost, Algo a, int context, int batch, long freeBytes) {
        if (!a.isDense() && a.budget() >= context) {
            return "the budget " + a.budget() + " keeps the whole " + context + "-token prompt (no compression)";
        }
        long need = a.isDense() ? cost.denseDecodeFootprint(context, batch)
                : cost.rocketFootprint(CudaKernelsBench.rocketCacheTokens(a.budget()), batch);
        return AttentionCost.fits(need, freeBytes) ? null : memoryReason(need, freeBytes);
    }

    static String memoryReason(long need, long free) {
        return String.format("needs %.1f GiB, over %.0f%% of the %.1f GiB free", need / 1073741824.0,
                100 * AttentionCost.MEMORY_FRACTION, free / 1073741824.0);
    }

    static DecodeRow row(Algo a, int context, int batch, double us, double bytes, double copyGbs) {
        double gbs = bytes / (us / 1e6) / 1e9;
        System.out.printf("%-24s %7d %4d %10.1f us %7.0f GB/s %6.1f%%%n", a.label(), context, batch, us, gbs,
                100 * gbs / copyGbs);
        return new DecodeRow(a, context, batch, us, bytes, gbs, 100 * gbs / copyGbs);
    }

    private static String describe(Algo a, int context, int batch) {
        return "decode " + a.label() + " context " + context + " batch " + batch;
    }

    /** cuBLAS bf16 GEMM {@code n × n × n} (bf16 out), graph-replayed: TFLOP/s. */
    private static double gemmTflops(CudaKernels k, CudaStream stream, int n) {
        long bytes = (long) n * n * 2;
        CudaContext ctx = k.context();
        try (Cublas cublas = Cublas.create(ctx); DeviceBuffer ws = ctx.allocate(32L << 20);
             DeviceBuffer x = ctx.allocate(bytes); DeviceBuffer w = ctx.allocate(bytes);
             DeviceBuffer out = ctx.allocate(bytes)) {
            cublas.setStream(stream);
            cublas.setWorkspace(ws);
            x.memset((byte) 0x3c); // bf16 0x3c3c ≈ 0.0115: finite, normal values
            w.memset((byte) 0x3c);
            double us = CudaKernelsBench.graphMicros(k, stream, () -> cublas.gemmBf16(x, w, out, n, n, n, DType.BF16));
            return AttentionCost.gemmFlops(n, n, n) / (us / 1e6) / 1e12;
        }
    }

    /** µs of one layer's causal prefill attention of one {@code len}-token prompt (mean of 3 after a warm-up). */
    private static double prefillMicros(CudaKernels k, CudaStream stream, int len) {
        AttentionShape shape = AttentionShape.of(COST.hq(), COST.hkv(), COST.d(), COST.tpb());
        int blocks = COST.blocksFor(len);
        int[][] table = {new int[blocks]};
        for (int j = 0; j < blocks; j++) {
            table[0][j] = j;
        }
        int[] pos = new int[len];
        int[] slots = new int[len];
        for (int j = 0; j < len; j++) {
            pos[j] = j;
            slots[j] = j; // blocks in order: slot = block * tpb + offset = j
        }
        StepPlan b = k.plan(new StepBatch(true, new int[len], pos, slots, new int[] {0, len}, new int[] {len}, table,
                new int[] {len - 1}));
        try (Tensor cache = k.allocate(DType.BF16, blocks, 2, COST.hkv(), COST.tpb(), COST.d());
             Tensor q = k.allocate(DType.F32, len, COST.hq() * COST.d());
             Tensor kf = k.allocate(DType.F32, len, COST.hkv() * COST.d());
             Tensor vf = k.allocate(DType.F32, len, COST.hkv() * COST.d());
             Tensor out = k.allocate(DType.F32, len, COST.hq() * COST.d());
             CudaEvent start = k.context().createEvent(); CudaEvent end = k.context().createEvent()) {
            for (Tensor t : new Tensor[] {q, kf, vf}) {
                ((CudaTensor) t).buffer().memset((byte) 0x3c); // f32 0x3c3c3c3c ≈ 0.0115
            }
            k.writeKv(kf, vf, b, shape, cache);
            k.prefillAttention(q, kf, vf, cache, b, shape, out);
            int iters = 3;
            start.record(stream);
            for (int i = 0; i < iters; i++) {
                k.prefillAttention(q, kf, vf, cache, b, shape, out);
            }
            end.record(stream);
            end.synchronize();
            return CudaEvent.elapsedMillis(start, end) * 1e3 / iters;
        }
    }

    /**
     * Command-line options: {@code --out PATH} (required), {@code --commit}, {@code --driver}, {@code --gemm N}
     * (the GEMM ceiling's size, default {@link #GEMM_SIZE}), {@code --quick} (contexts 4k and 32k, batch 1 and 8),
     * {@code --budget-s S} (default 600: configurations not started by then are recorded as skipped).
     */
    record Options(Path out, String commit, String driver, int gemm, boolean quick, double budgetSeconds) {

        static Options parse(String[] args) {
            Path out = null;
            String commit = "unknown";
            String driver = "unknown";
            int gemm = GEMM_SIZE;
            boolean quick = false;
            double budget = 600;
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--out" -> out = Path.of(value(args, ++i, "--out"));
                    case "--commit" -> commit = value(args, ++i, "--commit");
                    case "--driver" -> driver = value(args, ++i, "--driver");
                    case "--gemm" -> gemm = Integer.parseInt(value(args, ++i, "--gemm"));
                    case "--quick" -> quick = true;
                    case "--budget-s" -> {
                        String v = value(args, ++i, "--budget-s");
                        try {
                            budget = Double.parseDouble(v);
                        } catch (NumberFormatException e) {
                            throw new IllegalArgumentException("--budget-s takes a number of seconds, got " + v);
                        }
                    }
                    default -> throw new IllegalArgumentException("unknown option " + args[i]
                            + "; usage: --out PATH [--commit SHA] [--driver VERSION] [--gemm N] [--budget-s S] [--quick]");
                }
            }
            if (out == null) {
                throw new IllegalArgumentException("--out PATH is required");
            }
            if (gemm < 1) {
                throw new IllegalArgumentException("--gemm must be >= 1, got " + gemm);
            }
            if (!(budget > 0)) {
                throw new IllegalArgumentException("--budget-s must be > 0, got " + budget);
            }
            return new Options(out, commit, driver, gemm, quick, budget);
        }

        private static String value(String[] args, int i, String name) {
            if (i >= args.length) {
                throw new IllegalArgumentException(name + " needs a value");
            }
            return args[i];
        }
    }
}
