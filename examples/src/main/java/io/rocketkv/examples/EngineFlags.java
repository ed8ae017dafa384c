package io.rocketkv.examples;

import io.rocketkv.api.LlmArgs;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * The engine flags trtllm-serve and trtllm-bench take, in their snake_case names (the kebab-case forms are
 * aliases): a YAML of {@code LlmArgs} keys ({@code --config}, TensorRT-LLM's {@code --extra_llm_api_options}),
 * then single keys that override the YAML's. A flag left out keeps the YAML's value (or the default).
 */
public final class EngineFlags {

    @Option(names = {"--config", "--extra_llm_api_options", "--extra-llm-api-options"},
            description = "YAML file with the LlmArgs keys (sparse_attention_config, kv_cache_config, ...)")
    Path config;

    @Option(names = {"--backend"}, description = "auto, cpu or cuda (pytorch means auto); overrides the YAML's")
    String backend;

    @Option(names = {"--max_batch_size", "--max-batch-size"}, description = "requests decoded together")
    Integer maxBatchSize;

    @Option(names = {"--max_seq_len", "--max-seq-len"}, description = "prompt plus output tokens of one request")
    Integer maxSeqLen;

    @Option(names = {"--max_num_tokens", "--max-num-tokens"}, description = "tokens in one engine step")
    Integer maxNumTokens;

    @Option(names = {"--tp_size", "--tp-size"}, description = "tensor parallel size (GPUs one model is split over)")
    Integer tpSize;

    @Option(names = {"--kv_cache_free_gpu_memory_fraction", "--kv-cache-free-gpu-memory-fraction"},
            description = "kv_cache_config.free_gpu_memory_fraction: share of the free GPU memory for the KV cache")
    Double kvCacheFreeGpuMemoryFraction;

    @Option(names = {"--stream_interval", "--stream-interval"},
            description = "stream_interval: generated tokens per streamed chunk (default 1)")
    Integer streamInterval;

    /** The YAML's args (or the defaults) with the flags given here applied on top. */
    public LlmArgs args() {
        LlmArgs base = config != null ? LlmArgs.fromYaml(config) : LlmArgs.builder().build();
        LlmArgs.Builder b = base.toBuilder();
        if (backend != null) {
            b.backend(backend);
        }
        if (maxBatchSize != null) {
            b.maxBatchSize(maxBatchSize);
        }
        if (maxSeqLen != null) {
            b.maxSeqLen(maxSeqLen);
        }
        if (maxNumTokens != null) {
            b.maxNumTokens(maxNumTokens);
        }
        if (streamInterval != null) {
            b.streamInterval(streamInterval);
        }
        if (tpSize != null) {
            b.tensorParallelSize(tpSize);
        }
        if (kvCacheFreeGpuMemoryFraction != null) {
            b.kvCacheConfig(base.kvCacheConfig().toBuilder()
                    .freeGpuMemoryFraction(kvCacheFreeGpuMemoryFraction).build());
        }
        return b.build();
    }
}
