package io.rocketkv.consumer;

import io.rocketkv.api.LLM;
import io.rocketkv.api.RequestOutput;
import io.rocketkv.api.SamplingParams;
import java.nio.file.Path;

/** A program that uses RocketKV-Java as a dependency: loads the bundled retrieval model and asks it a pass key. */
public final class Main {
    public static void main(String[] args) {
        Path model = Path.of(args.length > 0 ? args[0] : "models/rocketkv-retrieval-tiny");
        String prompt = "The old mill by the river was quiet and grey. The pass key is 40729. Remember it. 40729 is the"
                + " pass key. A small fox walked past the harbor at dawn.\n\nQuestion: What is the pass key?\nAnswer:";
        try (LLM llm = LLM.builder().model(model).build()) {
            RequestOutput out = llm.generate(prompt, SamplingParams.builder().maxTokens(8).temperature(0.0).build());
            System.out.println("backend " + llm.backendName() + ", generated:" + out.output().text());
        }
    }
}
