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
import io.rocketkv.examples.bench.BenchDataset;
import io.rocketkv.examples.bench.BenchReport;
import io.rocketkv.examples.bench.HttpBench;
import io.rocketkv.examples.bench.Timing;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Throughput and latency at a given concurrency, as trtllm-bench measures them: requests/s, tokens/s, and
 * percentiles of the time to first token (TTFT), the time per output token after the first (TPOT), the inter-token
 * latency (ITL) and the end-to-end latency (E2E). Generation is greedy and ignores EOS, so every request makes
 * exactly its output length.
 *
 * <p>The requests: random token ids of {@code --input-len} and {@code --output-len}, or a {@code --dataset} in
 * trtllm-bench's prepared-dataset JSONL shape (prompt text or token ids, output length per request). The engine: the
 * {@code --model} loaded here, or a running OpenAI-compatible server at {@code --base-url} (with a dataset).
 * {@code --warmup N} requests run first and are not measured; they share no prefix with the measured ones (random
 * ids of their own, or the dataset's first prompts reversed), so block reuse starts from an empty cache.
 *
 * <p>Shared-prefix workload ({@code --prefix-len P}): every random prompt starts with the same P random tokens, the
 * case block reuse serves. {@code --compare-reuse} runs the workload twice, with
 * {@code kv_cache_config.enable_block_reuse} on and off, and prints both.
 */
@Command(name = "LlmBench", mixinStandardHelpOptions = true,
        description = "Measures throughput and latency (engine or OpenAI server); prints a table and writes JSON.")
public final class LlmBench implements Callable<Integer> {

    @Option(names = "--model", description = "checkpoint directory (not needed with --base-url)")
    Path model;

    @Mixin
    EngineFlags engine;

    @Option(names = "--dataset", description = "JSONL in trtllm-bench's prepared-dataset shape: {task_id, prompt or"
            + " input_ids, output_tokens} per line")
    Path dataset;

    @Option(names = {"--base-url", "--base_url"}, description = "drive a running OpenAI-compatible server instead,"
            + " e.g. http://127.0.0.1:8000/v1 (needs --dataset)")
    String baseUrl;

    @Option(names = {"--api-key", "--api_key"}, description = "bearer token for --base-url")
    String apiKey;

    @Option(names = "--input-len", defaultValue = "128", description = "prompt tokens per random request (default ${DEFAULT-VALUE})")
    int inputLen;

    @Option(names = "--output-len", defaultValue = "128", description = "generated tokens per random request (default ${DEFAULT-VALUE})")
    int outputLen;

    @Option(names = "--num-requests", description = "requests in the measured run (default 64; with --dataset its"
            + " entries, cycled when more)")
    Integer numRequests;

    @Option(names = "--concurrency", defaultValue = "16", description = "requests in flight at once (default ${DEFAULT-VALUE})")
    int concurrency;

    @Option(names = "--warmup", defaultValue = "1", description = "unmeasured requests before the run (default ${DEFAULT-VALUE})")
    int warmup;

    @Option(names = "--seed", defaultValue = "0", description = "seed of the random prompts (default ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--prefix-len", defaultValue = "0",
            description = "tokens shared by every random prompt before its own --input-len tokens (default ${DEFAULT-VALUE})")
    int prefixLen;

    @Option(names = "--compare-reuse", description = "run twice, kv_cache_config.enable_block_reuse on and off")
    boolean compareReuse;

    @Option(names = "--output-json", description = "where to write the results as JSON")
    Path outputJson;

    public static void main(String[] args) {
        System.exit(Cli.run(new LlmBench(), args));
    }

    @Override
    public Integer call() throws Exception {
        int requests = numRequests != null ? numRequests : 64;
        for (var o : List.of(new Object[] {"--input-len", inputLen}, new Object[] {"--output-len", outputLen},
                new Object[] {"--num-requests", requests}, new Object[] {"--concurrency", concurrency})) {
            if ((int) o[1] < 1) {
                throw new IllegalArgumentException(o[0] + " must be >= 1; got " + o[1]);
            }
        }
        if (prefixLen < 0 || warmup < 0) {
            throw new IllegalArgumentException((prefixLen < 0 ? "--prefix-len" : "--warmup") + " must be >= 0; got "
                    + Math.min(prefixLen, warmup));
        }
        List<BenchDataset.Entry> entries = dataset == null ? null : cycle(BenchDataset.read(dataset),
                numRequests != null ? numRequests : -1);
        List<ObjectNode> results = new ArrayList<>();
        if (baseUrl != null) {
            if (entries == null || compareReuse || model != null) {
                throw new IllegalArgumentException("--base-url drives a running server: it needs --dataset and takes"
                        + " neither --model nor --compare-reuse");
            }
            results.add(overHttp(entries));
        } else if (model == null) {
            throw new IllegalArgumentException("give --model (a checkpoint to load) or --base-url (a running server)");
        } else if (compareReuse) {
            LlmArgs args = engine.args();
            for (boolean reuse : new boolean[] {true, false}) {
                KvCacheConfig kv = args.kvCacheConfig().toBuilder().enableBlockReuse(reuse).build();
                results.add(measure(args.toBuilder().kvCacheConfig(kv).build(), entries, requests));
            }
        } else {
            results.add(measure(engine.args(), entries, requests));
        }
        for (ObjectNode r : results) {
            System.out.print(BenchReport.table(title(r), r));
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

    /** The dataset's entries, cycled (or cut) to {@code count}; all of them when {@code count} is -1. */
    private static List<BenchDataset.Entry> cycle(List<BenchDataset.Entry> all, int count) {
        if (count < 0) {
            return all;
        }
        List<BenchDataset.Entry> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            out.add(all.get(i % all.size()));
        }
        return out;
    }

    /** Warm-up entries that share no prefix with the measured ones: the first prompts reversed. */
    private List<BenchDataset.Entry> warmups(List<BenchDataset.Entry> entries) {
        List<BenchDataset.Entry> out = new ArrayList<>();
        for (int i = 0; i < warmup; i++) {
            BenchDataset.Entry e = entries.get(i % entries.size());
            int[] ids = e.inputIds();
            if (ids != null) {
                for (int a = 0, b = ids.length - 1; a < b; a++, b--) {
                    int t = ids[a];
                    ids[a] = ids[b];
                    ids[b] = t;
                }
            }
            String text = e.prompt() == null ? null : new StringBuilder(e.prompt()).reverse().toString();
            out.add(new BenchDataset.Entry(-1 - i, text, ids, e.outputTokens()));
        }
        return out;
    }

    private ObjectNode overHttp(List<BenchDataset.Entry> entries) throws Exception {
        HttpBench bench = new HttpBench(baseUrl, apiKey);
        String name = bench.modelName();
        bench.run(name, warmups(entries), concurrency);
        long t0 = System.nanoTime();
        List<Timing> timings = bench.run(name, entries, concurrency);
        double seconds = (System.nanoTime() - t0) / 1e9;
        ObjectNode o = BenchReport.of(timings, seconds, null, null);
        o.put("base_url", baseUrl);
        o.put("model", name);
        o.put("dataset", dataset.toString());
        o.put("concurrency", concurrency);
        return o;
    }

    /** One engine request: its prompt ids and output length. */
    private record Job(int[] ids, int outputTokens) {
    }

    /** One load of the model with {@code args}: the warm-up requests, then the measured run. */
    private ObjectNode measure(LlmArgs args, List<BenchDataset.Entry> entries, int requests) throws InterruptedException {
        try (LLM llm = LLM.builder().model(model).args(args).build()) {
            int vocab = Math.min(llm.tokenizer().vocabSize(), llm.modelConfig().vocabSize());
            Random random = new Random(seed);
            List<Job> warm = new ArrayList<>();
            List<Job> jobs = new ArrayList<>();
            if (entries != null) {
                for (BenchDataset.Entry e : warmups(entries)) {
                    warm.add(job(llm, e, vocab));
                }
                for (BenchDataset.Entry e : entries) {
                    jobs.add(job(llm, e, vocab));
                }
            } else {
                if (prefixLen + inputLen + outputLen > llm.maxSeqLen()) {
                    throw new IllegalArgumentException("--prefix-len + --input-len + --output-len = "
                            + (prefixLen + inputLen + outputLen) + " is more than max_seq_len = " + llm.maxSeqLen()
                            + "; lower them or raise max_seq_len");
                }
                // the warm-up shares nothing with the measured prompts: the run starts with the shared prefix uncached
                for (int i = 0; i < warmup; i++) {
                    warm.add(new Job(prompt(new int[0], prefixLen + inputLen, random, vocab), outputLen));
                }
                int[] prefix = prompt(new int[0], prefixLen, random, vocab);
                for (int i = 0; i < requests; i++) {
                    jobs.add(new Job(prompt(prefix, inputLen, random, vocab), outputLen));
                }
            }
            run(llm, warm, concurrency);
            PrefixCacheStats before = llm.prefixCacheStats();
            long t0 = System.nanoTime();
            List<Timing> timings = run(llm, jobs, concurrency);
            double seconds = (System.nanoTime() - t0) / 1e9;
            ObjectNode o = BenchReport.of(timings, seconds, before, llm.prefixCacheStats());
            o.put("model", model.toString());
            o.put("backend", llm.backendName());
            if (entries != null) {
                o.put("dataset", dataset.toString());
            } else {
                o.put("prefix_len", prefixLen);
                o.put("input_len", inputLen);
                o.put("output_len", outputLen);
            }
            o.put("block_reuse", args.kvCacheConfig().enableBlockReuse());
            o.put("sparse", args.isSparse());
            o.put("concurrency", concurrency);
            return o;
        }
    }

    /** A dataset entry as an engine request: text tokenized as trtllm-bench does (with BOS), ids checked. */
    private static Job job(LLM llm, BenchDataset.Entry e, int vocab) {
        int[] ids = e.inputIds() != null ? e.inputIds() : llm.tokenizer().encode(e.prompt(), true);
        for (int id : ids) {
            if (id >= vocab) {
                throw new IllegalArgumentException("task " + e.taskId() + ": the token id " + id + " is outside the"
                        + " model's vocabulary (0.." + (vocab - 1) + ")");
            }
        }
        if (ids.length + e.outputTokens() > llm.maxSeqLen()) {
            throw new IllegalArgumentException("task " + e.taskId() + ": " + ids.length + " prompt tokens + "
                    + e.outputTokens() + " output tokens is more than max_seq_len = " + llm.maxSeqLen());
        }
        return new Job(ids, e.outputTokens());
    }

    /** {@code prefix} followed by {@code own} random ids. */
    private static int[] prompt(int[] prefix, int own, Random random, int vocab) {
        int[] ids = Arrays.copyOf(prefix, prefix.length + own);
        for (int i = prefix.length; i < ids.length; i++) {
            ids[i] = random.nextInt(vocab);
        }
        return ids;
    }

    private static List<Timing> run(LLM llm, List<Job> jobs, int concurrency) throws InterruptedException {
        Semaphore slots = new Semaphore(concurrency);
        List<CompletableFuture<Timing>> futures = new ArrayList<>();
        for (Job j : jobs) {
            slots.acquire();
            SamplingParams params = SamplingParams.builder().maxTokens(j.outputTokens()).temperature(0.0)
                    .ignoreEos(true).build();
            long start = System.nanoTime();
            List<Long> times = new ArrayList<>(); // written on the engine thread, read once the request is done
            CompletableFuture<RequestOutput> f = llm.generateStream(j.ids(), params,
                    chunk -> times.add(System.nanoTime() - start));
            futures.add(f.thenApply(out -> new Timing(times.stream().mapToLong(Long::longValue).toArray(),
                            System.nanoTime() - start, out.metrics().generatedTokens(), j.ids().length,
                            out.metrics().numCachedTokens()))
                    .whenComplete((t, e) -> slots.release()));
        }
        List<Timing> out = new ArrayList<>();
        for (var f : futures) {
            out.add(f.join());
        }
        return out;
    }

    private static String title(ObjectNode r) {
        String what = r.has("dataset") ? "dataset " + r.get("dataset").asText()
                + String.format(" (mean input %.1f, output %.1f tokens)", r.get("mean_input_tokens").asDouble(),
                r.get("mean_output_tokens").asDouble())
                : String.format("shared prefix %d + input %d, output %d tokens", r.get("prefix_len").asInt(),
                r.get("input_len").asInt(), r.get("output_len").asInt());
        String where = r.has("base_url") ? "server " + r.get("base_url").asText()
                : String.format("backend %s, %s, block reuse %s", r.get("backend").asText(),
                r.get("sparse").asBoolean() ? "RocketKV" : "dense", r.get("block_reuse").asBoolean() ? "on" : "off");
        return String.format("LlmBench: %d requests, %s, concurrency %d, %s", r.get("num_requests").asInt(), what,
                r.get("concurrency").asInt(), where);
    }
}
