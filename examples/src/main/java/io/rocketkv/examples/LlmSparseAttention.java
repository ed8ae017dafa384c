package io.rocketkv.examples;

import io.rocketkv.api.Backend;
import io.rocketkv.api.CudaGraphConfig;
import io.rocketkv.api.HuggingFaceModels;
import io.rocketkv.api.KtCacheDtype;
import io.rocketkv.api.KvCacheConfig;
import io.rocketkv.api.LLM;
import io.rocketkv.api.LlmArgs;
import io.rocketkv.api.RequestOutput;
import io.rocketkv.api.RocketSparseAttentionConfig;
import io.rocketkv.api.SamplingParams;
import io.rocketkv.core.model.ModelConfig;
import io.rocketkv.examples.eval.RetrievalTasks;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Generates text with optional RocketKV sparse attention; the flags follow TensorRT-LLM's
 * {@code examples/llm-api/llm_sparse_attention.py}. Flags given on the command line override the
 * {@code --config} YAML file.
 */
@Command(name = "llm-sparse-attention", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Generate text from a Hugging Face checkpoint, optionally with RocketKV sparse attention.")
public final class LlmSparseAttention implements Callable<Integer> {

    enum Algo { ROCKETKV, NONE }

    @Option(names = "--model_path", required = true, description = "checkpoint directory, or a Hugging Face id org/name from the local Hugging Face cache")
    String modelPath;
    @Option(names = "--algo", defaultValue = "ROCKETKV", description = "ROCKETKV or NONE (default ${DEFAULT-VALUE})")
    Algo algo;
    @Option(names = "--attention_backend", description = "recorded for compatibility (TRTLLM, VANILLA, FLASHINFER)")
    String attentionBackend;
    @Option(names = "--window_size", description = "RocketKV window_size")
    Integer windowSize;
    @Option(names = "--kernel_size", description = "RocketKV kernel_size")
    Integer kernelSize;
    @Option(names = "--prompt_budget", description = "RocketKV prompt_budget")
    Integer promptBudget;
    @Option(names = "--topk", description = "RocketKV topk (KT pages per KV head)")
    Integer topk;
    @Option(names = "--topr", description = "RocketKV topr (query channels for page scoring)")
    Integer topr;
    @Option(names = "--page_size", description = "RocketKV page_size")
    Integer pageSize;
    @Option(names = "--kt_cache_dtype", description = "float8_e5m2 or bfloat16")
    String ktCacheDtype;
    @Option(names = "--max_seq_len", description = "longest sequence (prompt + output)")
    Integer maxSeqLen;
    @Option(names = "--max_num_tokens", description = "most tokens in one prefill step")
    Integer maxNumTokens;
    @Option(names = "--enable_chunked_prefill", arity = "0..1", fallbackValue = "true",
            description = "prefill prompts longer than max_num_tokens in chunks over several steps (also with RocketKV)")
    Boolean enableChunkedPrefill;
    @Option(names = "--max_new_tokens", defaultValue = "128", description = "tokens to generate (default ${DEFAULT-VALUE},"
            + " as TensorRT-LLM)")
    int maxNewTokens;
    @Option(names = "--max_batch_size", description = "most sequences per step")
    Integer maxBatchSize;
    @Option(names = "--tokens_per_block", description = "KV-cache block size")
    Integer tokensPerBlock;
    @Option(names = "--config", description = "YAML file with LLM arguments (extra_config.yaml)")
    Path config;
    @Option(names = "--backend", description = "auto, cpu or cuda")
    String backend;
    @Option(names = "--prompt", description = "a prompt (repeatable)")
    List<String> prompts = new ArrayList<>();
    @Option(names = "--input_file", description = "TensorRT-LLM's JSONL (input_context, input_query, outputs per line;"
            + " the reference is printed beside the output), or plain text with one prompt per line (detected)")
    Path inputFile;
    @Option(names = "--num_samples", defaultValue = "10", description = "prompts taken from --input_file"
            + " (default ${DEFAULT-VALUE}, as TensorRT-LLM)")
    int numSamples;
    @Option(names = "--tp_size", description = "GPUs to split the model over (tensor_parallel_size)")
    Integer tpSize;
    @Option(names = "--kv_cache_fraction", description = "kv_cache_config.free_gpu_memory_fraction (default: the"
            + " config's, 0.9; TensorRT-LLM's example passes 0.7)")
    Double kvCacheFraction;
    @Option(names = "--kv_cache_dtype", description = "kv_cache_config.dtype: auto, bfloat16, float32, fp8 (e4m3, per-layer scales)")
    String kvCacheDtype;
    @Option(names = "--use_cuda_graph", arity = "0..1", fallbackValue = "true", description = "CUDA graphs for decode"
            + " steps (cuda_graph_config); unset keeps the config's (on by default), false turns them off")
    Boolean useCudaGraph;
    @Option(names = "--cuda_graph_padding_enabled", arity = "0..1", fallbackValue = "true",
            description = "cuda_graph_config.enable_padding")
    Boolean cudaGraphPadding;
    @Option(names = "--cuda_graph_batch_sizes", split = ",", arity = "1..*",
            description = "cuda_graph_config.batch_sizes (space- or comma-separated)")
    List<Integer> cudaGraphBatchSizes;
    @Option(names = "--print_iter_log", arity = "0..1", fallbackValue = "true",
            description = "log one line per engine step")
    Boolean printIterLog;
    @Option(names = "--haystack", description = "instead of --prompt: a generated long-context retrieval prompt, "
            + "TASK:TOKENS (e.g. passkey:2048; tasks passkey, multikey, vartrack), from the evaluation's generator; "
            + "the expected answer is printed beside the model's")
    String haystack;

    @Option(names = "--haystack_seed", defaultValue = "0", description = "run seed of the --haystack case (default ${DEFAULT-VALUE})")
    long haystackSeed;

    @Option(names = "--temperature", defaultValue = "0", description = "0 = greedy (default ${DEFAULT-VALUE})")
    double temperature;
    @Option(names = "--top_p", defaultValue = "1.0", description = "nucleus sampling (default ${DEFAULT-VALUE})")
    double topP;
    @Option(names = "--seed", description = "sampling seed")
    Long seed;

    public static void main(String[] args) {
        System.exit(Cli.run(new LlmSparseAttention(), args));
    }

    @Override
    public Integer call() throws Exception {
        List<String> inputs = new ArrayList<>(prompts);
        List<String> references = new ArrayList<>();
        prompts.forEach(p -> references.add(null));
        if (inputFile != null) {
            if (numSamples < 1) {
                throw new IllegalArgumentException("--num_samples must be >= 1, got " + numSamples);
            }
            List<PromptFile.Sample> samples = PromptFile.readSamples("--input_file", inputFile); // empty: an error
            for (PromptFile.Sample sample : samples.subList(0, Math.min(numSamples, samples.size()))) {
                inputs.add(sample.prompt());
                references.add(sample.reference());
            }
        }
        if (haystack != null && !inputs.isEmpty()) {
            throw new IllegalArgumentException("--haystack generates the prompt; leave out --prompt and --input_file");
        }
        if (inputs.isEmpty() && haystack == null) {
            inputs.add("The capital of France is");
        }
        LlmArgs args = clampTopr(buildArgs());
        System.out.printf("Loading %s (backend %s, attention %s)...%n", modelPath, args.backend(),
                args.isSparse() ? "RocketKV" : "dense");
        long t0 = System.nanoTime();
        try (LLM llm = LLM.builder().model(modelPath).args(args).loadProgress(new ProgressBar("weights")).build()) {
            System.err.println();
            System.out.printf("Loaded in %.2f s on %s%n%n", (System.nanoTime() - t0) / 1e9, llm.backendName());
            RetrievalTasks.Case needle = null;
            if (haystack != null) {
                needle = haystackCase(llm);
                inputs.add(needle.prompt());
                System.out.printf("Haystack: a %s case of %d tokens (seed %d); needle%s: %s%nQuestion: %s%n%n",
                        needle.task(), llm.tokenizer().encode(needle.prompt(), true).length, needle.seed(),
                        needle.needles().size() > 1 ? "s" : "", String.join(" ", needle.needles()), needle.question());
            }
            SamplingParams sp = SamplingParams.builder().maxTokens(maxNewTokens).temperature(temperature).topP(topP)
                    .seed(seed).build();
            long g0 = System.nanoTime();
            List<RequestOutput> outs = llm.generate(inputs, sp);
            double wall = (System.nanoTime() - g0) / 1e9;
            int promptTokens = 0;
            int genTokens = 0;
            double prefill = 0;
            double decode = 0;
            long kvBytes = 0;
            long ktBytes = 0;
            long denseBytes = 0;
            for (int i = 0; i < outs.size(); i++) {
                RequestOutput o = outs.get(i);
                System.out.printf("Prompt: %s%nOutput: %s%n[%s, %d tokens]%n%n", quote(abbreviate(o.prompt())),
                        quote(o.output().text()), o.output().finishReason(), o.output().tokenIds().length);
                if (i < references.size() && references.get(i) != null) {
                    System.out.printf("Reference: %s%n%n", quote(references.get(i)));
                }
                if (needle != null) { // judged as the evaluation judges: the first line, trimmed
                    String got = o.output().text().split("\n", 2)[0].trim();
                    System.out.printf("Answer: %s (expected %s: %s)%n%n", got, needle.answer(),
                            got.equals(needle.answer()) ? "correct" : "wrong");
                }
                promptTokens += o.metrics().promptTokens();
                genTokens += o.metrics().generatedTokens();
                prefill = Math.max(prefill, o.metrics().prefillSeconds());
                decode = Math.max(decode, o.metrics().decodeSeconds());
                kvBytes += o.metrics().kvCacheBytes();
                ktBytes += o.metrics().ktCacheBytes();
                denseBytes += o.metrics().denseKvCacheBytes();
                if (args.isSparse()) {
                    System.out.printf("  RocketKV kept %d of %d tokens per layer%n%n", o.metrics().cacheTokens(),
                            o.metrics().promptTokens() + o.metrics().generatedTokens());
                }
            }
            System.out.printf("Summary: %d prompt(s), %d prompt tokens, %d generated tokens in %.2f s%n", outs.size(),
                    promptTokens, genTokens, wall);
            System.out.printf("  prefill %.1f tok/s, decode %.1f tok/s%n",
                    prefill > 0 ? promptTokens / prefill : 0, decode > 0 ? (genTokens - outs.size()) / decode : 0);
            System.out.printf("  memory held at peak: KV cache %.1f KiB + KT cache %.1f KiB (dense attention: KV %.1f KiB)%n",
                    kvBytes / 1024.0, ktBytes / 1024.0, denseBytes / 1024.0);
        }
        return 0;
    }

    LlmArgs buildArgs() {
        LlmArgs base = config != null ? LlmArgs.fromYaml(config) : LlmArgs.defaults();
        LlmArgs.Builder b = base.toBuilder();
        if (backend != null) {
            b.backend(Backend.parse(backend));
        }
        if (attentionBackend != null) {
            b.attnBackend(attentionBackend);
        }
        if (maxSeqLen != null) {
            b.maxSeqLen(maxSeqLen);
        }
        if (maxNumTokens != null) {
            b.maxNumTokens(maxNumTokens);
        }
        if (enableChunkedPrefill != null) {
            b.enableChunkedPrefill(enableChunkedPrefill);
        }
        if (maxBatchSize != null) {
            b.maxBatchSize(maxBatchSize);
        }
        if (tokensPerBlock != null) {
            b.tokensPerBlock(tokensPerBlock);
        }
        if (tpSize != null) {
            b.tensorParallelSize(tpSize);
        }
        if (printIterLog != null) {
            b.printIterLog(printIterLog);
        }
        if (kvCacheFraction != null || kvCacheDtype != null) {
            var kv = base.kvCacheConfig().toBuilder();
            if (kvCacheFraction != null) {
                kv.freeGpuMemoryFraction(kvCacheFraction);
            }
            if (kvCacheDtype != null) {
                kv.dtype(kvCacheDtype);
            }
            b.kvCacheConfig(kv.build());
        }
        b.cudaGraphConfig(cudaGraphs(base.cudaGraphConfig()));
        if (algo == Algo.NONE) {
            b.sparseAttentionConfig(null);
        } else {
            RocketSparseAttentionConfig s = base.sparseAttentionConfig() != null
                    ? base.sparseAttentionConfig() : RocketSparseAttentionConfig.defaults();
            var sb = s.toBuilder();
            if (windowSize != null) sb.windowSize(windowSize);
            if (kernelSize != null) sb.kernelSize(kernelSize);
            if (promptBudget != null) sb.promptBudget(promptBudget);
            if (topk != null) sb.topk(topk);
            if (topr != null) sb.topr(topr);
            if (pageSize != null) sb.pageSize(pageSize);
            if (ktCacheDtype != null) sb.ktCacheDtype(KtCacheDtype.parse(ktCacheDtype));
            b.sparseAttentionConfig(sb.build());
            // kv_cache_config.enable_block_reuse stays as --config gives it (default true): unlike TensorRT-LLM,
            // RocketKV works with block reuse, so the seed's forced false is no longer needed
        }
        return b.build();
    }

    /** The config's CUDA graph settings with the {@code --use_cuda_graph} / {@code --cuda_graph_*} flags applied. */
    private CudaGraphConfig cudaGraphs(CudaGraphConfig base) {
        if (Boolean.FALSE.equals(useCudaGraph)) {
            if (cudaGraphBatchSizes != null || cudaGraphPadding != null) {
                throw new IllegalArgumentException("--use_cuda_graph false turns CUDA graphs off; leave out"
                        + " --cuda_graph_batch_sizes and --cuda_graph_padding_enabled");
            }
            return CudaGraphConfig.disabled();
        }
        if (useCudaGraph == null && cudaGraphBatchSizes == null && cudaGraphPadding == null) {
            return base;
        }
        boolean on = base.enabled() || Boolean.TRUE.equals(useCudaGraph);
        return new CudaGraphConfig(on, cudaGraphBatchSizes != null ? cudaGraphBatchSizes : base.batchSizes(),
                base.maxBatchSize(), cudaGraphPadding != null ? cudaGraphPadding : base.enablePadding());
    }

    /**
     * TensorRT-LLM's default {@code topr} (128) is more than the head_dim of small models (the bundled ones have 32
     * and 16): when {@code --topr} was not given and topr is that default, it is lowered to head_dim (every channel,
     * RocketKV's exact page scores) with a warning. An explicit {@code --topr} above head_dim stays an error.
     */
    LlmArgs clampTopr(LlmArgs args) {
        RocketSparseAttentionConfig s = args.sparseAttentionConfig();
        if (s == null || topr != null || s.topr() != RocketSparseAttentionConfig.DEFAULT_TOPR) {
            return args;
        }
        int headDim = ModelConfig.load(HuggingFaceModels.resolve(modelPath)).headDim();
        if (s.topr() <= headDim) {
            return args;
        }
        System.err.printf("WARN: sparse_attention_config.topr %d (TensorRT-LLM's default) is more than the model's"
                + " head_dim %d; using topr %d (all channels). Pass --topr to choose.%n", s.topr(), headDim, headDim);
        return args.toBuilder().sparseAttentionConfig(s.toBuilder().topr(headDim).build()).build();
    }

    /** The {@code --haystack} case: TASK:TOKENS through the evaluation's generator and this model's tokenizer. */
    private RetrievalTasks.Case haystackCase(LLM llm) {
        String[] parts = haystack.split(":");
        int tokens;
        try {
            if (parts.length != 2) {
                throw new NumberFormatException();
            }
            tokens = Integer.parseInt(parts[1].trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--haystack takes TASK:TOKENS, e.g. passkey:2048, got '" + haystack + "'");
        }
        String task = parts[0].trim();
        try {
            RetrievalTasks.requireTask(task);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--haystack: " + e.getMessage());
        }
        if (tokens < 64 || tokens + maxNewTokens > llm.maxSeqLen()) {
            throw new IllegalArgumentException("--haystack " + haystack + ": TOKENS must be"
                    + " at least 64 and TOKENS + --max_new_tokens at most max_seq_len (" + llm.maxSeqLen() + ")");
        }
        var tok = llm.tokenizer();
        RetrievalTasks gen = new RetrievalTasks(t -> tok.encode(t, false).length, t -> tok.encode(t, true).length);
        return gen.generate(task, tokens, RetrievalTasks.caseSeed(haystackSeed, task, tokens, 0));
    }

    /** A long prompt's first and last 160 characters. */
    private static String abbreviate(String s) {
        return s.length() <= 400 ? s : s.substring(0, 160) + " [... " + (s.length() - 320) + " characters ...] "
                + s.substring(s.length() - 160);
    }

    private static String quote(String s) {
        return "\"" + s.replace("\n", "\\n") + "\"";
    }
}
