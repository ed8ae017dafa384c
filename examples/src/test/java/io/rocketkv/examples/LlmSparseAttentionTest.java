package io.rocketkv.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The README's main job: the bundled retrieval model with RocketKV on a generated haystack finds the pass key the
 * generator hid (the expected answer comes from the task generator, not from a previous run), keeping less KV
 * memory than dense attention; bad {@code --haystack} values are refused with the flag named.
 */
class LlmSparseAttentionTest {

    private static final Path MODEL = Path.of("..", "models", "rocketkv-retrieval-tiny");
    private static final Path CONFIG = Path.of("rocketkv-retrieval.yaml");

    private static CliRun run(String... args) {
        return CliRun.of(new LlmSparseAttention(), args);
    }

    @Test
    void theBundledModelFindsThePassKeyWithRocketKv() {
        assertTrue(Files.isDirectory(MODEL), "the bundled model " + MODEL.toAbsolutePath() + " is missing");
        CliRun r = run("--model_path", MODEL.toString(), "--config", CONFIG.toString(), "--backend", "cpu",
                "--haystack", "passkey:2048", "--max_new_tokens", "8"); // the README's main job
        assertEquals(0, r.rc(), r.out() + r.err());
        Matcher m = Pattern.compile("Answer: (\\S*) \\(expected (\\d+): (correct|wrong)\\)").matcher(r.out());
        assertTrue(m.find(), r.out());
        assertEquals(m.group(2), m.group(1), r.out());
        assertEquals("correct", m.group(3));
        Matcher kept = Pattern.compile("RocketKV kept (\\d+) of (\\d+) tokens").matcher(r.out());
        assertTrue(kept.find(), r.out());
        assertTrue(Integer.parseInt(kept.group(1)) < Integer.parseInt(kept.group(2)) / 2, r.out());
        Matcher mem = Pattern.compile("KV cache ([\\d.]+) KiB \\+ KT cache ([\\d.]+) KiB \\(dense attention: KV ([\\d.]+) KiB\\)")
                .matcher(r.out());
        assertTrue(mem.find(), r.out());
        double held = Double.parseDouble(mem.group(1)) + Double.parseDouble(mem.group(2));
        assertTrue(held < Double.parseDouble(mem.group(3)), r.out());
    }

    @Test
    void aMultikeyHaystackEndsWithTheAnswerLineAndChecksTheAskedKeysValue() {
        // only the case and the verdict are checked here: accuracy is RetrievalEval's to measure (docs/accuracy.md)
        CliRun r = run("--model_path", MODEL.toString(), "--config", CONFIG.toString(), "--backend", "cpu",
                "--haystack", "multikey:512", "--max_new_tokens", "6");
        assertEquals(0, r.rc(), r.out() + r.err());
        Matcher q = Pattern.compile("needles: (.*)\\RQuestion: What is the special magic number for ([a-z]+)\\?"
                + "\\RAnswer: ([a-z]+)\\R").matcher(r.out());
        assertTrue(q.find(), r.out());
        assertEquals(q.group(2), q.group(3), "the answer line repeats the asked key");
        Matcher m = Pattern.compile("Answer: (.*) \\(expected (\\d+): (correct|wrong)\\)").matcher(r.out());
        assertTrue(m.find(), r.out());
        assertTrue(q.group(1).contains("One of the special magic numbers is " + q.group(2) + " " + m.group(2) + "."),
                "the expected answer is the asked key's value: " + q.group(1));
        assertEquals(m.group(1).equals(m.group(2)) ? "correct" : "wrong", m.group(3), r.out());
    }

    @Test
    void aVartrackHaystackExpectsTheChainSpelledOut() {
        // grammar version 3: the answer is the asked variable's sources, nearest first, then the value; the
        // default --max_new_tokens leaves room for it. Only the case and the verdict are checked: accuracy, dense and
        // under RocketKV, is RetrievalEval's to measure (docs/accuracy.md)
        CliRun r = run("--model_path", MODEL.toString(), "--config", CONFIG.toString(), "--backend", "cpu",
                "--haystack", "vartrack:512");
        assertEquals(0, r.rc(), r.out() + r.err());
        Matcher q = Pattern.compile("needles: (.*)\\RQuestion: What is the value of VAR ([A-Z])\\?"
                + "\\RAnswer: VAR ([A-Z])\\R").matcher(r.out());
        assertTrue(q.find(), r.out());
        assertEquals(q.group(2), q.group(3), "the answer line repeats the asked variable");
        Matcher m = Pattern.compile("Answer: (.*) \\(expected ([A-Z]) ([A-Z]) ([1-9][0-9]{4}): (correct|wrong)\\)")
                .matcher(r.out());
        assertTrue(m.find(), r.out());
        String needles = q.group(1);
        assertTrue(needles.contains("VAR " + q.group(2) + " " + m.group(2) + ".")
                        && needles.contains("VAR " + m.group(2) + " " + m.group(3) + ".")
                        && needles.contains("VAR " + m.group(3) + " " + m.group(4) + "."),
                "the expected answer follows the chain from the asked variable: " + needles);
        String expected = m.group(2) + " " + m.group(3) + " " + m.group(4);
        assertEquals(m.group(1).equals(expected) ? "correct" : "wrong", m.group(5), r.out());
    }

    @Test
    void trtLlmFlagsMapOntoTheArgs() {
        LlmSparseAttention cmd = new LlmSparseAttention();
        new picocli.CommandLine(cmd).parseArgs("--model_path", MODEL.toString(), "--tp_size", "1",
                "--kv_cache_fraction", "0.7", "--kv_cache_dtype", "bf16", "--use_cuda_graph",
                "--cuda_graph_padding_enabled", "--cuda_graph_batch_sizes", "1", "2", "4", "--print_iter_log",
                "--enable_chunked_prefill");
        io.rocketkv.api.LlmArgs a = cmd.buildArgs();
        assertEquals(0.7, a.kvCacheConfig().freeGpuMemoryFraction());
        assertEquals(io.rocketkv.api.KvCacheDtype.BFLOAT16, a.kvCacheConfig().dtype());
        assertEquals(java.util.List.of(1, 2, 4), a.cudaGraphBatchSizes());
        assertTrue(a.cudaGraphConfig().enablePadding());
        assertTrue(a.printIterLog());
        assertTrue(a.enableChunkedPrefill());
        assertEquals(128, cmd.maxNewTokens, "TensorRT-LLM's default");
        assertEquals(10, cmd.numSamples, "TensorRT-LLM's default");
        LlmSparseAttention off = new LlmSparseAttention();
        new picocli.CommandLine(off).parseArgs("--model_path", MODEL.toString(), "--use_cuda_graph", "false");
        assertEquals(java.util.List.of(), off.buildArgs().cudaGraphBatchSizes());
    }

    @Test
    void theDefaultToprIsClampedToHeadDimButAnExplicitOneIsNot() {
        LlmSparseAttention cmd = new LlmSparseAttention();
        new picocli.CommandLine(cmd).parseArgs("--model_path", MODEL.toString()); // RocketKV with TRT-LLM's defaults
        assertEquals(32, cmd.clampTopr(cmd.buildArgs()).sparseAttentionConfig().topr(), "head_dim 32");
        CliRun explicit = run("--model_path", MODEL.toString(), "--topr", "128", "--prompt", "the", "--max_new_tokens",
                "1", "--backend", "cpu");
        assertEquals(2, explicit.rc(), explicit.err());
        assertTrue(explicit.err().contains("topr"), explicit.err());
    }

    @Test
    void badHaystackValuesAreRefusedNamingTheFlag() {
        for (String bad : new String[] {"passkey", "passkey:lots", "needle:512", "passkey:10"}) {
            CliRun r = run("--model_path", MODEL.toString(), "--config", CONFIG.toString(), "--backend", "cpu",
                    "--haystack", bad);
            assertEquals(2, r.rc(), bad + ": " + r.out() + r.err());
            assertTrue(r.err().contains("--haystack"), bad + ": " + r.err());
        }
        CliRun both = run("--model_path", MODEL.toString(), "--backend", "cpu", "--haystack", "passkey:512", "--prompt", "x");
        assertEquals(2, both.rc(), both.out() + both.err());
        assertTrue(both.err().contains("--haystack") && both.err().contains("--prompt"), both.err());
    }
}
