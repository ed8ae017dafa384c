package io.rocketkv.cuda;

import io.rocketkv.core.kernels.Collective;
import io.rocketkv.core.kernels.Tensor;
import io.rocketkv.core.numeric.DType;
import java.util.ArrayList;
import java.util.List;

/**
 * One rank of a tensor-parallel group of {@link CudaKernels} backends, one per device of this host, joined by
 * an NCCL communicator ({@code ncclCommInitAll}). An all-reduce is queued on the rank's backend stream, in
 * order with its kernels (and recorded with them into a CUDA graph); it returns once queued. Each rank is
 * driven by its own thread, so no NCCL group calls are needed.
 */
public final class NcclCollective implements Collective {

    private final NcclCommunicator comm;
    private final CudaKernels kernels;

    private NcclCollective(NcclCommunicator comm, CudaKernels kernels) {
        this.comm = comm;
        this.kernels = kernels;
    }

    /**
     * The group of {@code backends}, rank r on {@code backends.get(r)}'s device.
     *
     * @throws CudaUnavailableException when NCCL ({@code libnccl.so.2}) cannot be loaded
     */
    public static List<Collective> group(List<CudaKernels> backends) {
        List<CudaContext> contexts = new ArrayList<>();
        for (CudaKernels k : backends) {
            contexts.add(k.context());
        }
        List<NcclCommunicator> comms = NcclCommunicator.initAll(contexts);
        List<Collective> out = new ArrayList<>();
        for (int r = 0; r < comms.size(); r++) {
            out.add(new NcclCollective(comms.get(r), backends.get(r)));
        }
        return List.copyOf(out);
    }

    @Override
    public int rank() {
        return comm.rank();
    }

    @Override
    public int size() {
        return comm.size();
    }

    @Override
    public void allReduceSum(Tensor x) {
        if (!(x instanceof CudaTensor t) || t.dtype() != DType.F32) {
            throw new IllegalArgumentException("NcclCollective reduces F32 CUDA tensors, got " + Tensor.describe(x));
        }
        comm.allReduceSum(t.buffer(), t.buffer(), t.numel(), DType.F32, kernels.stream());
    }

    @Override
    public void abort() {
        comm.abort();
    }

    @Override
    public void close() {
        comm.close();
    }

    @Override
    public String toString() {
        return "NcclCollective[" + comm + "]";
    }
}
