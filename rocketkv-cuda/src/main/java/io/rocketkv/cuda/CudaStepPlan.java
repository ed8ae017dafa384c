package io.rocketkv.cuda;

import io.rocketkv.core.kernels.StepBatch;
import io.rocketkv.core.kernels.StepPlan;

/**
 * A step's index arrays packed for the device ({@link CudaStepPlanner}): token ids, positions, slots [T]; query
 * starts [S+1]; KV lengths [S]; block tables [S][maxBlocks] padded with −1; logit rows [R] — each at an int offset
 * (16-byte aligned) of one image, uploaded in one copy; a prefill step with {@code compactTables} adds the kept
 * tables [S][maxBlocks] ({@code StepBatch.keptTable}). The device slices ({@link #tokenIds()} and the others) are
 * valid while this plan is its planner's current one; ops get them through {@link CudaStepPlanner#current}.
 *
 * @param maxBlocks   the widest block table (the tables' row stride)
 * @param maxQueryLen the most new tokens of one sequence
 * @param maxKvLen    the longest KV length of the batch
 */
record CudaStepPlan(StepBatch batch, int kvLenBound, CudaStepPlanner planner, int[] image, Layout layout,
                    int maxBlocks, int maxQueryLen, int maxKvLen) implements StepPlan {

    /** Offsets (in ints) of the arrays inside the image; {@code keptTables} −1 when the step has none. */
    record Layout(int tokenIds, int positions, int slots, int queryStart, int kvLens, int tables, int rows,
                  int keptTables, int total) {
    }

    DeviceBuffer tokenIds() {
        return ints(layout.tokenIds(), batch.numTokens());
    }

    DeviceBuffer positions() {
        return ints(layout.positions(), batch.numTokens());
    }

    DeviceBuffer slots() {
        return ints(layout.slots(), batch.numTokens());
    }

    DeviceBuffer queryStart() {
        return ints(layout.queryStart(), batch.numSeqs() + 1);
    }

    DeviceBuffer kvLens() {
        return ints(layout.kvLens(), batch.numSeqs());
    }

    DeviceBuffer tables() {
        return ints(layout.tables(), batch.numSeqs() * maxBlocks);
    }

    /**
     * Each sequence's kept table [S][maxBlocks] (the blocks RocketKV stage 1 compacts into and the KT build reads):
     * {@link #tables()} when the step compacts every sequence in place.
     */
    DeviceBuffer keptTables() {
        return layout.keptTables() < 0 ? tables() : ints(layout.keptTables(), batch.numSeqs() * maxBlocks);
    }

    DeviceBuffer logitRows() {
        return ints(layout.rows(), batch.logitRows().length);
    }

    /** The longest KV length the launches are sized for: {@code max(maxKvLen, kvLenBound)}. */
    int launchKvLen() {
        return Math.max(maxKvLen, kvLenBound);
    }

    private DeviceBuffer ints(int offset, int count) {
        return planner.slice(this, (long) offset * Integer.BYTES, (long) Math.max(count, 1) * Integer.BYTES);
    }
}
