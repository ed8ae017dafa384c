package io.rocketkv.core.model;

import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.weights.CheckpointFormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code Phi3ForCausalLM} configs read as transformers 5.18's {@code Phi3Config} reads them (its RoPE frequencies are
 * checked against transformers' own in {@link RopeFrequenciesTest}, its forward pass on the phi3 parity checkpoints).
 */
class Phi3ConfigTest {

    /** Phi-3-mini-4k-instruct's config.json. */
    static final String PHI3_MINI_4K = """
            {
              "_name_or_path": "Phi-3-mini-4k-instruct",
              "architectures": ["Phi3ForCausalLM"],
              "attention_bias": false,
              "attention_dropout": 0.0,
              "auto_map": {
                "AutoConfig": "configuration_phi3.Phi3Config",
                "AutoModelForCausalLM": "modeling_phi3.Phi3ForCausalLM"
              },
              "bos_token_id": 1,
              "embd_pdrop": 0.0,
              "eos_token_id": 32000,
              "hidden_act": "silu",
              "hidden_size": 3072,
              "initializer_range": 0.02,
              "intermediate_size": 8192,
              "max_position_embeddings": 4096,
              "model_type": "phi3",
              "num_attention_heads": 32,
              "num_hidden_layers": 32,
              "num_key_value_heads": 32,
              "original_max_position_embeddings": 4096,
              "pad_token_id": 32000,
              "resid_pdrop": 0.0,
              "rms_norm_eps": 1e-05,
              "rope_scaling": null,
              "rope_theta": 10000.0,
              "sliding_window": 2047,
              "tie_word_embeddings": false,
              "torch_dtype": "bfloat16",
              "transformers_version": "4.40.2",
              "use_cache": true,
              "vocab_size": 32064
            }""";

    /** Its generation_config.json. */
    static final String PHI3_MINI_4K_GENERATION = """
            {
              "_from_model_config": true,
              "bos_token_id": 1,
              "eos_token_id": [32000, 32001, 32007],
              "pad_token_id": 32000,
              "transformers_version": "4.40.2"
            }""";

    /**
     * Phi-4-mini-instruct's shape: GQA (24 q / 8 kv heads), RoPE on 96 of each head's 128 channels, longrope (48
     * factors of each kind, here made up), tied embeddings.
     */
    static final String PHI4_MINI = """
            {
              "architectures": ["Phi3ForCausalLM"],
              "attention_bias": false,
              "attention_dropout": 0.0,
              "bos_token_id": 199999,
              "embd_pdrop": 0.0,
              "eos_token_id": 199999,
              "full_attn_mod": 1,
              "hidden_act": "silu",
              "hidden_size": 3072,
              "initializer_range": 0.02,
              "intermediate_size": 8192,
              "interpolate_factor": 1,
              "lm_head_bias": false,
              "max_position_embeddings": 131072,
              "mlp_bias": false,
              "model_type": "phi3",
              "num_attention_heads": 24,
              "num_hidden_layers": 32,
              "num_key_value_heads": 8,
              "original_max_position_embeddings": 4096,
              "pad_token_id": 199999,
              "partial_rotary_factor": 0.75,
              "resid_pdrop": 0.0,
              "rms_norm_eps": 1e-05,
              "rope_scaling": {"long_factor": LONG, "short_factor": SHORT, "type": "longrope"},
              "rope_theta": 10000.0,
              "sliding_window": 262144,
              "tie_word_embeddings": true,
              "torch_dtype": "bfloat16",
              "use_cache": true,
              "vocab_size": 200064
            }"""
            .replace("LONG", factors(48, 1.5)).replace("SHORT", factors(48, 1.01));

    /** {@code n} numbers 1, r, r², ... as a JSON list. */
    private static String factors(int n, double r) {
        return IntStream.range(0, n).mapToObj(i -> Double.toString(Math.pow(r, i)))
                .collect(Collectors.joining(", ", "[", "]"));
    }

    @Test
    void phi3Mini4kInstruct() {
        ModelConfig c = ModelConfig.parse(PHI3_MINI_4K, PHI3_MINI_4K_GENERATION);
        assertEquals(Architecture.PHI3, c.architecture());
        assertTrue(c.fusedProjections(), "qkv_proj and gate_up_proj are fused");
        assertEquals(3072, c.hiddenSize());
        assertEquals(8192, c.intermediateSize());
        assertEquals(32, c.numHiddenLayers());
        assertEquals(32, c.numAttentionHeads());
        assertEquals(32, c.numKeyValueHeads());
        assertEquals(96, c.headDim(), "no head_dim: hidden_size / num_attention_heads");
        assertEquals(96, c.rotaryDim(), "the whole head rotates");
        assertEquals(48, c.ropeInvFreq().length);
        assertNull(c.ropeScaling());
        assertEquals(10000.0, c.ropeTheta());
        assertEquals(1e-5, c.rmsNormEps());
        assertEquals(4096, c.maxPositionEmbeddings());
        assertEquals(32064, c.vocabSize());
        assertFalse(c.tieWordEmbeddings());
        assertFalse(c.qkvBias());
        assertFalse(c.oProjBias());
        assertFalse(c.mlpBias());
        assertFalse(c.qkNorm());
        assertEquals(1, c.bosTokenId());
        assertEquals(List.of(32000, 32001, 32007), c.eosTokenIds(), "generation_config.json's eos ids win");
        assertEquals(DType.BF16, c.torchDtype());
        // Phi3Model masks every layer with config.sliding_window
        for (int l = 0; l < c.numHiddenLayers(); l++) {
            assertEquals(2047, c.layerSlidingWindow(l));
        }
        assertEquals(2047, c.kvReleaseWindow());
        assertTrue(c.slidingWindowBinds(4096));
        assertFalse(c.slidingWindowBinds(2047));
        assertThrows(IllegalArgumentException.class, () -> c.checkRocketKv(4096));
        assertFalse(ModelConfig.parse(ModelConfigTest.MISTRAL_7B_V01, null).fusedProjections());
    }

    @Test
    void phi3IgnoresLayerTypesAndAttentionBias() {
        // Phi3Config keeps layer_types as an unknown attribute that Phi3Model never reads; Phi3Attention has no bias
        ModelConfig c = ModelConfig.parse(PHI3_MINI_4K.replace("\"sliding_window\": 2047",
                "\"sliding_window\": 2047, \"layer_types\": [\"full_attention\"]")
                .replace("\"attention_bias\": false", "\"attention_bias\": true"), null);
        assertEquals(2047, c.layerSlidingWindow(0));
        assertFalse(c.qkvBias());
        assertFalse(c.oProjBias());
        assertNull(ModelConfig.parse(PHI3_MINI_4K.replace("\"sliding_window\": 2047", "\"sliding_window\": null"),
                null).layerSlidingWindow(0));
        ModelConfig byType = ModelConfig.parse(PHI3_MINI_4K.replace("\"architectures\": [\"Phi3ForCausalLM\"],", ""),
                null);
        assertEquals(Architecture.PHI3, byType.architecture(), "model_type phi3");
    }

    @Test
    void phi4MiniRotatesThreeQuartersOfEachHeadWithLongrope() {
        ModelConfig c = ModelConfig.parse(PHI4_MINI, null);
        assertEquals(128, c.headDim());
        assertEquals(96, c.rotaryDim(), "int(128 * 0.75)");
        assertEquals(48, c.ropeInvFreq().length);
        assertEquals(8, c.numKeyValueHeads());
        assertTrue(c.tieWordEmbeddings());
        assertEquals(262144, c.layerSlidingWindow(0));
        RopeScaling.LongRope l = assertInstanceOf(RopeScaling.LongRope.class, c.ropeScaling());
        assertEquals(4096, l.originalMaxPositionEmbeddings(), "the top-level original_max_position_embeddings");
        assertEquals(32.0, l.factor(), "max_position_embeddings / original");
        assertNull(l.attentionFactor());
        assertEquals(48, l.longFactor().size());
        assertEquals(4096, c.ropeTable().lengthIndependentUpTo());
        assertEquals((float) Math.sqrt(1 + Math.log(32) / Math.log(4096)), c.ropeTable().attentionFactor());
        // the RoPE object's own partial_rotary_factor wins over the top-level one (setdefault)
        ModelConfig nested = ModelConfig.parse(PHI4_MINI.replace("\"type\": \"longrope\"",
                "\"type\": \"longrope\", \"partial_rotary_factor\": 0.75").replace("\"partial_rotary_factor\": 0.75,",
                "\"partial_rotary_factor\": 0.5,"), null);
        assertEquals(96, nested.rotaryDim());
    }

    @Test
    void longropeFactorsCoverTheRotatedChannelsOnly() {
        // Phi3Config.validate_rope: each factor list has head_dim * partial_rotary_factor / 2 numbers
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> ModelConfig.parse(
                PHI4_MINI.replace(factors(48, 1.5), factors(64, 1.5)), null));
        assertTrue(e.getMessage().contains("long_factor") && e.getMessage().contains(
                "head_dim * partial_rotary_factor / 2 = 48"), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"su", "yarn", "longrope"})
    void suAndYarnAreLongropeWithTheTopLevelOriginalContext(String type) {
        // Phi3Config.convert_rope_params_to_dict: "su" and "yarn" become "longrope"; standardize_rope_params then
        // sets rope_parameters' original_max_position_embeddings to the config's own, even over the object's value
        String config = PHI4_MINI.replace("\"type\": \"longrope\"", "\"type\": \"" + type + "\", "
                + "\"original_max_position_embeddings\": 8192");
        RopeScaling.LongRope l = assertInstanceOf(RopeScaling.LongRope.class, ModelConfig.parse(config, null)
                .ropeScaling());
        assertEquals(4096, l.originalMaxPositionEmbeddings());
        // without the top-level key: Phi3Config's default, 4096, not max_position_embeddings
        String noTopLevel = config.replace("\"original_max_position_embeddings\": 4096,", "");
        RopeScaling.LongRope d = assertInstanceOf(RopeScaling.LongRope.class, ModelConfig.parse(noTopLevel, null)
                .ropeScaling());
        assertEquals(RopeScalingParser.PHI3_ORIGINAL_MAX_POSITIONS, d.originalMaxPositionEmbeddings());
        assertEquals(32.0, d.factor());
    }

    @ParameterizedTest
    @ValueSource(strings = {"linear", "dynamic", "llama3"})
    void otherRopeKindsAreRefusedAsPhi3ConfigRefusesThem(String type) {
        String config = PHI3_MINI_4K.replace("\"rope_scaling\": null", "\"rope_scaling\": {\"type\": \"" + type
                + "\", \"factor\": 2.0, \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0}");
        UnsupportedModelException e = assertThrows(UnsupportedModelException.class,
                () -> ModelConfig.parse(config, null));
        assertTrue(e.getMessage().contains("\"" + type + "\"") && e.getMessage().contains("Phi3ForCausalLM")
                && e.getMessage().contains("default, longrope"), e.getMessage());
    }

    @Test
    void partialRotaryFactorOutOfRangeOrOddIsRefused() {
        assertThrows(CheckpointFormatException.class, () -> ModelConfig.parse(PHI4_MINI.replace(
                "\"partial_rotary_factor\": 0.75", "\"partial_rotary_factor\": 1.5"), null));
        assertThrows(CheckpointFormatException.class, () -> ModelConfig.parse(PHI4_MINI.replace(
                "\"partial_rotary_factor\": 0.75", "\"partial_rotary_factor\": 0"), null));
        // int(96 * 0.3) = int(28.8) = 28 channels
        String unscaled = PHI3_MINI_4K.replace("\"rope_theta\"", "\"partial_rotary_factor\": 0.3, \"rope_theta\"");
        assertEquals(28, ModelConfig.parse(unscaled, null).rotaryDim());
        UnsupportedModelException odd = assertThrows(UnsupportedModelException.class, () -> ModelConfig.parse(
                unscaled.replace("0.3", "0.28125"), null)); // 96 * 0.28125 = 27 channels: no pairs
        assertTrue(odd.getMessage().contains("partial_rotary_factor = 0.28125") && odd.getMessage().contains(
                "rotates 27 channels"), odd.getMessage());
    }

    @Test
    void partialRotationIsRefusedOutsidePhi3() {
        UnsupportedModelException e = assertThrows(UnsupportedModelException.class, () -> ModelConfig.parse(
                ModelConfigTest.MISTRAL_7B_V01.replace("\"rope_theta\"", "\"partial_rotary_factor\": 0.5, "
                        + "\"rope_theta\""), null));
        assertTrue(e.getMessage().contains("partial_rotary_factor = 0.5")
                && e.getMessage().contains("MistralForCausalLM"), e.getMessage());
    }
}
