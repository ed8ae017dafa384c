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
    void aSlidingWindowShorterThanMaxSeqLenIsRefused() {
        ModelConfig c = ModelConfig.parse(MISTRAL_7B_V01, null); // sliding_window 4096, max_position_embeddings 32768
        c.checkSlidingWindow(1);
        c.checkSlidingWindow(4096); // the window covers every query's whole prefix: full attention is the same
        String beyond = assertThrows(IllegalArgumentException.class, () -> c.checkSlidingWindow(4097)).getMessage();
        assertEquals("the model's sliding_window (config.json) is 4096, shorter than max_seq_len 4097: set "
                + "max_seq_len <= 4096; sliding-window attention is not implemented yet", beyond);
        String unset = assertThrows(IllegalArgumentException.class, () -> c.checkSlidingWindow(32768)).getMessage();
        assertTrue(unset.contains("max_seq_len 32768 (max_seq_len is unset or equal to the model's "
                + "max_position_embeddings)"), unset);
        // no window (Mistral-Nemo's null; Qwen2 without use_sliding_window): any length
        ModelConfig.parse(MISTRAL_NEMO, null).checkSlidingWindow(1 << 20);
        ModelConfig.parse(QWEN2_7B, null).checkSlidingWindow(1 << 20);
        ModelConfig qwenWindowed = ModelConfig.parse(QWEN2_7B.replace("\"use_sliding_window\": false",
                "\"use_sliding_window\": true"), null); // sliding_window 131072
        qwenWindowed.checkSlidingWindow(131072);
        assertThrows(IllegalArgumentException.class, () -> qwenWindowed.checkSlidingWindow(131073));
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
    @ValueSource(strings = {"GPT2LMHeadModel", "Qwen3ForCausalLM", "LlamaForSequenceClassification"})
    void unsupportedArchitectureListsTheSupportedOnes(String arch) {
        UnsupportedModelException e = assertThrows(UnsupportedModelException.class,
                () -> ModelConfig.parse(LLAMA_31_8B.replace("LlamaForCausalLM", arch), null));
        assertTrue(e.getMessage().contains(arch), e.getMessage());
        assertTrue(e.getMessage().contains("LlamaForCausalLM") && e.getMessage().contains("MistralForCausalLM")
                && e.getMessage().contains("Qwen2ForCausalLM"), e.getMessage());
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
