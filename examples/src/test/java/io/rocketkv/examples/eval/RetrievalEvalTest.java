package io.rocketkv.examples.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rocketkv.api.Backend;
import io.rocketkv.api.LLM;
import io.rocketkv.api.RocketSparseAttentionConfig;
import io.rocketkv.core.sparse.Stage1Policy;
import io.rocketkv.core.tokenizer.Tokenizer;
import io.rocketkv.examples.Cli;
import io.rocketkv.examples.LlmEval;
import io.rocketkv.examples.LlmSparseAttention;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * RetrievalEval and LlmEval end to end on the bundled random model (accuracy means nothing there): the table and
 * JSON hold every cell, and the compression ratios follow from the budgets.
 */
class RetrievalEvalTest {

    static final Path MODEL = RetrievalTasksTest.MODEL;

    @TempDir
    Path dir;

    @Test
    void libraryCallGivesEveryCellWithTheRightCompression() {
        var sparse = RocketSparseAttentionConfig.builder().windowSize(8).kernelSize(7).promptBudget(64).topk(4)
                .topr(16).pageSize(4).build();
        List<EvalSetting> settings = List.of(EvalSetting.dense(), EvalSetting.rocket(sparse),
                EvalSetting.slidingWindow(sparse), EvalSetting.randomSubset(sparse));
        var o = new RetrievalEval.Options(MODEL, RetrievalEval.defaultArgs(Backend.CPU), List.of("passkey", "vartrack"),
                List.of(320), 2, 0, 4);
        RetrievalEval.Result r = RetrievalEval.run(o, settings, new PrintStream(new ByteArrayOutputStream()));
        assertEquals(2 * 1 * 4, r.cells().size());
        for (RetrievalEval.Cell c : r.cells()) {
            assertEquals(2, c.cases());
            assertTrue(c.correct() >= 0 && c.correct() <= 2);
            assertTrue(c.meanPromptTokens() > 250 && c.meanPromptTokens() <= 320, "prompt " + c.meanPromptTokens());
            assertEquals("cpu", c.backend());
            if (c.setting().sparse() == null) {
                assertEquals(1.0, c.tokenCompression(), 1e-12, "dense keeps every token");
            } else {
                // (prompt + generated - 1) / (64 + generated - 1), generated = 4 (the random model never says EOS
                // nor a newline within 4 tokens in these cases, else the ratio below would differ slightly)
                double expected = (c.meanPromptTokens() + 3) / (64 + 3);
                assertEquals(expected, c.tokenCompression(), 0.2, c.setting().name());
                assertTrue(c.memoryCompression() > 2, c.setting().name() + " memory " + c.memoryCompression());
            }
        }
        String table = EvalReport.table(r);
        assertTrue(table.startsWith("| setting | passkey 320 | vartrack 320 |"), table);
        assertTrue(table.contains("| sliding B=64 |") && table.contains("| random B=64 |")
                && table.contains("| rocket B=64 k=4 P=4 fp8 |") && table.contains("| dense | "), table);
        assertTrue(table.contains("(×1.0)"), table);
        JsonNode j = EvalReport.json(r);
        assertEquals(4, j.get("settings").size());
        assertEquals("sliding_window", j.get("settings").get(2).get("stage1_policy").asText());
        assertEquals("random(" + EvalSetting.RANDOM_BASELINE_SEED + ")", j.get("settings").get(3).get("stage1_policy").asText());
        assertEquals(8, j.get("results").size());
    }

    @Test
    void llmEvalRunsTheConfigSettingsAndWritesJson() throws Exception {
        Path config = Files.writeString(dir.resolve("extra.yaml"), Files.readString(Path.of("rocketkv-tiny.yaml"))
                + "backend: cpu\n");
        Path json = dir.resolve("eval.json");
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        PrintStream old = System.out;
        PrintStream oldErr = System.err;
        int rc;
        try {
            System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(new ByteArrayOutputStream()));
            rc = Cli.run(new LlmEval(), new String[] {"--model", MODEL.toString(), "--config", config.toString(),
                    "--tasks", "multikey", "--contexts", "300", "--cases", "2", "--max-new-tokens", "3",
                    "--output-json", json.toString()});
        } finally {
            System.setOut(old);
            System.setErr(oldErr);
        }
        String out = buf.toString(StandardCharsets.UTF_8);
        assertEquals(0, rc, out);
        assertTrue(out.contains("| setting | multikey 300 |") && out.contains("| rocket B=32 k=4 P=4 fp8 |"), out);
        JsonNode r = new ObjectMapper().readTree(json.toFile());
        assertEquals(4, r.get("results").size(), "dense, rocket, sliding, random");
        assertEquals(2, r.get("cases_per_cell").asInt());
        for (JsonNode c : r.get("results")) {
            double ratio = c.get("token_compression").asDouble();
            if (c.get("setting").asText().equals("dense")) {
                assertEquals(1.0, ratio, 1e-12);
            } else {
                assertTrue(ratio > 4, c.toString()); // ~300 tokens kept as 32
            }
        }
    }

    @Test
    void baselinesWithoutOrOnlySplitTheDefaultGrid() throws Exception {
        JsonNode without = runGrid("without");
        int rocket = 0;
        for (JsonNode s : without.get("settings")) {
            String kind = s.get("kind").asText();
            assertTrue(kind.equals("dense") || kind.equals("rocket"), s.toString());
            rocket += kind.equals("rocket") ? 1 : 0;
        }
        // the default grid less its 8 baselines: dense and 10 RocketKV settings
        assertEquals(11, without.get("settings").size(), without.toString());
        assertEquals(10, rocket);
        assertEquals(11, without.get("results").size());
        JsonNode only = runGrid("only");
        assertEquals(8, only.get("settings").size(), only.toString());
        for (JsonNode s : only.get("settings")) {
            String kind = s.get("kind").asText();
            assertTrue(kind.equals("sliding_window") || kind.equals("random"), s.toString());
        }
        assertEquals(2, runCommand("--baselines", "sometimes"), "an unknown --baselines value is an error");
    }

    private JsonNode runGrid(String baselines) throws Exception {
        Path json = dir.resolve("grid-" + baselines + ".json");
        assertEquals(0, runCommand("--baselines", baselines, "--output-json", json.toString()));
        return new ObjectMapper().readTree(json.toFile());
    }

    private int runCommand(String... extra) {
        List<String> args = new java.util.ArrayList<>(List.of("--model", MODEL.toString(), "--tasks", "passkey",
                "--contexts", "520", "--cases", "1", "--max-new-tokens", "2", "--window-size", "8", "--kernel-size", "7"));
        args.addAll(List.of(extra));
        PrintStream old = System.out;
        PrintStream oldErr = System.err;
        try {
            System.setOut(new PrintStream(new ByteArrayOutputStream()));
            System.setErr(new PrintStream(new ByteArrayOutputStream()));
            return Cli.run(new RetrievalEvalCommand(), args.toArray(String[]::new));
        } finally {
            System.setOut(old);
            System.setErr(oldErr);
        }
    }

    @Test
    void theDefaultMaxNewTokensHoldsTheLongestAnswerAndEos() {
        // with the bundled retrieval model's tokenizer a pass key or multi-key answer is 5 tokens (" 4", "8", "2",
        // "1", "3"); a vartrack answer spells the chain (grammar version 3), " C B 48213": 2 names and 5 digits
        Tokenizer tok = Tokenizer.load(Path.of("../models/rocketkv-retrieval-tiny"));
        RetrievalTasks gen = new RetrievalTasks(s -> tok.encode(s, false).length, s -> tok.encode(s, true).length);
        int longest = 0;
        for (String task : RetrievalTasks.TASKS) {
            for (int i = 0; i < 10; i++) {
                var c = gen.generate(task, 1024, RetrievalTasks.caseSeed(0, task, 1024, i));
                longest = Math.max(longest, tok.encode(gen.answerPrefix() + c.answer(), false).length);
            }
        }
        assertTrue(longest >= 7, "a vartrack answer names the chain's sources: " + longest + " tokens");
        for (var command : List.of(new CommandLine(new RetrievalEvalCommand()).getCommandSpec()
                        .findOption("--max-new-tokens"), new CommandLine(new LlmEval()).getCommandSpec()
                        .findOption("--max-new-tokens"), new CommandLine(new LlmSparseAttention()).getCommandSpec()
                        .findOption("--max_new_tokens"))) {
            int defaultTokens = Integer.parseInt(command.defaultValue());
            assertTrue(defaultTokens >= longest + 1, command.longestName() + " defaults to " + defaultTokens
                    + " tokens; the longest answer is " + longest + " tokens and EOS");
        }
    }

    @Test
    void baselinesNeedRocketKvAndTheCpuBackend() {
        var e = assertThrows(IllegalArgumentException.class, () -> LLM.builder().model(MODEL).backend(Backend.CPU)
                .evaluationStage1Policy(Stage1Policy.SLIDING_WINDOW).build());
        assertTrue(e.getMessage().contains("sparseAttentionConfig"), e.getMessage());
        var sparse = RocketSparseAttentionConfig.builder().windowSize(8).kernelSize(7).promptBudget(32).topk(4)
                .topr(16).pageSize(4).build();
        e = assertThrows(IllegalArgumentException.class, () -> LLM.builder().model(MODEL).backend(Backend.AUTO)
                .sparseAttentionConfig(sparse).kvCacheConfig(io.rocketkv.api.KvCacheConfig.builder()
                        .enableBlockReuse(false).build()).evaluationStage1Policy(Stage1Policy.random(1)).build());
        assertTrue(e.getMessage().contains("Backend.CPU"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new RetrievalEval.Options(MODEL,
                RetrievalEval.defaultArgs(Backend.CPU), List.of("needle"), List.of(300), 1, 0, 4));
        assertTrue(e.getMessage().contains("vartrack"), e.getMessage());
    }
}
