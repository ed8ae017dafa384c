package io.rocketkv.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code --input_file}: every way a file can be wrong is an error naming the file and the fault. */
class PromptFileTest {

    @TempDir
    Path dir;

    @Test
    void readsOnePromptPerNonBlankLine() throws Exception {
        Path f = Files.writeString(dir.resolve("p.txt"), "first\r\n\n  \nsécond 🚀\nlast");
        assertEquals(List.of("first", "sécond 🚀", "last"), PromptFile.read("--input_file", f));
    }

    @Test
    void readsTensorRtLlmsJsonlAsContextPlusQueryWithTheReference() throws Exception {
        Path f = Files.writeString(dir.resolve("in.jsonl"), """
                {"input_context": "A long text. ", "input_query": "What is it?", "outputs": ["a text", "text"]}

                {"input_context": "Only context.", "outputs": "x"}
                """);
        assertEquals(List.of(new PromptFile.Sample("A long text. What is it?", "a text | text"),
                new PromptFile.Sample("Only context.", "x")), PromptFile.readSamples("--input_file", f));
        Path bad = Files.writeString(dir.resolve("bad.jsonl"), "{\"input_query\": \"q\"}\nnot json\n");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PromptFile.readSamples("--input_file", bad));
        assertTrue(e.getMessage().contains("line 2 is not a JSON object"), e.getMessage());
        Path neither = Files.writeString(dir.resolve("n.jsonl"), "{\"prompt\": \"q\"}\n");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> PromptFile.readSamples("--input_file", neither))
                .getMessage().contains("neither input_context nor input_query"));
    }

    @Test
    void anEmptyOrBlankFileIsAnError() throws Exception {
        Path empty = Files.writeString(dir.resolve("empty.txt"), "");
        var e = assertThrows(IllegalArgumentException.class, () -> PromptFile.read("--input_file", empty));
        assertTrue(e.getMessage().contains(empty.toString()) && e.getMessage().contains("it is empty"), e.getMessage());
        Path blank = Files.writeString(dir.resolve("blank.txt"), "\n \n\t\n");
        e = assertThrows(IllegalArgumentException.class, () -> PromptFile.read("--input_file", blank));
        assertTrue(e.getMessage().contains("every line is blank"), e.getMessage());
    }

    @Test
    void invalidUtf8NamesTheByteAndLine() throws Exception {
        Path f = dir.resolve("latin1.txt");
        Files.write(f, "ok\ncaf\u00e9\n".getBytes(StandardCharsets.ISO_8859_1));
        var e = assertThrows(IllegalArgumentException.class, () -> PromptFile.read("--input_file", f));
        assertTrue(e.getMessage().contains(f.toString()) && e.getMessage().contains("not valid UTF-8")
                && e.getMessage().contains("byte 6 (line 2) is 0xe9"), e.getMessage());
    }

    @Test
    void aDirectoryOrAMissingFileIsNamed() {
        var e = assertThrows(IllegalArgumentException.class, () -> PromptFile.read("--input_file", dir));
        assertTrue(e.getMessage().contains("is a directory, not a regular file"), e.getMessage());
        Path missing = dir.resolve("nope.txt");
        e = assertThrows(IllegalArgumentException.class, () -> PromptFile.read("--input_file", missing));
        assertTrue(e.getMessage().contains(missing + " does not exist"), e.getMessage());
    }

    @Test
    void aFifoIsRefusedWithoutBlocking() throws Exception {
        Path fifo = dir.resolve("fifo");
        Process p = new ProcessBuilder("mkfifo", fifo.toString()).start();
        if (p.waitFor() != 0) {
            return; // no mkfifo here: the regular-file check is covered by the directory case
        }
        var e = assertThrows(IllegalArgumentException.class, () -> PromptFile.read("--input_file", fifo));
        assertTrue(e.getMessage().contains("is a FIFO (named pipe), not a regular file"), e.getMessage());
    }

    @Test
    void theCliExitsTwoOnAnEmptyInputFileInsteadOfUsingADefaultPrompt() throws Exception {
        Path empty = Files.writeString(dir.resolve("empty.txt"), "");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream old = System.err;
        int rc;
        try {
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            rc = Cli.run(new LlmSparseAttention(), new String[] {"--model_path", "../models/tiny-random-llama",
                "--backend", "cpu", "--input_file", empty.toString()});
        } finally {
            System.setErr(old);
        }
        assertEquals(2, rc);
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("--input_file " + empty + " has no prompts"),
                err.toString(StandardCharsets.UTF_8));
    }
}
