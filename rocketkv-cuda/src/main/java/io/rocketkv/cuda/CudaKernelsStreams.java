package io.rocketkv.cuda;

/**
 * The stream a {@link CudaKernels} runs every op on, for code outside this package that captures a step into a
 * {@link CudaGraph} or times it with {@link CudaEvent}s (benchmarks). Ops must not be called on other threads
 * while the stream is used this way.
 */
public final class CudaKernelsStreams {

    private CudaKernelsStreams() {
    }

    /** The backend's own (blocking) stream. */
    public static CudaStream of(CudaKernels kernels) {
        return kernels.stream();
    }
}
