package io.rocketkv.benchmarks.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rocketkv.benchmarks.gpu.EndToEndReport;
import io.rocketkv.benchmarks.gpu.GpuReport;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The JSON files {@code benchmarks/peers/run_all.sh} writes into one directory, each optional (a part that was
 * not run or was stopped leaves its file out): {@code run.json}, {@code rocketkv-gpu.json} ({@link GpuReport}),
 * {@code rocketkv-e2e.json} ({@link EndToEndReport}), {@code downcalls.json} (JMH's JSON of the FFM vs JCuda
 * benchmark, or {@code {"skipped": why}}), {@code torch-attention.json} and {@code transformers-e2e.json} (the
 * peers).
 */
public record GpuResults(Path dir, Optional<JsonNode> run, Optional<GpuReport> sweep, Optional<EndToEndReport> e2e,
                         Optional<GpuReport.Peer> sdpa, Optional<HfPeer> hf, Downcalls downcalls) {

    public static final String RUN = "run.json";
    public static final String SWEEP = "rocketkv-gpu.json";
    public static final String E2E = "rocketkv-e2e.json";
    public static final String DOWNCALLS = "downcalls.json";
    public static final String SDPA = "torch-attention.json";
    public static final String HF = "transformers-e2e.json";

    /** transformers generation at batch 1: one row per context, and the contexts it skipped. */
    public record HfPeer(String transformers, String device, List<HfRow> rows, List<GpuReport.Skipped> skipped) {
    }

    public record HfRow(int context, double ttftSeconds, double decodeTokensPerSecond, int decodeTokensTimed) {
    }

    /** One JMH score: benchmark method name (e.g. {@code ffmLaunch}), ns per call and its error. */
    public record DowncallRow(String method, double ns, double error) {
    }

    /** The FFM vs JCuda rows, or why there are none. */
    public record Downcalls(List<DowncallRow> rows, String skipped) {
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Reads whatever of the files {@code dir} holds; fails when it holds none of them. */
    public static GpuResults read(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new IOException(dir + " is not a directory (expected the OUT_DIR of benchmarks/peers/run_all.sh)");
        }
        Optional<JsonNode> run = tree(dir.resolve(RUN));
        Optional<GpuReport> sweep = Files.exists(dir.resolve(SWEEP)) ? Optional.of(GpuReport.read(dir.resolve(SWEEP)))
                : Optional.empty();
        Optional<EndToEndReport> e2e = Files.exists(dir.resolve(E2E))
                ? Optional.of(EndToEndReport.read(dir.resolve(E2E))) : Optional.empty();
        Optional<GpuReport.Peer> sdpa = Files.exists(dir.resolve(SDPA))
                ? Optional.of(GpuReport.readPeer(dir.resolve(SDPA))) : Optional.empty();
        Optional<HfPeer> hf = tree(dir.resolve(HF)).map(GpuResults::hf);
        Downcalls downcalls = tree(dir.resolve(DOWNCALLS)).map(GpuResults::downcalls)
                .orElse(new Downcalls(List.of(), "not run (no " + DOWNCALLS + ")"));
        if (run.isEmpty() && sweep.isEmpty() && e2e.isEmpty() && sdpa.isEmpty() && hf.isEmpty()
                && downcalls.rows().isEmpty()) {
            throw new IOException(dir + " holds none of " + List.of(RUN, SWEEP, E2E, DOWNCALLS, SDPA, HF));
        }
        return new GpuResults(dir, run, sweep, e2e, sdpa, hf, downcalls);
    }

    private static Optional<JsonNode> tree(Path p) throws IOException {
        return Files.exists(p) ? Optional.of(JSON.readTree(p.toFile())) : Optional.empty();
    }

    static HfPeer hf(JsonNode root) {
        List<HfRow> rows = new ArrayList<>();
        for (JsonNode r : root.path("rows")) {
            rows.add(new HfRow(r.path("context").asInt(), r.path("ttft_s").asDouble(), r.path("decode_tok_s").asDouble(),
                    r.path("decode_tokens_timed").asInt()));
        }
        List<GpuReport.Skipped> skipped = new ArrayList<>();
        for (JsonNode s : root.path("skipped")) {
            skipped.add(new GpuReport.Skipped(s.path("what").asText(), s.path("reason").asText()));
        }
        return new HfPeer(root.path("transformers").asText("?"), root.path("device").asText("?"), rows, skipped);
    }

    static Downcalls downcalls(JsonNode root) {
        if (root.has("skipped")) {
            return new Downcalls(List.of(), root.path("skipped").asText());
        }
        List<DowncallRow> rows = new ArrayList<>();
        for (JsonNode r : root) {
            String name = r.path("benchmark").asText();
            String method = name.substring(name.lastIndexOf('.') + 1);
            JsonNode m = r.path("primaryMetric");
            double scale = switch (m.path("scoreUnit").asText("ns/op")) {
                case "us/op" -> 1e3;
                case "ms/op" -> 1e6;
                default -> 1;
            };
            rows.add(new DowncallRow(method, m.path("score").asDouble() * scale, m.path("scoreError").asDouble() * scale));
        }
        return new Downcalls(rows, rows.isEmpty() ? "JMH wrote no results" : null);
    }
}
