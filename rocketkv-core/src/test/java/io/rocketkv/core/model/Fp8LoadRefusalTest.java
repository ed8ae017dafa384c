package io.rocketkv.core.model;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.kernels.CpuKernels;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.weights.CheckpointFormatException;
import io.rocketkv.core.weights.Fp8CheckpointWriter;
import io.rocketkv.core.weights.SafeTensors;
import io.rocketkv.core.weights.SafeTensorsWriter;
import io.rocketkv.core.weights.TensorInfo;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.BiPredicate;
import java.util.function.Consumer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** fp8 layouts the model loader refuses, each naming the tensor (the fp8 checkpoint of tiny-random-llama, edited). */
class Fp8LoadRefusalTest {

    private static final String Q = "model.layers.0.self_attn.q_proj.weight";

    @TempDir
    static Path dir;
    private static Path fp8;

    @BeforeAll
    static void convert() throws IOException {
        fp8 = dir.resolve("fp8");
        Fp8CheckpointWriter.convert(Fp8ModelTest.TINY, fp8, false);
    }

    /** A copy of the fp8 checkpoint without the tensors {@code drop} names, with those {@code add} writes. */
    private static Path edited(String name, BiPredicate<String, TensorInfo> drop, Consumer<SafeTensorsWriter> add)
            throws IOException {
        Path out = Files.createDirectories(dir.resolve(name));
        Files.copy(fp8.resolve("config.json"), out.resolve("config.json"));
        SafeTensorsWriter w = new SafeTensorsWriter();
        try (SafeTensors st = SafeTensors.open(fp8)) {
            for (String n : st.names()) {
                TensorInfo t = st.info(n);
                if (!drop.test(n, t)) {
                    w.add(n, t.dtype(), t.shape(), st.data(n).toArray(ValueLayout.JAVA_BYTE));
                }
            }
        }
        add.accept(w);
        w.write(out.resolve(SafeTensors.SINGLE_FILE_NAME));
        return out;
    }

    private static String loadError(Path checkpoint) {
        try (SafeTensors st = SafeTensors.open(checkpoint)) {
            return assertThrows(CheckpointFormatException.class, () -> LlamaModel.load(ModelConfig.load(checkpoint),
                    st, new CpuKernels(false), 16)).getMessage();
        }
    }

    @Test
    void blockWiseScalesAreRefusedNamingTheTensor() throws IOException {
        Path p = edited("block", (n, t) -> n.equals(Q + "_scale"),
                w -> w.add(Q + "_scale", DType.F32, new long[] {2, 2}, new float[] {1, 1, 1, 1}));
        String m = loadError(p);
        assertTrue(m.contains(Q + "_scale") && m.contains("block-wise") && m.contains("[2, 2]"), m);
    }

    @Test
    void aMissingScaleIsRefusedNamingTheWeight() throws IOException {
        String m = loadError(edited("no-scale", (n, t) -> n.equals(Q + "_scale"), w -> { }));
        assertTrue(m.contains(Q) && m.contains("no " + Q + "_scale"), m);
    }

    @Test
    void anFp8EmbeddingIsRefusedNamingIt() throws IOException {
        String embed = "model.embed_tokens.weight";
        Path p = edited("fp8-embedding", (n, t) -> n.equals(embed),
                w -> w.add(embed, DType.F8_E4M3, new long[] {320, 64}, new byte[320 * 64])
                        .add(embed + "_scale", DType.F32, new long[0], new float[] {1f}));
        String m = loadError(p);
        assertTrue(m.contains(embed) && m.contains("linear layers only"), m);
    }

    @Test
    void e5m2WeightsAreRefusedNamingTheTensor() throws IOException {
        Path p = edited("e5m2", (n, t) -> n.equals(Q), w -> w.add(Q, DType.F8_E5M2, new long[] {64, 64}, new byte[64 * 64]));
        String m = loadError(p);
        assertTrue(m.contains(Q) && m.contains("F8_E5M2"), m);
    }
}
