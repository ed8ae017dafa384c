package io.rocketkv.benchmarks;

import io.rocketkv.core.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
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
 * Encode throughput of the {@code tokenizer.json} tokenizer on English prose.
 *
 * <p>The text is the first {@code bytes} bytes of {@code text/sotu-1mb.txt} (public-domain English;
 * 1 MiB is about 230k Llama 3 tokens, 512 KiB about 115k). Each invocation encodes the whole text, so
 * MB/s = bytes / (seconds per op) / 1e6; the tear-down prints the byte and token counts per op.
 * {@link #encodeWarm} reuses one tokenizer, so its per-word BPE cache is warm after the first op (as in a
 * long-running server); {@link #loadAndEncode} loads a fresh tokenizer and encodes once, which includes
 * parsing {@code tokenizer.json} and encoding with an empty cache (a one-shot command line run).
 *
 * <p>Run: {@code java -jar benchmarks/target/benchmarks.jar TokenizerEncodeBenchmark
 * -p tokenizer=rocketkv-core/src/test/resources/tokenizers/llama3/tokenizer.json}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules=jdk.incubator.vector"})
public class TokenizerEncodeBenchmark {

    /** A tokenizer.json file or a model directory. */
    @Param("rocketkv-core/src/test/resources/tokenizers/llama3/tokenizer.json")
    public String tokenizer;

    /** How many bytes of the English text to encode per op (cut at a character boundary). */
    @Param({"1048576", "524288"})
    public int bytes;

    private Tokenizer tok;
    private Path tokenizerPath;
    private String text;
    private int tokens;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        tokenizerPath = Path.of(tokenizer);
        if (!Files.exists(tokenizerPath)) {
            throw new IllegalArgumentException("tokenizer not found: " + tokenizerPath.toAbsolutePath()
                    + " (run from the repository root or pass -p tokenizer=<path>)");
        }
        tok = Tokenizer.load(tokenizerPath);
        text = englishText(bytes);
        tokens = tok.encode(text, false).length;
    }

    @Benchmark
    public int[] encodeWarm() {
        return tok.encode(text, false);
    }

    @Benchmark
    public int[] loadAndEncode() {
        return Tokenizer.load(tokenizerPath).encode(text, false);
    }

    @TearDown(Level.Trial)
    public void report() {
        System.out.printf("%n[tokenizer] %s: %d bytes -> %d tokens per op%n", tokenizerPath, text.getBytes(StandardCharsets.UTF_8).length, tokens);
    }

    static String englishText(int bytes) {
        try (InputStream in = TokenizerEncodeBenchmark.class.getResourceAsStream("/text/sotu-1mb.txt")) {
            if (in == null) {
                throw new IllegalStateException("resource /text/sotu-1mb.txt missing from the benchmarks jar");
            }
            byte[] all = in.readAllBytes();
            int n = Math.min(bytes, all.length);
            while (n > 0 && n < all.length && (all[n] & 0xC0) == 0x80) {
                n--; // do not cut a UTF-8 sequence
            }
            return new String(all, 0, n, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
