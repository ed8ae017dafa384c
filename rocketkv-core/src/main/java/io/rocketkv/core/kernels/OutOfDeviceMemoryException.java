package io.rocketkv.core.kernels;

/**
 * A backend could not allocate memory for a tensor (CUDA: {@code CUDA_ERROR_OUT_OF_MEMORY}). The message
 * names what did not fit, how much it needed and what was free; callers that know the tensor's purpose
 * (the KV cache, a weight, the step workspace) rethrow it with that purpose and a fix.
 */
public class OutOfDeviceMemoryException extends RuntimeException {

    private final long requestedBytes;

    public OutOfDeviceMemoryException(String message, long requestedBytes, Throwable cause) {
        super(message, cause);
        this.requestedBytes = requestedBytes;
    }

    /** Bytes of the allocation that failed. */
    public long requestedBytes() {
        return requestedBytes;
    }

    /** This failure with {@code what} (e.g. "the KV cache of layer 3") and a fix in front. */
    public OutOfDeviceMemoryException naming(String what, String fix) {
        return new OutOfDeviceMemoryException(what + " does not fit in device memory: " + getMessage()
                + (fix == null ? "" : "; " + fix), requestedBytes, this);
    }
}
