package io.rocketkv.cuda;

/** Closing several native resources in order, every one of them even when an earlier close fails. */
final class Closeables {

    private Closeables() {
    }

    /**
     * Closes each non-null resource in order and returns the first failure (with later ones suppressed into it),
     * starting from {@code failure} when one is already pending; null when everything closed.
     */
    static RuntimeException closeAll(RuntimeException failure, Iterable<? extends AutoCloseable> resources) {
        for (AutoCloseable c : resources) {
            if (c == null) {
                continue;
            }
            try {
                c.close();
            } catch (Exception e) {
                if (failure == null) {
                    failure = e instanceof RuntimeException re ? re : new IllegalStateException(e);
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        return failure;
    }
}
