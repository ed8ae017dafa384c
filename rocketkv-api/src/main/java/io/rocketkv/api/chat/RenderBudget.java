package io.rocketkv.api.chat;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.tag.ForTag;
import com.hubspot.jinjava.tree.TagNode;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The loop-iteration and time budget of one chat-template render. Jinjava calls {@link #step()} before it
 * renders each node (text, expression, tag) and the {@code for} tag below charges each loop's length when the
 * loop starts; the first charge or step past a cap records why and throws {@link Exceeded}. Jinjava turns most
 * exceptions into template errors and goes on with the next node, so the budget stays exceeded: every later
 * step throws again and the render unwinds, whatever catches it on the way. The caller reads
 * {@link #exceeded()} after the render.
 *
 * <p>The budget in force is kept per thread: Jinjava renders on the calling thread, and nested interpretation,
 * the only thing that would render elsewhere, is off.
 */
final class RenderBudget {

    private static final ThreadLocal<RenderBudget> CURRENT = new ThreadLocal<>();
    /** Used when a node is rendered outside {@link #run} (never by {@link ChatTemplate}). */
    private static final RenderBudget UNBOUNDED = new RenderBudget(Long.MAX_VALUE, Long.MAX_VALUE, Long.MAX_VALUE);

    private final long maxIterations;
    private final long maxNanos;
    private final long deadline;
    private long iterations;
    private String exceeded;

    RenderBudget(ChatTemplate.Limits limits) {
        this(limits.maxLoopIterations(), limits.maxRenderTime().toNanos(),
                System.nanoTime() + limits.maxRenderTime().toNanos());
    }

    private RenderBudget(long maxIterations, long maxNanos, long deadline) {
        this.maxIterations = maxIterations;
        this.maxNanos = maxNanos;
        this.deadline = deadline;
    }

    static RenderBudget current() {
        RenderBudget b = CURRENT.get();
        return b != null ? b : UNBOUNDED;
    }

    /** Runs {@code render} with this budget in force on this thread. */
    <T> T run(Supplier<T> render) {
        RenderBudget outer = CURRENT.get();
        CURRENT.set(this);
        try {
            return render.get();
        } catch (Exceeded e) {
            return null; // exceeded() says why
        } finally {
            if (outer == null) {
                CURRENT.remove();
            } else {
                CURRENT.set(outer);
            }
        }
    }

    /** Why the render was stopped, or null. */
    String exceeded() {
        return exceeded;
    }

    /** Called before each node is rendered: stops a render that is over time or already over budget. */
    void step() {
        if (exceeded == null && this != UNBOUNDED) {
            if (System.nanoTime() - deadline > 0) {
                exceeded = "it ran longer than " + maxNanos / 1_000_000 + " ms";
            } else if (Thread.currentThread().isInterrupted()) {
                exceeded = "the request was interrupted";
            }
        }
        if (exceeded != null) {
            throw new Exceeded(exceeded);
        }
    }

    /** Charges a loop of {@code n} iterations. */
    void loop(long n) {
        if (exceeded == null && this != UNBOUNDED) {
            iterations += n;
            if (iterations > maxIterations) {
                exceeded = "its loops ran more than " + maxIterations + " iterations";
            }
        }
        step();
    }

    /** Thrown to unwind a render that is over budget. */
    static final class Exceeded extends RuntimeException {
        Exceeded(String why) {
            super("chat template stopped: " + why, null, false, false);
        }
    }

    /** Jinjava's {@code for} tag, charging each loop's length to the budget before it runs. */
    static final class CountingForTag extends ForTag {
        @Override
        public String renderForCollection(TagNode tagNode, JinjavaInterpreter interpreter, List<String> loopVars,
                                          Object collection) {
            current().loop(length(collection));
            return super.renderForCollection(tagNode, interpreter, loopVars, collection);
        }

        private static long length(Object c) {
            if (c instanceof Collection<?> col) {
                return col.size();
            }
            if (c instanceof Map<?, ?> m) {
                return m.size();
            }
            if (c instanceof Object[] a) {
                return a.length;
            }
            return 1; // a single value, or an iterator of unknown length (each body node still steps the clock)
        }
    }
}
