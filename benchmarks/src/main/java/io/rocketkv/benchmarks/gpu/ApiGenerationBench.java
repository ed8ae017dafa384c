package io.rocketkv.benchmarks.gpu;

import io.rocketkv.api.Backend;
import io.rocketkv.api.KvCacheConfig;
import io.rocketkv.api.KvCacheDtype;
import io.rocketkv.api.LLM;
import io.rocketkv.api.RequestOutput;
import io.rocketkv.api.RocketSparseAttentionConfig;
import io.rocketkv.api.SamplingParams;
import io.rocketkv.benchmarks.gpu.EndToEndReport.ApiRow;
import io.rocketkv.benchmarks.gpu.GpuReport.Algo;
import io.rocketkv.benchmarks.gpu.GpuReport.Skipped;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * Generation through the public API at batch 1: one {@code LLM} per algorithm (CUDA backend, a prompt is one
 * prefill step: {@code max_num_tokens} = the longest context), a short warm-up request, then one request per
 * context in increasing order, greedy, {@code newTokens} tokens with EOS ignored. Time to first token is the
 * engine's metric; the decode rate comes from the tokens' arrival times (token 1 comes from the prefill, and
 * the step of token 2 records the CUDA graph for that block-table width, so the rate is taken from token 2 on).
 * A context whose prefill, extrapolated from the one before (× the square of the length ratio), would not
 * finish within the time left is skipped with that reason.
 */
final class ApiGenerationBench {

    private static final int WARMUP_TOKENS = 1024;

    private ApiGenerationBench() {
    }

    interface Sink {
        void row(ApiRow row);

        void skipped(Skipped s);
    }

    static void run(Path model, Algo algo, KvCacheDtype kvDtype, int[] contexts, int newTokens,
                    EndToEndBench.Deadline deadline,
                    DecodeCost cost, double copyGbs, double prefillParamsPerToken, Sink sink) {
        int maxContext = 0;
        for (int c : contexts) {
            maxContext = Math.max(maxContext, c);
        }
        String name = algo.label();
        if (deadline.remainingSeconds() < 30) {
            sink.skipped(new Skipped("api " + name, "time budget: " + (int) deadline.remainingSeconds()
                    + " s left, under the 30 s a model load needs"));
            return;
        }
        LLM.Builder b = LLM.builder().model(model).backend(Backend.CUDA).maxBatchSize(1).maxNumTokens(maxContext)
                .maxSeqLen(maxContext + newTokens + 64)
                // RocketKV without block reuse, as the earlier reports ran it: each load serves distinct prompts, so
                // there is nothing to share, and the figures stay comparable
                .kvCacheConfig(KvCacheConfig.builder().maxTokens(maxContext + newTokens + 64).dtype(kvDtype)
                        .enableBlockReuse(algo.isDense()).build());
        if (!algo.isDense()) {
            b.sparseAttentionConfig(RocketSparseAttentionConfig.builder().promptBudget(algo.budget()).topk(algo.topk())
                    .pageSize(algo.page()).build());
        }
        long t0 = System.nanoTime();
        try (LLM llm = b.build()) {
            System.out.printf("api %s: loaded in %.1f s%n", name, (System.nanoTime() - t0) / 1e9);
            Measured warm = generate(llm, WARMUP_TOKENS, 8, deadline.remainingSeconds());
            double lastTtft = warm.out.metrics().timeToFirstTokenSeconds();
            int lastContext = WARMUP_TOKENS;
            for (int context : contexts) {
                double ratio = (double) context / lastContext;
                double estimate = lastTtft * ratio * ratio + newTokens * 0.05;
                if (estimate > deadline.remainingSeconds()) {
                    sink.skipped(new Skipped("api " + name + " context " + context, String.format(
                            "time budget: the prefill is estimated at %.0f s (the %d-token one took %.1f s) and %.0f s"
                                    + " are left", estimate, lastContext, lastTtft, deadline.remainingSeconds())));
                    continue;
                }
                Measured m;
                try {
                    m = generate(llm, context, newTokens, deadline.remainingSeconds());
                } catch (TimeoutException e) {
                    sink.skipped(new Skipped("api " + name + " context " + context, "time budget: cancelled after "
                            + "the time left ran out"));
                    return;
                }
                RequestOutput.Metrics mt = m.out.metrics();
                int n = m.count;
                int timed = n - 2;
                double rate = timed > 0 ? (n - 2) / ((m.times[n - 1] - m.times[1]) / 1e9) : Double.NaN;
                int midCache = (algo.isDense() ? context : Math.min(context, algo.budget())) + newTokens / 2;
                double bytes = algo.isDense() ? cost.denseStepBytes(midCache, 1)
                        : cost.rocketStepBytes(midCache, 1, algo.topk(), algo.page());
                double floorRate = 1 / DecodeCost.floorSeconds(bytes, copyGbs);
                double flops = 2 * prefillParamsPerToken * context
                        + cost.layers() * cost.attention().prefillFlops(context);
                ApiRow row = new ApiRow(algo, context, 1, n, mt.timeToFirstTokenSeconds(), mt.prefillSeconds(), flops,
                        Math.max(0, timed), rate, floorRate, 100 * rate / floorRate);
                System.out.printf("api %-26s %7d: TTFT %8.3f s, decode %7.1f tok/s (floor %.0f tok/s, %.0f%%)%n", name,
                        context, row.ttftSeconds(), rate, floorRate, row.pctOfFloor());
                sink.row(row);
                lastTtft = mt.timeToFirstTokenSeconds();
                lastContext = context;
            }
        } catch (TimeoutException e) {
            sink.skipped(new Skipped("api " + name, "time budget: the warm-up request did not finish in time"));
        } catch (RuntimeException e) {
            System.err.println("api " + name + " failed: " + e);
            e.printStackTrace();
            sink.skipped(new Skipped("api " + name, "failed: " + e));
        }
    }

    private record Measured(RequestOutput out, long[] times, int count) {
    }

    private static Measured generate(LLM llm, int context, int newTokens, double timeoutSeconds) throws TimeoutException {
        long[] times = new long[newTokens];
        int[] count = {0};
        Consumer<io.rocketkv.api.StreamChunk> onToken = c -> {
            if (count[0] < times.length) {
                times[count[0]++] = System.nanoTime();
            }
        };
        SamplingParams p = SamplingParams.builder().temperature(0.0).maxTokens(newTokens).ignoreEos(true).build();
        CompletableFuture<RequestOutput> f = llm.generateStream(EndToEndBench.prompt(context), p, onToken);
        try {
            RequestOutput out = f.get((long) Math.max(1, timeoutSeconds), TimeUnit.SECONDS);
            return new Measured(out, times, count[0]);
        } catch (TimeoutException e) {
            f.cancel(true);
            throw e;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IllegalStateException("generation at " + context + " tokens failed: " + e.getCause(), e.getCause());
        }
    }
}
