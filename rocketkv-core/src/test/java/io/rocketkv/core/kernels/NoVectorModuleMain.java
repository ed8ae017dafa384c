package io.rocketkv.core.kernels;

import io.rocketkv.core.numeric.DType;

/** Run by {@link CpuKernelModeTest} in a JVM without the Vector API module. */
final class NoVectorModuleMain {

    public static void main(String[] args) {
        System.out.println("module=" + CpuKernelMode.vectorApiAvailable());
        CpuKernels k = new CpuKernels();
        new CpuKernels(); // a second backend: still one warning
        System.out.println("kernels=" + k.denseKernels());
        Tensor x = k.allocate(DType.F32, 2, 3);
        Tensor w = k.allocate(DType.F32, 2, 3);
        Tensor out = k.allocate(DType.F32, 2, 2);
        k.upload(new float[] {1, 2, 3, 4, 5, 6}, x);
        k.upload(new float[] {1, 0, 0, 0, 1, 1}, w);
        k.matmul(x, w, null, out);
        float[] o = k.download(out);
        System.out.println(o[0] == 1 && o[1] == 5 && o[2] == 4 && o[3] == 11 ? "matmul=ok" : "matmul=wrong");
        try {
            new CpuKernels(CpuKernelMode.SIMD, 1);
            System.out.println("explicit=accepted");
        } catch (IllegalStateException e) {
            System.out.println(e.getMessage().contains("--add-modules jdk.incubator.vector") ? "explicit=refused" : e.getMessage());
        }
    }
}
