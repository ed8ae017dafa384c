package io.rocketkv.core.kernels;

import java.util.ArrayList;
import java.util.List;

/**
 * A tensor-parallel group of {@link CpuKernels} ranks in one JVM: the reference for the NCCL group of the CUDA
 * backend. An all-reduce waits for every rank, sums the ranks' values in rank order (the same float result on
 * every rank, whatever thread arrives first) and writes the sum back to each rank's tensor.
 */
public final class CpuCollective implements Collective {

    private final Group group;
    private final int rank;

    private CpuCollective(Group group, int rank) {
        this.group = group;
        this.rank = rank;
    }

    /** The {@code size} ranks of one new group, rank r at index r. */
    public static List<Collective> group(int size) {
        if (size < 1) {
            throw new IllegalArgumentException("a group needs at least one rank, got " + size);
        }
        Group g = new Group(size);
        List<Collective> ranks = new ArrayList<>();
        for (int r = 0; r < size; r++) {
            ranks.add(new CpuCollective(g, r));
        }
        return List.copyOf(ranks);
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int size() {
        return group.size;
    }

    @Override
    public void allReduceSum(Tensor x) {
        if (!(x instanceof CpuTensor t) || !t.isHeap()) {
            throw new IllegalArgumentException("CpuCollective reduces F32 CPU activations, got " + Tensor.describe(x));
        }
        int n = Math.toIntExact(t.numel());
        if (group.size == 1) {
            return;
        }
        float[] mine = t.floats();
        group.inputs[rank] = mine;
        group.lengths[rank] = n;
        await(); // every rank's input is published
        float[] sum = new float[n];
        for (int r = 0; r < group.size; r++) {
            if (group.lengths[r] != n) {
                group.abort();
                throw new IllegalStateException("all-reduce of " + n + " values on rank " + rank + " but "
                        + group.lengths[r] + " on rank " + r + ": the ranks ran different steps");
            }
            float[] in = group.inputs[r];
            for (int i = 0; i < n; i++) {
                sum[i] += in[i];
            }
        }
        await(); // every rank has read every input
        System.arraycopy(sum, 0, mine, 0, n);
    }

    private void await() {
        try {
            group.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            group.abort();
            throw new IllegalStateException("interrupted in an all-reduce on rank " + rank, e);
        }
        if (group.isAborted()) {
            throw new IllegalStateException("the tensor-parallel group was aborted (a rank failed); all-reduce on rank "
                    + rank + " cannot complete");
        }
    }

    @Override
    public void abort() {
        group.abort();
    }

    /** A reusable barrier that an abort breaks for good. */
    private static final class Group {
        final int size;
        final float[][] inputs;
        final int[] lengths;
        private int arrived;
        private long generation;
        private boolean aborted;

        Group(int size) {
            this.size = size;
            this.inputs = new float[size][];
            this.lengths = new int[size];
        }

        /** Returns when every rank has arrived, or at once (or as soon as it happens) when aborted. */
        synchronized void await() throws InterruptedException {
            if (aborted) {
                return;
            }
            long gen = generation;
            if (++arrived == size) {
                arrived = 0;
                generation++;
                notifyAll();
                return;
            }
            while (gen == generation && !aborted) {
                wait();
            }
        }

        synchronized boolean isAborted() {
            return aborted;
        }

        synchronized void abort() {
            aborted = true;
            notifyAll();
        }
    }
}
