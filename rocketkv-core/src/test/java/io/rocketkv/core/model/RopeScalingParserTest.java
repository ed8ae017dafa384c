package io.rocketkv.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.weights.CheckpointFormatException;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The {@code rope_scaling} / {@code rope_parameters} keys of each kind, their defaults (those of transformers 5.18's
 * {@code standardize_rope_params} and {@code _compute_*_parameters}) and the errors for bad values, which name the key.
 */
class RopeScalingParserTest {

    /** A Llama config.json with {@code rope} (JSON object text) under {@code key}; head_dim 16. */
    private static ModelConfig parse(String key, String rope) {
        return ModelConfig.parse("""
                {"architectures": ["LlamaForCausalLM"], "hidden_size": 64, "num_attention_heads": 4,
                 "intermediate_size": 32, "num_hidden_layers": 1, "rms_norm_eps": 1e-5, "vocab_size": 16,
                 "max_position_embeddings": 1024, "rope_theta": 10000.0, "%s": %s}""".formatted(key, rope), null);
    }

    private static RopeScaling scaling(String rope) {
        return parse("rope_parameters", rope).ropeScaling();
    }

    @Test
    void linearAndDynamicTakeAFactor() {
        assertEquals(new RopeScaling.Linear(4), parse("rope_scaling", "{\"type\": \"linear\", \"factor\": 4}")
                .ropeScaling());
        assertEquals(new RopeScaling.Dynamic(2.5), scaling("{\"rope_type\": \"dynamic\", \"factor\": 2.5}"));
        assertTrue(scaling("{\"rope_type\": \"dynamic\", \"factor\": 2.5}").dependsOnLength());
    }

    @Test
    void yarnDefaults() {
        // beta_fast 32, beta_slow 1, truncate true; original_max_position_embeddings = max_position_embeddings;
        // factor absent = max_position_embeddings / original
        assertEquals(new RopeScaling.Yarn(4, 1024, null, 32, 1, null, null, true),
                scaling("{\"rope_type\": \"yarn\", \"factor\": 4.0}"));
        assertEquals(new RopeScaling.Yarn(8, 128, null, 32, 1, null, null, true),
                scaling("{\"rope_type\": \"yarn\", \"original_max_position_embeddings\": 128}"));
        // Python's `or`: a beta of 0 takes the default too
        assertEquals(new RopeScaling.Yarn(2, 64, 0.9, 32, 1, 0.7, 1.0, false),
                scaling("{\"rope_type\": \"yarn\", \"factor\": 2, \"original_max_position_embeddings\": 64, "
                        + "\"attention_factor\": 0.9, \"beta_fast\": 0, \"beta_slow\": 0, \"mscale\": 0.7, "
                        + "\"mscale_all_dim\": 1.0, \"truncate\": false}"));
    }

    @Test
    void longRopeDefaultsAndLengths() {
        String factors = "\"short_factor\": [1, 1, 1, 1, 1, 1, 1, 1], \"long_factor\": [2, 2, 2, 2, 2, 2, 2, 3.5]";
        RopeScaling.LongRope l = (RopeScaling.LongRope) scaling("{\"rope_type\": \"longrope\", " + factors
                + ", \"original_max_position_embeddings\": 256}");
        assertEquals(4.0, l.factor(), "max_position_embeddings / original");
        assertEquals(List.of(2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 3.5), l.longFactor());
        assertEquals(Math.sqrt(1 + Math.log(4) / Math.log(256)), RopeFrequencies.attentionFactor(parse(
                "rope_parameters", "{\"rope_type\": \"longrope\", " + factors
                        + ", \"original_max_position_embeddings\": 256}")));
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> scaling(
                "{\"rope_type\": \"longrope\", \"short_factor\": [1, 1], \"long_factor\": [1, 1]}"));
        assertTrue(e.getMessage().contains("short_factor") && e.getMessage().contains("head_dim / 2 = 8"),
                e.getMessage());
        e = assertThrows(CheckpointFormatException.class, () -> scaling("{\"rope_type\": \"longrope\", "
                + "\"short_factor\": [1, 1, 1, 1, 1, 1, 1, 1]}"));
        assertTrue(e.getMessage().contains("\"long_factor\""), e.getMessage());
        e = assertThrows(CheckpointFormatException.class, () -> scaling("{\"rope_type\": \"longrope\", "
                + factors.replace("3.5", "\"x\"") + "}"));
        assertTrue(e.getMessage().contains("long_factor") && e.getMessage().contains("\"x\""), e.getMessage());
        e = assertThrows(CheckpointFormatException.class, () -> scaling("{\"rope_type\": \"longrope\", "
                + factors.replace("3.5", "-1") + "}"));
        assertTrue(e.getMessage().contains("long_factor[7] = -1.0"), e.getMessage());
    }

    @Test
    void llama3OriginalDefaultsToMaxPositionEmbeddings() {
        assertEquals(RopeScaling.llama3(8, 1, 4, 1024), scaling("{\"rope_type\": \"llama3\", \"factor\": 8, "
                + "\"low_freq_factor\": 1, \"high_freq_factor\": 4}"));
    }

    @Test
    void badValuesNameTheKey() {
        for (String[] c : new String[][] {
                {"{\"rope_type\": \"linear\", \"factor\": 0}", "factor = 0.0"},
                {"{\"rope_type\": \"linear\"}", "\"factor\""},
                {"{\"rope_type\": \"dynamic\", \"factor\": \"2\"}", "\"factor\""},
                {"{\"rope_type\": \"yarn\", \"factor\": 4, \"beta_fast\": -2}", "beta_fast = -2.0"},
                {"{\"rope_type\": \"yarn\", \"factor\": 4, \"attention_factor\": 0}", "attention_factor = 0.0"},
                {"{\"rope_type\": \"yarn\", \"factor\": 4, \"original_max_position_embeddings\": 0}",
                        "original_max_position_embeddings = 0"},
                {"{\"rope_type\": \"yarn\", \"factor\": 4, \"truncate\": 1}", "\"truncate\""}}) {
            CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> scaling(c[0]), c[0]);
            assertTrue(e.getMessage().contains(c[1]), c[0] + ": " + e.getMessage());
        }
    }

    @Test
    void unknownKindsAndPartialRotationAreUnsupported() {
        UnsupportedModelException e = assertThrows(UnsupportedModelException.class,
                () -> scaling("{\"rope_type\": \"proportional\", \"factor\": 2}"));
        assertTrue(e.getMessage().contains("\"proportional\"") && e.getMessage().contains(
                String.join(", ", RopeScaling.SUPPORTED_TYPES)), e.getMessage());
        e = assertThrows(UnsupportedModelException.class,
                () -> scaling("{\"rope_type\": \"linear\", \"factor\": 2, \"partial_rotary_factor\": 0.5}"));
        assertTrue(e.getMessage().contains("rope_parameters.partial_rotary_factor = 0.5"), e.getMessage());
        assertEquals(new RopeScaling.Linear(2),
                scaling("{\"rope_type\": \"linear\", \"factor\": 2, \"partial_rotary_factor\": 1.0}"));
    }
}
