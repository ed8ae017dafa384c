package io.rocketkv.cuda;

import io.rocketkv.core.kernels.Collective;
import io.rocketkv.core.kernels.Kernels;
import io.rocketkv.core.kernels.KernelsProvider;
import io.rocketkv.core.numeric.DType;
import java.util.ArrayList;
import java.util.List;

/**
 * The CUDA backend as the API finds it: registered in this jar's
 * {@code META-INF/services/io.rocketkv.core.kernels.KernelsProvider}, so a consumer that leaves rocketkv-cuda
 * out runs on the CPU. It runs where the driver has a device ({@link CudaDriver}) and this jar was built with
 * its kernels ({@link KernelImages}); tensor-parallel groups are joined by NCCL ({@link NcclCollective}).
 */
public final class CudaKernelsProvider implements KernelsProvider {

    @Override
    public String name() {
        return "cuda";
    }

    @Override
    public String unavailableReason() {
        if (!CudaDriver.isAvailable()) {
            return CudaDriver.unavailableReason();
        }
        return KernelImages.available() ? null : KernelImages.MISSING;
    }

    @Override
    public void requireAvailable(String what) {
        if (!CudaDriver.isAvailable()) {
            throw new IllegalStateException(what + " was requested, but CUDA is unavailable: "
                    + CudaDriver.unavailableReason() + "; use backend AUTO or CPU");
        }
        KernelImages.require(what);
    }

    @Override
    public int deviceCount() {
        return CudaDriver.deviceCount();
    }

    @Override
    public Kernels open(int device) {
        return new CudaKernels(device);
    }

    /** An F8_E4M3 KV cache where asked ({@link CudaKernels#CudaKernels(int, DType)}); bf16 otherwise. */
    @Override
    public Kernels open(int device, DType kvCacheDtype) {
        return kvCacheDtype == DType.F8_E4M3 ? new CudaKernels(device, DType.F8_E4M3) : new CudaKernels(device);
    }

    @Override
    public String collectivesUnavailableReason() {
        return Nccl.isAvailable() ? null : Nccl.unavailableReason();
    }

    @Override
    public List<Collective> collectives(List<Kernels> ranks) {
        List<CudaKernels> cuda = new ArrayList<>(ranks.size());
        for (Kernels k : ranks) {
            if (!(k instanceof CudaKernels c)) {
                throw new IllegalArgumentException("an NCCL group joins CUDA backends only, got " + k.name());
            }
            cuda.add(c);
        }
        return NcclCollective.group(cuda);
    }
}
