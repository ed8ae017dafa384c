package io.rocketkv.core.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.model.TensorParallelPlan.Range;
import io.rocketkv.core.testing.ParityCheckpoints;
import io.rocketkv.core.weights.SafeTensors;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Simulates tensor parallelism on the CPU for layer 0 of the tiny random Llama (4 query heads, 2 KV heads,
 * intermediate 172, vocab 320): each rank computes attention over its heads and the MLP over its slice, and
 * the ranks' partial o_proj / down_proj outputs summed (what the GPU path will all-reduce) equal the
 * unsharded layer's within fp32 tolerance. RoPE and the norms are left out: both act per head or on the
 * whole hidden vector, identically with and without sharding.
 */
class TensorParallelPlanTest {

    @TempDir
    static Path dir;

    static ModelConfig config;
    static float[] wq, wk, wv, wo, wg, wu, wd, lmHead;
    static int hidden, qDim, kvDim, inter, vocab, heads, kvHeads, headDim;
    static final int T = 5; // tokens, attended causally

    @BeforeAll
    static void load() throws Exception {
        Path model = ParityCheckpoints.LLAMA.write(dir.resolve("tiny"));
        config = ModelConfig.load(model);
        hidden = config.hiddenSize();
        heads = config.numAttentionHeads();
        kvHeads = config.numKeyValueHeads();
        headDim = config.headDim();
        qDim = heads * headDim;
        kvDim = kvHeads * headDim;
        inter = config.intermediateSize();
        vocab = config.vocabSize();
        try (SafeTensors st = SafeTensors.open(model)) {
            String p = "model.layers.0.";
            wq = st.readFloats(p + "self_attn.q_proj.weight");
            wk = st.readFloats(p + "self_attn.k_proj.weight");
            wv = st.readFloats(p + "self_attn.v_proj.weight");
            wo = st.readFloats(p + "self_attn.o_proj.weight");
            wg = st.readFloats(p + "mlp.gate_proj.weight");
            wu = st.readFloats(p + "mlp.up_proj.weight");
            wd = st.readFloats(p + "mlp.down_proj.weight");
            lmHead = st.readFloats("lm_head.weight");
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 4})
    void summedPartialOutputsEqualTheUnshardedLayer(int n) {
        float[] x = input();
        float[] fullAttn = attention(x, wq, wk, wv, heads, kvHeads);
        float[] fullO = matmul(fullAttn, wo, T, qDim, hidden);
        float[] h = add(x, fullO);
        float[] fullDown = mlp(h, wg, wu, wd, inter);

        float[] sumO = new float[T * hidden];
        float[] sumDown = new float[T * hidden];
        float[] gatheredLogits = new float[T * vocab];
        for (int r = 0; r < n; r++) {
            TensorParallelPlan plan = TensorParallelPlan.of(config, r, n, true);
            float[] q = TensorParallelPlan.sliceRows(wq, qDim, hidden, plan.qRows());
            float[] k = TensorParallelPlan.sliceRows(wk, kvDim, hidden, plan.kvRows());
            float[] v = TensorParallelPlan.sliceRows(wv, kvDim, hidden, plan.kvRows());
            float[] attn = attention(x, q, k, v, plan.attendedHeads().length(), plan.kvHeads().length());
            float[] o = TensorParallelPlan.sliceColumns(wo, hidden, qDim, plan.oProjColumns(),
                    plan.ownedOProjColumns());
            accumulate(sumO, matmul(attn, o, T, plan.qRows().length(), hidden));

            Range m = plan.mlpRows();
            float[] g = TensorParallelPlan.sliceRows(wg, inter, hidden, m);
            float[] u = TensorParallelPlan.sliceRows(wu, inter, hidden, m);
            float[] d = TensorParallelPlan.sliceColumns(wd, hidden, inter, plan.downProjColumns());
            accumulate(sumDown, mlp(h, g, u, d, m.length()));

            Range lm = plan.lmHeadRows();
            float[] part = matmul(h, TensorParallelPlan.sliceRows(lmHead, vocab, hidden, lm), T, hidden, lm.length());
            for (int t = 0; t < T; t++) { // all-gather along the vocabulary
                System.arraycopy(part, t * lm.length(), gatheredLogits, t * vocab + lm.start(), lm.length());
            }
        }
        assertClose("o_proj", fullO, sumO);
        assertClose("down_proj", fullDown, sumDown);
        assertClose("lm_head", matmul(h, lmHead, T, hidden, vocab), gatheredLogits);
    }

    @Test
    void rangesForTwoAndFourRanks() {
        TensorParallelPlan r1of2 = TensorParallelPlan.of(config, 1, 2, false);
        assertEquals(new Range(2, 4), r1of2.queryHeads());
        assertEquals(new Range(1, 2), r1of2.kvHeads());
        assertEquals(new Range(32, 64), r1of2.qRows());
        assertEquals(new Range(16, 32), r1of2.kvRows());
        assertEquals(new Range(86, 172), r1of2.mlpRows());
        assertEquals(new Range(0, 320), r1of2.lmHeadRows());
        // 4 ranks, 2 KV heads: ranks 0 and 1 share KV head 0, ranks 2 and 3 KV head 1
        int[] kvOf = new int[4];
        for (int r = 0; r < 4; r++) {
            TensorParallelPlan p = TensorParallelPlan.of(config, r, 4, true);
            assertTrue(p.kvReplicated());
            assertEquals(1, p.kvHeads().length());
            kvOf[r] = p.kvHeads().start();
            // a replica attends for its KV head's whole group and keeps the o_proj columns of its own head
            assertEquals(new Range(kvOf[r] * 2, kvOf[r] * 2 + 2), p.attendedHeads());
            assertEquals(new Range(r * 16, r * 16 + 16), p.ownedOProjColumns());
            assertEquals(new Range(kvOf[r] * 32, kvOf[r] * 32 + 32), p.oProjColumns());
            assertEquals(new Range(r * 80, r * 80 + 80), p.lmHeadRows());
        }
        assertArrayEquals(new int[] {0, 0, 1, 1}, kvOf);
    }

    @Test
    void shapesThatDoNotShardAreRefused() {
        var e = assertThrows(IllegalArgumentException.class, () -> TensorParallelPlan.of(config, 0, 3, false));
        assertTrue(e.getMessage().contains("3") && e.getMessage().contains("4 query heads"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> TensorParallelPlan.of(config, 2, 2, false));
        assertThrows(IllegalArgumentException.class, () -> new TensorParallelPlan(0, 8, 8, 3, 16, 64, 64, false));
        assertThrows(IllegalArgumentException.class, () -> new TensorParallelPlan(0, 2, 4, 2, 16, 64, 63, true));
        assertThrows(IllegalArgumentException.class,
                () -> TensorParallelPlan.sliceRows(new float[6], 2, 3, new Range(1, 3)));
        assertArrayEquals(new float[] {1, 2, 4, 5}, TensorParallelPlan.sliceColumns(
                new float[] {0, 1, 2, 3, 4, 5}, 2, 3, new Range(1, 3)));
        assertArrayEquals(new float[] {0, 2, 0, 5}, TensorParallelPlan.sliceColumns(
                new float[] {0, 1, 2, 3, 4, 5}, 2, 3, new Range(1, 3), new Range(2, 3)));
    }

    // ---- the reference math, plain loops ----

    static float[] input() {
        float[] x = new float[T * hidden];
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(7);
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (rnd.nextDouble() * 2 - 1);
        }
        return x;
    }

    /** out[t, o] = Σ_i x[t, i] · w[o, i]: x [rows, in], w [out, in]. */
    static float[] matmul(float[] x, float[] w, int rows, int in, int out) {
        float[] y = new float[rows * out];
        for (int t = 0; t < rows; t++) {
            for (int o = 0; o < out; o++) {
                float s = 0;
                for (int i = 0; i < in; i++) {
                    s += x[t * in + i] * w[o * in + i];
                }
                y[t * out + o] = s;
            }
        }
        return y;
    }

    /** Causal GQA attention of x [T, hidden] with q/k/v weights of {@code nq} / {@code nkv} heads; out [T, nq·headDim]. */
    static float[] attention(float[] x, float[] wq, float[] wk, float[] wv, int nq, int nkv) {
        float[] q = matmul(x, wq, T, hidden, nq * headDim);
        float[] k = matmul(x, wk, T, hidden, nkv * headDim);
        float[] v = matmul(x, wv, T, hidden, nkv * headDim);
        float[] out = new float[T * nq * headDim];
        int group = nq / nkv;
        double scale = 1 / Math.sqrt(headDim);
        for (int hq = 0; hq < nq; hq++) {
            int hk = hq / group;
            for (int t = 0; t < T; t++) {
                double[] p = new double[t + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int s = 0; s <= t; s++) {
                    double dot = 0;
                    for (int d = 0; d < headDim; d++) {
                        dot += q[(t * nq + hq) * headDim + d] * k[(s * nkv + hk) * headDim + d];
                    }
                    p[s] = dot * scale;
                    max = Math.max(max, p[s]);
                }
                double sum = 0;
                for (int s = 0; s <= t; s++) {
                    p[s] = Math.exp(p[s] - max);
                    sum += p[s];
                }
                for (int d = 0; d < headDim; d++) {
                    double acc = 0;
                    for (int s = 0; s <= t; s++) {
                        acc += p[s] / sum * v[(s * nkv + hk) * headDim + d];
                    }
                    out[(t * nq + hq) * headDim + d] = (float) acc;
                }
            }
        }
        return out;
    }

    /** down(silu(gate(h)) · up(h)) with gate/up [width, hidden] and down [hidden, width]. */
    static float[] mlp(float[] h, float[] wg, float[] wu, float[] wd, int width) {
        float[] g = matmul(h, wg, T, hidden, width);
        float[] u = matmul(h, wu, T, hidden, width);
        for (int i = 0; i < g.length; i++) {
            g[i] = (float) (g[i] / (1 + Math.exp(-g[i]))) * u[i];
        }
        return matmul(g, wd, T, width, hidden);
    }

    static float[] add(float[] a, float[] b) {
        float[] c = a.clone();
        accumulate(c, b);
        return c;
    }

    static void accumulate(float[] acc, float[] b) {
        for (int i = 0; i < acc.length; i++) {
            acc[i] += b[i];
        }
    }

    static void assertClose(String what, float[] expected, float[] actual) {
        assertEquals(expected.length, actual.length, what);
        for (int i = 0; i < expected.length; i++) {
            double tol = 1e-5 + 1e-4 * Math.abs(expected[i]);
            if (Math.abs(expected[i] - actual[i]) > tol) {
                throw new AssertionError(what + "[" + i + "]: expected " + expected[i] + ", got " + actual[i]);
            }
        }
    }
}
