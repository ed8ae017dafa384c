package io.rocketkv.core.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.kernels.CpuKernels;
import io.rocketkv.core.kernels.Kernels;
import io.rocketkv.core.kvcache.PrefixCacheStats;
import io.rocketkv.core.model.LlamaModel;
import io.rocketkv.core.model.ModelConfig;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.sparse.RocketKvParams;
import io.rocketkv.core.testing.ParityCheckpoints;
import io.rocketkv.core.testing.RandomCheckpoint;
import io.rocketkv.core.weights.SafeTensors;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Block reuse on the CPU engine: with reuse on, requests generate what they generate with it off (same greedy ids,
 * log-probabilities within 1e-5), dense and RocketKV (stage 1 evicting), on the parity checkpoints: a shared
 * 300-token prefix (ending mid-block: 18 blocks of 16 and 12 tokens) with 8 different suffixes, sent one after
 * another (each later one served 288 tokens from the cache) and all at once from 8 threads (one prefill step: the
 * later ones share the blocks the first computes in that step); a request whose whole prompt is cached, block-aligned
 * or not; a prompt continuing an earlier request's output (blocks its decode filled); under preemption, abort and
 * chunked prefill. The pool ends with no block used and the prefix cached.
 */
class BlockReuseTest {

    private static final int TPB = 16;
    private static final int PREFIX = 300;
    private static final int[] SUFFIXES = {1, 5, 13, 20, 31, 40, 57, 64};
    private static final int MAX_TOKENS = 8;
    private static final double TOLERANCE = 1e-5;

    @TempDir
    static Path dir;

    /** The parity checkpoints whose RoPE does not change with the length: the engine turns reuse off for the others. */
    static Stream<Arguments> checkpoints() {
        return ParityCheckpoints.all().entrySet().stream()
                .filter(e -> e.getValue().ropeScaling() == null || !e.getValue().ropeScaling().dependsOnLength())
                .map(e -> Arguments.of(e.getKey(), e.getValue()));
    }

    private record Loaded(LlamaModel model, CpuKernels kernels, SafeTensors weights) implements AutoCloseable {
        @Override
        public void close() {
            weights.close();
        }
    }

    private static Loaded load(String name, RandomCheckpoint ckpt) throws Exception {
        Path d = dir.resolve(name);
        if (!Files.exists(d.resolve("model.safetensors"))) {
            ckpt.write(d);
        }
        SafeTensors weights = SafeTensors.open(d);
        CpuKernels kernels = new CpuKernels();
        return new Loaded(LlamaModel.load(ModelConfig.load(d), weights, kernels, TPB), kernels, weights);
    }

    /** Evicting: budget 96 below every prompt here, a 32-query window. */
    private static RocketKvParams rocket(RandomCheckpoint ckpt) {
        return RocketKvParams.builder().windowSize(32).kernelSize(15).promptBudget(96).topk(8).topr(ckpt.headDim())
                .pageSize(4).ktDtype(DType.F8_E5M2).build();
    }

    private static EngineConfig config(RocketKvParams rk, int numBlocks) {
        return new EngineConfig(8, 4096, 1024, TPB, numBlocks, rk);
    }

    /** The shared prefix followed by each suffix. */
    static List<int[]> sharedPrefixPrompts(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] prefix = r.ints(PREFIX, 0, 296).toArray();
        List<int[]> out = new ArrayList<>();
        for (int s : SUFFIXES) {
            int[] p = Arrays.copyOf(prefix, PREFIX + s);
            System.arraycopy(r.ints(s, 0, 296).toArray(), 0, p, PREFIX, s);
            out.add(p);
        }
        return out;
    }

    private static GenerationRequest greedy(int[] prompt, int maxTokens) {
        return new GenerationRequest(prompt, SamplingOptions.builder().temperature(0).logprobs(0).build(),
                StopCriteria.builder().maxTokens(maxTokens).ignoreEos(true).build(), null);
    }

    /** Each prompt after the previous one finished. */
    private static List<GenerationResult> oneAfterAnother(Engine engine, List<int[]> prompts) throws Exception {
        List<GenerationResult> out = new ArrayList<>();
        for (int[] p : prompts) {
            out.add(engine.submit(greedy(p, MAX_TOKENS)).get(120, TimeUnit.SECONDS));
        }
        return out;
    }

    /** Every prompt submitted at the same moment, each from its own thread. */
    private static List<GenerationResult> allAtOnce(Engine engine, List<int[]> prompts) throws Exception {
        CountDownLatch go = new CountDownLatch(1);
        List<CompletableFuture<CompletableFuture<GenerationResult>>> submitted = new ArrayList<>();
        for (int[] p : prompts) {
            submitted.add(CompletableFuture.supplyAsync(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
                return engine.submit(greedy(p, MAX_TOKENS));
            }, r -> Thread.ofPlatform().start(r)));
        }
        go.countDown();
        List<GenerationResult> out = new ArrayList<>();
        for (var s : submitted) {
            out.add(s.get(30, TimeUnit.SECONDS).get(120, TimeUnit.SECONDS));
        }
        return out;
    }

    private static void assertSame(List<GenerationResult> expected, List<GenerationResult> actual, String what) {
        assertEquals(expected.size(), actual.size());
        for (int i = 0; i < expected.size(); i++) {
            GenerationResult e = expected.get(i);
            GenerationResult a = actual.get(i);
            assertArrayEquals(e.outputIds(), a.outputIds(), what + " prompt " + i + ": greedy ids");
            for (int t = 0; t < e.tokens().size(); t++) {
                assertEquals(e.tokens().get(t).logprob(), a.tokens().get(t).logprob(), TOLERANCE,
                        what + " prompt " + i + " token " + t);
            }
            assertEquals(e.metrics().cacheTokens(), a.metrics().cacheTokens(), what + " prompt " + i + ": cache tokens");
        }
    }

    /**
     * Dynamic RoPE rotates a prompt with the frequencies of its whole length, so a block one prompt cached would not
     * fit another: the engine turns reuse off, and the outputs equal the engine without reuse.
     */
    @Test
    void lengthDependentRopeTurnsReuseOff() throws Exception {
        List<int[]> prompts = sharedPrefixPrompts(3);
        try (Loaded m = load("dynamic", ParityCheckpoints.LLAMA_DYNAMIC)) {
            List<GenerationResult> plain = new ArrayList<>();
            try (Engine engine = new Engine(m.model(), m.kernels(), config(null, 512), ids -> "")) {
                for (int[] p : prompts) {
                    plain.add(engine.submit(greedy(p, 8)).get(120, TimeUnit.SECONDS));
                }
            }
            try (Engine engine = new Engine(m.model(), m.kernels(), config(null, 512).withBlockReuse(true), ids -> "")) {
                assertFalse(engine.config().blockReuse());
                for (int i = 0; i < prompts.size(); i++) {
                    GenerationResult r = engine.submit(greedy(prompts.get(i), 8)).get(120, TimeUnit.SECONDS);
                    assertArrayEquals(plain.get(i).outputIds(), r.outputIds(), "prompt " + i);
                    assertEquals(0, r.metrics().cachedPromptTokens(), "prompt " + i + ": nothing reused");
                }
                assertEquals(0, engine.prefixCacheStats().cachedBlocks());
            }
        }
    }

    private static int[] cached(List<GenerationResult> rs) {
        return rs.stream().mapToInt(r -> r.metrics().cachedPromptTokens()).toArray();
    }

    private static void assertPoolEmptyPlusCache(Engine engine, String what) {
        assertPoolEmptyPlusCache(engine, what, PREFIX / TPB);
    }

    private static void assertPoolEmptyPlusCache(Engine engine, String what, int minCached) {
        assertEquals(0, engine.usedKvBlocks(), what + ": every block is free");
        PrefixCacheStats st = engine.prefixCacheStats();
        assertTrue(st.cachedBlocks() >= minCached, what + ": at least " + minCached + " blocks stay cached, got " + st);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("checkpoints")
    void sharedPrefixWithEightSuffixesEqualsNoReuseDenseAndRocketKv(String name, RandomCheckpoint ckpt)
            throws Exception {
        List<int[]> prompts = sharedPrefixPrompts(11);
        try (Loaded m = load(name, ckpt)) {
            for (RocketKvParams rk : new RocketKvParams[] {null, rocket(ckpt)}) {
                String what = name + (rk == null ? " dense" : " RocketKV");
                List<GenerationResult> expected;
                try (Engine off = new Engine(m.model(), m.kernels(), config(rk, 320), ids -> "")) {
                    expected = oneAfterAnother(off, prompts);
                    assertArrayEquals(new int[SUFFIXES.length], cached(expected), "reuse off serves nothing cached");
                    assertEquals(0, off.prefixCacheStats().hitTokens());
                }
                try (Engine on = new Engine(m.model(), m.kernels(), config(rk, 320).withBlockReuse(true), ids -> "")) {
                    List<GenerationResult> seq = oneAfterAnother(on, prompts);
                    assertSame(expected, seq, what + ", one after another");
                    int[] want = new int[SUFFIXES.length];
                    for (int i = 1; i < want.length; i++) {
                        // the prefix's 18 full blocks; RocketKV keeps its 32-token window out of the cache
                        int maxCached = rk == null ? PREFIX + SUFFIXES[i] - 1 : PREFIX + SUFFIXES[i] - 32;
                        want[i] = Math.min(PREFIX / TPB, maxCached / TPB) * TPB;
                    }
                    assertArrayEquals(want, cached(seq), what + ": prompt tokens served from the cache");
                    if (rk != null) {
                        assertEquals(96 + MAX_TOKENS - 1, seq.get(3).metrics().cacheTokens(), "stage 1 compacted");
                    }
                    assertPoolEmptyPlusCache(on, what);
                }
                try (Engine on = new Engine(m.model(), m.kernels(), config(rk, 320).withBlockReuse(true), ids -> "")) {
                    List<GenerationResult> together = allAtOnce(on, prompts);
                    assertSame(expected, together, what + ", all at once");
                    long sharing = Arrays.stream(cached(together)).filter(c -> c > 0).count();
                    assertTrue(sharing >= SUFFIXES.length - 1, what + ": " + sharing
                            + " of 8 requests submitted together shared the prefix");
                    assertPoolEmptyPlusCache(on, what + ", all at once");
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("checkpoints")
    void aWholeCachedPromptRecomputesOnlyItsTailAndAContinuationReusesDecodedBlocks(String name,
            RandomCheckpoint ckpt) throws Exception {
        SplittableRandom r = new SplittableRandom(5);
        int[] odd = r.ints(157, 0, 296).toArray();      // 9 full blocks and 13 tokens
        int[] aligned = r.ints(160, 0, 296).toArray();  // 10 full blocks: the last is recomputed
        try (Loaded m = load(name, ckpt)) {
            for (RocketKvParams rk : new RocketKvParams[] {null, rocket(ckpt)}) {
                String what = name + (rk == null ? " dense" : " RocketKV");
                List<GenerationResult> expected;
                List<int[]> prompts = new ArrayList<>(List.of(odd, odd, aligned, aligned));
                try (Engine off = new Engine(m.model(), m.kernels(), config(rk, 128), ids -> "")) {
                    expected = oneAfterAnother(off, prompts);
                    if (rk == null) {
                        // the next turn of a chat: the first answer's prompt and outputs, then more tokens
                        prompts.add(continuation(odd, expected.get(0), r));
                        expected.add(oneAfterAnother(off, List.of(prompts.get(4))).getFirst());
                    }
                }
                try (Engine on = new Engine(m.model(), m.kernels(), config(rk, 128).withBlockReuse(true), ids -> "")) {
                    List<GenerationResult> actual = oneAfterAnother(on, prompts);
                    assertSame(expected, actual, what);
                    int[] c = cached(actual);
                    assertEquals(0, c[0]);
                    assertEquals(rk == null ? 144 : 112, c[1], what + ": all full blocks but the window / last token");
                    assertEquals(rk == null ? 144 : 128, c[3], what + ": a block-aligned prompt recomputes its tail");
                    if (rk == null) {
                        // 157 prompt + 8 outputs: 10 full blocks, the 10th filled by a decode step
                        assertEquals(160, c[4], what + ": the continuation reuses the block the decode filled");
                    }
                    assertPoolEmptyPlusCache(on, what);
                }
            }
        }
    }

    private static int[] continuation(int[] prompt, GenerationResult first, SplittableRandom r) {
        int[] out = first.outputIds();
        int[] next = Arrays.copyOf(prompt, prompt.length + out.length + 7);
        System.arraycopy(out, 0, next, prompt.length, out.length);
        System.arraycopy(r.ints(7, 0, 296).toArray(), 0, next, prompt.length + out.length, 7);
        return next;
    }

    /**
     * A tight pool and 8 shared-prefix requests (48 new tokens each, 200 with RocketKV, whose compacted caches are
     * small): decodes preempt the newest requests, whose
     * recompute finds its prompt (and, dense, its outputs) cached; one request is cancelled midway. Dense outputs
     * equal a roomy pool's without reuse. Under RocketKV a recompute runs stage 1 over prompt and outputs, so a
     * preempted request's output depends on when it was preempted (with reuse or without); those never preempted
     * equal the roomy pool's. The pool ends empty plus cache.
     */
    @Test
    void underPreemptionAndAbortReuseChangesNothing() throws Exception {
        RandomCheckpoint ckpt = ParityCheckpoints.LLAMA;
        List<int[]> prompts = sharedPrefixPrompts(12);
        try (Loaded m = load("llama", ckpt)) {
            for (RocketKvParams rk : new RocketKvParams[] {null, rocket(ckpt)}) {
                String what = rk == null ? "dense" : "RocketKV";
                int maxTokens = rk == null ? 48 : 200;
                List<GenerationResult> expected = new ArrayList<>();
                try (Engine roomy = new Engine(m.model(), m.kernels(), config(rk, 512), ids -> "")) {
                    for (int[] p : prompts) {
                        expected.add(roomy.submit(greedy(p, maxTokens)).get(120, TimeUnit.SECONDS));
                    }
                }
                int blocks = rk == null ? 56 : 36;
                try (Engine tight = new Engine(m.model(), m.kernels(), config(rk, blocks).withBlockReuse(true),
                        ids -> "")) {
                    CountDownLatch sixthStarted = new CountDownLatch(1);
                    List<CompletableFuture<GenerationResult>> fs = new ArrayList<>();
                    for (int i = 0; i < prompts.size(); i++) {
                        int k = i;
                        fs.add(tight.submit(new GenerationRequest(prompts.get(i),
                                SamplingOptions.builder().temperature(0).logprobs(0).build(),
                                StopCriteria.builder().maxTokens(maxTokens).ignoreEos(true).build(), ev -> {
                                    if (k == 5) {
                                        sixthStarted.countDown();
                                    }
                                })));
                    }
                    assertTrue(sixthStarted.await(120, TimeUnit.SECONDS));
                    fs.get(5).cancel(true);
                    List<GenerationResult> actual = new ArrayList<>();
                    List<GenerationResult> wanted = new ArrayList<>();
                    int preemptions = 0;
                    for (int i = 0; i < fs.size(); i++) {
                        if (i == 5) {
                            continue;
                        }
                        GenerationResult got = fs.get(i).get(120, TimeUnit.SECONDS);
                        assertEquals(maxTokens, got.outputIds().length);
                        preemptions += got.metrics().preemptions();
                        if (rk == null || got.metrics().preemptions() == 0) {
                            actual.add(got);
                            wanted.add(expected.get(i));
                        }
                    }
                    assertTrue(actual.size() >= 2, what + ": " + actual.size() + " outputs compared");
                    assertSame(wanted, actual, what + " under preemption and abort");
                    assertTrue(preemptions > 0, what + ": the tight pool preempted nothing; tune the test");
                    awaitIdle(tight);
                    assertPoolEmptyPlusCache(tight, what, 0); // a tight pool may have evicted every cached block
                    assertTrue(tight.prefixCacheStats().hitTokens() > 0);
                }
            }
        }
    }

    /** A cached prefix, then the rest in chunks of 48: RocketKV's window spans chunks past the cached blocks. */
    @Test
    void chunkedPrefillAfterACachedPrefixEqualsNoReuse() throws Exception {
        RandomCheckpoint ckpt = ParityCheckpoints.LLAMA;
        SplittableRandom r = new SplittableRandom(13);
        int[] prefix = r.ints(200, 0, 296).toArray();
        List<int[]> prompts = IntStream.range(0, 3).mapToObj(i -> {
            int[] p = Arrays.copyOf(prefix, 200 + 90 + i);
            System.arraycopy(r.ints(90 + i, 0, 296).toArray(), 0, p, 200, 90 + i);
            return p;
        }).toList();
        try (Loaded m = load("llama", ckpt)) {
            for (RocketKvParams rk : new RocketKvParams[] {null, rocket(ckpt)}) {
                EngineConfig whole = config(rk, 256);
                EngineConfig chunked = new EngineConfig(8, 48, 1024, TPB, 256, rk).withChunkedPrefill(true)
                        .withBlockReuse(true);
                List<GenerationResult> expected;
                try (Engine off = new Engine(m.model(), m.kernels(), whole, ids -> "")) {
                    expected = oneAfterAnother(off, prompts);
                }
                try (Engine on = new Engine(m.model(), m.kernels(), chunked, ids -> "")) {
                    List<GenerationResult> actual = oneAfterAnother(on, prompts);
                    assertSame(expected, actual, (rk == null ? "dense" : "RocketKV") + ", chunks after a cached prefix");
                    assertEquals(192, actual.get(1).metrics().cachedPromptTokens());
                }
            }
        }
    }

    /**
     * A prefill step that fails midway (after the first layer wrote its K/V, before any other did) leaves no key
     * behind: the same prompt sent again is prefilled whole, generates what it would without reuse, and only then
     * is served from the cache.
     */
    @Test
    void theBlocksOfAFailedStepAreNotReused() throws Exception {
        Path d = dir.resolve("llama");
        if (!Files.exists(d.resolve("model.safetensors"))) {
            ParityCheckpoints.LLAMA.write(d);
        }
        CpuKernels cpu = new CpuKernels();
        AtomicBoolean fail = new AtomicBoolean();
        Kernels failing = (Kernels) Proxy.newProxyInstance(Kernels.class.getClassLoader(), new Class<?>[] {Kernels.class},
                (proxy, m, args) -> {
                    if (fail.get() && m.getName().equals("prefillAttention")) {
                        throw new IllegalStateException("injected failure of a prefill step");
                    }
                    try {
                        return m.invoke(cpu, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
        int[] prompt = sharedPrefixPrompts(14).get(2);
        try (SafeTensors weights = SafeTensors.open(d)) {
            LlamaModel model = LlamaModel.load(ModelConfig.load(d), weights, failing, TPB);
            List<GenerationResult> expected;
            try (Engine off = new Engine(model, failing, config(null, 128), ids -> "")) {
                expected = oneAfterAnother(off, List.of(prompt));
            }
            try (Engine on = new Engine(model, failing, config(null, 128).withBlockReuse(true), ids -> "")) {
                fail.set(true);
                var e = assertThrows(ExecutionException.class,
                        () -> on.submit(greedy(prompt, MAX_TOKENS)).get(60, TimeUnit.SECONDS));
                assertTrue(e.getCause().getMessage().contains("injected"), e.getCause().toString());
                fail.set(false);
                assertEquals(0, on.usedKvBlocks());
                assertEquals(0, on.prefixCacheStats().cachedBlocks(), "no block of the failed step stays cached");
                List<GenerationResult> again = oneAfterAnother(on, List.of(prompt, prompt));
                assertEquals(0, again.get(0).metrics().cachedPromptTokens(), "nothing of the failed step is reused");
                assertEquals(304, again.get(1).metrics().cachedPromptTokens());
                assertSame(expected, again.subList(0, 1), "after a failed step");
                assertSame(expected, again.subList(1, 2), "served from the cache after a failed step");
            }
        }
    }

    private static void awaitIdle(Engine engine) throws InterruptedException {
        for (int i = 0; i < 100 && engine.usedKvBlocks() != 0; i++) {
            Thread.sleep(20); // the cancelled request is removed between steps
        }
    }
}
