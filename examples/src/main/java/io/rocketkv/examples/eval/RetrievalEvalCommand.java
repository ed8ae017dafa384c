package io.rocketkv.examples.eval;

import io.rocketkv.api.LlmArgs;
import io.rocketkv.core.model.ModelConfig;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code RetrievalEval}'s command line: the default (or full) settings grid over the retrieval tasks. */
@Command(name = "RetrievalEval", mixinStandardHelpOptions = true,
        description = "Retrieval accuracy of dense attention, RocketKV settings and two baselines; table and JSON.")
public final class RetrievalEvalCommand implements Callable<Integer> {

    @Option(names = "--model", required = true, description = "checkpoint directory")
    Path model;

    @Option(names = "--config", description = "YAML with engine options (its sparse_attention_config is replaced per setting)")
    Path config;

    @Option(names = "--backend", defaultValue = "cpu", description = "auto, cpu or cuda (default ${DEFAULT-VALUE}); baselines always run on the CPU")
    String backend;

    @Option(names = "--grid", defaultValue = "default", description = "default or full (default ${DEFAULT-VALUE})")
    String grid;

    @Option(names = "--baselines", defaultValue = "with",
            description = "with, without or only: the sliding-window and random-subset baselines (which run on the CPU "
                    + "whatever --backend says) beside the other settings, left out (a quick CUDA run), or alone "
                    + "(default ${DEFAULT-VALUE})")
    String baselines;

    @Option(names = "--tasks", split = ",", defaultValue = "passkey,multikey,vartrack", description = "tasks (default ${DEFAULT-VALUE})")
    List<String> tasks;

    @Option(names = "--contexts", split = ",", defaultValue = "1024,2048,4096", description = "prompt lengths in tokens (default ${DEFAULT-VALUE})")
    List<Integer> contexts;

    @Option(names = "--cases", defaultValue = "50", description = "cases per task and context (default ${DEFAULT-VALUE})")
    int cases;

    @Option(names = "--seed", defaultValue = "0", description = "run seed (default ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--window-size", defaultValue = "32", description = "RocketKV window_size of every setting (default ${DEFAULT-VALUE})")
    int windowSize;

    @Option(names = "--kernel-size", defaultValue = "63", description = "RocketKV kernel_size of every setting (default ${DEFAULT-VALUE})")
    int kernelSize;

    @Option(names = "--max-new-tokens", defaultValue = "12", description = "tokens generated per case (default ${DEFAULT-VALUE})")
    int maxNewTokens;

    @Option(names = "--output-json", description = "where to write the results as JSON")
    Path outputJson;

    @Override
    public Integer call() throws Exception {
        LlmArgs args = config != null ? LlmArgs.fromYaml(config).toBuilder().backend(backend).build()
                : RetrievalEval.defaultArgs(LlmArgs.builder().backend(backend).build().backend());
        var base = RetrievalEval.gridBase(ModelConfig.load(model).headDim(), windowSize, kernelSize);
        List<EvalSetting> settings = switch (grid) {
            case "default" -> EvalSetting.defaultGrid(base);
            case "full" -> EvalSetting.fullGrid(base);
            default -> throw new IllegalArgumentException("--grid must be default or full, got '" + grid + "'");
        };
        settings = switch (baselines) {
            case "with" -> settings;
            case "without" -> settings.stream().filter(s -> !s.baseline()).toList();
            case "only" -> settings.stream().filter(EvalSetting::baseline).toList();
            default -> throw new IllegalArgumentException("--baselines must be with, without or only, got '" + baselines
                    + "'");
        };
        var options = new RetrievalEval.Options(model, args, tasks, contexts, cases, seed, maxNewTokens);
        RetrievalEval.Result r = RetrievalEval.run(options, settings, System.err);
        System.out.print(EvalReport.table(r));
        if (outputJson != null) {
            EvalReport.writeJson(r, outputJson);
            System.out.println("results written to " + outputJson);
        }
        return 0;
    }

}
