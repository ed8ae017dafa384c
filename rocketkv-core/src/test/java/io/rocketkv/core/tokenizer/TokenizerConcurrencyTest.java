package io.rocketkv.core.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.rocketkv.core.tokenizer.TokenizerFixtures.GoldenCase;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** Four threads encoding and decoding the golden inputs at once, each in its own order, agree with the goldens. */
class TokenizerConcurrencyTest {
    private static final int THREADS = 4;

    @Test
    void freshTokenizerFilledConcurrently() throws Exception {
        // A fresh instance: the word cache is filled by the racing threads.
        check(Tokenizer.load(TokenizerFixtures.dir("llama2")), TokenizerFixtures.goldens("llama2"));
    }

    @Test
    void sharedTokenizer() throws Exception {
        check(TokenizerFixtures.tokenizer("llama3"), TokenizerFixtures.goldens("llama3"));
    }

    private static void check(Tokenizer tokenizer, List<GoldenCase> cases) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        try {
            List<Future<Integer>> results = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                List<GoldenCase> order = new ArrayList<>(cases);
                Collections.shuffle(order, new Random(t));
                results.add(pool.submit(() -> {
                    for (GoldenCase c : order) {
                        int[] ids = tokenizer.encode(c.text(), true);
                        assertArrayEquals(c.ids(), ids, () -> TokenizerFixtures.idMismatch("ids", c.text(), c.ids(), ids));
                        assertEquals(c.decoded(), tokenizer.decode(ids, false), c.label());
                    }
                    return order.size();
                }));
            }
            for (Future<Integer> result : results) {
                assertEquals(cases.size(), result.get());
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
