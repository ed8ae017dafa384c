package io.rocketkv.cuda;

import io.rocketkv.core.numeric.DType;
import io.rocketkv.cuda.bindings.nccl_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * One rank of an NCCL communicator ({@code ncclComm_t}), bound to the CUDA context of its device. Collectives
 * are queued on a {@link CudaStream} of that context and return once queued; with several ranks driven by
 * one thread, wrap their calls in {@link Nccl#groupStart()} / {@link Nccl#groupEnd()}. Closing destroys the
 * communicator ({@code ncclCommDestroy}); {@link #abort()} also cancels work still running.
 */
public final class NcclCommunicator implements AutoCloseable {

    private final CudaContext context;
    private final MemorySegment handle; // ncclComm_t
    private final int rank;
    private final int size;
    private volatile boolean closed;

    private NcclCommunicator(CudaContext context, MemorySegment handle, int rank, int size) {
        this.context = context;
        this.handle = handle;
        this.rank = rank;
        this.size = size;
    }

    /**
     * One communicator per context, rank i on {@code contexts.get(i)}'s device (ncclCommInitAll: a single
     * process driving every device).
     */
    public static List<NcclCommunicator> initAll(List<CudaContext> contexts) {
        Nccl.require("NcclCommunicator.initAll");
        int n = contexts.size();
        if (n < 1) {
            throw new IllegalArgumentException("initAll needs at least one CUDA context, got none");
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment comms = arena.allocate(nccl_h.C_POINTER, n);
            int[] devices = contexts.stream().mapToInt(c -> c.device().ordinal()).toArray();
            MemorySegment devlist = arena.allocateFrom(nccl_h.C_INT, devices);
            contexts.getFirst().ensureCurrent();
            Nccl.check(nccl_h.ncclCommInitAll(comms, n, devlist), "ncclCommInitAll", n + " devices");
            List<NcclCommunicator> out = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                out.add(new NcclCommunicator(contexts.get(i), comms.getAtIndex(nccl_h.C_POINTER, i), i, n));
            }
            return out;
        }
    }

    /**
     * Rank {@code rank} of {@code nranks} on {@code context}'s device (ncclCommInitRank). Blocks until every
     * rank has joined: call it from one thread per rank, or between group start and end.
     *
     * @param uniqueId the 128 bytes of {@link Nccl#uniqueId()}, the same on every rank
     */
    public static NcclCommunicator initRank(CudaContext context, int nranks, byte[] uniqueId, int rank) {
        Nccl.require("NcclCommunicator.initRank");
        if (uniqueId.length != nccl_h.NCCL_UNIQUE_ID_BYTES) {
            throw new IllegalArgumentException("an ncclUniqueId has " + nccl_h.NCCL_UNIQUE_ID_BYTES
                    + " bytes, got " + uniqueId.length + "; use Nccl.uniqueId()");
        }
        if (nranks < 1 || rank < 0 || rank >= nranks) {
            throw new IllegalArgumentException("rank must be in [0, nranks), got rank " + rank + " of " + nranks);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(nccl_h.C_POINTER);
            MemorySegment id = arena.allocate(nccl_h.ncclUniqueId);
            id.copyFrom(MemorySegment.ofArray(uniqueId));
            context.ensureCurrent();
            Nccl.check(nccl_h.ncclCommInitRank(out, nranks, id, rank), "ncclCommInitRank",
                    "rank " + rank + " of " + nranks);
            return new NcclCommunicator(context, out.get(nccl_h.C_POINTER, 0), rank, nranks);
        }
    }

    public int rank() {
        return rank;
    }

    public int size() {
        return size;
    }

    public CudaContext context() {
        return context;
    }

    /**
     * {@code recv[i] = Σ over ranks of send[i]} for {@code count} elements of {@code type} (F32 or BF16),
     * queued on {@code stream}. {@code send == recv} works in place.
     */
    public void allReduceSum(DeviceBuffer send, DeviceBuffer recv, long count, DType type, CudaStream stream) {
        int dataType = Nccl.dataType(type);
        requireBytes("allReduceSum", "send", send, count * type.byteSize());
        requireBytes("allReduceSum", "recv", recv, count * type.byteSize());
        context.ensureCurrent();
        check(nccl_h.ncclAllReduce(MemorySegment.ofAddress(send.address()), MemorySegment.ofAddress(recv.address()),
                count, dataType, nccl_h.ncclSum, handle(), stream.handle()), "ncclAllReduce",
                "sum of " + count + " " + type);
    }

    /**
     * {@code recv[r * sendCount .. (r + 1) * sendCount) = send of rank r}, for every rank r: recv holds
     * {@code size() * sendCount} elements. Queued on {@code stream}.
     */
    public void allGather(DeviceBuffer send, DeviceBuffer recv, long sendCount, DType type, CudaStream stream) {
        int dataType = Nccl.dataType(type);
        requireBytes("allGather", "send", send, sendCount * type.byteSize());
        requireBytes("allGather", "recv", recv, sendCount * size * type.byteSize());
        context.ensureCurrent();
        check(nccl_h.ncclAllGather(MemorySegment.ofAddress(send.address()), MemorySegment.ofAddress(recv.address()),
                sendCount, dataType, handle(), stream.handle()), "ncclAllGather",
                sendCount + " " + type + " per rank");
    }

    /** NCCL's message for this communicator's last error (ncclGetLastError); may be empty. */
    public String lastError() {
        MemorySegment s = nccl_h.ncclGetLastError(handle());
        return s.equals(MemorySegment.NULL) ? "" : s.getString(0);
    }

    /** Cancels work in flight and frees the communicator (ncclCommAbort); close then does nothing. */
    public void abort() {
        if (!closed) {
            closed = true;
            context.ensureCurrent();
            Nccl.check(nccl_h.ncclCommAbort(handle), "ncclCommAbort", "rank " + rank);
        }
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            context.ensureCurrent();
            Nccl.check(nccl_h.ncclCommDestroy(handle), "ncclCommDestroy", "rank " + rank);
        }
    }

    private void check(int code, String function, String what) {
        if (code != nccl_h.ncclSuccess) {
            String last = lastError();
            throw new NcclException(function, code, Nccl.errorString(code),
                    "rank " + rank + " of " + size + ", " + what + (last.isEmpty() ? "" : "; last error: " + last));
        }
    }

    private static void requireBytes(String op, String name, DeviceBuffer b, long bytes) {
        if (b.byteSize() < bytes) {
            throw new IllegalArgumentException(op + ": " + name + " needs " + bytes + " bytes, " + b + " has "
                    + b.byteSize());
        }
    }

    private MemorySegment handle() {
        if (closed) {
            throw new IllegalStateException("NCCL communicator (rank " + rank + ") is closed");
        }
        return handle;
    }

    @Override
    public String toString() {
        return "NcclCommunicator[rank " + rank + " of " + size + " on " + context.device() + "]";
    }
}
