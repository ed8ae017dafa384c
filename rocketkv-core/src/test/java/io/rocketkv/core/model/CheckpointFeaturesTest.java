package io.rocketkv.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.model.CheckpointFeatures.Feature;
import io.rocketkv.core.model.CheckpointFeatures.Support;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link CheckpointFeatures} on published-style configs: verdicts agree with what {@link ModelConfig#load} does. */
class CheckpointFeaturesTest {

    @TempDir
    Path dir;

    private static final String BASE = "\"hidden_size\": 4096, \"intermediate_size\": 14336, \"num_hidden_layers\": 32,"
            + " \"num_attention_heads\": 32, \"num_key_value_heads\": 8, \"rms_norm_eps\": 1e-5,"
            + " \"max_position_embeddings\": 131072, \"vocab_size\": 128256, \"hidden_act\": \"silu\"";

    private CheckpointFeatures features(String json) throws IOException {
        Path d = Files.createTempDirectory(dir, "ckpt");
        Files.writeString(d.resolve("config.json"), json);
        return CheckpointFeatures.of(d);
    }

    private static Feature feature(CheckpointFeatures f, String name) {
        return f.features().stream().filter(x -> x.name().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no feature " + name + " in " + f.features()));
    }

    @Test
    void llama31LoadsAndEveryFeatureIsSupported() throws IOException {
        CheckpointFeatures f = features("{\"architectures\": [\"LlamaForCausalLM\"], " + BASE + ", \"rope_scaling\":"
                + " {\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0,"
                + " \"original_max_position_embeddings\": 8192}, \"rope_theta\": 500000.0}");
        assertTrue(f.loads(), f.loadError());
        assertNull(f.loadError());
        assertEquals("GQA (32 query / 8 KV heads)", feature(f, "attention heads").value());
        assertEquals(Support.SUPPORTED, feature(f, "RoPE scaling").support());
        assertTrue(f.features().stream().allMatch(x -> x.support() == Support.SUPPORTED), f.features().toString());
    }

    @Test
    void mixtralIsRefusedAtItsArchitectureAndItsExperts() throws IOException {
        CheckpointFeatures f = features("{\"architectures\": [\"MixtralForCausalLM\"], " + BASE
                + ", \"num_local_experts\": 8, \"num_experts_per_tok\": 2}");
        assertFalse(f.loads());
        assertTrue(f.loadError().contains("MixtralForCausalLM"), f.loadError());
        assertEquals(Support.UNSUPPORTED, feature(f, "architecture").support());
        assertEquals(Support.UNSUPPORTED, feature(f, "mixture of experts").support());
        assertEquals(Support.NOT_CHECKED, feature(f, "attention heads").support());
    }

    @Test
    void anUnknownRopeTypeIsTheFeatureThatFails() throws IOException {
        CheckpointFeatures f = features("{\"architectures\": [\"LlamaForCausalLM\"], " + BASE
                + ", \"rope_scaling\": {\"rope_type\": \"mrope\", \"factor\": 2.0}}");
        assertFalse(f.loads());
        assertEquals(Support.UNSUPPORTED, feature(f, "RoPE scaling").support(), f.loadError());
        assertTrue(f.loadError().contains("mrope"), f.loadError());
    }

    @Test
    void lengthDependentRopeIsCpuOnly() throws IOException {
        CheckpointFeatures f = features("{\"architectures\": [\"LlamaForCausalLM\"], " + BASE
                + ", \"rope_scaling\": {\"rope_type\": \"dynamic\", \"factor\": 2.0}}");
        assertTrue(f.loads(), f.loadError());
        assertEquals(Support.CPU_ONLY, feature(f, "RoPE scaling").support());
    }

    @Test
    void slidingWindowsAsTransformersReadsThem() throws IOException {
        CheckpointFeatures mistral = features("{\"architectures\": [\"MistralForCausalLM\"], " + BASE
                + ", \"sliding_window\": 4096}");
        assertEquals(Support.SUPPORTED, feature(mistral, "sliding window").support());
        assertEquals("4096 in 32 of 32 layers", feature(mistral, "sliding window").value());
        // Qwen3 ships sliding_window with use_sliding_window false: no layer slides
        CheckpointFeatures qwen3 = features("{\"architectures\": [\"Qwen3ForCausalLM\"], " + BASE
                + ", \"head_dim\": 128, \"sliding_window\": 4096, \"use_sliding_window\": false,"
                + " \"max_window_layers\": 28, \"tie_word_embeddings\": true}");
        assertTrue(qwen3.loads(), qwen3.loadError());
        assertEquals(Support.IGNORED, feature(qwen3, "sliding window").support());
        assertEquals(Support.SUPPORTED, feature(qwen3, "per-head q/k RMSNorm").support());
        assertEquals(Support.SUPPORTED, feature(qwen3, "tied embeddings").support());
    }

    @Test
    void anotherActivationIsRefusedByName() throws IOException {
        CheckpointFeatures f = features("{\"architectures\": [\"LlamaForCausalLM\"], "
                + BASE.replace("\"silu\"", "\"gelu\"") + "}");
        assertFalse(f.loads());
        assertEquals(Support.UNSUPPORTED, feature(f, "hidden_act").support());
    }
}
