package io.rocketkv.api.chat;

/** A chat template that rejected the messages or was stopped by its {@link ChatTemplate.Limits}. */
public final class ChatTemplateException extends IllegalArgumentException {

    /** Why the render failed. */
    public enum Reason {
        /** The template raised an error ({@code raise_exception}, a bad expression, a disabled tag). */
        TEMPLATE_ERROR,
        /** A render reached one of the limits: output length, loop iterations or time. */
        LIMIT
    }

    private final Reason reason;

    ChatTemplateException(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
