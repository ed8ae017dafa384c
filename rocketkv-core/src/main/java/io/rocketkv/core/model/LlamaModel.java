package io.rocketkv.core.model;

import io.rocketkv.core.kernels.AttentionShape;
import io.rocketkv.core.kernels.Collective;
import io.rocketkv.core.kernels.Kernels;
import io.rocketkv.core.kernels.RopeTable;
import io.rocketkv.core.kernels.StepBatch;
import io.rocketkv.core.kernels.StepPlan;
import io.rocketkv.core.kernels.Tensor;
import io.rocketkv.core.sparse.RocketKvPlan;
import io.rocketkv.core.weights.CheckpointFormatException;
import io.rocketkv.core.weights.SafeTensors;

/**
 * The Llama-family decoder (Llama 2/3.x, Mistral, Qwen2, Qwen3, Phi-3) written once against {@link Kernels}: GQA/MQA,
 * sliding-window attention per layer ({@link ModelConfig#layerSlidingWindow}, passed to the attention ops in the
 * layer's {@link AttentionShape#slidingWindow}), optional q/k/v bias (Qwen2), o/MLP bias (Llama {@code attention_bias},
 * {@code mlp_bias}), per-head q/k RMSNorm (Qwen3), fused qkv / gate_up weights split at load (Phi-3), tied
 * embeddings, RoPE at true positions (with its rope scaling, on the first {@link ModelConfig#rotaryDim} channels of
 * each head), final norm, lm_head only on the rows whose logits are wanted.
 *
 * <p>Per layer: rmsnorm → q/k/v projections → [per-head q/k rmsnorm] → rope → write K,V to the paged cache →
 * attention (dense causal in prefill, paged in decode) → o_proj → residual → rmsnorm → SiLU-gated MLP → residual.
 *
 * <p>Tensor parallelism: a model loaded with a {@link TensorParallelPlan} holds one rank's shard (its query and
 * KV heads, its slice of the MLP; embeddings, norms and lm_head whole) and its {@link Collective} all-reduces
 * the row-parallel outputs of {@code o_proj} and {@code down_proj}; the attention, its KV and KT caches and
 * RocketKV's two stages run over the rank's own KV heads. Every rank runs {@link #run} for every step, each on
 * its own thread; only rank 0 computes logits.
 */
public final class LlamaModel implements Model {

    private final ModelConfig config;
    private final Kernels kernels;
    private final AttentionShape shape;
    private final AttentionShape[] layerShapes; // shape with each layer's sliding window (0: full attention)
    private final RopeTable rope;
    private final Tensor embedTokens; // [vocab, hidden]
    private final Layer[] layers;
    private final Tensor finalNorm;   // [hidden]
    private final Tensor lmHead;      // [vocab, hidden]; the embedding table when tied
    private final int intermediate;   // this rank's MLP width
    private final TensorParallelPlan tp; // null on one device
    private final Collective collective; // null on one device
    private KvCacheScales kvScales;

    /**
     * One decoder layer's weights in the Hugging Face layout [out_features, in_features]; qNorm and kNorm [D] (Qwen3,
     * else null) are whole on every tensor-parallel rank.
     */
    private record Layer(Tensor inputNorm, Tensor qProj, Tensor kProj, Tensor vProj,
                         Tensor qBias, Tensor kBias, Tensor vBias, Tensor qNorm, Tensor kNorm,
                         Tensor oProj, Tensor oBias, Tensor postNorm, Tensor gateProj, Tensor upProj, Tensor downProj,
                         Tensor gateBias, Tensor upBias, Tensor downBias) {
    }

    private LlamaModel(ModelConfig config, Kernels kernels, AttentionShape shape, Tensor embedTokens,
                       Layer[] layers, Tensor finalNorm, Tensor lmHead, int intermediate, TensorParallelPlan tp,
                       Collective collective) {
        this.config = config;
        this.intermediate = intermediate;
        this.tp = tp;
        this.collective = collective;
        this.kernels = kernels;
        this.shape = shape;
        this.layerShapes = new AttentionShape[layers.length];
        for (int l = 0; l < layers.length; l++) {
            Integer window = config.layerSlidingWindow(l);
            layerShapes[l] = window == null ? shape : shape.withSlidingWindow(window);
        }
        this.rope = config.ropeTable();
        this.embedTokens = embedTokens;
        this.layers = layers;
        this.finalNorm = finalNorm;
        this.lmHead = lmHead;
    }

    /**
     * Binds the checkpoint's tensors to the backend (the CPU reads the mapping in place; a GPU uploads).
     *
     * @throws CheckpointFormatException when a tensor is missing or has the wrong shape
     */
    public static LlamaModel load(ModelConfig config, SafeTensors weights, Kernels kernels, int tokensPerBlock) {
        return load(config, weights, kernels, tokensPerBlock, LoadProgress.NONE);
    }

    /** As {@link #load(ModelConfig, SafeTensors, Kernels, int)}, reporting each tensor to {@code progress}. */
    public static LlamaModel load(ModelConfig config, SafeTensors weights, Kernels kernels, int tokensPerBlock,
                                  LoadProgress progress) {
        return load(config, weights, kernels, tokensPerBlock, progress, null, null);
    }

    /**
     * Loads the shard of rank {@code tp.rank()} (the whole model when {@code tp} is null): q/k/v_proj rows of
     * the rank's heads, o_proj columns of its query heads, gate/up_proj rows and down_proj columns of its MLP
     * slice (of a fused qkv_proj / gate_up_proj, those rows of each part); row-parallel biases ({@code o_proj},
     * {@code down_proj}) on rank 0 only, so that the all-reduce adds them once. {@code collective} must be the same rank of a group of {@code tp.size()} ranks.
     *
     * @throws CheckpointFormatException when a tensor is missing or has the wrong shape
     */
    public static LlamaModel load(ModelConfig config, SafeTensors weights, Kernels kernels, int tokensPerBlock,
                                  LoadProgress progress, TensorParallelPlan tp, Collective collective) {
        if ((tp == null) != (collective == null) || (tp != null
                && (tp.rank() != collective.rank() || tp.size() != collective.size()))) {
            throw new IllegalArgumentException("a tensor-parallel shard needs its plan and its collective of the same "
                    + "rank and size, got " + tp + " and " + (collective == null ? "none"
                    : "rank " + collective.rank() + " of " + collective.size()));
        }
        if (tp != null && (tp.numHeads() != config.numAttentionHeads() || tp.numKvHeads() != config.numKeyValueHeads()
                || tp.intermediateSize() != config.intermediateSize() || tp.headDim() != config.headDim())) {
            throw new IllegalArgumentException("tensor-parallel plan " + tp + " was made for another model");
        }
        kernels.checkRope(config.ropeTable()); // before any weight is bound
        int h = config.hiddenSize();
        int d = config.headDim();
        int qDim = config.numAttentionHeads() * d;
        int kvDim = config.numKeyValueHeads() * d;
        int inter = config.intermediateSize();
        int vocab = config.vocabSize();
        TensorParallelPlan.Range qRows = tp == null ? new TensorParallelPlan.Range(0, qDim) : tp.qRows();
        TensorParallelPlan.Range kvRows = tp == null ? new TensorParallelPlan.Range(0, kvDim) : tp.kvRows();
        TensorParallelPlan.Range oKeep = tp == null ? qRows : tp.ownedOProjColumns();
        TensorParallelPlan.Range mlpRows = tp == null ? new TensorParallelPlan.Range(0, inter) : tp.mlpRows();
        boolean ownsRowBias = tp == null || tp.rank() == 0;
        var loader = new WeightLoader(weights, kernels, progress);
        Tensor embed = loader.load(WeightLoader.EMBEDDING, vocab, h);
        Layer[] layers = new Layer[config.numHiddenLayers()];
        for (int i = 0; i < layers.length; i++) {
            String p = "model.layers." + i + ".";
            boolean bias = config.qkvBias();
            boolean mlpBias = config.mlpBias();
            Tensor[] qkv = config.fusedProjections()
                    ? loader.fusedRows(p + "self_attn.qkv_proj.weight", h, new int[] {qDim, kvDim, kvDim},
                            qRows, kvRows, kvRows)
                    : new Tensor[] {loader.rows(p + "self_attn.q_proj.weight", qRows, qDim, h),
                            loader.rows(p + "self_attn.k_proj.weight", kvRows, kvDim, h),
                            loader.rows(p + "self_attn.v_proj.weight", kvRows, kvDim, h)};
            Tensor[] gateUp = config.fusedProjections()
                    ? loader.fusedRows(p + "mlp.gate_up_proj.weight", h, new int[] {inter, inter}, mlpRows, mlpRows)
                    : new Tensor[] {loader.rows(p + "mlp.gate_proj.weight", mlpRows, inter, h),
                            loader.rows(p + "mlp.up_proj.weight", mlpRows, inter, h)};
            layers[i] = new Layer(
                    loader.load(p + "input_layernorm.weight", h),
                    qkv[0], qkv[1], qkv[2],
                    bias ? loader.rows(p + "self_attn.q_proj.bias", qRows, qDim) : null,
                    bias ? loader.rows(p + "self_attn.k_proj.bias", kvRows, kvDim) : null,
                    bias ? loader.rows(p + "self_attn.v_proj.bias", kvRows, kvDim) : null,
                    config.qkNorm() ? loader.load(p + "self_attn.q_norm.weight", d) : null,
                    config.qkNorm() ? loader.load(p + "self_attn.k_norm.weight", d) : null,
                    loader.columns(p + "self_attn.o_proj.weight", qRows, oKeep, h, qDim),
                    config.oProjBias() && ownsRowBias ? loader.load(p + "self_attn.o_proj.bias", h) : null,
                    loader.load(p + "post_attention_layernorm.weight", h),
                    gateUp[0], gateUp[1],
                    loader.columns(p + "mlp.down_proj.weight", mlpRows, mlpRows, h, inter),
                    mlpBias ? loader.rows(p + "mlp.gate_proj.bias", mlpRows, inter) : null,
                    mlpBias ? loader.rows(p + "mlp.up_proj.bias", mlpRows, inter) : null,
                    mlpBias && ownsRowBias ? loader.load(p + "mlp.down_proj.bias", h) : null);
        }
        Tensor norm = loader.load("model.norm.weight", h);
        Tensor head = config.tieWordEmbeddings() && !weights.contains("lm_head.weight")
                ? embed
                : loader.linear("lm_head.weight", vocab, h);
        int heads = tp == null ? config.numAttentionHeads() : tp.attendedHeads().length();
        int kvHeads = tp == null ? config.numKeyValueHeads() : tp.kvHeads().length();
        AttentionShape shape = AttentionShape.of(heads, kvHeads, d, tokensPerBlock);
        LlamaModel model = new LlamaModel(config, kernels, shape, embed, layers, norm, head, mlpRows.length(), tp,
                collective);
        model.kvScales = KvCacheScales.read(weights, layers.length);
        return model;
    }

    /** The collective of this shard's tensor-parallel group, or null when the model is whole on one device. */
    @Override
    public Collective collective() {
        return collective;
    }

    /** The tensor-parallel plan of this shard, or null when the model is whole on one device. */
    @Override
    public TensorParallelPlan tensorParallelPlan() {
        return tp;
    }

    @Override
    public KvCacheScales kvCacheScales() {
        return kvScales;
    }

    @Override
    public ModelConfig config() {
        return config;
    }

    @Override
    public AttentionShape attentionShape() {
        return shape;
    }

    @Override
    public int numLayers() {
        return layers.length;
    }

    /**
     * A workspace for steps of at most {@code maxTokens} tokens and {@code maxRows} logit rows, in this
     * model's backend memory; the caller closes it.
     */
    @Override
    public StepWorkspace newWorkspace(int maxTokens, int maxRows) {
        return new StepWorkspace(kernels, config.hiddenSize(), shape.numHeads() * shape.headDim(),
                shape.numKvHeads() * shape.headDim(), intermediate, config.vocabSize(), maxTokens, maxRows);
    }

    /** Bytes {@link #newWorkspace newWorkspace(maxTokens, maxRows)} allocates in the backend. */
    @Override
    public long workspaceBytes(int maxTokens, int maxRows) {
        return StepWorkspace.byteSize(config.hiddenSize(), shape.numHeads() * shape.headDim(),
                shape.numKvHeads() * shape.headDim(), intermediate, config.vocabSize(),
                kernels.gemmInputDtype(), maxTokens, maxRows);
    }

    /**
     * Runs one step and returns the logits of {@code batch.logitRows()}, row-major [rows, vocab]. Uses a
     * temporary workspace sized for the batch; a step loop should keep one and call
     * {@link #forward(StepBatch, Tensor[], Tensor[], RocketKvPlan, StepWorkspace)}.
     *
     * @param kvCaches one paged cache tensor per layer, [numBlocks, 2, Hkv, tokensPerBlock, D]
     */
    public float[] forward(StepBatch batch, Tensor[] kvCaches) {
        return forward(batch, kvCaches, null, null);
    }

    /**
     * As {@link #forward(StepBatch, Tensor[])}, with RocketKV when {@code plan} is not null: after a
     * prefill's dense attention each layer runs stage 1 (eviction and compaction to {@code prompt_budget}
     * slots) and builds its KT pages; a decode step updates the KT pages and attends only over the pages
     * stage 2 selects. The caller frees the blocks past the budget after a prefill. Uses a temporary
     * workspace sized for the batch.
     *
     * @param ktCaches one KT tensor per layer, [numKtPages, 2, Hkv, D] (null when plan is null)
     */
    public float[] forward(StepBatch batch, Tensor[] kvCaches, Tensor[] ktCaches, RocketKvPlan plan) {
        try (StepWorkspace ws = newWorkspace(Math.max(1, batch.numTokens()), Math.max(1, batch.logitRows().length))) {
            return forward(batch, kvCaches, ktCaches, plan, ws);
        }
    }

    /**
     * As {@link #forward(StepBatch, Tensor[], Tensor[], RocketKvPlan)}, with the activations in {@code ws}
     * (from {@link #newWorkspace}): no backend memory is allocated or freed. The step must fit the
     * workspace ({@link StepWorkspace#ensureCapacity} grows it).
     *
     * @throws IllegalArgumentException when the step has more tokens or logit rows than {@code ws} holds
     */
    public float[] forward(StepBatch batch, Tensor[] kvCaches, Tensor[] ktCaches, RocketKvPlan plan, StepWorkspace ws) {
        run(kernels.plan(batch), kvCaches, ktCaches, plan, ws);
        return readLogits(ws, batch.logitRows().length);
    }

    /**
     * The first {@code rows} rows of the logits that the last {@link #run} left in {@code ws}, row-major
     * [rows, vocab].
     */
    @Override
    public float[] readLogits(StepWorkspace ws, int rows) {
        return kernels.download(logitRows(ws, rows));
    }

    @Override
    public void greedyRows(StepWorkspace ws, int rows, int topK, int[] ids, float[] logprobs, int[] topIds,
                           float[] topLogprobs) {
        kernels.greedyRows(logitRows(ws, rows), rows, topK, ids, logprobs, topIds, topLogprobs);
    }

    private Tensor logitRows(StepWorkspace ws, int rows) {
        ws.checkOpen();
        if (rows < 0 || rows > ws.maxRows()) {
            throw new IllegalArgumentException(rows + " logit rows outside [0, " + ws.maxRows() + "]");
        }
        return kernels.view(ws.logits(), rows);
    }

    /**
     * As {@link #forward(StepBatch, Tensor[], Tensor[], RocketKvPlan, StepWorkspace)} but leaves the logits
     * of {@code batch.logitRows()} in the workspace ({@link #readLogits}) instead of copying them to the
     * host: every op it queues takes its sizes from the batch and its memory from {@code ws} and the caches,
     * so a backend can record it ({@link Kernels#record}).
     */
    @Override
    public void run(StepPlan step, Tensor[] kvCaches, Tensor[] ktCaches, RocketKvPlan plan, Tensor[] windowStash,
                    StepWorkspace ws) {
        StepBatch batch = step.batch();
        if (windowStash != null && windowStash.length != layers.length) {
            throw new IllegalArgumentException("the RocketKV window stash needs one tensor per layer (" + layers.length
                    + "), got " + windowStash.length);
        }
        if (plan != null && (ktCaches == null || ktCaches.length != layers.length)) {
            throw new IllegalArgumentException("RocketKV needs one KT cache per layer (" + layers.length + ")");
        }
        if (kvCaches.length != layers.length) {
            throw new IllegalArgumentException("need one KV cache per layer (" + layers.length + "), got " + kvCaches.length);
        }
        ws.checkOpen();
        if (!ws.belongsTo(kernels)) {
            throw new IllegalArgumentException("the step workspace belongs to another backend");
        }
        int t = batch.numTokens();
        int[] rows = batch.logitRows();
        if (t > ws.maxTokens() || rows.length > ws.maxRows()) {
            throw new IllegalArgumentException("a step of " + t + " tokens and " + rows.length
                    + " logit rows does not fit a workspace of " + ws.maxTokens() + " tokens and " + ws.maxRows()
                    + " rows; call ensureCapacity first");
        }
        float eps = (float) config.rmsNormEps();
        Kernels k = kernels;
        // row-views of the workspace: they share its memory and free nothing
        Tensor x = k.view(ws.x(), t);          // residual stream
        Tensor xn = k.view(ws.xn(), t);        // normed input of a sub-block
        Tensor q = k.view(ws.q(), t);
        Tensor kk = k.view(ws.k(), t);
        Tensor v = k.view(ws.v(), t);
        Tensor attn = k.view(ws.attn(), t);
        Tensor proj = k.view(ws.proj(), t);    // o_proj and down_proj outputs
        Tensor gate = k.view(ws.gate(), t);
        Tensor up = k.view(ws.up(), t);
        Tensor act = k.view(ws.act(), t);      // SiLU product (gemm input type; the gate buffer on the CPU)
        k.embedding(embedTokens, step, x);
        for (int l = 0; l < layers.length; l++) {
            Layer w = layers[l];
            k.rmsNorm(x, w.inputNorm(), eps, xn);
            k.matmul(xn, w.qProj(), w.qBias(), q);
            k.matmul(xn, w.kProj(), w.kBias(), kk);
            k.matmul(xn, w.vProj(), w.vBias(), v);
            if (w.qNorm() != null) {
                k.headRmsNorm(q, w.qNorm(), eps);
                k.headRmsNorm(kk, w.kNorm(), eps);
            }
            AttentionShape layerShape = layerShapes[l];
            k.rope(q, kk, step, rope, shape);
            k.writeKv(kk, v, step, shape, kvCaches[l]);
            if (batch.prefill()) {
                k.prefillAttention(q, kk, v, kvCaches[l], step, layerShape, attn);
                if (plan != null) {
                    // chunked prefill: the window queries of a chunk wait in the stash for the last chunk, when
                    // stage 1 runs over the whole prompt's keys (read from the cache)
                    Tensor stash = windowStash == null ? null : windowStash[l];
                    if (stash != null) {
                        k.rocketStashWindow(q, step, shape, plan.params(), stash);
                    }
                    k.rocketStage1(q, stash, step, shape, plan.params(), kvCaches[l]);
                    // the KT build reads every kept page from the cache, so a step of earlier chunks only (whose
                    // pages stage 1 will still compact) has nothing to build; the step ending the prefill builds all
                    if (batch.endsAnyPrefill()) {
                        k.ktBuild(kvCaches[l], step, shape, plan, ktCaches[l]);
                    }
                }
            } else if (plan != null) {
                k.rocketDecodeAttention(q, kk, kvCaches[l], ktCaches[l], step, shape, plan, attn);
            } else {
                k.decodeAttention(q, kvCaches[l], step, layerShape, attn);
            }
            k.matmul(attn, w.oProj(), w.oBias(), proj);
            if (collective != null) {
                collective.allReduceSum(proj);
            }
            k.add(x, proj);
            k.rmsNorm(x, w.postNorm(), eps, xn);
            k.matmul(xn, w.gateProj(), w.gateBias(), gate);
            k.matmul(xn, w.upProj(), w.upBias(), up);
            k.siluMul(gate, up, act);
            k.matmul(act, w.downProj(), w.downBias(), proj);
            if (collective != null) {
                collective.allReduceSum(proj);
            }
            k.add(x, proj);
        }
        if (tp != null && tp.rank() != 0) {
            return; // lm_head is replicated: rank 0's logits are the step's
        }
        k.gatherLogitRows(x, step, k.view(ws.last(), rows.length));
        lmHead(ws, rows.length);
    }

    /** Final norm and lm_head over the first {@code rows} rows of {@code ws.last()}, into {@code ws.logits()}. */
    private void lmHead(StepWorkspace ws, int rows) {
        Kernels k = kernels;
        Tensor lastNormed = k.view(ws.lastNormed(), rows);
        k.rmsNorm(k.view(ws.last(), rows), finalNorm, (float) config.rmsNormEps(), lastNormed);
        k.matmul(lastNormed, lmHead, null, k.view(ws.logits(), rows));
    }

    @Override
    public float[] logitsOfRows(StepWorkspace ws, int[] rows) {
        ws.checkOpen();
        if (rows.length < 1 || rows.length > ws.maxRows()) {
            throw new IllegalArgumentException(rows.length + " logit rows outside [1, " + ws.maxRows() + "]");
        }
        if (tp != null && tp.rank() != 0) {
            throw new IllegalStateException("only rank 0 computes logits (lm_head is replicated there)");
        }
        kernels.gatherRows(kernels.view(ws.x(), ws.maxTokens()), rows, kernels.view(ws.last(), rows.length));
        lmHead(ws, rows.length);
        return readLogits(ws, rows.length);
    }

    @Override
    public void close() {
        // weight tensors are owned by the backend (CPU: views of the mapped checkpoint)
    }
}
