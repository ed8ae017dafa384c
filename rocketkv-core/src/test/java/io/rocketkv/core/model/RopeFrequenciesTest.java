package io.rocketkv.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rocketkv.core.kernels.RopeTable;
import java.io.IOException;
import java.io.InputStream;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Every RoPE kind's inverse frequencies and attention factor against transformers' own
 * ({@code parity/rope_expectations.json}, made by {@code tools/hf_reference/make_rope_expectations.py}: a fresh
 * LlamaRotaryEmbedding (Phi3RotaryEmbedding for the Phi-3 configs) per config and length, run over positions
 * 0 .. length - 1 so that dynamic and longrope pick that length's table). Each case's config.json goes through
 * {@link ModelConfig#parse}, so the keys and defaults are checked with the numbers. Frequencies within one ulp
 * (torch's float32 pow() is not always correctly rounded: {@code 10000 ** (40 / 96)} is one ulp below), longrope's
 * within two (it multiplies the power by a factor before the reciprocal, so one ulp of the power can become two); the
 * attention factor is a Python double and must be equal.
 */
class RopeFrequenciesTest {

    private static final int ULPS = 1;
    private static final int LONGROPE_ULPS = 2;

    @Test
    void everyKindMatchesTransformers() throws IOException {
        JsonNode fixture = fixture();
        Set<String> kinds = new HashSet<>();
        int exact = 0;
        int values = 0;
        int worst = 0;
        for (JsonNode c : fixture.path("cases")) {
            String what = c.path("name").asText() + " at " + c.path("seq_len");
            ModelConfig config = ModelConfig.parse(c.path("config").toString(), null);
            RopeTable table = config.ropeTable();
            float[] got = c.path("seq_len").isNull() ? config.ropeInvFreq() : table.invFreq(c.path("seq_len").asInt());
            JsonNode expected = c.path("inv_freq");
            assertEquals(expected.size(), got.length, what);
            int allowed = config.ropeScaling() instanceof RopeScaling.LongRope ? LONGROPE_ULPS : ULPS;
            for (int i = 0; i < got.length; i++) {
                float e = (float) expected.get(i).asDouble();
                int ulps = Math.abs(Float.floatToIntBits(e) - Float.floatToIntBits(got[i]));
                assertTrue(ulps <= allowed, what + " inv_freq[" + i + "]: transformers " + e + ", got " + got[i] + " ("
                        + ulps + " ulps)");
                exact += ulps == 0 ? 1 : 0;
                values++;
                worst = Math.max(worst, ulps);
            }
            double attention = c.path("attention_factor").asDouble();
            assertEquals(attention, RopeFrequencies.attentionFactor(config), what + " attention factor");
            assertEquals((float) attention, table.attentionFactor(), what + " attention factor (float32, as applied)");
            kinds.add(config.ropeScaling() == null ? "default" : config.ropeScaling().type());
        }
        System.out.printf("rope tables vs transformers %s: %d of %d values bit-for-bit, the rest within %d ulp%n",
                fixture.path("transformers_version").asText(), exact, values, worst);
        assertEquals(Set.copyOf(RopeScaling.SUPPORTED_TYPES), kinds, "the fixture covers every supported kind");
    }

    @Test
    void lengthDependenceFollowsTransformersThresholds() {
        // dynamic: max_position_embeddings (transformers' original_max_seq_len); longrope: original_max_position_embeddings
        for (JsonNode c : fixtureCases()) {
            ModelConfig config = ModelConfig.parse(c.path("config").toString(), null);
            RopeTable table = config.ropeTable();
            int threshold = switch (config.ropeScaling()) {
                case RopeScaling.Dynamic d -> config.maxPositionEmbeddings();
                case RopeScaling.LongRope l -> l.originalMaxPositionEmbeddings();
                case null, default -> Integer.MAX_VALUE;
            };
            assertEquals(threshold, table.lengthIndependentUpTo(), c.path("name").asText());
            assertEquals(threshold != Integer.MAX_VALUE, table.dependsOnLength(), c.path("name").asText());
        }
    }

    private static Iterable<JsonNode> fixtureCases() {
        try {
            return fixture().path("cases");
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private static JsonNode fixture() throws IOException {
        try (InputStream in = RopeFrequenciesTest.class.getResourceAsStream("/parity/rope_expectations.json")) {
            return new ObjectMapper().readTree(in);
        }
    }
}
