package io.rocketkv.core.model;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rocketkv.core.kernels.CpuKernels;
import io.rocketkv.core.kernels.dense.WeightFormat;
import io.rocketkv.core.weights.SafeTensors;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * The accuracy cost of weight-only quantization (Q8_0, Q4_0) on the trained retrieval model: the log-probability
 * of transformers' reference continuation (24 greedy tokens after the passkey and multikey parity prompts, teacher-forced
 * in one prefill) under the quantized model against the unquantized one. Prints mean and max |Δ logprob| and the
 * perplexity ratio; the bounds are loose multiples of what was measured (docs/cpu.md quotes the figures), tight
 * enough that a quantizer or kernel that misplaced blocks, nibbles or scales fails them.
 */
class QuantizationDriftTest {

    private static final Path MODEL = Path.of("../models/rocketkv-retrieval-tiny");

    @Test
    void q8AndQ4DriftFromTheUnquantizedModel() throws Exception {
        JsonNode cases;
        try (InputStream in = getClass().getResourceAsStream("/parity/rocketkv-retrieval-tiny.json")) {
            cases = new ObjectMapper().readTree(in).path("checkpoints").path("rocketkv-retrieval-tiny").path("cases");
        }
        ModelConfig config = ModelConfig.load(MODEL);
        try (SafeTensors weights = SafeTensors.open(MODEL)) {
            double[] ref = logprobs(config, weights, new CpuKernels(), cases);
            check("Q8_0", ref, logprobs(config, weights, CpuKernels.quantizing(WeightFormat.Q8_0), cases), 0.02, 0.01);
            check("Q4_0", ref, logprobs(config, weights, CpuKernels.quantizing(WeightFormat.Q4_0), cases), 0.3, 0.3);
        }
    }

    private static void check(String what, double[] ref, double[] q, double maxMeanDrift, double maxPplChange) {
        double sum = 0;
        double max = 0;
        double nllRef = 0;
        double nllQ = 0;
        for (int i = 0; i < ref.length; i++) {
            double d = Math.abs(q[i] - ref[i]);
            sum += d;
            max = Math.max(max, d);
            nllRef -= ref[i];
            nllQ -= q[i];
        }
        double mean = sum / ref.length;
        double ratio = Math.exp((nllQ - nllRef) / ref.length);
        System.out.printf("%s: %d tokens, mean |Δ logprob| %.4f, max %.4f, perplexity %.4f -> %.4f (ratio %.4f)%n",
                what, ref.length, mean, max, Math.exp(nllRef / ref.length), Math.exp(nllQ / ref.length), ratio);
        assertTrue(mean <= maxMeanDrift, what + ": mean |Δ logprob| " + mean + " > " + maxMeanDrift);
        assertTrue(Math.abs(ratio - 1) <= maxPplChange, what + ": perplexity ratio " + ratio);
    }

    /** Log-probabilities of every case's reference continuation, teacher-forced, concatenated. */
    private static double[] logprobs(ModelConfig config, SafeTensors weights, CpuKernels kernels, JsonNode cases) {
        LlamaModel model = LlamaModel.load(config, weights, kernels, TeacherForcedLogits.TOKENS_PER_BLOCK);
        double[] out = new double[0];
        for (JsonNode c : java.util.List.of(cases.get(0), cases.get(1))) { // passkey and multikey (the third is long)
            int[] prompt = ints(c.path("prompt"));
            int[] cont = ints(c.path("ids"));
            float[] logits = TeacherForcedLogits.of(model, kernels, prompt, cont);
            int vocab = config.vocabSize();
            double[] lp = new double[cont.length];
            for (int i = 0; i < cont.length; i++) {
                double max = Double.NEGATIVE_INFINITY;
                for (int v = 0; v < vocab; v++) {
                    max = Math.max(max, logits[i * vocab + v]);
                }
                double z = 0;
                for (int v = 0; v < vocab; v++) {
                    z += Math.exp(logits[i * vocab + v] - max);
                }
                lp[i] = logits[i * vocab + cont[i]] - max - Math.log(z);
            }
            int n = out.length;
            out = Arrays.copyOf(out, n + lp.length);
            System.arraycopy(lp, 0, out, n, lp.length);
        }
        return out;
    }

    private static int[] ints(JsonNode a) {
        int[] r = new int[a.size()];
        for (int i = 0; i < r.length; i++) {
            r[i] = a.get(i).asInt();
        }
        return r;
    }
}
