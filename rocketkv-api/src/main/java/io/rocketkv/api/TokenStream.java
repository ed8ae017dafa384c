package io.rocketkv.api;

import java.util.Iterator;

/**
 * The tokens of one streamed request ({@link LLM#generateStream(String, SamplingParams)}), as they come; the
 * last chunk carries the finish reason. {@link #next} blocks until the next token.
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
