package io.rocketkv.benchmarks.gpu;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The GPU benchmark runner's results, as written to (and read back from) JSON: where and when they were
 * measured, the two ceilings, the decode and prefill attention sweeps, end-to-end generation and what was
 * skipped. Figures use one unit each: µs, bytes, GB/s (10^9 B/s), TFLOP/s (10^12 FLOP/s), percent.
 *
 * @param metadata  device, driver, commit, date
 * @param ceilings  copy bandwidth and bf16 GEMM rate measured in the same run
 * @param decode    one layer's decode attention per (algorithm, context, batch)
 * @param prefill   one layer's causal prefill attention of one prompt per context
 * @param endToEnd  generation through the public API on the random-weight 8B-shaped model (may be empty)
 * @param skipped   configurations not run and why (memory, budget above the context)
 */
public record GpuReport(Metadata metadata, Ceilings ceilings, List<DecodeRow> decode, List<PrefillRow> prefill,
                        List<EndToEndRow> endToEnd, List<Skipped> skipped) {

    public GpuReport {
        if (metadata == null || ceilings == null) {
            throw new IllegalArgumentException("metadata and ceilings are required, got " + metadata + ", " + ceilings);
        }
        decode = List.copyOf(decode == null ? List.of() : decode);
        prefill = List.copyOf(prefill == null ? List.of() : prefill);
        endToEnd = List.copyOf(endToEnd == null ? List.of() : endToEnd);
        skipped = List.copyOf(skipped == null ? List.of() : skipped);
    }

    /**
     * @param device        the device's name and properties as the CUDA facade reports them
     * @param driver        the NVIDIA driver version (from {@code nvidia-smi}; "unknown" when not given)
     * @param cudaDriverApi the driver's CUDA version, {@code 1000 * major + 10 * minor} (0 when unknown)
     * @param commit        the git commit the runner was built from (passed in by the script)
     * @param date          ISO date of the run
     * @param shape         the attention shape swept, in words
     */
    public record Metadata(String device, String driver, int cudaDriverApi, String commit, String date, String shape) {
    }

    /**
     * @param copyGbs    device-to-device copy, bytes read + written per second
     * @param gemmTflops bf16 GEMM rate of cuBLAS at {@code gemmM × gemmN × gemmK}; null when not measured
     */
    public record Ceilings(double copyGbs, Double gemmTflops, int gemmM, int gemmN, int gemmK) {
    }

    /**
     * A decode algorithm: {@code dense} (every cached token) or {@code rocketkv} (stage-1 prompt budget,
     * top-k KT pages per step, page size); the RocketKV fields are null for dense.
     */
    public record Algo(String name, Integer budget, Integer topk, Integer page) {

        public static final String DENSE = "dense";
        public static final String ROCKETKV = "rocketkv";

        public Algo {
            boolean rocket = ROCKETKV.equals(name);
            if (!rocket && !DENSE.equals(name)) {
                throw new IllegalArgumentException("algo.name must be dense or rocketkv, got " + name);
            }
            if (rocket && (budget == null || topk == null || page == null)) {
                throw new IllegalArgumentException("rocketkv needs budget, topk and page, got " + budget + ", " + topk
                        + ", " + page);
            }
        }

        public static Algo dense() {
            return new Algo(DENSE, null, null, null);
        }

        public static Algo rocketkv(int budget, int topk, int page) {
            return new Algo(ROCKETKV, budget, topk, page);
        }

        @JsonIgnore
        public boolean isDense() {
            return DENSE.equals(name);
        }

        /** "dense" or "RocketKV B2048 k64 P4". */
        public String label() {
            return isDense() ? DENSE : "RocketKV B" + budget + " k" + topk + " P" + page;
        }
    }

    /** One layer's decode: µs per layer (graph-replayed), bytes it must read, GB/s and % of copy bandwidth. */
    public record DecodeRow(Algo algo, int context, int batch, double us, double bytes, double gbs, double pctCopy) {
    }

    /** One layer's causal prefill attention of one prompt: µs, TFLOP/s and % of the GEMM ceiling (null if none). */
    public record PrefillRow(int context, double us, double tflops, Double pctGemm) {
    }

    /** Generation: {@code engine} (rocketkv-dense, rocketkv-sparse, transformers), tokens per second overall. */
    public record EndToEndRow(String engine, int batch, int promptTokens, int newTokens, double tokensPerSecond) {
    }

    /** A configuration the runner did not run, and why. */
    public record Skipped(String what, String reason) {
    }

    /** The PyTorch peer's dense decode rows ({@code benchmarks/peers/torch_attention.py}'s JSON). */
    /**
     * The PyTorch peer's JSON: decode rows, and (when it ran them) causal prefill rows with its GEMM ceiling.
     *
     * @param gemmTflops torch.matmul bf16 8192³ in the same process, or null when the prefill part did not run
     */
    public record Peer(String peer, String device, List<PeerRow> decode, List<PeerPrefillRow> prefill,
                       Double gemmTflops) {
    }

    /** One prompt length: SDPA's flash and cuDNN backends (null where the backend refused the shape). */
    public record PeerPrefillRow(int length, Double flashMs, Double flashTflops, Double cudnnMs, Double cudnnTflops) {
    }

    public record PeerRow(int context, int batch, double us, double gbs, double pctCopy) {
    }

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    public void write(Path path) throws IOException {
        Path parent = path.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        JSON.writeValue(path.toFile(), this);
    }

    public String toJson() throws IOException {
        return JSON.writeValueAsString(this);
    }

    public static GpuReport read(Path path) throws IOException {
        return JSON.readValue(path.toFile(), GpuReport.class);
    }

    /** Reads the peer script's JSON ({@code decode: [{context, batch, us, kv_gbs, pct_copy}]}). */
    public static Peer readPeer(Path path) throws IOException {
        JsonNode root = JSON.readTree(path.toFile());
        List<PeerRow> rows = new ArrayList<>();
        for (JsonNode r : root.path("decode")) {
            rows.add(new PeerRow(r.path("context").asInt(), r.path("batch").asInt(), r.path("us").asDouble(),
                    r.path("kv_gbs").asDouble(), r.path("pct_copy").asDouble()));
        }
        if (rows.isEmpty()) {
            throw new IOException(path + ": no decode rows (expected the JSON of benchmarks/peers/torch_attention.py)");
        }
        List<PeerPrefillRow> prefill = new ArrayList<>();
        for (JsonNode r : root.path("prefill")) {
            prefill.add(new PeerPrefillRow(r.path("length").asInt(), num(r, "flash_ms"), num(r, "flash_tflops"),
                    num(r, "cudnn_ms"), num(r, "cudnn_tflops")));
        }
        return new Peer(root.path("peer").asText(), root.path("device").asText(), rows, prefill, num(root, "gemm_tflops"));
    }

    private static Double num(JsonNode node, String field) {
        JsonNode v = node.get(field);
        return v == null || !v.isNumber() ? null : v.asDouble();
    }
}
