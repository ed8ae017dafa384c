package io.rocketkv.benchmarks.gpu;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.rocketkv.api.Backend;
import io.rocketkv.api.KvCacheConfig;
import io.rocketkv.api.LLM;
import io.rocketkv.api.RequestOutput;
import io.rocketkv.api.RocketSparseAttentionConfig;
import io.rocketkv.api.SamplingParams;
import io.rocketkv.api.StreamChunk;
import io.rocketkv.core.model.ModelConfig;
import io.rocketkv.core.weights.SafeTensors;
import io.rocketkv.cuda.CudaDriver;
import io.rocketkv.cuda.CudaKernels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Decode throughput with tensor parallelism through the public API: the Llama-3.1-8B-shaped checkpoint of
 * {@code make_checkpoint.py} at one context (32k by default), {@code tensor_parallel_size} 1 and 2, dense and
 * RocketKV (budget 2048, topk 64, page 4), at batch 1 and batch 8, greedy with EOS ignored, CUDA graphs on.
 *
 * <p>Decode rate: the batch's requests are submitted together; each is prefilled in its own step, then all
 * decode together. The rate is taken over the window in which every request is decoding (from the last
 * request's second token to the first request's last token): steps in that window × batch / its length.
 * Beside it, the ceiling the same step has on rank 0 at the copy bandwidth measured on device 0 (its shard of
 * the weights, lm_head, and its share of the KV bytes; {@link DecodeCost}), and the scaling efficiency of 2
 * ranks: tokens/s at TP 2 / (2 × tokens/s at TP 1).
 *
 * <p>Usage: {@code TensorParallelBench --model DIR --out FILE.json [--context 32768] [--new-tokens 64]
 * [--batches 1,8] [--budget-s 420]}. With fewer than two devices it writes the reason and exits 0.
 */
public final class TensorParallelBench {

    private TensorParallelBench() {
    }

    record Row(int tp, String attention, int context, int batch, int newTokens, double loadSeconds,
               double decodeTokensPerSecond, double stepMs, double floorTokensPerSecond, double pctOfFloor) {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> o = new LinkedHashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            if (!args[i].startsWith("--")) {
                throw new IllegalArgumentException("expected --option value pairs, got " + args[i]);
            }
            o.put(args[i].substring(2), args[i + 1]);
        }
        Path model = Path.of(require(o, "model"));
        Path out = Path.of(require(o, "out"));
        int context = Integer.parseInt(o.getOrDefault("context", "32768"));
        int newTokens = Integer.parseInt(o.getOrDefault("new-tokens", "64"));
        List<Integer> batches = new ArrayList<>();
        for (String b : o.getOrDefault("batches", "1,8").split(",")) {
            batches.add(Integer.parseInt(b.trim()));
        }
        EndToEndBench.Deadline deadline = EndToEndBench.Deadline.in(Double.parseDouble(o.getOrDefault("budget-s", "420")));
        Map<String, Object> report = new LinkedHashMap<>();
        List<Row> rows = new ArrayList<>();
        List<String> skipped = new ArrayList<>();
        report.put("rows", rows);
        report.put("skipped", skipped);
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        if (!CudaDriver.isAvailable() || CudaDriver.deviceCount() < 2) {
            skipped.add("tensor parallelism: needs 2 CUDA devices, " + CudaDriver.deviceCount() + " visible"
                    + (CudaDriver.isAvailable() ? "" : " (" + CudaDriver.unavailableReason() + ")"));
            json.writeValue(out.toFile(), report);
            System.out.println(skipped.getFirst());
            return;
        }
        EndToEndBench.ensureTokenizer(model);
        double copyGbs;
        try (CudaKernels k = new CudaKernels(0)) {
            copyGbs = CudaKernelsBench.copyBandwidth(k.context(), k.stream());
            report.put("device", k.context().device().name());
            report.put("devices", CudaDriver.deviceCount());
        }
        report.put("copyGbs", copyGbs);
        report.put("driver", CudaDriver.driverVersion());
        System.out.printf("copy bandwidth of device 0: %.0f GB/s%n", copyGbs);
        ModelConfig cfg = ModelConfig.load(model);
        long weights = 0;
        long embed;
        long lmHead;
        try (SafeTensors w = SafeTensors.open(model)) {
            for (String name : w.names()) {
                weights += w.info(name).byteSize();
            }
            embed = w.info("model.embed_tokens.weight").byteSize();
            lmHead = w.contains("lm_head.weight") ? w.info("lm_head.weight").byteSize() : embed;
        }
        for (String attention : List.of("dense", "rocketkv")) {
            for (int tp : new int[] {1, 2}) {
                if (deadline.remainingSeconds() < 40) {
                    skipped.add("tp " + tp + " " + attention + ": time budget (" + (int) deadline.remainingSeconds()
                            + " s left)");
                    continue;
                }
                int maxBatch = batches.stream().mapToInt(Integer::intValue).max().orElse(1);
                var b = LLM.builder().model(model).backend(Backend.CUDA).tensorParallelSize(tp).maxBatchSize(maxBatch)
                        .maxNumTokens(context).maxSeqLen(context + newTokens + 64)
                        .kvCacheConfig(KvCacheConfig.builder().maxTokens(maxBatch * (context + newTokens + 64))
                                .enableBlockReuse(false).build());
                boolean dense = attention.equals("dense");
                if (!dense) {
                    b.sparseAttentionConfig(RocketSparseAttentionConfig.builder().promptBudget(2048).topk(64).pageSize(4)
                            .build());
                }
                long t0 = System.nanoTime();
                try (LLM llm = b.build()) {
                    double load = (System.nanoTime() - t0) / 1e9;
                    System.out.printf("tp %d %s: loaded in %.1f s%n", tp, attention, load);
                    run(llm, 1, 1024, 8, deadline); // warm-up
                    for (int batch : batches) {
                        if (deadline.remainingSeconds() < 20) {
                            skipped.add("tp " + tp + " " + attention + " batch " + batch + ": time budget");
                            continue;
                        }
                        double[] m = run(llm, batch, context, newTokens, deadline);
                        double rate = m[0];
                        int cache = (dense ? context : 2048) + newTokens / 2;
                        double floor = batch / DecodeCost.floorSeconds(rank0Bytes(cfg, weights, embed, lmHead, tp, dense,
                                cache, batch), copyGbs);
                        Row r = new Row(tp, attention, context, batch, newTokens, load, rate, m[1], floor,
                                100 * rate / floor);
                        rows.add(r);
                        System.out.printf("tp %d %-8s batch %2d: %8.1f tok/s (step %.2f ms; ceiling %.0f tok/s, %.0f%%)%n",
                                tp, attention, batch, rate, m[1], floor, r.pctOfFloor());
                        json.writeValue(out.toFile(), report);
                    }
                } catch (RuntimeException e) {
                    e.printStackTrace();
                    skipped.add("tp " + tp + " " + attention + ": failed: " + e);
                }
                json.writeValue(out.toFile(), report);
            }
        }
        List<Map<String, Object>> scaling = new ArrayList<>();
        for (Row two : rows) {
            if (two.tp() != 2) {
                continue;
            }
            for (Row one : rows) {
                if (one.tp() == 1 && one.attention().equals(two.attention()) && one.batch() == two.batch()) {
                    Map<String, Object> s = new LinkedHashMap<>();
                    s.put("attention", two.attention());
                    s.put("batch", two.batch());
                    s.put("speedup", two.decodeTokensPerSecond() / one.decodeTokensPerSecond());
                    s.put("efficiency", two.decodeTokensPerSecond() / (2 * one.decodeTokensPerSecond()));
                    scaling.add(s);
                    System.out.printf("%s batch %d: TP 2 / TP 1 = %.2fx, scaling efficiency %.0f%%%n", two.attention(),
                            two.batch(), (double) s.get("speedup"), 100 * (double) s.get("efficiency"));
                }
            }
        }
        report.put("scaling", scaling);
        json.writeValue(out.toFile(), report);
        System.out.println("wrote " + out);
    }

    /**
     * Bytes rank 0 reads in one decode step: its shard of the layer weights (attention and MLP split over the
     * ranks; norms whole), the whole lm_head (rank 0 alone computes logits), its share of the KV (dense) or of
     * RocketKV's KT and selected pages.
     */
    static double rank0Bytes(ModelConfig cfg, long weights, long embed, long lmHead, int tp, boolean dense, int cache,
                             int batch) {
        long layerWeights = weights - embed - (lmHead == embed ? 0 : lmHead);
        AttentionCost ac = new AttentionCost(cfg.numAttentionHeads() / tp, Math.max(1, cfg.numKeyValueHeads() / tp),
                cfg.headDim(), AttentionCost.LLAMA_8B.tpb());
        DecodeCost cost = new DecodeCost(cfg.numHiddenLayers(), cfg.hiddenSize(), ac, layerWeights / tp + lmHead, 2);
        return dense ? cost.denseStepBytes(cache, batch) : cost.rocketStepBytes(cache, batch, 64, 4);
    }

    /** Returns {tokens/s over the all-decoding window, ms per step}. */
    private static double[] run(LLM llm, int batch, int context, int newTokens, EndToEndBench.Deadline deadline)
            throws Exception {
        long[][] times = new long[batch][newTokens];
        int[] counts = new int[batch];
        List<CompletableFuture<RequestOutput>> fs = new ArrayList<>();
        SamplingParams p = SamplingParams.builder().temperature(0.0).maxTokens(newTokens).ignoreEos(true).build();
        for (int i = 0; i < batch; i++) {
            int seq = i;
            int[] prompt = EndToEndBench.prompt(context);
            prompt[0] = 3 + seq; // distinct prompts
            Consumer<StreamChunk> onToken = c -> {
                if (counts[seq] < newTokens) {
                    times[seq][counts[seq]++] = System.nanoTime();
                }
            };
            fs.add(llm.generateStream(prompt, p, onToken));
        }
        for (var f : fs) {
            f.get((long) Math.max(1, deadline.remainingSeconds()), TimeUnit.SECONDS);
        }
        long start = Long.MIN_VALUE;
        long end = Long.MAX_VALUE;
        for (int i = 0; i < batch; i++) {
            start = Math.max(start, times[i][Math.min(1, counts[i] - 1)]);
            end = Math.min(end, times[i][counts[i] - 1]);
        }
        int steps = 0;
        long first = -1;
        long last = -1;
        for (int t = 0; t < counts[0]; t++) {
            long at = times[0][t];
            if (at >= start && at <= end) {
                if (first < 0) {
                    first = at;
                }
                last = at;
                steps++;
            }
        }
        if (steps < 3) {
            throw new IllegalStateException("too few steps with every request decoding (" + steps + "); raise --new-tokens");
        }
        double seconds = (last - first) / 1e9;
        double stepMs = seconds * 1e3 / (steps - 1);
        return new double[] {batch * (steps - 1) / seconds, stepMs};
    }

    private static String require(Map<String, String> o, String key) {
        String v = o.get(key);
        if (v == null) {
            throw new IllegalArgumentException("--" + key + " is required");
        }
        return v;
    }
}
