package io.rocketkv.core.kvcache;

/**
 * The KT cache's page pool: per KT page of {@code pageSize} consecutive cache slots, per layer and KV
 * head, the element-wise min and max of the keys (RocketKV's stage-2 predictor).
 *
 * <p>KT pages are laid out inside KV blocks: {@code pageSize} divides {@code tokensPerBlock}, so block
 * {@code b} owns KT pages {@code b · pagesPerBlock … b · pagesPerBlock + pagesPerBlock − 1}, and a
 * sequence's KT page {@code p} (slots {@code p·P … p·P + P − 1} of its cache) lives in the block that
 * holds those slots. The KT pool therefore grows and shrinks with the KV pool, needs no page table of
 * its own, and a page is never shared by two sequences. This class does the addressing and the
 * accounting; the memory is one tensor per layer, {@code [numBlocks · pagesPerBlock, min|max, kv_head,
 * head_dim]}, in the backend.
 */
public final class KtCacheManager {

    private final int tokensPerBlock;
    private final int pageSize;
    private final int pagesPerBlock;
    private final int numBlocks;
    private final long bytesPerPage; // all layers, all KV heads, min and max

    /**
     * @param pageSize        divides {@code tokensPerBlock}: a rule of the configuration, checked once where it is
     *                        built ({@code RocketKvParams.checkPageSize}), not again here
     * @param bytesPerElement bytes of one stored KT element: 1 for fp8 e5m2, 2 for bf16, 4 for the CPU's F32
     */
    public KtCacheManager(int numBlocks, int tokensPerBlock, int pageSize, int numLayers, int numKvHeads, int headDim,
                          int bytesPerElement) {
        this.tokensPerBlock = tokensPerBlock;
        this.pageSize = pageSize;
        this.pagesPerBlock = tokensPerBlock / pageSize;
        this.numBlocks = numBlocks;
        this.bytesPerPage = 2L * numLayers * numKvHeads * headDim * bytesPerElement;
    }

    public int pageSize() {
        return pageSize;
    }

    public int pagesPerBlock() {
        return pagesPerBlock;
    }

    /** KT pages in the pool (per layer). */
    public int numPages() {
        return numBlocks * pagesPerBlock;
    }

    /** Pages covering a cache of {@code cacheLen} slots (a partial last page counts). */
    public int pagesFor(int cacheLen) {
        return (cacheLen + pageSize - 1) / pageSize;
    }

    /** Bytes of KT cache a sequence holding {@code cacheLen} slots uses, all layers together. */
    public long bytesFor(int cacheLen) {
        return pagesFor(cacheLen) * bytesPerPage;
    }

    /** The pool page of a sequence's logical KT page {@code page}, through its block table. */
    public int physicalPage(int[] blockTable, int page) {
        int slot = page * pageSize;
        return blockTable[slot / tokensPerBlock] * pagesPerBlock + (slot % tokensPerBlock) / pageSize;
    }

    /** The pool page holding physical cache slot {@code slot} ({@code block · tokensPerBlock + offset}). */
    public int pageOfSlot(int slot) {
        return (slot / tokensPerBlock) * pagesPerBlock + (slot % tokensPerBlock) / pageSize;
    }
}
