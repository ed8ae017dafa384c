package io.rocketkv.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code cuda_graph_config}: TensorRT-LLM's keys, null to turn graphs off, sizes checked against max_batch_size. */
class CudaGraphConfigTest {

    @Test
    void defaultIsOnWithPowerOfTwoBuckets() {
        LlmArgs a = LlmArgs.fromYaml("max_batch_size: 12\n");
        assertTrue(a.cudaGraphConfig().enabled());
        assertEquals(List.of(1, 2, 4, 8, 12), a.cudaGraphBatchSizes());
    }

    @Test
    void nullTurnsGraphsOff() {
        LlmArgs a = LlmArgs.fromYaml("cuda_graph_config: null\n");
        assertFalse(a.cudaGraphConfig().enabled());
        assertEquals(List.of(), a.cudaGraphBatchSizes());
        assertEquals(a, LlmArgs.fromYaml(a.toYaml()), "round trip");
    }

    @Test
    void explicitSizesAndMaximum() {
        LlmArgs a = LlmArgs.fromYaml("""
                max_batch_size: 64
                cuda_graph_config:
                  batch_sizes: [16, 1, 4, 4]
                  enable_padding: false
                """);
        assertEquals(List.of(1, 4, 16), a.cudaGraphBatchSizes());
        assertFalse(a.cudaGraphConfig().enablePadding());
        assertEquals(a, LlmArgs.fromYaml(a.toYaml()), "round trip");
        LlmArgs m = LlmArgs.fromYaml("cuda_graph_config:\n  max_batch_size: 8\n");
        assertEquals(List.of(1, 2, 4, 8), m.cudaGraphBatchSizes());
        assertEquals(m, LlmArgs.fromYaml(m.toYaml()), "round trip");
    }

    @Test
    void errorsNameTheKey() {
        ConfigException tooBig = assertThrows(ConfigException.class,
                () -> LlmArgs.fromYaml("max_batch_size: 8\ncuda_graph_config:\n  batch_sizes: [4, 16]\n"));
        assertTrue(tooBig.getMessage().contains("cuda_graph_config.batch_sizes"), tooBig.getMessage());
        assertTrue(tooBig.getMessage().contains("max_batch_size (8)"), tooBig.getMessage());
        ConfigException unknown = assertThrows(ConfigException.class,
                () -> LlmArgs.fromYaml("cuda_graph_config:\n  padding: true\n"));
        assertTrue(unknown.getMessage().contains("cuda_graph_config.padding"), unknown.getMessage());
        ConfigException zero = assertThrows(ConfigException.class,
                () -> LlmArgs.fromYaml("cuda_graph_config:\n  batch_sizes: [0]\n"));
        assertTrue(zero.getMessage().contains("cuda_graph_config.batch_sizes"), zero.getMessage());
        ConfigException notList = assertThrows(ConfigException.class,
                () -> LlmArgs.fromYaml("cuda_graph_config:\n  batch_sizes: 4\n"));
        assertTrue(notList.getMessage().contains("list"), notList.getMessage());
    }

    @Test
    void javaBuilder() {
        LlmArgs off = LlmArgs.builder().cudaGraphConfig(CudaGraphConfig.disabled()).build();
        assertEquals(List.of(), off.cudaGraphBatchSizes());
        LlmArgs some = LlmArgs.builder().maxBatchSize(8).cudaGraphConfig(CudaGraphConfig.ofBatchSizes(List.of(2, 8))).build();
        assertEquals(List.of(2, 8), some.cudaGraphBatchSizes());
    }
}
