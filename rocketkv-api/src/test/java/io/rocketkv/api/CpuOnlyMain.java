package io.rocketkv.api;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What a CPU-only consumer does, run by {@link CpuOnlyClassPathTest} in a JVM whose class path lacks
 * rocketkv-cuda: builds an LLM with backend AUTO and generates, then asks for backend CUDA. Prints one line per
 * finding, {@code key: value}.
 */
public final class CpuOnlyMain {

    private CpuOnlyMain() {
    }

    public static void main(String[] args) throws Exception {
        try {
            Class.forName("io.rocketkv.cuda.CudaKernels");
            System.out.println("cuda classes: present");
        } catch (ClassNotFoundException e) {
            System.out.println("cuda classes: absent");
        }
        Path model = TinyLlm.write(Files.createTempDirectory("cpu-only"));
        try (LLM llm = LLM.builder().model(model).kvCacheConfig(KvCacheConfig.builder().maxTokens(1024).build())
                .tokensPerBlock(16).build()) {
            RequestOutput out = llm.generate("the cat", TinyLlm.greedy(5).build());
            System.out.println("auto backend: " + llm.backendName());
            System.out.println("auto tokens: " + out.output().tokenIds().length);
        }
        try (LLM llm = LLM.builder().model(model).backend(Backend.CUDA).build()) {
            System.out.println("cuda backend: built " + llm.backendName());
        } catch (IllegalStateException e) {
            System.out.println("cuda backend: refused: " + e.getMessage());
        }
    }
}
