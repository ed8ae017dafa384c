package io.rocketkv.api;

import java.util.function.BiConsumer;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A request's token listener that may throw: the request goes on, the listener is still called for the
 * following tokens, and its failures are logged once per request (the first, with its stack trace), not once
 * per token.
 */
final class GuardedListener implements Consumer<StreamChunk> {

    private static final Logger log = LoggerFactory.getLogger(LLM.class);

    private final Consumer<StreamChunk> listener;
    private final BiConsumer<String, RuntimeException> warn;
    private int failures; // touched on the engine thread only

    GuardedListener(Consumer<StreamChunk> listener) {
        this(listener, log::warn);
    }

    /** With {@code warn} in place of the logger (tests). */
    GuardedListener(Consumer<StreamChunk> listener, BiConsumer<String, RuntimeException> warn) {
        this.listener = listener;
        this.warn = warn;
    }

    @Override
    public void accept(StreamChunk chunk) {
        try {
            listener.accept(chunk);
        } catch (RuntimeException e) {
            if (failures++ == 0) {
                warn.accept("a token listener threw; the request continues and the listener is still called, but its"
                        + " later failures in this request are not logged", e);
            }
        }
    }

    /** How many times the listener threw. */
    int failures() {
        return failures;
    }
}
