package io.rocketkv.benchmarks.gguf;

import io.rocketkv.benchmarks.gguf.GgufWriter.TensorType;
import io.rocketkv.core.model.Architecture;
import io.rocketkv.core.model.ModelConfig;
import io.rocketkv.core.numeric.Bf16;
import io.rocketkv.core.numeric.Fp16;
import io.rocketkv.core.weights.SafeTensors;
import io.rocketkv.core.weights.TensorInfo;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;

/**
 * Converts a Hugging Face Llama checkpoint directory ({@code config.json}, {@code model.safetensors},
 * {@code tokenizer.json}) into one GGUF v3 file for llama.cpp's {@code llama} architecture, so llama.cpp can run
 * the very weights this project runs. Matrices are written as {@code --type} (f32, bf16 or f16; bf16 → f32 and
 * bf16 → bf16 are exact), norm weights always as f32 (llama.cpp multiplies by them in f32); q/k projection rows
 * are reordered for llama.cpp's RoPE ({@link RotaryRowOrder}).
 *
 * <pre>
 * java -cp benchmarks/target/benchmarks.jar io.rocketkv.benchmarks.gguf.HfToGguf --model DIR --out FILE.gguf [--type bf16]
 * </pre>
 */
public final class HfToGguf {

    private static final ValueLayout.OfFloat LE_FLOAT =
            ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private HfToGguf() {
    }

    public static void main(String[] args) throws IOException {
        Path model = null;
        Path out = null;
        TensorType type = TensorType.BF16;
        for (int i = 0; i < args.length; i++) {
            String value = i + 1 < args.length ? args[i + 1] : null;
            switch (args[i]) {
                case "--model" -> model = Path.of(required(args[i], value));
                case "--out" -> out = Path.of(required(args[i], value));
                case "--type" -> type = TensorType.valueOf(required(args[i], value).toUpperCase(Locale.ROOT));
                default -> throw new IllegalArgumentException("unknown argument " + args[i]
                        + "; usage: HfToGguf --model DIR --out FILE.gguf [--type f32|bf16|f16]");
            }
            i++;
        }
        if (model == null || out == null) {
            throw new IllegalArgumentException("usage: HfToGguf --model DIR --out FILE.gguf [--type f32|bf16|f16]");
        }
        long bytes = convert(model, out, type);
        System.out.printf("HfToGguf: %s -> %s (%s matrices, %.1f MB)%n", model, out, type, bytes / 1e6);
    }

    /** Writes {@code modelDir} as GGUF to {@code out} with matrices of {@code type}; returns the file's size. */
    static long convert(Path modelDir, Path out, TensorType type) throws IOException {
        ModelConfig c = ModelConfig.load(modelDir);
        if (c.architecture() != Architecture.LLAMA || c.attentionBias() || c.mlpBias() || c.ropeScaling() != null) {
            throw new IllegalArgumentException(modelDir + ": only Llama without biases and without rope_scaling is"
                    + " converted; this is " + c.architecture() + ", attention_bias " + c.attentionBias() + ", mlp_bias "
                    + c.mlpBias() + ", rope_scaling " + c.ropeScaling());
        }
        GgufWriter gguf = new GgufWriter()
                .putString("general.architecture", "llama")
                .putString("general.name", modelDir.getFileName().toString())
                .putUInt32("general.file_type", switch (type) { // llama_ftype: ALL_F32, MOSTLY_F16, MOSTLY_BF16
                    case F32 -> 0;
                    case F16 -> 1;
                    case BF16 -> 32;
                })
                .putUInt32("llama.vocab_size", c.vocabSize())
                .putUInt32("llama.context_length", c.maxPositionEmbeddings())
                .putUInt32("llama.embedding_length", c.hiddenSize())
                .putUInt32("llama.block_count", c.numHiddenLayers())
                .putUInt32("llama.feed_forward_length", c.intermediateSize())
                .putUInt32("llama.attention.head_count", c.numAttentionHeads())
                .putUInt32("llama.attention.head_count_kv", c.numKeyValueHeads())
                .putUInt32("llama.attention.key_length", c.headDim())
                .putUInt32("llama.attention.value_length", c.headDim())
                .putUInt32("llama.rope.dimension_count", c.headDim())
                .putFloat32("llama.rope.freq_base", c.ropeTheta())
                .putFloat32("llama.attention.layer_norm_rms_epsilon", c.rmsNormEps());
        GgufTokenizer.addMetadata(gguf, modelDir, c.vocabSize());
        try (SafeTensors st = SafeTensors.open(modelDir)) {
            Set<String> used = new HashSet<>();
            Weights w = new Weights(st, gguf, type, used);
            w.add("model.embed_tokens.weight", "token_embd.weight", c.vocabSize(), c.hiddenSize(), 0);
            for (int i = 0; i < c.numHiddenLayers(); i++) {
                String hf = "model.layers." + i + ".";
                String blk = "blk." + i + ".";
                w.add(hf + "input_layernorm.weight", blk + "attn_norm.weight", 1, c.hiddenSize(), 0);
                w.add(hf + "self_attn.q_proj.weight", blk + "attn_q.weight", c.qDim(), c.hiddenSize(), c.numAttentionHeads());
                w.add(hf + "self_attn.k_proj.weight", blk + "attn_k.weight", c.kvDim(), c.hiddenSize(), c.numKeyValueHeads());
                w.add(hf + "self_attn.v_proj.weight", blk + "attn_v.weight", c.kvDim(), c.hiddenSize(), 0);
                w.add(hf + "self_attn.o_proj.weight", blk + "attn_output.weight", c.hiddenSize(), c.qDim(), 0);
                w.add(hf + "post_attention_layernorm.weight", blk + "ffn_norm.weight", 1, c.hiddenSize(), 0);
                w.add(hf + "mlp.gate_proj.weight", blk + "ffn_gate.weight", c.intermediateSize(), c.hiddenSize(), 0);
                w.add(hf + "mlp.up_proj.weight", blk + "ffn_up.weight", c.intermediateSize(), c.hiddenSize(), 0);
                w.add(hf + "mlp.down_proj.weight", blk + "ffn_down.weight", c.hiddenSize(), c.intermediateSize(), 0);
            }
            w.add("model.norm.weight", "output_norm.weight", 1, c.hiddenSize(), 0);
            if (!c.tieWordEmbeddings()) { // tied: llama.cpp reads token_embd when output.weight is absent
                w.add("lm_head.weight", "output.weight", c.vocabSize(), c.hiddenSize(), 0);
            }
            Set<String> left = new TreeSet<>(st.names());
            left.removeAll(used);
            left.removeIf(n -> n.endsWith(".rotary_emb.inv_freq")); // recomputed from rope_theta by every engine
            if (!left.isEmpty()) {
                throw new IllegalArgumentException(modelDir + ": tensors with no GGUF counterpart: " + left);
            }
            return gguf.write(out);
        }
    }

    /** The checkpoint's tensors added to the GGUF file under llama.cpp's names, read when the file is written. */
    private record Weights(SafeTensors st, GgufWriter gguf, TensorType type, Set<String> used) {

        /** A {@code [rows, cols]} tensor ({@code rows} = 1: a vector); {@code ropeHeads} > 0 reorders q/k rows. */
        void add(String hfName, String ggufName, int rows, int cols, int ropeHeads) {
            TensorInfo info = st.require(hfName);
            long[] expected = rows == 1 ? new long[] {cols} : new long[] {rows, cols};
            if (!Arrays.equals(info.shape(), expected)) {
                throw new IllegalArgumentException(hfName + " has shape " + Arrays.toString(info.shape())
                        + ", config.json implies " + Arrays.toString(expected));
            }
            used.add(hfName);
            TensorType t = rows == 1 ? TensorType.F32 : type;
            long[] ne = rows == 1 ? new long[] {cols} : new long[] {cols, rows};
            gguf.addTensor(ggufName, ne, t, dst -> {
                float[] v = st.readFloats(hfName);
                if (ropeHeads > 0) {
                    v = RotaryRowOrder.toInterleaved(v, ropeHeads, rows / ropeHeads, cols);
                }
                encode(v, t, dst);
            });
        }
    }

    private static void encode(float[] v, TensorType type, MemorySegment dst) {
        switch (type) {
            case F32 -> MemorySegment.copy(v, 0, dst, LE_FLOAT, 0, v.length);
            case BF16 -> Bf16.encode(v, 0, dst, 0, v.length);
            case F16 -> Fp16.encode(v, 0, dst, 0, v.length);
        }
    }

    private static String required(String option, String value) {
        if (value == null) {
            throw new IllegalArgumentException(option + " needs a value");
        }
        return value;
    }
}
