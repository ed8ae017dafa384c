package io.rocketkv.examples.serve;

import io.helidon.http.HeaderNames;
import io.helidon.http.Method;
import io.helidon.webserver.http.ServerRequest;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

/**
 * The API key check ({@code --api-key}), as vLLM makes it: every request to a path under {@code /v1} must carry
 * {@code Authorization: Bearer KEY}; other paths ({@code /health}, {@code /metrics}, {@code /version},
 * {@code /tokenize}, {@code /detokenize}) and {@code OPTIONS} requests need none.
 */
final class ApiKeys {

    private ApiKeys() {
    }

    static boolean authorized(ServerRequest req, String apiKey) {
        String path = req.path().path();
        if (!(path.equals("/v1") || path.startsWith("/v1/")) || req.prologue().method() == Method.OPTIONS) {
            return true;
        }
        String header = req.headers().first(HeaderNames.AUTHORIZATION).orElse("");
        byte[] sent = header.getBytes(StandardCharsets.UTF_8);
        byte[] expected = ("Bearer " + apiKey).getBytes(StandardCharsets.UTF_8);
        return MessageDigest.isEqual(sent, expected); // the same time whatever the first differing byte
    }

    /** OpenAI's answer to a missing or wrong key. */
    static ApiError unauthorized(ServerRequest req) {
        boolean sent = req.headers().contains(HeaderNames.AUTHORIZATION);
        return new ApiError(401, "invalid_request_error", null, "invalid_api_key", sent
                ? "Incorrect API key provided; send the server's --api-key as 'Authorization: Bearer KEY'"
                : "You didn't provide an API key; send it as 'Authorization: Bearer KEY' (the server's --api-key)");
    }
}
