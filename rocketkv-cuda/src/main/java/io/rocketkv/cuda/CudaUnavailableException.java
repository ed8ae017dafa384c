package io.rocketkv.cuda;

/**
 * CUDA was asked for where there is none: {@code libcuda.so.1} (or cuBLAS) cannot be loaded, {@code cuInit}
 * failed, or there is no device. The message says which and what to do.
 */
public final class CudaUnavailableException extends CudaException {

    private static final long serialVersionUID = 1L;

    public CudaUnavailableException(String what, String reason) {
        super(what, what + " needs CUDA, which is not available here: " + reason, null);
    }
}
