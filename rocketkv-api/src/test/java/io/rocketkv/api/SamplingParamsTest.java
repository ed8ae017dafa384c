package io.rocketkv.api;

import static io.rocketkv.api.ConfigAssertions.assertConfigError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.engine.SamplingOptions;
import io.rocketkv.core.engine.StopCriteria;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SamplingParamsTest {

    @Test
    void defaultsFollowTensorRtLlm() {
        SamplingParams p = SamplingParams.defaults();
        assertEquals(32, p.maxTokens());
        assertEquals(0.0, p.temperature(), "temperature, top_k and top_p unset: greedy, as TensorRT-LLM");
        assertEquals(0, p.topK());
        assertEquals(1.0, p.topP());
        assertNull(p.seed());
        assertEquals(List.of(), p.stop());
        assertEquals(List.of(), p.stopTokenIds());
        assertFalse(p.ignoreEos());
        assertNull(p.logprobs());
        assertTrue(p.isGreedy());
        assertEquals(1, p.n());
        assertNull(p.bestOf());
        assertEquals(1, p.numSampled());
        assertEquals(0, p.minTokens());
        assertNull(p.repetitionPenalty());
        assertNull(p.presencePenalty());
        assertNull(p.frequencyPenalty());
        assertNull(p.minP());
        assertEquals(Map.of(), p.logitBias());
        assertEquals(List.of(), p.bad());
        assertEquals(List.of(), p.badTokenIds());
        assertFalse(p.includeStopStrInOutput());
        assertTrue(p.addSpecialTokens());
        assertTrue(p.skipSpecialTokens());
        assertNull(p.promptLogprobs());
        assertNull(p.truncatePromptTokens());
    }

    @Test
    void settingAnyOfTemperatureTopKTopPSamplesWithTheOthersAtTheirNeutralValues() {
        SamplingParams k = SamplingParams.builder().topK(50).build();
        assertEquals(1.0, k.temperature());
        assertFalse(k.isGreedy());
        SamplingParams p = SamplingParams.builder().topP(0.9).build();
        assertEquals(1.0, p.temperature());
        assertEquals(0, p.topK());
        assertFalse(p.isGreedy());
        assertEquals(0.5, SamplingParams.builder().temperature(0.5).build().temperature());
        assertTrue(SamplingParams.builder().topP(0.0).build().isGreedy(), "top_p 0 is greedy, as TensorRT-LLM");
        assertTrue(SamplingParams.builder().topP(0.0).temperature(0.8).build().toSamplingOptions().isGreedy());
    }

    @Test
    void builderSetsEveryFieldAndToBuilderRoundTrips() {
        SamplingParams p = SamplingParams.builder().maxTokens(100).temperature(0.7).topK(40).topP(0.95)
                .seed(42L).stop("\n\n", "</s>").stopTokenIds(128001, 128009).ignoreEos(true).logprobs(5).build();
        assertEquals(100, p.maxTokens());
        assertEquals(0.7, p.temperature());
        assertEquals(40, p.topK());
        assertEquals(0.95, p.topP());
        assertEquals(42L, p.seed());
        assertEquals(List.of("\n\n", "</s>"), p.stop());
        assertEquals(List.of(128001, 128009), p.stopTokenIds());
        assertTrue(p.ignoreEos());
        assertEquals(5, p.logprobs());
        assertEquals(p, p.toBuilder().build());
        assertEquals(p.hashCode(), p.toBuilder().build().hashCode());
        assertTrue(p.toString().contains("topK=40"), p.toString());
    }

    @Test
    void nullsRestoreTheDefaults() {
        SamplingParams p = SamplingParams.builder().temperature(0.1).topK(5).topP(0.5).build().toBuilder()
                .temperature(null).topK(null).topP(null).stop((List<String>) null).stopTokenIds((List<Integer>) null)
                .build();
        assertEquals(SamplingParams.defaults(), p);
    }

    @Test
    void greedyWhenTemperatureIsZeroOrTopKIsOne() {
        assertTrue(SamplingParams.builder().temperature(0.0).build().isGreedy());
        assertTrue(SamplingParams.builder().topK(1).build().isGreedy());
        assertFalse(SamplingParams.builder().topK(2).build().isGreedy());
        assertFalse(SamplingParams.builder().temperature(0.01).build().isGreedy());
    }

    @Test
    void listsAreCopiedAndUnmodifiable() {
        List<String> stop = new ArrayList<>(List.of("a"));
        SamplingParams p = SamplingParams.builder().stop(stop).build();
        stop.add("b");
        assertEquals(List.of("a"), p.stop());
        assertThrows(UnsupportedOperationException.class, () -> p.stop().add("c"));
        assertThrows(UnsupportedOperationException.class, () -> p.stopTokenIds().add(1));
    }

    @ParameterizedTest
    @ValueSource(ints = {0, -5})
    void maxTokensMustBePositive(int bad) {
        assertConfigError("sampling_params.max_tokens", () -> SamplingParams.builder().maxTokens(bad).build(),
                "sampling_params.max_tokens (maxTokens)", ">= 1", "got " + bad);
    }

    @ParameterizedTest
    @ValueSource(doubles = {-0.5, Double.NaN, Double.POSITIVE_INFINITY})
    void temperatureMustBeNonNegativeAndFinite(double bad) {
        assertConfigError("sampling_params.temperature", () -> SamplingParams.builder().temperature(bad).build(),
                "sampling_params.temperature (temperature)", ">= 0", "got " + bad);
    }

    @Test
    void topKMustBeNonNegative() {
        assertConfigError("sampling_params.top_k", () -> SamplingParams.builder().topK(-1).build(),
                "sampling_params.top_k (topK)", ">= 0", "got -1");
    }

    @ParameterizedTest
    @ValueSource(doubles = {-0.1, 1.5, Double.NaN})
    void topPMustBeInTheUnitInterval(double bad) {
        assertConfigError("sampling_params.top_p", () -> SamplingParams.builder().topP(bad).build(),
                "sampling_params.top_p (topP)", "in [0, 1]", "got " + bad);
    }

    @Test
    void stopStringsMustBeNonEmpty() {
        assertConfigError("sampling_params.stop[1]", () -> SamplingParams.builder().stop("ok", "").build(),
                "sampling_params.stop[1] (stop)", "non-empty string", "got \"\"");
        assertConfigError("sampling_params.stop[0]",
                () -> SamplingParams.builder().stop(Arrays.asList((String) null)).build(), "got null");
    }

    @Test
    void stopTokenIdsMustBeNonNegative() {
        assertConfigError("sampling_params.stop_token_ids[2]",
                () -> SamplingParams.builder().stopTokenIds(1, 2, -7).build(),
                "sampling_params.stop_token_ids[2] (stopTokenIds)", ">= 0", "got -7");
        assertConfigError("sampling_params.stop_token_ids[0]",
                () -> SamplingParams.builder().stopTokenIds(Arrays.asList((Integer) null)).build(), "got null");
    }

    @ParameterizedTest
    @ValueSource(ints = {-1, 21})
    void logprobsMustBeZeroToTwenty(int bad) {
        assertConfigError("sampling_params.logprobs", () -> SamplingParams.builder().logprobs(bad).build(),
                "sampling_params.logprobs (logprobs)", "0..20", "got " + bad);
    }

    @Test
    void mapsToTheEngineByName() {
        SamplingParams p = SamplingParams.builder().maxTokens(100).temperature(0.7).topK(40).topP(0.95)
                .seed(42L).stop("\n\n", "</s>").stopTokenIds(128001, 128009).ignoreEos(true).logprobs(5).build();
        assertEquals(SamplingOptions.builder().temperature(0.7).topK(40).topP(0.95).seed(42L).logprobs(5).build(),
                p.toSamplingOptions());
        assertEquals(StopCriteria.builder().eosTokenIds(List.of(2, 7)).stopTokenIds(List.of(128001, 128009))
                .stopStrings(List.of("\n\n", "</s>")).maxTokens(100).ignoreEos(true).build(),
                p.toStopCriteria(List.of(2, 7)));
        // top_k 0 disables top-k in the api and the engine alike: the same value crosses
        SamplingOptions defaults = SamplingParams.defaults().toSamplingOptions();
        assertEquals(0, defaults.topK());
        assertFalse(defaults.topKEnabled());
        assertEquals(SamplingOptions.GREEDY, defaults, "the api's defaults: greedy");
        assertEquals(32, SamplingParams.defaults().toStopCriteria(List.of()).maxTokens());
    }

    @Test
    void logprobsBoundsAreAllowed() {
        assertEquals(0, SamplingParams.builder().logprobs(0).build().logprobs());
        assertEquals(20, SamplingParams.builder().logprobs(20).build().logprobs());
    }
}
