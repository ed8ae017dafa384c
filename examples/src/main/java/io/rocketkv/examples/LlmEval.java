package io.rocketkv.examples;

import io.rocketkv.api.LlmArgs;
import io.rocketkv.examples.eval.EvalReport;
import io.rocketkv.examples.eval.EvalSetting;
import io.rocketkv.examples.eval.RetrievalEval;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Retrieval accuracy under the settings of a TensorRT-LLM-style {@code --config extra_config.yaml}: dense attention,
 * the file's RocketKV settings, and the sliding-window and random-subset baselines at its prompt_budget (CPU). Prints
 * a table and, with {@code --output-json}, writes JSON (see {@link RetrievalEval}).
 */
@Command(name = "LlmEval", mixinStandardHelpOptions = true,
        description = "Retrieval accuracy with the settings of a --config file; prints a table and writes JSON.")
public final class LlmEval implements Callable<Integer> {

    @Option(names = "--model", required = true, description = "checkpoint directory")
    Path model;

    @Option(names = "--config", required = true, description = "YAML with the LlmArgs keys (extra_config.yaml)")
    Path config;

    @Option(names = "--tasks", split = ",", defaultValue = "passkey,multikey,vartrack", description = "tasks (default ${DEFAULT-VALUE})")
    List<String> tasks;

    @Option(names = "--contexts", split = ",", defaultValue = "1024,2048,4096", description = "prompt lengths in tokens (default ${DEFAULT-VALUE})")
    List<Integer> contexts;

    @Option(names = "--cases", defaultValue = "50", description = "cases per task and context (default ${DEFAULT-VALUE})")
    int cases;

    @Option(names = "--seed", defaultValue = "0", description = "run seed (default ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--max-new-tokens", defaultValue = "12", description = "tokens generated per case (default ${DEFAULT-VALUE})")
    int maxNewTokens;

    @Option(names = "--output-json", description = "where to write the results as JSON")
    Path outputJson;

    public static void main(String[] args) {
        System.exit(Cli.run(new LlmEval(), args));
    }

    @Override
    public Integer call() throws Exception {
        LlmArgs args = LlmArgs.fromYaml(config);
        var options = new RetrievalEval.Options(model, args, tasks, contexts, cases, seed, maxNewTokens);
        RetrievalEval.Result r = RetrievalEval.run(options, EvalSetting.fromConfig(args.sparseAttentionConfig()),
                System.err);
        System.out.print(EvalReport.table(r));
        if (outputJson != null) {
            EvalReport.writeJson(r, outputJson);
            System.out.println("results written to " + outputJson);
        }
        return 0;
    }
}
