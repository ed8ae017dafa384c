package io.rocketkv.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.weights.CheckpointFormatException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/**
 * {@code quantization_config} in the forms ModelOpt, compressed-tensors (llm-compressor), AutoFP8 and transformers'
 * fine-grained fp8 write it: the per-tensor and per-channel fp8 ones are read, every other one is refused naming
 * the field and its value.
 */
class QuantizationConfigTest {

    private static QuantizationConfig parse(String quantizationConfig) {
        String json = ModelConfigTest.LLAMA_31_8B.substring(0, ModelConfigTest.LLAMA_31_8B.lastIndexOf('}'))
                + ", \"quantization_config\": " + quantizationConfig + "}";
        return ModelConfig.parse(json, null).quantization();
    }

    @Test
    void noQuantizationConfigIsNone() {
        QuantizationConfig q = ModelConfig.parse(ModelConfigTest.LLAMA_31_8B, null).quantization();
        assertEquals(QuantizationConfig.NONE, q);
        assertFalse(q.fp8());
        assertEquals(QuantizationConfig.NONE, parse("null"));
    }

    @ParameterizedTest(name = "{1}")
    @CsvSource(delimiter = '|', value = {
        "{\"quant_method\": \"modelopt\", \"quant_algo\": \"FP8\", \"kv_cache_quant_algo\": null, \"exclude_modules\": [\"lm_head\"]}"
                + "| fp8 e4m3 (modelopt FP8)",
        "{\"quant_method\": \"modelopt\", \"quantization\": {\"quant_algo\": \"FP8_PER_CHANNEL_PER_TOKEN\"}}"
                + "| fp8 e4m3 (modelopt FP8_PER_CHANNEL_PER_TOKEN)",
        "{\"quant_method\": \"fp8\", \"activation_scheme\": \"static\", \"ignored_layers\": [\"lm_head\"]}"
                + "| fp8 e4m3 (fp8 activation_scheme static)",
        "{\"quant_method\": \"compressed-tensors\", \"format\": \"float-quantized\", \"ignore\": [\"lm_head\"],"
                + " \"config_groups\": {\"group_0\": {\"targets\": [\"Linear\"],"
                + " \"weights\": {\"num_bits\": 8, \"type\": \"float\", \"strategy\": \"channel\", \"dynamic\": false},"
                + " \"input_activations\": {\"num_bits\": 8, \"type\": \"float\", \"strategy\": \"token\", \"dynamic\": true}}}}"
                + "| fp8 e4m3 (compressed-tensors float8 channel)",
        "{\"quant_method\": \"compressed-tensors\", \"config_groups\": {\"group_0\": {\"weights\":"
                + " {\"num_bits\": 8, \"type\": \"float\", \"strategy\": \"tensor\"}}}}"
                + "| fp8 e4m3 (compressed-tensors float8 tensor)",
    })
    void fp8ConfigsAreRead(String config, String described) {
        QuantizationConfig q = parse(config);
        assertTrue(q.fp8());
        assertEquals(described, q.toString());
    }

    @ParameterizedTest(name = "{1}")
    @CsvSource(delimiter = '|', value = {
        "{\"quant_method\": \"fp8\", \"fmt\": \"e4m3\", \"activation_scheme\": \"dynamic\", \"weight_block_size\": [128, 128]}"
                + "| quantization_config.weight_block_size = [128,128] asks for block-wise",
        "{\"quant_method\": \"modelopt\", \"quant_algo\": \"FP8_PB_WO\"}"
                + "| quantization_config.quant_algo \"FP8_PB_WO\" asks for block-wise",
        "{\"quant_method\": \"compressed-tensors\", \"config_groups\": {\"group_0\": {\"weights\":"
                + " {\"num_bits\": 8, \"type\": \"float\", \"strategy\": \"block\", \"block_structure\": [128, 128]}}}}"
                + "| quantization_config.config_groups.group_0.weights.strategy \"block\", block_structure [128,128] asks for block-wise",
        "{\"quant_method\": \"modelopt\", \"quant_algo\": \"NVFP4\"}| quantization_config.quant_algo \"NVFP4\" is not supported",
        "{\"quant_method\": \"gptq\", \"bits\": 4, \"group_size\": 128}| quantization_config.quant_method \"gptq\" is not supported",
        "{\"quant_method\": \"fp8\", \"fmt\": \"e5m2\"}| quantization_config.fmt \"e5m2\" (fp8 weights must be e4m3) is not supported",
        "{\"quant_method\": \"compressed-tensors\", \"config_groups\": {\"group_0\": {\"weights\":"
                + " {\"num_bits\": 8, \"type\": \"int\", \"strategy\": \"channel\"}}}}"
                + "| quantization_config.config_groups.group_0.weights num_bits 8, type \"int\"",
    })
    void otherLayoutsAreRefusedNamingTheField(String config, String inMessage) {
        UnsupportedModelException e = assertThrows(UnsupportedModelException.class, () -> parse(config));
        assertTrue(e.getMessage().contains(inMessage), e.getMessage());
        assertTrue(e.getMessage().contains("per-tensor or per-channel"), "says what is supported: " + e.getMessage());
    }

    @Test
    void malformedConfigsAreCheckpointErrors() {
        assertTrue(assertThrows(CheckpointFormatException.class, () -> parse("[1]")).getMessage()
                .contains("is not an object"));
        assertTrue(assertThrows(CheckpointFormatException.class, () -> parse("{\"bits\": 8}")).getMessage()
                .contains("no \"quant_method\""));
        assertTrue(assertThrows(CheckpointFormatException.class, () -> parse("{\"quant_method\": 8}")).getMessage()
                .contains("is not a string"));
    }
}
