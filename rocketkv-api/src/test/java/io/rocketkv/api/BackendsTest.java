package io.rocketkv.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.kernels.Collective;
import io.rocketkv.core.kernels.CpuKernels;
import io.rocketkv.core.kernels.Kernels;
import io.rocketkv.core.kernels.KernelsProvider;
import io.rocketkv.core.numeric.DType;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * How {@link Backends} chooses among the providers it is given: none (a class path without rocketkv-cuda), one
 * that can run, one that cannot. The providers here are stand-ins; {@link CpuOnlyClassPathTest} runs a real
 * class path without rocketkv-cuda.
 */
class BackendsTest {

    /** A provider whose devices are CPU backends: {@code why} null = it can run. */
    private record FakeProvider(String name, String why, Kernels kernels) implements KernelsProvider {

        @Override
        public String unavailableReason() {
            return why;
        }

        @Override
        public void requireAvailable(String what) {
            if (why != null) {
                throw new IllegalStateException(what + ": " + why);
            }
        }

        @Override
        public int deviceCount() {
            return why == null ? 1 : 0;
        }

        @Override
        public Kernels open(int device) {
            return kernels;
        }

        @Override
        public String collectivesUnavailableReason() {
            return "no NCCL in this test";
        }

        @Override
        public List<Collective> collectives(List<Kernels> ranks) {
            throw new UnsupportedOperationException();
        }
    }

    @Test
    void theClassPathOfThisModuleRegistersTheCudaProvider() {
        assertTrue(Backends.installed().hasCuda(),
                "rocketkv-cuda's META-INF/services entry for KernelsProvider is not found");
    }

    @Test
    void withoutProvidersAutoRunsOnTheCpu() {
        Backends none = new Backends(List.of());
        assertFalse(none.hasCuda());
        try (Kernels k = none.open(Backend.AUTO, false, KvCacheDtype.AUTO)) {
            assertTrue(k instanceof CpuKernels, k.name());
        }
        try (Kernels k = none.open(Backend.CPU, true, KvCacheDtype.AUTO)) {
            assertEquals("cpu", k.name());
            assertEquals(DType.BF16, k.kvCacheDtype());
        }
    }

    @Test
    void theCpuKeepsTheKvCacheDtypeAskedFor() {
        Backends none = new Backends(List.of());
        try (Kernels k = none.open(Backend.CPU, false, KvCacheDtype.FLOAT32)) {
            assertEquals(DType.F32, k.kvCacheDtype());
            assertTrue(KvCacheDtype.FLOAT32.checkBackend(k.name(), k.kvCacheDtype()));
        }
        try (Kernels k = none.open(Backend.AUTO, false, KvCacheDtype.BFLOAT16)) {
            assertEquals(DType.BF16, k.kvCacheDtype());
        }
        try (Kernels k = none.open(Backend.CPU, true, KvCacheDtype.FP8)) {
            assertEquals(DType.F8_E4M3, k.kvCacheDtype());
            assertTrue(KvCacheDtype.FP8.checkBackend(k.name(), k.kvCacheDtype()));
        }
        ConfigException e = org.junit.jupiter.api.Assertions.assertThrows(ConfigException.class,
                () -> KvCacheDtype.FP8.checkBackend("other", DType.BF16));
        assertTrue(e.getMessage().contains("does not store an fp8 KV cache") && e.getMessage().contains("use auto"),
                e.getMessage());
    }

    /** The dtype asked for reaches the provider ({@code open(device, dtype)}). */
    @Test
    void theKvCacheDtypeReachesTheProvider() {
        List<DType> asked = new java.util.ArrayList<>();
        KernelsProvider fake = new KernelsProvider() {
            @Override
            public String name() {
                return "cuda";
            }

            @Override
            public String unavailableReason() {
                return null;
            }

            @Override
            public void requireAvailable(String what) {
            }

            @Override
            public int deviceCount() {
                return 1;
            }

            @Override
            public Kernels open(int device) {
                return open(device, null);
            }

            @Override
            public Kernels open(int device, DType kvCacheDtype) {
                asked.add(kvCacheDtype);
                return kvCacheDtype == null ? new CpuKernels() : new CpuKernels(true, kvCacheDtype);
            }

            @Override
            public String collectivesUnavailableReason() {
                return "none";
            }

            @Override
            public List<io.rocketkv.core.kernels.Collective> collectives(List<Kernels> ranks) {
                throw new UnsupportedOperationException();
            }
        };
        Backends backends = new Backends(List.of(fake));
        try (Kernels k = backends.open(Backend.CUDA, false, KvCacheDtype.FP8)) {
            assertEquals(DType.F8_E4M3, k.kvCacheDtype());
        }
        try (Kernels k = backends.open(Backend.AUTO, false, KvCacheDtype.AUTO)) {
            assertEquals(DType.BF16, k.kvCacheDtype());
        }
        assertEquals(java.util.Arrays.asList(DType.F8_E4M3, null), asked);
    }

    @Test
    void withoutProvidersCudaIsAClearError() {
        var e = assertThrows(IllegalStateException.class, () -> new Backends(List.of()).open(Backend.CUDA, false, KvCacheDtype.AUTO));
        assertTrue(e.getMessage().startsWith("backend CUDA was requested, but the CUDA backend is not on the class path"),
                e.getMessage());
        assertTrue(e.getMessage().contains("add the dependency io.rocketkv:rocketkv-cuda"), e.getMessage());
        assertTrue(e.getMessage().contains("use backend AUTO or CPU"), e.getMessage());
    }

    @Test
    void withoutProvidersTensorParallelismIsAClearError() {
        var e = assertThrows(ConfigException.class, () -> new Backends(List.of()).checkTensorParallel("tp 2", 2));
        assertTrue(e.getMessage().contains("tp 2 needs the CUDA backend, but the CUDA backend is not on the class path"),
                e.getMessage());
        assertTrue(e.getMessage().contains("io.rocketkv:rocketkv-cuda"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> new Backends(List.of()).cudaRanks(2, KvCacheDtype.AUTO));
    }

    @Test
    void autoTakesAProviderThatCanRun() {
        Kernels device = new CpuKernels();
        Backends b = new Backends(List.of(new FakeProvider("cuda", null, device)));
        assertSame(device, b.open(Backend.AUTO, true, KvCacheDtype.AUTO));
        assertSame(device, b.open(Backend.CUDA, false, KvCacheDtype.AUTO));
        device.close();
    }

    @Test
    void autoPassesOverAProviderThatCannotRunAndCudaSaysWhy() {
        Kernels device = new CpuKernels();
        Backends b = new Backends(List.of(new FakeProvider("cuda", "no device in this test", device)));
        try (Kernels k = b.open(Backend.AUTO, false, KvCacheDtype.AUTO)) {
            assertTrue(k != device && k instanceof CpuKernels);
        }
        var e = assertThrows(IllegalStateException.class, () -> b.open(Backend.CUDA, false, KvCacheDtype.AUTO));
        assertEquals("backend CUDA: no device in this test", e.getMessage());
        var tp = assertThrows(ConfigException.class, () -> b.checkTensorParallel("tp 2", 2));
        assertTrue(tp.getMessage().contains("needs 2 visible CUDA devices, 0 visible (no device in this test)"),
                tp.getMessage());
        device.close();
    }

    @Test
    void onlyAProviderNamedCudaIsTheCudaBackend() {
        try (Kernels device = new CpuKernels()) {
            Backends b = new Backends(List.of(new FakeProvider("metal", null, device)));
            assertFalse(b.hasCuda());
            try (Kernels k = b.open(Backend.AUTO, false, KvCacheDtype.AUTO)) {
                assertTrue(k != device && k instanceof CpuKernels);
            }
        }
    }
}
