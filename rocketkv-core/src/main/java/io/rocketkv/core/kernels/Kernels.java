package io.rocketkv.core.kernels;

import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.sparse.RocketKvParams;
import io.rocketkv.core.sparse.RocketKvPlan;
import io.rocketkv.core.weights.Fp8Weight;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Every operation the Llama-family forward pass needs, implemented once per backend ({@link CpuKernels};
 * the CUDA backend's CudaKernels). Model code calls only these and never branches on the backend.
 *
 * <p>Shapes use T = tokens in the step, R = rows, H = hidden size, N/K = matmul output/input features,
 * Hq/Hkv = query/KV heads, D = head dim. Activations are F32; weights are F32, F16 or BF16 (an fp8 checkpoint's
 * linear layers arrive through {@link #fp8Weight}) and are always accumulated in fp32. Weight matrices keep the Hugging Face layout {@code [out_features,
 * in_features]}.
 */
public interface Kernels extends AutoCloseable {

    /** A short name for logs, e.g. "cpu". */
    String name();

    /**
     * The element type of this backend's paged KV cache (what {@link #allocate} gets for the per-layer cache
     * tensors): F32 on the CPU, BF16 on CUDA.
     */
    default DType kvCacheDtype() {
        return DType.F32;
    }

    /**
     * The element type of this backend's KT cache tensors for RocketKV settings {@code p} (what the engine
     * passes to {@link #allocate} for them): F32 holding values already rounded to {@code p.ktDtype()} on
     * the CPU; CUDA stores {@code p.ktDtype()} itself (F8_E5M2 bytes or BF16).
     */
    default DType ktCacheDtype(RocketKvParams p) {
        return DType.F32;
    }

    /**
     * The element type of activations that feed only a matmul (the normed inputs of the projections and of
     * lm_head, the MLP's SiLU product): F32 on the CPU; BF16 on CUDA when the weights are BF16, so that
     * {@link #rmsNorm} and {@link #siluMul} write the GEMM's input type directly. {@link #rmsNorm},
     * {@link #siluMul} and {@link #matmul} accept tensors of this type where this says so.
     */
    default DType gemmInputDtype() {
        return DType.F32;
    }

    /** A zero-filled tensor in this backend's memory. */
    Tensor allocate(DType dtype, int... shape);

    /**
     * Sets the scales of one layer's F8_E4M3 KV cache (allocated by {@link #allocate} with {@link #kvCacheDtype()}
     * F8_E4M3): K elements are stored as e4m3(x / kScale), V as e4m3(x / vScale). Called once, before the first
     * step. A backend without an fp8 KV cache refuses it.
     */
    /**
     * Whether {@link #greedyRows} runs on this backend, next to its logits (then a step whose every sampled row is
     * greedy reads back only the chosen tokens instead of the logits).
     */
    default boolean hasGreedyRows() {
        return false;
    }

    /**
     * For each of the first {@code rows} rows of {@code logits} (F32 [rows, vocab], a view): the greedy token (argmax,
     * ties to the lowest id) in {@code ids}, or −1 where the row holds NaN or +Infinity or only −Infinity; its
     * log-probability under the row (logit − log Σ exp, the sum in double) in {@code logprobs}; and the {@code topK}
     * best tokens (descending logit, ties to the lower id, −0 ranked as +0) with theirs in {@code topIds} and
     * {@code topLogprobs}, row-major [rows][topK]. CPU twin: the engine's {@code Sampler} at temperature 0.
     *
     * @throws UnsupportedOperationException where {@link #hasGreedyRows} is false
     */
    default void greedyRows(Tensor logits, int rows, int topK, int[] ids, float[] logprobs, int[] topIds,
                            float[] topLogprobs) {
        throw new UnsupportedOperationException("the " + name() + " backend reads logits back for sampling");
    }

    /**
     * Device memory, besides the step workspace, that prefill attention needs to read {@code tokens} cached tokens of
     * one layer whose K and V rows hold {@code kvElementsPerToken} elements together (CUDA: the bf16 copy of an fp8
     * cache's blocks); the KV pool leaves it free. 0 for a backend that reads its cache in place.
     */
    default long prefillScratchBytes(long kvElementsPerToken, long tokens) {
        return 0;
    }

    default void setKvCacheScales(Tensor kvCache, float kScale, float vScale) {
        throw new UnsupportedOperationException("the " + name() + " backend has no fp8 KV cache");
    }

    /**
     * The first {@code rows} rows of the 2-D tensor {@code base} ({@code [rows, base.dim(1)]}, same dtype),
     * sharing its memory: writes through the view are writes to {@code base}. Closing the view frees
     * nothing; it must not be used after {@code base} is closed. Every op takes its sizes from the shapes
     * of the tensors it is given, so a view of a larger buffer behaves like a tensor of its own shape
     * (this is how a reused {@code StepWorkspace} serves steps of any size without allocating).
     *
     * @throws IllegalArgumentException when {@code base} is not 2-D or {@code rows} is outside [0, base.dim(0)]
     */
    Tensor view(Tensor base, int rows);

    /**
     * A weight tensor from little-endian host bytes (e.g. a slice of a memory-mapped checkpoint). The CPU
     * backend reads the mapping in place; a GPU backend copies it to the device.
     */
    Tensor weight(DType dtype, int[] shape, MemorySegment hostData);

    /**
     * A linear layer's fp8 weight {@code [w.rows(), w.cols()]}: its e4m3 bytes and per-tensor or per-channel scales
     * (and the static input scale, if the checkpoint has one), as the checkpoint stores them. This default
     * dequantizes on the host, {@code e4m3 · scale} in fp32 rounded once to {@code dequantTo} (the checkpoint's
     * unquantized dtype: F32, F16 or BF16), and binds the result as {@link #weight} does. A backend with fp8 GEMMs
     * overrides it to keep the bytes and the scales instead.
     */
    default Tensor fp8Weight(Fp8Weight w, DType dequantTo) {
        // an automatic arena: the CPU backend reads the dequantized copy for as long as the weight lives
        return weight(dequantTo, new int[] {w.rows(), w.cols()}, w.dequantize(dequantTo, Arena.ofAuto()));
    }

    /** Copies {@code src} into the F32 tensor {@code dst} (same element count). */
    void upload(float[] src, Tensor dst);

    /** Copies the F32 tensor {@code src} to a new host array. */
    float[] download(Tensor src);

    /** {@code out[t, :] = table[tokenIds[t], :]}; table [V, H], out [T, H] F32. */
    void embedding(Tensor table, StepPlan step, Tensor out);

    /** {@code out = x / sqrt(mean(x²) + eps) * weight} per row; x, out [R, H], weight [H]. */
    void rmsNorm(Tensor x, Tensor weight, float eps, Tensor out);

    /**
     * RMSNorm of every head's vector, in place (Qwen3's q_norm and k_norm): x [R, heads·D] F32 holds R rows of
     * {@code heads} contiguous D-wide vectors, that is [R·heads, D], and each of them becomes
     * {@code x / sqrt(mean(x²) + eps) * weight} as {@link #rmsNorm} computes a row; weight [D].
     *
     * @throws IllegalArgumentException when x is not 2-D F32 or its width is not a multiple of D
     */
    void headRmsNorm(Tensor x, Tensor weight, float eps);

    /**
     * The head width D of {@link #headRmsNorm}'s operands, checked: x F32 [R, heads·D], weight [D].
     *
     * @throws IllegalArgumentException naming both shapes when they do not fit
     */
    static int headRmsNormWidth(Tensor x, Tensor weight) {
        int[] xs = x.shape();
        int[] ws = weight.shape();
        if (x.dtype() != DType.F32 || xs.length != 2 || ws.length != 1 || ws[0] <= 0 || xs[1] % ws[0] != 0) {
            throw new IllegalArgumentException("headRmsNorm needs x F32 [rows, heads * D] and weight [D], got x "
                    + Tensor.describe(x) + " and weight " + Tensor.describe(weight));
        }
        return ws[0];
    }

    /** {@code out = x · wᵀ (+ bias)}; x [R, K] F32, w [N, K], bias [N] or null, out [R, N] F32. */
    void matmul(Tensor x, Tensor w, Tensor bias, Tensor out);

    /**
     * Rotates q [T, Hq·D] and k [T, Hkv·D] in place at the step's positions, each sequence with the frequencies of
     * its {@link StepBatch#ropeLength}, cos and sin times {@link RopeTable#attentionFactor()}: the first
     * {@link RopeTable#rotaryDim()} channels of each head, the others left as they are.
     */
    void rope(Tensor q, Tensor k, StepPlan step, RopeTable rope, AttentionShape shape);

    /**
     * Refuses, before a model is loaded, a rope table this backend cannot apply; every table is fine by default.
     *
     * @throws io.rocketkv.core.model.UnsupportedModelException naming the config key and what would run it
     */
    default void checkRope(RopeTable rope) {
    }

    /** {@code out = silu(gate) * up}; all [R, I]. */
    void siluMul(Tensor gate, Tensor up, Tensor out);

    /** {@code x += y}; both [R, H]. */
    void add(Tensor x, Tensor y);

    /**
     * Writes each new token's K and V [T, Hkv·D] into the paged cache [numBlocks, 2, Hkv, tokensPerBlock, D]
     * at the step's slot mapping (slot −1 is skipped).
     */
    void writeKv(Tensor k, Tensor v, StepPlan step, AttentionShape shape, Tensor kvCache);

    /**
     * Causal attention of a prefill step: q [T, Hq·D], k and v [T, Hkv·D] (the step's new tokens), out [T, Hq·D].
     * Sequence s has {@code queryLen} new tokens and {@code kvLens[s] >= queryLen} cached tokens after the step's
     * write; its new token i sits at position {@code kvLen − queryLen + i} and attends every cached key up to and
     * including its own: the earlier chunks' keys (chunked prefill: kvLen > queryLen) and the causal part of the
     * step's own. The step's K/V have already been written to {@code kvCache} by {@link #writeKv}; earlier keys are
     * read from there through the block table (CUDA's paged kernel reads all of them there, the CPU reads the step's
     * own from {@code k} and {@code v}: the same values).
     */
    void prefillAttention(Tensor q, Tensor k, Tensor v, Tensor kvCache, StepPlan step, AttentionShape shape,
                          Tensor out);

    /**
     * Decode attention over the paged cache: q [S, Hq·D] (one token per sequence), each sequence reads its
     * {@code kvLens[s]} cached tokens through its block table; out [S, Hq·D].
     */
    void decodeAttention(Tensor q, Tensor kvCache, StepPlan step, AttentionShape shape, Tensor out);

    /**
     * Copies the RocketKV observation-window queries of this step's chunks into {@code windowStash} (one layer):
     * for the (at most one) sequence of a prefill step that is a chunk of a longer prefill ({@code queryLen <
     * prefillLens[s]}) and longer than {@code prompt_budget}, each new token at position {@code p >= L − W}
     * ({@code L = prefillLens[s]}, {@code W = window_size}) has its post-RoPE query row copied to row
     * {@code p − (L − W)}. q [T, Hq·D], windowStash [W, Hq·D] F32, kept by the caller from chunk to chunk of the
     * sequence. No-op for a step without such a chunk.
     *
     * @throws IllegalArgumentException when two sequences of the step are chunks (the stash holds one)
     */
    void rocketStashWindow(Tensor q, StepPlan step, AttentionShape shape, RocketKvParams params, Tensor windowStash);

    /**
     * RocketKV stage 1, once a sequence's whole prompt is in the cache: for every sequence of the prefill step whose
     * prefill ends with this step ({@code kvLens[s] == prefillLens[s] = L}) and {@code L > prompt_budget}, selects per
     * KV head the tokens to keep and compacts each KV head's kept K/V, in order, into cache slots
     * {@code 0 … budget−1} of the sequence. The caller then frees the surplus blocks. The prefix keys are read from
     * the cache (CPU: the fp32 values written; CUDA: the bf16 cache, as attention sees them), so a prompt prefilled
     * whole or in chunks gets the same selection. The window queries (post-RoPE) come from {@code q} [T, Hq·D] for a
     * sequence prefilled whole in this step, from {@code windowStash} [W, Hq·D] ({@link #rocketStashWindow}) for
     * the last chunk of a chunked one; {@code windowStash} may be null when the step has no chunk.
     */
    void rocketStage1(Tensor q, Tensor windowStash, StepPlan step, AttentionShape shape, RocketKvParams params,
                      Tensor kvCache);

    /**
     * Builds the KT pages (per-channel key min and max, rounded to the KT dtype) over each prefilled
     * sequence's kept slots {@code [0, min(kvLen, prompt_budget))}; ktCache [pages, 2, Hkv, D].
     */
    void ktBuild(Tensor kvCache, StepPlan step, AttentionShape shape, RocketKvPlan plan, Tensor ktCache);

    /**
     * Folds each decode token's key k [S, Hkv·D] into its KT page (a fresh page at its first slot); a token
     * with slot −1 (a padding sequence) is skipped.
     */
    void ktUpdate(Tensor k, StepPlan step, AttentionShape shape, RocketKvPlan plan, Tensor ktCache);

    /**
     * RocketKV stage 2 and sparse attention of a decode step: per sequence and KV head, selects
     * {@code min(topk, pages)} KT pages from q [S, Hq·D] and the KT cache, then attends exactly over the
     * selected pages' existing slots; out [S, Hq·D]. A sequence with kvLen 0 (padding) gets zero rows.
     */
    void sparseDecodeAttention(Tensor q, Tensor kvCache, Tensor ktCache, StepPlan step, AttentionShape shape,
                               RocketKvPlan plan, Tensor out);

    /**
     * A RocketKV decode step's attention: {@link #ktUpdate} of the step's keys k [S, Hkv·D], then
     * {@link #sparseDecodeAttention}. Same results as those two calls; a backend may fuse them (the CUDA backend
     * folds the KT update into its page-selection launch).
     */
    default void rocketDecodeAttention(Tensor q, Tensor k, Tensor kvCache, Tensor ktCache, StepPlan step,
                                       AttentionShape shape, RocketKvPlan plan, Tensor out) {
        ktUpdate(k, step, shape, plan, ktCache);
        sparseDecodeAttention(q, kvCache, ktCache, step, shape, plan, out);
    }

    /**
     * Prepares one step for this backend's ops: the CPU keeps the batch's arrays; CUDA uploads them in one copy
     * into a buffer it owns. Called once per step; the plan is passed to every op of the step and supersedes the
     * plan made before (an op given an older plan throws).
     */
    default StepPlan plan(StepBatch batch) {
        return plan(batch, 0);
    }

    /**
     * As {@link #plan(StepBatch)} for a step whose ops may be {@link #record recorded} and replayed for steps of
     * the same layout with KV lengths up to {@code kvLenBound}: launches that depend on the lengths are sized for
     * {@code max(kvLenBound, the batch's longest)} ({@link StepPlan#kvLenBound()}).
     */
    StepPlan plan(StepBatch batch, int kvLenBound);

    /**
     * Runs {@code work} (ops on this backend for {@code step}) once, now, and records the ops it queued for
     * replay on later steps of the same layout ({@link RecordedStep}); returns null when this backend does
     * not record (the CPU), having still run {@code work}. Recording needs every op of {@code work} to take
     * its per-step data from {@code step} and to use only tensors that stay allocated.
     */
    default RecordedStep record(StepPlan step, Runnable work) {
        work.run();
        return null;
    }

    /** Whether {@link #record} records (the engine pads decode steps to graph buckets only then). */
    default boolean recordsSteps() {
        return false;
    }

    /** The memory this backend's tensors come from, now (sizes the KV pool). */
    MemoryInfo memoryInfo();

    /**
     * {@code out[i, :] = x[step.batch().logitRows()[i], :]}: the rows whose logits the step wants; x [T, H],
     * out [rows, H].
     */
    void gatherLogitRows(Tensor x, StepPlan step, Tensor out);

    /** {@code out[i, :] = x[rows[i], :]}; x [R, H], out [rows.length, H]. */
    void gatherRows(Tensor x, int[] rows, Tensor out);

    @Override
    default void close() {
    }
}
