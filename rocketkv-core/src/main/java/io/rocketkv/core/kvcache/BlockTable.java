package io.rocketkv.core.kvcache;

import java.util.Arrays;

/**
 * One sequence's blocks, in token order, and the number of tokens they hold.
 *
 * <p>Token {@code t} of the sequence lives in block {@code blockId(t / tokensPerBlock)} at offset
 * {@code t % tokensPerBlock}, i.e. in cache slot {@code blockId * tokensPerBlock + offset}. The table always holds
 * exactly {@link #blocksNeeded(int) blocksNeeded(numTokens)} blocks. In FlashInfer's terms this is one row of a
 * CSR page table, with {@code last_page_len = }{@link #lastBlockLength()}.
 *
 * <p>Sliding-window attention: the blocks before {@link #firstHeldBlock()} went back to the pool (every layer's
 * window has passed them) and read as −1; token positions, slots and {@link #numBlocks()} stay those of the whole
 * sequence, so the table's width is unchanged and the attention ops, which start at the window, never read them.
 *
 * <p>Read-only outside this package: {@link KvCacheManager} is the only writer.
 */
public final class BlockTable {

    private final int tokensPerBlock;
    private int[] blockIds;   // (capacity) first numBlocks entries valid, in token order
    private int numBlocks;
    private int numTokens;
    private int firstHeld;    // blocks [0, firstHeld) are released (−1)

    BlockTable(int tokensPerBlock) {
        if (tokensPerBlock < 1) {
            throw new IllegalArgumentException("tokensPerBlock must be >= 1, got " + tokensPerBlock);
        }
        this.tokensPerBlock = tokensPerBlock;
        this.blockIds = new int[4];
    }

    /** Blocks needed to hold {@code numTokens} tokens: {@code ceil(numTokens / tokensPerBlock)}. */
    public static int blocksNeeded(int numTokens, int tokensPerBlock) {
        if (numTokens < 0) {
            throw new IllegalArgumentException("numTokens must be >= 0, got " + numTokens);
        }
        if (tokensPerBlock < 1) {
            throw new IllegalArgumentException("tokensPerBlock must be >= 1, got " + tokensPerBlock);
        }
        return (int) (((long) numTokens + tokensPerBlock - 1) / tokensPerBlock);
    }

    /** Blocks needed to hold {@code numTokens} tokens with this table's block size. */
    public int blocksNeeded(int numTokens) {
        return blocksNeeded(numTokens, tokensPerBlock);
    }

    public int tokensPerBlock() {
        return tokensPerBlock;
    }

    public int numTokens() {
        return numTokens;
    }

    /** Blocks of the whole sequence, released ones included: {@code blocksNeeded(numTokens)}. */
    public int numBlocks() {
        return numBlocks;
    }

    /** Blocks the sequence still holds: {@code numBlocks() − firstHeldBlock()}. */
    public int numHeldBlocks() {
        return numBlocks - firstHeld;
    }

    /** Index of the first block still held; the ones before it were released by a sliding window (−1). */
    public int firstHeldBlock() {
        return firstHeld;
    }

    /** The i-th block of the sequence (token order); −1 when a sliding window released it. */
    public int blockId(int i) {
        if (i < 0 || i >= numBlocks) {
            throw new IndexOutOfBoundsException("block index must be in [0, " + numBlocks + "), got " + i);
        }
        return blockIds[i];
    }

    /** A copy of the block ids, in token order. */
    public int[] blockIds() {
        return Arrays.copyOf(blockIds, numBlocks);
    }

    /** Copies the block ids into {@code dst[offset ..]}; returns how many were copied. */
    public int copyBlockIds(int[] dst, int offset) {
        System.arraycopy(blockIds, 0, dst, offset, numBlocks);
        return numBlocks;
    }

    /** Cache slot of token {@code tokenIndex}: {@code blockId(tokenIndex / tokensPerBlock) * tokensPerBlock + offset}. */
    public int slotOf(int tokenIndex) {
        if (tokenIndex < 0 || tokenIndex >= numTokens) {
            throw new IndexOutOfBoundsException("tokenIndex must be in [0, " + numTokens + "), got " + tokenIndex);
        }
        requireHeld(tokenIndex);
        return blockIds[tokenIndex / tokensPerBlock] * tokensPerBlock + tokenIndex % tokensPerBlock;
    }

    /**
     * Writes the slots of tokens {@code [fromToken, toToken)} into {@code dst[dstOffset ..]}, one block run at a time.
     * The range must already be checked.
     */
    void copySlots(int fromToken, int toToken, int[] dst, int dstOffset) {
        if (fromToken < toToken) {
            requireHeld(fromToken);
        }
        int out = dstOffset;
        int t = fromToken;
        while (t < toToken) {
            int blockIndex = t / tokensPerBlock;
            int blockStart = blockIndex * tokensPerBlock;
            int base = blockIds[blockIndex] * tokensPerBlock - blockStart;   // slot = base + token index
            int end = Math.min(toToken, blockStart + tokensPerBlock);
            for (; t < end; t++) {
                dst[out++] = base + t;
            }
        }
    }

    /** Tokens in the last block, 1..tokensPerBlock (0 when the table is empty): FlashInfer's {@code last_page_len}. */
    public int lastBlockLength() {
        return numTokens == 0 ? 0 : numTokens - (numBlocks - 1) * tokensPerBlock;
    }

    /** Whether one more token needs a new block (the last block is full, or there is none). */
    public boolean nextTokenNeedsBlock() {
        return numTokens == numBlocks * tokensPerBlock;
    }

    // ---- writes, by KvCacheManager only ----

    void addBlock(int blockId) {
        if (numBlocks == blockIds.length) {
            blockIds = Arrays.copyOf(blockIds, blockIds.length * 2);
        }
        blockIds[numBlocks++] = blockId;
    }

    /** Removes and returns the last block id (−1 for a released one). */
    int removeLastBlock() {
        if (numBlocks == 0) {
            throw new IllegalStateException("block table is empty");
        }
        firstHeld = Math.min(firstHeld, numBlocks - 1);
        return blockIds[--numBlocks];
    }

    /**
     * Marks blocks {@code [firstHeldBlock(), upTo)} released (−1) and returns their ids, for the caller to give back
     * to the pool; none when {@code upTo <= firstHeldBlock()}. The last block is never released.
     */
    int[] releaseBefore(int upTo) {
        int end = Math.min(upTo, numBlocks - 1);
        if (end <= firstHeld) {
            return new int[0];
        }
        int[] released = Arrays.copyOfRange(blockIds, firstHeld, end);
        Arrays.fill(blockIds, firstHeld, end, -1);
        firstHeld = end;
        return released;
    }

    private void requireHeld(int tokenIndex) {
        if (tokenIndex / tokensPerBlock < firstHeld) {
            throw new IllegalStateException("token " + tokenIndex + " lies in block " + tokenIndex / tokensPerBlock
                    + ", which a sliding window released (blocks before " + firstHeld + " are gone)");
        }
    }

    void setNumTokens(int numTokens) {
        if (blocksNeeded(numTokens) != numBlocks) {
            throw new IllegalStateException("numTokens " + numTokens + " needs " + blocksNeeded(numTokens)
                    + " blocks but the table holds " + numBlocks);
        }
        this.numTokens = numTokens;
    }

    @Override
    public String toString() {
        return "BlockTable[tokens=" + numTokens + ", blocks=" + Arrays.toString(blockIds())
                + (firstHeld > 0 ? ", released=" + firstHeld : "") + "]";
    }
}
