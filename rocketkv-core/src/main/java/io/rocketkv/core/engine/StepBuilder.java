package io.rocketkv.core.engine;

import io.rocketkv.core.kernels.StepBatch;
import io.rocketkv.core.kvcache.KvCacheManager;
import java.util.List;

/**
 * Turns a scheduled batch into the step's flat index arrays ({@link StepBatch}: token ids, positions, slots, query
 * starts, KV lengths, block tables, logit rows), once per step for every rank (the ranks share the block tables).
 */
final class StepBuilder {

    private StepBuilder() {
    }

    /**
     * A prefill step takes each sequence's chunk {@code [chunkStart, chunkEnd)} of its token list (prompt and, for a
     * recomputed sequence, its outputs; the whole list unless chunked), at positions and cache slots
     * {@code chunkStart …}, with kvLen {@code chunkEnd} and prefillLen the whole list's length; a decode step the last
     * token of each. Logits are wanted for the last token of each sequence (of a chunk that is not the last, the
     * engine does not sample them). A chunk starts past cached blocks too (block reuse): its first token follows
     * them. A sequence whose prefill the step ends and that reserved blocks for RocketKV's compacted cache gets them
     * as its compact table (copy-on-evict).
     */
    static StepBatch build(Scheduler.Batch batch, KvCacheManager kv) {
        List<Sequence> seqs = batch.seqs();
        int n = seqs.size();
        int total = 0;
        for (int i = 0; i < n; i++) {
            total += batch.prefill() ? batch.chunkEnd()[i] - batch.chunkStart()[i] : 1;
        }
        int[] ids = new int[total];
        int[] pos = new int[total];
        int[] slots = new int[total];
        int[] qStart = new int[n + 1];
        int[] kvLens = new int[n];
        int[][] tables = new int[n][];
        int[] logitRows = new int[n];
        int[] prefillLens = new int[n];
        int[][] compact = null;
        int t = 0;
        for (int i = 0; i < n; i++) {
            Sequence s = seqs.get(i);
            qStart[i] = t;
            int len = s.numTokens();
            if (batch.prefill()) {
                int from = batch.chunkStart()[i];
                int to = batch.chunkEnd()[i];
                prefillLens[i] = len;
                System.arraycopy(s.allTokens(), from, ids, t, to - from);
                kv.slotMapping(s.id, from, to, slots, t);
                for (int j = from; j < to; j++) {
                    pos[t + j - from] = j;
                }
                t += to - from;
                len = to;
                int[] reserved = batch.lastChunk()[i] ? kv.reservedBlocks(s.id) : null;
                if (reserved != null) {
                    compact = compact == null ? new int[n][] : compact;
                    compact[i] = reserved;
                }
            } else {
                // with RocketKV the cache holds fewer slots than the sequence has tokens: the new token goes to the
                // next cache slot but keeps its true position
                int cacheLen = kv.numTokens(s.id);
                ids[t] = s.lastToken();
                pos[t] = len - 1;
                kv.slotMapping(s.id, cacheLen - 1, cacheLen, slots, t);
                len = cacheLen;
                prefillLens[i] = cacheLen;
                t++;
            }
            kvLens[i] = len;
            tables[i] = kv.blockTable(s.id).blockIds();
            logitRows[i] = t - 1;
        }
        qStart[n] = t;
        return new StepBatch(batch.prefill(), ids, pos, slots, qStart, kvLens, tables, logitRows, prefillLens, compact);
    }
}
