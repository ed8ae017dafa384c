package io.rocketkv.api;

import java.lang.ref.Cleaner;
import java.util.NoSuchElementException;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * {@link TokenStream} over the chunks the engine queues for one request ({@link LLM#generateStream(String,
 * SamplingParams)}): the queue holds each {@link StreamChunk}, then the failure if the request fails. The
 * cleaning action holds the future only, never the stream, so that the stream can become unreachable and be
 * cleaned.
 */
final class QueueTokenStream implements TokenStream {

    /** Cancels abandoned streams' requests; its thread is a daemon and runs only the cancel actions. */
    private static final Cleaner STREAM_CLEANER = Cleaner.create();

    private final BlockingQueue<Object> queue;
    private final CompletableFuture<RequestOutput> future;
    private final Cleaner.Cleanable cancelOnGc;
    private int open; // completions whose last chunk has not come yet
    private StreamChunk next;
    private boolean done;

    /** Over the chunks of {@code completions} completions (n), done after the last chunk of each. */
    QueueTokenStream(BlockingQueue<Object> queue, CompletableFuture<RequestOutput> future, int completions) {
        this.queue = queue;
        this.future = future;
        this.open = completions;
        this.cancelOnGc = STREAM_CLEANER.register(this, new Cancel(future));
    }

    private record Cancel(CompletableFuture<?> future) implements Runnable {
        @Override
        public void run() {
            future.cancel(true); // no-op once the request has finished
        }
    }

    @Override
    public boolean hasNext() {
        if (next != null) {
            return true;
        }
        if (done) {
            return false;
        }
        try {
            Object o = queue.take();
            if (o instanceof Throwable t) {
                finish();
                throw new CompletionException(t instanceof CompletionException c ? c.getCause() : t);
            }
            next = (StreamChunk) o;
            if (next.isLast() && --open == 0) {
                finish();
            }
            return true;
        } catch (InterruptedException e) {
            close();
            Thread.currentThread().interrupt();
            CancellationException c = new CancellationException("interrupted while waiting for the next token;"
                    + " the request was cancelled");
            c.initCause(e);
            throw c;
        }
    }

    @Override
    public StreamChunk next() {
        if (!hasNext()) {
            throw new NoSuchElementException();
        }
        StreamChunk c = next;
        next = null;
        return c;
    }

    private void finish() {
        done = true;
        cancelOnGc.clean(); // the request is over: cancelling it is a no-op, and the stream is deregistered
    }

    @Override
    public void close() {
        done = true;
        next = null;
        cancelOnGc.clean(); // cancels a running request, at most once
    }
}
