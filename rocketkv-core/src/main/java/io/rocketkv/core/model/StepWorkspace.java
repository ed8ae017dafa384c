package io.rocketkv.core.model;

import io.rocketkv.core.kernels.Kernels;
import io.rocketkv.core.kernels.Tensor;
import io.rocketkv.core.numeric.DType;

/**
 * The activation tensors of {@link Model#run}, allocated once for at most {@link #maxTokens()} tokens
 * and {@link #maxRows()} logit rows and reused by every step: kernels never allocate, the caller owns the
 * workspace (a prerequisite for CUDA graphs, whose captured pointers must not change between steps). A
 * step uses {@link Kernels#view row-views} of the first T (or R) rows of each buffer.
 *
 * <p>Buffers are [maxTokens, H] (residual {@code x}, normed {@code xn}, {@code proj}), [maxTokens, Hq·D]
 * ({@code q}, {@code attn}), [maxTokens, Hkv·D] ({@code k}, {@code v}), [maxTokens, I] ({@code gate},
 * {@code up}, and {@code act}, the SiLU product), and [maxRows, H] / [maxRows, V] for the final norm and the
 * logits. {@code xn}, {@code act} and the final norm's output are in the backend's
 * {@link Kernels#gemmInputDtype()} (they feed only matmuls); on the CPU {@code act} is {@code gate} itself. Contents are not
 * preserved between steps: every op of a step overwrites the rows it later reads.
 *
 * <p>{@link #ensureCapacity} grows the buffers (freeing the old ones) when a step needs more than they
 * hold; the model runner sizes the workspace so that this happens at most once (see {@code ModelRunner}). Growing
 * changes the device addresses, so anything captured against the old buffers (a CUDA graph) must be
 * re-captured. Not thread-safe: one workspace serves one step at a time.
 */
public final class StepWorkspace implements AutoCloseable {

    private final Kernels kernels;
    private final int hidden;
    private final int qDim;
    private final int kvDim;
    private final int inter;
    private final int vocab;
    private int maxTokens;
    private int maxRows;
    private Tensor x;
    private Tensor xn;
    private Tensor q;
    private Tensor k;
    private Tensor v;
    private Tensor attn;
    private Tensor proj;
    private Tensor gate;
    private Tensor up;
    private Tensor act;   // SiLU product in the GEMM input type; the gate buffer itself when that is F32
    private Tensor last;
    private Tensor lastNormed;
    private Tensor logits;
    private boolean closed;

    StepWorkspace(Kernels kernels, int hidden, int qDim, int kvDim, int inter, int vocab, int maxTokens, int maxRows) {
        if (maxTokens < 1 || maxRows < 1) {
            throw new IllegalArgumentException("a workspace needs at least one token and one row, got "
                    + maxTokens + " tokens and " + maxRows + " rows");
        }
        this.kernels = kernels;
        this.hidden = hidden;
        this.qDim = qDim;
        this.kvDim = kvDim;
        this.inter = inter;
        this.vocab = vocab;
        try {
            allocateTokens(maxTokens);
            allocateRows(maxRows);
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    /** The most tokens a step may have without {@link #ensureCapacity growing}. */
    public int maxTokens() {
        return maxTokens;
    }

    /** The most logit rows a step may have without {@link #ensureCapacity growing}. */
    public int maxRows() {
        return maxRows;
    }

    /**
     * Makes room for a step of {@code tokens} tokens and {@code rows} logit rows, reallocating the buffers
     * that are too small (their contents are lost). Returns whether anything was reallocated.
     */
    public boolean ensureCapacity(int tokens, int rows) {
        checkOpen();
        boolean grew = false;
        if (tokens > maxTokens) {
            int old = maxTokens;
            closeTokens();
            try {
                allocateTokens(tokens);
            } catch (RuntimeException e) {
                closeTokens(); // what was allocated of the larger size
                allocateTokens(old); // the freed size fits again: the workspace stays usable
                throw e;
            }
            grew = true;
        }
        if (rows > maxRows) {
            int old = maxRows;
            closeRows();
            try {
                allocateRows(rows);
            } catch (RuntimeException e) {
                closeRows();
                allocateRows(old);
                throw e;
            }
            grew = true;
        }
        return grew;
    }

    /** Bytes of a workspace for {@code tokens} tokens and {@code rows} rows with these sizes. */
    static long byteSize(int hidden, int qDim, int kvDim, int inter, int vocab, DType gemmInput, int tokens, int rows) {
        long f = Float.BYTES;
        long in = gemmInput.byteSize();
        long perToken = hidden * f * 2 + hidden * in + qDim * f * 2 + kvDim * f * 2 + inter * f * 2
                + (gemmInput == DType.F32 ? 0 : inter * in);
        long perRow = hidden * f + hidden * in + (long) vocab * f;
        return perToken * tokens + perRow * rows;
    }

    Tensor x() {
        return x;
    }

    Tensor xn() {
        return xn;
    }

    Tensor q() {
        return q;
    }

    Tensor k() {
        return k;
    }

    Tensor v() {
        return v;
    }

    Tensor attn() {
        return attn;
    }

    Tensor proj() {
        return proj;
    }

    Tensor gate() {
        return gate;
    }

    Tensor up() {
        return up;
    }

    Tensor act() {
        return act;
    }

    Tensor last() {
        return last;
    }

    Tensor lastNormed() {
        return lastNormed;
    }

    Tensor logits() {
        return logits;
    }

    boolean belongsTo(Kernels kernels) {
        return this.kernels == kernels;
    }

    void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the step workspace is closed");
        }
    }

    private void allocateTokens(int tokens) {
        DType in = kernels.gemmInputDtype();
        x = kernels.allocate(DType.F32, tokens, hidden);
        xn = kernels.allocate(in, tokens, hidden);
        q = kernels.allocate(DType.F32, tokens, qDim);
        k = kernels.allocate(DType.F32, tokens, kvDim);
        v = kernels.allocate(DType.F32, tokens, kvDim);
        attn = kernels.allocate(DType.F32, tokens, qDim);
        proj = kernels.allocate(DType.F32, tokens, hidden);
        gate = kernels.allocate(DType.F32, tokens, inter);
        up = kernels.allocate(DType.F32, tokens, inter);
        act = in == DType.F32 ? gate : kernels.allocate(in, tokens, inter);
        maxTokens = tokens;
    }

    private void allocateRows(int rows) {
        last = kernels.allocate(DType.F32, rows, hidden);
        lastNormed = kernels.allocate(kernels.gemmInputDtype(), rows, hidden);
        logits = kernels.allocate(DType.F32, rows, vocab);
        maxRows = rows;
    }

    private void closeTokens() {
        x = close(x);
        xn = close(xn);
        q = close(q);
        k = close(k);
        v = close(v);
        attn = close(attn);
        proj = close(proj);
        act = act == null || act == gate ? null : close(act);
        gate = close(gate);
        up = close(up);
        maxTokens = 0;
    }

    private void closeRows() {
        last = close(last);
        lastNormed = close(lastNormed);
        logits = close(logits);
        maxRows = 0;
    }

    private static Tensor close(Tensor t) {
        if (t != null) {
            t.close();
        }
        return null;
    }

    /** Frees the buffers; a second close does nothing. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        closeTokens();
        closeRows();
    }
}
