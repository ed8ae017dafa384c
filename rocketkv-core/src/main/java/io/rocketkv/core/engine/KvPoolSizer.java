package io.rocketkv.core.engine;

import io.rocketkv.core.kernels.Kernels;
import io.rocketkv.core.kernels.MemoryInfo;
import io.rocketkv.core.model.Model;
import io.rocketkv.core.sparse.RocketKvParams;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How many KV blocks the pool gets, from each rank's {@link Kernels#memoryInfo()} once the weights are loaded:
 * every rank holds the same blocks (for its own KV heads), so the rank with the least room decides.
 *
 * <p>Device memory: {@code kv_cache_config.max_tokens} when set, else {@code free_gpu_memory_fraction} of the
 * memory free after the weights and the step workspace, capped at {@code max_seq_len × max_batch_size} tokens (when
 * both apply, the smaller wins); with RocketKV each token also carries its share of the KT cache (min and max per
 * channel, one page per page_size tokens, in the KT dtype).
 *
 * <p>Host memory (the CPU backend, whose KV cache lives off the JVM heap and costs memory only for the blocks in
 * use): {@code max_tokens} when set, else {@code free_gpu_memory_fraction} of the physical memory free after the
 * weights and the step workspace (KV and KT shares per token, as on a device), capped at
 * {@code max_seq_len × max_batch_size} tokens but never below one {@code max_seq_len} sequence that fits; a backend
 * whose cache tensor has a size limit ({@link MemoryInfo#maxTensorBytes}) caps the pool at it.
 */
public final class KvPoolSizer {

    private static final Logger log = LoggerFactory.getLogger(KvPoolSizer.class);

    /**
     * What the pool is sized for.
     *
     * @param maxSeqLen          longest sequence
     * @param maxBatchSize       most sequences in a step
     * @param maxNumTokens       most tokens in a prefill step (sizes the workspace)
     * @param tokensPerBlock     slots per block
     * @param maxTokens          {@code kv_cache_config.max_tokens}, or null
     * @param freeMemoryFraction {@code kv_cache_config.free_gpu_memory_fraction}
     * @param rocketKv           RocketKV settings (the KT cache's share), or null for dense attention
     */
    public record Request(int maxSeqLen, int maxBatchSize, int maxNumTokens, int tokensPerBlock, Integer maxTokens,
                          double freeMemoryFraction, RocketKvParams rocketKv) {
    }

    private KvPoolSizer() {
    }

    /** Blocks in the pool for the ranks' models (index r is rank r's model on {@code kernels.get(r)}). */
    public static int numBlocks(List<? extends Model> models, List<? extends Kernels> kernels, Request r) {
        int blocks = Integer.MAX_VALUE;
        for (int i = 0; i < models.size(); i++) {
            blocks = Math.min(blocks, numBlocks(models.get(i), kernels.get(i), r));
        }
        return blocks;
    }

    private static int numBlocks(Model model, Kernels kernels, Request r) {
        int p = r.tokensPerBlock();
        int layers = model.numLayers();
        long kvDim = (long) model.attentionShape().numKvHeads() * model.attentionShape().headDim(); // this rank's
        long bytesPerToken = 2L * layers * kvDim * kernels.kvCacheDtype().byteSize();
        MemoryInfo m = kernels.memoryInfo();
        long seqTokens = (long) r.maxSeqLen() * r.maxBatchSize();
        long kvBytesPerToken = bytesPerToken;
        if (r.rocketKv() != null) {
            long ktPerPage = 2L * layers * kvDim * kernels.ktCacheDtype(r.rocketKv()).byteSize();
            bytesPerToken += (ktPerPage + r.rocketKv().pageSize() - 1) / r.rocketKv().pageSize();
        }
        // the step workspace, and what prefill reads the cache through where the backend copies it (fp8 on CUDA:
        // sized for one sequence of max_seq_len plus a step's new tokens; a larger step grows it when it runs)
        long workspace = model.workspaceBytes(Math.max(Math.max(r.maxNumTokens(), 1), r.maxBatchSize()),
                r.maxBatchSize()) + kernels.prefillScratchBytes(2 * kvDim, (long) r.maxSeqLen() + r.maxNumTokens());
        long byMemory = (long) (Math.max(0, m.free() - workspace) * r.freeMemoryFraction()) / bytesPerToken;
        long tokens;
        if (m.heap()) {
            tokens = r.maxTokens() != null ? r.maxTokens()
                    : Math.max(Math.min(byMemory, seqTokens), Math.min(r.maxSeqLen(), byMemory));
        } else {
            tokens = Math.min(byMemory, seqTokens);
            if (r.maxTokens() != null) {
                tokens = Math.min(tokens, r.maxTokens());
            }
        }
        long blocks = Math.max(1, Math.min(Integer.MAX_VALUE, (tokens + p - 1) / p));
        if (blocks * (2L * kvDim * p) * kernels.kvCacheDtype().byteSize() > m.maxTensorBytes()) {
            blocks = m.maxTensorBytes() / (2L * kvDim * p * kernels.kvCacheDtype().byteSize());
            log.warn("the {} KV cache is capped at {} tokens per layer (one tensor)", kernels.name(), blocks * p);
        }
        log.info("{} KV cache: {} blocks of {} tokens, {} (at most {} MiB{})", kernels.name(), blocks, p,
                kernels.kvCacheDtype(), blocks * p * kvBytesPerToken >> 20, m.heap() ? ", allocated as used" : "");
        return (int) blocks;
    }
}
