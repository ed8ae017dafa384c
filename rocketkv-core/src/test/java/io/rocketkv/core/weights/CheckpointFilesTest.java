package io.rocketkv.core.weights;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.model.ModelConfig;
import io.rocketkv.core.testing.RandomCheckpoint;
import io.rocketkv.core.tokenizer.Tokenizer;
import io.rocketkv.core.tokenizer.TokenizerFormatException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A directory or a FIFO where a checkpoint file should be is named as such, and never read (a FIFO would block
 * the reader forever: the timeout fails such a test instead of hanging the build).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CheckpointFilesTest {

    @TempDir
    Path dir;

    private static boolean mkfifo(Path p) throws Exception {
        try {
            return new ProcessBuilder("mkfifo", p.toString()).start().waitFor() == 0;
        } catch (java.io.IOException e) {
            return false; // no mkfifo on this machine
        }
    }

    private Path checkpointWith(String file, boolean fifo) throws Exception {
        Path ckpt = RandomCheckpoint.tiny().write(dir.resolve(file.replace('.', '_') + (fifo ? "_fifo" : "_dir")));
        Path p = ckpt.resolve(file);
        Files.delete(p);
        if (fifo) {
            Assumptions.assumeTrue(mkfifo(p), "mkfifo is not available");
        } else {
            Files.createDirectory(p);
        }
        return ckpt;
    }

    @Test
    void kinds() throws Exception {
        Path regular = Files.writeString(dir.resolve("r.txt"), "x");
        assertNull(CheckpointFiles.nonRegularKind(regular));
        assertNull(CheckpointFiles.nonRegularKind(dir.resolve("absent")), "nothing there is not this check's business");
        assertTrue(CheckpointFiles.nonRegularKind(dir).equals("a directory"));
        Path link = Files.createSymbolicLink(dir.resolve("dangling"), dir.resolve("nowhere"));
        assertTrue(CheckpointFiles.nonRegularKind(link).equals("a broken symbolic link"));
    }

    @Test
    void aDirectoryOrFifoAsTheWeightsFileIsNamed() throws Exception {
        for (boolean fifo : new boolean[] {false, true}) {
            Path ckpt = checkpointWith("model.safetensors", fifo);
            var e = assertThrows(CheckpointFormatException.class, () -> SafeTensors.open(ckpt));
            assertTrue(e.getMessage().contains("the weights file " + ckpt.toAbsolutePath().resolve("model.safetensors"))
                    && e.getMessage().contains(fifo ? "is a FIFO (named pipe), not a regular file"
                            : "is a directory, not a regular file"), e.getMessage());
        }
    }

    @Test
    void aDirectoryOrFifoAsTheConfigIsNamed() throws Exception {
        for (String file : new String[] {"config.json", "generation_config.json"}) {
            for (boolean fifo : new boolean[] {false, true}) {
                Path ckpt = checkpointWith(file, fifo);
                var e = assertThrows(CheckpointFormatException.class, () -> ModelConfig.load(ckpt));
                assertTrue(e.getMessage().contains(file) && e.getMessage().contains("not a regular file"),
                        e.getMessage());
            }
        }
    }

    @Test
    void aDirectoryOrFifoAsTheTokenizerIsNamed() throws Exception {
        for (String file : new String[] {"tokenizer.json", "tokenizer_config.json"}) {
            for (boolean fifo : new boolean[] {false, true}) {
                Path ckpt = checkpointWith(file, fifo);
                var e = assertThrows(TokenizerFormatException.class, () -> Tokenizer.load(ckpt));
                assertTrue(e.getMessage().contains(file) && e.getMessage().contains("not a regular file"),
                        e.getMessage());
            }
        }
    }
}
