package io.rocketkv.core.model;

/**
 * Megatron-style sharding of one decoder layer for rank {@code rank} of {@code size}: which rows or columns
 * of each Hugging Face weight ({@code [out_features, in_features]}, row-major) the rank holds.
 *
 * <ul>
 * <li>q/k/v_proj: column-parallel (rows of the weight) by whole heads. Rank r owns query heads
 *     {@code [r·H/n, (r+1)·H/n)}. With at least as many KV heads as ranks it holds KV heads
 *     {@code [r·KV/n, (r+1)·KV/n)} and attends for its own query heads. With fewer KV heads it holds the one
 *     KV head its query heads attend with ({@code r·KV/n}), replicated on {@code n/KV} ranks, and attends for
 *     that head's whole query group ({@link #attendedHeads()}): RocketKV's scores (stage 1 and stage 2) are
 *     sums over a group's query heads, so every rank holding a replica scores the whole group and keeps the
 *     tokens and pages one device would keep, without communicating.</li>
 * <li>o_proj: row-parallel (columns of the weight): the columns of the rank's attended heads, those of heads
 *     it does not own zeroed ({@link #ownedOProjColumns()}), so that the all-reduce of the ranks' partial
 *     sums counts every head once.</li>
 * <li>gate/up_proj: column-parallel over {@code intermediate_size}; down_proj: row-parallel over the same
 *     slice, its output all-reduced.</li>
 * <li>lm_head: replicated, or vocab-parallel (rows split, logits all-gathered).</li>
 * </ul>
 * Norms, embeddings and biases of row-parallel layers stay whole on every rank (a row-parallel bias is added
 * once, after the all-reduce).
 *
 * @param rank                this rank, {@code [0, size)}
 * @param size                number of ranks (tensor-parallel size)
 * @param numHeads            query heads of the model
 * @param numKvHeads          key/value heads of the model
 * @param headDim             width of one head
 * @param intermediateSize    MLP width
 * @param vocabSize           lm_head rows
 * @param vocabParallelLmHead split lm_head by vocabulary rows rather than replicating it
 */
public record TensorParallelPlan(int rank, int size, int numHeads, int numKvHeads, int headDim, int intermediateSize,
                                 int vocabSize, boolean vocabParallelLmHead) {

    /** The half-open index range {@code [start, end)}. */
    public record Range(int start, int end) {
        public Range {
            if (start < 0 || end < start) {
                throw new IllegalArgumentException("range [" + start + ", " + end + ") is not a valid range");
            }
        }

        public int length() {
            return end - start;
        }

        Range times(int width) {
            return new Range(start * width, end * width);
        }
    }

    public TensorParallelPlan {
        if (size < 1 || rank < 0 || rank >= size) {
            throw new IllegalArgumentException("rank must be in [0, size) with size >= 1, got rank " + rank
                    + " of " + size);
        }
        if (numHeads % size != 0) {
            throw new IllegalArgumentException("tensor-parallel size " + size + " must divide the " + numHeads
                    + " query heads (num_attention_heads); use a divisor of " + numHeads);
        }
        if (numKvHeads >= size ? numKvHeads % size != 0 : size % numKvHeads != 0) {
            throw new IllegalArgumentException("tensor-parallel size " + size + " and the " + numKvHeads
                    + " KV heads (num_key_value_heads) must divide one another: KV heads are split over the ranks, or"
                    + " replicated when fewer than the ranks; use a divisor or a multiple of " + numKvHeads);
        }
        if (intermediateSize % size != 0) {
            throw new IllegalArgumentException("tensor-parallel size " + size + " must divide intermediate_size "
                    + intermediateSize + " (the MLP is split over the ranks)");
        }
        if (vocabParallelLmHead && vocabSize % size != 0) {
            throw new IllegalArgumentException("a vocab-parallel lm_head needs tensor-parallel size " + size
                    + " to divide vocab_size " + vocabSize + "; replicate lm_head instead");
        }
    }

    /** The plan of {@code rank} of {@code size} for {@code config}'s shapes. */
    public static TensorParallelPlan of(ModelConfig config, int rank, int size, boolean vocabParallelLmHead) {
        return new TensorParallelPlan(rank, size, config.numAttentionHeads(), config.numKeyValueHeads(),
                config.headDim(), config.intermediateSize(), config.vocabSize(), vocabParallelLmHead);
    }

    /** Query heads of this rank. */
    public Range queryHeads() {
        int per = numHeads / size;
        return new Range(rank * per, (rank + 1) * per);
    }

    /** KV heads of this rank: a split when KV heads &ge; ranks, else the one head shared with its query heads. */
    public Range kvHeads() {
        if (numKvHeads >= size) {
            int per = numKvHeads / size;
            return new Range(rank * per, (rank + 1) * per);
        }
        int head = rank * numKvHeads / size;
        return new Range(head, head + 1);
    }

    /** True when this rank's KV head is also held by other ranks. */
    public boolean kvReplicated() {
        return numKvHeads < size;
    }

    /**
     * Query heads this rank attends for: its own ({@link #queryHeads()}), or, when its KV head is replicated,
     * the whole query group of that KV head.
     */
    public Range attendedHeads() {
        if (!kvReplicated()) {
            return queryHeads();
        }
        int group = numHeads / numKvHeads;
        int kv = kvHeads().start();
        return new Range(kv * group, (kv + 1) * group);
    }

    /** Rows of q_proj (and of its bias): the attended heads. */
    public Range qRows() {
        return attendedHeads().times(headDim);
    }

    /** Rows of k_proj and v_proj (and of their biases). */
    public Range kvRows() {
        return kvHeads().times(headDim);
    }

    /** Columns of o_proj this rank holds: the attention output of its attended heads. */
    public Range oProjColumns() {
        return qRows();
    }

    /**
     * Columns of o_proj whose values this rank keeps: its own query heads. The other columns of
     * {@link #oProjColumns()} (heads another replica owns) are zero in the rank's shard.
     */
    public Range ownedOProjColumns() {
        return queryHeads().times(headDim);
    }

    /** Rows of gate_proj and up_proj; also the columns of down_proj. */
    public Range mlpRows() {
        int per = intermediateSize / size;
        return new Range(rank * per, (rank + 1) * per);
    }

    /** Columns of down_proj. */
    public Range downProjColumns() {
        return mlpRows();
    }

    /** Rows of lm_head this rank holds: a vocab slice, or all of them when replicated. */
    public Range lmHeadRows() {
        if (!vocabParallelLmHead) {
            return new Range(0, vocabSize);
        }
        int per = vocabSize / size;
        return new Range(rank * per, (rank + 1) * per);
    }

    /** Rows {@code r} of a row-major {@code [rows, cols]} matrix {@code w}, as a new {@code [r.length, cols]} array. */
    public static float[] sliceRows(float[] w, int rows, int cols, Range r) {
        checkShape(w, rows, cols);
        if (r.end() > rows) {
            throw new IllegalArgumentException("rows " + r + " outside a matrix of " + rows + " rows");
        }
        float[] out = new float[r.length() * cols];
        System.arraycopy(w, r.start() * cols, out, 0, out.length);
        return out;
    }

    /** Columns {@code c} of a row-major {@code [rows, cols]} matrix {@code w}, as a new {@code [rows, c.length]} array. */
    public static float[] sliceColumns(float[] w, int rows, int cols, Range c) {
        checkShape(w, rows, cols);
        if (c.end() > cols) {
            throw new IllegalArgumentException("columns " + c + " outside a matrix of " + cols + " columns");
        }
        float[] out = new float[rows * c.length()];
        for (int i = 0; i < rows; i++) {
            System.arraycopy(w, i * cols + c.start(), out, i * c.length(), c.length());
        }
        return out;
    }

    /**
     * As {@link #sliceColumns(float[], int, int, Range)}, with the columns outside {@code keep} (absolute
     * column indices within {@code c}) set to zero.
     */
    public static float[] sliceColumns(float[] w, int rows, int cols, Range c, Range keep) {
        float[] out = sliceColumns(w, rows, cols, c);
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < c.length(); j++) {
                int col = c.start() + j;
                if (col < keep.start() || col >= keep.end()) {
                    out[i * c.length() + j] = 0;
                }
            }
        }
        return out;
    }

    private static void checkShape(float[] w, int rows, int cols) {
        if ((long) rows * cols != w.length) {
            throw new IllegalArgumentException("a [" + rows + ", " + cols + "] matrix has " + (long) rows * cols
                    + " values, got " + w.length);
        }
    }
}
