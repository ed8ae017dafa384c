package io.rocketkv.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.model.ModelConfig;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code Fp8Checkpoint} command: writes an fp8 checkpoint that {@code InspectCheckpoint} reports as such (one fp8
 * weight per projection of every layer, counted from config.json) and that {@code LlmSparseAttention} runs: the fp8
 * retrieval model still finds the pass key the generator hid, under RocketKV.
 */
class Fp8CheckpointTest {

    private static final Path TINY = Path.of("..", "models", "tiny-random-llama");
    private static final Path RETRIEVAL = Path.of("..", "models", "rocketkv-retrieval-tiny");
    private static final int PROJECTIONS_PER_LAYER = 7; // q, k, v, o, gate, up, down

    @TempDir
    Path dir;

    @Test
    void writesAnFp8CheckpointThatInspectCheckpointReports() {
        int expected = ModelConfig.load(TINY).numHiddenLayers() * PROJECTIONS_PER_LAYER;
        for (boolean perChannel : new boolean[] {false, true}) {
            Path out = dir.resolve("fp8-" + perChannel);
            CliRun r = perChannel
                    ? CliRun.of(new Fp8Checkpoint(), "--input", TINY.toString(), "--output", out.toString(), "--per-channel")
                    : CliRun.of(new Fp8Checkpoint(), "--input", TINY.toString(), "--output", out.toString());
            assertEquals(0, r.rc(), r.out() + r.err());
            assertTrue(r.out().contains(expected + " linear weights in fp8 e4m3"), r.out());
            CliRun inspect = CliRun.of(new InspectCheckpoint(), "--model", out.toString());
            assertEquals(0, inspect.rc(), inspect.out() + inspect.err());
            String line = "Quantization: fp8 e4m3 (modelopt " + (perChannel ? "FP8_PER_CHANNEL_PER_TOKEN" : "FP8")
                    + "); " + expected + " fp8 linear weights (" + (perChannel ? 0 : expected) + " per-tensor, "
                    + (perChannel ? expected : 0) + " per-channel scales; 0 with a static input scale";
            assertTrue(inspect.out().contains(line), inspect.out());
        }
        CliRun plain = CliRun.of(new InspectCheckpoint(), "--model", TINY.toString());
        assertEquals(0, plain.rc(), plain.err());
        assertFalse(plain.out().contains("Quantization"), plain.out());
    }

    @Test
    void badArgumentsExitWithTwoAndOneLine() {
        CliRun same = CliRun.of(new Fp8Checkpoint(), "--input", TINY.toString(), "--output", TINY.toString());
        assertEquals(2, same.rc());
        assertTrue(same.err().startsWith("error: the output folder must differ"), same.err());
        CliRun missing = CliRun.of(new Fp8Checkpoint(), "--input", dir.resolve("absent").toString(), "--output",
                dir.resolve("out").toString());
        assertEquals(2, missing.rc());
        assertTrue(missing.err().contains("has no config.json"), missing.err());
        assertEquals(2, CliRun.of(new Fp8Checkpoint(), "--output", dir.toString()).rc(), "--input is required");
    }

    @Test
    void theFp8RetrievalModelFindsThePassKeyWithRocketKv() {
        Path out = dir.resolve("retrieval-fp8");
        assertEquals(0, CliRun.of(new Fp8Checkpoint(), "--input", RETRIEVAL.toString(), "--output", out.toString()).rc());
        CliRun r = CliRun.of(new LlmSparseAttention(), "--model_path", out.toString(), "--config",
                "rocketkv-retrieval.yaml", "--backend", "cpu", "--haystack", "passkey:2048", "--max_new_tokens", "8");
        assertEquals(0, r.rc(), r.out() + r.err());
        Matcher m = Pattern.compile("Answer: (\\S*) \\(expected (\\d+): (correct|wrong)\\)").matcher(r.out());
        assertTrue(m.find(), r.out());
        assertEquals(m.group(2), m.group(1), r.out());
    }
}
