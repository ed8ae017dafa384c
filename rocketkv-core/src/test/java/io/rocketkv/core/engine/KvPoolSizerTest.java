package io.rocketkv.core.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.rocketkv.core.kernels.AttentionShape;
import io.rocketkv.core.kernels.Kernels;
import io.rocketkv.core.kernels.MemoryInfo;
import io.rocketkv.core.model.Model;
import io.rocketkv.core.numeric.DType;
import java.lang.reflect.Proxy;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link KvPoolSizer} on a device-like backend (not heap): the pool takes {@code free_gpu_memory_fraction} of what the
 * step workspace and the backend's prefill scratch leave, in blocks of the cache dtype's bytes.
 */
class KvPoolSizerTest {

    private static final long MIB = 1L << 20;

    /** A backend with {@code free} bytes free, a {@code dtype} KV cache and {@code scratchPerElement} prefill bytes. */
    private static Kernels backend(long free, DType dtype, long scratchPerElement) {
        return (Kernels) Proxy.newProxyInstance(Kernels.class.getClassLoader(), new Class<?>[] {Kernels.class},
                (proxy, m, args) -> switch (m.getName()) {
                    case "memoryInfo" -> new MemoryInfo(free, 2 * free, false, Long.MAX_VALUE);
                    case "kvCacheDtype" -> dtype;
                    case "name" -> "device";
                    case "prefillScratchBytes" -> (Long) args[0] * (Long) args[1] * scratchPerElement;
                    default -> throw new UnsupportedOperationException(m.getName());
                });
    }

    /** 2 layers, 2 KV heads of 64 (256 K and V elements a token per layer), a step workspace of {@code workspace}. */
    private static Model model(long workspace) {
        return (Model) Proxy.newProxyInstance(Model.class.getClassLoader(), new Class<?>[] {Model.class},
                (proxy, m, args) -> switch (m.getName()) {
                    case "numLayers" -> 2;
                    case "attentionShape" -> AttentionShape.of(4, 2, 64, 16);
                    case "workspaceBytes" -> workspace;
                    default -> throw new UnsupportedOperationException(m.getName());
                });
    }

    private static final KvPoolSizer.Request REQUEST = new KvPoolSizer.Request(4096, 64, 1024, 16, null, 0.5, null);

    @Test
    void thePoolTakesItsFractionOfWhatTheWorkspaceAndThePrefillScratchLeave() {
        long free = 256 * MIB; // binds before max_seq_len x max_batch_size (262,144 tokens)
        long workspace = 24 * MIB;
        // bf16: 2 layers x 2 (K, V) x 128 elements x 2 bytes = 1 KiB a token
        int bf16 = KvPoolSizer.numBlocks(List.of(model(workspace)), List.of(backend(free, DType.BF16, 0)), REQUEST);
        assertEquals(blocks((free - workspace) / 2 / 1024), bf16);
        // fp8 with a bf16 prefill copy: half the bytes a token, after (4096 + 1024) tokens x 256 elements x 2 bytes
        long scratch = (4096L + 1024) * 256 * 2;
        int fp8 = KvPoolSizer.numBlocks(List.of(model(workspace)), List.of(backend(free, DType.F8_E4M3, 2)), REQUEST);
        assertEquals(blocks((free - workspace - scratch) / 2 / 512), fp8);
        org.junit.jupiter.api.Assertions.assertTrue(fp8 > 1.9 * bf16, "fp8 holds nearly twice the tokens: " + fp8 + " vs " + bf16);
    }

    private static long blocks(long tokens) {
        return (tokens + 15) / 16;
    }
}
