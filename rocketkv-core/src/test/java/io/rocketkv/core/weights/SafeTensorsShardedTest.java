package io.rocketkv.core.weights;

import io.rocketkv.core.numeric.DType;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SafeTensorsShardedTest {

    private static final String SHARD1 = "model-00001-of-00002.safetensors";
    private static final String SHARD2 = "model-00002-of-00002.safetensors";

    @TempDir
    Path dir;

    @BeforeEach
    void writeShards() throws IOException {
        new SafeTensorsWriter().metadata("format", "pt")
                .add("model.embed_tokens.weight", DType.BF16, new long[] {4, 2}, new float[] {1, 2, 3, 4, 5, 6, 7, 8})
                .add("model.layers.0.mlp.up_proj.weight", DType.F32, new long[] {2, 2}, new float[] {1, 0, 0, 1})
                .write(dir.resolve(SHARD1));
        new SafeTensorsWriter().metadata("format", "pt")
                .add("model.norm.weight", DType.F16, new long[] {2}, new float[] {0.5f, 2})
                .add("lm_head.weight", DType.F32, new long[] {4, 2}, new float[] {8, 7, 6, 5, 4, 3, 2, 1})
                .write(dir.resolve(SHARD2));
    }

    private static final String WEIGHT_MAP = """
            "weight_map": {
              "lm_head.weight": "%s",
              "model.embed_tokens.weight": "%s",
              "model.layers.0.mlp.up_proj.weight": "%s",
              "model.norm.weight": "%s"
            }""".formatted(SHARD2, SHARD1, SHARD1, SHARD2);

    private Path index(String json) throws IOException {
        return Files.writeString(dir.resolve("model.safetensors.index.json"), json);
    }

    @Test
    void shardedRoundTrip() throws IOException {
        Path index = index("{\"metadata\": {\"total_size\": 76}, " + WEIGHT_MAP + "}");
        for (Path open : List.of(dir, index)) {
            try (SafeTensors st = SafeTensors.open(open)) {
                assertEquals(List.of("lm_head.weight", "model.embed_tokens.weight",
                        "model.layers.0.mlp.up_proj.weight", "model.norm.weight"), List.copyOf(st.names()));
                assertEquals(2, st.files().size());
                assertEquals(index.toAbsolutePath(), st.source());
                assertEquals(dir.resolve(SHARD2).toAbsolutePath(), st.info("lm_head.weight").file());
                assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6, 7, 8}, st.readFloats("model.embed_tokens.weight"));
                assertArrayEquals(new float[] {0.5f, 2}, st.readFloats("model.norm.weight"));
                assertArrayEquals(new float[] {8, 7, 6, 5, 4, 3, 2, 1}, st.readFloats("lm_head.weight"));
                assertEquals(Map.of("format", "pt"), st.metadata());
            }
        }
    }

    @Test
    void indexThatIsNotJson() throws IOException {
        bad(index("{\"weight_map\": {"), "not valid JSON");
        bad(index("[]"), "not a JSON object");
        bad(index(""), "not a JSON object");
    }

    @Test
    void indexWithoutWeightMap() throws IOException {
        bad(index("{\"metadata\": {}}"), "weight_map");
        bad(index("{\"weight_map\": [\"" + SHARD1 + "\"]}"), "weight_map");
    }

    @Test
    void weightMapValueNotAFileName() throws IOException {
        bad(index("{\"weight_map\": {\"lm_head.weight\": 3}}"), "'lm_head.weight'");
        bad(index("{\"weight_map\": {\"lm_head.weight\": \"\"}}"), "'lm_head.weight'");
    }

    @Test
    void duplicateTensorInIndex() throws IOException {
        bad(index("{\"weight_map\": {\"lm_head.weight\": \"" + SHARD2 + "\", \"lm_head.weight\": \"" + SHARD1
                + "\"}}"), "lm_head.weight");
    }

    @Test
    void shardOutsideTheFolder() throws IOException {
        bad(index("{\"weight_map\": {\"lm_head.weight\": \"../" + SHARD2 + "\"}}"), "'lm_head.weight'", "outside");
        bad(index("{\"weight_map\": {\"lm_head.weight\": \"/etc/passwd\"}}"), "'lm_head.weight'", "outside");
    }

    @Test
    void missingShardNamesTheShardAndATensor() throws IOException {
        Path index = index("{" + WEIGHT_MAP + "}");
        Files.delete(dir.resolve(SHARD2));
        CheckpointFormatException e = bad(index, SHARD2, "lm_head.weight", "does not exist");
        assertTrue(e.getMessage().contains(index.toString()), e.getMessage());
    }

    @Test
    void tensorListedButAbsentFromItsShard() throws IOException {
        bad(index("{" + WEIGHT_MAP.replace("\"model.norm.weight\"", "\"model.final_norm.weight\"") + "}"),
                "'model.final_norm.weight'", SHARD2);
        bad(index("{" + WEIGHT_MAP.replace("\"lm_head.weight\": \"" + SHARD2, "\"lm_head.weight\": \"" + SHARD1)
                + "}"), "'lm_head.weight'", SHARD1);
    }

    @Test
    void corruptShardIsNamed() throws IOException {
        Path index = index("{" + WEIGHT_MAP + "}");
        byte[] bytes = Files.readAllBytes(dir.resolve(SHARD2));
        Files.write(dir.resolve(SHARD2), java.util.Arrays.copyOf(bytes, bytes.length - 1));
        bad(index, SHARD2);
    }

    @Test
    void singleFileWinsOverIndexLikeTransformers() throws IOException {
        index("{\"weight_map\": {\"x\": \"missing.safetensors\"}}");
        new SafeTensorsWriter().add("w", DType.F32, new long[] {1}, new float[] {3}).write(dir.resolve(
                SafeTensors.SINGLE_FILE_NAME));
        try (SafeTensors st = SafeTensors.open(dir)) {
            assertEquals(List.of("w"), List.copyOf(st.names()));
        }
    }

    private CheckpointFormatException bad(Path open, String... expected) {
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> SafeTensors.open(open).close());
        for (String s : expected) {
            assertTrue(e.getMessage().contains(s), "message should contain <" + s + ">: " + e.getMessage());
        }
        return e;
    }
}
