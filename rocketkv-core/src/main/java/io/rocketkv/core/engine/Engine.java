package io.rocketkv.core.engine;

import io.rocketkv.core.kernels.AttentionShape;
import io.rocketkv.core.kernels.Kernels;
import io.rocketkv.core.kernels.OutOfDeviceMemoryException;
import io.rocketkv.core.kernels.RecordedStep;
import io.rocketkv.core.kernels.StepBatch;
import io.rocketkv.core.kernels.Tensor;
import io.rocketkv.core.kvcache.KtCacheManager;
import io.rocketkv.core.kvcache.KvCacheManager;
import io.rocketkv.core.model.LlamaModel;
import io.rocketkv.core.model.StepWorkspace;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.sparse.RocketKvParams;
import io.rocketkv.core.sparse.RocketKvPlan;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The step loop: schedule → run the model → sample and stop (nano-vllm's three calls), on one engine
 * thread. {@link #submit} is safe from any thread; results arrive through futures, streamed tokens
 * through each request's listener (called on the engine thread).
 *
 * <p>Cancelling a request's future ({@code future.cancel(...)}, from any thread) stops it: before its next
 * step the engine thread removes the sequence from the queue or the running batch and frees its KV blocks;
 * its listener is not called again.
 */
public final class Engine implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Engine.class);

    private final LlamaModel model;
    private final EngineConfig config;
    private final Detokenizer detokenizer;
    private final KvCacheManager kv;
    private final Scheduler scheduler;
    private final Tensor[] kvCaches; // per layer [numBlocks, 2, Hkv, tokensPerBlock, D]
    private final RocketKvPlan plan; // null for dense attention
    private final Tensor[] ktCaches; // per layer [numBlocks · pagesPerBlock, 2, Hkv, D] in kernels.ktCacheDtype; null for dense
    private final long kvBytesPerBlock;
    private final StepWorkspace workspace; // the step's activations, reused by every step (engine thread only)
    private final Kernels kernels;
    private final int tableWidth; // widest block table: blocks of max_seq_len tokens
    private final Map<Long, RecordedStep> graphs = new HashMap<>(); // (bucket, table width) -> recorded step
    private boolean graphsOff; // the backend does not record, or a recording failed
    private final AtomicLong graphReplays = new AtomicLong();
    private final AtomicLong graphRecords = new AtomicLong();
    private final LinkedBlockingQueue<Sequence> incoming = new LinkedBlockingQueue<>();
    private final ConcurrentLinkedQueue<Sequence> cancelled = new ConcurrentLinkedQueue<>();
    private volatile int numWaiting; // published by the engine thread after each loop turn (gauges)
    private volatile int numRunning;
    private final AtomicLong nextId = new AtomicLong();
    private final Thread thread;
    private volatile boolean closed;

    public Engine(LlamaModel model, Kernels kernels, EngineConfig config, Detokenizer detokenizer) {
        this.model = model;
        this.kernels = kernels;
        this.config = config;
        this.detokenizer = detokenizer;
        this.tableWidth = (config.maxSeqLen() + config.tokensPerBlock() - 1) / config.tokensPerBlock();
        this.graphsOff = config.graphBatchSizes().isEmpty() || !kernels.recordsSteps();
        AttentionShape shape = model.attentionShape();
        if (shape.tokensPerBlock() != config.tokensPerBlock()) {
            throw new IllegalArgumentException("model bound for " + shape.tokensPerBlock() + " tokens per block, engine "
                    + config.tokensPerBlock());
        }
        this.kv = new KvCacheManager(config.numBlocks(), config.tokensPerBlock());
        this.scheduler = new Scheduler(config, kv);
        this.kvCaches = new Tensor[model.numLayers()];
        this.kvBytesPerBlock = (long) shape.blockElements() * kernels.kvCacheDtype().byteSize() * model.numLayers();
        try {
            for (int l = 0; l < kvCaches.length; l++) {
                kvCaches[l] = kernels.allocate(kernels.kvCacheDtype(), config.numBlocks(), 2, shape.numKvHeads(),
                        config.tokensPerBlock(), shape.headDim());
            }
        } catch (OutOfDeviceMemoryException e) {
            closeAll(kvCaches);
            throw e.naming("the KV cache (" + config.numBlocks() + " blocks of " + config.tokensPerBlock() + " tokens, "
                    + (config.numBlocks() * kvBytesPerBlock >> 20) + " MiB over " + model.numLayers() + " layers)",
                    "lower kv_cache_config.free_gpu_memory_fraction or kv_cache_config.max_tokens");
        }
        RocketKvParams rk = config.rocketKv();
        if (rk != null) {
            rk.validateAgainst(shape.headDim(), config.tokensPerBlock());
            DType ktDtype = kernels.ktCacheDtype(rk); // what the backend stores (CPU: F32 of rounded values)
            var kt = new KtCacheManager(config.numBlocks(), config.tokensPerBlock(), rk.pageSize(), model.numLayers(),
                    shape.numKvHeads(), shape.headDim(), ktDtype.byteSize());
            this.plan = new RocketKvPlan(rk, kt);
            this.ktCaches = new Tensor[model.numLayers()];
            try {
                for (int l = 0; l < ktCaches.length; l++) {
                    ktCaches[l] = kernels.allocate(ktDtype, kt.numPages(), 2, shape.numKvHeads(), shape.headDim());
                }
            } catch (OutOfDeviceMemoryException e) {
                closeAll(ktCaches);
                closeAll(kvCaches);
                throw e.naming("the KT cache (" + kt.numPages() + " pages per layer)",
                        "lower kv_cache_config.free_gpu_memory_fraction or kv_cache_config.max_tokens");
            }
        } else {
            this.plan = null;
            this.ktCaches = null;
        }
        // A step has at most max(max_num_tokens, max_batch_size) tokens (a prefill batch stops at
        // max_num_tokens, a decode step has one token per running sequence) and at most max_batch_size
        // logit rows. The one exception is a preempted sequence recomputed alone from its prompt and
        // outputs: up to max_seq_len − 1 tokens, possibly more than max_num_tokens. Sizing every engine for
        // that rare step would hold max_seq_len tokens of activations for good, so the workspace starts at
        // the common bound and step() grows it (once, straight to max_seq_len) when such a step comes.
        try {
            this.workspace = model.newWorkspace(initialWorkspaceTokens(config), config.maxBatchSize());
        } catch (OutOfDeviceMemoryException e) {
            closeAll(kvCaches);
            if (ktCaches != null) {
                closeAll(ktCaches);
            }
            throw e.naming("the step workspace (activations of " + initialWorkspaceTokens(config) + " tokens)",
                    "lower max_num_tokens or kv_cache_config.free_gpu_memory_fraction");
        }
        this.thread = Thread.ofPlatform().name("rocketkv-engine").daemon().unstarted(this::loop);
        thread.start();
    }

    /** Queues a request; the future completes when it finishes (or fails with the reason). */
    public CompletableFuture<GenerationResult> submit(GenerationRequest request) {
        if (closed) {
            throw new IllegalStateException("the engine is closed");
        }
        Sequence seq = new Sequence(nextId.getAndIncrement(), request, System.nanoTime());
        seq.result.whenComplete((r, e) -> {
            if (e instanceof CancellationException) {
                cancelled.add(seq); // the engine thread removes it and frees its blocks
            }
        });
        int n = request.promptIds().length;
        if (n > config.maxSeqLen()) {
            seq.result.completeExceptionally(new IllegalArgumentException("the prompt has " + n
                    + " tokens, more than max_seq_len = " + config.maxSeqLen() + "; shorten it or raise max_seq_len"));
        } else if (n > config.maxNumTokens()) {
            seq.result.completeExceptionally(new IllegalArgumentException("the prompt has " + n
                    + " tokens, more than max_num_tokens = " + config.maxNumTokens()
                    + " (one prefill step); shorten it or raise max_num_tokens"));
        } else {
            incoming.add(seq);
            if (closed && incoming.remove(seq)) {
                // close() ran between the check above and the add: it will not see this request
                seq.result.completeExceptionally(new IllegalStateException("the engine is closed"));
            }
        }
        return seq.result;
    }

    public EngineConfig config() {
        return config;
    }

    /**
     * KV-cache blocks in use (all layers share one block table per sequence). Exact on the engine thread
     * (e.g. in a token listener) and once requests have completed; from other threads while requests run,
     * a recent value suitable for gauges.
     */
    public int usedKvBlocks() {
        return kv.numUsedBlocks();
    }

    /** KV-cache blocks in the pool. */
    public int totalKvBlocks() {
        return config.numBlocks();
    }

    /** Requests submitted and not yet running (queued, or preempted and waiting); a recent value. */
    public int numWaiting() {
        return numWaiting + incoming.size();
    }

    /** Requests in the running batch; a recent value. */
    public int numRunning() {
        return numRunning;
    }

    /** Bytes of one block across all layers. */
    public long kvBytesPerBlock() {
        return kvBytesPerBlock;
    }

    private void loop() {
        while (!closed) {
            try {
                if (!scheduler.hasWork()) {
                    Sequence s = incoming.poll(100, TimeUnit.MILLISECONDS);
                    if (s != null) {
                        scheduler.add(s);
                    }
                }
                for (Sequence s; (s = incoming.poll()) != null; ) {
                    scheduler.add(s);
                }
                removeCancelled();
                if (scheduler.hasWork()) {
                    step();
                }
                numWaiting = scheduler.numWaiting();
                numRunning = scheduler.numRunning();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (RuntimeException | Error e) {
                log.error("engine step failed", e);
            }
        }
    }

    /** Drops cancelled sequences (queued or running) and frees their blocks; engine thread only. */
    private void removeCancelled() {
        for (Sequence s; (s = cancelled.poll()) != null; ) {
            incoming.remove(s);
            scheduler.finish(s);
            log.debug("request {} cancelled after {} tokens", s.id, s.numOutputs());
        }
    }

    private void step() {
        Scheduler.Batch batch = scheduler.schedule();
        for (Sequence f : batch.failed()) {
            scheduler.finish(f);
        }
        if (batch.isEmpty()) {
            return;
        }
        List<Sequence> seqs = batch.seqs();
        long t0 = System.nanoTime();
        float[] logits;
        try {
            StepBatch step = buildStep(batch);
            if (workspace.ensureCapacity(step.numTokens() > workspace.maxTokens()
                    ? Math.max(step.numTokens(), config.maxSeqLen()) : step.numTokens(), step.logitRows().length)) {
                log.debug("step workspace grown to {} tokens, {} rows (a recomputed sequence longer than"
                        + " max_num_tokens)", workspace.maxTokens(), workspace.maxRows());
                closeGraphs(); // they point at the old buffers
            }
            int bucket = batch.prefill() || graphsOff ? -1 : config.graphBucket(seqs.size());
            logits = bucket > 0 ? decodeWithGraph(step, bucket)
                    : model.forward(step, kvCaches, ktCaches, plan, workspace);
            if (plan != null && batch.prefill()) {
                for (Sequence s : seqs) {
                    int kept = plan.params().keptTokens(s.numTokens());
                    if (kept < kv.numTokens(s.id)) {
                        kv.truncate(s.id, kept); // stage 1 compacted every layer to the budget
                    }
                }
            }
        } catch (RuntimeException e) {
            for (Sequence s : seqs) {
                scheduler.finish(s);
                s.result.completeExceptionally(e);
            }
            return;
        }
        long elapsed = System.nanoTime() - t0;
        int vocab = model.config().vocabSize();
        for (int i = 0; i < seqs.size(); i++) {
            Sequence s = seqs.get(i);
            if (batch.prefill()) {
                s.prefillNanos += elapsed;
            } else {
                s.decodeNanos += elapsed;
            }
            s.kvBytesPeak = Math.max(s.kvBytesPeak, kv.blockTable(s.id).numBlocks() * kvBytesPerBlock);
            s.cacheTokens = kv.numTokens(s.id);
            if (plan != null) {
                s.ktBytesPeak = Math.max(s.ktBytesPeak, plan.kt().bytesFor(s.cacheTokens));
            }
            try {
                postprocess(s, s.sampler.sample(logits, i * vocab, vocab));
            } catch (RuntimeException e) {
                // a failure of one request (sampling, detokenizing) ends that request only
                log.warn("request {} failed after {} tokens", s.id, s.numOutputs(), e);
                scheduler.finish(s);
                s.result.completeExceptionally(e);
            }
        }
    }

    private void postprocess(Sequence s, SampledToken token) {
        if (s.result.isCancelled()) {
            return; // cancelled during this step: removed before the next one
        }
        if (s.firstTokenNanos == 0) {
            s.firstTokenNanos = System.nanoTime();
        }
        s.append(token, detokenizer);
        StopDecision d = s.stopChecker.onToken(token.tokenId(), s.text());
        FinishReason reason = d.finishReason().orElse(null);
        if (reason == null && s.numTokens() >= config.maxSeqLen()) {
            reason = FinishReason.LENGTH;
        }
        if (reason != null) {
            int cut = d.kind() == StopDecision.Kind.STOP_STRING ? d.truncateAt() : -1;
            boolean byToken = d.kind() == StopDecision.Kind.STOP_EOS || d.kind() == StopDecision.Kind.STOP_TOKEN;
            s.finish(reason, cut, byToken, detokenizer);
            scheduler.finish(s);
        }
        var listener = s.request.listener();
        if (listener != null) {
            // A stop string can only begin in the last (longest − 1) characters of the text so far, so those
            // are held back until the next token or the end: streamed text is always a prefix of the result.
            String delta = s.takeStreamDelta(Math.max(0, s.request.stop().longestStopString() - 1));
            try {
                listener.accept(new GenerationRequest.TokenEvent(token, delta, reason));
            } catch (RuntimeException e) {
                log.warn("a token listener threw; the request continues", e);
            }
        }
        if (reason != null) {
            s.result.complete(s.toResult(kvBytesPerBlock / config.tokensPerBlock()));
        }
    }

    /**
     * A decode step through the recording of its bucket: the step is padded to {@code bucket} sequences
     * (padding rows are skipped by every op) and the bucket's recording replayed; the first step of a bucket
     * (or the first after its recording went stale) runs the ops and records them. A recording failure turns
     * graphs off for this engine and the step runs again without one (every op of a step is idempotent: the
     * same K/V and KT values are written again and the activations recomputed).
     */
    private float[] decodeWithGraph(StepBatch step, int bucket) {
        if (workspace.ensureCapacity(bucket, bucket)) {
            closeGraphs();
        }
        // Tables are padded to a power-of-two width (at least 16 blocks): few recordings per bucket, and a
        // step's index upload and its attention launch sized for the lengths at hand, not max_seq_len.
        int blocks = 1;
        for (int[] t : step.blockTables()) {
            blocks = Math.max(blocks, t.length);
        }
        int width = Math.min(tableWidth, Math.max(16, Integer.highestOneBit(blocks - 1 == 0 ? 1 : blocks - 1) << 1));
        width = Math.max(width, blocks);
        StepBatch padded = step.padDecode(bucket, width);
        long key = ((long) bucket << 32) | width;
        RecordedStep g = graphs.get(key);
        if (g != null && g.isStale()) {
            g.close();
            graphs.remove(key);
            g = null;
        }
        if (g != null) {
            g.replay(padded);
            graphReplays.incrementAndGet();
        } else {
            try {
                int kvBound = (int) Math.min(Integer.MAX_VALUE, (long) width * config.tokensPerBlock());
                g = kernels.record(padded, kvBound, () -> model.run(padded, kvCaches, ktCaches, plan, workspace));
            } catch (RuntimeException e) {
                log.warn("recording the decode step of batch size {} failed; running without CUDA graphs", bucket, e);
                graphsOff = true;
                closeGraphs();
                return model.forward(step, kvCaches, ktCaches, plan, workspace);
            }
            if (g == null) {
                graphsOff = true; // the backend runs ops eagerly (the step above already ran)
            } else {
                graphs.put(key, g);
                graphRecords.incrementAndGet();
                log.debug("recorded the decode step for batch size {}, block tables of {}", bucket, width);
            }
        }
        return model.readLogits(workspace, step.numSeqs());
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

    /** Decode steps replayed from a recording (CUDA graph) so far. */
    public long graphReplays() {
        return graphReplays.get();
    }

    /** Decode steps recorded (one per batch-size bucket, again after a recording went stale) so far. */
    public long graphRecords() {
        return graphRecords.get();
    }

    private static void closeAll(Tensor[] tensors) {
        for (Tensor t : tensors) {
            if (t != null) {
                t.close();
            }
        }
    }

    /** Tokens the step workspace is first sized for: the largest step but a long recompute prefill. */
    static int initialWorkspaceTokens(EngineConfig config) {
        return Math.max(config.maxNumTokens(), config.maxBatchSize());
    }

    /** Flat token, position, slot and block-table arrays for the batch (built once, used by every layer). */
    private StepBatch buildStep(Scheduler.Batch batch) {
        List<Sequence> seqs = batch.seqs();
        int n = seqs.size();
        int total = 0;
        for (Sequence s : seqs) {
            total += batch.prefill() ? s.numTokens() : 1;
        }
        int[] ids = new int[total];
        int[] pos = new int[total];
        int[] slots = new int[total];
        int[] qStart = new int[n + 1];
        int[] kvLens = new int[n];
        int[][] tables = new int[n][];
        int[] logitRows = new int[n];
        int t = 0;
        for (int i = 0; i < n; i++) {
            Sequence s = seqs.get(i);
            qStart[i] = t;
            int len = s.numTokens();
            if (batch.prefill()) {
                System.arraycopy(s.allTokens(), 0, ids, t, len);
                kv.slotMapping(s.id, 0, len, slots, t);
                for (int j = 0; j < len; j++) {
                    pos[t + j] = j;
                }
                t += len;
            } else {
                // with RocketKV the cache holds fewer slots than the sequence has tokens: the new token goes
                // to the next cache slot but keeps its true position
                int cacheLen = kv.numTokens(s.id);
                ids[t] = s.lastToken();
                pos[t] = len - 1;
                kv.slotMapping(s.id, cacheLen - 1, cacheLen, slots, t);
                len = cacheLen;
                t++;
            }
            kvLens[i] = len;
            tables[i] = kv.blockTable(s.id).blockIds();
            logitRows[i] = t - 1;
        }
        qStart[n] = t;
        return new StepBatch(batch.prefill(), ids, pos, slots, qStart, kvLens, tables, logitRows);
    }

    @Override
    public void close() {
        closed = true;
        thread.interrupt();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        List<Sequence> pending = new ArrayList<>();
        incoming.drainTo(pending);
        if (!thread.isAlive()) {
            pending.addAll(scheduler.abortAll());
        }
        for (Sequence s : pending) {
            s.result.completeExceptionally(new IllegalStateException("the engine was closed"));
        }
        if (!thread.isAlive()) {
            closeGraphs();
            workspace.close(); // a step still running (join timed out) keeps it; the backend frees it on close
        }
        for (Tensor c : kvCaches) {
            c.close();
        }
        if (ktCaches != null) {
            for (Tensor c : ktCaches) {
                c.close();
            }
        }
    }
}
