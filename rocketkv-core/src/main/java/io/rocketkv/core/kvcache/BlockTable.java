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
 * <p>Read-only outside this package: {@link KvCacheManager} is the only writer.
 */
public final class BlockTable {

    private final int tokensPerBlock;
    private int[] blockIds;   // (capacity) first numBlocks entries valid, in token order
    private int numBlocks;
    private int numTokens;

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

    public int numBlocks() {
        return numBlocks;
    }

    /** The i-th block of the sequence (token order). */
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
        return blockIds[tokenIndex / tokensPerBlock] * tokensPerBlock + tokenIndex % tokensPerBlock;
    }

    /**
     * Writes the slots of tokens {@code [fromToken, toToken)} into {@code dst[dstOffset ..]}, one block run at a time.
     * The range must already be checked.
     */
    void copySlots(int fromToken, int toToken, int[] dst, int dstOffset) {
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

    /** Removes and returns the last block id. */
    int removeLastBlock() {
        if (numBlocks == 0) {
            throw new IllegalStateException("block table is empty");
        }
        return blockIds[--numBlocks];
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
        return "BlockTable[tokens=" + numTokens + ", blocks=" + Arrays.toString(blockIds()) + "]";
    }
}
