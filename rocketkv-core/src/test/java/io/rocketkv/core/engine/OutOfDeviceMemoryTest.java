package io.rocketkv.core.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.kernels.CpuKernels;
import io.rocketkv.core.kernels.Kernels;
import io.rocketkv.core.kernels.OutOfDeviceMemoryException;
import io.rocketkv.core.kernels.Tensor;
import io.rocketkv.core.model.LlamaModel;
import io.rocketkv.core.model.ModelConfig;
import io.rocketkv.core.model.StepWorkspace;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.testing.RandomCheckpoint;
import io.rocketkv.core.weights.SafeTensors;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A backend that runs out of memory (the CPU backend behind an allocation budget, failing as CUDA's does):
 * the engine names what did not fit, and a workspace that cannot grow stays usable at its old size.
 */
class OutOfDeviceMemoryTest {

    @TempDir
    Path dir;

    /** CpuKernels whose {@code allocate} fails once {@code budget} bytes are live (closing does not refund). */
    private static Kernels limited(AtomicLong budget) {
        CpuKernels cpu = new CpuKernels();
        return (Kernels) Proxy.newProxyInstance(Kernels.class.getClassLoader(), new Class<?>[] {Kernels.class},
                (proxy, m, args) -> {
                    if (m.getName().equals("allocate")) {
                        int[] shape = (int[]) args[1];
                        long bytes = ((DType) args[0]).byteSize();
                        for (int d : shape) {
                            bytes *= d;
                        }
                        if (budget.addAndGet(-bytes) < 0) {
                            budget.addAndGet(bytes);
                            throw new OutOfDeviceMemoryException(DType.F32 + " tensor needs " + bytes + " bytes, "
                                    + budget.get() + " free", bytes, null);
                        }
                    }
                    try {
                        return m.invoke(cpu, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }

    @Test
    void kvCacheThatDoesNotFitIsNamedWithTheFix() throws Exception {
        Path ckpt = RandomCheckpoint.tiny().write(dir.resolve("tiny"));
        ModelConfig config = ModelConfig.load(ckpt);
        try (SafeTensors weights = SafeTensors.open(ckpt)) {
            Kernels k = limited(new AtomicLong(1 << 20));
            LlamaModel model = LlamaModel.load(config, weights, k, 16);
            EngineConfig ec = new EngineConfig(4, 64, 256, 16, 100_000);
            OutOfDeviceMemoryException e = assertThrows(OutOfDeviceMemoryException.class,
                    () -> new Engine(model, k, ec, ids -> ""));
            assertTrue(e.getMessage().startsWith("the KV cache (100000 blocks of 16 tokens"), e.getMessage());
            assertTrue(e.getMessage().contains("free_gpu_memory_fraction"), e.getMessage());
        }
    }

    @Test
    void workspaceThatCannotGrowKeepsItsOldSize() throws Exception {
        Path ckpt = RandomCheckpoint.tiny().write(dir.resolve("tiny"));
        ModelConfig config = ModelConfig.load(ckpt);
        try (SafeTensors weights = SafeTensors.open(ckpt)) {
            AtomicLong budget = new AtomicLong(Long.MAX_VALUE);
            Kernels k = limited(budget);
            LlamaModel model = LlamaModel.load(config, weights, k, 16);
            try (StepWorkspace ws = model.newWorkspace(8, 2)) {
                budget.set(model.workspaceBytes(8, 2) + 64); // room to re-allocate the old size, not more
                assertThrows(OutOfDeviceMemoryException.class, () -> ws.ensureCapacity(4096, 2));
                assertEquals(8, ws.maxTokens());
                Tensor probe = k.allocate(DType.F32, 1); // the budget left is consistent
                probe.close();
                assertEquals(false, ws.ensureCapacity(8, 2), "still holds a step of its old size");
            }
        }
    }
}
