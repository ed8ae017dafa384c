package io.rocketkv.core.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rocketkv.core.model.ModelConfig;
import io.rocketkv.core.model.QuantizationConfig;
import io.rocketkv.core.numeric.DType;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link Fp8CheckpointWriter} on models/tiny-random-llama (f32, 2 layers, untied lm_head). */
class Fp8CheckpointWriterTest {

    static final Path TINY = Path.of("../models/tiny-random-llama");
    private static final List<String> PROJECTIONS = List.of("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
            "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj");

    @TempDir
    Path dir;

    @Test
    void writesAModelOptStyleCheckpoint() throws IOException {
        Path out = dir.resolve("fp8");
        Fp8CheckpointWriter.Result r = Fp8CheckpointWriter.convert(TINY, out, false);
        try (SafeTensors in = SafeTensors.open(TINY); SafeTensors fp8 = SafeTensors.open(out)) {
            TreeSet<String> expected = new TreeSet<>(in.names());
            int layers = ModelConfig.load(TINY).numHiddenLayers();
            for (int l = 0; l < layers; l++) {
                for (String p : PROJECTIONS) {
                    expected.add("model.layers." + l + "." + p + ".weight_scale");
                }
            }
            assertEquals(expected, fp8.names(), "the input's tensors and one scale per projection");
            assertEquals(layers * PROJECTIONS.size(), r.quantized());
            assertEquals(in.names().size() - r.quantized(), r.kept());
            for (String n : in.names()) {
                TensorInfo t = in.info(n);
                if (n.endsWith("_proj.weight")) {
                    assertEquals(DType.F8_E4M3, fp8.info(n).dtype(), n);
                    assertArrayEquals(new long[0], fp8.info(n + "_scale").shape(), n + ": a per-tensor scale");
                    assertEquals(DType.F32, fp8.info(n + "_scale").dtype());
                } else {
                    assertEquals(t.dtype(), fp8.info(n).dtype(), n);
                    assertArrayEquals(in.data(n).toArray(ValueLayout.JAVA_BYTE),
                            fp8.data(n).toArray(ValueLayout.JAVA_BYTE), n + " is copied unchanged");
                }
            }
        }
        ModelConfig original = ModelConfig.load(TINY);
        ModelConfig converted = ModelConfig.load(out);
        assertEquals(new QuantizationConfig("modelopt", "FP8"), converted.quantization());
        assertEquals(original, new ModelConfig(converted.architecture(), converted.hiddenSize(),
                converted.intermediateSize(), converted.numHiddenLayers(), converted.numAttentionHeads(),
                converted.numKeyValueHeads(), converted.headDim(), converted.rmsNormEps(), converted.ropeTheta(),
                converted.ropeScaling(), converted.maxPositionEmbeddings(), converted.vocabSize(),
                converted.tieWordEmbeddings(), converted.attentionBias(), converted.mlpBias(), converted.bosTokenId(),
                converted.eosTokenIds(), converted.torchDtype(), converted.slidingWindow()), "the rest of config.json");
        JsonNode hf = new ObjectMapper().readTree(out.resolve(Fp8CheckpointWriter.HF_QUANT_CONFIG).toFile());
        assertEquals("FP8", hf.path("quantization").path("quant_algo").asText());
        assertEquals("lm_head", hf.path("quantization").path("exclude_modules").get(0).asText());
        for (String f : List.of("tokenizer.json", "tokenizer_config.json", "generation_config.json")) {
            assertArrayEquals(Files.readAllBytes(TINY.resolve(f)), Files.readAllBytes(out.resolve(f)), f);
        }
        assertEquals(List.of("generation_config.json", "tokenizer.json", "tokenizer_config.json"), r.copied());
        assertFalse(Files.exists(out.resolve("README.md")), "the model card describes the original");
        assertTrue(r.outputBytes() < r.inputBytes() / 2, "f32 projections shrink fourfold: " + r);
    }

    @Test
    void perChannelScalesHaveOneValuePerOutputRowAndTheConfigSaysSo() throws IOException {
        Path out = dir.resolve("fp8-pc");
        Fp8CheckpointWriter.convert(TINY, out, true);
        try (SafeTensors fp8 = SafeTensors.open(out)) {
            assertArrayEquals(new long[] {172}, fp8.info("model.layers.0.mlp.up_proj.weight_scale").shape());
            assertArrayEquals(new long[] {64}, fp8.info("model.layers.1.mlp.down_proj.weight_scale").shape());
            assertTrue(Fp8Weights.read(fp8, "model.layers.0.mlp.up_proj.weight").perChannel());
        }
        assertEquals("FP8_PER_CHANNEL_PER_TOKEN", ModelConfig.load(out).quantization().scheme());
    }

    @Test
    void shardsStayShardsWithANewIndex() throws IOException {
        Path sharded = Files.createDirectories(dir.resolve("sharded"));
        Files.copy(TINY.resolve("config.json"), sharded.resolve("config.json"));
        Map<String, String> weightMap = new TreeMap<>();
        SafeTensorsWriter a = new SafeTensorsWriter();
        SafeTensorsWriter b = new SafeTensorsWriter();
        try (SafeTensors in = SafeTensors.open(TINY)) {
            for (String n : in.names()) {
                TensorInfo t = in.info(n);
                boolean first = !n.startsWith("model.layers.1.");
                String file = first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
                (first ? a : b).add(n, t.dtype(), t.shape(), in.data(n).toArray(ValueLayout.JAVA_BYTE));
                weightMap.put(n, file);
            }
        }
        a.write(sharded.resolve("model-00001-of-00002.safetensors"));
        b.write(sharded.resolve("model-00002-of-00002.safetensors"));
        ObjectNode index = new ObjectMapper().createObjectNode();
        weightMap.forEach(index.putObject("weight_map")::put);
        new ObjectMapper().writeValue(sharded.resolve(ShardIndex.FILE_NAME).toFile(), index);

        Path whole = dir.resolve("whole-fp8");
        Path shards = dir.resolve("sharded-fp8");
        Fp8CheckpointWriter.convert(TINY, whole, false);
        Fp8CheckpointWriter.convert(sharded, shards, false);
        assertTrue(Files.exists(shards.resolve("model-00002-of-00002.safetensors")));
        assertFalse(Files.exists(shards.resolve(SafeTensors.SINGLE_FILE_NAME)));
        try (SafeTensors w = SafeTensors.open(whole); SafeTensors s = SafeTensors.open(shards)) {
            assertEquals(w.names(), s.names());
            assertEquals("model-00002-of-00002.safetensors",
                    s.info("model.layers.1.mlp.up_proj.weight_scale").file().getFileName().toString());
            for (String n : w.names()) {
                assertArrayEquals(w.data(n).toArray(ValueLayout.JAVA_BYTE), s.data(n).toArray(ValueLayout.JAVA_BYTE), n);
            }
        }
    }

    @Test
    void refusesWhatItCannotConvert() throws IOException {
        assertThrows(IllegalArgumentException.class, () -> Fp8CheckpointWriter.convert(TINY, TINY, false));
        Path out = dir.resolve("once");
        Fp8CheckpointWriter.convert(TINY, out, false);
        IllegalArgumentException again = assertThrows(IllegalArgumentException.class,
                () -> Fp8CheckpointWriter.convert(TINY, out, false));
        assertTrue(again.getMessage().contains("already holds a checkpoint"), again.getMessage());
        CheckpointFormatException twice = assertThrows(CheckpointFormatException.class,
                () -> Fp8CheckpointWriter.convert(out, dir.resolve("twice"), false));
        assertTrue(twice.getMessage().contains("already has a quantization_config"), twice.getMessage());

        Path nan = Files.createDirectories(dir.resolve("nan"));
        Files.copy(TINY.resolve("config.json"), nan.resolve("config.json"));
        float[] bad = new float[64 * 64];
        bad[5] = Float.NaN;
        new SafeTensorsWriter().add("model.layers.0.self_attn.q_proj.weight", DType.F32, new long[] {64, 64}, bad)
                .write(nan.resolve(SafeTensors.SINGLE_FILE_NAME));
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class,
                () -> Fp8CheckpointWriter.convert(nan, dir.resolve("nan-fp8"), false));
        assertTrue(e.getMessage().contains("model.layers.0.self_attn.q_proj.weight") && e.getMessage().contains("NaN"),
                e.getMessage());
    }
}
