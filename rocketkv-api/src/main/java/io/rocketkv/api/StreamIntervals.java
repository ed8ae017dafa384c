package io.rocketkv.api;

import io.rocketkv.core.engine.GenerationRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * One completion's token events gathered into {@link StreamChunk}s of {@code interval} tokens
 * ({@code stream_interval}, TensorRT-LLM's key): a chunk goes to the listener every {@code interval} tokens, and
 * the tokens left when the completion finishes go with its last one. Called on the engine thread only.
 */
final class StreamIntervals implements Consumer<GenerationRequest.TokenEvent> {

    private final int index;
    private final int interval;
    private final Consumer<StreamChunk> listener;
    private final List<CompletionOutput.TokenLogprobs> tokens = new ArrayList<>();
    private final StringBuilder text = new StringBuilder();

    /**
     * @param index    the completion the events belong to (0 .. n − 1)
     * @param interval tokens per chunk, &ge; 1
     */
    StreamIntervals(int index, int interval, Consumer<StreamChunk> listener) {
        if (interval < 1) {
            throw new IllegalArgumentException("stream_interval must be >= 1, got " + interval);
        }
        this.index = index;
        this.interval = interval;
        this.listener = listener;
    }

    @Override
    public void accept(GenerationRequest.TokenEvent ev) {
        tokens.add(CompletionOutput.TokenLogprobs.from(ev.token()));
        text.append(ev.textDelta());
        if (tokens.size() < interval && ev.finished() == null) {
            return;
        }
        StreamChunk chunk = new StreamChunk(index, tokens, text.toString(),
                ev.finished() == null ? null : ev.finished().wireName());
        tokens.clear();
        text.setLength(0);
        listener.accept(chunk);
    }
}
