package io.rocketkv.api;

import java.util.Iterator;

/**
 * The chunks of one streamed request ({@link LLM#generateStream(String, SamplingParams)}), as they come: one per
 * {@code stream_interval} tokens of a completion; with {@code n} above 1 the completions' chunks interleave (each names
 * its {@link StreamChunk#index()}), and the stream ends after each completion's last chunk, which carries its finish
 * reason. {@link #next} blocks until the next chunk.
 *
 * <p>Close it when you stop reading early: closing cancels the request, so the engine drops it before its next
 * step and frees its KV blocks. A stream that is left unreachable without being closed is cancelled when it is
 * garbage collected (a {@link java.lang.ref.Cleaner}), which may be much later; use try-with-resources. A thread
 * interrupted while it waits in {@link #hasNext} cancels the request too. Closing a finished stream does nothing.
 */
public interface TokenStream extends Iterator<StreamChunk>, AutoCloseable {

    /** Cancels the request if it is still running; idempotent. */
    @Override
    void close();
}
