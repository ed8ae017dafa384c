package io.rocketkv.core.kernels;

import io.rocketkv.core.numeric.DType;

/** Run by {@link NoVectorModuleTest} in a JVM without {@code jdk.incubator.vector}: the CPU backend's attention. */
public final class NoVectorAttentionMain {

    private NoVectorAttentionMain() {
    }

    public static void main(String[] args) {
        System.out.println("vector api: " + (CpuKernelMode.vectorApiAvailable() ? "present" : "absent"));
        CpuKernels k = new CpuKernels(false, DType.BF16);
        AttentionShape s = AttentionShape.of(2, 1, 8, 4);
        Tensor cache = k.allocate(DType.BF16, 2, 2, 1, 4, 8);
        Tensor kv = k.allocate(DType.F32, 1, 8);
        k.upload(new float[] {1, 2, 3, 4, 5, 6, 7, 8}, kv);
        StepBatch b = new StepBatch(false, new int[] {0}, new int[] {0}, new int[] {0}, new int[] {0, 1},
                new int[] {1}, new int[][] {{0}}, new int[] {0});
        k.writeKv(kv, kv, k.plan(b), s, cache);
        Tensor q = k.allocate(DType.F32, 1, 16);
        Tensor out = k.allocate(DType.F32, 1, 16);
        k.decodeAttention(q, cache, k.plan(b), s, out);
        System.out.println("decode out[7]: " + k.download(out)[7]);
        System.setProperty(CpuKernelMode.PROPERTY, "simd");
        try {
            new CpuKernels(false);
            System.out.println("simd: accepted");
        } catch (IllegalStateException e) {
            System.out.println("simd: refused: " + e.getMessage());
        }
        cache.close();
    }
}
