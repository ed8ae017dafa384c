package io.rocketkv.examples;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rocketkv.api.LLM;
import io.rocketkv.api.LlmArgs;
import io.rocketkv.api.RequestOutput;
import io.rocketkv.api.SamplingParams;
import io.rocketkv.examples.eval.RetrievalTasks;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Retrieval cases with this engine's prompt token ids and greedy dense-attention continuation, as JSON, for checking
 * another engine on the same checkpoint (same prompt ids, same greedy tokens). One record per case: task, target
 * tokens, seed, {@code prompt}, {@code answer}, {@code prompt_ids} (with the tokenizer's special tokens),
 * {@code greedy_ids} and {@code greedy_text} (special tokens left out).
 */
@Command(name = "GreedyCases", mixinStandardHelpOptions = true,
        description = "Writes retrieval prompts with their token ids and greedy continuation as JSON.")
public final class GreedyCases implements Callable<Integer> {

    @Option(names = "--model", required = true, description = "checkpoint directory")
    Path model;

    @Option(names = "--task", defaultValue = "passkey", description = "passkey, multikey or vartrack (default ${DEFAULT-VALUE})")
    String task;

    @Option(names = "--tokens", split = ",", defaultValue = "512,1024,2048",
            description = "prompt lengths in tokens (default ${DEFAULT-VALUE})")
    List<Integer> tokens;

    @Option(names = "--cases", defaultValue = "2", description = "cases per length (default ${DEFAULT-VALUE})")
    int cases;

    @Option(names = "--seed", defaultValue = "0", description = "run seed of the cases (default ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--max-new-tokens", defaultValue = "12", description = "greedy tokens (default ${DEFAULT-VALUE})")
    int maxNewTokens;

    @Option(names = "--output-json", required = true, description = "where to write the cases")
    Path outputJson;

    public static void main(String[] args) {
        System.exit(Cli.run(new GreedyCases(), args));
    }

    @Override
    public Integer call() throws Exception {
        RetrievalTasks.requireTask(task);
        if (cases < 1 || maxNewTokens < 1) {
            throw new IllegalArgumentException("--cases and --max-new-tokens must be >= 1; got " + cases + ", " + maxNewTokens);
        }
        int longest = tokens.stream().mapToInt(Integer::intValue).max().orElseThrow();
        LlmArgs args = LlmArgs.builder().backend("cpu").maxSeqLen(longest + maxNewTokens + 64).build();
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ArrayNode out = json.createArrayNode();
        try (LLM llm = LLM.builder().model(model).args(args).build()) {
            var tok = llm.tokenizer();
            RetrievalTasks gen = new RetrievalTasks(t -> tok.encode(t, false).length, t -> tok.encode(t, true).length);
            SamplingParams greedy = SamplingParams.builder().maxTokens(maxNewTokens).temperature(0.0).build();
            for (int target : tokens) {
                for (int i = 0; i < cases; i++) {
                    RetrievalTasks.Case c = gen.generate(task, target, RetrievalTasks.caseSeed(seed, task, target, i));
                    RequestOutput r = llm.generate(c.prompt(), greedy);
                    ObjectNode o = out.addObject();
                    o.put("task", task);
                    o.put("target_tokens", target);
                    o.put("seed", c.seed());
                    o.put("prompt", c.prompt());
                    o.put("answer", c.answer());
                    ArrayNode promptIds = o.putArray("prompt_ids");
                    Arrays.stream(r.promptTokenIds()).forEach(promptIds::add);
                    ArrayNode greedyIds = o.putArray("greedy_ids");
                    Arrays.stream(r.output().tokenIds()).forEach(greedyIds::add);
                    o.put("greedy_text", r.output().text());
                    System.out.printf("%s %d seed %d: %d prompt tokens, greedy \"%s\" (answer %s)%n", task, target,
                            c.seed(), r.promptTokenIds().length, r.output().text().replace("\n", "\\n"), c.answer());
                }
            }
        }
        json.writeValue(outputJson.toFile(), out);
        System.out.println("cases written to " + outputJson);
        return 0;
    }
}
