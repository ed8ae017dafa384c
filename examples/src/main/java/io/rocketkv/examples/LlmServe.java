package io.rocketkv.examples;

import io.rocketkv.api.LLM;
import io.rocketkv.api.LlmArgs;
import io.rocketkv.examples.serve.OpenAiServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** An OpenAI-compatible HTTP server over one model (see docs/server.md). */
@Command(name = "LlmServe", mixinStandardHelpOptions = true,
        description = "Serves a checkpoint over OpenAI-compatible HTTP endpoints (/v1/completions, /v1/chat/completions).")
public final class LlmServe implements Callable<Integer> {

    /** The environment variable that gives the API key when {@code --api-key} is not passed. */
    static final String API_KEY_ENV = "ROCKETKV_API_KEY";

    @Option(names = "--model", required = true, description = "checkpoint directory")
    Path model;

    @Mixin
    EngineFlags engine;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "address to bind (default ${DEFAULT-VALUE})")
    String host;

    @Option(names = "--port", defaultValue = "8000", description = "port; 0 picks a free one (default ${DEFAULT-VALUE})")
    int port;

    @Option(names = {"--served-model-name", "--served_model_name"},
            description = "the model name clients send (default: the directory name)")
    String servedModelName;

    @Option(names = {"--api-key", "--api_key"}, description = "every /v1 request must send 'Authorization: Bearer KEY'"
            + " (default: the environment variable " + API_KEY_ENV + "; unset: no key)")
    String apiKey;

    @Option(names = {"--chat-template", "--chat_template"},
            description = "a Jinja chat template (a file, or the template text) used instead of the checkpoint's")
    String chatTemplate;

    @Option(names = "--max-body-bytes", defaultValue = "1048576", description = "larger request bodies get 413 (default ${DEFAULT-VALUE})")
    long maxBodyBytes;

    @Option(names = "--max-waiting", defaultValue = "1024",
            description = "with this many requests waiting, new ones get 503 and Retry-After (default ${DEFAULT-VALUE})")
    int maxWaiting;

    public static void main(String[] args) {
        int rc = Cli.run(new LlmServe(), args);
        if (rc != 0) {
            System.exit(rc);
        }
    }

    @Option(names = "--read-timeout", defaultValue = "30",
            description = "seconds a request's header (after its request line) and its body may take to arrive;"
                    + " then the connection is closed (default ${DEFAULT-VALUE})")
    long readTimeoutSeconds;

    @Option(names = "--idle-timeout", defaultValue = "30",
            description = "seconds a keep-alive connection may wait for its next request (default ${DEFAULT-VALUE})")
    long idleTimeoutSeconds;

    @Option(names = "--drain-timeout", defaultValue = "30",
            description = "on SIGTERM / Ctrl-C, seconds to let running requests finish before they are cancelled"
                    + " (default ${DEFAULT-VALUE})")
    long drainTimeoutSeconds;

    private static Duration seconds(String flag, long s) {
        if (s < 1) {
            throw new IllegalArgumentException(flag + " must be >= 1 second; got " + s);
        }
        return Duration.ofSeconds(s);
    }

    /**
     * The template text of a {@code --chat-template} value: the contents of the file it names, or the value itself
     * when it is a template (holds {@code {{} or {@code {%}), as vLLM reads its option.
     *
     * @throws IllegalArgumentException when it is neither a readable file nor a template
     */
    static String templateText(String fileOrTemplate) {
        Path file;
        try {
            file = Path.of(fileOrTemplate);
        } catch (RuntimeException e) {
            file = null; // not a path on this system: maybe a template
        }
        if (file != null && Files.isRegularFile(file)) {
            try {
                return Files.readString(file);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read the chat template " + file + ": " + e.getMessage(), e);
            }
        }
        if (fileOrTemplate.contains("{{") || fileOrTemplate.contains("{%")) {
            return fileOrTemplate;
        }
        throw new IllegalArgumentException("--chat-template '" + fileOrTemplate + "' is neither a file nor a"
                + " template (no {{ or {%); pass a Jinja file or the template text");
    }

    @Override
    public Integer call() throws Exception {
        if (drainTimeoutSeconds < 0) {
            throw new IllegalArgumentException("--drain-timeout must be >= 0 seconds; got " + drainTimeoutSeconds);
        }
        LlmArgs args = engine.args();
        String name = servedModelName != null ? servedModelName : model.toAbsolutePath().normalize().getFileName().toString();
        String key = apiKey != null ? apiKey : System.getenv(API_KEY_ENV);
        var options = new OpenAiServer.Options(host, port, name, maxBodyBytes, maxWaiting,
                seconds("--read-timeout", readTimeoutSeconds), seconds("--idle-timeout", idleTimeoutSeconds))
                .withApiKey(key == null || key.isEmpty() ? null : key);
        String template = chatTemplate == null ? null : templateText(chatTemplate);
        LLM llm = LLM.builder().model(model).args(args).chatTemplate(template).build();
        OpenAiServer server;
        try {
            server = OpenAiServer.start(llm, options);
        } catch (RuntimeException e) {
            llm.close();
            throw e;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.shutdown(Duration.ofSeconds(drainTimeoutSeconds)); // running requests finish first
            llm.close();
            stopped.countDown();
        }, "LlmServe-shutdown"));
        System.out.println("LlmServe: serving '" + name + "' (" + llm.backendName() + ") on http://" + host + ":"
                + server.port() + (options.apiKey() != null ? " (API key required on /v1)" : ""));
        System.out.flush();
        stopped.await();
        return 0;
    }
}
