package io.rocketkv.examples;

import io.rocketkv.core.model.UnsupportedModelException;
import io.rocketkv.core.tokenizer.TokenizerFormatException;
import io.rocketkv.core.weights.CheckpointFormatException;
import java.io.IOException;
import java.io.UncheckedIOException;
import picocli.CommandLine;

/** Runs a picocli command; user errors (bad options, checkpoints, configs) print one line and exit 2. */
public final class Cli {

    private Cli() {
    }

    public static int run(Object command, String[] args) {
        CommandLine cli = new CommandLine(command);
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            if (e instanceof IllegalArgumentException || e instanceof IllegalStateException
                    || e instanceof IOException || e instanceof UncheckedIOException
                    || e instanceof CheckpointFormatException || e instanceof TokenizerFormatException
                    || e instanceof UnsupportedModelException) {
                cmd.getErr().println("error: " + e.getMessage());
                return 2;
            }
            throw e;
        });
        return cli.execute(args);
    }
}
