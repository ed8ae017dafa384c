package io.rocketkv.core.kernels;

/**
 * One step's index arrays as a backend prepared them ({@link Kernels#plan}): built once per step, then passed to
 * every op that needs token ids, positions, slots, lengths or block tables (FlashInfer's plan/run split). On the
 * CPU it is the {@link StepBatch} itself; the CUDA backend uploads the arrays once and its ops read the device
 * copies.
 *
 * <p>A backend keeps one plan at a time: {@link Kernels#plan} supersedes the plan it returned before, and an op
 * given a superseded plan throws {@link IllegalStateException} (plan the step again).
 */
public interface StepPlan {

    /** The step this plan was made for. */
    StepBatch batch();

    /**
     * The longest KV length a step run through this plan's layout may have: the batch's own longest, or more when
     * the plan was made for a recorded step that later steps of other lengths replay ({@link Kernels#plan(StepBatch,
     * int)}). Split-KV attention sizes its launch from it.
     */
    int kvLenBound();
}
