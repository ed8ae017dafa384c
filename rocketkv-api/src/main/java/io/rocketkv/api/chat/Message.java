package io.rocketkv.api.chat;

/**
 * One chat message, as a chat template sees it ({@code message['role']}, {@code message['content']}).
 *
 * @param role    {@code system}, {@code user}, {@code assistant} or any role the template knows; non-null
 * @param content the message text; non-null
 */
public record Message(String role, String content) {

    public Message {
        if (role == null || role.isEmpty()) {
            throw new IllegalArgumentException("a chat message needs a role (system, user, assistant), got "
                    + (role == null ? "null" : "\"\""));
        }
        if (content == null) {
            throw new IllegalArgumentException("the " + role + " message's content must not be null");
        }
    }

    public static Message system(String content) {
        return new Message("system", content);
    }

    public static Message user(String content) {
        return new Message("user", content);
    }

    public static Message assistant(String content) {
        return new Message("assistant", content);
    }
}
