package io.rocketkv.core.engine;

import io.rocketkv.core.kernels.StepBatch;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;

/**
 * Prompt log-probabilities ({@link GenerationRequest#promptLogprobs()}): after a prefill step ran, the LM head over
 * the final hidden states of the prompt positions that the asking sequences prefilled in this step (in slices of the
 * workspace's logit rows, through {@link RankGroup#rowLogits}), each row turned into the log-probability, rank and
 * top alternatives of the prompt token that follows it. Sequences that do not ask cost nothing: no extra rows.
 *
 * <p>Position {@code p} of a prompt (1 &le; p &lt; L) is scored from the logits of token row {@code p − 1}; a
 * chunked prefill scores each chunk's rows in its step; the logits of the last prompt position are the sampling row,
 * which predicts an output, not a prompt token. A recompute after preemption scores only the positions still
 * missing.
 */
final class PromptLogprobs {

    private PromptLogprobs() {
    }

    /** Scores the prompt positions this prefill step computed for the sequences that ask; engine thread. */
    static void collect(Scheduler.Batch batch, StepBatch step, RankGroup ranks, int vocab) {
        List<Sequence> seqs = batch.seqs();
        int n = 0;
        for (int i = 0; i < seqs.size(); i++) {
            n += seqs.get(i).needsPromptLogits() ? batch.chunkEnd()[i] - batch.chunkStart()[i] : 0;
        }
        if (n == 0) {
            return;
        }
        int[] rows = new int[n];      // token rows of the step
        int[] owners = new int[n];    // the sequence (index in the batch) of each row
        int[] positions = new int[n]; // the prompt position each row scores (row's position + 1)
        int m = 0;
        for (int i = 0; i < seqs.size(); i++) {
            Sequence s = seqs.get(i);
            if (!s.needsPromptLogits()) {
                continue;
            }
            int from = batch.chunkStart()[i];
            int end = Math.min(batch.chunkEnd()[i], s.promptLength() - 1);
            for (int p = from; p < end; p++) {
                if (!s.hasPromptLogprob(p + 1)) {
                    rows[m] = step.queryStart()[i] + p - from;
                    owners[m] = i;
                    positions[m] = p + 1;
                    m++;
                }
            }
        }
        int slice = ranks.maxLogitRows();
        for (int a = 0; a < m; a += slice) {
            int b = Math.min(m, a + slice);
            float[] logits = ranks.rowLogits(Arrays.copyOfRange(rows, a, b));
            int first = a;
            IntStream.range(a, b).parallel().forEach(r -> {
                Sequence s = seqs.get(owners[r]);
                int pos = positions[r];
                s.setPromptLogprob(pos, of(logits, (r - first) * vocab, vocab, s.promptToken(pos),
                        s.request.promptLogprobs()));
            });
        }
        for (int i = 0; i < seqs.size(); i++) {
            if (seqs.get(i).needsPromptLogits()) {
                seqs.get(i).countPromptLogprobs();
            }
        }
    }

    /**
     * The log-probability (log-softmax of the raw row, in double precision), rank and {@code k} best alternatives of
     * {@code token} in the logit row {@code logits[offset .. offset+vocab)}.
     */
    static PromptLogprob of(float[] logits, int offset, int vocab, int token, int k) {
        Sampler.checkRow(logits, offset, vocab);
        if (token < 0 || token >= vocab) {
            throw new IllegalArgumentException("prompt token " + token + " outside the vocabulary [0, " + vocab + ")");
        }
        float max = Sampler.rowMax(logits, offset, vocab, "");
        double logSumExp = Sampler.logSumExp(logits, offset, vocab, max);
        float x = logits[offset + token];
        int rank = 1;
        for (int i = offset; i < offset + vocab; i++) {
            if (logits[i] > x) {
                rank++;
            }
        }
        return new PromptLogprob(token, (float) (x - logSumExp), rank,
                Sampler.topLogprobs(logits, offset, vocab, logSumExp, k));
    }
}
