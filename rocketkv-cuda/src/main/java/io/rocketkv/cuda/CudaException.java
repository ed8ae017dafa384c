package io.rocketkv.cuda;

/**
 * A CUDA driver or cuBLAS call that returned an error status. Carries the C function, the status code,
 * its name ({@code CUDA_ERROR_INVALID_VALUE}, {@code CUBLAS_STATUS_NOT_SUPPORTED}) and the library's
 * description, plus what the call was doing.
 */
public class CudaException extends RuntimeException {

    /** {@link #status()} of an exception that did not come from a CUDA status code. */
    public static final int NO_STATUS = -1;

    private static final long serialVersionUID = 1L;

    private final String function;
    private final int status;
    private final String errorName;

    /**
     * @param function    the C function that failed, e.g. {@code cuLaunchKernel}
     * @param status      the status it returned
     * @param errorName   the status's name, e.g. {@code CUDA_ERROR_INVALID_VALUE}
     * @param description the library's text for it
     * @param context     what was being done (kernel name, sizes), or null
     */
    public CudaException(String function, int status, String errorName, String description, String context) {
        super(function + " failed: " + errorName + " (" + status + "): " + description
                + (context == null || context.isEmpty() ? "" : " [" + context + "]"));
        this.function = function;
        this.status = status;
        this.errorName = errorName;
    }

    /** An error that has no CUDA status (e.g. CUDA is not available at all). */
    protected CudaException(String function, String message, Throwable cause) {
        super(message, cause);
        this.function = function;
        this.status = NO_STATUS;
        this.errorName = "";
    }

    /** The C function that failed. */
    public String function() {
        return function;
    }

    /** The status code it returned, or {@link #NO_STATUS}. */
    public int status() {
        return status;
    }

    /** The status's name, e.g. {@code CUDA_ERROR_INVALID_VALUE}; empty without a status. */
    public String errorName() {
        return errorName;
    }
}
