package io.rocketkv.benchmarks;

import io.rocketkv.api.Backend;
import io.rocketkv.api.LLM;
import io.rocketkv.api.RequestOutput;
import io.rocketkv.api.SamplingParams;
import io.rocketkv.core.tokenizer.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Greedy generation through the public API ({@link LLM#generate(List, SamplingParams)}) on the CPU backend:
 * {@code batch} different prompts of {@code promptTokens} tokens each, {@code newTokens} new tokens each
 * ({@code ignoreEos}, temperature 0), submitted together so the scheduler decodes them as one batch.
 *
 * <p>Figures: the primary result is {@code generate} calls per second; {@code requests} and {@code tokens}
 * (JMH secondary results) are requests and generated tokens per second, end to end (tokenization, prefill,
 * decode, sampling, detokenization). Each iteration also prints the engine's own decode-only rate
 * ({@code generatedTokens / decodeSeconds} from the request metrics). There is no hardware ceiling here:
 * the bundled model is a 2-layer, hidden-64 random checkpoint, so the figure measures the engine's
 * per-token overhead, not arithmetic or memory bandwidth.
 *
 * <p>Run from the repository root: {@code java -jar benchmarks/target/benchmarks.jar EndToEndDecodeBenchmark}
 * (or {@code -p model=<checkpoint dir>}).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 4, time = 1) // the whole engine is JIT-compiled on the same 2 cores: 2 s is not enough
@Measurement(iterations = 3, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules=jdk.incubator.vector"})
public class EndToEndDecodeBenchmark {

    /** A Hugging Face checkpoint directory, relative to the working directory. */
    @Param("models/tiny-random-llama")
    public String model;

    /** Prompts submitted in one generate call. */
    @Param({"1", "8"})
    public int batch;

    /** Tokens in each prompt (with the BOS token, if the tokenizer adds one). */
    @Param("32")
    public int promptTokens;

    /** New tokens generated for each prompt. */
    @Param("128")
    public int newTokens;

    private LLM llm;
    private List<String> prompts;
    private SamplingParams params;

    @Setup(Level.Trial)
    public void setUp() {
        Path dir = Path.of(model);
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException("model directory not found: " + dir.toAbsolutePath()
                    + " (run from the repository root, where models/tiny-random-llama is, or pass -p model=<checkpoint dir>)");
        }
        llm = LLM.builder().model(dir).backend(Backend.CPU).maxBatchSize(Math.max(batch, 1)).build();
        prompts = prompts(llm.tokenizer(), batch, promptTokens);
        params = SamplingParams.builder().maxTokens(newTokens).temperature(0.0).ignoreEos(true).build();
        RequestOutput probe = llm.generate(prompts.getFirst(), params);
        System.out.printf("%n[e2e] %s, backend %s, batch %d, prompt %d tokens, %d new tokens per request%n",
                llm, llm.backendName(), batch, probe.metrics().promptTokens(), probe.metrics().generatedTokens());
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        llm.close();
    }

    /** Per-second requests and generated tokens; also prints the engine's decode-only rate per iteration. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class TokenRate {
        /** Requests completed; JMH reports them per second. */
        public long requests;
        /** Generated tokens; JMH reports them per second. */
        public long tokens;
        private double decodeSeconds; // sum over generate calls of the batch's decode time
        private long start;

        @Setup(Level.Iteration)
        public void reset() {
            requests = 0;
            tokens = 0;
            decodeSeconds = 0;
            start = System.nanoTime();
        }

        @TearDown(Level.Iteration)
        public void print() {
            double s = (System.nanoTime() - start) / 1e9;
            System.out.printf("  [%.0f tokens/s end to end, %.0f tokens/s in decode steps] ", tokens / s,
                    decodeSeconds > 0 ? tokens / decodeSeconds : Double.NaN);
        }
    }

    @Benchmark
    public List<RequestOutput> generate(TokenRate rate) {
        List<RequestOutput> outs = llm.generate(prompts, params);
        double decode = 0;
        for (RequestOutput o : outs) {
            rate.requests++;
            rate.tokens += o.metrics().generatedTokens();
            decode = Math.max(decode, o.metrics().decodeSeconds()); // the batch shares its decode steps
        }
        rate.decodeSeconds += decode;
        return outs;
    }

    /**
     * {@code batch} different prompts of {@code tokens} tokens (counted with special tokens), each the longest
     * piece of the English benchmark text that fits, cut from places far enough apart that no two share a
     * prefix.
     */
    static List<String> prompts(Tokenizer tok, int batch, int tokens) {
        String text = TokenizerEncodeBenchmark.englishText(1 << 16);
        List<String> out = new ArrayList<>();
        int from = 0;
        for (int b = 0; b < batch; b++) {
            while (from < text.length() && Character.isWhitespace(text.charAt(from))) {
                from++;
            }
            int end = from;
            while (end < text.length() && tok.encode(text.substring(from, end + 1), true).length <= tokens) {
                end++;
            }
            if (end == from) {
                throw new IllegalStateException("could not cut a " + tokens + "-token prompt from the benchmark text");
            }
            out.add(text.substring(from, end));
            from = end + 1000; // the next prompt starts elsewhere
        }
        int[] lens = out.stream().mapToInt(p -> tok.encode(p, true).length).toArray();
        if (Arrays.stream(lens).anyMatch(n -> n != tokens)) {
            System.out.printf("[e2e] prompt lengths %s (target %d)%n", Arrays.toString(lens), tokens);
        }
        return out;
    }
}
