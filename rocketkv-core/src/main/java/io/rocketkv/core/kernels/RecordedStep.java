package io.rocketkv.core.kernels;

/**
 * A step's ops recorded by {@link Kernels#record} (a CUDA graph on the GPU) for replay on later steps of the
 * same layout: same number of sequences, same block-table width (see {@link StepBatch#padDecode}), same
 * tensors. Replay reads everything that changes between steps (token ids, positions, slots, KV lengths,
 * block tables) from the batch it is given.
 */
public interface RecordedStep extends AutoCloseable {

    /**
     * Runs the recorded ops for {@code step}, the backend's current plan.
     *
     * @throws IllegalArgumentException when the step's layout differs from the recorded one
     * @throws IllegalStateException    when the recording is {@link #isStale() stale} or closed
     */
    void replay(StepPlan step);

    /**
     * True once memory the recording points at has moved (the backend's scratch was reallocated): the step
     * must be recorded again.
     */
    boolean isStale();

    @Override
    void close();
}
