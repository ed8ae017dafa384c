package io.rocketkv.core.engine;

import io.rocketkv.core.kernels.AttentionShape;
import io.rocketkv.core.kernels.Kernels;
import io.rocketkv.core.kernels.StepBatch;
import io.rocketkv.core.kvcache.KtCacheManager;
import io.rocketkv.core.kvcache.KvCacheManager;
import io.rocketkv.core.kvcache.PrefixCacheStats;
import io.rocketkv.core.model.Model;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.sparse.RocketKvParams;
import io.rocketkv.core.sparse.RocketKvPlan;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
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

    private final EngineConfig config;
    private final Detokenizer detokenizer;
    private final int vocabSize;
    private final KvCacheManager kv;
    private final Scheduler scheduler;
    private final RocketKvPlan plan; // null for dense attention; the same block-to-page mapping on every rank
    private final long kvBytesPerBlock; // over all layers and ranks
    private final RankGroup ranks; // one model runner per device (tensor parallelism), else one
    private final LinkedBlockingQueue<Sequence> incoming = new LinkedBlockingQueue<>();
    private final Object admitting = new Object(); // held while a submitAll adds and while the loop drains
    private final ConcurrentLinkedQueue<Sequence> cancelled = new ConcurrentLinkedQueue<>();
    private volatile int numWaiting; // published by the engine thread after each loop turn (gauges)
    private volatile int numRunning;
    private volatile PrefixCacheStats prefixStats = PrefixCacheStats.EMPTY;
    private final AtomicLong nextId = new AtomicLong();
    private final Thread thread;
    private final IterationLog iterationLog;
    private volatile boolean closed;

    public Engine(Model model, Kernels kernels, EngineConfig config, Detokenizer detokenizer) {
        this(List.of(model), List.of(kernels), config, detokenizer);
    }

    /**
     * An engine over the tensor-parallel shards {@code models} (rank r's model and backend at index r; one of
     * each for a model on one device). Each rank gets a {@link ModelRunner}: its own KV (and KT) caches of
     * {@code config.numBlocks()} blocks for its KV heads and its own step workspace.
     */
    public Engine(List<? extends Model> models, List<? extends Kernels> kernels, EngineConfig config,
                  Detokenizer detokenizer) {
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
        Model model = models.get(0);
        if (config.blockReuse() && model.config().ropeTable().dependsOnLength()) {
            // a cached block keeps the rotation of the prefill that wrote it, which another length would not give
            log.warn("block reuse is off: rope_type {} changes the RoPE frequencies with the sequence's length, so "
                    + "blocks cached by one prompt do not fit another", model.config().ropeScaling().type());
            config = config.withBlockReuse(false);
        }
        this.config = config;
        this.detokenizer = detokenizer;
        this.vocabSize = model.config().vocabSize();
        AttentionShape shape = model.attentionShape();
        if (shape.tokensPerBlock() != config.tokensPerBlock()) {
            throw new IllegalArgumentException("model bound for " + shape.tokensPerBlock() + " tokens per block, engine "
                    + config.tokensPerBlock());
        }
        this.kv = new KvCacheManager(config.numBlocks(), config.tokensPerBlock(), config.blockReuse());
        RocketKvParams rk = config.rocketKv();
        if (rk != null) {
            model.config().checkRocketKv(config.maxSeqLen());
        }
        // blocks before every layer's window go back to the pool as sequences grow (dense attention only: RocketKV
        // is refused where a window binds, and one that never binds releases nothing)
        this.scheduler = new Scheduler(config, kv, rk == null ? model.config().kvReleaseWindow() : 0);
        if (rk != null) {
            rk.validateAgainst(shape.headDim(), config.tokensPerBlock());
            DType ktDtype = kernels.get(0).ktCacheDtype(rk); // what the backend stores (CPU: F32 of rounded values)
            var kt = new KtCacheManager(config.numBlocks(), config.tokensPerBlock(), rk.pageSize(), model.numLayers(),
                    shape.numKvHeads(), shape.headDim(), ktDtype.byteSize());
            this.plan = new RocketKvPlan(rk, kt);
        } else {
            this.plan = null;
        }
        List<ModelRunner> made = new ArrayList<>();
        try {
            for (int r = 0; r < models.size(); r++) {
                made.add(new ModelRunner(r, models.size(), models.get(r), kernels.get(r), config, plan));
            }
        } catch (RuntimeException | Error e) {
            for (ModelRunner runner : made) {
                runner.close();
            }
            throw e;
        }
        this.ranks = new RankGroup(made);
        this.kvBytesPerBlock = ranks.kvBytesPerBlock();
        this.iterationLog = new IterationLog(config.printIterLog());
        this.thread = Thread.ofPlatform().name("rocketkv-engine").daemon().unstarted(this::loop);
        thread.start();
    }

    /** Queues a request; the future completes when it finishes (or fails with the reason). */
    public CompletableFuture<GenerationResult> submit(GenerationRequest request) {
        return submitAll(List.of(request)).getFirst();
    }

    /**
     * Queues requests together: the engine takes them into its schedule in the same round, so requests that fit one
     * step (the n completions of one prompt, say) prefill in one step and decode side by side. The futures come in
     * the order of {@code requests}.
     */
    public List<CompletableFuture<GenerationResult>> submitAll(List<GenerationRequest> requests) {
        if (closed) {
            throw new IllegalStateException("the engine is closed");
        }
        List<CompletableFuture<GenerationResult>> futures = new ArrayList<>(requests.size());
        List<Sequence> admitted = new ArrayList<>(requests.size());
        for (GenerationRequest request : requests) {
            Sequence seq = new Sequence(nextId.getAndIncrement(), request, System.nanoTime());
            futures.add(seq.result);
            seq.result.whenComplete((r, e) -> {
                if (e instanceof CancellationException) {
                    cancelled.add(seq); // the engine thread removes it and frees its blocks
                }
            });
            int n = request.promptIds().length;
            if (n > config.maxSeqLen()) {
                seq.result.completeExceptionally(new IllegalArgumentException("the prompt has " + n
                        + " tokens, more than max_seq_len = " + config.maxSeqLen() + "; shorten it or raise max_seq_len"));
            } else if (n > config.maxNumTokens() && !config.chunkedPrefill()) {
                seq.result.completeExceptionally(new IllegalArgumentException("the prompt has " + n
                        + " tokens, more than max_num_tokens = " + config.maxNumTokens()
                        + " (the tokens of one prefill step); set enable_chunked_prefill: true to prefill it in chunks of"
                        + " max_num_tokens, raise max_num_tokens to at least " + n + ", or shorten the prompt"));
            } else {
                admitted.add(seq);
            }
        }
        synchronized (admitting) {
            incoming.addAll(admitted);
        }
        for (Sequence seq : admitted) {
            if (closed && incoming.remove(seq)) {
                // close() ran between the check above and the add: it will not see this request
                seq.result.completeExceptionally(new IllegalStateException("the engine is closed"));
            }
        }
        return futures;
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

    /**
     * Prefix-cache counters (block reuse): prompt tokens looked up and served from cached blocks over every admission
     * so far, blocks cached now, evictions. A recent value, published by the engine thread after each step; all zero
     * hits with {@code blockReuse} off.
     */
    public PrefixCacheStats prefixCacheStats() {
        return prefixStats;
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
                synchronized (admitting) { // a submitAll's requests arrive in one round
                    for (Sequence s; (s = incoming.poll()) != null; ) {
                        scheduler.add(s);
                    }
                }
                removeCancelled();
                if (scheduler.hasWork()) {
                    step();
                }
                numWaiting = scheduler.numWaiting();
                numRunning = scheduler.numRunning();
                prefixStats = kv.stats();
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
        Object[] picked = null; // the greedy tokens, when the backend picked them next to the logits
        int stepTokens;
        try {
            StepBatch step = StepBuilder.build(batch, kv);
            stepTokens = step.numTokens();
            int bucket = batch.prefill() || !ranks.graphsOn() ? -1 : config.graphBucket(seqs.size());
            boolean onDevice = ranks.hasGreedyRows() && greedyOnRawLogits(batch);
            logits = ranks.run(step, bucket, !onDevice);
            if (onDevice) {
                picked = greedyRows(batch);
            }
            if (batch.prefill()) {
                PromptLogprobs.collect(batch, step, ranks, vocabSize); // only for sequences that ask
            }
            if (plan != null && batch.prefill()) {
                for (int i = 0; i < seqs.size(); i++) {
                    Sequence s = seqs.get(i);
                    if (!batch.samples(i)) {
                        continue; // a chunk before the last: stage 1 has not run yet
                    }
                    int kept = plan.params().keptTokens(s.numTokens());
                    if (kv.reservedBlocks(s.id) != null) {
                        kv.adoptCompacted(s.id, kept); // stage 1 wrote the kept cache into its reserved blocks
                    } else if (kept < kv.numTokens(s.id)) {
                        kv.truncate(s.id, kept); // stage 1 compacted every layer to the budget, in place
                    }
                }
            }
            kv.commitStep();
        } catch (RuntimeException e) {
            kv.abortStep(); // the blocks keyed for this step may hold nothing: no later request may share them
            for (Sequence s : seqs) {
                scheduler.finish(s);
                s.result.completeExceptionally(e);
            }
            return;
        }
        long elapsed = System.nanoTime() - t0;
        Object[] sampled = picked != null ? picked : sampleRows(batch, logits, vocabSize);
        for (int i = 0; i < seqs.size(); i++) {
            Sequence s = seqs.get(i);
            if (batch.prefill()) {
                s.prefillNanos += elapsed;
            } else {
                s.decodeNanos += elapsed;
            }
            s.kvBytesPeak = Math.max(s.kvBytesPeak, kv.blockTable(s.id).numHeldBlocks() * kvBytesPerBlock);
            s.cacheTokens = kv.numTokens(s.id);
            if (plan != null) {
                s.ktBytesPeak = Math.max(s.ktBytesPeak, plan.kt().bytesFor(s.cacheTokens));
            }
            if (!batch.samples(i)) {
                continue; // a chunk of a longer prefill: its logits are not a next token
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
        iterationLog.step(batch.prefill(), seqs.size(), stepTokens, scheduler.numWaiting() + incoming.size(),
                kv.numUsedBlocks(), config.numBlocks(), System.nanoTime() - t0);
    }

    /** Whether every row the step samples is a plain greedy pick of its raw logits ({@link Sequence#greedyOnRawLogits}). */
    private static boolean greedyOnRawLogits(Scheduler.Batch batch) {
        List<Sequence> seqs = batch.seqs();
        for (int i = 0; i < seqs.size(); i++) {
            if (batch.samples(i) && !seqs.get(i).greedyOnRawLogits()) {
                return false;
            }
        }
        return true;
    }

    /**
     * Each sampled row's greedy token as the backend picked it next to the logits ({@code Kernels.greedyRows}: only
     * the ids and log-probabilities cross to the host), as {@link #sampleRows} would have: the same token,
     * log-probability and top log-probabilities (each row its requested count, of the step's largest); a row holding
     * NaN or +Infinity (or only -Infinity) is that request's error.
     */
    private Object[] greedyRows(Scheduler.Batch batch) {
        List<Sequence> seqs = batch.seqs();
        int rows = seqs.size();
        int topK = 0;
        for (int i = 0; i < rows; i++) {
            if (batch.samples(i)) {
                topK = Math.max(topK, seqs.get(i).sampler.options().numTopLogprobs());
            }
        }
        topK = Math.min(topK, vocabSize);
        int[] ids = new int[rows];
        float[] logprobs = new float[rows];
        int[] topIds = new int[rows * topK];
        float[] topLogprobs = new float[rows * topK];
        ranks.greedyRows(rows, topK, ids, logprobs, topIds, topLogprobs);
        Object[] out = new Object[rows];
        for (int i = 0; i < rows; i++) {
            if (!batch.samples(i)) {
                continue;
            }
            if (ids[i] < 0) {
                out[i] = new IllegalArgumentException("the logits hold NaN or +Infinity, or are all -Infinity: no token"
                        + " can be sampled");
                continue;
            }
            int k = Math.min(seqs.get(i).sampler.options().numTopLogprobs(), topK);
            List<TokenLogprob> top = new ArrayList<>(k);
            for (int j = 0; j < k; j++) {
                top.add(new TokenLogprob(topIds[i * topK + j], topLogprobs[i * topK + j]));
            }
            out[i] = new SampledToken(ids[i], logprobs[i], top);
        }
        return out;
    }

    /**
     * Each row's sampled token, or the exception its sampling threw. Rows are sampled in parallel (the common
     * fork-join pool) when there are several: a greedy draw over a large vocabulary costs about a millisecond of
     * log-sum-exp, once per sequence per step. Each sequence has its own sampler and random stream, so the
     * draws do not depend on the threads. A chunk before a sequence's last is not sampled (its random stream
     * is not advanced).
     */
    private static Object[] sampleRows(Scheduler.Batch batch, float[] logits, int vocab) {
        List<Sequence> seqs = batch.seqs();
        Object[] out = new Object[seqs.size()];
        IntConsumer one = i -> {
            if (!batch.samples(i)) {
                return;
            }
            try {
                out[i] = seqs.get(i).sampleNext(logits, i * vocab, vocab);
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
        Detokenizer detokenizer = s.request.detokenizer() != null ? s.request.detokenizer() : this.detokenizer;
        s.append(token, detokenizer);
        StopDecision d = s.stopChecker.onToken(token.tokenId(), s.text());
        FinishReason reason = d.finishReason().orElse(null);
        if (reason == null && s.numTokens() >= config.maxSeqLen()) {
            reason = FinishReason.LENGTH;
        }
        if (reason != null) {
            int cut = d.kind() != StopDecision.Kind.STOP_STRING ? -1
                    : s.request.stop().includeStopString() ? d.truncateAt() + d.stopString().length() : d.truncateAt();
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

    /** Decode steps replayed from a recording (CUDA graph) so far. */
    public long graphReplays() {
        return ranks.first().graphReplays();
    }

    /** Decode steps recorded (one per batch-size bucket, again after a recording went stale) so far. */
    public long graphRecords() {
        return ranks.first().graphRecords();
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
        // a step still running (join timed out) keeps its workspace and recordings; the backend frees them on close
        ranks.close(!thread.isAlive());
    }
}
