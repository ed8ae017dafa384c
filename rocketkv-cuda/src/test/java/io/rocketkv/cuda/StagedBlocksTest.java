package io.rocketkv.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.rocketkv.core.kernels.StepBatch;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link StagedBlocks} against a brute-force reading of its contract: every table entry a sequence's kvLen covers
 * maps to a copy whose source is that fp8 block, each fp8 block is copied once, entries past kvLen or released (−1)
 * stay −1.
 */
class StagedBlocksTest {

    @Test
    void sharedPrefixBlocksAreCopiedOnceAndTablesPointAtTheCopies() {
        // sequence 1 shares sequence 0's first two blocks (a cached prefix); sequence 2's table is longer than its kvLen;
        // sequence 3 released its first block (before a sliding window)
        int[][] tables = {{7, 3, 9}, {7, 3, 4, 11}, {5, 2, 8}, {-1, 12}};
        int[] kvLens = {40, 50, 17, 20};
        StagedBlocks s = StagedBlocks.of(batch(tables, kvLens), 16, 5);
        assertArrayEquals(new int[] {7, 3, 9, 4, 11, 5, 2, 12}, s.sources());
        assertArrayEquals(new int[] {0, 1, 2, -1, -1, 0, 1, 3, 4, -1, 5, 6, -1, -1, -1, -1, 7, -1, -1, -1}, s.tables());
        int[] image = s.image();
        assertEquals(8, s.tablesOffset());
        assertArrayEquals(s.sources(), Arrays.copyOf(image, s.count()));
        assertArrayEquals(s.tables(), Arrays.copyOfRange(image, s.tablesOffset(), image.length));
    }

    @Test
    void randomTablesAgreeWithBruteForce() {
        Random rnd = new Random(7);
        for (int trial = 0; trial < 200; trial++) {
            int p = 1 + rnd.nextInt(32);
            int seqs = 1 + rnd.nextInt(6);
            int maxBlocks = 1 + rnd.nextInt(12);
            int[][] tables = new int[seqs][];
            int[] kvLens = new int[seqs];
            for (int i = 0; i < seqs; i++) {
                tables[i] = new int[1 + rnd.nextInt(maxBlocks)];
                for (int j = 0; j < tables[i].length; j++) {
                    tables[i][j] = rnd.nextInt(41) - 1; // repeats across sequences: shared blocks; -1: released
                }
                kvLens[i] = rnd.nextInt(tables[i].length * p + 1);
            }
            StagedBlocks s = StagedBlocks.of(batch(tables, kvLens), p, maxBlocks);
            assertEquals(Arrays.stream(s.sources()).distinct().count(), s.count(), "each block copied once");
            for (int i = 0; i < seqs; i++) {
                int need = (kvLens[i] + p - 1) / p;
                for (int j = 0; j < maxBlocks; j++) {
                    int copy = s.tables()[i * maxBlocks + j];
                    if (j < need && tables[i][j] >= 0) {
                        assertEquals(tables[i][j], s.sources()[copy], "trial " + trial + " seq " + i + " block " + j);
                    } else {
                        assertEquals(-1, copy, "trial " + trial + " seq " + i + " entry " + j + " is past kvLen or released");
                    }
                }
            }
        }
    }

    private static StepBatch batch(int[][] tables, int[] kvLens) {
        int seqs = tables.length;
        int[] qStart = new int[seqs + 1];
        int[] rows = new int[seqs];
        for (int i = 0; i < seqs; i++) {
            qStart[i + 1] = i + 1;
            rows[i] = i;
        }
        int[] none = new int[seqs];
        Arrays.fill(none, -1);
        return new StepBatch(false, new int[seqs], new int[seqs], none, qStart, kvLens.clone(), tables, rows);
    }
}
