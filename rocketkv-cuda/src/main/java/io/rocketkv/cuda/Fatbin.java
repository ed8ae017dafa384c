package io.rocketkv.cuda;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads the table of contents of an nvcc fatbin: which SASS (ELF cubin) and PTX images it holds for which
 * architectures. Used to check the build's output and to explain a module that has no code for a device.
 *
 * <p>Layout (little-endian, as nvcc 12 and 13 write it; not a documented format): a 16-byte container
 * header {@code u32 magic 0xBA55ED50, u16 version, u16 headerSize, u64 payloadSize}, then entries, each
 * {@code u16 kind (1 = PTX, 2 = ELF), u16 version, u32 headerSize, u64 payloadSize, ..., u32 arch at
 * byte 28}, its header followed by its payload. Every read is bounds-checked: a malformed image gives
 * {@link IllegalArgumentException}, never a crash.
 */
public final class Fatbin {

    public static final int MAGIC = 0xBA55ED50;

    /** PTX (JIT-compiled by the driver for its architecture and later ones) or SASS (one architecture family). */
    public enum Kind { PTX, SASS }

    /** One image: its kind, its architecture as in {@code sm_90} (90), and its stored size. */
    public record Entry(Kind kind, int arch, long payloadBytes) {
        /** Whether the driver can run this image on a device of compute capability {@code cc}. */
        public boolean runsOn(CudaDevice.ComputeCapability cc) {
            return kind == Kind.PTX ? arch <= cc.smVersion()
                    : arch / 10 == cc.major() && arch % 10 <= cc.minor();
        }

        @Override
        public String toString() {
            return (kind == Kind.PTX ? "compute_" : "sm_") + arch;
        }
    }

    private Fatbin() {
    }

    /** True when {@code image} starts with the fatbin magic number. */
    public static boolean isFatbin(byte[] image) {
        return image.length >= 16 && ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN).getInt(0) == MAGIC;
    }

    /** The images in a fatbin, in file order. */
    public static List<Entry> entries(byte[] image) {
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        List<Entry> out = new ArrayList<>();
        long pos = 0;
        while (pos + 16 <= image.length) {
            if (b.getInt((int) pos) != MAGIC) {
                if (out.isEmpty()) {
                    throw new IllegalArgumentException("not a fatbin: magic 0x" + Integer.toHexString(b.getInt((int) pos))
                            + " instead of 0x" + Integer.toHexString(MAGIC));
                }
                break; // trailing padding
            }
            int headerSize = Short.toUnsignedInt(b.getShort((int) pos + 6));
            long size = b.getLong((int) pos + 8);
            long end = pos + headerSize + size;
            if (headerSize < 16 || size < 0 || end > image.length) {
                throw new IllegalArgumentException("fatbin container at " + pos + " claims " + size
                        + " bytes past its header; the image has " + image.length);
            }
            long e = pos + headerSize;
            while (e + 32 <= end) {
                int kind = Short.toUnsignedInt(b.getShort((int) e));
                long entryHeader = Integer.toUnsignedLong(b.getInt((int) e + 4));
                long payload = b.getLong((int) e + 8);
                int arch = b.getInt((int) e + 28);
                if (entryHeader < 32 || payload < 0 || e + entryHeader + payload > end || (kind != 1 && kind != 2)) {
                    throw new IllegalArgumentException("malformed fatbin entry at byte " + e);
                }
                out.add(new Entry(kind == 1 ? Kind.PTX : Kind.SASS, arch, payload));
                e += entryHeader + payload;
            }
            pos = end;
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("fatbin of " + image.length + " bytes holds no images");
        }
        return out;
    }
}
