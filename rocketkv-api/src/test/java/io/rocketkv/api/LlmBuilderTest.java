package io.rocketkv.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.model.ModelConfig;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.testing.RandomCheckpoint;
import io.rocketkv.core.weights.CheckpointFormatException;
import io.rocketkv.core.weights.SafeTensors;
import io.rocketkv.cuda.CudaDriver;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link LLM.Builder}: the errors a user can make, and options taken from an {@code extra_config.yaml}. */
class LlmBuilderTest {

    @TempDir
    static Path dir;

    static Path tiny;

    @BeforeAll
    static void write() throws Exception {
        tiny = TinyLlm.write(dir);
    }

    @Test
    void noModelIsAnError() {
        var e = assertThrows(IllegalArgumentException.class, () -> LLM.builder().build());
        assertTrue(e.getMessage().contains("model"), e.getMessage());
    }

    @Test
    void aMissingModelDirectoryIsNamed() {
        Path missing = dir.resolve("no-such-model");
        var e = assertThrows(IllegalArgumentException.class, () -> LLM.builder().model(missing).build());
        assertTrue(e.getMessage().contains("no-such-model") && e.getMessage().contains("does not exist"), e.getMessage());
    }

    @Test
    void aFileGivenAsTheModelIsNamedAsAFile() throws Exception {
        Path file = tiny.resolve("config.json");
        var e = assertThrows(IllegalArgumentException.class, () -> LLM.builder().model(file).build());
        assertTrue(e.getMessage().contains(file.toAbsolutePath() + " is a file, not a directory")
                && e.getMessage().contains("perhaps " + tiny.toAbsolutePath()), e.getMessage());
    }

    @Test
    void chunkedPrefillGeneratesWhatAWholePrefillDoesAndWithoutItALongPromptIsRefused() {
        String prompt = String.join(" ", TinyLlm.PROMPTS);
        SamplingParams greedy = TinyLlm.greedy(8).build();
        try (LLM whole = TinyLlm.open(tiny);
             LLM chunked = LLM.builder().model(tiny).backend(Backend.CPU)
                     .kvCacheConfig(KvCacheConfig.builder().maxTokens(8192).build()).tokensPerBlock(16).maxBatchSize(16)
                     .maxNumTokens(16).enableChunkedPrefill(true).build();
             LLM refusing = LLM.builder().model(tiny).backend(Backend.CPU)
                     .kvCacheConfig(KvCacheConfig.builder().maxTokens(8192).build()).tokensPerBlock(16)
                     .maxBatchSize(16).maxNumTokens(16).build()) {
            int n = whole.tokenizer().encode(prompt, true).length;
            assertTrue(n > 16, "the prompt has " + n + " tokens");
            CompletionOutput a = whole.generate(prompt, greedy).output();
            CompletionOutput b = chunked.generate(prompt, greedy).output();
            assertEquals(java.util.Arrays.toString(a.tokenIds()), java.util.Arrays.toString(b.tokenIds()));
            var e = assertThrows(RuntimeException.class, () -> refusing.generate(prompt, greedy));
            String msg = String.valueOf(e.getMessage()) + " " + String.valueOf(e.getCause());
            assertTrue(msg.contains("max_num_tokens = 16") && msg.contains("enable_chunked_prefill"), msg);
        }
    }

    @Test
    void maxSeqLenPastTheModelsPositionsNeedsTheOverride() throws Exception {
        int positions = ModelConfig.load(tiny).maxPositionEmbeddings();
        var e = assertThrows(ConfigException.class,
                () -> LLM.builder().model(tiny).backend(Backend.CPU).maxSeqLen(positions + 1).build());
        assertEquals("max_seq_len", e.key());
        assertTrue(e.getMessage().contains("max_seq_len (maxSeqLen) " + (positions + 1))
                && e.getMessage().contains("max_position_embeddings " + positions)
                && e.getMessage().contains("allow_long_max_seq_len: true"), e.getMessage());
        try (LLM at = LLM.builder().model(tiny).backend(Backend.CPU).maxSeqLen(positions).build()) {
            assertEquals(positions, at.maxSeqLen());
        }
        LlmArgs allowed = LlmArgs.fromYaml("backend: cpu\nmax_seq_len: " + (positions + 1)
                + "\nallow_long_max_seq_len: true\n");
        try (LLM past = LLM.builder().model(tiny).args(allowed).build()) {
            assertEquals(positions + 1, past.maxSeqLen());
        }
    }

    @Test
    void aNanWeightIsNamedWhenTheModelIsBuilt() throws Exception {
        Path corrupt = RandomCheckpoint.tiny().write(dir.resolve("nan-weight"));
        String name = "model.layers.1.mlp.down_proj.weight";
        long offset;
        try (SafeTensors w = SafeTensors.open(corrupt)) {
            assertEquals(DType.F32, w.info(name).dtype());
            offset = w.info(name).fileOffset() + 5 * 4; // element 5
        }
        try (FileChannel ch = FileChannel.open(corrupt.resolve("model.safetensors"), StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(0, Float.NaN), offset);
        }
        var e = assertThrows(CheckpointFormatException.class,
                () -> LLM.builder().model(corrupt).backend(Backend.CPU).build());
        assertTrue(e.getMessage().contains("tensor '" + name + "'") && e.getMessage().contains("NaN at element 5"),
                e.getMessage());
        try (LLM unchecked = LLM.builder().model(corrupt).args(LlmArgs.fromYaml("backend: cpu\ncheck_weights: false\n"))
                .build()) {
            assertEquals("cpu", unchecked.backendName()); // built: the scan was skipped
        }
    }

    @Test
    void cudaBackendWithoutCudaIsAClearError() {
        Assumptions.assumeFalse(CudaDriver.isAvailable(), "CUDA is available here: the CUDA backend builds");
        var e = assertThrows(IllegalStateException.class, () -> LLM.builder().model(tiny).backend(Backend.CUDA).build());
        assertTrue(e.getMessage().contains("CUDA") && e.getMessage().contains("CPU"), e.getMessage());
        assertTrue(e.getMessage().contains(CudaDriver.unavailableReason()), e.getMessage());
    }

    @Test
    void tensorParallelSizeMustDivideTheQueryHeads() {
        // the tiny Llama has 4 query heads
        ConfigAssertions.assertConfigError("tensor_parallel_size",
                () -> LLM.builder().model(tiny).backend(Backend.CUDA).tensorParallelSize(3).build(),
                "tensor_parallel_size", "4 query heads", "size 3", "use a divisor of 4");
    }

    @Test
    void tensorParallelOnTheCpuBackendIsRefused() {
        ConfigAssertions.assertConfigError("tensor_parallel_size",
                () -> LLM.builder().model(tiny).backend(Backend.CPU).tensorParallelSize(2).build(),
                "tensor_parallel_size", "needs the CUDA backend", "CPU");
    }

    @Test
    void tensorParallelNeedsThatManyDevices() {
        int devices = CudaDriver.deviceCount();
        Assumptions.assumeTrue(devices < 4, () -> devices + " CUDA devices here: tensor_parallel_size 4 would build");
        ConfigAssertions.assertConfigError("tensor_parallel_size",
                () -> LLM.builder().model(tiny).backend(Backend.CUDA).tensorParallelSize(4).build(),
                "tensor_parallel_size", "needs 4 visible CUDA devices, " + devices + " visible");
    }

    @Test
    void tensorParallelSizeMustDivideTheKvHeadsOrBeAMultipleAndDivideTheMlp(@TempDir Path tmp) throws IOException {
        // 6 query heads, 3 KV heads: 2 ranks would split 3 KV heads unevenly
        Path odd = RandomCheckpoint.builder().numHeads(6).numKvHeads(3).headDim(8).hiddenSize(48)
                .intermediateSize(96).seed(3).build().write(tmp.resolve("kv3"));
        ConfigAssertions.assertConfigError("tensor_parallel_size",
                () -> LLM.builder().model(odd).backend(Backend.CUDA).tensorParallelSize(2).build(),
                "tensor_parallel_size", "3 KV heads", "divisor or a multiple of 3");
        // intermediate_size 90 is not a multiple of 4
        Path mlp = RandomCheckpoint.builder().numHeads(4).numKvHeads(2).headDim(8).hiddenSize(32)
                .intermediateSize(90).seed(3).build().write(tmp.resolve("mlp90"));
        ConfigAssertions.assertConfigError("tensor_parallel_size",
                () -> LLM.builder().model(mlp).backend(Backend.CUDA).tensorParallelSize(4).build(),
                "tensor_parallel_size", "intermediate_size 90");
    }

    @Test
    void tensorParallelSizeOneIsTheDefaultAndBuilds() {
        try (LLM llm = LLM.builder().model(tiny).backend(Backend.CPU).tensorParallelSize(1)
                .kvCacheConfig(KvCacheConfig.builder().maxTokens(256).build()).maxBatchSize(2).build()) {
            assertEquals(1, llm.args().tensorParallelSize());
        }
    }

    @Test
    void rocketKvOnCudaIsAcceptedAndOnlyNeedsADevice() {
        // RocketKV runs on the CUDA backend: the configuration is valid, the only possible refusal is a missing device
        Assumptions.assumeFalse(CudaDriver.isAvailable(), "CUDA is available here: CudaEndToEndGpuTest covers it");
        var e = assertThrows(IllegalStateException.class, () -> LLM.builder().model(tiny).backend(Backend.CUDA)
                .sparseAttentionConfig(RocketSparseAttentionConfig.builder().topr(16).build())
                .kvCacheConfig(KvCacheConfig.builder().enableBlockReuse(false).build()).build());
        assertTrue(e.getMessage().contains("CUDA is unavailable"), e.getMessage());
    }

    @Test
    void seedConfigFromYamlRunsWithAModelOfHeadDim128() throws Exception {
        Path yaml = dir.resolve("extra_config.yaml");
        Files.writeString(yaml, LlmArgsYamlTest.SEED_CONFIG);
        // the seed's topr = 128 needs head_dim >= 128
        Path model = RandomCheckpoint.builder().hiddenSize(64).numHeads(2).numKvHeads(1).headDim(128)
                .intermediateSize(64).numLayers(1).seed(5).build().write(dir.resolve("head-dim-128"));
        LlmArgs args = LlmArgs.fromYaml(yaml);
        try (LLM llm = LLM.builder().model(model).args(args).build()) {
            assertEquals(args, llm.args());
            // the seed config leaves the backend AUTO: CUDA where a device is usable, else the CPU
            assertEquals(CudaDriver.isAvailable() ? "cuda" : "cpu", llm.backendName());
            RequestOutput out = llm.generate("the cat and the hat",
                    SamplingParams.builder().temperature(0.0).maxTokens(6).ignoreEos(true).build());
            assertEquals(6, out.output().tokenIds().length);
            assertEquals("length", out.output().finishReason());
        }
    }

    @Test
    void seedConfigOnAModelWithSmallHeadsNamesTopr() throws Exception {
        LlmArgs args = LlmArgs.fromYaml(LlmArgsYamlTest.SEED_CONFIG);
        var e = assertThrows(ConfigException.class, () -> LLM.builder().model(tiny).args(args).build());
        assertEquals("sparse_attention_config.topr", e.key());
        assertTrue(e.getMessage().contains("16"), e.getMessage());
    }

    @Test
    void optionsAfterArgsOverrideTheFile() {
        LlmArgs args = LlmArgs.fromYaml("max_seq_len: 64\nmax_batch_size: 3\ntokens_per_block: 8\n");
        try (LLM llm = LLM.builder().model(tiny).args(args).backend(Backend.CPU).maxBatchSize(2).build()) {
            assertEquals(64, llm.args().maxSeqLen());
            assertEquals(2, llm.args().maxBatchSize());
            assertEquals(8, llm.args().tokensPerBlock());
            // max_seq_len 64 caps prompt + output
            RequestOutput out = llm.generate("the cat", SamplingParams.builder().temperature(0.0).maxTokens(200)
                    .ignoreEos(true).build());
            assertEquals(64, out.promptTokenIds().length + out.output().tokenIds().length);
            assertEquals("length", out.output().finishReason());
        }
    }
}
