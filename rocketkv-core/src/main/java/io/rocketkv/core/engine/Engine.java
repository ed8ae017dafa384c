package io.rocketkv.core.engine;

import io.rocketkv.core.kernels.AttentionShape;
import io.rocketkv.core.kernels.Collective;
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
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorCompletionService;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.function.IntConsumer;
import java.util.stream.IntStream;
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
 *
 * <p>Tensor parallelism: an engine over the shards of one model ({@link #Engine(List, List, EngineConfig,
 * Detokenizer)}) keeps one block table per sequence for all ranks (every rank caches the same token slots, for
 * its own KV heads) and runs each step on every rank at once, each on its own thread; rank 0's logits are
 * sampled. A failure on one rank aborts the group's collectives (the others would wait for it forever), fails
 * the step's requests and leaves the engine refusing further steps.
 */
public final class Engine implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Engine.class);

    private final LlamaModel model; // rank 0's
    private final EngineConfig config;
    private final Detokenizer detokenizer;
    private final KvCacheManager kv;
    private final Scheduler scheduler;
    private final RocketKvPlan plan; // null for dense attention; the same block-to-page mapping on every rank
    private final long kvBytesPerBlock; // over all layers and ranks
    private final List<Rank> ranks; // one per device (tensor parallelism), else one
    private final ExecutorService rankThreads; // one thread per rank when there are several, else null
    private volatile String groupFailure; // why the tensor-parallel group was aborted; null while it works
    private final int tableWidth; // widest block table: blocks of max_seq_len tokens
    private volatile boolean graphsOff; // the backend does not record, or a recording failed
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
        this(List.of(model), List.of(kernels), config, detokenizer);
    }

    /**
     * An engine over the tensor-parallel shards {@code models} (rank r's model and backend at index r; one of
     * each for a model on one device). Each rank gets its own KV (and KT) caches of {@code config.numBlocks()}
     * blocks for its KV heads and its own step workspace.
     */
    public Engine(List<LlamaModel> models, List<Kernels> kernels, EngineConfig config, Detokenizer detokenizer) {
        if (models.isEmpty() || models.size() != kernels.size()) {
            throw new IllegalArgumentException("one backend per model shard, got " + models.size() + " models and "
                    + kernels.size() + " backends");
        }
        for (int r = 0; r < models.size(); r++) {
            var tp = models.get(r).tensorParallelPlan();
            if (models.size() > 1 && (tp == null || tp.rank() != r || tp.size() != models.size())) {
                throw new IllegalArgumentException("model " + r + " of " + models.size()
                        + " must be the shard of rank " + r + " of " + models.size() + ", got " + tp);
            }
            if (models.size() == 1 && tp != null && tp.size() != 1) {
                throw new IllegalArgumentException("one model was given, the shard of rank " + tp.rank() + " of "
                        + tp.size() + "; give the shards of every rank, or load the whole model");
            }
        }
        this.model = models.get(0);
        this.config = config;
        this.detokenizer = detokenizer;
        this.tableWidth = (config.maxSeqLen() + config.tokensPerBlock() - 1) / config.tokensPerBlock();
        boolean allRecord = true;
        for (Kernels k : kernels) {
            allRecord &= k.recordsSteps();
        }
        this.graphsOff = config.graphBatchSizes().isEmpty() || !allRecord;
        AttentionShape shape = model.attentionShape();
        if (shape.tokensPerBlock() != config.tokensPerBlock()) {
            throw new IllegalArgumentException("model bound for " + shape.tokensPerBlock() + " tokens per block, engine "
                    + config.tokensPerBlock());
        }
        this.kv = new KvCacheManager(config.numBlocks(), config.tokensPerBlock());
        this.scheduler = new Scheduler(config, kv);
        RocketKvParams rk = config.rocketKv();
        if (rk != null) {
            rk.validateAgainst(shape.headDim(), config.tokensPerBlock());
            DType ktDtype = kernels.get(0).ktCacheDtype(rk); // what the backend stores (CPU: F32 of rounded values)
            var kt = new KtCacheManager(config.numBlocks(), config.tokensPerBlock(), rk.pageSize(), model.numLayers(),
                    shape.numKvHeads(), shape.headDim(), ktDtype.byteSize());
            this.plan = new RocketKvPlan(rk, kt);
        } else {
            this.plan = null;
        }
        List<Rank> made = new ArrayList<>();
        long bytesPerBlock = 0;
        try {
            for (int r = 0; r < models.size(); r++) {
                Rank rank = new Rank(r, models.get(r), kernels.get(r), config, plan);
                made.add(rank);
                bytesPerBlock += rank.kvBytesPerBlock;
            }
        } catch (RuntimeException | Error e) {
            for (Rank rank : made) {
                rank.close();
            }
            throw e;
        }
        this.ranks = List.copyOf(made);
        this.kvBytesPerBlock = bytesPerBlock;
        if (ranks.size() > 1) {
            AtomicLong n = new AtomicLong();
            this.rankThreads = Executors.newFixedThreadPool(ranks.size(), r -> Thread.ofPlatform()
                    .name("rocketkv-rank-" + n.getAndIncrement()).daemon().unstarted(r));
        } else {
            this.rankThreads = null;
        }
        this.thread = Thread.ofPlatform().name("rocketkv-engine").daemon().unstarted(this::loop);
        thread.start();
    }

    /**
     * One rank's model, backend, caches, workspace and recorded decode steps. Everything here is touched by
     * one thread at a time (the engine thread, or during a step the rank's thread).
     */
    private static final class Rank {
        final int index;
        final LlamaModel model;
        final Kernels kernels;
        final Tensor[] kvCaches; // per layer [numBlocks, 2, Hkv, tokensPerBlock, D]
        final Tensor[] ktCaches; // per layer [numBlocks · pagesPerBlock, 2, Hkv, D] in kernels.ktCacheDtype; null for dense
        final long kvBytesPerBlock;
        final StepWorkspace workspace; // the step's activations, reused by every step
        final Map<Long, RecordedStep> graphs = new HashMap<>(); // (bucket, table width) -> recorded step

        Rank(int index, LlamaModel model, Kernels kernels, EngineConfig config, RocketKvPlan plan) {
            this.index = index;
            this.model = model;
            this.kernels = kernels;
            AttentionShape shape = model.attentionShape();
            String where = index == 0 && model.tensorParallelPlan() == null ? "" : " on rank " + index;
            this.kvCaches = new Tensor[model.numLayers()];
            this.kvBytesPerBlock = (long) shape.blockElements() * kernels.kvCacheDtype().byteSize() * model.numLayers();
            try {
                for (int l = 0; l < kvCaches.length; l++) {
                    kvCaches[l] = kernels.allocate(kernels.kvCacheDtype(), config.numBlocks(), 2, shape.numKvHeads(),
                            config.tokensPerBlock(), shape.headDim());
                }
            } catch (OutOfDeviceMemoryException e) {
                closeAll(kvCaches);
                throw e.naming("the KV cache" + where + " (" + config.numBlocks() + " blocks of "
                        + config.tokensPerBlock() + " tokens, " + (config.numBlocks() * kvBytesPerBlock >> 20)
                        + " MiB over " + model.numLayers() + " layers)",
                        "lower kv_cache_config.free_gpu_memory_fraction or kv_cache_config.max_tokens");
            }
            if (plan != null) {
                DType ktDtype = kernels.ktCacheDtype(plan.params());
                this.ktCaches = new Tensor[model.numLayers()];
                try {
                    for (int l = 0; l < ktCaches.length; l++) {
                        ktCaches[l] = kernels.allocate(ktDtype, plan.kt().numPages(), 2, shape.numKvHeads(),
                                shape.headDim());
                    }
                } catch (OutOfDeviceMemoryException e) {
                    closeAll(ktCaches);
                    closeAll(kvCaches);
                    throw e.naming("the KT cache" + where + " (" + plan.kt().numPages() + " pages per layer)",
                            "lower kv_cache_config.free_gpu_memory_fraction or kv_cache_config.max_tokens");
                }
            } else {
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
                throw e.naming("the step workspace" + where + " (activations of " + initialWorkspaceTokens(config)
                        + " tokens)", "lower max_num_tokens or kv_cache_config.free_gpu_memory_fraction");
            }
        }

        /** Runs the step; the logits on rank 0 (or the only rank), null on the others. */
        float[] forward(StepBatch step, RocketKvPlan plan) {
            if (index == 0) {
                return model.forward(step, kvCaches, ktCaches, plan, workspace);
            }
            model.run(step, kvCaches, ktCaches, plan, workspace);
            return null;
        }

        void closeGraphs() {
            for (RecordedStep g : graphs.values()) {
                try {
                    g.close();
                } catch (RuntimeException e) {
                    log.warn("closing a recorded decode step failed", e);
                }
            }
            graphs.clear();
        }

        /** Frees the caches, and (when {@code withSteps}) the recordings and the workspace. */
        void close(boolean withSteps) {
            if (withSteps) {
                closeGraphs();
                workspace.close();
            }
            closeAll(kvCaches);
            if (ktCaches != null) {
                closeAll(ktCaches);
            }
        }

        void close() {
            close(true);
        }
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
            for (Rank r : ranks) {
                if (r.workspace.ensureCapacity(step.numTokens() > r.workspace.maxTokens()
                        ? Math.max(step.numTokens(), config.maxSeqLen()) : step.numTokens(), step.logitRows().length)) {
                    log.debug("step workspace grown to {} tokens, {} rows (a recomputed sequence longer than"
                            + " max_num_tokens)", r.workspace.maxTokens(), r.workspace.maxRows());
                    r.closeGraphs(); // they point at the old buffers
                }
            }
            int bucket = batch.prefill() || graphsOff ? -1 : config.graphBucket(seqs.size());
            logits = onEveryRank(r -> bucket > 0 ? decodeWithGraph(r, step, bucket) : r.forward(step, plan));
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
        Object[] sampled = sampleRows(seqs, logits, vocab);
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
                if (sampled[i] instanceof RuntimeException e) {
                    throw e;
                }
                postprocess(s, (SampledToken) sampled[i]);
            } catch (RuntimeException e) {
                // a failure of one request (sampling, detokenizing) ends that request only
                log.warn("request {} failed after {} tokens", s.id, s.numOutputs(), e);
                scheduler.finish(s);
                s.result.completeExceptionally(e);
            }
        }
    }

    /**
     * Each row's sampled token, or the exception its sampling threw. Rows are sampled in parallel (the common
     * fork-join pool) when there are several: a greedy draw over a large vocabulary costs about a millisecond of
     * log-sum-exp, once per sequence per step. Each sequence has its own sampler and random stream, so the
     * draws do not depend on the threads.
     */
    private static Object[] sampleRows(List<Sequence> seqs, float[] logits, int vocab) {
        Object[] out = new Object[seqs.size()];
        IntConsumer one = i -> {
            try {
                out[i] = seqs.get(i).sampler.sample(logits, i * vocab, vocab);
            } catch (RuntimeException e) {
                out[i] = e;
            }
        };
        if (seqs.size() > 1) {
            IntStream.range(0, seqs.size()).parallel().forEach(one);
        } else if (!seqs.isEmpty()) {
            one.accept(0);
        }
        return out;
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
     * Runs {@code work} on every rank (on the engine thread when there is one rank, else on each rank's thread,
     * all at once) and returns rank 0's result. The first failure aborts the group's collectives, so that the
     * other ranks stop waiting for the failed one, and is rethrown (the others' failures suppressed in it).
     */
    private float[] onEveryRank(Function<Rank, float[]> work) {
        if (ranks.size() == 1) {
            return work.apply(ranks.get(0));
        }
        if (groupFailure != null) {
            throw new IllegalStateException("the tensor-parallel group was aborted after a failure (" + groupFailure
                    + "); close this LLM and create a new one");
        }
        List<Future<float[]>> futures = new ArrayList<>();
        var completion = new ExecutorCompletionService<float[]>(rankThreads);
        for (Rank r : ranks) {
            futures.add(completion.submit(() -> work.apply(r)));
        }
        Throwable failure = null;
        for (int i = 0; i < ranks.size(); i++) {
            try {
                completion.take().get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                abortGroup("interrupted while the ranks ran a step", ranks.size());
                throw new IllegalStateException("interrupted while the tensor-parallel ranks ran a step", e);
            } catch (ExecutionException e) {
                Throwable cause = e.getCause();
                if (failure == null) {
                    failure = cause;
                    abortGroup(String.valueOf(cause), rankOf(futures, cause));
                } else if (cause != failure) {
                    failure.addSuppressed(cause);
                }
            }
        }
        if (failure instanceof RuntimeException re) {
            throw re;
        }
        if (failure instanceof Error err) {
            throw err;
        }
        if (failure != null) {
            throw new IllegalStateException(failure);
        }
        return futures.get(0).resultNow();
    }

    /** The rank whose future failed with {@code cause}, or the number of ranks when none is known. */
    private static int rankOf(List<Future<float[]>> futures, Throwable cause) {
        for (int r = 0; r < futures.size(); r++) {
            Future<float[]> f = futures.get(r);
            if (f.isDone() && f.state() == Future.State.FAILED && f.exceptionNow() == cause) {
                return r;
            }
        }
        return futures.size();
    }

    private void abortGroup(String why, int rank) {
        groupFailure = (rank < ranks.size() ? "rank " + rank + ": " : "") + why;
        log.error("tensor-parallel group aborted: {}", groupFailure);
        for (Rank r : ranks) {
            Collective c = r.model.collective();
            if (c != null) {
                try {
                    c.abort();
                } catch (RuntimeException e) {
                    log.warn("aborting the collective of rank {} failed", r.index, e);
                }
            }
        }
    }

    /**
     * A decode step through the recording of its bucket, on one rank: the step is padded to {@code bucket}
     * sequences (padding rows are skipped by every op) and the bucket's recording replayed; the first step of
     * a bucket (or the first after its recording went stale) runs the ops and records them. On one device a
     * recording failure turns graphs off for this engine and the step runs again without one (every op of a
     * step is idempotent: the same K/V and KT values are written again and the activations recomputed); with
     * several ranks it fails the step (the ranks' collectives must stay in step). Returns the logits on rank
     * 0, null on the others.
     */
    private float[] decodeWithGraph(Rank rank, StepBatch step, int bucket) {
        StepWorkspace workspace = rank.workspace;
        if (workspace.ensureCapacity(bucket, bucket)) {
            rank.closeGraphs();
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
        RecordedStep g = rank.graphs.get(key);
        if (g != null && g.isStale()) {
            g.close();
            rank.graphs.remove(key);
            g = null;
        }
        if (g != null) {
            g.replay(padded);
            if (rank.index == 0) {
                graphReplays.incrementAndGet();
            }
        } else {
            try {
                int kvBound = (int) Math.min(Integer.MAX_VALUE, (long) width * config.tokensPerBlock());
                g = rank.kernels.record(padded, kvBound,
                        () -> rank.model.run(padded, rank.kvCaches, rank.ktCaches, plan, workspace));
            } catch (RuntimeException e) {
                if (ranks.size() > 1) {
                    throw e;
                }
                log.warn("recording the decode step of batch size {} failed; running without CUDA graphs", bucket, e);
                graphsOff = true;
                rank.closeGraphs();
                return rank.forward(step, plan);
            }
            if (g == null) {
                graphsOff = true; // the backend runs ops eagerly (the step above already ran)
            } else {
                rank.graphs.put(key, g);
                if (rank.index == 0) {
                    graphRecords.incrementAndGet();
                }
                log.debug("recorded the decode step for batch size {}, block tables of {} (rank {})", bucket, width,
                        rank.index);
            }
        }
        return rank.index == 0 ? rank.model.readLogits(workspace, step.numSeqs()) : null;
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
        if (rankThreads != null) {
            rankThreads.shutdownNow();
        }
        // a step still running (join timed out) keeps its workspace and recordings; the backend frees them on close
        for (Rank r : ranks) {
            r.close(!thread.isAlive());
        }
    }
}
