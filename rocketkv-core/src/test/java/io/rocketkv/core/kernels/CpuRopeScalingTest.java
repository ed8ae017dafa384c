package io.rocketkv.core.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.rocketkv.core.numeric.DType;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * {@link CpuKernels#rope} with what rope scaling adds: the attention factor on cos and sin, and tables chosen per
 * sequence by {@link StepBatch#ropeLength} (a chunk rotates with its whole prefill's table, a decode token with that of
 * its position + 1). The reference is the rotation in double precision with the table the test expects.
 */
class CpuRopeScalingTest {

    private static final int HEADS = 3;
    private static final int KV_HEADS = 1;
    private static final int D = 16;
    private static final float ATTENTION = 1.25f;
    private static final int UP_TO = 8;

    private final CpuKernels k = new CpuKernels();
    private final SplittableRandom rnd = new SplittableRandom(7);
    private final AttentionShape shape = AttentionShape.of(HEADS, KV_HEADS, D, 4);

    /** A made-up length-dependent table: base frequencies up to 8 tokens, then each length its own. */
    private static float[] table(int seqLen) {
        float[] inv = new float[D / 2];
        for (int i = 0; i < inv.length; i++) {
            inv[i] = (float) Math.pow(10000, -2.0 * i / D) / (seqLen <= UP_TO ? 1 : 1 + seqLen / 16f);
        }
        return inv;
    }

    private final RopeTable rope = RopeTable.lengthDependent("dynamic", table(1), ATTENTION, UP_TO,
            CpuRopeScalingTest::table);

    @Test
    void prefillChunkRotatesWithItsWholePrefillsTable() {
        // sequence 0: a whole prompt of 3 tokens; sequence 1: a chunk (positions 5, 6) of a 20-token prefill
        int[] pos = {0, 1, 2, 5, 6};
        StepBatch b = new StepBatch(true, new int[5], pos, new int[] {-1, -1, -1, -1, -1}, new int[] {0, 3, 5},
                new int[] {3, 7}, new int[][] {{}, {}}, new int[] {2, 4}, new int[] {3, 20});
        assertEquals(3, b.ropeLength(0));
        assertEquals(20, b.ropeLength(1));
        check(b, new int[] {3, 3, 3, 20, 20});
    }

    @Test
    void decodeTokensRotateWithTheirOwnLength() {
        // kvLens shorter than the positions (a RocketKV-compacted cache): the length is position + 1
        int[] pos = {5, 40};
        StepBatch b = new StepBatch(false, new int[2], pos, new int[] {-1, -1}, new int[] {0, 1, 2},
                new int[] {4, 9}, new int[][] {{}, {}}, new int[] {0, 1});
        assertEquals(6, b.ropeLength(0));
        assertEquals(41, b.ropeLength(1));
        check(b, new int[] {6, 41});
    }

    private void check(StepBatch b, int[] lengths) {
        int t = b.numTokens();
        float[] q = new float[t * HEADS * D];
        float[] kk = new float[t * KV_HEADS * D];
        Tensor qt = randomRows(q, t);
        Tensor kt = randomRows(kk, t);
        k.rope(qt, kt, k.plan(b), rope, shape);
        assertRotated(q, k.download(qt), HEADS, b.positions(), lengths, "q");
        assertRotated(kk, k.download(kt), KV_HEADS, b.positions(), lengths, "k");
    }

    private static void assertRotated(float[] in, float[] out, int heads, int[] pos, int[] lengths, String what) {
        int half = D / 2;
        for (int tok = 0; tok < pos.length; tok++) {
            float[] inv = table(lengths[tok]);
            for (int h = 0; h < heads; h++) {
                int o = (tok * heads + h) * D;
                for (int i = 0; i < half; i++) {
                    double a = pos[tok] * (double) inv[i];
                    double c = ATTENTION * Math.cos(a);
                    double s = ATTENTION * Math.sin(a);
                    double x1 = in[o + i];
                    double x2 = in[o + i + half];
                    String at = what + " token " + tok + " head " + h + " pair " + i;
                    assertEquals(x1 * c - x2 * s, out[o + i], 1e-5, at);
                    assertEquals(x2 * c + x1 * s, out[o + i + half], 1e-5, at);
                }
            }
        }
    }

    /** Fills {@code values} with uniform [-1, 1) numbers and returns them as an F32 tensor of {@code rows} rows. */
    private Tensor randomRows(float[] values, int rows) {
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) rnd.nextDouble(-1, 1);
        }
        Tensor t = k.allocate(DType.F32, rows, values.length / rows);
        k.upload(values, t);
        return t;
    }
}
