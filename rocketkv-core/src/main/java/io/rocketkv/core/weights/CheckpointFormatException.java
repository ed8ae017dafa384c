package io.rocketkv.core.weights;

/**
 * A checkpoint (safetensors file, shard index, {@code config.json}, ...) cannot be read or is malformed.
 *
 * <p>Unchecked on purpose: a bad checkpoint is not something the code between the loader and the user can
 * recover from, so it travels up to the caller without {@code throws} clauses on every layer. The message
 * always names the file, the tensor or field when one is involved, what is wrong, and what to do about it.
 * Reading a checkpoint throws only this type for anything that is wrong with the files (I/O errors included),
 * never an {@code IndexOutOfBoundsException}, a {@code NullPointerException} or a JVM crash.
 */
public class CheckpointFormatException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    public CheckpointFormatException(String message) {
        super(message);
    }

    public CheckpointFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
