package io.rocketkv.examples.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** {@code top_k} over HTTP: vLLM's -1 and 0 both disable top-k (the api's 0); other negatives are a 400. */
class CompletionRequestTopKTest {

    private static JsonNode body(String topK) throws Exception {
        return new ObjectMapper().readTree("{\"prompt\": \"the cat\", \"top_k\": " + topK + "}");
    }

    @ParameterizedTest
    @CsvSource({"-1, 0", "0, 0", "1, 1", "40, 40", "null, 0"})
    void topKReachesTheSamplingParams(String sent, int expected) throws Exception {
        CompletionRequest r = CompletionRequest.parse(body(sent), false, "m", 1000);
        assertEquals(expected, r.samplingParams(8).topK());
    }

    @ParameterizedTest
    @ValueSource(ints = {-2, -100})
    void otherNegativesAreRefusedNamingTopK(int bad) {
        ApiError e = assertThrows(ApiError.class, () -> CompletionRequest.parse(body(String.valueOf(bad)), false, "m", 1000));
        assertEquals(400, e.status());
        assertEquals("top_k", e.param());
        assertTrue(e.getMessage().contains("got " + bad), e.getMessage());
    }
}
