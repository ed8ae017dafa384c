package io.rocketkv.cuda;

import io.rocketkv.core.kernels.RecordedStep;
import io.rocketkv.core.kernels.StepPlan;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * Records steps into CUDA graphs for one {@link CudaKernels} ({@code Kernels.record}) and replays them. A recording
 * keeps the plan layout it was captured with (offsets and table width inside the plan buffer) and the scratch
 * epoch; a replay uploads its own plan to the same offsets and launches the graph. Not thread-safe: the backend's
 * one thread uses it.
 */
final class CudaStepRecorder implements AutoCloseable {

    private final CudaStream stream;
    private final CudaScratch scratch;
    private final CudaStepPlanner planner;
    private final Set<Recording> recordings = Collections.newSetFromMap(new IdentityHashMap<>());
    private boolean closed;

    CudaStepRecorder(CudaStream stream, CudaScratch scratch, CudaStepPlanner planner) {
        this.stream = stream;
        this.scratch = scratch;
        this.planner = planner;
    }

    /**
     * Runs {@code work} once eagerly (so that every scratch buffer the replays need is allocated now; split-KV
     * attention is sized for the plan's {@code kvLenBound}), then captures the ops it queues into a CUDA graph
     * (global capture mode: nothing may allocate or synchronise meanwhile; an op that would grow scratch memory or
     * upload another plan throws).
     */
    RecordedStep record(StepPlan step, Runnable work) {
        if (closed) {
            throw new IllegalStateException("CudaKernels is closed");
        }
        CudaStepPlan plan = planner.current(step);
        work.run();
        plan = planner.current(plan); // the eager run may have planned another step
        long epoch = scratch.epoch();
        CudaGraph graph;
        scratch.capturing(true);
        try {
            graph = CudaGraph.capture(stream, work);
        } finally {
            scratch.capturing(false);
        }
        Recording r = new Recording(graph, plan, epoch);
        recordings.add(r);
        return r;
    }

    /** A step captured by {@link #record}. */
    private final class Recording implements RecordedStep {
        private final CudaGraph graph;
        private final CudaStepPlan recorded;
        private final long epoch;
        private boolean released;

        Recording(CudaGraph graph, CudaStepPlan recorded, long epoch) {
            this.graph = graph;
            this.recorded = recorded;
            this.epoch = epoch;
        }

        @Override
        public void replay(StepPlan step) {
            if (released) {
                throw new IllegalStateException("the recorded step is closed");
            }
            if (isStale()) {
                throw new IllegalStateException("the recorded step is stale (scratch memory moved); record it again");
            }
            CudaStepPlan p = planner.current(step);
            if (p.batch().numSeqs() != recorded.batch().numSeqs() || p.batch().numTokens() != recorded.batch().numTokens()) {
                throw new IllegalArgumentException("recorded for " + recorded.batch().numSeqs() + " sequences and "
                        + recorded.batch().numTokens() + " tokens, got " + p.batch().numSeqs() + " and "
                        + p.batch().numTokens());
            }
            if (!p.layout().equals(recorded.layout()) || p.maxBlocks() != recorded.maxBlocks()
                    || p.launchKvLen() > recorded.launchKvLen()) {
                throw new IllegalArgumentException("the step's index layout differs from the recorded one (block-table"
                        + " width " + p.maxBlocks() + ", recorded " + recorded.maxBlocks() + "; KV length bound "
                        + p.launchKvLen() + ", recorded " + recorded.launchKvLen() + "); pad it the same way");
            }
            if (scratch.epoch() != epoch) {
                throw new IllegalStateException("uploading the step moved scratch memory; record it again");
            }
            graph.launch(stream);
        }

        @Override
        public boolean isStale() {
            return closed || scratch.epoch() != epoch;
        }

        @Override
        public void close() {
            if (released) {
                return;
            }
            released = true;
            recordings.remove(this);
            if (!closed) {
                graph.close();
            }
        }
    }

    /** Closes every recording (before the modules and buffers they point at). */
    @Override
    public void close() {
        RuntimeException failure = Closeables.closeAll(null, List.copyOf(recordings));
        closed = true;
        if (failure != null) {
            throw failure;
        }
    }
}
