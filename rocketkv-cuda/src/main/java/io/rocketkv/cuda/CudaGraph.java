package io.rocketkv.cuda;

import io.rocketkv.cuda.bindings.cuda_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A CUDA graph captured from the work queued on a stream, instantiated once and replayed with one launch.
 * The captured launches keep their arguments: replays read and write the same buffers, so the caller
 * refreshes their contents between replays (nano-vllm's fixed-buffer graphs). Closing destroys the
 * executable graph and the graph.
 */
public final class CudaGraph implements AutoCloseable {

    private final CudaContext context;
    private MemorySegment graph; // CUgraph
    private final MemorySegment exec; // CUgraphExec
    private boolean closed;

    private CudaGraph(CudaContext context, MemorySegment graph, MemorySegment exec) {
        this.context = context;
        this.graph = graph;
        this.exec = exec;
    }

    /**
     * Captures everything {@code work} queues on {@code stream} (which must not be the legacy default
     * stream) in CU_STREAM_CAPTURE_MODE_GLOBAL, and instantiates it. Nothing runs during capture. If
     * {@code work} throws, the capture is ended and discarded and the exception propagates.
     */
    public static CudaGraph capture(CudaStream stream, Runnable work) {
        CudaContext context = stream.context();
        MemorySegment graph = record(stream, work);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(cuda_h.C_POINTER);
            int status = cuda_h.cuGraphInstantiateWithFlags(out, graph, 0L);
            if (status != cuda_h.CUDA_SUCCESS) {
                cuda_h.cuGraphDestroy(graph);
                CudaDriver.check(status, "cuGraphInstantiateWithFlags");
            }
            return new CudaGraph(context, graph, out.get(cuda_h.C_POINTER, 0));
        }
    }

    private static MemorySegment record(CudaStream stream, Runnable work) {
        if (stream.isDefault()) {
            throw new IllegalArgumentException("the legacy default stream cannot be captured; use a created stream");
        }
        stream.context().ensureCurrent();
        CudaDriver.check(cuda_h.cuStreamBeginCapture_v2(stream.handle(), cuda_h.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL),
                "cuStreamBeginCapture_v2");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(cuda_h.C_POINTER);
            try {
                work.run();
            } catch (RuntimeException | Error e) {
                stream.context().ensureCurrent();
                if (cuda_h.cuStreamEndCapture(stream.handle(), out) == cuda_h.CUDA_SUCCESS) {
                    MemorySegment g = out.get(cuda_h.C_POINTER, 0);
                    if (!g.equals(MemorySegment.NULL)) {
                        cuda_h.cuGraphDestroy(g);
                    }
                }
                throw e;
            }
            stream.context().ensureCurrent();
            CudaDriver.check(cuda_h.cuStreamEndCapture(stream.handle(), out), "cuStreamEndCapture");
            return out.get(cuda_h.C_POINTER, 0);
        }
    }

    /** Replays the graph on {@code stream}. */
    public void launch(CudaStream stream) {
        checkOpen();
        context.ensureCurrent();
        CudaDriver.check(cuda_h.cuGraphLaunch(exec, stream.handle()), "cuGraphLaunch");
    }

    /**
     * Captures {@code work} again and updates this executable graph in place to it (cuGraphExecUpdate),
     * which is cheaper than instantiating anew; works when only kernel arguments (buffers, sizes) changed,
     * not the topology. Returns false, leaving this graph as it was, when the driver refuses the update.
     */
    public boolean update(CudaStream stream, Runnable work) {
        checkOpen();
        MemorySegment fresh = record(stream, work);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment info = arena.allocate(cuda_h.CUgraphExecUpdateResultInfo);
            context.ensureCurrent();
            int status = cuda_h.cuGraphExecUpdate_v2(exec, fresh, info);
            if (status == cuda_h.CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE) {
                cuda_h.cuGraphDestroy(fresh);
                return false;
            }
            if (status != cuda_h.CUDA_SUCCESS) {
                cuda_h.cuGraphDestroy(fresh);
                CudaDriver.check(status, "cuGraphExecUpdate_v2");
            }
            CudaDriver.check(cuda_h.cuGraphDestroy(graph), "cuGraphDestroy");
            graph = fresh;
            return true;
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("CUDA graph is closed");
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (!context.isClosed()) {
            context.ensureCurrent();
            CudaDriver.check(cuda_h.cuGraphExecDestroy(exec), "cuGraphExecDestroy");
            CudaDriver.check(cuda_h.cuGraphDestroy(graph), "cuGraphDestroy");
        }
    }
}
