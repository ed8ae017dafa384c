package io.rocketkv.core.testing;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * Sliding-window variants of the parity checkpoints: the same weights ({@link ParityCheckpoints}), with a
 * {@code config.json} that sets a window of {@value #WINDOW} keys, so the prompts and their decodes cross it. The
 * transformers reference for them is {@code src/test/resources/parity/sliding-window.json}, made by
 * {@code tools/hf_reference/make_expectations.py} on the folders this class writes.
 *
 * <p>Run as a main to write them for the reference script: {@code SlidingWindowCheckpoints OUT_DIR}.
 */
public final class SlidingWindowCheckpoints {

    /** The window: shorter than the 300-token prompt, and crossed by the 90-token prompt's decode. */
    public static final int WINDOW = 96;

    /** One variant: a parity checkpoint and the config.json changes that give it a window. */
    public record Variant(RandomCheckpoint checkpoint, Consumer<ObjectNode> config) {

        /** Writes the checkpoint into {@code dir} and applies the config changes; returns {@code dir}. */
        public Path write(Path dir) throws IOException {
            checkpoint.write(dir);
            ObjectMapper json = new ObjectMapper();
            ObjectNode c = (ObjectNode) json.readTree(dir.resolve("config.json").toFile());
            config.accept(c);
            json.writerWithDefaultPrettyPrinter().writeValue(dir.resolve("config.json").toFile(), c);
            return dir;
        }
    }

    /** Mistral: every layer slides. */
    public static final Variant MISTRAL = new Variant(ParityCheckpoints.MISTRAL,
            c -> c.put("sliding_window", WINDOW));

    /** Qwen2 with {@code use_sliding_window} and {@code max_window_layers} 1: layer 0 full, layer 1 sliding. */
    public static final Variant QWEN2_LAYER1 = new Variant(ParityCheckpoints.QWEN2, c -> {
        c.put("use_sliding_window", true);
        c.put("sliding_window", WINDOW);
        c.put("max_window_layers", 1);
    });

    /** Phi-3 (fused projections, RoPE on 12 of 16 channels): every layer slides, as Phi3Model masks them. */
    public static final Variant PHI3 = new Variant(ParityCheckpoints.PHI3, c -> c.put("sliding_window", WINDOW));

    public static Map<String, Variant> all() {
        Map<String, Variant> m = new LinkedHashMap<>();
        m.put("mistral-swa96", MISTRAL);
        m.put("qwen2-swa96-layer1", QWEN2_LAYER1);
        m.put("phi3-swa96", PHI3);
        return m;
    }

    /** The parity prompts (10, 57 and 300 tokens) and one of 90, whose 24-token decode crosses the window. */
    public static List<int[]> prompts() {
        List<int[]> p = new ArrayList<>(ParityCheckpoints.prompts());
        p.add(new SplittableRandom(96).ints(90, 0, 296).toArray());
        return p;
    }

    private SlidingWindowCheckpoints() {
    }

    public static void main(String[] args) throws IOException {
        Map<String, ParityCheckpoints.Writer> writers = new LinkedHashMap<>();
        all().forEach((name, v) -> writers.put(name, v::write));
        ParityCheckpoints.writeAll(Path.of(args[0]), writers, prompts());
    }
}
