package io.rocketkv.cuda;

import io.rocketkv.core.kernels.StepBatch;
import io.rocketkv.core.kernels.StepPlan;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Plans steps for one {@link CudaKernels} ({@code Kernels.plan}): packs a step's index arrays (and, for a prefill step
 * with {@code compactTables}, each sequence's kept table) into one int image
 * ({@link CudaStepPlan}) and uploads it in one copy into the plan buffer, which holds one plan at a time. The
 * engine plans each step once and every op of every layer reads the device copies. An op handed a plan that is no
 * longer on the device (a later plan replaced it) uploads it again ({@link #current}), except while a step is being
 * captured, when nothing may be copied. Not thread-safe: the backend's one thread uses it.
 */
final class CudaStepPlanner implements AutoCloseable {

    private final CudaScratch scratch;
    private DeviceBuffer buffer; // the current plan's image
    private CudaStepPlan current;

    CudaStepPlanner(CudaScratch scratch) {
        this.scratch = scratch;
    }

    /** Packs and uploads {@code batch}'s arrays; the result is the current plan. */
    CudaStepPlan plan(StepBatch batch, int kvLenBound) {
        if (kvLenBound < 0) {
            throw new IllegalArgumentException("kvLenBound must be >= 0, got " + kvLenBound);
        }
        int t = batch.numTokens();
        int s = batch.numSeqs();
        int maxBlocks = 1;
        int maxQ = 1;
        int maxKv = 1;
        for (int i = 0; i < s; i++) {
            maxBlocks = Math.max(maxBlocks, batch.blockTables()[i].length);
            maxQ = Math.max(maxQ, batch.queryLen(i));
            maxKv = Math.max(maxKv, batch.kvLens()[i]);
        }
        int tokenIds = 0;
        int positions = align(tokenIds + t);
        int slots = align(positions + t);
        int queryStart = align(slots + t);
        int kvLens = align(queryStart + s + 1);
        int tables = align(kvLens + s);
        int rows = align(tables + s * maxBlocks);
        int kept = batch.compactTables() == null ? -1 : align(rows + batch.logitRows().length);
        int total = align(kept >= 0 ? kept + s * maxBlocks : rows + batch.logitRows().length);
        int[] image = new int[total];
        System.arraycopy(batch.tokenIds(), 0, image, tokenIds, t);
        System.arraycopy(batch.positions(), 0, image, positions, t);
        System.arraycopy(batch.slotMapping(), 0, image, slots, t);
        System.arraycopy(batch.queryStart(), 0, image, queryStart, s + 1);
        System.arraycopy(batch.kvLens(), 0, image, kvLens, s);
        Arrays.fill(image, tables, tables + s * maxBlocks, -1);
        for (int i = 0; i < s; i++) {
            int[] row = batch.blockTables()[i];
            System.arraycopy(row, 0, image, tables + i * maxBlocks, row.length);
        }
        System.arraycopy(batch.logitRows(), 0, image, rows, batch.logitRows().length);
        if (kept >= 0) {
            // each sequence's kept table (StepBatch.keptTable): where stage 1 compacts to and the KT build reads
            Arrays.fill(image, kept, kept + s * maxBlocks, -1);
            for (int i = 0; i < s; i++) {
                int[] row = batch.keptTable(i);
                if (row.length > maxBlocks) {
                    throw new IllegalArgumentException("sequence " + i + " compacts into " + row.length
                            + " blocks, more than its block table's " + batch.blockTables()[i].length);
                }
                System.arraycopy(row, 0, image, kept + i * maxBlocks, row.length);
            }
        }
        var layout = new CudaStepPlan.Layout(tokenIds, positions, slots, queryStart, kvLens, tables, rows, kept, total);
        CudaStepPlan p = new CudaStepPlan(batch, kvLenBound, this, image, layout, maxBlocks, maxQ, maxKv);
        upload(p);
        return p;
    }

    /**
     * {@code step} as this planner's plan on the device: uploaded again when a later plan replaced it.
     *
     * @throws IllegalArgumentException when the plan comes from another backend
     * @throws IllegalStateException    when it must be uploaded while a step is being captured
     */
    CudaStepPlan current(StepPlan step) {
        if (!(step instanceof CudaStepPlan p) || p.planner() != this) {
            throw new IllegalArgumentException("the step plan was made by another backend; plan the step with this one"
                    + " (kernels.plan(batch))");
        }
        if (p != current) {
            if (scratch.capturing()) {
                throw new IllegalStateException("a step recorded with one plan used another; record every op of a step"
                        + " with the plan it was recorded for");
            }
            upload(p);
        }
        return p;
    }

    /** The current plan (null before the first), for a recording to check that a replay's layout matches. */
    CudaStepPlan current() {
        return current;
    }

    /** A slice of the plan buffer for one of {@code p}'s arrays (valid while {@code p} is current). */
    DeviceBuffer slice(CudaStepPlan p, long offset, long bytes) {
        if (p != current) {
            throw new IllegalStateException("the step plan is no longer on the device: get it through current(plan)");
        }
        return buffer.slice(offset, bytes);
    }

    private void upload(CudaStepPlan p) {
        long bytes = (long) p.layout().total() * Integer.BYTES;
        buffer = scratch.grow(buffer, Math.max(bytes, Integer.BYTES));
        buffer.copyFrom(MemorySegment.ofArray(p.image()), 0);
        current = p;
    }

    private static int align(int ints) {
        return (ints + 3) & ~3;
    }

    @Override
    public void close() {
        if (buffer != null) {
            buffer.close();
            buffer = null;
        }
        current = null;
    }
}
