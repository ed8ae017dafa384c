package io.rocketkv.cuda;

import io.rocketkv.core.kernels.AttentionShape;
import io.rocketkv.core.kernels.StepPlan;
import io.rocketkv.core.kernels.Tensor;
import io.rocketkv.core.sparse.RocketKvPlan;
import java.util.Arrays;

/**
 * Looks inside {@link CudaKernels}' RocketKV ops for tests and benchmarks: stage 1's kept indices, stage 2's
 * selected pages, and the decode step's two launches one at a time. Each call synchronises where it reads back.
 */
public final class CudaRocketKvProbe {

    private CudaRocketKvProbe() {
    }

    /** Stage 1's kept indices [Hkv][budget] of the last sequence it compacted. */
    public static int[][] lastStage1Kept(CudaKernels gpu) {
        CudaRocketStage1.KeptRegion r = gpu.rocket().lastStage1Kept();
        if (r == null) {
            throw new IllegalStateException("no sequence went through stage 1 yet");
        }
        int[] flat = new int[r.numKvHeads() * r.budget()];
        r.indices().copyTo(flat);
        int[][] out = new int[r.numKvHeads()][];
        for (int g = 0; g < out.length; g++) {
            out[g] = Arrays.copyOfRange(flat, g * r.budget(), (g + 1) * r.budget());
        }
        return out;
    }

    /**
     * Stage 2's selection alone: the selected logical pages [S][Hkv][count], ascending, as the sparse decode attends
     * to them.
     */
    public static int[][][] selectedPages(CudaKernels gpu, Tensor q, Tensor cache, Tensor kt, StepPlan step,
                                          AttentionShape shape, RocketKvPlan plan) {
        CudaStepPlan p = gpu.devicePlan(step);
        CudaRocketKv.Selection sel = gpu.rocket().select((CudaTensor) q, null, (CudaTensor) cache, (CudaTensor) kt, p,
                shape, plan, true);
        int seqs = p.batch().numSeqs();
        int hkv = shape.numKvHeads();
        int topk = plan.params().topk();
        int[] pages = new int[seqs * hkv * topk];
        int[] counts = new int[seqs * hkv];
        sel.pages().slice(0, (long) pages.length * Integer.BYTES).copyTo(pages);
        sel.counts().slice(0, (long) counts.length * Integer.BYTES).copyTo(counts);
        int[][][] out = new int[seqs][hkv][];
        for (int s = 0; s < seqs; s++) {
            for (int g = 0; g < hkv; g++) {
                int i = s * hkv + g;
                out[s][g] = Arrays.copyOfRange(pages, i * topk, i * topk + counts[i]);
            }
        }
        return out;
    }

    /**
     * One of the RocketKV decode step's two launches: {@code selection} true launches the fused KT update + page
     * selection alone; false launches the sparse attention alone, over the pages that a previous full call with the
     * same shapes and step selected.
     */
    public static void decodePart(CudaKernels gpu, Tensor q, Tensor k, Tensor kvCache, Tensor ktCache, StepPlan step,
                                  AttentionShape shape, RocketKvPlan plan, Tensor out, boolean selection) {
        gpu.rocket().sparseDecode((CudaTensor) q, (CudaTensor) k, (CudaTensor) kvCache, (CudaTensor) ktCache,
                gpu.devicePlan(step), shape, plan, (CudaTensor) out, new float[] {1f, 1f}, selection, !selection);
    }
}
