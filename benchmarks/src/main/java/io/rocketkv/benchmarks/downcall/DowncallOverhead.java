package io.rocketkv.benchmarks.downcall;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rocketkv.cuda.CudaDriver;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/**
 * Runs {@link DowncallOverheadBenchmark} (FFM vs JCuda driver calls) with JMH and writes JMH's JSON to
 * {@code --out}: 8 benchmarks × (2 × 0.5 s warm-up + 3 × 0.5 s measured) in one fork each, about 40 s. Without a
 * CUDA device it writes {@code {"skipped": reason}} instead and exits 0, so a machine with no GPU runs the same
 * script. Usage: {@code DowncallOverhead --out PATH}.
 */
public final class DowncallOverhead {

    private DowncallOverhead() {
    }

    public static void main(String[] args) throws IOException, RunnerException {
        Path out = parse(args);
        if (out.toAbsolutePath().getParent() != null) {
            Files.createDirectories(out.toAbsolutePath().getParent());
        }
        if (!CudaDriver.isAvailable()) {
            writeSkipped(out, "CUDA is unavailable: " + CudaDriver.unavailableReason());
            System.out.println("downcall overhead skipped: " + CudaDriver.unavailableReason());
            return;
        }
        new Runner(new OptionsBuilder()
                .include(DowncallOverheadBenchmark.class.getName() + "\\.")
                .resultFormat(ResultFormatType.JSON)
                .result(out.toString())
                .build()).run();
        System.out.println("wrote " + out);
    }

    static Path parse(String[] args) {
        if (args.length != 2 || !"--out".equals(args[0])) {
            throw new IllegalArgumentException("usage: DowncallOverhead --out PATH (JMH's JSON, or {\"skipped\": why}"
                    + " without a CUDA device)");
        }
        return Path.of(args[1]);
    }

    static void writeSkipped(Path out, String reason) throws IOException {
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode n = json.createObjectNode();
        n.put("skipped", reason);
        json.writeValue(out.toFile(), n);
    }
}
