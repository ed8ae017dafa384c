package io.rocketkv.api;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Every key of TensorRT-LLM's {@code TorchLlmArgs} (with {@code BaseLlmArgs}) and of the nested configs this library
 * reads, sorted into the keys it implements and the keys it accepts and ignores, each with the reason it does not
 * apply here. {@link LlmArgsYaml} walks a file against these sections: an implemented key is read, an ignored one is
 * type-checked and reported in one warning line, any other key is an error with a suggestion.
 *
 * <p>A new implemented key is one line in its section's {@code implemented} list plus its case in
 * {@link LlmArgsYaml}; a key moved from ignored to implemented leaves the ignored table.
 */
final class TrtLlmKeys {

    /** The YAML type an ignored key's value must have (its value is still checked, then dropped). */
    enum Kind { BOOL, INT, NUMBER, STRING, LIST, MAPPING, ANY }

    /** One accepted-ignored key: its expected kind and why it does not apply to this library. */
    record Ignored(String key, Kind kind, String why) {
    }

    /**
     * One mapping of keys: those read, and those accepted and ignored.
     *
     * @param path        the mapping's key path, empty for the top level
     * @param implemented the keys this library reads
     * @param ignored     the accepted-ignored keys by name
     */
    record Section(String path, List<String> implemented, Map<String, Ignored> ignored) {

        /** Every key this section accepts, implemented ones first. */
        List<String> allKeys() {
            List<String> all = new ArrayList<>(implemented);
            all.addAll(ignored.keySet());
            return all;
        }

        /** {@code path + "."} (or empty at the top level): what goes before a key in messages. */
        String prefix() {
            return path.isEmpty() ? "" : path + ".";
        }
    }

    private static final String MOE = "no mixture-of-experts models here";
    private static final String SPEC = "no speculative decoding here";
    private static final String MULTIMODAL = "text-only decoder models here: no encoder or multimodal inputs";
    private static final String DIST = "one process on one host; only tensor_parallel_size splits a model";
    private static final String TORCH = "a PyTorch-backend kernel or runtime option; this library has its own kernels";
    private static final String LORA = "no LoRA or PEFT adapters here";
    private static final String STATS = "no iteration or performance statistics API; print_iter_log logs each step";
    private static final String TOKENIZER = "the tokenizer is the checkpoint's tokenizer.json";
    private static final String KV_V2 = "a KV cache manager v2 / offloading option; the pool here is one paged "
            + "device pool without host or disk tiers";
    private static final String MAMBA = "no Mamba or hybrid models here";

    static final Section TOP = new Section("", List.of(
            "backend", "attn_backend", "sparse_attention_config", "kv_cache_config", "enable_chunked_prefill",
            "max_seq_len", "max_batch_size", "max_num_tokens", "tokens_per_block", "cuda_graph_config",
            "tensor_parallel_size", "allow_long_max_seq_len", "check_weights", "print_iter_log", "scheduler_config",
            "stream_interval"),
            ignored(
            i("model", Kind.ANY, "the model is given to LLM.builder().model(...) or --model_path, not in this file"),
            i("tokenizer", Kind.ANY, TOKENIZER),
            i("tokenizer_mode", Kind.STRING, TOKENIZER),
            i("custom_tokenizer", Kind.STRING, TOKENIZER),
            i("tokenizer_revision", Kind.STRING, TOKENIZER),
            i("skip_tokenizer_init", Kind.BOOL, TOKENIZER),
            i("post_processor_hook", Kind.STRING, "no Python output hooks"),
            i("trust_remote_code", Kind.BOOL, "no remote model code is ever run"),
            i("dtype", Kind.STRING, "weights run in the backend's compute type (CPU float32, CUDA bfloat16)"),
            i("revision", Kind.STRING, "checkpoints are local directories; nothing is downloaded"),
            i("model_kwargs", Kind.MAPPING, "the model's config.json is read as it is"),
            i("pipeline_parallel_size", Kind.INT, DIST),
            i("context_parallel_size", Kind.INT, DIST),
            i("gpus_per_node", Kind.INT, DIST),
            i("moe_cluster_parallel_size", Kind.INT, MOE),
            i("moe_tensor_parallel_size", Kind.INT, MOE),
            i("moe_expert_parallel_size", Kind.INT, MOE),
            i("enable_attention_dp", Kind.BOOL, DIST),
            i("enable_lm_head_tp_in_adp", Kind.BOOL, DIST),
            i("pp_partition", Kind.LIST, DIST),
            i("cp_config", Kind.MAPPING, DIST),
            i("load_format", Kind.ANY, "weights are always loaded from the checkpoint's safetensors"),
            i("enable_lora", Kind.BOOL, LORA),
            i("lora_config", Kind.MAPPING, LORA),
            i("peft_cache_config", Kind.MAPPING, LORA),
            i("guided_decoding_backend", Kind.STRING, "no guided (grammar-constrained) decoding here"),
            i("batched_logits_processor", Kind.ANY, "no Python logits processors"),
            i("iter_stats_max_iterations", Kind.INT, STATS),
            i("request_stats_max_iterations", Kind.INT, STATS),
            i("cache_transceiver_config", Kind.MAPPING, "no disaggregated serving here"),
            i("kv_cache_compression_config", Kind.MAPPING, "no KV-cache compression but RocketKV "
                    + "(sparse_attention_config)"),
            i("speculative_config", Kind.MAPPING, SPEC),
            i("decoding_config", Kind.ANY, SPEC),
            i("max_input_len", Kind.INT, "prompts are limited by max_seq_len and max_num_tokens only"),
            i("max_beam_width", Kind.INT, "no beam search here (sampling and greedy decoding only)"),
            i("gather_generation_logits", Kind.BOOL, "generation logits are not returned"),
            i("num_postprocess_workers", Kind.INT, "detokenizing runs on the engine thread"),
            i("postprocess_tokenizer_dir", Kind.STRING, TOKENIZER),
            i("num_serve_frontends", Kind.INT, "the example server is one process"),
            i("reasoning_parser", Kind.STRING, "no reasoning-content parsing"),
            i("_mpi_session", Kind.ANY, DIST),
            i("mpi_session", Kind.ANY, DIST),
            i("otlp_traces_endpoint", Kind.STRING, "no OpenTelemetry tracing"),
            i("return_perf_metrics", Kind.BOOL, "RequestOutput always carries its metrics"),
            i("perf_metrics_output_dir", Kind.STRING, STATS),
            i("perf_metrics_max_requests", Kind.INT, STATS),
            i("prometheus_metrics_config", Kind.MAPPING, "the example server's /metrics has fixed buckets"),
            i("enable_energy_metrics", Kind.BOOL, STATS),
            i("orchestrator_type", Kind.STRING, DIST),
            i("env_overrides", Kind.MAPPING, "environment variables are not set from this file"),
            i("telemetry_config", Kind.MAPPING, "no telemetry is collected"),
            i("generation_config", Kind.STRING, "sampling defaults are SamplingParams' own (TensorRT-LLM's)"),
            i("garbage_collection_gen0_threshold", Kind.INT, "a Python garbage-collector option"),
            i("encoder_cuda_graph_config", Kind.MAPPING, MULTIMODAL),
            i("enable_encoder_decoder_mixed_cuda_graph", Kind.BOOL, MULTIMODAL),
            i("multimodal_config", Kind.MAPPING, MULTIMODAL),
            i("attention_dp_config", Kind.MAPPING, DIST),
            i("disable_overlap_scheduler", Kind.BOOL, "there is no overlap scheduler: each step is scheduled "
                    + "after the previous one finished"),
            i("moe_config", Kind.MAPPING, MOE),
            i("nvfp4_gemm_config", Kind.MAPPING, TORCH),
            i("dwdp_config", Kind.MAPPING, MOE),
            i("encoder_max_batch_size", Kind.INT, MULTIMODAL),
            i("encoder_max_num_tokens", Kind.INT, MULTIMODAL),
            i("enable_mla_skip_correction", Kind.BOOL, "no MLA models here"),
            i("mla_skip_correction_threshold", Kind.NUMBER, "no MLA models here"),
            i("sampler_force_async_worker", Kind.BOOL, TORCH),
            i("enable_in_graph_sampling", Kind.BOOL, "sampling runs on the host after each step"),
            i("enable_speculative_beam_history_d2h", Kind.BOOL, TORCH),
            i("enable_early_first_token_response", Kind.BOOL, "there is no overlap scheduler"),
            i("enable_low_latency_host_dispatch", Kind.BOOL, TORCH),
            i("enable_iter_perf_stats", Kind.BOOL, STATS),
            i("enable_iter_req_stats", Kind.BOOL, STATS),
            i("batch_wait_timeout_ms", Kind.NUMBER, "the scheduler never waits for more requests"),
            i("batch_wait_timeout_iters", Kind.INT, "the scheduler never waits for more requests"),
            i("batch_wait_max_tokens_ratio", Kind.NUMBER, "the scheduler never waits for more requests"),
            i("torch_compile_config", Kind.MAPPING, TORCH),
            i("prefill_cuda_graph_backend", Kind.STRING, "CUDA graphs record decode steps only"),
            i("prefill_capture_num_tokens", Kind.LIST, "CUDA graphs record decode steps only"),
            i("enable_autotuner", Kind.BOOL, TORCH),
            i("use_fine_grained_sync", Kind.BOOL, MOE),
            i("enable_layerwise_nvtx_marker", Kind.BOOL, TORCH),
            i("enable_min_latency", Kind.BOOL, TORCH),
            i("force_dynamic_quantization", Kind.BOOL, TORCH),
            i("allreduce_strategy", Kind.STRING, "tensor parallelism reduces through NCCL"),
            i("checkpoint_loader", Kind.ANY, "checkpoints are Hugging Face safetensors directories"),
            i("checkpoint_format", Kind.STRING, "checkpoints are Hugging Face safetensors directories"),
            i("checkpoint_io_policy", Kind.STRING, "checkpoints are memory-mapped"),
            i("mx_config", Kind.MAPPING, DIST),
            i("gms_config", Kind.MAPPING, DIST),
            i("kv_connector_config", Kind.MAPPING, "no KV cache connectors"),
            i("mm_encoder_only", Kind.BOOL, MULTIMODAL),
            i("disable_mm_encoder", Kind.BOOL, MULTIMODAL),
            i("encode_only", Kind.BOOL, MULTIMODAL),
            i("ray_worker_extension_cls", Kind.STRING, DIST),
            i("ray_placement_config", Kind.MAPPING, DIST),
            i("ray_worker_nsight_options", Kind.MAPPING, DIST),
            i("sleep_config", Kind.MAPPING, "no sleep/wake-up of the engine"),
            i("reorder_policy_config", Kind.MAPPING, "requests are scheduled first come, first served"),
            i("enable_resource_governor", Kind.BOOL, TORCH),
            i("use_cute_dsl_blockscaling_mm", Kind.BOOL, TORCH),
            i("use_cute_dsl_blockscaling_bmm", Kind.BOOL, TORCH),
            i("use_cute_dsl_bf16_bmm", Kind.BOOL, TORCH),
            i("use_cute_dsl_bf16_gemm", Kind.BOOL, TORCH),
            i("max_stats_len", Kind.INT, STATS),
            i("layer_wise_benchmarks_config", Kind.MAPPING, STATS),
            i("sampler_type", Kind.STRING, "removed from TensorRT-LLM; there is one sampler")));

    static final Section KV_CACHE = new Section("kv_cache_config", List.of(
            "enable_block_reuse", "max_tokens", "free_gpu_memory_fraction", "tokens_per_block", "dtype"), ignored(
            i("max_attention_window", Kind.LIST, "each layer keeps its whole window (the model's sliding window, if "
                    + "any, comes from config.json)"),
            i("sink_token_length", Kind.INT, "deprecated in TensorRT-LLM; no StreamingLLM sinks"),
            i("host_cache_size", Kind.INT, KV_V2),
            i("disk_cache_size", Kind.INT, KV_V2),
            i("disk_cache_path", Kind.STRING, KV_V2),
            i("cross_kv_cache_fraction", Kind.NUMBER, MULTIMODAL),
            i("secondary_offload_min_priority", Kind.INT, KV_V2),
            i("event_buffer_max_size", Kind.INT, "no KV cache events"),
            i("attention_dp_events_gather_period_ms", Kind.INT, DIST),
            i("kv_events_config", Kind.MAPPING, "no KV cache events"),
            i("enable_partial_reuse", Kind.BOOL, "block reuse shares whole blocks only"),
            i("copy_on_partial_reuse", Kind.BOOL, "block reuse shares whole blocks only"),
            i("use_uvm", Kind.BOOL, KV_V2),
            i("max_gpu_total_bytes", Kind.INT, "size the pool with max_tokens or free_gpu_memory_fraction"),
            i("iteration_stats_interval", Kind.INT, STATS),
            i("mamba_ssm_cache_dtype", Kind.STRING, MAMBA),
            i("mamba_ssm_stochastic_rounding", Kind.BOOL, MAMBA),
            i("mamba_ssm_philox_rounds", Kind.INT, MAMBA),
            i("mamba_state_cache_interval", Kind.INT, MAMBA),
            i("mamba_state_config", Kind.MAPPING, MAMBA),
            i("use_kv_cache_manager_v2", Kind.ANY, KV_V2),
            i("enable_swa_scratch_reuse", Kind.BOOL, KV_V2),
            i("kv_cache_event_hash_algo", Kind.STRING, "no KV cache events"),
            i("max_util_for_resume", Kind.NUMBER, KV_V2),
            i("enable_kv_pool_rebalance", Kind.BOOL, KV_V2),
            i("kv_pool_rebalance_min_sampled_kv_caches", Kind.INT, KV_V2),
            i("kv_pool_rebalance_cooldown_secs", Kind.NUMBER, KV_V2),
            i("kv_pool_rebalance_target_ratio_update_interval", Kind.INT, KV_V2),
            i("kv_pool_rebalance_ratio_threshold", Kind.NUMBER, KV_V2),
            i("kv_pool_rebalance_moving_average_decay", Kind.NUMBER, KV_V2),
            i("kv_pool_rebalance_check_interval", Kind.INT, KV_V2),
            i("disk_prefetch_num_reqs", Kind.INT, KV_V2),
            i("fp8_context_mla_kv_len_cap", Kind.INT, "no MLA models here"),
            i("pool_ratio", Kind.LIST, KV_V2),
            i("avg_seq_len", Kind.INT, KV_V2),
            i("block_reuse_config", Kind.MAPPING, KV_V2)));

    static final Section CUDA_GRAPH = new Section("cuda_graph_config", List.of(
            "batch_sizes", "max_batch_size", "enable_padding"), ignored(
            i("mode", Kind.STRING, "graphs record decode steps (TensorRT-LLM's mode: decode)"),
            i("num_tokens", Kind.LIST, MULTIMODAL),
            i("max_num_token", Kind.INT, MULTIMODAL),
            i("seq_lens", Kind.LIST, MULTIMODAL),
            i("max_seq_len", Kind.INT, MULTIMODAL)));

    private static final String FCFS = "the scheduler admits requests first come, first served and preempts the "
            + "newest (recomputing it later) when the KV pool runs out";

    static final Section SCHEDULER = new Section("scheduler_config", List.of(), ignored(
            i("capacity_scheduler_policy", Kind.STRING, FCFS),
            i("context_chunking_policy", Kind.STRING, "chunked prefill splits one prompt at a time, first come "
                    + "first served"),
            i("dynamic_batch_config", Kind.MAPPING, "batch limits are max_batch_size and max_num_tokens, fixed"),
            i("waiting_queue_policy", Kind.STRING, FCFS),
            i("use_python_scheduler", Kind.BOOL, TORCH),
            i("enable_prefix_aware_scheduling", Kind.BOOL, FCFS)));

    static final Section SPARSE = new Section("sparse_attention_config", List.of(
            "algorithm", "window_size", "kernel_size", "prompt_budget", "topk", "topr", "page_size",
            "kt_cache_dtype"), ignored(
            i("seq_len_threshold", Kind.INT, "RocketKV compacts every prompt longer than prompt_budget")));

    private TrtLlmKeys() {
    }

    private static Ignored i(String key, Kind kind, String why) {
        return new Ignored(key, kind, why);
    }

    private static Map<String, Ignored> ignored(Ignored... keys) {
        Map<String, Ignored> m = new LinkedHashMap<>();
        for (Ignored k : keys) {
            if (m.put(k.key(), k) != null) {
                throw new IllegalStateException("ignored key listed twice: " + k.key());
            }
        }
        return Collections.unmodifiableMap(m);
    }
}
