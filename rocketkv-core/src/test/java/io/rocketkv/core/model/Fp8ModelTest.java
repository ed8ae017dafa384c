package io.rocketkv.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rocketkv.core.kernels.CpuKernels;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.testing.OcpE4m3;
import io.rocketkv.core.weights.Fp8CheckpointWriter;
import io.rocketkv.core.weights.Fp8Weights;
import io.rocketkv.core.weights.SafeTensors;
import io.rocketkv.core.weights.SafeTensorsWriter;
import io.rocketkv.core.weights.TensorInfo;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * fp8 checkpoints (written by {@link Fp8CheckpointWriter}) on the CPU backend:
 * <ul>
 *   <li>their logits equal those of an unquantized checkpoint holding the dequantized values (built here, from the
 *       OCP e4m3 formula and the scales: {@code e4m3 · scale} in fp32, rounded once to the dtype of the embedding
 *       table), on the trained retrieval model (bf16, per-tensor scales) and on tiny-random-llama (f32, untied
 *       lm_head, per-channel scales);</li>
 *   <li>their greedy choices equal the original model's, teacher-forced over the original's greedy continuation
 *       of the passkey and multikey prompts, except at near-ties: where they differ, the original's choice and the
 *       fp8 model's must be the original's top two, less than {@value #NEAR_TIE} apart in logits.</li>
 * </ul>
 */
class Fp8ModelTest {

    static final Path RETRIEVAL = Path.of("../models/rocketkv-retrieval-tiny");
    static final Path TINY = Path.of("../models/tiny-random-llama");
    /**
     * How far (in logits) the original may prefer its choice over the fp8 model's for the two to count as a near-tie
     * (a probability ratio under 1.65): about the size of the logit changes fp8 weights make on likely tokens, with
     * the measured worst (0.38) inside it.
     */
    private static final double NEAR_TIE = 0.5;
    /** At most this many of the 48 choices may differ (measured: 2 per tensor, 1 per channel). */
    private static final int MAX_DIFFERENT = 5;

    @TempDir
    static Path dir;

    private static List<int[][]> cases; // {prompt, original greedy continuation}

    @BeforeAll
    static void readCases() throws IOException {
        JsonNode all;
        try (InputStream in = Fp8ModelTest.class.getResourceAsStream("/parity/rocketkv-retrieval-tiny.json")) {
            all = new ObjectMapper().readTree(in).path("checkpoints").path("rocketkv-retrieval-tiny").path("cases");
        }
        cases = new ArrayList<>();
        for (JsonNode c : List.of(all.get(0), all.get(1))) { // passkey and multikey (the third is long)
            cases.add(new int[][] {ints(c.path("prompt")), ints(c.path("ids"))});
        }
    }

    @Test
    void perTensorFp8LogitsEqualTheDequantizedBf16Model() throws IOException {
        assertEqualsDequantized(RETRIEVAL, false, DType.BF16, cases);
    }

    @Test
    void perChannelFp8LogitsEqualTheDequantizedF32Model() throws IOException {
        int[][] c = {{296, 5, 17, 40, 3, 99, 12, 250, 7, 61}, {8, 33, 120, 1, 2, 200, 45, 9}};
        assertEqualsDequantized(TINY, true, DType.F32, List.<int[][]>of(c));
        try (SafeTensors w = SafeTensors.open(dir.resolve("tiny-random-llama-fp8-true"))) {
            assertEquals(DType.F32, w.require("lm_head.weight").dtype(), "lm_head stays unquantized");
            assertEquals(64, w.require("model.layers.1.mlp.down_proj.weight_scale").dim(0), "per-channel scales");
        }
    }

    /** The fp8 copy of {@code original} against its dequantized copy, whose weights must be {@code dequantized}. */
    private static void assertEqualsDequantized(Path original, boolean perChannel, DType dequantized,
                                                List<int[][]> inputs) throws IOException {
        String name = original.getFileName().toString();
        Path fp8 = convert(original, name + "-fp8-" + perChannel, perChannel);
        Path reference = dequantizedCopy(original, fp8, name + "-dequantized-" + perChannel);
        try (SafeTensors w = SafeTensors.open(reference)) {
            assertEquals(dequantized, w.require("model.layers.0.mlp.up_proj.weight").dtype(), "the dequantized dtype");
        }
        for (int[][] c : inputs) {
            assertSameLogits(logits(fp8, c), logits(reference, c), name + (perChannel ? " per-channel" : " per-tensor"));
        }
    }

    @Test
    void fp8GreedyIdsMatchTheOriginalExceptAtNearTies() throws IOException {
        for (boolean perChannel : new boolean[] {false, true}) {
            Path fp8 = convert(RETRIEVAL, "greedy-fp8-" + perChannel, perChannel);
            int rows = 0;
            int differ = 0;
            double maxDelta = 0;
            double logprobDrift = 0;
            for (int k = 0; k < cases.size(); k++) {
                int[][] c = cases.get(k);
                float[] ref = logits(RETRIEVAL, c);
                float[] got = logits(fp8, c);
                int vocab = ref.length / c[1].length;
                for (int i = 0; i < c[1].length; i++) {
                    int[] refTop = top2(ref, i * vocab, vocab);
                    int gotTop = top2(got, i * vocab, vocab)[0];
                    for (int v = 0; v < vocab; v++) {
                        maxDelta = Math.max(maxDelta, Math.abs(ref[i * vocab + v] - got[i * vocab + v]));
                    }
                    rows++;
                    logprobDrift += Math.abs(logprob(ref, i * vocab, vocab, refTop[0])
                            - logprob(got, i * vocab, vocab, refTop[0]));
                    if (gotTop != refTop[0]) {
                        differ++;
                        double gap = ref[i * vocab + refTop[0]] - ref[i * vocab + refTop[1]];
                        double behind = ref[i * vocab + refTop[0]] - ref[i * vocab + gotTop];
                        System.out.printf("fp8 %s: case %d position %d chooses %d, the original %d (its top-2 gap %.4f; "
                                + "the fp8 choice %.4f behind)%n", perChannel ? "per-channel" : "per-tensor", k, i, gotTop,
                                refTop[0], gap, behind);
                        assertTrue(behind < NEAR_TIE, "position " + i + ": the fp8 model's choice is " + behind
                                + " logits behind the original's: not a near-tie");
                    }
                }
            }
            System.out.printf("fp8 %s vs the bf16 model: %d of %d greedy choices differ; mean |delta logprob| of the "
                    + "original's choice %.4f; max |delta logit| %.4f%n", perChannel ? "per-channel" : "per-tensor",
                    differ, rows, logprobDrift / rows, maxDelta);
            assertTrue(differ <= MAX_DIFFERENT, differ + " of " + rows + " greedy choices differ");
        }
    }

    static Path convert(Path input, String name, boolean perChannel) throws IOException {
        Path out = dir.resolve(name);
        Fp8CheckpointWriter.convert(input, out, perChannel);
        return out;
    }

    /**
     * {@code original}'s config and a weights file in which every fp8 tensor of {@code fp8} is replaced by its
     * dequantized values in the embedding table's dtype (scales dropped); the other tensors are copied.
     */
    static Path dequantizedCopy(Path original, Path fp8, String name) throws IOException {
        Path out = Files.createDirectories(dir.resolve(name));
        for (String f : List.of("config.json", "generation_config.json")) {
            Files.copy(original.resolve(f), out.resolve(f));
        }
        SafeTensorsWriter writer = new SafeTensorsWriter();
        try (SafeTensors w = SafeTensors.open(fp8)) {
            DType target = w.require("model.embed_tokens.weight").dtype();
            for (String n : w.names()) {
                TensorInfo t = w.info(n);
                if (t.dtype() == DType.F8_E4M3) {
                    writer.add(n, target, t.shape(), dequantize(w, t));
                } else if (!n.endsWith(Fp8Weights.SCALE_SUFFIX)) {
                    writer.add(n, t.dtype(), t.shape(), w.data(n).toArray(ValueLayout.JAVA_BYTE));
                }
            }
        }
        writer.write(out.resolve(SafeTensors.SINGLE_FILE_NAME));
        return out;
    }

    private static float[] dequantize(SafeTensors w, TensorInfo t) {
        byte[] q = w.data(t.name()).toArray(ValueLayout.JAVA_BYTE);
        float[] scales = w.readFloats(t.name() + Fp8Weights.SCALE_SUFFIX);
        int cols = (int) t.dim(1);
        float[] out = new float[q.length];
        for (int i = 0; i < q.length; i++) {
            float scale = scales.length == 1 ? scales[0] : scales[i / cols];
            out[i] = (float) OcpE4m3.value(q[i]) * scale;
        }
        return out;
    }

    static float[] logits(Path checkpoint, int[][] promptAndContinuation) {
        ModelConfig config = ModelConfig.load(checkpoint);
        CpuKernels kernels = new CpuKernels(true, DType.F32);
        try (SafeTensors w = SafeTensors.open(checkpoint)) {
            LlamaModel model = LlamaModel.load(config, w, kernels, TeacherForcedLogits.TOKENS_PER_BLOCK);
            return TeacherForcedLogits.of(model, kernels, promptAndContinuation[0], promptAndContinuation[1]);
        }
    }

    private static void assertSameLogits(float[] fp8, float[] reference, String what) {
        assertEquals(reference.length, fp8.length);
        double max = 0;
        for (int i = 0; i < fp8.length; i++) {
            max = Math.max(max, Math.abs(fp8[i] - reference[i]));
        }
        System.out.printf("%s: max |fp8 - dequantized reference| over %d logits = %s%n", what, fp8.length, max);
        assertTrue(max <= 1e-6, what + ": max |delta logit| " + max);
    }

    private static double logprob(float[] x, int from, int n, int token) {
        double max = Double.NEGATIVE_INFINITY;
        for (int v = 0; v < n; v++) {
            max = Math.max(max, x[from + v]);
        }
        double z = 0;
        for (int v = 0; v < n; v++) {
            z += Math.exp(x[from + v] - max);
        }
        return x[from + token] - max - Math.log(z);
    }

    private static int[] top2(float[] x, int from, int n) {
        int a = -1;
        int b = -1;
        for (int v = 0; v < n; v++) {
            if (a < 0 || x[from + v] > x[from + a]) {
                b = a;
                a = v;
            } else if (b < 0 || x[from + v] > x[from + b]) {
                b = v;
            }
        }
        return new int[] {a, b};
    }

    static int[] ints(JsonNode a) {
        int[] r = new int[a.size()];
        for (int i = 0; i < r.length; i++) {
            r[i] = a.get(i).asInt();
        }
        return r;
    }
}
