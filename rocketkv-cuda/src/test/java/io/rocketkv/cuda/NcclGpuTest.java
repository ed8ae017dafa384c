package io.rocketkv.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.rocketkv.core.numeric.DType;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * NCCL across two GPUs of this host, one thread driving both ranks inside a group. Skips, saying why, where
 * CUDA or {@code libnccl.so.2} is unavailable or fewer than two devices are visible.
 */
@Tag("gpu")
class NcclGpuTest {

    private static void assumeTwoGpus() {
        Gpu.assumeCuda();
        Assumptions.assumeTrue(Nccl.isAvailable(), () -> "no NCCL here: " + Nccl.unavailableReason());
        Assumptions.assumeTrue(CudaDriver.deviceCount() >= 2,
                () -> "needs 2 CUDA devices, " + CudaDriver.deviceCount() + " visible");
    }

    @Test
    void allReduceSumsKnownValuesAcrossTwoRanksAndAllGatherConcatenates() {
        assumeTwoGpus();
        int n = 1000; // not a multiple of any chunk size
        List<CudaContext> contexts = List.of(CudaContext.primary(0), CudaContext.primary(1));
        List<NcclCommunicator> comms = NcclCommunicator.initAll(contexts);
        List<DeviceBuffer> send = new ArrayList<>();
        List<DeviceBuffer> recv = new ArrayList<>();
        List<DeviceBuffer> gathered = new ArrayList<>();
        List<CudaStream> streams = new ArrayList<>();
        try {
            for (int r = 0; r < 2; r++) {
                CudaContext c = contexts.get(r).makeCurrent();
                float[] x = new float[n];
                for (int i = 0; i < n; i++) {
                    x[i] = (r + 1) * 1000f + i; // rank 0: 1000 + i, rank 1: 2000 + i; exact in fp32
                }
                DeviceBuffer s = c.allocate(4L * n);
                s.copyFrom(x);
                send.add(s);
                recv.add(c.allocate(4L * n));
                gathered.add(c.allocate(4L * n * 2));
                streams.add(c.createStream());
            }
            Nccl.groupStart();
            for (int r = 0; r < 2; r++) {
                comms.get(r).allReduceSum(send.get(r), recv.get(r), n, DType.F32, streams.get(r));
            }
            Nccl.groupEnd();
            Nccl.groupStart();
            for (int r = 0; r < 2; r++) {
                comms.get(r).allGather(send.get(r), gathered.get(r), n, DType.F32, streams.get(r));
            }
            Nccl.groupEnd();
            float[] sum = new float[n];
            float[] cat = new float[2 * n];
            for (int i = 0; i < n; i++) {
                sum[i] = 3000f + 2 * i;
                cat[i] = 1000f + i;
                cat[n + i] = 2000f + i;
            }
            for (int r = 0; r < 2; r++) {
                contexts.get(r).makeCurrent();
                streams.get(r).synchronize();
                float[] got = new float[n];
                recv.get(r).copyTo(got);
                assertArrayEquals(sum, got, "all-reduce on rank " + r);
                float[] all = new float[2 * n];
                gathered.get(r).copyTo(all);
                assertArrayEquals(cat, all, "all-gather on rank " + r);
                assertEquals(r, comms.get(r).rank());
                assertEquals(2, comms.get(r).size());
            }
        } finally {
            for (int r = 0; r < 2; r++) {
                contexts.get(r).makeCurrent();
                for (List<? extends AutoCloseable> l : List.of(send, recv, gathered, streams)) {
                    if (r < l.size()) {
                        try {
                            l.get(r).close();
                        } catch (Exception ignored) {
                            // best effort: the assertion above is what matters
                        }
                    }
                }
            }
            comms.forEach(NcclCommunicator::close);
        }
    }
}
