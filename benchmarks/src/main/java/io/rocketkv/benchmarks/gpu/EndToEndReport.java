package io.rocketkv.benchmarks.gpu;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.rocketkv.benchmarks.gpu.GpuReport.Algo;
import io.rocketkv.benchmarks.gpu.GpuReport.Metadata;
import io.rocketkv.benchmarks.gpu.GpuReport.Skipped;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * End-to-end results of {@link EndToEndBench} on the random-weight Llama-3.1-8B-shaped checkpoint, as written
 * to (and read back from) {@code rocketkv-e2e.json}. Units: seconds, milliseconds where named {@code Ms},
 * bytes, GB/s (10^9 B/s), tokens per second, percent.
 *
 * @param metadata device, driver, commit, date (shape: the model's shape in words)
 * @param model    the checkpoint: sizes and what one decode step must read
 * @param copyGbs  device-to-device copy bandwidth measured in the same process: the byte floors divide by it
 * @param api      generation through the public {@code LLM} API (real prefill, then decode), batch 1
 * @param step     the model's whole decode step (all layers, lm_head, logits to the host) replayed from a
 *                 CUDA graph over a KV cache filled with random values instead of by a prefill
 * @param capacity the most sequences the engine's KV pool holds at once, per algorithm and context
 * @param skipped  what was not run and why (time budget, memory, no GPU)
 */
public record EndToEndReport(Metadata metadata, Model model, double copyGbs, List<ApiRow> api, List<StepRow> step,
                             List<CapacityRow> capacity, List<Skipped> skipped) {

    public EndToEndReport {
        if (metadata == null) {
            throw new IllegalArgumentException("metadata is required");
        }
        api = List.copyOf(api == null ? List.of() : api);
        step = List.copyOf(step == null ? List.of() : step);
        capacity = List.copyOf(capacity == null ? List.of() : capacity);
        skipped = List.copyOf(skipped == null ? List.of() : skipped);
    }

    /**
     * @param parameters        parameters in the checkpoint
     * @param weightBytes       bytes of all weights
     * @param weightBytesPerStep weight bytes one decode step reads: every matrix but the embedding table (of
     *                          which it reads one row per sequence, counted per row in the floors)
     * @param hidden            hidden size (bytes of one embedding row = hidden · 2)
     * @param layers            decoder layers
     * @param kvBytesPerToken   bf16 K and V of one token over all layers
     * @param loadSeconds       time to bind the weights to the device (the step harness's load); null when not loaded
     */
    public record Model(String name, long parameters, long weightBytes, long weightBytesPerStep, int hidden, int layers,
                        long kvBytesPerToken, Double loadSeconds) {
    }

    /**
     * One request through {@code LLM.generateStream} at batch 1.
     *
     * @param ttftSeconds           submission to first token (the engine's metric; the prefill is most of it)
     * @param prefillSeconds        the prefill step
     * @param prefillFlops          2 · parameters-per-token · context + causal attention FLOPs of all layers
     * @param decodeTokensTimed     decode tokens the rate is taken over (the 1st, from the prefill, and the 2nd,
     *                              whose step records the CUDA graph, are left out)
     * @param decodeTokensPerSecond steady decode rate from the tokens' arrival times
     * @param floorTokensPerSecond  1 / byte floor of one step (weights + KV read ÷ copy bandwidth)
     */
    public record ApiRow(Algo algo, int context, int batch, int newTokens, double ttftSeconds, double prefillSeconds,
                         double prefillFlops, int decodeTokensTimed, double decodeTokensPerSecond,
                         double floorTokensPerSecond, double pctOfFloor) {
    }

    /**
     * One decode step of {@code batch} sequences at {@code context} tokens.
     *
     * @param cacheTokens     tokens each sequence holds in the KV cache (RocketKV: the prompt budget + 64, as
     *                        after stage 1 and some decode steps; dense: the context)
     * @param stepMs          wall time per step: graph replay and the logits' copy to the host
     * @param gpuMs           GPU time of the replay alone (CUDA events)
     * @param tokensPerSecond batch / stepMs
     * @param bytesPerStep    bytes the step must read: weights, embedding rows, KV (and KT pages)
     * @param floorMs         bytesPerStep ÷ copy bandwidth
     * @param pctOfFloor      floorMs / stepMs · 100
     */
    public record StepRow(Algo algo, int context, int batch, int cacheTokens, double stepMs, double gpuMs,
                          double tokensPerSecond, double bytesPerStep, double floorMs, double floorTokensPerSecond,
                          double pctOfFloor) {
    }

    /**
     * @param poolTokens   the KV pool the engine sizes with {@code max_num_tokens = context} (a prompt is one
     *                     prefill step) and the default {@code free_gpu_memory_fraction}
     * @param maxSequences sequences of {@code context} prompt + {@code newTokens} tokens held at once; with
     *                     RocketKV one prompt at full length (its prefill) and the others at the budget
     */
    public record CapacityRow(Algo algo, int context, int newTokens, long poolTokens, int maxSequences) {
    }

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    public void write(Path path) throws IOException {
        Path parent = path.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        Path tmp = path.resolveSibling(path.getFileName() + ".tmp");
        JSON.writeValue(tmp.toFile(), this);
        Files.move(tmp, path, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    public String toJson() throws IOException {
        return JSON.writeValueAsString(this);
    }

    public static EndToEndReport read(Path path) throws IOException {
        return JSON.readValue(path.toFile(), EndToEndReport.class);
    }
}
