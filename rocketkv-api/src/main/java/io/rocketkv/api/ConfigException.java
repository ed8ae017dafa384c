package io.rocketkv.api;

/**
 * A configuration value, or a combination of values, that the library cannot run with.
 *
 * <p>The message names the field twice, as its YAML key path and as its Java name, then the bad value and
 * what is allowed, for example {@code sparse_attention_config.kernel_size (kernelSize) must be odd and >= 1,
 * got 64}. Errors found while reading a YAML file start with the file's name. {@link #key()} gives the YAML
 * key path alone, for tools that want to point at the offending line.
 */
public class ConfigException extends IllegalArgumentException {

    private final String key;

    /**
     * @param key     the YAML key path of the offending field ({@code "kv_cache_config.max_tokens"}), or null
     *                when the error is not about one field (malformed YAML, unreadable file)
     * @param message the whole message
     */
    public ConfigException(String key, String message) {
        super(message);
        this.key = key;
    }

    public ConfigException(String key, String message, Throwable cause) {
        super(message, cause);
        this.key = key;
    }

    /** The YAML key path of the offending field, e.g. {@code "sparse_attention_config.topr"}; null if none. */
    public String key() {
        return key;
    }

    /**
     * The standard message for a field value out of its allowed range:
     * {@code "<key> (<javaName>) must be <requirement>, got <value>"}.
     */
    static ConfigException invalid(String key, String javaName, String requirement, Object value) {
        return new ConfigException(key, key + " (" + javaName + ") must be " + requirement + ", got " + show(value));
    }

    /**
     * Runs a rule of the engine's (core's messages name the YAML keys, the values and the fix) and reports its
     * {@link IllegalArgumentException} as a ConfigException for {@code key}, with the same message.
     */
    static void check(String key, Runnable rule) {
        try {
            rule.run();
        } catch (IllegalArgumentException e) {
            throw new ConfigException(key, e.getMessage(), e);
        }
    }

    /** This error with {@code source + ": "} in front of its message (the file the value came from). */
    ConfigException inSource(String source) {
        return new ConfigException(key, source + ": " + getMessage(), this);
    }

    /** Renders a value for a message: strings in double quotes, everything else as {@code String.valueOf}. */
    static String show(Object value) {
        return value instanceof String s ? "\"" + s + "\"" : String.valueOf(value);
    }
}
