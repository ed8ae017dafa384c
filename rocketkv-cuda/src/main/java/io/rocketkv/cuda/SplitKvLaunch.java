package io.rocketkv.cuda;

import java.util.HashMap;
import java.util.Map;

/**
 * The launch rules that dense split-KV decode attention ({@code attention_decode.cu}) and RocketKV's sparse attention
 * ({@code rocket_decode.cu}) share, as their kernels share one attention body: blocks of {@link #THREADS} threads,
 * each taking a tile of a GQA group's query heads, and as many KV splits as keep about two blocks per resident slot.
 */
final class SplitKvLaunch {

    /** Threads per block of both kernel families. */
    static final int THREADS = 128;
    /** The GQA tiles the kernels are compiled for ({@code _g1 … _g8}). */
    private static final int[] GROUP_TILES = {1, 2, 4, 8};

    private final CudaContext context;
    private final Map<CudaFunction, Integer> resident = new HashMap<>();

    SplitKvLaunch(CudaContext context) {
        this.context = context;
    }

    /** The query heads one block takes of a GQA group of {@code groupSize}: the smallest tile ≥ it, at most 8. */
    static int groupTile(int groupSize) {
        for (int c : GROUP_TILES) {
            if (c >= groupSize) {
                return c;
            }
        }
        return GROUP_TILES[GROUP_TILES.length - 1];
    }

    /** Blocks of {@code f} resident on the whole device at {@link #THREADS} threads (at least 1; cached). */
    int residentBlocks(CudaFunction f) {
        return resident.computeIfAbsent(f, fn -> Math.max(1,
                fn.maxActiveBlocksPerMultiprocessor(THREADS, 0) * context.device().multiprocessorCount()));
    }
}
