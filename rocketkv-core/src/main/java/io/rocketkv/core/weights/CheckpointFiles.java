package io.rocketkv.core.weights;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/**
 * Names what sits where a checkpoint file should be when it is not a regular file. Reading a FIFO blocks until
 * something writes to it, and a directory or a device cannot be parsed, so every reader of a checkpoint file
 * checks first and says which path is wrong and what it is, instead of "missing" or "Input length = 1".
 */
public final class CheckpointFiles {

    private CheckpointFiles() {
    }

    /**
     * What {@code path} is when it exists and is not a regular file ("a directory", "a FIFO (named pipe)",
     * "a socket", "a device", "a broken symbolic link", "a special file"); null when it is a regular file or
     * nothing is there.
     */
    public static String nonRegularKind(Path path) {
        if (Files.isRegularFile(path)) {
            return null;
        }
        if (Files.isDirectory(path)) {
            return "a directory";
        }
        if (!Files.exists(path)) {
            return Files.exists(path, LinkOption.NOFOLLOW_LINKS) ? "a broken symbolic link" : null;
        }
        try {
            if (Files.getAttribute(path, "unix:mode") instanceof Integer mode) {
                return switch (mode & 0xF000) {
                    case 0x1000 -> "a FIFO (named pipe)";
                    case 0xC000 -> "a socket";
                    case 0x2000, 0x6000 -> "a device";
                    default -> "a special file";
                };
            }
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            // no unix attribute view: say no more than that it is special
        }
        return "a special file";
    }

    /**
     * Throws when something that is not a regular file is at {@code path} (nothing there is fine: callers
     * decide whether the file is optional).
     *
     * @param what how to name the file in the message, e.g. "the weights file"
     * @throws CheckpointFormatException naming the path, what it is, and that a regular file is expected
     */
    public static void requireRegularIfPresent(Path path, String what) {
        String kind = nonRegularKind(path);
        if (kind != null) {
            throw new CheckpointFormatException(what + " " + path.toAbsolutePath() + " is " + kind + ", not a regular"
                    + " file: replace it with the file itself (download or copy the checkpoint again).");
        }
    }
}
