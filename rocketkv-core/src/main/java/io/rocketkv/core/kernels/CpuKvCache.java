package io.rocketkv.core.kernels;

import io.rocketkv.core.numeric.Bf16;
import io.rocketkv.core.numeric.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.ref.Cleaner;
import java.util.Arrays;

/**
 * One layer's paged KV cache on the CPU, off the JVM heap: {@code [numBlocks][K|V][kv_head][slot][head_dim]} in
 * F32 (the exact reference) or BF16 (the default: half the bytes, what a bf16 checkpoint's attention computes
 * with). Each block is a segment of its own, allocated zeroed from the cache's shared arena the first time a step
 * names it ({@link #ensure}), so a large pool costs memory only for the blocks in use and reads as zeros where
 * nothing was written. {@link #close} frees every block (a cache dropped without close is freed when the GC
 * finds it unreachable); an op that touches the cache afterwards, or while it closes, gets an
 * {@link IllegalStateException} from the arena, never a crash.
 *
 * <p>A row (one K or V vector of one token and KV head) is {@code headDim} contiguous little-endian elements at
 * byte {@link #kOffset} or {@link #vOffset} of its block's segment.
 *
 * <p>Public only for the row access of the SIMD attention ({@link io.rocketkv.core.kernels.simd.SimdAttention},
 * in the package that may use the Vector API): {@link #block}, {@link #kOffset}, {@link #vOffset}, the element
 * layouts and the row codecs. A cache is made by {@link CpuKernels#allocate} only.
 */
public final class CpuKvCache implements Tensor {

    /** Layout of an F32 element of a row. */
    public static final ValueLayout.OfFloat LE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;
    /** Layout of a BF16 element of a row (its bits). */
    public static final ValueLayout.OfShort LE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED;

    private final DType dtype;
    private final int[] shape;          // [numBlocks, 2, Hkv, tokensPerBlock, D]
    private final int kvHeads;
    private final int tokensPerBlock;
    private final int headDim;
    private final long rowBytes;        // D · element bytes
    private final long blockBytes;      // 2 · Hkv · tokensPerBlock · rowBytes
    private static final Cleaner CLEANER = Cleaner.create();

    private final Arena arena = Arena.ofShared();
    private final Cleaner.Cleanable freeing; // closes the arena once: close(), or the GC if close() never came
    private final MemorySegment[] blocks; // [numBlocks], null until ensured
    private int held;

    CpuKvCache(DType dtype, int... shape) {
        if (shape.length != 5 || shape[1] != 2) {
            throw new IllegalArgumentException("a CPU KV cache is [numBlocks, 2, Hkv, tokensPerBlock, D], got "
                    + Arrays.toString(shape));
        }
        for (int d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in KV cache shape " + Arrays.toString(shape));
            }
        }
        if (!supports(dtype)) {
            throw new IllegalArgumentException("the CPU KV cache holds F32 or BF16, got " + dtype);
        }
        this.dtype = dtype;
        this.shape = shape.clone();
        this.kvHeads = shape[2];
        this.tokensPerBlock = shape[3];
        this.headDim = shape[4];
        this.rowBytes = (long) headDim * dtype.byteSize();
        this.blockBytes = 2L * kvHeads * tokensPerBlock * rowBytes;
        this.blocks = new MemorySegment[shape[0]];
        this.freeing = CLEANER.register(this, arena::close);
    }

    static boolean supports(DType dtype) {
        return dtype == DType.F32 || dtype == DType.BF16;
    }

    @Override
    public DType dtype() {
        return dtype;
    }

    @Override
    public int[] shape() {
        return shape.clone();
    }

    @Override
    public int dim(int i) {
        return shape[i];
    }

    int numBlocks() {
        return blocks.length;
    }

    /** Blocks allocated so far (the cache's memory is {@code heldBlocks() · blockBytes()}). */
    synchronized int heldBlocks() {
        return held;
    }

    long blockBytes() {
        return blockBytes;
    }

    /** Allocates block {@code b} (zeroed) if no op reached it before. */
    synchronized void ensure(int b) {
        if (b < 0 || b >= blocks.length) {
            throw new IllegalArgumentException("block " + b + " is outside the cache's " + blocks.length + " blocks");
        }
        if (blocks[b] == null) {
            blocks[b] = arena.allocate(blockBytes, 64);
            held++;
        }
    }

    /**
     * Allocates every block the step names: its slots' blocks, each sequence's table up to its kvLen, and its
     * compact table (where stage 1 writes the kept cache).
     */
    void ensure(StepBatch b) {
        int tpb = tokensPerBlock;
        for (int slot : b.slotMapping()) {
            if (slot >= 0) {
                if (slot / tpb >= blocks.length) {
                    throw new IllegalArgumentException("slot " + slot + " is past the cache's " + blocks.length
                            + " blocks");
                }
                ensure(slot / tpb);
            }
        }
        for (int i = 0; i < b.numSeqs(); i++) {
            int[] table = b.blockTables()[i];
            int need = Math.min(table.length, (b.kvLens()[i] + tpb - 1) / tpb);
            for (int j = 0; j < need; j++) {
                ensure(table[j]);
            }
            if (b.compactTables() != null && b.compactTables()[i] != null) {
                for (int block : b.compactTables()[i]) {
                    ensure(block);
                }
            }
        }
    }

    /** Block {@code b}'s segment; it must have been {@link #ensure ensured}. */
    public MemorySegment block(int b) {
        MemorySegment s = blocks[b];
        if (s == null) {
            throw new IllegalStateException("block " + b + " of the KV cache was not named by the step");
        }
        return s;
    }

    /** Byte offset of K[kvHead][slot][0] in its block's segment. */
    public long kOffset(int kvHead, int slot) {
        return ((long) kvHead * tokensPerBlock + slot) * rowBytes;
    }

    /** Byte offset of V[kvHead][slot][0] in its block's segment. */
    public long vOffset(int kvHead, int slot) {
        return ((long) (kvHeads + kvHead) * tokensPerBlock + slot) * rowBytes;
    }

    /** Decodes the row at byte {@code off} of {@code seg} into {@code dst[dstOff .. dstOff + D)}. */
    void readRow(MemorySegment seg, long off, float[] dst, int dstOff) {
        readRow(dtype, seg, off, dst, dstOff, headDim);
    }

    /** Decodes {@code n} elements of {@code dtype} at byte {@code off} of {@code seg} into {@code dst[dstOff ..]}. */
    public static void readRow(DType dtype, MemorySegment seg, long off, float[] dst, int dstOff, int n) {
        if (dtype == DType.F32) {
            MemorySegment.copy(seg, LE_FLOAT, off, dst, dstOff, n);
        } else {
            for (int c = 0; c < n; c++) {
                dst[dstOff + c] = Bf16.decode(seg.get(LE_SHORT, off + 2L * c));
            }
        }
    }

    /** Encodes {@code src[srcOff .. srcOff + D)} into the row at byte {@code off} of {@code seg}. */
    void writeRow(float[] src, int srcOff, MemorySegment seg, long off) {
        writeRow(dtype, src, srcOff, seg, off, headDim);
    }

    /** Encodes {@code src[srcOff .. srcOff + n)} as {@code dtype} at byte {@code off} of {@code seg}. */
    public static void writeRow(DType dtype, float[] src, int srcOff, MemorySegment seg, long off, int n) {
        if (dtype == DType.F32) {
            MemorySegment.copy(src, srcOff, seg, LE_FLOAT, off, n);
        } else {
            for (int c = 0; c < n; c++) {
                seg.set(LE_SHORT, off + 2L * c, Bf16.encode(src[srcOff + c]));
            }
        }
    }

    /** Copies the K and V rows of (srcBlock, kvHead, srcSlot) to (dstBlock, kvHead, dstSlot), bit for bit. */
    void copyKv(int srcBlock, int srcSlot, int dstBlock, int dstSlot, int kvHead) {
        MemorySegment src = block(srcBlock);
        MemorySegment dst = block(dstBlock);
        MemorySegment.copy(src, kOffset(kvHead, srcSlot), dst, kOffset(kvHead, dstSlot), rowBytes);
        MemorySegment.copy(src, vOffset(kvHead, srcSlot), dst, vOffset(kvHead, dstSlot), rowBytes);
    }

    /** The value {@code x} becomes when stored in this cache (identity for F32, round to nearest for BF16). */
    float round(float x) {
        return dtype == DType.F32 ? x : Bf16.decode(Bf16.encode(x));
    }

    /** The whole cache as floats in its layout (blocks never written read as zeros). */
    float[] toFloats() {
        int perBlock = Math.toIntExact(blockBytes / dtype.byteSize());
        float[] out = new float[Math.toIntExact((long) perBlock * blocks.length)];
        for (int b = 0; b < blocks.length; b++) {
            MemorySegment s;
            synchronized (this) {
                s = blocks[b];
            }
            if (s != null) {
                readRow(dtype, s, 0, out, b * perBlock, perBlock);
            }
        }
        return out;
    }

    /** Fills the whole cache from {@code src} in its layout (allocating every block). */
    void upload(float[] src) {
        int perBlock = Math.toIntExact(blockBytes / dtype.byteSize());
        if ((long) perBlock * blocks.length != src.length) {
            throw new IllegalArgumentException("upload of " + src.length + " floats into " + Tensor.describe(this));
        }
        for (int b = 0; b < blocks.length; b++) {
            ensure(b);
            writeRow(dtype, src, b * perBlock, blocks[b], 0, perBlock);
        }
    }

    /** Frees every block; later ops on the cache throw {@link IllegalStateException}. Idempotent. */
    @Override
    public void close() {
        freeing.clean();
    }
}
