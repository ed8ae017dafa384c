package io.rocketkv.examples;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rocketkv.api.KvCacheConfig;
import io.rocketkv.api.LLM;
import io.rocketkv.api.LlmArgs;
import io.rocketkv.api.RequestOutput;
import io.rocketkv.api.SamplingParams;
import io.rocketkv.core.kvcache.PrefixCacheStats;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Engine throughput and latency for fixed input and output lengths at a given concurrency: requests/s,
 * tokens/s, and percentiles of the time to first token (TTFT) and the time per output token after the
 * first (TPOT). Prompts are random token ids, generation ignores EOS so every request makes exactly
 * {@code --output-len} tokens. Per request, it also reports the prefill rate (prompt tokens not served from the
 * cache / mean TTFT) and the decode rate (1 / mean TPOT): at {@code --concurrency 1} the engine's prefill tokens/s at
 * {@code --input-len} and its decode tokens/s at that context, each measured on its own.
 *
 * <p>Shared-prefix workload ({@code --prefix-len P}): every prompt starts with the same P random tokens, followed by
 * {@code --input-len} tokens of its own, the case block reuse serves (a system prompt, a document asked several
 * questions). The report adds the prefix cache's hit rate over the measured run and the prompt tokens each request
 * was served from the cache. {@code --compare-reuse} runs the workload twice, with
 * {@code kv_cache_config.enable_block_reuse} on and off (the rest from {@code --config}), and prints both.
 */
@Command(name = "LlmBench", mixinStandardHelpOptions = true,
        description = "Measures engine throughput and latency; prints a table and writes JSON.")
public final class LlmBench implements Callable<Integer> {

    @Option(names = "--model", required = true, description = "checkpoint directory")
    Path model;

    @Option(names = "--config", description = "YAML file with the LlmArgs keys")
    Path config;

    @Option(names = "--input-len", defaultValue = "128", description = "prompt tokens per request (default ${DEFAULT-VALUE})")
    int inputLen;

    @Option(names = "--output-len", defaultValue = "128", description = "generated tokens per request (default ${DEFAULT-VALUE})")
    int outputLen;

    @Option(names = "--num-requests", defaultValue = "64", description = "requests in the measured run (default ${DEFAULT-VALUE})")
    int numRequests;

    @Option(names = "--concurrency", defaultValue = "16", description = "requests in flight at once (default ${DEFAULT-VALUE})")
    int concurrency;

    @Option(names = "--seed", defaultValue = "0", description = "seed of the random prompts (default ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--prefix-len", defaultValue = "0",
            description = "tokens shared by every prompt before its own --input-len tokens (default ${DEFAULT-VALUE})")
    int prefixLen;

    @Option(names = "--compare-reuse", description = "run twice, kv_cache_config.enable_block_reuse on and off")
    boolean compareReuse;

    @Option(names = "--output-json", description = "where to write the results as JSON")
    Path outputJson;

    public static void main(String[] args) {
        System.exit(Cli.run(new LlmBench(), args));
    }

    /** One request's timings, in nanoseconds from its submission, and its prompt tokens served from the cache. */
    record Timing(long firstToken, long end, int tokens, int cachedTokens) {
    }

    @Override
    public Integer call() throws Exception {
        for (var o : List.of(new Object[] {"--input-len", inputLen}, new Object[] {"--output-len", outputLen},
                new Object[] {"--num-requests", numRequests}, new Object[] {"--concurrency", concurrency})) {
            if ((int) o[1] < 1) {
                throw new IllegalArgumentException(o[0] + " must be >= 1; got " + o[1]);
            }
        }
        if (prefixLen < 0) {
            throw new IllegalArgumentException("--prefix-len must be >= 0; got " + prefixLen);
        }
        LlmArgs args = config != null ? LlmArgs.fromYaml(config) : LlmArgs.builder().build();
        List<ObjectNode> results = new ArrayList<>();
        if (compareReuse) {
            for (boolean reuse : new boolean[] {true, false}) {
                KvCacheConfig kv = args.kvCacheConfig().toBuilder().enableBlockReuse(reuse).build();
                results.add(measure(args.toBuilder().kvCacheConfig(kv).build()));
            }
        } else {
            results.add(measure(args));
        }
        for (ObjectNode r : results) {
            System.out.print(table(r));
        }
        if (compareReuse) {
            ObjectNode on = results.get(0);
            ObjectNode off = results.get(1);
            System.out.printf("block reuse on vs off: TTFT mean %.1f vs %.1f ms (%.2fx), requests/s %.3f vs %.3f (%.2fx),"
                            + " prefix-cache hit rate %.1f%%%n",
                    on.get("ttft_ms").get("mean").asDouble(), off.get("ttft_ms").get("mean").asDouble(),
                    off.get("ttft_ms").get("mean").asDouble() / on.get("ttft_ms").get("mean").asDouble(),
                    on.get("requests_per_s").asDouble(), off.get("requests_per_s").asDouble(),
                    on.get("requests_per_s").asDouble() / off.get("requests_per_s").asDouble(),
                    100 * on.get("prefix_cache").get("hit_rate").asDouble());
        }
        if (outputJson != null) {
            Object out = results.size() == 1 ? results.getFirst() : results;
            new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(outputJson.toFile(), out);
            System.out.println("results written to " + outputJson);
        }
        return 0;
    }

    /** One load of the model with {@code args}: a warm-up request, then the measured run. */
    private ObjectNode measure(LlmArgs args) throws InterruptedException {
        try (LLM llm = LLM.builder().model(model).args(args).build()) {
            if (prefixLen + inputLen + outputLen > llm.maxSeqLen()) {
                throw new IllegalArgumentException("--prefix-len + --input-len + --output-len = "
                        + (prefixLen + inputLen + outputLen) + " is more than max_seq_len = " + llm.maxSeqLen()
                        + "; lower them or raise max_seq_len");
            }
            SamplingParams params = SamplingParams.builder().maxTokens(outputLen).temperature(0.0).ignoreEos(true).build();
            Random random = new Random(seed);
            int vocab = Math.min(llm.tokenizer().vocabSize(), llm.modelConfig().vocabSize());
            // the warm-up shares nothing with the measured prompts: the run starts with the shared prefix uncached
            run(llm, List.of(prompt(new int[0], prefixLen + inputLen, random, vocab)), params, 1);
            int[] prefix = prompt(new int[0], prefixLen, random, vocab);
            List<int[]> prompts = new ArrayList<>();
            for (int i = 0; i < numRequests; i++) {
                prompts.add(prompt(prefix, inputLen, random, vocab));
            }
            PrefixCacheStats before = llm.prefixCacheStats();
            long t0 = System.nanoTime();
            List<Timing> timings = run(llm, prompts, params, concurrency);
            double seconds = (System.nanoTime() - t0) / 1e9;
            return report(llm, args, timings, seconds, before, llm.prefixCacheStats());
        }
    }

    /** {@code prefix} followed by {@code own} random ids. */
    private static int[] prompt(int[] prefix, int own, Random random, int vocab) {
        int[] ids = Arrays.copyOf(prefix, prefix.length + own);
        for (int i = prefix.length; i < ids.length; i++) {
            ids[i] = random.nextInt(vocab);
        }
        return ids;
    }

    private static List<Timing> run(LLM llm, List<int[]> prompts, SamplingParams params, int concurrency)
            throws InterruptedException {
        Semaphore slots = new Semaphore(concurrency);
        List<CompletableFuture<Timing>> futures = new ArrayList<>();
        for (int[] p : prompts) {
            slots.acquire();
            long start = System.nanoTime();
            long[] first = {0};
            CompletableFuture<RequestOutput> f = llm.generateStream(p, params, chunk -> {
                if (first[0] == 0) {
                    first[0] = System.nanoTime() - start; // written and read on the engine thread
                }
            });
            futures.add(f.thenApply(out -> new Timing(first[0], System.nanoTime() - start,
                    out.metrics().generatedTokens(), out.metrics().numCachedTokens()))
                    .whenComplete((t, e) -> slots.release()));
        }
        List<Timing> out = new ArrayList<>();
        for (var f : futures) {
            out.add(f.join());
        }
        return out;
    }

    private ObjectNode report(LLM llm, LlmArgs args, List<Timing> timings, double seconds, PrefixCacheStats before,
                              PrefixCacheStats after) {
        double[] ttft = new double[timings.size()];
        double[] tpot = new double[timings.size()];
        long generated = 0;
        long cached = 0;
        for (int i = 0; i < timings.size(); i++) {
            Timing t = timings.get(i);
            ttft[i] = t.firstToken() / 1e6;
            tpot[i] = t.tokens() > 1 ? (t.end() - t.firstToken()) / 1e6 / (t.tokens() - 1) : 0;
            generated += t.tokens();
            cached += t.cachedTokens();
        }
        ObjectNode o = new ObjectMapper().createObjectNode();
        o.put("model", model.toString());
        o.put("backend", llm.backendName());
        o.put("prefix_len", prefixLen);
        o.put("input_len", inputLen);
        o.put("block_reuse", args.kvCacheConfig().enableBlockReuse());
        o.put("sparse", args.isSparse());
        o.put("output_len", outputLen);
        o.put("num_requests", timings.size());
        o.put("concurrency", concurrency);
        o.put("duration_s", seconds);
        o.put("requests_per_s", timings.size() / seconds);
        o.put("output_tokens_per_s", generated / seconds);
        o.put("total_tokens_per_s", (generated + (long) (prefixLen + inputLen) * timings.size()) / seconds);
        // per request; at --concurrency 1 the engine's prefill and decode rates, each on its own
        double meanTtft = Arrays.stream(ttft).average().orElse(0);
        double meanTpot = Arrays.stream(tpot).average().orElse(0);
        double prefilled = (prefixLen + inputLen) - (timings.isEmpty() ? 0.0 : (double) cached / timings.size());
        o.put("prefill_tokens_per_s", meanTtft > 0 ? prefilled * 1000 / meanTtft : 0);
        o.put("decode_tokens_per_s", meanTpot > 0 ? 1000 / meanTpot : 0);
        percentiles(o.putObject("ttft_ms"), ttft);
        percentiles(o.putObject("tpot_ms"), tpot);
        // the measured run only (the warm-up's lookups are before `before`); recomputes after preemption count too
        long queried = after.queriedTokens() - before.queriedTokens();
        long hits = after.hitTokens() - before.hitTokens();
        ObjectNode pc = o.putObject("prefix_cache");
        pc.put("queried_tokens", queried);
        pc.put("hit_tokens", hits);
        pc.put("hit_rate", queried == 0 ? 0.0 : (double) hits / queried);
        pc.put("mean_cached_prompt_tokens", timings.isEmpty() ? 0.0 : (double) cached / timings.size());
        pc.put("evictions", after.evictions() - before.evictions());
        return o;
    }

    static void percentiles(ObjectNode o, double[] values) {
        double[] v = values.clone();
        Arrays.sort(v);
        o.put("mean", Arrays.stream(v).average().orElse(0));
        o.put("p50", percentile(v, 50));
        o.put("p90", percentile(v, 90));
        o.put("p99", percentile(v, 99));
        o.put("max", v.length == 0 ? 0 : v[v.length - 1]);
    }

    /** Nearest-rank percentile of sorted values. */
    static double percentile(double[] sorted, double p) {
        if (sorted.length == 0) {
            return 0;
        }
        int rank = (int) Math.ceil(p / 100 * sorted.length);
        return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
    }

    private static String table(ObjectNode r) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format("LlmBench: %d requests, shared prefix %d + input %d, output %d tokens, concurrency %d,"
                        + " backend %s, %s, block reuse %s%n",
                r.get("num_requests").asInt(), r.get("prefix_len").asInt(), r.get("input_len").asInt(),
                r.get("output_len").asInt(), r.get("concurrency").asInt(), r.get("backend").asText(),
                r.get("sparse").asBoolean() ? "RocketKV" : "dense", r.get("block_reuse").asBoolean() ? "on" : "off"));
        sb.append(String.format("%-22s %12.2f%n", "duration (s)", r.get("duration_s").asDouble()));
        sb.append(String.format("%-22s %12.2f%n", "requests/s", r.get("requests_per_s").asDouble()));
        sb.append(String.format("%-22s %12.1f%n", "output tokens/s", r.get("output_tokens_per_s").asDouble()));
        sb.append(String.format("%-22s %12.1f%n", "total tokens/s", r.get("total_tokens_per_s").asDouble()));
        sb.append(String.format("%-22s %12.1f   (prompt tokens not cached / mean TTFT)%n", "prefill tokens/s",
                r.get("prefill_tokens_per_s").asDouble()));
        sb.append(String.format("%-22s %12.1f   (1 / mean TPOT)%n", "decode tokens/s", r.get("decode_tokens_per_s").asDouble()));
        var pc = r.get("prefix_cache");
        sb.append(String.format("%-22s %11.1f%% (%d of %d prompt tokens; %.1f per request)%n", "prefix-cache hits",
                100 * pc.get("hit_rate").asDouble(), pc.get("hit_tokens").asLong(), pc.get("queried_tokens").asLong(),
                pc.get("mean_cached_prompt_tokens").asDouble()));
        sb.append(String.format("%-10s %10s %10s %10s %10s %10s%n", "ms", "mean", "p50", "p90", "p99", "max"));
        for (String k : new String[] {"ttft_ms", "tpot_ms"}) {
            var p = r.get(k);
            sb.append(String.format("%-10s %10.3f %10.3f %10.3f %10.3f %10.3f%n", k.replace("_ms", ""),
                    p.get("mean").asDouble(), p.get("p50").asDouble(), p.get("p90").asDouble(), p.get("p99").asDouble(),
                    p.get("max").asDouble()));
        }
        return sb.toString();
    }
}
