package io.rocketkv.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code InspectCheckpoint} lists the features a config uses with their verdicts: the bundled model runs (exit 0, every
 * feature "yes"); a mixture-of-experts config is refused before any weight is read (exit 1, the architecture and the
 * experts "no", the reason printed).
 */
class InspectCheckpointTest {

    private static final Path TINY = Path.of("..", "models", "tiny-random-llama");

    @TempDir
    Path dir;

    @Test
    void theBundledModelsFeaturesAreSupported() {
        CliRun r = CliRun.of(new InspectCheckpoint(), "--model", TINY.toString());
        assertEquals(0, r.rc(), r.out() + r.err());
        assertTrue(r.out().startsWith("Features (config.json):"), r.out());
        assertTrue(r.out().matches("(?s).*architecture\\s+\\[\"LlamaForCausalLM\"\\]\\s+yes.*"), r.out());
        assertTrue(r.out().contains("Model: LLAMA"), r.out());
    }

    @Test
    void aMixtureOfExpertsConfigIsRefusedWithItsReasons() throws IOException {
        Files.writeString(dir.resolve("config.json"), "{\"architectures\": [\"MixtralForCausalLM\"], \"hidden_size\": 64,"
                + " \"intermediate_size\": 128, \"num_hidden_layers\": 2, \"num_attention_heads\": 4,"
                + " \"num_key_value_heads\": 2, \"rms_norm_eps\": 1e-5, \"max_position_embeddings\": 1024,"
                + " \"vocab_size\": 320, \"num_local_experts\": 8}");
        CliRun r = CliRun.of(new InspectCheckpoint(), "--model", dir.toString());
        assertEquals(1, r.rc(), r.out() + r.err());
        assertTrue(r.out().matches("(?s).*architecture\\s+\\[\"MixtralForCausalLM\"\\]\\s+no.*"), r.out());
        assertTrue(r.out().matches("(?s).*mixture of experts\\s+num_local_experts = 8\\s+no.*"), r.out());
        assertTrue(r.out().contains("Not supported: ") && r.out().contains("MixtralForCausalLM"), r.out());
    }
}
