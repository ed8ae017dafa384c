package io.rocketkv.core.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.tokenizer.TokenizerFixtures.GoldenCase;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * decode(encode(s)) == s wherever the golden data shows the tokenizer is lossless for s: where
 * Python's decode(ids, skip_special_tokens=True) gave back the input exactly.
 */
class TokenizerRoundTripTest {

    @TestFactory
    Stream<DynamicTest> losslessCasesRoundTrip() {
        return TokenizerFixtures.NAMES.stream().flatMap(name -> {
            Tokenizer tokenizer = TokenizerFixtures.tokenizer(name);
            List<GoldenCase> lossless = TokenizerFixtures.goldens(name).stream()
                    .filter(c -> c.decodedSkipSpecial().equals(c.text())).toList();
            // Sanity: most inputs are plain text, so most must be lossless.
            assertTrue(lossless.size() > 300, name + ": only " + lossless.size() + " lossless cases");
            return lossless.stream().map(c -> DynamicTest.dynamicTest(name + " " + c.label(), () ->
                    assertEquals(TokenizerFixtures.quote(c.text(), 100_000),
                            TokenizerFixtures.quote(tokenizer.decode(tokenizer.encode(c.text(), false), false), 100_000))));
        });
    }
}
