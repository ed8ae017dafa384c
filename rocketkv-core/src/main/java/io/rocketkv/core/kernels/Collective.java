package io.rocketkv.core.kernels;

/**
 * One rank's handle on a tensor-parallel group: the all-reduce that joins the ranks' partial sums after a
 * row-parallel matmul ({@code o_proj}, {@code down_proj}). Every rank calls the same collectives in the same
 * order, each from its own thread; a call is queued on (or, on the CPU, runs in) that rank's backend.
 */
public interface Collective extends AutoCloseable {

    /** This rank, {@code [0, size)}. */
    int rank();

    /** Ranks in the group. */
    int size();

    /** {@code x[i] = Σ over ranks of x[i]}, in place, for an F32 tensor of the rank's backend. */
    void allReduceSum(Tensor x);

    /**
     * Ends the group after a failure on some rank: ranks waiting in (or later entering) a collective fail
     * instead of waiting forever. The group cannot be used afterwards.
     */
    void abort();

    @Override
    default void close() {
    }
}
