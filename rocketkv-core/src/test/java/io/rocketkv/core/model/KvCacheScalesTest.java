package io.rocketkv.core.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.weights.CheckpointFormatException;
import io.rocketkv.core.weights.SafeTensors;
import io.rocketkv.core.weights.SafeTensorsWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KvCacheScalesTest {

    @TempDir
    Path dir;

    private SafeTensors write(String file, SafeTensorsWriter w) throws Exception {
        Path p = dir.resolve(file);
        w.write(p);
        return SafeTensors.open(p);
    }

    @Test
    void readsEachLayersScalarsAndGivesOneWhereAbsent() throws Exception {
        SafeTensorsWriter w = new SafeTensorsWriter()
                .add("model.layers.0.self_attn.k_scale", DType.F32, new long[] {}, new float[] {0.5f})
                .add("model.layers.0.self_attn.v_scale", DType.F32, new long[] {1}, new float[] {2.25f})
                .add("model.layers.1.input_layernorm.weight", DType.F32, new long[] {2}, new float[] {1f, 1f})
                .add("model.layers.2.self_attn.k_proj.k_scale", DType.BF16, new long[] {}, new float[] {0.125f})
                .add("model.layers.2.self_attn.v_proj.v_scale", DType.F32, new long[] {}, new float[] {4f});
        try (SafeTensors st = write("a.safetensors", w)) {
            KvCacheScales s = KvCacheScales.read(st, 3);
            assertArrayEquals(new float[] {0.5f, 1f, 0.125f}, s.k());
            assertArrayEquals(new float[] {2.25f, 1f, 4f}, s.v());
            assertTrue(s.scaled());
        }
        assertFalse(KvCacheScales.ones(3).scaled());
    }

    @Test
    void refusesHalfAPairNonScalarsAndBadValuesNamingTheTensor() throws Exception {
        try (SafeTensors st = write("b.safetensors", new SafeTensorsWriter()
                .add("model.layers.0.self_attn.k_scale", DType.F32, new long[] {}, new float[] {0.5f}))) {
            var e = assertThrows(CheckpointFormatException.class, () -> KvCacheScales.read(st, 1));
            assertTrue(e.getMessage().contains("k_scale without model.layers.0.self_attn.v_scale"), e.getMessage());
        }
        try (SafeTensors st = write("c.safetensors", new SafeTensorsWriter()
                .add("model.layers.0.self_attn.k_scale", DType.F32, new long[] {2}, new float[] {0.5f, 1f})
                .add("model.layers.0.self_attn.v_scale", DType.F32, new long[] {}, new float[] {1f}))) {
            var e = assertThrows(CheckpointFormatException.class, () -> KvCacheScales.read(st, 1));
            assertTrue(e.getMessage().contains("model.layers.0.self_attn.k_scale has 2 elements"), e.getMessage());
        }
        try (SafeTensors st = write("d.safetensors", new SafeTensorsWriter()
                .add("model.layers.0.self_attn.k_scale", DType.F32, new long[] {}, new float[] {1f})
                .add("model.layers.0.self_attn.v_scale", DType.F32, new long[] {}, new float[] {0f}))) {
            var e = assertThrows(CheckpointFormatException.class, () -> KvCacheScales.read(st, 1));
            assertTrue(e.getMessage().contains("v_scale is 0.0") && e.getMessage().contains("positive"), e.getMessage());
        }
    }
}
