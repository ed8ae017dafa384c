package io.rocketkv.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.function.Executable;

/** Checks that a config error is thrown and that its message says what a user needs. */
final class ConfigAssertions {

    private ConfigAssertions() {
    }

    /** Asserts a {@link ConfigException} whose message contains every fragment; returns it. */
    static ConfigException assertConfigError(Executable action, String... fragments) {
        ConfigException e = assertThrows(ConfigException.class, action);
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f),
                    () -> "message should contain [" + f + "] but was: " + e.getMessage());
        }
        return e;
    }

    /** Like {@link #assertConfigError}, also checking {@link ConfigException#key()}. */
    static ConfigException assertConfigError(String key, Executable action, String... fragments) {
        ConfigException e = assertConfigError(action, fragments);
        assertEquals(key, e.key(), () -> "key of: " + e.getMessage());
        return e;
    }
}
