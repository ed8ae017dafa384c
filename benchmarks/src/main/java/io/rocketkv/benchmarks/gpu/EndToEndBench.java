package io.rocketkv.benchmarks.gpu;

import io.rocketkv.benchmarks.gpu.EndToEndReport.ApiRow;
import io.rocketkv.benchmarks.gpu.EndToEndReport.CapacityRow;
import io.rocketkv.benchmarks.gpu.EndToEndReport.StepRow;
import io.rocketkv.benchmarks.gpu.GpuReport.Algo;
import io.rocketkv.benchmarks.gpu.GpuReport.Metadata;
import io.rocketkv.benchmarks.gpu.GpuReport.Skipped;
import io.rocketkv.api.KvCacheDtype;
import io.rocketkv.core.model.LoadProgress;
import io.rocketkv.core.model.Model;
import io.rocketkv.core.model.ModelConfig;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.testing.TinyBpeTokenizer;
import io.rocketkv.core.weights.SafeTensors;
import io.rocketkv.cuda.CudaDriver;
import io.rocketkv.cuda.CudaKernels;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * End to end on a Llama-3.1-8B-shaped checkpoint with random bf16 weights (made on the device by
 * {@code benchmarks/peers/make_checkpoint.py}, the same files the transformers peer loads), written as
 * {@link EndToEndReport} JSON after every measurement (a run cut short keeps what it measured):
 * <ol>
 *   <li>{@code step}: the KV capacity per context and algorithm (dense, RocketKV defaults) and the whole
 *       model's decode step at batch 1 and at the largest batch that fits ({@link DecodeStepHarness}), each
 *       beside its byte floor;</li>
 *   <li>{@code api}: time to first token and decode tokens/s at batch 1 through the public {@code LLM} API
 *       ({@link ApiGenerationBench}), dense then RocketKV.</li>
 * </ol>
 * The checkpoint has no tokenizer; the engine needs one, so a small byte-level BPE tokenizer is written beside
 * the weights when none is there, and prompts are token ids ({@link #prompt}), the same ids the peer uses.
 * Without a CUDA device it writes a report whose only entry is the reason, and exits 0.
 */
public final class EndToEndBench {

    static final int[] CONTEXTS = {8192, 32768, 131072};
    static final Algo ROCKET_DEFAULTS = Algo.rocketkv(2048, 64, 4);
    static final List<Algo> ALGOS = List.of(Algo.dense(), ROCKET_DEFAULTS);
    static final double FREE_GPU_MEMORY_FRACTION = 0.9; // KvCacheConfig's default

    private EndToEndBench() {
    }

    /** A wall-clock budget. */
    record Deadline(long endNanos) {
        static Deadline in(double seconds) {
            return new Deadline(System.nanoTime() + (long) (seconds * 1e9));
        }

        double remainingSeconds() {
            return (endNanos - System.nanoTime()) / 1e9;
        }
    }

    /** Prompt token {@code i}: ids 3..252, the same formula as the transformers peer's. */
    static int promptToken(int i) {
        return 3 + (int) ((i * 7919L + 13) % 250);
    }

    static int[] prompt(int length) {
        int[] ids = new int[length];
        for (int i = 0; i < length; i++) {
            ids[i] = promptToken(i);
        }
        return ids;
    }

    public static void main(String[] args) throws IOException {
        Options o = Options.parse(args);
        run(o);
    }

    static EndToEndReport run(Options o) throws IOException {
        Deadline deadline = Deadline.in(o.budgetSeconds);
        String date = LocalDate.now().toString();
        String shape = "Llama-3.1-8B shape (random bf16 weights), " + (o.kvFp8() ? "fp8 e4m3" : "bf16")
                + " KV cache, 32-token blocks";
        if (!CudaDriver.isAvailable()) {
            String why = "CUDA is unavailable: " + CudaDriver.unavailableReason();
            System.err.println("end-to-end skipped: " + why);
            EndToEndReport r = new EndToEndReport(new Metadata("none", o.driver, 0, o.commit, date, shape), null, 0,
                    null, null, null, List.of(new Skipped("end-to-end", why)));
            r.write(o.out);
            return r;
        }
        if (!Files.isRegularFile(o.model.resolve(ModelConfig.CONFIG_FILE))) {
            throw new IllegalArgumentException("--model " + o.model + " has no config.json; make the checkpoint with"
                    + " benchmarks/peers/make_checkpoint.py --out " + o.model);
        }
        ensureTokenizer(o.model);
        State s = new State(o);
        try (CudaKernels k = new CudaKernels(0, o.kvFp8() ? DType.F8_E4M3 : DType.BF16)) {
            s.meta = new Metadata(k.context().device().name(), o.driver, CudaDriver.driverVersion(), o.commit, date, shape);
            s.copyGbs = CudaKernelsBench.copyBandwidth(k.context(), k.stream());
            System.out.printf("device: %s; copy %.0f GB/s%n", s.meta.device(), s.copyGbs);
            describeModel(o.model, s);
            s.save();
            if (o.parts.contains("step")) {
                stepSection(k, o, s, deadline);
            }
        }
        if (o.parts.contains("api")) {
            ModelConfig cfg = ModelConfig.load(o.model);
            double perToken = (s.weightBytesPerStep / 2.0) - (double) cfg.vocabSize() * cfg.hiddenSize();
            for (Algo a : ALGOS) {
                ApiGenerationBench.run(o.model, a, o.kvFp8() ? KvCacheDtype.FP8 : KvCacheDtype.AUTO, o.contexts,
                    o.newTokens, deadline, s.cost, s.copyGbs, perToken,
                        new ApiGenerationBench.Sink() {
                            public void row(ApiRow row) {
                                s.api.add(row);
                                s.save();
                            }

                            public void skipped(Skipped sk) {
                                System.out.println("skipped " + sk.what() + ": " + sk.reason());
                                s.skipped.add(sk);
                                s.save();
                            }
                        });
            }
        }
        System.out.println("wrote " + o.out);
        return s.report();
    }

    private static void stepSection(CudaKernels k, Options o, State s, Deadline deadline) {
        try (SafeTensors w = SafeTensors.open(o.model)) {
            ModelConfig cfg = ModelConfig.load(o.model);
            long t0 = System.nanoTime();
            try (Model model = Model.load(cfg, w, k, AttentionCost.LLAMA_8B.tpb(), LoadProgress.NONE, null, null)) {
                double load = (System.nanoTime() - t0) / 1e9;
                EndToEndReport.Model m = s.model;
                s.model = new EndToEndReport.Model(m.name(), m.parameters(), m.weightBytes(), m.weightBytesPerStep(),
                        m.hidden(), m.layers(), m.kvBytesPerToken(), load);
                System.out.printf("model loaded in %.1f s%n", load);
                long freeAfterWeights = k.memoryInfo().free();
                DecodeStepHarness h = new DecodeStepHarness(k, model, s.cost);
                for (Algo a : ALGOS) {
                    for (int context : o.contexts) {
                        long bytesPerToken = s.cost.kvBytesPerToken()
                                + (a.isDense() ? 0 : (2L * cfg.numHiddenLayers() * cfg.kvDim() + a.page() - 1) / a.page());
                        long pool = DecodeCost.poolTokens(freeAfterWeights,
                                model.workspaceBytes(Math.max(context, o.maxBatch), o.maxBatch), FREE_GPU_MEMORY_FRACTION,
                                bytesPerToken);
                        int maxSeqs = a.isDense() ? s.cost.maxDenseSequences(pool, context + o.newTokens)
                                : s.cost.maxRocketSequences(pool, context, Math.min(context, a.budget()), o.newTokens);
                        s.capacity.add(new CapacityRow(a, context, o.newTokens, pool, maxSeqs));
                        System.out.printf("capacity %-24s %7d: pool %,d tokens, %d sequences%n", a.label(), context, pool,
                                maxSeqs);
                        s.save();
                        int big = Math.min(maxSeqs, o.maxBatch);
                        for (int batch : big > 1 ? new int[] {1, big} : new int[] {1}) {
                            step(h, a, context, batch, k, s, deadline);
                        }
                    }
                }
            }
        } catch (RuntimeException e) {
            System.err.println("step section failed: " + e);
            e.printStackTrace();
            s.skipped.add(new Skipped("step", "failed: " + e));
            s.save();
        }
    }

    /** Sizes from the checkpoint's headers (nothing is loaded): parameters, bytes, what a step reads. */
    private static void describeModel(Path dir, State s) {
        try (SafeTensors w = SafeTensors.open(dir)) {
            ModelConfig cfg = ModelConfig.load(dir);
            long total = 0;
            long params = 0;
            for (String name : w.names()) {
                total += w.info(name).byteSize();
                params += w.info(name).byteSize() / w.info(name).dtype().byteSize();
            }
            s.weightBytesPerStep = total - w.info("model.embed_tokens.weight").byteSize();
            AttentionCost ac = new AttentionCost(cfg.numAttentionHeads(), cfg.numKeyValueHeads(), cfg.headDim(),
                    AttentionCost.LLAMA_8B.tpb());
            s.cost = new DecodeCost(cfg.numHiddenLayers(), cfg.hiddenSize(), ac, s.weightBytesPerStep,
                    s.o.kvFp8() ? 1 : 2);
            s.model = new EndToEndReport.Model(dir.getFileName().toString(), params, total, s.weightBytesPerStep,
                    cfg.hiddenSize(), cfg.numHiddenLayers(), s.cost.kvBytesPerToken(), null);
            System.out.printf("model: %,d parameters, %.2f GB of weights, %.2f GB read per decode step%n", params,
                    total / 1e9, s.weightBytesPerStep / 1e9);
        }
    }

    private static void step(DecodeStepHarness h, Algo a, int context, int batch, CudaKernels k, State s,
                             Deadline deadline) {
        String what = "step " + a.label() + " context " + context + " batch " + batch;
        if (deadline.remainingSeconds() < 15) {
            s.skipped.add(new Skipped(what, "time budget: " + (int) deadline.remainingSeconds() + " s left"));
            s.save();
            return;
        }
        long need = h.footprint(a, context, batch);
        long free = k.memoryInfo().free();
        if (need > 0.95 * free) {
            s.skipped.add(new Skipped(what, GpuBenchmarkRunner.memoryReason(need, free)));
            s.save();
            return;
        }
        try {
            StepRow r = h.measure(a, context, batch, s.copyGbs);
            System.out.printf("%-40s %8.2f ms/step (GPU %.2f) %8.0f tok/s; floor %.2f ms (%.0f%%)%n", what, r.stepMs(),
                    r.gpuMs(), r.tokensPerSecond(), r.floorMs(), r.pctOfFloor());
            s.step.add(r);
        } catch (RuntimeException e) {
            System.err.println(what + " failed: " + e);
            s.skipped.add(new Skipped(what, "failed: " + e));
        }
        s.save();
    }

    /** Writes the tokenizer the engine loads when the checkpoint has none (the weights are untouched). */
    static void ensureTokenizer(Path model) throws IOException {
        if (!Files.exists(model.resolve("tokenizer.json"))) {
            TinyBpeTokenizer.write(model, ModelConfig.load(model).maxPositionEmbeddings());
            System.out.println("wrote a byte-level BPE tokenizer.json into " + model + " (the weights have none)");
        }
    }

    /** The report as it grows; saved after every row. */
    private static final class State {
        final Options o;
        Metadata meta;
        double copyGbs;
        long weightBytesPerStep;
        DecodeCost cost;
        EndToEndReport.Model model;
        final List<ApiRow> api = new ArrayList<>();
        final List<StepRow> step = new ArrayList<>();
        final List<CapacityRow> capacity = new ArrayList<>();
        final List<Skipped> skipped = new ArrayList<>();

        State(Options o) {
            this.o = o;
        }

        EndToEndReport report() {
            return new EndToEndReport(meta, model, copyGbs, api, step, capacity, skipped);
        }

        void save() {
            try {
                report().write(o.out);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    /**
     * {@code --model DIR --out PATH [--commit SHA] [--driver VERSION] [--contexts 8192,32768,131072]
     * [--new-tokens 64] [--max-batch 256] [--budget-s 200] [--parts step,api] [--quick]}; {@code --quick}: context
     * 8192 only, 16 new tokens.
     */
    record Options(Path model, Path out, String commit, String driver, int[] contexts, int newTokens, int maxBatch,
                   double budgetSeconds, Set<String> parts, boolean kvFp8) {

        static final String USAGE = "usage: --model DIR --out PATH [--commit SHA] [--driver VERSION]"
                + " [--contexts N,N,...] [--new-tokens N] [--max-batch N] [--budget-s S] [--parts step,api]"
                + " [--kv-cache-dtype bf16|fp8] [--quick]";

        static Options parse(String[] args) {
            Path model = null;
            Path out = null;
            String commit = "unknown";
            String driver = "unknown";
            int[] contexts = CONTEXTS;
            int newTokens = 64;
            int maxBatch = 256;
            double budget = 200;
            Set<String> parts = Set.of("step", "api");
            boolean kvFp8 = false;
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                switch (a) {
                    case "--model" -> model = Path.of(value(args, ++i, a));
                    case "--out" -> out = Path.of(value(args, ++i, a));
                    case "--commit" -> commit = value(args, ++i, a);
                    case "--driver" -> driver = value(args, ++i, a);
                    case "--contexts" -> contexts = ints(value(args, ++i, a), a);
                    case "--new-tokens" -> newTokens = ints(value(args, ++i, a), a)[0];
                    case "--max-batch" -> maxBatch = ints(value(args, ++i, a), a)[0];
                    case "--budget-s" -> budget = number(value(args, ++i, a), a);
                    case "--parts" -> parts = Set.copyOf(Arrays.asList(value(args, ++i, a).split(",")));
                    case "--kv-cache-dtype" -> {
                        String v = value(args, ++i, a);
                        if (!v.equals("bf16") && !v.equals("fp8")) {
                            throw new IllegalArgumentException("--kv-cache-dtype takes bf16 or fp8, got " + v);
                        }
                        kvFp8 = v.equals("fp8");
                    }
                    case "--quick" -> {
                        contexts = new int[] {8192};
                        newTokens = 16;
                    }
                    default -> throw new IllegalArgumentException("unknown option " + a + "; " + USAGE);
                }
            }
            if (model == null || out == null) {
                throw new IllegalArgumentException("--model DIR and --out PATH are required; " + USAGE);
            }
            if (newTokens < 4) {
                throw new IllegalArgumentException("--new-tokens must be >= 4 (the decode rate skips the first two), got "
                        + newTokens);
            }
            if (maxBatch < 1) {
                throw new IllegalArgumentException("--max-batch must be >= 1, got " + maxBatch);
            }
            if (!(budget > 0)) {
                throw new IllegalArgumentException("--budget-s must be > 0, got " + budget);
            }
            for (int c : contexts) {
                if (c < 64) {
                    throw new IllegalArgumentException("--contexts must each be >= 64 tokens, got " + c);
                }
            }
            for (String p : parts) {
                if (!p.equals("step") && !p.equals("api")) {
                    throw new IllegalArgumentException("--parts takes step and/or api, got " + p);
                }
            }
            return new Options(model, out, commit, driver, contexts, newTokens, maxBatch, budget, parts, kvFp8);
        }

        private static String value(String[] args, int i, String name) {
            if (i >= args.length) {
                throw new IllegalArgumentException(name + " needs a value; " + USAGE);
            }
            return args[i];
        }

        private static int[] ints(String s, String name) {
            try {
                return Arrays.stream(s.split(",")).mapToInt(x -> Integer.parseInt(x.trim())).toArray();
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(name + " takes integers separated by commas, got " + s);
            }
        }

        private static double number(String s, String name) {
            try {
                return Double.parseDouble(s);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(name + " takes a number, got " + s);
            }
        }
    }
}
