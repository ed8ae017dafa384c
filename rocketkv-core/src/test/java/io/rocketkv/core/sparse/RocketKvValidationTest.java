package io.rocketkv.core.sparse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Every argument error of {@link RocketKv}: the exception type and the exact message (name, value, range). */
class RocketKvValidationTest {

    // A valid stage-1 call: H 4, Hkv 2, D 8, L 20, W 4, kernel 3, B 10.
    private static final float[] Q_WIN = new float[4 * 4 * 8];
    private static final float[] KEYS = new float[2 * 20 * 8];
    // A valid stage-2 call: H 4, Hkv 2, D 8, pages 5, topk 2, topr 8.
    private static final float[] Q = new float[4 * 8];
    private static final float[] KT = new float[2 * 5 * 8];

    private static void assertMessage(String expected, Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertEquals(expected, e.getMessage());
    }

    @Test
    void theValidCallsPass() {
        assertEquals(2, RocketKv.selectPromptTokens(Q_WIN, KEYS, 4, 2, 8, 20, 4, 3, 10).length);
        assertEquals(2, RocketKv.selectPages(Q, KT, KT, 4, 2, 8, 5, 2, 8).length);
    }

    @Test
    void promptSelectionRejectsBadDimensions() {
        assertMessage("numHeads must be >= 1, got 0",
                () -> RocketKv.selectPromptTokens(Q_WIN, KEYS, 0, 2, 8, 20, 4, 3, 10));
        assertMessage("numKvHeads must be >= 1, got 0",
                () -> RocketKv.selectPromptTokens(Q_WIN, KEYS, 4, 0, 8, 20, 4, 3, 10));
        assertMessage("numHeads must be a multiple of numKvHeads (3), got 4",
                () -> RocketKv.selectPromptTokens(Q_WIN, KEYS, 4, 3, 8, 20, 4, 3, 10));
        assertMessage("headDim must be >= 1, got 0",
                () -> RocketKv.selectPromptTokens(Q_WIN, KEYS, 4, 2, 0, 20, 4, 3, 10));
        assertMessage("promptLen must be >= 1, got 0",
                () -> RocketKv.selectPromptTokens(Q_WIN, KEYS, 4, 2, 8, 0, 4, 3, 10));
        assertMessage("windowSize must be >= 1, got 0",
                () -> RocketKv.selectPromptTokens(Q_WIN, KEYS, 4, 2, 8, 20, 0, 3, 10));
        assertMessage("kernelSize must be odd and >= 1, got 4",
                () -> RocketKv.selectPromptTokens(Q_WIN, KEYS, 4, 2, 8, 20, 4, 4, 10));
        assertMessage("kernelSize must be odd and >= 1, got -1",
                () -> RocketKv.selectPromptTokens(Q_WIN, KEYS, 4, 2, 8, 20, 4, -1, 10));
        assertMessage("promptBudget must be >= windowSize (4), got 3",
                () -> RocketKv.selectPromptTokens(Q_WIN, KEYS, 4, 2, 8, 20, 4, 3, 3));
    }

    @Test
    void promptSelectionRejectsBadArrays() {
        assertMessage("qWindow.length must be numHeads * min(windowSize, promptLen) * headDim = 128, got 127",
                () -> RocketKv.selectPromptTokens(new float[127], KEYS, 4, 2, 8, 20, 4, 3, 10));
        assertMessage("keys.length must be numKvHeads * promptLen * headDim = 320, got 321",
                () -> RocketKv.selectPromptTokens(Q_WIN, new float[321], 4, 2, 8, 20, 4, 3, 10));
        // A prompt shorter than the window: qWindow holds min(W, L) = 2 rows per head.
        assertMessage("qWindow.length must be numHeads * min(windowSize, promptLen) * headDim = 64, got 128",
                () -> RocketKv.selectPromptTokens(Q_WIN, new float[2 * 2 * 8], 4, 2, 8, 2, 4, 3, 10));
        NullPointerException npe = assertThrows(NullPointerException.class,
                () -> RocketKv.selectPromptTokens(null, KEYS, 4, 2, 8, 20, 4, 3, 10));
        assertEquals("qWindow", npe.getMessage());
        npe = assertThrows(NullPointerException.class,
                () -> RocketKv.selectPromptTokens(Q_WIN, null, 4, 2, 8, 20, 4, 3, 10));
        assertEquals("keys", npe.getMessage());
        // Lengths are checked even when the prompt fits the budget and nothing else is read.
        assertMessage("keys.length must be numKvHeads * promptLen * headDim = 320, got 8",
                () -> RocketKv.selectPromptTokens(Q_WIN, new float[8], 4, 2, 8, 20, 4, 3, 2048));
    }

    @Test
    void pageSelectionRejectsBadDimensions() {
        assertMessage("numHeads must be >= 1, got -4", () -> RocketKv.selectPages(Q, KT, KT, -4, 2, 8, 5, 2, 8));
        assertMessage("numKvHeads must be >= 1, got 0", () -> RocketKv.selectPages(Q, KT, KT, 4, 0, 8, 5, 2, 8));
        assertMessage("numHeads must be a multiple of numKvHeads (8), got 4",
                () -> RocketKv.selectPages(Q, KT, KT, 4, 8, 8, 5, 2, 8));
        assertMessage("headDim must be >= 1, got 0", () -> RocketKv.selectPages(Q, KT, KT, 4, 2, 0, 5, 2, 8));
        assertMessage("numPages must be >= 1, got 0", () -> RocketKv.selectPages(Q, KT, KT, 4, 2, 8, 0, 2, 8));
        assertMessage("topk must be >= 1, got 0", () -> RocketKv.selectPages(Q, KT, KT, 4, 2, 8, 5, 0, 8));
        assertMessage("topr must be in [1, headDim=8], got 0", () -> RocketKv.selectPages(Q, KT, KT, 4, 2, 8, 5, 2, 0));
        assertMessage("topr must be in [1, headDim=8], got 9", () -> RocketKv.selectPages(Q, KT, KT, 4, 2, 8, 5, 2, 9));
    }

    @Test
    void pageSelectionRejectsBadArrays() {
        assertMessage("q.length must be numHeads * headDim = 32, got 31",
                () -> RocketKv.selectPages(new float[31], KT, KT, 4, 2, 8, 5, 2, 8));
        assertMessage("ktMin.length must be numKvHeads * numPages * headDim = 80, got 79",
                () -> RocketKv.selectPages(Q, new float[79], KT, 4, 2, 8, 5, 2, 8));
        assertMessage("ktMax.length must be numKvHeads * numPages * headDim = 80, got 81",
                () -> RocketKv.selectPages(Q, KT, new float[81], 4, 2, 8, 5, 2, 8));
        assertMessage("ktMax.length must be numKvHeads * numPages * headDim = 80, got 0",
                () -> RocketKv.selectPages(Q, KT, new float[0], 4, 2, 8, 5, 64, 8));
        assertEquals("q", assertThrows(NullPointerException.class,
                () -> RocketKv.selectPages(null, KT, KT, 4, 2, 8, 5, 2, 8)).getMessage());
        assertEquals("ktMin", assertThrows(NullPointerException.class,
                () -> RocketKv.selectPages(Q, null, KT, 4, 2, 8, 5, 2, 8)).getMessage());
        assertEquals("ktMax", assertThrows(NullPointerException.class,
                () -> RocketKv.selectPages(Q, KT, null, 4, 2, 8, 5, 2, 8)).getMessage());
    }

    @Test
    void sizeHelpers() {
        assertEquals(7, RocketKv.keptCount(7, 2048));
        assertEquals(2048, RocketKv.keptCount(5000, 2048));
        assertEquals(0, RocketKv.keptCount(0, 16));
        assertMessage("promptLen must be >= 0, got -1", () -> RocketKv.keptCount(-1, 16));
        assertMessage("promptBudget must be >= 1, got 0", () -> RocketKv.keptCount(5, 0));

        assertEquals(0, RocketKv.numPages(0, 4));
        assertEquals(1, RocketKv.numPages(1, 4));
        assertEquals(1, RocketKv.numPages(4, 4));
        assertEquals(2, RocketKv.numPages(5, 4));
        assertEquals(512, RocketKv.numPages(2048, 4));
        assertEquals(Integer.MAX_VALUE, RocketKv.numPages(Integer.MAX_VALUE, 1));
        assertEquals(1 << 30, RocketKv.numPages(Integer.MAX_VALUE, 2));
        assertMessage("cacheLen must be >= 0, got -5", () -> RocketKv.numPages(-5, 4));
        assertMessage("pageSize must be >= 1, got 0", () -> RocketKv.numPages(5, 0));

        assertEquals(3, RocketKv.selectedPageCount(3, 64));
        assertEquals(64, RocketKv.selectedPageCount(512, 64));
        assertMessage("numPages must be >= 0, got -1", () -> RocketKv.selectedPageCount(-1, 64));
        assertMessage("topk must be >= 1, got 0", () -> RocketKv.selectedPageCount(5, 0));
    }
}
