package io.rocketkv.examples.eval;

import io.rocketkv.api.Backend;
import io.rocketkv.api.KvCacheConfig;
import io.rocketkv.api.LLM;
import io.rocketkv.api.LlmArgs;
import io.rocketkv.api.RequestOutput;
import io.rocketkv.api.SamplingParams;
import io.rocketkv.core.tokenizer.Tokenizer;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The retrieval accuracy evaluation as a library call: generates {@code cases} held-out cases per task and context
 * length ({@link RetrievalTasks}, fixed seed), runs them through {@link LLM} once per {@link EvalSetting} (greedy,
 * the answer compared exactly after trimming) and returns accuracy and KV compression per cell. The command lines
 * lines are {@link #main} (a settings grid) and {@code LlmEval} (the settings of a {@code --config} file).
 *
 * <p>Compression, per request: {@code token_compression = (prompt + generated − 1) / cacheTokens} (the tokens a
 * dense cache holds over those RocketKV keeps per KV head at the end) and {@code memory_compression = dense KV bytes
 * / (KV bytes + KT bytes)} held at peak (block-rounded); each averaged over the cell's cases.
 */
public final class RetrievalEval {

    /**
     * @param model        checkpoint directory
     * @param baseArgs     engine options; each setting replaces its sparse_attention_config (the baselines also
     *                     force the CPU backend)
     * @param tasks        task names ({@link RetrievalTasks#TASKS})
     * @param contexts     prompt lengths in tokens
     * @param cases        cases per task and context
     * @param seed         the run seed ({@link RetrievalTasks#caseSeed})
     * @param maxNewTokens tokens generated per case; enough for the answer and EOS (with the bundled retrieval
     *                     model's tokenizer a passkey or multikey value is 5 tokens, a vartrack answer of grammar
     *                     version 3, {@code " C B 48213"}, 7; the commands' default is 12)
     */
    public record Options(Path model, LlmArgs baseArgs, List<String> tasks, List<Integer> contexts, int cases,
                          long seed, int maxNewTokens) {
        public Options {
            tasks.forEach(RetrievalTasks::requireTask);
            if (tasks.isEmpty() || contexts.isEmpty()) {
                throw new IllegalArgumentException("--tasks and --contexts must name at least one value each");
            }
            for (int c : contexts) {
                if (c < 1) {
                    throw new IllegalArgumentException("context lengths must be >= 1 token, got " + c);
                }
            }
            if (cases < 1) {
                throw new IllegalArgumentException("--cases must be >= 1, got " + cases);
            }
            if (maxNewTokens < 1) {
                throw new IllegalArgumentException("--max-new-tokens must be >= 1, got " + maxNewTokens);
            }
            tasks = List.copyOf(tasks);
            contexts = List.copyOf(contexts);
        }
    }

    /** One cell of the table: a task, a context length and a setting. */
    public record Cell(String task, int context, EvalSetting setting, String backend, int cases, int correct,
                       double meanPromptTokens, double tokenCompression, double memoryCompression) {
        public double accuracy() {
            return (double) correct / cases;
        }
    }

    /** A whole run. */
    public record Result(Options options, List<EvalSetting> settings, List<Cell> cells) {
    }

    private RetrievalEval() {
    }

    /** The command line: see {@link RetrievalEvalCommand}. */
    public static void main(String[] args) {
        System.exit(io.rocketkv.examples.Cli.run(new RetrievalEvalCommand(), args));
    }

    /** Generates the cases (the same for every setting) of each task × context. */
    public static List<List<RetrievalTasks.Case>> cases(Options o, Tokenizer tok) {
        RetrievalTasks gen = new RetrievalTasks(s -> tok.encode(s, false).length, s -> tok.encode(s, true).length);
        List<List<RetrievalTasks.Case>> out = new ArrayList<>();
        for (String task : o.tasks()) {
            for (int ctx : o.contexts()) {
                List<RetrievalTasks.Case> cell = new ArrayList<>();
                for (int i = 0; i < o.cases(); i++) {
                    cell.add(gen.generate(task, ctx, RetrievalTasks.caseSeed(o.seed(), task, ctx, i)));
                }
                out.add(cell);
            }
        }
        return out;
    }

    /** Runs every setting over the same cases; progress lines go to {@code log}. */
    public static Result run(Options o, List<EvalSetting> settings, PrintStream log) {
        int longest = o.contexts().stream().mapToInt(Integer::intValue).max().orElseThrow();
        List<List<RetrievalTasks.Case>> cases = cases(o, Tokenizer.load(o.model()));
        List<Cell> cells = new ArrayList<>();
        SamplingParams greedy = SamplingParams.builder().maxTokens(o.maxNewTokens()).temperature(0.0).stop("\n").build();
        for (EvalSetting s : settings) {
            LlmArgs.Builder a = o.baseArgs().toBuilder().sparseAttentionConfig(s.sparse());
            if (o.baseArgs().maxSeqLen() == null) {
                a.maxSeqLen(longest + o.maxNewTokens());
            }
            if (s.sparse() != null) {
                a.kvCacheConfig(o.baseArgs().kvCacheConfig().toBuilder().enableBlockReuse(false).build());
            }
            if (s.baseline()) {
                a.backend(Backend.CPU);
            }
            try (LLM llm = LLM.builder().model(o.model()).args(a.build()).evaluationStage1Policy(s.policy()).build()) {
                if (longest + o.maxNewTokens() > llm.maxSeqLen()) {
                    throw new IllegalArgumentException("context " + longest + " + --max-new-tokens " + o.maxNewTokens()
                            + " is more than max_seq_len = " + llm.maxSeqLen() + "; lower --contexts or raise max_seq_len");
                }
                int k = 0;
                for (String task : o.tasks()) {
                    for (int ctx : o.contexts()) {
                        cells.add(runCell(llm, task, ctx, s, cases.get(k++), greedy));
                    }
                }
                log.printf("%-28s done (%s)%n", s.name(), llm.backendName());
            }
        }
        return new Result(o, List.copyOf(settings), cells);
    }

    private static Cell runCell(LLM llm, String task, int ctx, EvalSetting s, List<RetrievalTasks.Case> cases,
                                SamplingParams greedy) {
        List<CompletableFuture<RequestOutput>> futures = new ArrayList<>();
        for (RetrievalTasks.Case c : cases) {
            futures.add(llm.generateStream(c.prompt(), greedy, chunk -> { }));
        }
        int correct = 0;
        double prompt = 0, tokenRatio = 0, memRatio = 0;
        for (int i = 0; i < cases.size(); i++) {
            RequestOutput out = futures.get(i).join();
            if (out.output().text().trim().equals(cases.get(i).answer())) {
                correct++;
            }
            RequestOutput.Metrics m = out.metrics();
            prompt += m.promptTokens();
            tokenRatio += (double) (m.promptTokens() + m.generatedTokens() - 1) / m.cacheTokens();
            memRatio += (double) m.denseKvCacheBytes() / (m.kvCacheBytes() + m.ktCacheBytes());
        }
        int n = cases.size();
        return new Cell(task, ctx, s, llm.backendName(), n, correct, prompt / n, tokenRatio / n, memRatio / n);
    }

    /** Settings for RocketKV fields the grid does not vary, fitted to a model's head_dim. */
    static io.rocketkv.api.RocketSparseAttentionConfig gridBase(int headDim, int windowSize, int kernelSize) {
        return io.rocketkv.api.RocketSparseAttentionConfig.builder().windowSize(windowSize).kernelSize(kernelSize)
                .topr(Math.min(headDim, io.rocketkv.api.RocketSparseAttentionConfig.DEFAULT_TOPR)).build();
    }

    /** Engine options the evaluation needs when no file gives them. */
    static LlmArgs defaultArgs(Backend backend) {
        return LlmArgs.builder().backend(backend).kvCacheConfig(KvCacheConfig.builder().enableBlockReuse(false).build())
                .maxBatchSize(8).build();
    }
}
