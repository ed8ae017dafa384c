package io.rocketkv.core.kernels;

import io.rocketkv.core.numeric.Bf16;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.numeric.Fp8E4M3;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.ref.Cleaner;
import java.util.Arrays;

/**
 * One layer's paged KV cache on the CPU, off the JVM heap: {@code [numBlocks][K|V][kv_head][slot][head_dim]} in
 * F32 (the exact reference), BF16 (the default: half the bytes, what a bf16 checkpoint's attention computes
 * with) or F8_E4M3 (a quarter of F32's bytes: each K element stored as {@code e4m3(x / kScale)} and read as
 * {@code e4m3 · kScale}, V likewise with {@code vScale}; the layer's two scales come from the checkpoint's
 * {@code k_scale} / {@code v_scale}, 1.0 where it has none, set once by {@link #setScales}). Each block is a segment of its own, allocated zeroed from the cache's shared arena the first time a step
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
    private volatile float kScale = 1f;
    private volatile float vScale = 1f;
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
            throw new IllegalArgumentException("the CPU KV cache holds F32, BF16 or F8_E4M3, got " + dtype);
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
        return dtype == DType.F32 || dtype == DType.BF16 || dtype == DType.F8_E4M3;
    }

    /**
     * The scales of an F8_E4M3 cache's K and V elements (stored value = x / scale); both must be positive and
     * finite. A cache of another dtype accepts only 1.0 (its values are stored unscaled).
     */
    public void setScales(float k, float v) {
        if (!(k > 0f && Float.isFinite(k) && v > 0f && Float.isFinite(v))) {
            throw new IllegalArgumentException("KV cache scales must be positive and finite, got k_scale " + k
                    + ", v_scale " + v);
        }
        if (dtype != DType.F8_E4M3 && (k != 1f || v != 1f)) {
            throw new IllegalArgumentException("a " + dtype + " KV cache stores values unscaled; k_scale " + k
                    + " and v_scale " + v + " apply to an F8_E4M3 cache only");
        }
        kScale = k;
        vScale = v;
    }

    /** The K elements' scale (1.0 unless an F8_E4M3 cache was given one). */
    public float kScale() {
        return kScale;
    }

    /** The V elements' scale (1.0 unless an F8_E4M3 cache was given one). */
    public float vScale() {
        return vScale;
    }

    /** The scale of the row at byte {@code off} of a block: K rows fill the first half of a block, V rows the second. */
    private float scaleAt(long off) {
        return off < blockBytes / 2 ? kScale : vScale;
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
                if (table[j] != -1) { // −1: a block a sliding window released, which attention never reads
                    ensure(table[j]);
                }
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

    /** Decodes the row at byte {@code off} of {@code seg} (a K or a V row) into {@code dst[dstOff .. dstOff + D)}. */
    void readRow(MemorySegment seg, long off, float[] dst, int dstOff) {
        readRow(dtype, scaleAt(off), seg, off, dst, dstOff, headDim);
    }

    /**
     * Decodes {@code n} elements of {@code dtype} at byte {@code off} of {@code seg} into {@code dst[dstOff ..]},
     * multiplying F8_E4M3 elements by {@code scale} (F32 and BF16 take 1.0).
     */
    public static void readRow(DType dtype, float scale, MemorySegment seg, long off, float[] dst, int dstOff, int n) {
        switch (dtype) {
            case F32 -> MemorySegment.copy(seg, LE_FLOAT, off, dst, dstOff, n);
            case BF16 -> {
                for (int c = 0; c < n; c++) {
                    dst[dstOff + c] = Bf16.decode(seg.get(LE_SHORT, off + 2L * c));
                }
            }
            case F8_E4M3 -> {
                for (int c = 0; c < n; c++) {
                    dst[dstOff + c] = Fp8E4M3.decode(seg.get(ValueLayout.JAVA_BYTE, off + c)) * scale;
                }
            }
            default -> throw new IllegalArgumentException("no KV row codec for " + dtype);
        }
    }

    /** Encodes {@code src[srcOff .. srcOff + D)} into the row at byte {@code off} of {@code seg} (a K or a V row). */
    void writeRow(float[] src, int srcOff, MemorySegment seg, long off) {
        writeRow(dtype, scaleAt(off), src, srcOff, seg, off, headDim);
    }

    /**
     * Encodes {@code src[srcOff .. srcOff + n)} as {@code dtype} at byte {@code off} of {@code seg}: F8_E4M3 stores
     * {@code e4m3(x / scale)} (round to nearest even, saturating at ±448).
     */
    public static void writeRow(DType dtype, float scale, float[] src, int srcOff, MemorySegment seg, long off, int n) {
        switch (dtype) {
            case F32 -> MemorySegment.copy(src, srcOff, seg, LE_FLOAT, off, n);
            case BF16 -> {
                for (int c = 0; c < n; c++) {
                    seg.set(LE_SHORT, off + 2L * c, Bf16.encode(src[srcOff + c]));
                }
            }
            case F8_E4M3 -> {
                for (int c = 0; c < n; c++) {
                    seg.set(ValueLayout.JAVA_BYTE, off + c, Fp8E4M3.encode(src[srcOff + c] / scale));
                }
            }
            default -> throw new IllegalArgumentException("no KV row codec for " + dtype);
        }
    }

    /** Copies the K and V rows of (srcBlock, kvHead, srcSlot) to (dstBlock, kvHead, dstSlot), bit for bit. */
    void copyKv(int srcBlock, int srcSlot, int dstBlock, int dstSlot, int kvHead) {
        MemorySegment src = block(srcBlock);
        MemorySegment dst = block(dstBlock);
        MemorySegment.copy(src, kOffset(kvHead, srcSlot), dst, kOffset(kvHead, dstSlot), rowBytes);
        MemorySegment.copy(src, vOffset(kvHead, srcSlot), dst, vOffset(kvHead, dstSlot), rowBytes);
    }

    /**
     * The value {@code x} reads back as once stored in this cache as a K element ({@code v} false) or a V element:
     * identity for F32, round to nearest for BF16, scaled e4m3 for F8_E4M3.
     */
    float round(float x, boolean v) {
        return switch (dtype) {
            case F32 -> x;
            case BF16 -> Bf16.decode(Bf16.encode(x));
            default -> {
                float scale = v ? vScale : kScale;
                yield Fp8E4M3.decode(Fp8E4M3.encode(x / scale)) * scale;
            }
        };
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
                int half = perBlock / 2;
                readRow(dtype, kScale, s, 0, out, b * perBlock, half);
                readRow(dtype, vScale, s, blockBytes / 2, out, b * perBlock + half, half);
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
            int half = perBlock / 2;
            writeRow(dtype, kScale, src, b * perBlock, blocks[b], 0, half);
            writeRow(dtype, vScale, src, b * perBlock + half, blocks[b], blockBytes / 2, half);
        }
    }

    /** Frees every block; later ops on the cache throw {@link IllegalStateException}. Idempotent. */
    @Override
    public void close() {
        freeing.clean();
    }
}
