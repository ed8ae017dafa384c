package io.rocketkv.examples;

import io.rocketkv.core.weights.Fp8CheckpointWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Writes an fp8 checkpoint in NVIDIA ModelOpt's layout from an F32, F16 or BF16 one ({@link Fp8CheckpointWriter}):
 * the decoder's linear layers as F8_E4M3 with an F32 {@code weight_scale} (absmax / 448, per tensor or per output
 * channel), the rest unchanged, a {@code quantization_config} in config.json, the tokenizer files copied.
 */
@Command(name = "fp8-checkpoint", mixinStandardHelpOptions = true,
        description = "Write an fp8 (e4m3, ModelOpt-style) checkpoint from an F32/F16/BF16 Hugging Face checkpoint.")
public final class Fp8Checkpoint implements Callable<Integer> {

    @Option(names = "--input", required = true, description = "checkpoint directory to convert")
    Path input;

    @Option(names = "--output", required = true, description = "new directory for the fp8 checkpoint")
    Path output;

    @Option(names = "--per-channel", description = "one scale per output row instead of one per tensor")
    boolean perChannel;

    public static void main(String[] args) {
        System.exit(Cli.run(new Fp8Checkpoint(), args));
    }

    @Override
    public Integer call() throws Exception {
        Fp8CheckpointWriter.Result r = Fp8CheckpointWriter.convert(input, output, perChannel);
        System.out.printf("%s: %d linear weights in fp8 e4m3 (%s scales), %d tensors kept; %s -> %s of tensors; "
                        + "copied %s%n", output, r.quantized(), perChannel ? "per-channel" : "per-tensor", r.kept(),
                InspectCheckpoint.human(r.inputBytes()), InspectCheckpoint.human(r.outputBytes()),
                String.join(", ", r.copied()));
        return 0;
    }
}
