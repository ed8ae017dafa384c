package io.rocketkv.core.testing;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.rocketkv.core.model.Architecture;
import io.rocketkv.core.model.RopeScaling;
import io.rocketkv.core.numeric.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The small random-weight checkpoints and the prompts that the CPU engine is checked against
 * Hugging Face transformers with (expected values in {@code src/test/resources/parity/expected.json},
 * made by {@code tools/hf_reference/make_expectations.py}). Regenerated deterministically; the expected
 * file records each model.safetensors' SHA-256 so a changed generator is caught.
 *
 * <p>Run as a main to write them for the reference script: {@code ParityCheckpoints OUT_DIR}.
 */
public final class ParityCheckpoints {

    /** Llama with GQA (4 q / 2 kv heads) and llama3 rope scaling (original context 64, prompts to 324). */
    public static final RandomCheckpoint LLAMA = RandomCheckpoint.builder()
            .architecture(Architecture.LLAMA).vocabSize(320).hiddenSize(64).intermediateSize(172).numLayers(2)
            .numHeads(4).numKvHeads(2).headDim(16).dtype(DType.F32).tieEmbeddings(false).attentionBias(false)
            .ropeTheta(500000).ropeScaling(RopeScaling.llama3(8, 1, 4, 64)).maxPositions(1024).seed(11).build();

    /** Qwen2 with q/k/v bias and tied embeddings. */
    public static final RandomCheckpoint QWEN2 = RandomCheckpoint.builder()
            .architecture(Architecture.QWEN2).vocabSize(320).hiddenSize(64).intermediateSize(128).numLayers(2)
            .numHeads(4).numKvHeads(2).headDim(16).dtype(DType.F32).tieEmbeddings(true).attentionBias(true)
            .ropeTheta(1_000_000).maxPositions(1024).seed(12).build();

    /** Mistral-style MQA (one KV head), explicit head_dim 32 != hidden / heads, bf16 weights. */
    public static final RandomCheckpoint MISTRAL = RandomCheckpoint.builder()
            .architecture(Architecture.MISTRAL).vocabSize(320).hiddenSize(96).intermediateSize(160).numLayers(2)
            .numHeads(4).numKvHeads(1).headDim(32).dtype(DType.BF16).tieEmbeddings(false).attentionBias(false)
            .ropeTheta(10000).maxPositions(1024).seed(13).build();

    /**
     * Qwen3: per-head q/k RMSNorm before RoPE, GQA (4 q / 2 kv heads), explicit head_dim 32 != hidden / heads (16),
     * no attention bias, tied embeddings.
     */
    public static final RandomCheckpoint QWEN3 = RandomCheckpoint.builder()
            .architecture(Architecture.QWEN3).vocabSize(320).hiddenSize(64).intermediateSize(96).numLayers(2)
            .numHeads(4).numKvHeads(2).headDim(32).dtype(DType.F32).tieEmbeddings(true).attentionBias(false)
            .ropeTheta(1_000_000).rmsNormEps(1e-6).maxPositions(1024).seed(14).build();

    /** Llama with linear rope scaling (position interpolation, factor 4). */
    public static final RandomCheckpoint LLAMA_LINEAR = RandomCheckpoint.builder()
            .architecture(Architecture.LLAMA).vocabSize(320).hiddenSize(64).intermediateSize(172).numLayers(2)
            .numHeads(4).numKvHeads(2).headDim(16).dtype(DType.F32).tieEmbeddings(false).attentionBias(false)
            .ropeTheta(10000).ropeScaling(new RopeScaling.Linear(4)).maxPositions(1024).seed(14).build();

    /** Qwen2 with YaRN (factor 8 over an original context of 64, its defaults: attention factor 1 + 0.1 ln 8). */
    public static final RandomCheckpoint QWEN2_YARN = RandomCheckpoint.builder()
            .architecture(Architecture.QWEN2).vocabSize(320).hiddenSize(64).intermediateSize(128).numLayers(2)
            .numHeads(4).numKvHeads(2).headDim(16).dtype(DType.F32).tieEmbeddings(true).attentionBias(true)
            .ropeTheta(1_000_000).ropeScaling(new RopeScaling.Yarn(8, 64, null, 32, 1, null, null, true))
            .maxPositions(512).seed(15).build();

    /**
     * Llama with dynamic NTK scaling (factor 4) and max_position_embeddings 64: the 57-token prompt crosses 64 while
     * it decodes, the 300-token one is past it from the start, so every decode step has new frequencies.
     */
    public static final RandomCheckpoint LLAMA_DYNAMIC = RandomCheckpoint.builder()
            .architecture(Architecture.LLAMA).vocabSize(320).hiddenSize(64).intermediateSize(172).numLayers(2)
            .numHeads(4).numKvHeads(2).headDim(16).dtype(DType.F32).tieEmbeddings(false).attentionBias(false)
            .ropeTheta(10000).ropeScaling(new RopeScaling.Dynamic(4)).maxPositions(64).seed(16).build();

    /**
     * Phi-3 (a Phi-3 config.json: no head_dim; sliding_window 4096, no shorter than max_position_embeddings as in
     * Phi-3.5-mini, so that it never binds, not even at the default max_seq_len, where RocketKV would be refused):
     * fused qkv_proj / gate_up_proj, GQA (4 q / 2 kv heads), RoPE on the first 12 of each head's 16 channels
     * ({@code partial_rotary_factor} 0.75, as Phi-4-mini).
     */
    public static final RandomCheckpoint PHI3 = RandomCheckpoint.builder()
            .architecture(Architecture.PHI3).vocabSize(320).hiddenSize(64).intermediateSize(128).numLayers(2)
            .numHeads(4).numKvHeads(2).headDim(16).dtype(DType.F32).tieEmbeddings(false).ropeTheta(10000)
            .partialRotaryFactor(0.75).slidingWindow(4096).maxPositions(4096).seed(17).build();

    /**
     * Phi-3 with longrope over an original context of 64 (factor 1024 / 64 = 16, left to its default, so attention
     * factor sqrt(1 + ln 16 / ln 64)): the 10-token prompt stays on the short factors, the 57-token one crosses 64
     * while it decodes, the 300-token one is on the long factors from the start; {@code partial_rotary_factor} 0.5
     * (4 factors of each kind), tied embeddings (as Phi-4-mini).
     */
    public static final RandomCheckpoint PHI3_LONGROPE = RandomCheckpoint.builder()
            .architecture(Architecture.PHI3).vocabSize(320).hiddenSize(64).intermediateSize(96).numLayers(2)
            .numHeads(4).numKvHeads(2).headDim(16).dtype(DType.F32).tieEmbeddings(true).ropeTheta(10000)
            .partialRotaryFactor(0.5)
            .ropeScaling(new RopeScaling.LongRope(List.of(1.0, 1.1, 1.3, 1.6), List.of(1.2, 2.5, 6.0, 16.0), 16, null,
                    64))
            .maxPositions(1024).seed(18).build();

    public static Map<String, RandomCheckpoint> all() {
        Map<String, RandomCheckpoint> m = new LinkedHashMap<>();
        m.put("llama-gqa-rope-llama3", LLAMA);
        m.put("qwen2-bias-tied", QWEN2);
        m.put("mistral-mqa-bf16", MISTRAL);
        m.put("qwen3-qknorm-gqa", QWEN3);
        m.put("llama-rope-linear", LLAMA_LINEAR);
        m.put("qwen2-rope-yarn", QWEN2_YARN);
        m.put("llama-rope-dynamic", LLAMA_DYNAMIC);
        m.put("phi3-fused-partial-rotary", PHI3);
        m.put("phi3-longrope-partial-tied", PHI3_LONGROPE);
        return m;
    }

    /**
     * {@link #all()} but those whose RoPE frequencies depend on the sequence's length ({@code dynamic},
     * {@code longrope}), which the CUDA backend refuses.
     */
    public static Map<String, RandomCheckpoint> forCuda() {
        Map<String, RandomCheckpoint> m = all();
        m.values().removeIf(c -> c.ropeScaling() != null && c.ropeScaling().dependsOnLength());
        return m;
    }

    /** Prompts of 10, 57 and 300 tokens, ids below the tokenizer's special tokens. */
    public static List<int[]> prompts() {
        SplittableRandom r = new SplittableRandom(2026);
        return List.of(r.ints(10, 0, 296).toArray(), r.ints(57, 0, 296).toArray(), r.ints(300, 0, 296).toArray());
    }

    private ParityCheckpoints() {
    }

    public static void main(String[] args) throws IOException {
        Map<String, Writer> writers = new LinkedHashMap<>();
        all().forEach((name, c) -> writers.put(name, c::write));
        writeAll(Path.of(args[0]), writers, prompts());
    }

    /** Writes one checkpoint folder. */
    @FunctionalInterface
    interface Writer {
        Path write(Path dir) throws IOException;
    }

    /**
     * Writes each checkpoint into a folder of its name under {@code out}, and {@code prompts.json} ({"prompts":
     * [[ids...], ...]}): the input of {@code tools/hf_reference/make_expectations.py}.
     */
    static void writeAll(Path out, Map<String, Writer> checkpoints, List<int[]> prompts) throws IOException {
        for (var e : checkpoints.entrySet()) {
            e.getValue().write(out.resolve(e.getKey()));
        }
        Files.createDirectories(out);
        new ObjectMapper().writeValue(out.resolve("prompts.json").toFile(), Map.of("prompts", prompts));
        System.out.println("wrote " + checkpoints.keySet() + " and prompts.json to " + out);
    }
}
