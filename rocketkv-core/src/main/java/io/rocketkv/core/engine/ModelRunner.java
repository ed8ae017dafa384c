package io.rocketkv.core.engine;

import io.rocketkv.core.kernels.AttentionShape;
import io.rocketkv.core.kernels.Kernels;
import io.rocketkv.core.kernels.OutOfDeviceMemoryException;
import io.rocketkv.core.kernels.RecordedStep;
import io.rocketkv.core.kernels.StepBatch;
import io.rocketkv.core.kernels.StepPlan;
import io.rocketkv.core.kernels.Tensor;
import io.rocketkv.core.model.KvCacheScales;
import io.rocketkv.core.model.Model;
import io.rocketkv.core.model.StepWorkspace;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.sparse.RocketKvPlan;
import java.util.HashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One rank's model runner (nano-vllm's {@code model_runner}): owns that rank's KV and KT cache tensors, its step
 * workspace and its recorded decode steps (CUDA-graph buckets), plans each step once ({@link Kernels#plan}) and runs
 * the model over it. The {@link Engine} builds the step, calls {@link #run} on every rank and samples rank 0's
 * logits. Touched by one thread at a time (the engine thread, or during a step the rank's thread).
 */
final class ModelRunner implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ModelRunner.class);

    private final int rank;
    private final Model model;
    private final Kernels kernels;
    private final EngineConfig config;
    private final RocketKvPlan rocket; // null for dense attention
    private final boolean alone;       // the only rank: a failed recording may fall back to eager steps
    private final int tableWidth;      // widest block table: blocks of max_seq_len tokens
    private final Tensor[] kvCaches;   // per layer [numBlocks, 2, Hkv, tokensPerBlock, D]
    private final Tensor[] ktCaches;   // per layer [numBlocks · pagesPerBlock, 2, Hkv, D]; null for dense
    private final Tensor[] windowStash; // per layer [window_size, Hq·D] F32: RocketKV with chunked prefill, else null
    private final long kvBytesPerBlock; // over all layers, this rank's KV heads
    private final StepWorkspace workspace; // the step's activations, reused by every step
    private final Map<Long, RecordedStep> graphs = new HashMap<>(); // (bucket, table width) -> recorded step
    private boolean graphsOff; // the backend does not record, or a recording failed
    private volatile long graphReplays; // written by this rank's thread, read by gauges
    private volatile long graphRecords;

    /**
     * Allocates the rank's caches ({@code config.numBlocks()} blocks) and workspace.
     *
     * @throws OutOfDeviceMemoryException naming what did not fit and the setting to lower
     */
    ModelRunner(int rank, int ranks, Model model, Kernels kernels, EngineConfig config, RocketKvPlan rocket) {
        this.rank = rank;
        this.model = model;
        this.kernels = kernels;
        this.config = config;
        this.rocket = rocket;
        this.alone = ranks == 1;
        this.tableWidth = (config.maxSeqLen() + config.tokensPerBlock() - 1) / config.tokensPerBlock();
        this.graphsOff = config.graphBatchSizes().isEmpty() || !kernels.recordsSteps();
        AttentionShape shape = model.attentionShape();
        String where = alone ? "" : " on rank " + rank;
        DType kvDtype = kernels.kvCacheDtype();
        this.kvBytesPerBlock = (long) shape.blockElements() * kvDtype.byteSize() * model.numLayers();
        this.kvCaches = new Tensor[model.numLayers()];
        this.ktCaches = rocket == null ? null : new Tensor[model.numLayers()];
        this.windowStash = rocket == null || !config.chunkedPrefill() ? null : new Tensor[model.numLayers()];
        String lower = "lower kv_cache_config.free_gpu_memory_fraction or kv_cache_config.max_tokens";
        try {
            KvCacheScales scales = kvDtype == DType.F8_E4M3 ? model.kvCacheScales() : null;
            for (int l = 0; l < kvCaches.length; l++) {
                kvCaches[l] = kernels.allocate(kvDtype, config.numBlocks(), 2, shape.numKvHeads(),
                        config.tokensPerBlock(), shape.headDim());
                if (scales != null) {
                    kernels.setKvCacheScales(kvCaches[l], scales.k()[l], scales.v()[l]);
                }
            }
        } catch (OutOfDeviceMemoryException e) {
            closeCaches();
            throw e.naming("the KV cache" + where + " (" + config.numBlocks() + " blocks of " + config.tokensPerBlock()
                    + " tokens, " + (config.numBlocks() * kvBytesPerBlock >> 20) + " MiB over " + model.numLayers()
                    + " layers)", lower);
        }
        try {
            for (int l = 0; ktCaches != null && l < ktCaches.length; l++) {
                ktCaches[l] = kernels.allocate(kernels.ktCacheDtype(rocket.params()), rocket.kt().numPages(), 2,
                        shape.numKvHeads(), shape.headDim());
            }
        } catch (OutOfDeviceMemoryException e) {
            closeCaches();
            throw e.naming("the KT cache" + where + " (" + rocket.kt().numPages() + " pages per layer)", lower);
        }
        try {
            for (int l = 0; windowStash != null && l < windowStash.length; l++) {
                windowStash[l] = kernels.allocate(DType.F32, rocket.params().windowSize(),
                        shape.numHeads() * shape.headDim());
            }
        } catch (OutOfDeviceMemoryException e) {
            closeCaches();
            throw e.naming("the RocketKV window stash" + where + " (" + rocket.params().windowSize()
                    + " query rows per layer)", lower);
        }
        // A step has at most max(max_num_tokens, max_batch_size) tokens (a prefill batch stops at max_num_tokens, a
        // decode step has one token per running sequence) and at most max_batch_size logit rows. With chunked
        // prefill that bound holds for every step (a long prompt or recompute goes in chunks). Without it, the one
        // exception is a preempted sequence recomputed alone from its prompt and outputs: up to max_seq_len − 1
        // tokens, possibly more than max_num_tokens. Sizing every runner for that rare step would hold max_seq_len tokens of
        // activations for good, so the workspace starts at the common bound and run() grows it (once, straight to
        // max_seq_len) when such a step comes.
        try {
            this.workspace = model.newWorkspace(initialWorkspaceTokens(config), config.maxBatchSize());
        } catch (OutOfDeviceMemoryException e) {
            closeCaches();
            throw e.naming("the step workspace" + where + " (activations of " + initialWorkspaceTokens(config)
                    + " tokens)", "lower max_num_tokens or kv_cache_config.free_gpu_memory_fraction");
        }
    }

    /** Tokens the step workspace is first sized for: the largest step but a long recompute prefill. */
    static int initialWorkspaceTokens(EngineConfig config) {
        return Math.max(config.maxNumTokens(), config.maxBatchSize());
    }

    /** Bytes of one KV block over all layers on this rank. */
    long kvBytesPerBlock() {
        return kvBytesPerBlock;
    }

    /** Whether decode steps may go through recorded steps (the backend records and no recording failed). */
    boolean graphsOn() {
        return !graphsOff;
    }

    long graphReplays() {
        return graphReplays;
    }

    long graphRecords() {
        return graphRecords;
    }

    Model model() {
        return model;
    }

    /**
     * Runs one step: grows the workspace when the step needs it (a long recompute prefill), then runs the model
     * eagerly, or, for a decode step with {@code bucket} > 0, through the recording of that batch-size bucket.
     * Returns the logits of the step's logit rows ([rows, vocab]) on rank 0, null on the others.
     */
    float[] run(StepBatch step, int bucket) {
        return run(step, bucket, true);
    }

    /**
     * {@link #run(StepBatch, int)}, reading the logits back only when {@code readLogits}: otherwise they stay in the
     * workspace (for {@link #greedyRows}) and this returns null.
     */
    float[] run(StepBatch step, int bucket, boolean readLogits) {
        if (workspace.ensureCapacity(step.numTokens() > workspace.maxTokens()
                ? Math.max(step.numTokens(), config.maxSeqLen()) : step.numTokens(), step.logitRows().length)) {
            log.debug("step workspace grown to {} tokens, {} rows (a recomputed sequence longer than max_num_tokens)",
                    workspace.maxTokens(), workspace.maxRows());
            closeGraphs(); // they point at the old buffers
        }
        if (bucket > 0 && !graphsOff) {
            return runRecorded(step, bucket, readLogits);
        }
        model.run(kernels.plan(step), kvCaches, ktCaches, rocket, windowStash, workspace);
        return readLogits ? logits(step.logitRows().length) : null;
    }

    /** The most rows one {@link #rowLogits} call takes. */
    int maxLogitRows() {
        return workspace.maxRows();
    }

    /**
     * The logits ([rows, vocab]) of token rows {@code rows} of the last step's final hidden states (rank 0), for
     * prompt log-probabilities; at most {@link #maxLogitRows()} rows.
     */
    float[] rowLogits(int[] rows) {
        return model.logitsOfRows(workspace, rows);
    }

    /** {@link Model#greedyRows} over the first {@code rows} logit rows the last step left (rank 0). */
    void greedyRows(int rows, int topK, int[] ids, float[] logprobs, int[] topIds, float[] topLogprobs) {
        model.greedyRows(workspace, rows, topK, ids, logprobs, topIds, topLogprobs);
    }

    /** Whether the backend picks greedy tokens next to the logits ({@link Kernels#hasGreedyRows}). */
    boolean hasGreedyRows() {
        return kernels.hasGreedyRows();
    }

    private float[] logits(int rows) {
        return rank == 0 ? model.readLogits(workspace, rows) : null;
    }

    /**
     * A decode step through the recording of its bucket: the step is padded to {@code bucket} sequences (padding
     * rows are skipped by every op) and the bucket's recording replayed; the first step of a bucket (or the first
     * after its recording went stale) runs the ops and records them. Alone on its device, a recording failure turns
     * recordings off for this runner and the step runs again without one (every op of a step is idempotent: the
     * same K/V and KT values are written again and the activations recomputed); with several ranks it fails the
     * step (the ranks' collectives must stay in step).
     */
    private float[] runRecorded(StepBatch step, int bucket, boolean readLogits) {
        if (workspace.ensureCapacity(bucket, bucket)) {
            closeGraphs();
        }
        // Tables are padded to a power-of-two width (at least 16 blocks): few recordings per bucket, and a step's
        // index upload and its attention launch sized for the lengths at hand, not max_seq_len.
        int blocks = 1;
        for (int[] t : step.blockTables()) {
            blocks = Math.max(blocks, t.length);
        }
        int width = Math.min(tableWidth, Math.max(16, Integer.highestOneBit(blocks - 1 == 0 ? 1 : blocks - 1) << 1));
        width = Math.max(width, blocks);
        StepBatch padded = step.padDecode(bucket, width);
        int kvBound = (int) Math.min(Integer.MAX_VALUE, (long) width * config.tokensPerBlock());
        StepPlan plan = kernels.plan(padded, kvBound);
        long key = ((long) bucket << 32) | width;
        RecordedStep g = graphs.get(key);
        if (g != null && g.isStale()) {
            g.close();
            graphs.remove(key);
            g = null;
        }
        if (g != null) {
            g.replay(plan);
            graphReplays++;
            return readLogits ? logits(step.numSeqs()) : null;
        }
        try {
            g = kernels.record(plan, () -> model.run(plan, kvCaches, ktCaches, rocket, workspace));
        } catch (RuntimeException e) {
            if (!alone) {
                throw e;
            }
            log.warn("recording the decode step of batch size {} failed; running without CUDA graphs", bucket, e);
            graphsOff = true;
            closeGraphs();
            model.run(kernels.plan(step), kvCaches, ktCaches, rocket, workspace);
            return readLogits ? logits(step.logitRows().length) : null;
        }
        if (g == null) {
            graphsOff = true; // the backend runs ops eagerly (the step above already ran)
        } else {
            graphs.put(key, g);
            graphRecords++;
            log.debug("recorded the decode step for batch size {}, block tables of {} (rank {})", bucket, width, rank);
        }
        return readLogits ? logits(step.numSeqs()) : null;
    }

    private void closeGraphs() {
        for (RecordedStep g : graphs.values()) {
            try {
                g.close();
            } catch (RuntimeException e) {
                log.warn("closing a recorded decode step failed", e);
            }
        }
        graphs.clear();
    }

    private void closeCaches() {
        for (Tensor[] caches : new Tensor[][] {kvCaches, ktCaches, windowStash}) {
            for (int l = 0; caches != null && l < caches.length; l++) {
                if (caches[l] != null) {
                    caches[l].close();
                    caches[l] = null;
                }
            }
        }
    }

    /**
     * Frees the caches, and (when {@code withSteps}) the recordings and the workspace; a step still running elsewhere
     * keeps those (the backend frees them when it closes).
     */
    void close(boolean withSteps) {
        if (withSteps) {
            closeGraphs();
            workspace.close();
        }
        closeCaches();
    }

    @Override
    public void close() {
        close(true);
    }
}
