package io.rocketkv.core.model;

import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.weights.CheckpointFormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Configs as published on the Hugging Face Hub (trimmed of fields the loader ignores only where noted). */
class ModelConfigTest {

    static final String LLAMA_31_8B = """
            {
              "architectures": ["LlamaForCausalLM"],
              "attention_bias": false,
              "attention_dropout": 0.0,
              "bos_token_id": 128000,
              "eos_token_id": [128001, 128008, 128009],
              "hidden_act": "silu",
              "hidden_size": 4096,
              "initializer_range": 0.02,
              "intermediate_size": 14336,
              "max_position_embeddings": 131072,
              "mlp_bias": false,
              "model_type": "llama",
              "num_attention_heads": 32,
              "num_hidden_layers": 32,
              "num_key_value_heads": 8,
              "pretraining_tp": 1,
              "rms_norm_eps": 1e-05,
              "rope_scaling": {
                "factor": 8.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": 8192,
                "rope_type": "llama3"
              },
              "rope_theta": 500000.0,
              "tie_word_embeddings": false,
              "torch_dtype": "bfloat16",
              "transformers_version": "4.43.0.dev0",
              "use_cache": true,
              "vocab_size": 128256
            }""";

    static final String QWEN2_7B = """
            {
              "architectures": ["Qwen2ForCausalLM"],
              "attention_dropout": 0.0,
              "bos_token_id": 151643,
              "eos_token_id": 151643,
              "hidden_act": "silu",
              "hidden_size": 3584,
              "initializer_range": 0.02,
              "intermediate_size": 18944,
              "max_position_embeddings": 131072,
              "max_window_layers": 28,
              "model_type": "qwen2",
              "num_attention_heads": 28,
              "num_hidden_layers": 28,
              "num_key_value_heads": 4,
              "rms_norm_eps": 1e-06,
              "rope_theta": 1000000.0,
              "sliding_window": 131072,
              "tie_word_embeddings": false,
              "torch_dtype": "bfloat16",
              "transformers_version": "4.37.2",
              "use_cache": true,
              "use_sliding_window": false,
              "vocab_size": 152064
            }""";

    static final String QWEN25_05B = """
            {
              "architectures": ["Qwen2ForCausalLM"],
              "attention_dropout": 0.0,
              "bos_token_id": 151643,
              "eos_token_id": 151643,
              "hidden_act": "silu",
              "hidden_size": 896,
              "initializer_range": 0.02,
              "intermediate_size": 4864,
              "max_position_embeddings": 32768,
              "max_window_layers": 24,
              "model_type": "qwen2",
              "num_attention_heads": 14,
              "num_hidden_layers": 24,
              "num_key_value_heads": 2,
              "rms_norm_eps": 1e-06,
              "rope_theta": 1000000.0,
              "sliding_window": 32768,
              "tie_word_embeddings": true,
              "torch_dtype": "bfloat16",
              "transformers_version": "4.40.1",
              "use_cache": true,
              "use_mrope": false,
              "use_sliding_window": false,
              "vocab_size": 151936
            }""";

    /** Qwen2.5-0.5B-Instruct's generation_config.json. */
    static final String QWEN25_INSTRUCT_GENERATION = """
            {
              "bos_token_id": 151643,
              "pad_token_id": 151643,
              "do_sample": true,
              "eos_token_id": [151645, 151643],
              "repetition_penalty": 1.1,
              "temperature": 0.7,
              "top_p": 0.8,
              "top_k": 20,
              "transformers_version": "4.37.0"
            }""";

    /** Qwen3-0.6B's config.json: head_dim 128 where hidden_size / num_attention_heads is 64. */
    static final String QWEN3_06B = """
            {
              "architectures": ["Qwen3ForCausalLM"],
              "attention_bias": false,
              "attention_dropout": 0.0,
              "bos_token_id": 151643,
              "eos_token_id": 151645,
              "head_dim": 128,
              "hidden_act": "silu",
              "hidden_size": 1024,
              "initializer_range": 0.02,
              "intermediate_size": 3072,
              "max_position_embeddings": 40960,
              "max_window_layers": 28,
              "model_type": "qwen3",
              "num_attention_heads": 16,
              "num_hidden_layers": 28,
              "num_key_value_heads": 8,
              "rms_norm_eps": 1e-06,
              "rope_scaling": null,
              "rope_theta": 1000000,
              "sliding_window": null,
              "tie_word_embeddings": true,
              "torch_dtype": "bfloat16",
              "transformers_version": "4.51.0",
              "use_cache": true,
              "use_sliding_window": false,
              "vocab_size": 151936
            }""";

    static final String MISTRAL_7B_V01 = """
            {
              "architectures": ["MistralForCausalLM"],
              "bos_token_id": 1,
              "eos_token_id": 2,
              "hidden_act": "silu",
              "hidden_size": 4096,
              "initializer_range": 0.02,
              "intermediate_size": 14336,
              "max_position_embeddings": 32768,
              "model_type": "mistral",
              "num_attention_heads": 32,
              "num_hidden_layers": 32,
              "num_key_value_heads": 8,
              "rms_norm_eps": 1e-05,
              "rope_theta": 10000.0,
              "sliding_window": 4096,
              "tie_word_embeddings": false,
              "torch_dtype": "bfloat16",
              "transformers_version": "4.34.0.dev0",
              "use_cache": true,
              "vocab_size": 32000
            }""";

    /** Mistral-Nemo-Base-2407: head_dim 128 while hidden_size / heads = 160. */
    static final String MISTRAL_NEMO = """
            {
              "architectures": ["MistralForCausalLM"],
              "attention_dropout": 0.0,
              "bos_token_id": 1,
              "eos_token_id": 2,
              "head_dim": 128,
              "hidden_act": "silu",
              "hidden_size": 5120,
              "initializer_range": 0.02,
              "intermediate_size": 14336,
              "max_position_embeddings": 128000,
              "model_type": "mistral",
              "num_attention_heads": 32,
              "num_hidden_layers": 40,
              "num_key_value_heads": 8,
              "rms_norm_eps": 1e-05,
              "rope_theta": 1000000.0,
              "sliding_window": null,
              "tie_word_embeddings": false,
              "torch_dtype": "bfloat16",
              "transformers_version": "4.43.0.dev0",
              "use_cache": true,
              "vocab_size": 131072
            }""";

    @TempDir
    Path dir;

    @Test
    void llama31_8b() throws IOException {
        Files.writeString(dir.resolve("config.json"), LLAMA_31_8B);
        ModelConfig c = ModelConfig.load(dir);
        assertEquals(Architecture.LLAMA, c.architecture());
        assertEquals(4096, c.hiddenSize());
        assertEquals(14336, c.intermediateSize());
        assertEquals(32, c.numHiddenLayers());
        assertEquals(32, c.numAttentionHeads());
        assertEquals(8, c.numKeyValueHeads());
        assertEquals(128, c.headDim());
        assertEquals(4, c.queriesPerKvHead());
        assertEquals(4096, c.qDim());
        assertEquals(1024, c.kvDim());
        assertEquals(1e-5, c.rmsNormEps());
        assertEquals(500000.0, c.ropeTheta());
        assertEquals(RopeScaling.llama3(8, 1, 4, 8192), c.ropeScaling());
        assertEquals(131072, c.maxPositionEmbeddings());
        assertEquals(128256, c.vocabSize());
        assertFalse(c.tieWordEmbeddings());
        assertFalse(c.attentionBias());
        assertFalse(c.mlpBias());
        assertEquals(128000, c.bosTokenId());
        assertEquals(List.of(128001, 128008, 128009), c.eosTokenIds());
        assertEquals(DType.BF16, c.torchDtype());
        assertNull(c.slidingWindow());
    }

    @Test
    void qwen2_7b() {
        ModelConfig c = ModelConfig.parse(QWEN2_7B, null);
        assertEquals(Architecture.QWEN2, c.architecture());
        assertEquals(128, c.headDim());
        assertEquals(7, c.queriesPerKvHead());
        assertTrue(c.attentionBias(), "Qwen2 q/k/v always have a bias");
        assertTrue(c.qkvBias());
        assertFalse(c.oProjBias(), "Qwen2 o_proj has no bias");
        assertFalse(c.tieWordEmbeddings());
        assertEquals(1e-6, c.rmsNormEps());
        assertEquals(1_000_000.0, c.ropeTheta());
        assertNull(c.ropeScaling());
        assertEquals(List.of(151643), c.eosTokenIds());
        // transformers: sliding_window = sliding_window if use_sliding_window else None
        assertNull(c.slidingWindow());
        assertTrue(ModelConfig.parse(QWEN2_7B.replace("\"use_sliding_window\": false", "\"use_sliding_window\": true"),
                null).slidingWindow() == 131072);
        assertFalse(ModelConfig.parse(QWEN2_7B.replace("\"attention_dropout\"", "\"attention_bias\": false, \"a\""),
                null).attentionBias(), "an explicit attention_bias wins");
    }

    @Test
    void qwen25_05b_tiedWithGenerationConfigOverride() throws IOException {
        Files.writeString(dir.resolve("config.json"), QWEN25_05B);
        assertEquals(List.of(151643), ModelConfig.load(dir).eosTokenIds());
        Files.writeString(dir.resolve("generation_config.json"), QWEN25_INSTRUCT_GENERATION);
        ModelConfig c = ModelConfig.load(dir.resolve("config.json")); // the file itself works too
        assertTrue(c.tieWordEmbeddings());
        assertEquals(64, c.headDim());
        assertEquals(2, c.numKeyValueHeads());
        assertEquals(List.of(151645, 151643), c.eosTokenIds());
        assertEquals(151643, c.bosTokenId());
    }

    @Test
    void qwen3_06b() {
        ModelConfig c = ModelConfig.parse(QWEN3_06B, null);
        assertEquals(Architecture.QWEN3, c.architecture());
        assertEquals(128, c.headDim());
        assertEquals(2048, c.qDim());
        assertEquals(1024, c.kvDim());
        assertEquals(2, c.queriesPerKvHead());
        assertTrue(c.qkNorm(), "Qwen3 norms each head's q and k");
        assertFalse(c.attentionBias());
        assertFalse(c.qkvBias());
        assertFalse(c.oProjBias());
        assertFalse(c.mlpBias());
        assertTrue(c.tieWordEmbeddings());
        assertEquals(1e-6, c.rmsNormEps());
        assertEquals(1_000_000.0, c.ropeTheta());
        assertEquals(64, c.ropeInvFreq().length, "RoPE over head_dim, not hidden / heads");
        assertEquals(40960, c.maxPositionEmbeddings());
        assertEquals(151643, c.bosTokenId());
        assertEquals(List.of(151645), c.eosTokenIds());
        assertEquals(DType.BF16, c.torchDtype());
        assertNull(c.slidingWindow());
        assertFalse(ModelConfig.parse(QWEN2_7B, null).qkNorm(), "only Qwen3 has q/k norms");
    }

    @Test
    void qwen3AttentionBiasCoversOProjAndSlidingWindowReadsAsQwen2() {
        ModelConfig biased = ModelConfig.parse(QWEN3_06B.replace("\"attention_bias\": false",
                "\"attention_bias\": true"), null);
        assertTrue(biased.qkvBias());
        assertTrue(biased.oProjBias(), "Qwen3Attention: o_proj bias=config.attention_bias");
        assertFalse(biased.mlpBias());
        // Qwen3Config: sliding_window = sliding_window if use_sliding_window else None
        String windowed = QWEN3_06B.replace("\"sliding_window\": null", "\"sliding_window\": 4096");
        assertNull(ModelConfig.parse(windowed, null).slidingWindow());
        assertEquals(4096, ModelConfig.parse(windowed.replace("\"use_sliding_window\": false",
                "\"use_sliding_window\": true"), null).slidingWindow());
    }

    @Test
    void qwen3WithoutHeadDimTakesQwen3ConfigsDefault128() {
        // Qwen3Config.head_dim defaults to 128, whatever hidden_size / num_attention_heads (here 64) is
        String noHeadDim = QWEN3_06B.replace("\"head_dim\": 128,", "");
        assertEquals(128, ModelConfig.parse(noHeadDim, null).headDim());
        assertEquals(128, ModelConfig.parse(QWEN3_06B.replace("\"head_dim\": 128", "\"head_dim\": null"), null)
                .headDim());
        // without "architectures", model_type names it
        String byType = noHeadDim.replace("\"architectures\": [\"Qwen3ForCausalLM\"],", "");
        assertEquals(Architecture.QWEN3, ModelConfig.parse(byType, null).architecture());
        assertEquals(128, ModelConfig.parse(byType, null).headDim());
        // a Qwen2 config without head_dim divides
        assertEquals(64, ModelConfig.parse(noHeadDim.replace("Qwen3ForCausalLM", "Qwen2ForCausalLM"), null)
                .headDim());
    }

    @Test
    void generationConfigWithoutEosKeepsConfigs() {
        ModelConfig c = ModelConfig.parse(MISTRAL_7B_V01, "{\"temperature\": 0.7, \"eos_token_id\": null}");
        assertEquals(List.of(2), c.eosTokenIds());
    }

    @Test
    void mistral7bV01() {
        ModelConfig c = ModelConfig.parse(MISTRAL_7B_V01, null);
        assertEquals(Architecture.MISTRAL, c.architecture());
        assertEquals(4096, c.slidingWindow());
        assertEquals(10000.0, c.ropeTheta());
        assertEquals(128, c.headDim());
        assertFalse(c.attentionBias());
        assertEquals(1, c.bosTokenId());
        assertEquals(List.of(2), c.eosTokenIds());
    }

    @Test
    void mistralSlidesInEveryLayer() {
        ModelConfig c = ModelConfig.parse(MISTRAL_7B_V01, null); // sliding_window 4096, 32 layers
        for (int l = 0; l < c.numHiddenLayers(); l++) {
            assertEquals(4096, c.layerSlidingWindow(l));
        }
        assertEquals(4096, c.kvReleaseWindow(), "every layer slides: blocks past the window can go");
        assertTrue(c.slidingWindowBinds(4097));
        assertFalse(c.slidingWindowBinds(4096), "a window of max_seq_len keys never hides a key");
        // MistralConfig ignores layer_types: every layer still slides
        ModelConfig typed = ModelConfig.parse(MISTRAL_7B_V01.replace("\"sliding_window\": 4096",
                "\"sliding_window\": 4096, \"layer_types\": [\"full_attention\"]"), null);
        assertEquals(4096, typed.layerSlidingWindow(0));
        ModelConfig nemo = ModelConfig.parse(MISTRAL_NEMO, null); // sliding_window null
        assertNull(nemo.layerSlidingWindow(0));
        assertEquals(0, nemo.kvReleaseWindow());
    }

    @Test
    void qwen2SlidesFromMaxWindowLayersOrAsLayerTypesSay() {
        // Qwen2Config: "sliding_attention" if sliding_window is not None and i >= max_window_layers
        String on = QWEN2_7B.replace("\"use_sliding_window\": false", "\"use_sliding_window\": true");
        ModelConfig all28 = ModelConfig.parse(on, null); // max_window_layers 28 of 28 layers: none slides
        assertEquals(131072, all28.slidingWindow());
        for (int l = 0; l < 28; l++) {
            assertNull(all28.layerSlidingWindow(l));
        }
        assertFalse(all28.slidingWindowBinds(1 << 20));
        ModelConfig from20 = ModelConfig.parse(on.replace("\"max_window_layers\": 28", "\"max_window_layers\": 20"),
                null);
        assertNull(from20.layerSlidingWindow(19));
        assertEquals(131072, from20.layerSlidingWindow(20));
        assertEquals(131072, from20.layerSlidingWindow(27));
        assertEquals(0, from20.kvReleaseWindow(), "layers 0-19 read every key: no block may go");
        assertTrue(from20.slidingWindowBinds(131073));
        StringBuilder types = new StringBuilder("\"layer_types\": [");
        for (int l = 0; l < 28; l++) {
            types.append(l > 0 ? ", " : "").append(l % 2 == 0 ? "\"sliding_attention\"" : "\"full_attention\"");
        }
        ModelConfig alternating = ModelConfig.parse(on.replace("\"max_window_layers\": 28",
                "\"max_window_layers\": 28, " + types + "]"), null);
        assertEquals(131072, alternating.layerSlidingWindow(0));
        assertNull(alternating.layerSlidingWindow(1));
        // without use_sliding_window there is no window, whatever layer_types says
        ModelConfig off = ModelConfig.parse(QWEN2_7B.replace("\"max_window_layers\": 28",
                "\"max_window_layers\": 28, " + types + "]"), null);
        assertNull(off.layerSlidingWindow(0));
        assertBad(on.replace("\"max_window_layers\": 28", "\"layer_types\": [\"sliding_attention\"]"),
                "layer_types");
    }

    @Test
    void rocketKvIsRefusedWhereAWindowBinds() {
        ModelConfig c = ModelConfig.parse(MISTRAL_7B_V01, null);
        c.checkRocketKv(4096); // the window covers every query's whole prefix
        String beyond = assertThrows(IllegalArgumentException.class, () -> c.checkRocketKv(4097)).getMessage();
        assertEquals("RocketKV sparse attention is not available for a model with sliding-window attention: its "
                + "sliding_window (config.json) is 4096, shorter than max_seq_len 4097; drop the sparse attention "
                + "config (dense attention honours the window) or set max_seq_len <= 4096", beyond);
        ModelConfig.parse(MISTRAL_NEMO, null).checkRocketKv(1 << 20);
        ModelConfig.parse(QWEN2_7B, null).checkRocketKv(1 << 20);
    }

    @Test
    void explicitHeadDimDifferentFromHiddenOverHeads() {
        ModelConfig c = ModelConfig.parse(MISTRAL_NEMO, null);
        assertEquals(128, c.headDim());
        assertEquals(4096, c.qDim());
        assertEquals(5120, c.hiddenSize());
        assertNull(c.slidingWindow());
        assertEquals(64, c.ropeInvFreq().length);
    }

    @Test
    void nullHeadDimMeansHiddenOverHeads() {
        ModelConfig c = ModelConfig.parse(LLAMA_31_8B.replace("\"hidden_act\"", "\"head_dim\": null, \"hidden_act\""),
                null);
        assertEquals(128, c.headDim());
    }

    @Test
    void defaultsWhenFieldsAreAbsent() {
        String minimal = """
                {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                 "num_attention_heads": 4, "rms_norm_eps": 1e-6, "max_position_embeddings": 128, "vocab_size": 300}""";
        ModelConfig c = ModelConfig.parse(minimal, null);
        assertEquals(Architecture.LLAMA, c.architecture());
        assertEquals(4, c.numKeyValueHeads(), "num_key_value_heads defaults to num_attention_heads");
        assertEquals(16, c.headDim());
        assertEquals(10000.0, c.ropeTheta());
        assertNull(c.ropeScaling());
        assertFalse(c.tieWordEmbeddings());
        assertFalse(c.attentionBias());
        assertNull(c.bosTokenId());
        assertEquals(List.of(), c.eosTokenIds());
        assertNull(c.torchDtype());
    }

    @Test
    void newerDtypeKeyAndRopeTypeSpellings() {
        ModelConfig c = ModelConfig.parse(LLAMA_31_8B.replace("\"torch_dtype\": \"bfloat16\"", "\"dtype\": \"float16\"")
                .replace("\"rope_type\": \"llama3\"", "\"type\": \"llama3\""), null);
        assertEquals(DType.F16, c.torchDtype());
        assertEquals(RopeScaling.LLAMA3, c.ropeScaling().type());
        assertNull(ModelConfig.parse(MISTRAL_7B_V01.replace("\"rope_theta\"",
                "\"rope_scaling\": {\"rope_type\": \"default\"}, \"rope_theta\""), null).ropeScaling());
        assertNull(ModelConfig.parse(MISTRAL_7B_V01.replace("\"rope_theta\"", "\"rope_scaling\": null, \"rope_theta\""),
                null).ropeScaling());
    }

    @Test
    void ropeParametersOfTransformersV5() {
        String v5 = LLAMA_31_8B.replace("\"rope_scaling\"", "\"rope_parameters\"")
                .replace("\"rope_type\": \"llama3\"", "\"rope_type\": \"llama3\", \"rope_theta\": 250000.0")
                .replace("\"rope_theta\": 500000.0,", "");
        ModelConfig c = ModelConfig.parse(v5, null);
        assertEquals(250000.0, c.ropeTheta());
        assertEquals(RopeScaling.llama3(8, 1, 4, 8192), c.ropeScaling());
    }

    @Test
    void ropeScalingAndRopeParametersThatAgreeAreAccepted() {
        String both = LLAMA_31_8B.replace("\"rope_theta\": 500000.0,", "\"rope_theta\": 500000.0, \"rope_parameters\":"
                + " {\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0,"
                + " \"original_max_position_embeddings\": 8192, \"rope_theta\": 500000.0},");
        ModelConfig c = ModelConfig.parse(both, null);
        assertEquals(RopeScaling.llama3(8, 1, 4, 8192), c.ropeScaling());
        assertEquals(500000.0, c.ropeTheta());
    }

    @Test
    void ropeScalingAndRopeParametersThatDisagreeAreAnError() {
        String factor = LLAMA_31_8B.replace("\"rope_theta\": 500000.0,", "\"rope_theta\": 500000.0, \"rope_parameters\":"
                + " {\"rope_type\": \"llama3\", \"factor\": 32.0, \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0,"
                + " \"original_max_position_embeddings\": 8192},");
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> ModelConfig.parse(factor, null));
        assertTrue(e.getMessage().contains("rope_scaling") && e.getMessage().contains("rope_parameters")
                && e.getMessage().contains("factor=32.0") && e.getMessage().contains("factor=8.0"), e.getMessage());
        String none = LLAMA_31_8B.replace("\"rope_theta\": 500000.0,", "\"rope_theta\": 500000.0, \"rope_parameters\":"
                + " {\"rope_type\": \"default\"},");
        e = assertThrows(CheckpointFormatException.class, () -> ModelConfig.parse(none, null));
        assertTrue(e.getMessage().contains("none"), e.getMessage());
        String theta = LLAMA_31_8B.replace("\"rope_theta\": 500000.0,", "\"rope_theta\": 500000.0, \"rope_parameters\":"
                + " {\"rope_theta\": 10000.0},");
        e = assertThrows(CheckpointFormatException.class, () -> ModelConfig.parse(theta, null));
        assertTrue(e.getMessage().contains("rope_theta = 500000.0") && e.getMessage().contains("10000.0"),
                e.getMessage());
    }

    @Test
    void llamaAttentionBiasCoversOProj() {
        ModelConfig c = ModelConfig.parse(LLAMA_31_8B.replace("\"attention_bias\": false", "\"attention_bias\": true")
                .replace("\"mlp_bias\": false", "\"mlp_bias\": true"), null);
        assertTrue(c.qkvBias() && c.oProjBias() && c.mlpBias());
    }

    // ---- errors ----

    @Test
    void missingConfigNamesTheFolder() {
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> ModelConfig.load(dir));
        assertTrue(e.getMessage().contains(dir.toAbsolutePath().toString()) && e.getMessage().contains("config.json"),
                e.getMessage());
    }

    @Test
    void malformedJsonNamesTheFile() throws IOException {
        Files.writeString(dir.resolve("config.json"), LLAMA_31_8B.substring(0, 300));
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> ModelConfig.load(dir));
        assertTrue(e.getMessage().contains(dir.resolve("config.json").toAbsolutePath().toString()), e.getMessage());
        Files.writeString(dir.resolve("config.json"), "[1, 2]");
        assertThrows(CheckpointFormatException.class, () -> ModelConfig.load(dir));
    }

    @Test
    void malformedGenerationConfigNamesTheFile() throws IOException {
        Files.writeString(dir.resolve("config.json"), MISTRAL_7B_V01);
        Files.writeString(dir.resolve("generation_config.json"), "{\"eos_token_id\": [2, \"x\"]}");
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> ModelConfig.load(dir));
        assertTrue(e.getMessage().contains("generation_config.json") && e.getMessage().contains("eos_token_id"),
                e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"GPT2LMHeadModel", "Qwen3MoeForCausalLM", "LlamaForSequenceClassification"})
    void unsupportedArchitectureListsTheSupportedOnes(String arch) {
        UnsupportedModelException e = assertThrows(UnsupportedModelException.class,
                () -> ModelConfig.parse(LLAMA_31_8B.replace("LlamaForCausalLM", arch), null));
        assertTrue(e.getMessage().contains(arch), e.getMessage());
        assertTrue(e.getMessage().contains("LlamaForCausalLM") && e.getMessage().contains("MistralForCausalLM")
                && e.getMessage().contains("Qwen2ForCausalLM") && e.getMessage().contains("Qwen3ForCausalLM")
                && e.getMessage().contains("Phi3ForCausalLM"),
                e.getMessage());
    }

    @Test
    void unsupportedModelTypeWithoutArchitectures() {
        String noArch = MISTRAL_7B_V01.replace("\"architectures\": [\"MistralForCausalLM\"],", "");
        assertEquals(Architecture.MISTRAL, ModelConfig.parse(noArch, null).architecture());
        UnsupportedModelException e = assertThrows(UnsupportedModelException.class,
                () -> ModelConfig.parse(noArch.replace("\"mistral\"", "\"gemma\""), null));
        assertTrue(e.getMessage().contains("gemma") && e.getMessage().contains("qwen2"), e.getMessage());
        assertThrows(CheckpointFormatException.class,
                () -> ModelConfig.parse(noArch.replace("\"model_type\": \"mistral\",", ""), null));
    }

    @ParameterizedTest
    @ValueSource(strings = {"su", "proportional", "mrope"})
    void unsupportedRopeScalingTypes(String type) {
        String config = LLAMA_31_8B.replace("\"rope_type\": \"llama3\"", "\"rope_type\": \"" + type + "\"");
        UnsupportedModelException e = assertThrows(UnsupportedModelException.class,
                () -> ModelConfig.parse(config, null));
        assertTrue(e.getMessage().contains("\"" + type + "\"") && e.getMessage().contains("llama3")
                && e.getMessage().contains("yarn") && e.getMessage().contains("longrope"), e.getMessage());
    }

    @Test
    void unsupportedActivation() {
        UnsupportedModelException e = assertThrows(UnsupportedModelException.class,
                () -> ModelConfig.parse(MISTRAL_7B_V01.replace("\"silu\"", "\"gelu\""), null));
        assertTrue(e.getMessage().contains("gelu"), e.getMessage());
    }

    @Test
    void invalidValuesNameFieldAndValue() {
        assertBad(LLAMA_31_8B.replace("\"num_key_value_heads\": 8", "\"num_key_value_heads\": 5"),
                "num_key_value_heads = 5", "num_attention_heads = 32");
        assertBad(LLAMA_31_8B.replace("\"hidden_size\": 4096", "\"hidden_size\": 0"), "hidden_size = 0", "> 0");
        assertBad(LLAMA_31_8B.replace("\"num_hidden_layers\": 32", "\"num_hidden_layers\": -1"), "num_hidden_layers");
        assertBad(LLAMA_31_8B.replace("\"hidden_size\": 4096,", ""), "hidden_size", "required");
        assertBad(LLAMA_31_8B.replace("\"hidden_size\": 4096", "\"hidden_size\": \"4096\""), "hidden_size", "integer");
        assertBad(LLAMA_31_8B.replace("\"hidden_size\": 4096", "\"hidden_size\": 4096.5"), "hidden_size");
        assertBad(LLAMA_31_8B.replace("\"hidden_size\": 4096", "\"hidden_size\": 4100"), "head_dim", "4100");
        assertBad(LLAMA_31_8B.replace("\"rms_norm_eps\": 1e-05", "\"rms_norm_eps\": 0"), "rms_norm_eps = 0.0");
        assertBad(LLAMA_31_8B.replace("\"rope_theta\": 500000.0", "\"rope_theta\": \"big\""), "rope_theta");
        assertBad(LLAMA_31_8B.replace("128009]", "128256]"), "eos_token_id = 128256", "vocab_size = 128256");
        assertBad(LLAMA_31_8B.replace("\"bfloat16\"", "\"float4\""), "float4");
        assertBad(LLAMA_31_8B.replace("\"tie_word_embeddings\": false", "\"tie_word_embeddings\": \"no\""),
                "tie_word_embeddings");
        assertBad(LLAMA_31_8B.replace("\"factor\": 8.0,", ""), "factor");
        assertBad(LLAMA_31_8B.replace("\"high_freq_factor\": 4.0", "\"high_freq_factor\": 1.0"), "high_freq_factor");
        assertBad(MISTRAL_7B_V01.replace("\"sliding_window\": 4096", "\"sliding_window\": 0"), "sliding_window = 0");
    }

    @Test
    void compactConstructorValidates() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new ModelConfig(
                Architecture.LLAMA, 64, 128, 2, 4, 3, 16, 1e-5, 10000, null, 128, 300, false, false, false, null,
                List.of(), null, null));
        assertTrue(e.getMessage().contains("num_key_value_heads = 3"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new ModelConfig(Architecture.LLAMA, 64, 128, 2, 4, 2,
                15, 1e-5, 10000, null, 128, 300, false, false, false, null, List.of(), null, null));
        assertTrue(e.getMessage().contains("head_dim = 15"), e.getMessage());
    }

    private static void assertBad(String config, String... expected) {
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class,
                () -> ModelConfig.parse(config, null));
        assertTrue(e.getMessage().contains("config.json"), e.getMessage());
        for (String s : expected) {
            assertTrue(e.getMessage().contains(s), "message should contain <" + s + ">: " + e.getMessage());
        }
    }
}
