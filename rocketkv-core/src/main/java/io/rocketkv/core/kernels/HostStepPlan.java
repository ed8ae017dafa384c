package io.rocketkv.core.kernels;

/** The CPU's {@link StepPlan}: the batch's own arrays, read in place by every op. */
record HostStepPlan(StepBatch batch, int kvLenBound) implements StepPlan {

    static HostStepPlan of(StepBatch batch, int kvLenBound) {
        int longest = 0;
        for (int len : batch.kvLens()) {
            longest = Math.max(longest, len);
        }
        return new HostStepPlan(batch, Math.max(longest, kvLenBound));
    }
}
