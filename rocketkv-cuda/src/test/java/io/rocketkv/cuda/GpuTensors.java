package io.rocketkv.cuda;

import io.rocketkv.core.kernels.Kernels;
import io.rocketkv.core.kernels.Tensor;
import io.rocketkv.core.numeric.Bf16;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.numeric.Fp8E5M2;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** Tensor helpers the GPU tests share: F32 activations from arrays, bf16 rounding, device tensors read back. */
final class GpuTensors {

    private GpuTensors() {
    }

    /** An F32 tensor of {@code shape} on {@code k} holding {@code data}. */
    static Tensor act(Kernels k, float[] data, int... shape) {
        Tensor t = k.allocate(DType.F32, shape);
        k.upload(data, t);
        return t;
    }

    /** {@code v} with every value rounded to bf16 (what a bf16 cache holds of it). */
    static float[] bf16Round(float[] v) {
        float[] r = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            r[i] = Bf16.decode(Bf16.encode(v[i]));
        }
        return r;
    }

    /** A BF16 or F8_E5M2 device tensor (a KV or KT cache) decoded to floats. */
    static float[] decodeDevice(Tensor t) {
        CudaTensor c = (CudaTensor) t;
        int n = (int) c.numel();
        long bytes = (long) n * c.dtype().byteSize();
        float[] out = new float[n];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(bytes, 16);
            c.buffer().copyTo(host.asSlice(0, bytes), 0);
            for (int i = 0; i < n; i++) {
                out[i] = switch (c.dtype()) {
                    case BF16 -> Bf16.decode(host.getAtIndex(ValueLayout.JAVA_SHORT, i));
                    case F8_E5M2 -> Fp8E5M2.decode(host.get(ValueLayout.JAVA_BYTE, i));
                    default -> throw new IllegalArgumentException(c.dtype().toString());
                };
            }
        }
        return out;
    }
}
