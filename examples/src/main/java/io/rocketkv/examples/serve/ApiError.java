package io.rocketkv.examples.serve;

/**
 * An error answered with an OpenAI-style body:
 * {@code {"error": {"message", "type", "param", "code"}}}.
 *
 * @param status HTTP status
 * @param type   {@code invalid_request_error}, {@code not_found_error}, {@code server_error}, …
 * @param param  the request field at fault, or null
 * @param code   a short machine-readable code (e.g. {@code unknown_field}), or null
 */
public final class ApiError extends RuntimeException {

    private final int status;
    private final String type;
    private final String param;
    private final String code;

    public ApiError(int status, String type, String param, String code, String message) {
        super(message);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
    }

    /** A 400 {@code invalid_request_error} naming {@code param}. */
    public static ApiError badRequest(String param, String code, String message) {
        return new ApiError(400, "invalid_request_error", param, code, message);
    }

    public int status() {
        return status;
    }

    public String type() {
        return type;
    }

    public String param() {
        return param;
    }

    public String code() {
        return code;
    }
}
