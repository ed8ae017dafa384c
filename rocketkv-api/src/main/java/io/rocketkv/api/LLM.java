package io.rocketkv.api;

import io.rocketkv.api.chat.ChatTemplate;
import io.rocketkv.api.chat.Message;
import io.rocketkv.core.engine.Detokenizer;
import io.rocketkv.core.engine.Engine;
import io.rocketkv.core.engine.EngineConfig;
import io.rocketkv.core.engine.GenerationRequest;
import io.rocketkv.core.engine.GenerationResult;
import io.rocketkv.core.engine.KvPoolSizer;
import io.rocketkv.core.kernels.Collective;
import io.rocketkv.core.kernels.Kernels;
import io.rocketkv.core.kvcache.PrefixCacheStats;
import io.rocketkv.core.model.LoadProgress;
import io.rocketkv.core.model.Model;
import io.rocketkv.core.model.ModelConfig;
import io.rocketkv.core.model.TensorParallelPlan;
import io.rocketkv.core.sparse.RocketKvParams;
import io.rocketkv.core.sparse.Stage1Policy;
import io.rocketkv.core.tokenizer.Tokenizer;
import io.rocketkv.core.weights.CheckpointFiles;
import io.rocketkv.core.weights.FiniteWeights;
import io.rocketkv.core.weights.SafeTensors;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A loaded model and its engine (TensorRT-LLM's {@code LLM}). Thread-safe: {@code generate} may be called
 * from several threads at once; their requests are batched together by the scheduler.
 *
 * <pre>{@code
 * try (LLM llm = LLM.builder().model(Path.of("models/tiny-random-llama")).build()) {
 *     RequestOutput out = llm.generate("Once upon a time", SamplingParams.builder().maxTokens(32).build());
 *     System.out.println(out.output().text());
 * }
 * }</pre>
 */
public final class LLM implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(LLM.class);

    private final Path modelDir;
    private final LlmArgs args;
    private final ModelConfig config;
    private final Tokenizer tokenizer;
    private final SafeTensors weights;
    private final Kernels kernels; // rank 0's with tensor parallelism
    private final List<Kernels> rankKernels; // one per rank (just kernels on one device)
    private final List<Collective> collectives; // the tensor-parallel group; empty on one device
    private final Engine engine;
    private final List<Integer> eosIds;
    private final ChatTemplate chatTemplate;

    private LLM(Path modelDir, LlmArgs args, LoadProgress progress, Stage1Policy stage1Policy,
                String chatTemplateOverride) {
        this.modelDir = modelDir;
        this.args = args;
        this.config = ModelConfig.load(modelDir);
        Backends backends = Backends.installed();
        checkTensorParallel(args, config, backends);
        int maxSeqLen = args.maxSeqLen() != null ? args.maxSeqLen() : config.maxPositionEmbeddings();
        RocketKvParams rocketKv = null;
        RocketSparseAttentionConfig sparse = args.sparseAttentionConfig();
        if (sparse != null) {
            ConfigException.check("sparse_attention_config", () -> config.checkRocketKv(maxSeqLen));
            rocketKv = sparse.toRocketKvParams(config.headDim(), args.tokensPerBlock(), stage1Policy);
        } else if (!stage1Policy.isRocket()) {
            throw new IllegalArgumentException("evaluationStage1Policy " + stage1Policy.label()
                    + " needs RocketKV: set a sparseAttentionConfig (its prompt_budget is the number of tokens kept)");
        }
        this.tokenizer = Tokenizer.load(modelDir);
        if (!stage1Policy.isRocket() && args.backend() != Backend.CPU) {
            throw new IllegalArgumentException("evaluationStage1Policy " + stage1Policy.label()
                    + " is implemented by the CPU backend only; set backend(Backend.CPU), got " + args.backend());
        }
        int tp = args.tensorParallelSize();
        this.rankKernels = tp == 1 ? List.of(backends.open(args.backend(), rocketKv != null,
                args.kvCacheConfig().dtype()))
                : backends.cudaRanks(tp, args.kvCacheConfig().dtype()); // one backend per GPU
        this.kernels = rankKernels.get(0);
        checkKvCacheDtype(args.kvCacheConfig().dtype(), kernels, rankKernels);
        List<Collective> group = List.of();
        SafeTensors opened = null;
        try {
            if (tp > 1) {
                group = backends.group(rankKernels);
                log.info("tensor parallelism over {} GPUs (NCCL)", tp);
            }
            opened = SafeTensors.open(modelDir);
            List<Model> models = new ArrayList<>();
            for (int r = 0; r < tp; r++) {
                models.add(Model.load(config, opened, rankKernels.get(r), args.tokensPerBlock(), progress,
                        tp == 1 ? null : TensorParallelPlan.of(config, r, tp, false), tp == 1 ? null : group.get(r)));
            }
            // the pool takes a share of what the weights left (every rank holds the same blocks)
            int numBlocks = KvPoolSizer.numBlocks(models, rankKernels, new KvPoolSizer.Request(maxSeqLen,
                    args.maxBatchSize(), Math.max(args.maxNumTokens(), 1), args.tokensPerBlock(),
                    args.kvCacheConfig().maxTokens(), args.kvCacheConfig().freeGpuMemoryFraction(), rocketKv));
            EngineConfig ec = new EngineConfig(args.maxBatchSize(), Math.max(args.maxNumTokens(), 1), maxSeqLen,
                    args.tokensPerBlock(), numBlocks, rocketKv, args.cudaGraphBatchSizes(),
                    args.cudaGraphConfig().enablePadding(), args.enableChunkedPrefill())
                    .withBlockReuse(args.kvCacheConfig().enableBlockReuse())
                    .withIterLog(args.printIterLog());
            this.engine = new Engine(models, rankKernels, ec, this::detokenize);
        } catch (RuntimeException e) {
            closeQuietly(group, e);
            closeQuietly(rankKernels, e); // frees the weights already on the devices (the CPU backend holds nothing)
            if (opened != null) {
                opened.close();
            }
            throw e;
        }
        this.weights = opened;
        this.collectives = group;
        this.eosIds = config.eosTokenIds().isEmpty() ? eosFromTokenizer(tokenizer) : config.eosTokenIds();
        ChatTemplate checkpoint = ChatTemplate.fromTokenizerConfig(modelDir);
        this.chatTemplate = chatTemplateOverride == null ? checkpoint : checkpoint.withTemplate(chatTemplateOverride);
    }

    /**
     * Output text of generated ids. A model's vocabulary may be padded past the tokenizer's (the rows have
     * no token); such ids decode to nothing, as Hugging Face tokenizers decode them.
     */
    private String detokenize(int[] ids) {
        return detokenize(ids, true);
    }

    /** As {@link #detokenize(int[])}, keeping special tokens' text unless {@code skipSpecial}. */
    private String detokenize(int[] ids, boolean skipSpecial) {
        int v = tokenizer.vocabSize();
        int n = 0;
        for (int id : ids) {
            if (id < v) {
                n++;
            }
        }
        if (n == ids.length) {
            return tokenizer.decode(ids, skipSpecial);
        }
        int[] known = new int[n];
        int j = 0;
        for (int id : ids) {
            if (id < v) {
                known[j++] = id;
            }
        }
        return tokenizer.decode(known, skipSpecial);
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * Generates one completion per prompt, batched together; blocks until all finish. If one fails, the others
     * are cancelled and its exception is thrown. A thread interrupted while it waits here cancels every request
     * of the call and gets a {@link CancellationException} (its interrupt flag set again).
     */
    public List<RequestOutput> generate(List<String> prompts, SamplingParams params) {
        List<CompletableFuture<RequestOutput>> futures = new ArrayList<>();
        try {
            for (String p : prompts) {
                futures.add(submit(p, params, null));
            }
            List<RequestOutput> out = new ArrayList<>(futures.size());
            for (var f : futures) {
                out.add(await(f));
            }
            return out;
        } finally {
            for (var f : futures) {
                f.cancel(true); // no-op for the finished ones; frees the rest after a failure or an interrupt
            }
        }
    }

    public RequestOutput generate(String prompt, SamplingParams params) {
        return generate(List.of(prompt), params).getFirst();
    }

    /**
     * Streams a completion: {@code onToken} is called for every chunk of {@code stream_interval} tokens (every token
     * by default; on the engine thread, keep it short), the future completes with the whole output. With {@code n}
     * above 1 the chunks of the n completions interleave, each naming its {@link StreamChunk#index()} and each
     * completion ending with its own last chunk. Cancelling the future ({@code cancel(true)}) stops the
     * request: the engine drops it before its next step and frees its KV blocks.
     */
    public CompletableFuture<RequestOutput> generateStream(String prompt, SamplingParams params, Consumer<StreamChunk> onToken) {
        Objects.requireNonNull(onToken, "onToken");
        return submit(prompt, params, onToken);
    }

    /**
     * As {@link #generateStream(String, SamplingParams, Consumer)} for a prompt already tokenized (e.g. a
     * rendered chat template whose special tokens are in the text); no special tokens are added.
     * {@code onToken} may be null.
     */
    public CompletableFuture<RequestOutput> generateStream(int[] promptTokenIds, SamplingParams params,
                                                           Consumer<StreamChunk> onToken) {
        Objects.requireNonNull(promptTokenIds, "promptTokenIds");
        return submitIds(tokenizer.decode(promptTokenIds, false), promptTokenIds, params, onToken);
    }

    /**
     * Streams a completion as an iterator of tokens; the last chunk carries the finish reason. Close the stream
     * (try-with-resources) to stop early: that cancels the request and frees its KV blocks (see {@link TokenStream}).
     */
    public TokenStream generateStream(String prompt, SamplingParams params) {
        BlockingQueue<Object> queue = new LinkedBlockingQueue<>();
        CompletableFuture<RequestOutput> f = submit(prompt, params, queue::add);
        f.whenComplete((r, e) -> {
            if (e != null) {
                queue.add(e);
            }
        });
        return new QueueTokenStream(queue, f, params.n());
    }

    /**
     * Answers a conversation: the messages rendered by {@link #chatTemplate()} with the generation prompt (the
     * assistant's header) appended, then generated from as {@link #generate(String, SamplingParams)} does. A rendered
     * template is tokenized without adding special tokens (it writes BOS itself, as Hugging Face's
     * {@code apply_chat_template}); the fallback format without a template gets them as {@code add_special_tokens}
     * says. The output's {@code prompt} is the rendered text.
     *
     * @throws io.rocketkv.api.chat.ChatTemplateException when the template rejects the messages
     */
    public RequestOutput chat(List<Message> messages, SamplingParams params) {
        String prompt = chatTemplate.render(messages, true);
        CompletableFuture<RequestOutput> f = submitIds(prompt, chatIds(prompt, params), params, null);
        try {
            return await(f);
        } finally {
            f.cancel(true); // no-op once finished; frees the request after an interrupt
        }
    }

    /**
     * Streams the answer to a conversation, as {@link #chat(List, SamplingParams)} renders it and
     * {@link #generateStream(String, SamplingParams, Consumer)} streams.
     */
    public CompletableFuture<RequestOutput> chatStream(List<Message> messages, SamplingParams params,
                                                       Consumer<StreamChunk> onToken) {
        Objects.requireNonNull(onToken, "onToken");
        String prompt = chatTemplate.render(messages, true);
        return submitIds(prompt, chatIds(prompt, params), params, onToken);
    }

    private int[] chatIds(String rendered, SamplingParams params) {
        Objects.requireNonNull(params, "params");
        return tokenizer.encode(rendered, !chatTemplate.hasTemplate() && params.addSpecialTokens());
    }

    /**
     * The chat template {@link #chat} renders with: the builder's {@link Builder#chatTemplate(String) override}, else
     * the checkpoint's ({@code tokenizer_config.json}), else the fallback format.
     */
    public ChatTemplate chatTemplate() {
        return chatTemplate;
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    public ModelConfig modelConfig() {
        return config;
    }

    /**
     * Decode steps replayed from CUDA graphs so far, and steps recorded: {@code [replays, recordings]}
     * (both 0 on the CPU backend or with {@link CudaGraphConfig#disabled()}).
     */
    public long[] cudaGraphStats() {
        return new long[] {engine.graphReplays(), engine.graphRecords()};
    }

    public LlmArgs args() {
        return args;
    }

    /** The backend in use: "cpu" or "cuda". */
    public String backendName() {
        return kernels.name();
    }

    /** KV-cache bytes held by running requests now. */
    public long kvCacheBytesInUse() {
        return engine.usedKvBlocks() * engine.kvBytesPerBlock();
    }

    /** KV-cache blocks held by queued-and-running requests now (a recent value while requests run). */
    public int kvBlocksInUse() {
        return engine.usedKvBlocks();
    }

    /**
     * Prefix-cache counters of the pool ({@code enable_block_reuse}): prompt tokens looked up and served from cached
     * blocks over every admission so far (recomputes after preemption included), blocks cached now and evictions;
     * {@link PrefixCacheStats#hitRate()} is their ratio. A recent value while requests run; no hits with reuse off.
     */
    public PrefixCacheStats prefixCacheStats() {
        return engine.prefixCacheStats();
    }

    /** KV-cache blocks in the pool. */
    public int kvBlocksTotal() {
        return engine.totalKvBlocks();
    }

    /** Requests submitted and waiting for KV blocks or a batch slot (a recent value). */
    public int numWaitingRequests() {
        return engine.numWaiting();
    }

    /** Requests in the running batch (a recent value). */
    public int numRunningRequests() {
        return engine.numRunning();
    }

    /** The longest sequence (prompt + generated tokens) a request may reach. */
    public int maxSeqLen() {
        return engine.config().maxSeqLen();
    }

    /** KV-cache pool size in tokens. */
    public long kvCacheCapacityTokens() {
        return engine.config().poolTokens();
    }

    private CompletableFuture<RequestOutput> submit(String prompt, SamplingParams params, Consumer<StreamChunk> onToken) {
        Objects.requireNonNull(prompt, "prompt");
        Objects.requireNonNull(params, "params");
        return submitIds(prompt, tokenizer.encode(prompt, params.addSpecialTokens()), params, onToken);
    }

    /**
     * Submits the {@code best_of} completions of one prompt (each its own sequence, prefilled on its own; with block
     * reuse on, a completion admitted after another's prompt blocks were cached shares them) and completes with the
     * best {@code n}. Streaming hands over the chunks of all n completions as they come (best_of above n is refused:
     * the best are known only at the end).
     */
    private CompletableFuture<RequestOutput> submitIds(String prompt, int[] ids, SamplingParams params,
                                                       Consumer<StreamChunk> onToken) {
        Objects.requireNonNull(params, "params");
        try {
            SamplingChecks.idsWithinVocabulary(params, config.vocabSize());
        } catch (ConfigException e) {
            return CompletableFuture.failedFuture(e);
        }
        if (onToken != null && params.numSampled() > params.n()) {
            return CompletableFuture.failedFuture(new ConfigException("sampling_params.best_of", "streaming hands"
                    + " over every sampled completion as it is generated, so best_of (bestOf) " + params.numSampled()
                    + " above n " + params.n() + " cannot be streamed (which n are best is known only at the end);"
                    + " leave best_of unset or equal to n, or call generate"));
        }
        Integer keep = params.truncatePromptTokens();
        if (keep != null && ids.length > keep) {
            ids = Arrays.copyOfRange(ids, ids.length - keep, ids.length); // the last k tokens, as TensorRT-LLM
        }
        if (ids.length == 0) {
            return CompletableFuture.failedFuture(new IllegalArgumentException(
                    "the prompt encodes to no tokens; give a non-empty prompt"));
        }
        String tooBig = neverFits(ids.length, params.maxTokens());
        if (tooBig != null) {
            return CompletableFuture.failedFuture(new IllegalArgumentException(tooBig));
        }
        Consumer<StreamChunk> guarded = onToken == null ? null : new GuardedListener(onToken);
        List<List<Integer>> badWords = BadWords.encode(tokenizer, params.bad());
        Detokenizer detokenizer = params.skipSpecialTokens() ? null : out -> detokenize(out, false);
        List<GenerationRequest> requests = new ArrayList<>();
        for (int i = 0; i < params.numSampled(); i++) {
            // streamed: completion i's tokens in chunks of stream_interval, each chunk naming i
            Consumer<GenerationRequest.TokenEvent> listener = guarded == null ? null
                    : new StreamIntervals(i, args.streamInterval(), guarded);
            // the first completion alone scores the prompt (the same for all of them)
            requests.add(new GenerationRequest(ids, params.toSamplingOptions(i, badWords),
                    params.toStopCriteria(eosIds), listener, detokenizer, i == 0 ? params.promptLogprobs() : null));
        }
        // together, so the completions are scheduled in the same round and decode side by side
        List<CompletableFuture<GenerationResult>> results = engine.submitAll(requests);
        CompletableFuture<RequestOutput> out = CompletableFuture.allOf(results.toArray(CompletableFuture[]::new))
                .thenApply(v -> RequestOutput.from(prompt, results.stream().map(CompletableFuture::join).toList(),
                        params.n(), params.logprobs() != null));
        for (CompletableFuture<GenerationResult> r : results) {
            r.whenComplete((x, e) -> {
                if (e != null) {
                    out.completeExceptionally(e instanceof CompletionException c && c.getCause() != null
                            ? c.getCause() : e); // the first failure ends the request: the others are cancelled
                }
            });
        }
        out.whenComplete((r, e) -> {
            if (e != null) {
                for (CompletableFuture<GenerationResult> each : results) {
                    each.cancel(false); // tells the engine to drop the rest and free their blocks
                }
            }
        });
        return out;
    }

    /**
     * Why a request of {@code prompt} tokens and up to {@code maxTokens} outputs could never fit in the whole KV
     * pool, or null when it can. At its longest it holds its prompt (all of it while it is prefilled; with
     * RocketKV then the kept tokens) plus one slot per output but the last, outputs ending at max_seq_len.
     * Refused up front, such a request does not run until the pool is full and then fail.
     */
    private String neverFits(int prompt, int maxTokens) {
        long pool = engine.config().poolTokens();
        long total = Math.min((long) prompt + maxTokens, engine.config().maxSeqLen());
        RocketSparseAttentionConfig sparse = args.sparseAttentionConfig();
        long kept = sparse == null ? prompt : Math.min(prompt, sparse.promptBudget());
        long need = Math.max(prompt, kept + (total - prompt) - 1);
        if (need <= pool) {
            return null;
        }
        long maxOutputs = pool - kept + 1;
        return "the prompt (" + prompt + " tokens) with max_tokens " + maxTokens + " needs " + need
                + " KV-cache slots, more than the whole pool holds (" + pool + " tokens: " + engine.config().numBlocks()
                + " blocks of " + engine.config().tokensPerBlock() + "); "
                + (prompt > pool || maxOutputs < 1 ? "shorten the prompt"
                        : "lower max_tokens to at most " + maxOutputs + " or shorten the prompt")
                + ", or give the pool more room (kv_cache_config.max_tokens, free_gpu_memory_fraction)";
    }

    /** The output of {@code f}; interruptible, unlike {@code join()}. */
    private static RequestOutput await(CompletableFuture<RequestOutput> f) {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            CancellationException c = new CancellationException("interrupted while waiting in generate; its"
                    + " requests were cancelled");
            c.initCause(e);
            throw c;
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw new CompletionException(e.getCause());
        }
    }

    /**
     * The rules for {@code tensor_parallel_size} that need the model and the machine: the model's shapes must
     * shard ({@link TensorParallelPlan}: it divides the query heads and the MLP width, and divides or is a
     * multiple of the KV heads); it needs the CUDA backend (AUTO counts when CUDA is usable), that many visible
     * devices and NCCL.
     */
    static void checkTensorParallel(LlmArgs args, ModelConfig config, Backends backends) {
        int tp = args.tensorParallelSize();
        if (tp == 1) {
            return;
        }
        String name = "tensor_parallel_size (tensorParallelSize) " + tp;
        try {
            TensorParallelPlan.of(config, 0, tp, false); // the shape rules live in the plan
        } catch (IllegalArgumentException e) {
            throw new ConfigException("tensor_parallel_size", name + " does not fit the model: " + e.getMessage());
        }
        if (args.backend() == Backend.CPU) {
            throw new ConfigException("tensor_parallel_size", name + " needs the CUDA backend, got backend "
                    + args.backend() + "; set backend: cuda or tensor_parallel_size: 1");
        }
        backends.checkTensorParallel(name, tp);
    }

    /**
     * {@code kv_cache_config.dtype} against what the backend stores: bfloat16 on the CPU (which keeps float32, holding
     * every bfloat16 value exactly) is logged; float32 on CUDA is refused (the backends are closed first).
     */
    private static void checkKvCacheDtype(KvCacheDtype asked, Kernels kernels, List<Kernels> all) {
        try {
            if (!asked.checkBackend(kernels.name(), kernels.kvCacheDtype())) {
                log.warn("kv_cache_config.dtype {}: the {} backend keeps its KV cache in {}", asked.yamlName(),
                        kernels.name(), kernels.kvCacheDtype());
            }
        } catch (ConfigException e) {
            closeQuietly(all, e);
            throw e;
        }
    }

    static void closeQuietly(List<? extends AutoCloseable> all, RuntimeException into) {
        for (int i = all.size() - 1; i >= 0; i--) {
            try {
                all.get(i).close();
            } catch (Exception suppressed) {
                into.addSuppressed(suppressed);
            }
        }
    }

    private static List<Integer> eosFromTokenizer(Tokenizer t) {
        List<Integer> ids = new ArrayList<>();
        for (int id : t.eosIds()) {
            ids.add(id);
        }
        return ids;
    }

    @Override
    public void close() {
        engine.close();
        for (Collective c : collectives) {
            try {
                c.close();
            } catch (RuntimeException e) {
                log.warn("closing the NCCL communicator of rank {} failed", c.rank(), e);
            }
        }
        for (Kernels k : rankKernels) {
            k.close();
        }
        weights.close();
    }

    @Override
    public String toString() {
        return "LLM[" + modelDir + ", " + config.architecture() + ", backend " + kernels.name() + "]";
    }

    /** Builds an {@link LLM}; every option has the default of {@link LlmArgs}. */
    public static final class Builder {
        private Path model;
        private LlmArgs.Builder args = LlmArgs.builder();
        private LoadProgress progress = LoadProgress.NONE;
        private Stage1Policy stage1Policy = Stage1Policy.ROCKET;
        private String chatTemplate;

        private Builder() {
        }

        /**
         * A Jinja chat template to use instead of the checkpoint's {@code chat_template} (vLLM's and trtllm-serve's
         * {@code --chat_template}); the checkpoint's {@code bos_token} and {@code eos_token} still apply. Null = the
         * checkpoint's. Not a YAML key: TensorRT-LLM's {@code LlmArgs} has none.
         */
        public Builder chatTemplate(String template) {
            this.chatTemplate = template;
            return this;
        }

        /** A Hugging Face checkpoint directory (config.json, *.safetensors, tokenizer.json). */
        public Builder model(Path model) {
            this.model = model;
            return this;
        }

        /**
         * A checkpoint directory, or a Hugging Face id {@code org/name} found in the local Hugging Face cache
         * (never downloaded; see {@link HuggingFaceModels}).
         *
         * @throws ModelNotFoundException when it is neither, naming every place looked in
         */
        public Builder model(String model) {
            this.model = HuggingFaceModels.resolve(model);
            return this;
        }

        /** Takes every engine option from {@code args} (e.g. {@link LlmArgs#fromYaml(Path)}). */
        public Builder args(LlmArgs args) {
            this.args = args.toBuilder();
            return this;
        }

        /** Told after each weight tensor is loaded (e.g. to draw a progress bar). */
        public Builder loadProgress(LoadProgress progress) {
            this.progress = Objects.requireNonNull(progress, "progress");
            return this;
        }

        public Builder backend(Backend backend) {
            args.backend(backend);
            return this;
        }

        public Builder kvCacheConfig(KvCacheConfig c) {
            args.kvCacheConfig(c);
            return this;
        }

        public Builder sparseAttentionConfig(RocketSparseAttentionConfig c) {
            args.sparseAttentionConfig(c);
            return this;
        }

        public Builder enableChunkedPrefill(boolean enable) {
            args.enableChunkedPrefill(enable);
            return this;
        }

        public Builder maxSeqLen(int maxSeqLen) {
            args.maxSeqLen(maxSeqLen);
            return this;
        }

        /** {@code allow_long_max_seq_len}: a {@code maxSeqLen} above the model's max_position_embeddings runs. */
        public Builder allowLongMaxSeqLen(boolean allow) {
            args.allowLongMaxSeqLen(allow);
            return this;
        }

        public Builder maxBatchSize(int maxBatchSize) {
            args.maxBatchSize(maxBatchSize);
            return this;
        }

        public Builder maxNumTokens(int maxNumTokens) {
            args.maxNumTokens(maxNumTokens);
            return this;
        }

        public Builder tokensPerBlock(int tokensPerBlock) {
            args.tokensPerBlock(tokensPerBlock);
            return this;
        }

        /**
         * GPUs to split the model over (YAML {@code tensor_parallel_size}); default 1. Above 1 it needs the CUDA
         * backend, that many visible devices and NCCL, and must fit the model's shapes (it divides the query heads
         * and the MLP width, and divides or is a multiple of the KV heads); see {@link LlmArgs}.
         */
        public Builder tensorParallelSize(int tensorParallelSize) {
            args.tensorParallelSize(tensorParallelSize);
            return this;
        }

        /**
         * <b>Evaluation only</b>: replaces RocketKV's stage-1 token selection by a baseline that keeps as many
         * tokens ({@link Stage1Policy#SLIDING_WINDOW}, {@link Stage1Policy#random(long)}), to measure what
         * RocketKV's selection is worth. Needs a sparse-attention config and {@link Backend#CPU}. Not a YAML key.
         * Default {@link Stage1Policy#ROCKET}.
         */
        public Builder evaluationStage1Policy(Stage1Policy policy) {
            this.stage1Policy = Objects.requireNonNull(policy, "policy");
            return this;
        }

        /**
         * Tokens per streamed chunk (YAML {@code stream_interval}, TensorRT-LLM's key; default 1): a streaming
         * listener gets one {@link StreamChunk} every {@code streamInterval} generated tokens of a completion, and the
         * rest with its last token; &ge; 1 ({@link ConfigException} naming {@code stream_interval} otherwise).
         */
        public Builder streamInterval(int streamInterval) {
            args.streamInterval(streamInterval);
            return this;
        }

        /** CUDA graph settings ({@link CudaGraphConfig#disabled()} turns them off); null = defaults (on). */
        public Builder cudaGraphConfig(CudaGraphConfig c) {
            args.cudaGraphConfig(c);
            return this;
        }

        /**
         * Loads the model.
         *
         * @throws ConfigException for invalid options (e.g. RocketKV with block reuse)
         * @throws IllegalArgumentException when no model directory was given or it does not exist
         */
        public LLM build() {
            if (model == null) {
                throw new IllegalArgumentException("no model given: call model(Path) with a checkpoint directory");
            }
            if (!Files.isDirectory(model)) {
                Path abs = model.toAbsolutePath();
                if (Files.isRegularFile(model)) {
                    throw new IllegalArgumentException("model " + abs + " is a file, not a directory: pass the"
                            + " checkpoint folder that holds config.json, the *.safetensors weights and"
                            + " tokenizer.json" + (abs.getParent() == null ? "" : " (perhaps " + abs.getParent() + ")"));
                }
                String kind = CheckpointFiles.nonRegularKind(model);
                throw new IllegalArgumentException("model directory " + abs + (kind == null ? " does not exist"
                        : " is " + kind + ", not a directory") + ": pass the checkpoint folder that holds"
                        + " config.json");
            }
            LlmArgs built = args.build();
            checkMaxSeqLen(ModelConfig.load(model), built);
            if (built.checkWeights()) {
                try (SafeTensors weights = SafeTensors.open(model)) {
                    FiniteWeights.check(weights); // a corrupt tensor is named now, not found as NaN logits later
                }
            }
            return new LLM(model, built, progress, stage1Policy, chatTemplate);
        }
    }

    /**
     * {@code max_seq_len} above the model's {@code max_position_embeddings} would run positions the model was
     * never trained for, with no sign of it: refused, unless {@code allow_long_max_seq_len} asks for it (then
     * logged).
     */
    static void checkMaxSeqLen(ModelConfig config, LlmArgs args) {
        Integer asked = args.maxSeqLen();
        int positions = config.maxPositionEmbeddings();
        if (asked == null || asked <= positions) {
            return;
        }
        if (!args.allowLongMaxSeqLen()) {
            throw new ConfigException("max_seq_len", "max_seq_len (maxSeqLen) " + asked + " is more than the model's"
                    + " max_position_embeddings " + positions + " (config.json): positions past it are outside the"
                    + " range the model was trained for. Lower max_seq_len to at most " + positions + ", or set"
                    + " allow_long_max_seq_len: true (allowLongMaxSeqLen(true)) to run them anyway");
        }
        log.warn("max_seq_len {} is more than the model's max_position_embeddings {}: allow_long_max_seq_len is set,"
                + " so positions past {} run, outside the range the model was trained for", asked, positions, positions);
    }
}
