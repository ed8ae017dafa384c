package io.rocketkv.benchmarks.gguf;

import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.testing.RandomCheckpoint;
import java.io.IOException;
import java.nio.file.Path;

/**
 * Writes the random Llama that the CPU peer benchmark runs beside llama.cpp: hidden 1024, 16 layers, 16 query and 4
 * KV heads of 64, SwiGLU width 2816, vocab 32000, untied {@code lm_head}, bf16; 245.9M parameters, of which a decode
 * step reads 426.3 MB (every matrix but the embedding, whose one row per token is negligible). The weights are
 * {@link RandomCheckpoint}'s (seeded, same seed same bytes), with its small tokenizer: the benchmark's prompts are
 * random ids.
 *
 * <pre>
 * java -cp benchmarks/target/benchmarks.jar io.rocketkv.benchmarks.gguf.RandomPeerCheckpoint --out DIR [--seed 0]
 * </pre>
 */
public final class RandomPeerCheckpoint {

    private RandomPeerCheckpoint() {
    }

    static RandomCheckpoint spec(long seed) {
        return RandomCheckpoint.builder().vocabSize(32000).hiddenSize(1024).intermediateSize(2816).numLayers(16)
                .numHeads(16).numKvHeads(4).headDim(64).dtype(DType.BF16).tieEmbeddings(false).ropeTheta(500000)
                .maxPositions(4096).rmsNormEps(1e-5).seed(seed).build();
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 2 && args.length != 4 || !"--out".equals(args[0])
                || args.length == 4 && !"--seed".equals(args[2])) {
            throw new IllegalArgumentException("usage: RandomPeerCheckpoint --out DIR [--seed N]");
        }
        long seed = args.length == 4 ? Long.parseLong(args[3]) : 0;
        Path dir = spec(seed).write(Path.of(args[1]));
        System.out.println("RandomPeerCheckpoint: wrote " + dir);
    }
}
