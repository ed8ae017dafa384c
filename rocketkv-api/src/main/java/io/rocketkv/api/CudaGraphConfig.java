package io.rocketkv.api;

import java.util.ArrayList;
import java.util.List;

/**
 * CUDA graphs for decode steps: the {@code cuda_graph_config} of {@code extra_config.yaml}, with
 * TensorRT-LLM's keys. A decode step of a batch size in {@code batch_sizes} is recorded once (per block-table
 * width) and replayed afterwards, which removes the per-kernel launch cost from every step. Only the CUDA
 * backend records; the CPU ignores this.
 *
 * <ul>
 *   <li>{@code batch_sizes} (default unset): the batch sizes recorded, each in [1, {@code max_batch_size}].
 *       Unset: 1, 2, 4, 8, … below {@code max_batch_size}, and that maximum itself.</li>
 *   <li>{@code max_batch_size} (default unset: {@value #DEFAULT_MAX_BATCH_SIZE}, as in TensorRT-LLM, or the
 *       engine's {@code max_batch_size} when smaller): the largest batch size recorded when {@code batch_sizes} is
 *       unset; &ge; 1 when set.</li>
 *   <li>{@code enable_padding} (default {@code false}, as in TensorRT-LLM): true pads a batch whose size is
 *       not recorded to the next recorded size instead of running it without a graph.</li>
 * </ul>
 * In YAML, {@code cuda_graph_config: null} turns CUDA graphs off (as in TensorRT-LLM); in Java,
 * {@link #disabled()}.
 *
 * @param enabled       false for {@link #disabled()}
 * @param batchSizes    YAML {@code batch_sizes}; null when unset
 * @param maxBatchSize  YAML {@code max_batch_size}; null when unset
 * @param enablePadding YAML {@code enable_padding}
 */
public record CudaGraphConfig(boolean enabled, List<Integer> batchSizes, Integer maxBatchSize, boolean enablePadding) {

    static final String PREFIX = "cuda_graph_config.";
    /** The largest batch size recorded when neither {@code batch_sizes} nor {@code max_batch_size} is set. */
    public static final int DEFAULT_MAX_BATCH_SIZE = 128;
    public static final boolean DEFAULT_ENABLE_PADDING = false;

    public CudaGraphConfig {
        if (maxBatchSize != null && maxBatchSize < 1) {
            throw ConfigException.invalid(PREFIX + "max_batch_size", "maxBatchSize", ">= 1 when set", maxBatchSize);
        }
        if (batchSizes != null) {
            List<Integer> sorted = new ArrayList<>(batchSizes);
            if (sorted.isEmpty() || sorted.stream().anyMatch(b -> b == null || b < 1)) {
                throw ConfigException.invalid(PREFIX + "batch_sizes", "batchSizes",
                        "a non-empty list of sizes >= 1 (use cuda_graph_config: null to turn graphs off)", batchSizes);
            }
            sorted = sorted.stream().distinct().sorted().toList();
            batchSizes = List.copyOf(sorted);
        }
    }

    /** Graphs on with the default sizes, not padded (TensorRT-LLM's defaults). */
    public static CudaGraphConfig defaults() {
        return new CudaGraphConfig(true, null, null, DEFAULT_ENABLE_PADDING);
    }

    /** Graphs off: every decode step launches its kernels one by one. */
    public static CudaGraphConfig disabled() {
        return new CudaGraphConfig(false, null, null, DEFAULT_ENABLE_PADDING);
    }

    /** Graphs on for exactly these batch sizes (padded). */
    public static CudaGraphConfig ofBatchSizes(List<Integer> batchSizes) {
        return new CudaGraphConfig(true, batchSizes, null, true);
    }

    /**
     * The batch sizes recorded for an engine of {@code engineMaxBatchSize}: empty when disabled.
     *
     * @throws ConfigException when a size exceeds the engine's {@code max_batch_size}
     */
    List<Integer> resolve(int engineMaxBatchSize) {
        if (!enabled) {
            return List.of();
        }
        if (batchSizes != null) {
            for (int b : batchSizes) {
                if (b > engineMaxBatchSize) {
                    throw ConfigException.invalid(PREFIX + "batch_sizes", "batchSizes",
                            "sizes <= max_batch_size (" + engineMaxBatchSize + ")", batchSizes);
                }
            }
            return batchSizes;
        }
        int max = Math.min(maxBatchSize == null ? DEFAULT_MAX_BATCH_SIZE : maxBatchSize, engineMaxBatchSize);
        List<Integer> sizes = new ArrayList<>();
        for (int b = 1; b < max; b *= 2) {
            sizes.add(b);
        }
        sizes.add(max);
        return List.copyOf(sizes);
    }
}
