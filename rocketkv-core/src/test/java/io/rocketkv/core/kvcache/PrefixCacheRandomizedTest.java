package io.rocketkv.core.kvcache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Pool accounting with block reuse under 20k seeded random operations, driven like the scheduler drives the manager:
 * admit (with the longest cached prefix, from a few shared prefixes), a step computing the admitted prompt (committed,
 * or failed and aborted), decode appends that fill and key blocks, preemption of the newest, abort, finish and
 * RocketKV's adoption of a compacted cache. An independent model records what every block holds (the token prefix
 * up to its end, written when a step "computes" it) and checks after every operation: no block is owned twice (a
 * block in two tables is a keyed prefix block at the same index of both), reference counts equal the tables and
 * reserves holding a block, no referenced block was ever handed out again (its contents are still the prefix its
 * sequences expect), keys never lie (a key names one content), hits are correct, and the cache is evicted before a
 * request is refused. At the end the pool is empty plus its cache.
 */
class PrefixCacheRandomizedTest {

    private static final int OPERATIONS = 20_000;
    private static final int MAX_LIVE = 24;

    /** The model of one live sequence. */
    private static final class Seq {
        int[] tokens;
        int computed;        // tokens whose K/V a committed step wrote (dense sequences)
        boolean compacted;   // its table holds a compacted cache: slot i is no longer token i
        boolean reserved;

        Seq(int[] tokens) {
            this.tokens = tokens;
        }
    }

    @ParameterizedTest(name = "blocks={0} tokensPerBlock={1} seed={2}")
    @CsvSource({"64, 4, 1", "40, 8, 2", "120, 2, 3", "30, 16, 4"})
    void accountingHoldsUnderRandomOperations(int numBlocks, int tpb, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        BlockPool pool = new BlockPool(numBlocks, tpb);
        KvCacheManager m = new KvCacheManager(pool, true);
        List<int[]> prefixes = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            prefixes.add(rnd.ints(tpb * (1 + rnd.nextInt(5)) + rnd.nextInt(tpb), 0, 50).toArray());
        }
        String[] content = new String[numBlocks];        // what each block holds: "p:<token prefix>" or "x:<owner>"
        Map<BlockHash, String> keyContent = new HashMap<>();
        LinkedHashMap<Long, Seq> live = new LinkedHashMap<>();  // admission order: the newest last
        long nextId = 0;
        int hits = 0;
        int refusals = 0;
        int admittedByEvicting = 0;
        int aborted = 0;

        for (int op = 0; op < OPERATIONS; op++) {
            int kind = rnd.nextInt(100);
            if (kind < 30 && live.size() < MAX_LIVE || live.isEmpty()) {           // admit + its prefill step
                long id = nextId++;
                int[] prefix = rnd.nextInt(10) < 8 ? prefixes.get(rnd.nextInt(prefixes.size())) : new int[0];
                int[] suffix = rnd.ints(1 + rnd.nextInt(3 * tpb), 0, 50).toArray();
                int[] tokens = concat(prefix, suffix);
                boolean rocket = rnd.nextInt(5) == 0;
                int budget = tpb * (1 + rnd.nextInt(2));
                int reserve = rocket && tokens.length > budget ? BlockTable.blocksNeeded(budget, tpb) : 0;
                int maxCached = reserve > 0 ? tokens.length - Math.min(tokens.length - 1, 3) : tokens.length - 1;
                PrefixHit hit = m.findCachedPrefix(tokens, maxCached);
                for (int i = 0; i < hit.numBlocks(); i++) {
                    assertEquals(prefixContent(tokens, i, tpb), content[hit.blocks()[i]], "hit block " + i + " holds "
                            + "another prefix");
                }
                int need = BlockTable.blocksNeeded(tokens.length, tpb) - hit.numBlocks() + reserve;
                int uncachedFree = pool.numFree() - pool.numCachedFree();
                if (!m.canAllocate(tokens.length, hit, reserve)) {
                    refusals++;
                    // refused only when evicting every cached free block (but the hit's) would not make room
                    assertTrue(need > pool.numFree() - hit.freeBlocks(), "refused although the cache could give way");
                    continue;
                }
                long evictionsBefore = pool.evictions();
                BlockTable t = m.allocate(id, tokens.length, hit, reserve);
                if (need > uncachedFree && pool.evictions() > evictionsBefore) {
                    admittedByEvicting++;
                }
                hits += hit.numBlocks() > 0 ? 1 : 0;
                Seq s = new Seq(tokens);
                s.reserved = reserve > 0;
                live.put(id, s);
                m.markComputed(id, tokens, tokens.length);
                if (rnd.nextInt(20) == 0) {                                       // the step fails
                    m.abortStep();
                    m.free(id);
                    live.remove(id);
                    aborted++;
                } else {
                    write(content, t, tokens, hit.numBlocks() * tpb, tokens.length, tpb, id);
                    m.commitStep();
                    s.computed = tokens.length;
                }
            } else if (kind < 70) {                                               // decode step of one sequence
                long id = pick(live, rnd);
                Seq s = live.get(id);
                if (s.reserved) {
                    continue; // still to be compacted: decodes only after stage 1
                }
                if (!m.canAppend(id)) {
                    long newest = live.lastEntry().getKey();                         // preempt the newest
                    m.free(newest);
                    live.remove(newest);
                    continue;
                }
                m.append(id);
                int tok = rnd.nextInt(50);
                s.tokens = Arrays.copyOf(s.tokens, s.tokens.length + 1);
                s.tokens[s.tokens.length - 1] = tok;
                BlockTable t = m.blockTable(id);
                if (s.compacted) {
                    content[t.blockId(t.numBlocks() - 1)] = "x:" + id;
                } else {
                    m.markComputed(id, s.tokens, s.tokens.length);
                    write(content, t, s.tokens, s.tokens.length - 1, s.tokens.length, tpb, id);
                    m.commitStep();
                    s.computed = s.tokens.length;
                }
            } else if (kind < 78) {                                               // RocketKV stage 1 adopted
                long id = pick(live, rnd);
                Seq s = live.get(id);
                if (!s.reserved) {
                    continue;
                }
                int kept = m.reservedBlocks(id).length * tpb - rnd.nextInt(tpb);
                m.adoptCompacted(id, kept);
                BlockTable t = m.blockTable(id);
                for (int i = 0; i < t.numBlocks(); i++) {
                    content[t.blockId(i)] = "x:" + id;
                }
                s.reserved = false;
                s.compacted = true;
            } else if (kind < 88) {                                               // abort (cancel) or finish
                long id = pick(live, rnd);
                m.free(id);
                live.remove(id);
            } else {                                                              // preempt the newest
                long newest = live.lastEntry().getKey();
                m.free(newest);
                live.remove(newest);
            }
            check(m, pool, live, content, keyContent);
        }
        assertTrue(hits > 1000, "only " + hits + " admissions hit the cache; tune the test");
        assertTrue(refusals > 0, "the pool never refused an admission; tune the test");
        assertTrue(admittedByEvicting > 0, "no admission needed an eviction; tune the test");
        assertTrue(aborted > 0, "no step failed; tune the test");

        for (long id : new ArrayList<>(live.keySet())) {
            m.free(id);
        }
        assertEquals(0, pool.numUsed());
        assertEquals(numBlocks, pool.numFree(), "empty ...");
        assertEquals(pool.numCached(), pool.numCachedFree(), "... plus the cache: every keyed block is free");
        for (int b = 0; b < numBlocks; b++) {
            assertEquals(0, pool.refCount(b));
            BlockHash key = pool.keyOf(b);
            if (key != null) {
                assertEquals(keyContent.get(key), content[b], "block " + b + " still holds what its key says");
            }
        }
    }

    private static void check(KvCacheManager m, BlockPool pool, Map<Long, Seq> live, String[] content,
                              Map<BlockHash, String> keyContent) {
        int tpb = pool.tokensPerBlock();
        int n = pool.numBlocks();
        int[] holders = new int[n];
        int[] indexIn = new int[n];
        Arrays.fill(indexIn, -1);
        boolean[] reserved = new boolean[n];
        assertEquals(live.keySet(), m.seqIds());
        for (var e : live.entrySet()) {
            long id = e.getKey();
            Seq s = e.getValue();
            BlockTable t = m.blockTable(id);
            boolean[] inThis = new boolean[n];
            for (int i = 0; i < t.numBlocks(); i++) {
                int b = t.blockId(i);
                if (inThis[b]) {
                    fail("block " + b + " twice in the table of sequence " + id);
                }
                inThis[b] = true;
                holders[b]++;
                if (holders[b] > 1 && (pool.keyOf(b) == null || indexIn[b] != i)) {
                    fail("block " + b + " is owned twice: shared but " + (pool.keyOf(b) == null ? "not a cached block"
                            : "at index " + i + " here and " + indexIn[b] + " elsewhere"));
                }
                indexIn[b] = i;
                boolean computedFull = !s.compacted && (i + 1) * tpb <= s.computed;
                if (computedFull && !prefixContent(s.tokens, i, tpb).equals(content[b])) {
                    fail("block " + b + " (index " + i + " of sequence " + id + ") was handed out again while referenced");
                }
            }
            int[] r = m.reservedBlocks(id);
            for (int i = 0; r != null && i < r.length; i++) {
                holders[r[i]]++;
                reserved[r[i]] = true;
            }
        }
        int free = 0;
        for (int b = 0; b < n; b++) {
            assertEquals(holders[b], pool.refCount(b), "reference count of block " + b);
            if (reserved[b] && holders[b] > 1) {
                fail("reserved block " + b + " is also in a table");
            }
            free += holders[b] == 0 ? 1 : 0;
            BlockHash key = pool.keyOf(b);
            if (key != null) {
                assertEquals(b, pool.lookup(key));
                String was = keyContent.putIfAbsent(key, content[b]);
                if (was != null && !was.equals(content[b])) {
                    fail("key of block " + b + " named " + was + " and now " + content[b]);
                }
                if (content[b] == null || !content[b].startsWith("p:")) {
                    fail("block " + b + " is keyed but holds " + content[b]);
                }
            }
        }
        assertEquals(free, pool.numFree());
        assertEquals(n, pool.numUsed() + pool.numFree());
    }

    /** Marks the blocks of tokens [from, to) written: full blocks hold their prefix, a partial one its owner's tail. */
    private static void write(String[] content, BlockTable t, int[] tokens, int from, int to, int tpb, long id) {
        for (int i = from / tpb; i < t.blocksNeeded(to); i++) {
            content[t.blockId(i)] = (i + 1) * tpb <= to ? prefixContent(tokens, i, tpb) : "x:" + id;
        }
    }

    private static String prefixContent(int[] tokens, int blockIndex, int tpb) {
        return "p:" + Arrays.toString(Arrays.copyOf(tokens, (blockIndex + 1) * tpb));
    }

    private static int[] concat(int[] a, int[] b) {
        int[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    private static long pick(Map<Long, Seq> live, SplittableRandom rnd) {
        int k = rnd.nextInt(live.size());
        for (long id : live.keySet()) {
            if (k-- == 0) {
                return id;
            }
        }
        throw new AssertionError();
    }
}
