package io.rocketkv.examples;

import io.rocketkv.core.model.CheckpointFeatures;
import io.rocketkv.core.model.ModelConfig;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.tokenizer.Tokenizer;
import io.rocketkv.core.weights.Fp8Weights;
import io.rocketkv.core.weights.SafeTensors;
import io.rocketkv.core.weights.TensorInfo;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Opens a Hugging Face checkpoint directory (config.json, model.safetensors, tokenizer.json), lists the features its
 * config uses and whether each is supported ({@link CheckpointFeatures}), prints what the model is and what it costs
 * in memory, and tokenizes a prompt with its tokenizer. A config this library cannot run gets the feature list and
 * the reason, and exit status 1.
 */
@Command(name = "inspect-checkpoint", mixinStandardHelpOptions = true,
        description = "List the features a Hugging Face checkpoint uses and whether each is supported, describe it, and"
                + " tokenize a prompt with its tokenizer.")
public final class InspectCheckpoint implements Callable<Integer> {

    @Option(names = "--model", required = true, description = "checkpoint directory (config.json, *.safetensors, tokenizer.json)")
    Path model;

    @Option(names = "--prompt", defaultValue = "RocketKV keeps the tokens that matter.", description = "text to tokenize")
    String prompt;

    @Option(names = "--list-tensors", description = "print every tensor's name, dtype and shape")
    boolean listTensors;

    @Option(names = "--no-special-tokens", description = "encode without the tokenizer's special tokens (e.g. BOS)")
    boolean noSpecialTokens;

    public static void main(String[] args) {
        System.exit(Cli.run(new InspectCheckpoint(), args));
    }

    @Override
    public Integer call() throws Exception {
        CheckpointFeatures features = CheckpointFeatures.of(model);
        printFeatures(features);
        if (!features.loads()) {
            System.out.println();
            System.out.println("Not supported: " + features.loadError());
            return 1;
        }
        ModelConfig config = ModelConfig.load(model);
        Tokenizer tokenizer = Tokenizer.load(model);
        try (SafeTensors weights = SafeTensors.open(model)) {
            printModel(config, weights);
            if (listTensors) {
                for (String name : weights.names()) {
                    TensorInfo t = weights.info(name);
                    System.out.printf("  %-60s %-8s %s%n", name, t.dtype(), java.util.Arrays.toString(t.shape()));
                }
            }
        }
        int[] ids = tokenizer.encode(prompt, !noSpecialTokens);
        System.out.printf("%nTokenizer: %d tokens in vocabulary, BOS %s, EOS %s%n", tokenizer.vocabSize(),
                tokenizer.bosId() < 0 ? "none" : tokenizer.bosId(), java.util.Arrays.toString(tokenizer.eosIds()));
        System.out.printf("Prompt (%d chars) -> %d tokens%n", prompt.length(), ids.length);
        StringBuilder pieces = new StringBuilder();
        for (int id : ids) {
            pieces.append(String.format("  %6d  %s%n", id, printable(tokenizer.idToToken(id))));
        }
        System.out.print(pieces);
        String decoded = tokenizer.decode(ids, true);
        System.out.printf("decode(encode(prompt)) %s the prompt: \"%s\"%n", decoded.equals(prompt) ? "equals" : "differs from", decoded);
        return 0;
    }

    private static void printFeatures(CheckpointFeatures f) {
        System.out.println("Features (config.json):");
        for (CheckpointFeatures.Feature x : f.features()) {
            System.out.printf("  %-22s %-40s %-12s %s%n", x.name(), x.value(), x.support().label(), x.note());
        }
        System.out.println();
    }

    private static void printModel(ModelConfig c, SafeTensors weights) {
        long params = 0;
        long bytes = 0;
        Map<DType, Integer> byType = new EnumMap<>(DType.class);
        for (String name : weights.names()) {
            TensorInfo t = weights.info(name);
            params += t.elementCount();
            bytes += t.byteSize();
            byType.merge(t.dtype(), 1, Integer::sum);
        }
        System.out.printf("Model: %s, %d layers, hidden %d, intermediate %d, vocab %d%n", c.architecture(),
                c.numHiddenLayers(), c.hiddenSize(), c.intermediateSize(), c.vocabSize());
        System.out.printf("Attention: %d query heads, %d KV heads (GQA group %d), head_dim %d, rope_theta %.0f%s%n",
                c.numAttentionHeads(), c.numKeyValueHeads(), c.numAttentionHeads() / c.numKeyValueHeads(), c.headDim(),
                c.ropeTheta(), c.ropeScaling() == null ? "" : ", rope scaling " + c.ropeScaling());
        System.out.printf("Weights: %d tensors %s, %,d parameters, %s%n", weights.names().size(), byType, params, human(bytes));
        Fp8Weights.Summary fp8 = Fp8Weights.summarize(weights);
        if (c.quantization().fp8() || fp8.weights() > 0) {
            System.out.printf("Quantization: %s; %d fp8 linear weights (%d per-tensor, %d per-channel scales; %d with a"
                    + " static input scale, read and not applied)%n", c.quantization(), fp8.weights(), fp8.perTensor(),
                    fp8.perChannel(), fp8.inputScales());
        }
        long kvPerToken = 2L * c.numHiddenLayers() * c.numKeyValueHeads() * c.headDim() * 2; // bf16 K and V
        System.out.printf("KV cache (bf16): %s per token, %s at %,d tokens (max_position_embeddings)%n",
                human(kvPerToken), human(kvPerToken * c.maxPositionEmbeddings()), c.maxPositionEmbeddings());
    }

    static String human(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = bytes;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format("%.1f %s", v, units[u]);
    }

    private static String printable(String token) {
        StringBuilder sb = new StringBuilder("\"");
        token.codePoints().forEach(cp -> {
            if (cp < 0x20 || cp == 0x7F) {
                sb.append(String.format("\\x%02x", cp));
            } else {
                sb.appendCodePoint(cp);
            }
        });
        return sb.append('"').toString();
    }
}
