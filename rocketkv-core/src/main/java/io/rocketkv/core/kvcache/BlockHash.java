package io.rocketkv.core.kvcache;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * The key of a full KV-cache block for prefix caching (vLLM v1's scheme): SHA-256 over the parent block's key and
 * the block's token ids, so equal keys mean equal token prefixes up to and including the block (a block's K/V depend
 * on every token before it). The first block's parent is {@link #ROOT}. Nothing else changes a block's K/V here: one
 * pool serves one model with one set of weights and one attention (no LoRA adapters, no multimodal inputs).
 *
 * <p>SHA-256 rather than a fast 64-bit hash: a collision would hand one request another prompt's K/V, and prompts
 * come from users (vLLM switched to SHA-256 for that reason). It costs about a microsecond per block of 32 tokens,
 * negligible beside the block's prefill. The JDK has it ({@code MessageDigest}), so no dependency is added.
 *
 * @param w0 bits 255..192 of the digest
 * @param w1 bits 191..128
 * @param w2 bits 127..64
 * @param w3 bits 63..0
 */
public record BlockHash(long w0, long w1, long w2, long w3) {

    /** The parent key of a sequence's first block. */
    public static final BlockHash ROOT = new BlockHash(0, 0, 0, 0);

    /** A SHA-256 digest; one per thread (the engine hashes on its own thread, tests on theirs). */
    private static final ThreadLocal<MessageDigest> SHA256 = ThreadLocal.withInitial(() -> {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e); // every Java platform must provide it
        }
    });

    /** The key of the block holding {@code tokens[from, to)} after the block whose key is {@code parent}. */
    public static BlockHash of(BlockHash parent, int[] tokens, int from, int to) {
        if (from < 0 || to < from || to > tokens.length) {
            throw new IndexOutOfBoundsException("token range [" + from + ", " + to + ") outside an array of "
                    + tokens.length);
        }
        byte[] in = new byte[32 + 4 * (to - from)];
        putLong(in, 0, parent.w0);
        putLong(in, 8, parent.w1);
        putLong(in, 16, parent.w2);
        putLong(in, 24, parent.w3);
        for (int i = from, o = 32; i < to; i++, o += 4) {
            int t = tokens[i];
            in[o] = (byte) (t >>> 24);
            in[o + 1] = (byte) (t >>> 16);
            in[o + 2] = (byte) (t >>> 8);
            in[o + 3] = (byte) t;
        }
        byte[] d = SHA256.get().digest(in);
        return new BlockHash(getLong(d, 0), getLong(d, 8), getLong(d, 16), getLong(d, 24));
    }

    private static void putLong(byte[] b, int o, long v) {
        for (int i = 0; i < 8; i++) {
            b[o + i] = (byte) (v >>> (56 - 8 * i));
        }
    }

    private static long getLong(byte[] b, int o) {
        long v = 0;
        for (int i = 0; i < 8; i++) {
            v = (v << 8) | (b[o + i] & 0xFF);
        }
        return v;
    }

    @Override
    public String toString() {
        return String.format("BlockHash[%016x…]", w0);
    }
}
