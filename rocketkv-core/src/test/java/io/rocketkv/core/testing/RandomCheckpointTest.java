package io.rocketkv.core.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rocketkv.core.model.Architecture;
import io.rocketkv.core.model.ModelConfig;
import io.rocketkv.core.model.RopeScaling;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.weights.SafeTensors;
import io.rocketkv.core.weights.TensorInfo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RandomCheckpointTest {

    @TempDir
    Path dir;

    @Test
    void tinyLlamaReadsBack() throws IOException {
        RandomCheckpoint spec = RandomCheckpoint.tiny();
        spec.write(dir);
        ModelConfig c = ModelConfig.load(dir);
        assertEquals(Architecture.LLAMA, c.architecture());
        assertEquals(spec.hiddenSize(), c.hiddenSize());
        assertEquals(spec.intermediateSize(), c.intermediateSize());
        assertEquals(spec.numLayers(), c.numHiddenLayers());
        assertEquals(spec.numHeads(), c.numAttentionHeads());
        assertEquals(spec.numKvHeads(), c.numKeyValueHeads());
        assertEquals(spec.headDim(), c.headDim());
        assertEquals(spec.vocabSize(), c.vocabSize());
        assertEquals(TinyBpeTokenizer.bosId(), c.bosTokenId());
        assertEquals(List.of(TinyBpeTokenizer.eosId()), c.eosTokenIds());
        assertEquals(DType.F32, c.torchDtype());
        assertFalse(c.tieWordEmbeddings());
        try (SafeTensors st = SafeTensors.open(dir)) {
            assertEquals(expectedShapes(c), shapes(st));
            for (String name : st.names()) {
                assertEquals(DType.F32, st.info(name).dtype(), name);
            }
            float[] q = st.readFloats("model.layers.0.self_attn.q_proj.weight");
            assertEquals(1 / Math.sqrt(64), std(q), 0.01, "matrices ~ N(0, 1/sqrt(fan_in))");
            float[] down = st.readFloats("model.layers.1.mlp.down_proj.weight");
            assertEquals(1 / Math.sqrt(128), std(down), 0.01);
            float[] norm = st.readFloats("model.norm.weight");
            assertEquals(1.0, mean(norm), 0.03, "norm weights around 1");
            assertEquals(Map.of("format", "pt"), st.metadata());
        }
    }

    @Test
    void qwen2Bf16TiedWithBias() throws IOException {
        RandomCheckpoint.builder().architecture(Architecture.QWEN2).dtype(DType.BF16).tieEmbeddings(true)
                .numLayers(3).numHeads(6).numKvHeads(2).headDim(8).hiddenSize(48).vocabSize(300).rmsNormEps(1e-6)
                .ropeTheta(1e6).build().write(dir);
        ModelConfig c = ModelConfig.load(dir);
        assertEquals(Architecture.QWEN2, c.architecture());
        assertTrue(c.tieWordEmbeddings() && c.qkvBias() && !c.oProjBias());
        assertEquals(8, c.headDim());
        assertEquals(1e6, c.ropeTheta());
        assertEquals(DType.BF16, c.torchDtype());
        try (SafeTensors st = SafeTensors.open(dir)) {
            assertEquals(expectedShapes(c), shapes(st));
            assertFalse(st.contains("lm_head.weight"));
            assertTrue(st.contains("model.layers.2.self_attn.k_proj.bias"));
            assertEquals(DType.BF16, st.info("model.embed_tokens.weight").dtype());
        }
    }

    @Test
    void everyRopeScalingKindRoundTripsThroughConfigJson() throws IOException {
        List<RopeScaling> kinds = List.of(new RopeScaling.Linear(4), new RopeScaling.Dynamic(2),
                new RopeScaling.Yarn(8, 64, null, 32, 1, null, null, true),
                new RopeScaling.Yarn(4, 128, 1.1, 16, 2, 0.7, 1.0, false),
                new RopeScaling.LongRope(List.of(1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7),
                        List.of(2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0), 4, null, 128),
                RopeScaling.llama3(8, 1, 4, 64));
        for (RopeScaling scaling : kinds) {
            Path d = dir.resolve("rope-" + kinds.indexOf(scaling));
            RandomCheckpoint.builder().ropeScaling(scaling).maxPositions(512).build().write(d);
            assertEquals(scaling, ModelConfig.load(d).ropeScaling());
        }
    }

    @Test
    void llamaWithLlama3RopeAndBiasesInF16() throws IOException {
        RopeScaling scaling = RopeScaling.llama3(8, 1, 4, 64);
        RandomCheckpoint.builder().dtype(DType.F16).attentionBias(true).ropeScaling(scaling).ropeTheta(500000)
                .maxPositions(512).build().write(dir);
        ModelConfig c = ModelConfig.load(dir);
        assertEquals(scaling, c.ropeScaling());
        assertTrue(c.oProjBias());
        try (SafeTensors st = SafeTensors.open(dir)) {
            assertEquals(expectedShapes(c), shapes(st));
            assertTrue(st.contains("model.layers.0.self_attn.o_proj.bias"));
        }
    }

    @Test
    void qwen3WithQkNormsAndAttentionBiasOnQkvAndO() throws IOException {
        RandomCheckpoint.builder().architecture(Architecture.QWEN3).dtype(DType.BF16).attentionBias(true)
                .hiddenSize(64).numHeads(4).numKvHeads(2).headDim(32).build().write(dir);
        ModelConfig c = ModelConfig.load(dir);
        assertEquals(Architecture.QWEN3, c.architecture());
        assertTrue(c.qkNorm() && c.qkvBias() && c.oProjBias());
        assertEquals(32, c.headDim());
        try (SafeTensors st = SafeTensors.open(dir)) {
            assertEquals(expectedShapes(c), shapes(st));
            float[] qNorm = st.readFloats("model.layers.1.self_attn.q_norm.weight");
            assertEquals(1.0, mean(qNorm), 0.15, "q/k norm weights around 1");
            assertTrue(std(qNorm) > 0.1, "and spread: " + std(qNorm));
            assertFalse(java.util.Arrays.equals(qNorm, st.readFloats("model.layers.1.self_attn.k_norm.weight")));
        }
    }

    @Test
    void mistral() throws IOException {
        RandomCheckpoint.builder().architecture(Architecture.MISTRAL).numKvHeads(1).build().write(dir);
        ModelConfig c = ModelConfig.load(dir);
        assertEquals(Architecture.MISTRAL, c.architecture());
        assertEquals(4, c.queriesPerKvHead());
        try (SafeTensors st = SafeTensors.open(dir)) {
            assertEquals(expectedShapes(c), shapes(st));
        }
    }

    @Test
    void sameSeedSameBytesOtherSeedOtherWeights() throws IOException {
        RandomCheckpoint.builder().seed(7).build().write(dir.resolve("a"));
        RandomCheckpoint.builder().seed(7).build().write(dir.resolve("b"));
        RandomCheckpoint.builder().seed(8).build().write(dir.resolve("c"));
        RandomCheckpoint.builder().seed(7).numLayers(3).build().write(dir.resolve("d"));
        byte[] a = Files.readAllBytes(dir.resolve("a/model.safetensors"));
        assertArrayEquals(a, Files.readAllBytes(dir.resolve("b/model.safetensors")));
        assertFalse(java.util.Arrays.equals(a, Files.readAllBytes(dir.resolve("c/model.safetensors"))));
        try (SafeTensors sa = SafeTensors.open(dir.resolve("a")); SafeTensors sd = SafeTensors.open(dir.resolve("d"))) {
            assertArrayEquals(sa.readFloats("model.layers.1.mlp.up_proj.weight"),
                    sd.readFloats("model.layers.1.mlp.up_proj.weight"), "per-tensor streams");
        }
    }

    @Test
    void tokenizerJsonIsAByteLevelBpe() throws IOException {
        RandomCheckpoint.tiny().write(dir);
        ObjectMapper json = new ObjectMapper();
        JsonNode t = json.readTree(dir.resolve("tokenizer.json").toFile());
        assertEquals("BPE", t.at("/model/type").asText());
        assertEquals("ByteLevel", t.at("/pre_tokenizer/type").asText());
        assertFalse(t.at("/pre_tokenizer/add_prefix_space").asBoolean());
        assertTrue(t.at("/pre_tokenizer/use_regex").asBoolean() && t.at("/pre_tokenizer/trim_offsets").asBoolean());
        assertEquals("ByteLevel", t.at("/decoder/type").asText());
        assertEquals("TemplateProcessing", t.at("/post_processor/type").asText());

        JsonNode vocab = t.at("/model/vocab");
        assertEquals(256 + TinyBpeTokenizer.MERGES.size(), vocab.size());
        assertEquals(32, vocab.get("Ġ").asInt(), "space");
        assertEquals(10, vocab.get("Ċ").asInt(), "newline");
        assertEquals('a', vocab.get("a").asInt());
        Set<Integer> ids = new HashSet<>();
        vocab.forEach(id -> ids.add(id.asInt()));
        assertEquals(vocab.size(), ids.size(), "ids unique");
        Set<String> symbols = new HashSet<>(List.of(TinyBpeTokenizer.byteSymbols()));
        assertEquals(256, symbols.size(), "bytes_to_unicode is a bijection");
        for (JsonNode merge : t.at("/model/merges")) {
            String[] parts = merge.asText().split(" ");
            assertTrue(vocab.has(parts[0]) && vocab.has(parts[1]) && vocab.has(parts[0] + parts[1]), merge.asText());
        }

        List<String> added = new ArrayList<>();
        for (JsonNode a : t.get("added_tokens")) {
            assertTrue(a.get("special").asBoolean());
            added.add(a.get("id").asInt() + "=" + a.get("content").asText());
        }
        ModelConfig c = ModelConfig.load(dir);
        assertEquals(List.of(c.bosTokenId() + "=" + TinyBpeTokenizer.BOS, c.eosTokenIds().get(0) + "="
                + TinyBpeTokenizer.EOS), added);
        assertTrue(c.vocabSize() >= TinyBpeTokenizer.size());

        JsonNode tc = json.readTree(dir.resolve("tokenizer_config.json").toFile());
        assertEquals(TinyBpeTokenizer.BOS, tc.get("bos_token").asText());
        assertEquals(TinyBpeTokenizer.EOS, tc.get("eos_token").asText());
        assertTrue(tc.get("add_bos_token").asBoolean());
        assertEquals(RandomCheckpoint.tiny().maxPositions(), tc.get("model_max_length").asInt());
        assertEquals(TinyBpeTokenizer.EXAMPLE_IDS.size(), TinyBpeTokenizer.EXAMPLE_TOKENS.size());
        Map<String, Integer> v = TinyBpeTokenizer.vocab();
        for (int i = 1; i < TinyBpeTokenizer.EXAMPLE_IDS.size(); i++) {
            assertEquals(TinyBpeTokenizer.EXAMPLE_IDS.get(i), v.get(TinyBpeTokenizer.EXAMPLE_TOKENS.get(i)));
        }
    }

    @Test
    void builderRejectsImpossibleSpecs() {
        assertThrows(IllegalArgumentException.class, () -> RandomCheckpoint.builder().vocabSize(100).build());
        assertThrows(IllegalArgumentException.class, () -> RandomCheckpoint.builder().numKvHeads(3).build());
        assertThrows(IllegalArgumentException.class, () -> RandomCheckpoint.builder().dtype(DType.I8).build());
        assertThrows(IllegalArgumentException.class,
                () -> RandomCheckpoint.builder().architecture(Architecture.QWEN2).attentionBias(false).build());
        assertThrows(IllegalArgumentException.class,
                () -> RandomCheckpoint.builder().architecture(Architecture.MISTRAL).attentionBias(true).build());
    }

    /** The tensor names and shapes transformers expects for {@code c}. */
    static Map<String, List<Long>> expectedShapes(ModelConfig c) {
        long h = c.hiddenSize();
        long q = c.qDim();
        long kv = c.kvDim();
        long ff = c.intermediateSize();
        Map<String, List<Long>> m = new TreeMap<>();
        m.put("model.embed_tokens.weight", List.of((long) c.vocabSize(), h));
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            String p = "model.layers." + i + ".";
            m.put(p + "input_layernorm.weight", List.of(h));
            m.put(p + "self_attn.q_proj.weight", List.of(q, h));
            m.put(p + "self_attn.k_proj.weight", List.of(kv, h));
            m.put(p + "self_attn.v_proj.weight", List.of(kv, h));
            m.put(p + "self_attn.o_proj.weight", List.of(h, q));
            if (c.qkvBias()) {
                m.put(p + "self_attn.q_proj.bias", List.of(q));
                m.put(p + "self_attn.k_proj.bias", List.of(kv));
                m.put(p + "self_attn.v_proj.bias", List.of(kv));
            }
            if (c.oProjBias()) {
                m.put(p + "self_attn.o_proj.bias", List.of(h));
            }
            if (c.qkNorm()) {
                m.put(p + "self_attn.q_norm.weight", List.of((long) c.headDim()));
                m.put(p + "self_attn.k_norm.weight", List.of((long) c.headDim()));
            }
            m.put(p + "post_attention_layernorm.weight", List.of(h));
            m.put(p + "mlp.gate_proj.weight", List.of(ff, h));
            m.put(p + "mlp.up_proj.weight", List.of(ff, h));
            m.put(p + "mlp.down_proj.weight", List.of(h, ff));
        }
        m.put("model.norm.weight", List.of(h));
        if (!c.tieWordEmbeddings()) {
            m.put("lm_head.weight", List.of((long) c.vocabSize(), h));
        }
        return m;
    }

    static Map<String, List<Long>> shapes(SafeTensors st) {
        Map<String, List<Long>> m = new TreeMap<>();
        for (String name : st.names()) {
            TensorInfo t = st.info(name);
            m.put(name, java.util.Arrays.stream(t.shape()).boxed().toList());
        }
        return m;
    }

    private static double mean(float[] v) {
        double s = 0;
        for (float x : v) {
            s += x;
        }
        return s / v.length;
    }

    private static double std(float[] v) {
        double m = mean(v);
        double s = 0;
        for (float x : v) {
            s += (x - m) * (x - m);
        }
        return Math.sqrt(s / v.length);
    }
}
