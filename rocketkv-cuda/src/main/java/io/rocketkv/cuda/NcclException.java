package io.rocketkv.cuda;

/**
 * An NCCL call that returned an error: carries the C function, the {@code ncclResult_t} code, its name
 * ({@code ncclInvalidArgument}) and NCCL's text for it ({@code ncclGetErrorString}), plus, where the
 * communicator had one, {@code ncclGetLastError}'s message in the context.
 */
public final class NcclException extends CudaException {

    private static final long serialVersionUID = 1L;

    /**
     * @param function    the C function that failed, e.g. {@code ncclAllReduce}
     * @param code        the {@code ncclResult_t} it returned
     * @param description NCCL's text for the code ({@code ncclGetErrorString}), or empty without the library
     * @param context     what was being done (sizes, rank) and {@code ncclGetLastError}'s message, or null
     */
    public NcclException(String function, int code, String description, String context) {
        super(function, code, Nccl.resultName(code), description, context);
    }
}
