package io.rocketkv.benchmarks.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rocketkv.benchmarks.gguf.GgufWriter.TensorType;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.testing.RandomCheckpoint;
import io.rocketkv.core.tokenizer.Tokenizer;
import io.rocketkv.core.weights.SafeTensors;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A tiny random checkpoint converted to GGUF and read back with the test's own reader. */
class HfToGgufTest {

    @TempDir
    Path dir;

    private static final RandomCheckpoint SPEC = RandomCheckpoint.builder().vocabSize(400).numLayers(2)
            .tieEmbeddings(false).ropeTheta(50000).rmsNormEps(1e-6).build();

    @Test
    void headerMetadataAndF32TensorsReadBack() throws Exception {
        Path model = SPEC.write(dir.resolve("model"));
        Path out = dir.resolve("model.gguf");
        long size = HfToGguf.convert(model, out, TensorType.F32);
        GgufReader g = GgufReader.read(out);
        assertEquals(Files.size(out), size);
        assertEquals(3, g.version());
        var m = g.metadata();
        assertEquals("llama", m.get("general.architecture"));
        assertEquals(0L, m.get("general.file_type"));
        assertEquals((long) SPEC.hiddenSize(), m.get("llama.embedding_length"));
        assertEquals((long) SPEC.numLayers(), m.get("llama.block_count"));
        assertEquals((long) SPEC.intermediateSize(), m.get("llama.feed_forward_length"));
        assertEquals((long) SPEC.numHeads(), m.get("llama.attention.head_count"));
        assertEquals((long) SPEC.numKvHeads(), m.get("llama.attention.head_count_kv"));
        assertEquals((long) SPEC.headDim(), m.get("llama.rope.dimension_count"));
        assertEquals((long) SPEC.maxPositions(), m.get("llama.context_length"));
        assertEquals(50000f, m.get("llama.rope.freq_base"));
        assertEquals(1e-6f, m.get("llama.attention.layer_norm_rms_epsilon"));

        Tokenizer tok = Tokenizer.load(model);
        List<?> tokens = (List<?>) m.get("tokenizer.ggml.tokens");
        List<?> types = (List<?>) m.get("tokenizer.ggml.token_type");
        assertEquals(400, tokens.size());
        assertEquals(400, types.size());
        for (int id = 0; id < 400; id++) {
            if (id < tok.vocabSize()) {
                assertEquals(tok.idToToken(id), tokens.get(id), "token " + id);
                assertEquals((long) (tok.isSpecial(id) ? GgufTokenizer.CONTROL : GgufTokenizer.NORMAL), types.get(id));
            } else {
                assertEquals((long) GgufTokenizer.UNUSED, types.get(id), "padding id " + id);
            }
        }
        var merges = new ObjectMapper().readTree(model.resolve("tokenizer.json").toFile()).path("model").path("merges");
        assertEquals(merges.size(), ((List<?>) m.get("tokenizer.ggml.merges")).size());
        assertEquals("gpt2", m.get("tokenizer.ggml.model"));
        assertEquals("gpt-2", m.get("tokenizer.ggml.pre"));
        assertEquals((long) tok.bosId(), m.get("tokenizer.ggml.bos_token_id"));
        assertEquals((long) tok.eosIds()[0], m.get("tokenizer.ggml.eos_token_id"));
        assertEquals(tok.encode("a", true)[0] == tok.bosId(), m.get("tokenizer.ggml.add_bos_token"));

        assertEquals(2 + 9 * SPEC.numLayers() + 1, g.tensors().size());
        g.tensors().values().forEach(t -> assertEquals(0, t.offset() % GgufWriter.ALIGNMENT, t.name()));
        assertEquals(0, g.dataStart() % GgufWriter.ALIGNMENT);
        try (SafeTensors st = SafeTensors.open(model)) {
            int h = SPEC.hiddenSize();
            assertTensor(g, "token_embd.weight", new long[] {h, 400}, st.readFloats("model.embed_tokens.weight"));
            assertTensor(g, "output.weight", new long[] {h, 400}, st.readFloats("lm_head.weight"));
            assertTensor(g, "blk.1.ffn_down.weight", new long[] {SPEC.intermediateSize(), h},
                    st.readFloats("model.layers.1.mlp.down_proj.weight"));
            assertTensor(g, "blk.0.attn_norm.weight", new long[] {h}, st.readFloats("model.layers.0.input_layernorm.weight"));
            int q = SPEC.numHeads() * SPEC.headDim();
            int kv = SPEC.numKvHeads() * SPEC.headDim();
            assertTensor(g, "blk.0.attn_q.weight", new long[] {h, q}, RotaryRowOrder.toInterleaved(
                    st.readFloats("model.layers.0.self_attn.q_proj.weight"), SPEC.numHeads(), SPEC.headDim(), h));
            assertTensor(g, "blk.1.attn_k.weight", new long[] {h, kv}, RotaryRowOrder.toInterleaved(
                    st.readFloats("model.layers.1.self_attn.k_proj.weight"), SPEC.numKvHeads(), SPEC.headDim(), h));
            assertTensor(g, "blk.1.attn_v.weight", new long[] {h, kv}, st.readFloats("model.layers.1.self_attn.v_proj.weight"));
        }
    }

    @Test
    void bf16CheckpointToBf16KeepsTheBytesAndNormsBecomeF32() throws Exception {
        RandomCheckpoint spec = RandomCheckpoint.builder().dtype(DType.BF16).tieEmbeddings(true).build();
        Path model = spec.write(dir.resolve("bf16"));
        Path out = dir.resolve("bf16.gguf");
        HfToGguf.convert(model, out, TensorType.BF16);
        GgufReader g = GgufReader.read(out);
        assertEquals(32L, g.metadata().get("general.file_type"));
        assertTrue(!g.tensors().containsKey("output.weight"), "tied embeddings: llama.cpp reads token_embd");
        try (SafeTensors st = SafeTensors.open(model)) {
            for (String[] pair : new String[][] {{"token_embd.weight", "model.embed_tokens.weight"},
                    {"blk.0.ffn_gate.weight", "model.layers.0.mlp.gate_proj.weight"},
                    {"blk.1.attn_output.weight", "model.layers.1.self_attn.o_proj.weight"}}) {
                assertEquals(TensorType.BF16.id, g.tensors().get(pair[0]).type(), pair[0]);
                byte[] want = st.data(pair[1]).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
                byte[] got = new byte[want.length];
                g.data(pair[0], want.length).get(got);
                assertArrayEquals(want, got, pair[0]);
            }
            assertTensor(g, "output_norm.weight", new long[] {spec.hiddenSize()}, st.readFloats("model.norm.weight"));
        }
    }

    @Test
    void unsupportedCheckpointsAreRefusedByName() throws Exception {
        Path biased = RandomCheckpoint.builder().attentionBias(true).build().write(dir.resolve("biased"));
        var e = assertThrows(IllegalArgumentException.class,
                () -> HfToGguf.convert(biased, dir.resolve("a.gguf"), TensorType.F32));
        assertTrue(e.getMessage().contains("attention_bias true"), e.getMessage());

        Path model = SPEC.write(dir.resolve("metaspace"));
        ObjectMapper json = new ObjectMapper();
        ObjectNode t = (ObjectNode) json.readTree(model.resolve("tokenizer.json").toFile());
        t.putObject("pre_tokenizer").put("type", "Metaspace");
        json.writeValue(model.resolve("tokenizer.json").toFile(), t);
        e = assertThrows(IllegalArgumentException.class, () -> HfToGguf.convert(model, dir.resolve("b.gguf"), TensorType.F32));
        assertTrue(e.getMessage().contains("pre_tokenizer"), e.getMessage());
    }

    /** An F32 tensor: its shape (fastest dimension first), its type and every value. */
    private static void assertTensor(GgufReader g, String name, long[] ne, float[] want) {
        GgufReader.Info t = g.tensors().get(name);
        assertArrayEquals(ne, t.ne(), name);
        assertEquals(TensorType.F32.id, t.type(), name);
        ByteBuffer b = g.data(name, 4L * want.length);
        float[] got = new float[want.length];
        b.asFloatBuffer().get(got);
        assertArrayEquals(want, got, name);
    }
}
