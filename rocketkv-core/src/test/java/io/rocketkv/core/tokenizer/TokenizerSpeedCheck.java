package io.rocketkv.core.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;

/**
 * Not a test: times loading the fixture tokenizers and encoding ~500 KB of English-like text.
 * Run with the test classpath: {@code java -cp ... io.rocketkv.core.tokenizer.TokenizerSpeedCheck [name]}.
 */
public final class TokenizerSpeedCheck {
    private TokenizerSpeedCheck() {
    }

    public static void main(String[] args) {
        List<String> names = args.length > 0 ? List.of(args) : TokenizerFixtures.NAMES;
        String text = englishText(500_000, 42);
        int bytes = text.getBytes(StandardCharsets.UTF_8).length;
        for (String name : names) {
            long t0 = System.nanoTime();
            Tokenizer tokenizer = Tokenizer.load(TokenizerFixtures.dir(name));
            long t1 = System.nanoTime();
            System.out.printf("%s: load %.0f ms%n", name, (t1 - t0) / 1e6);
            int tokens = 0;
            for (int round = 0; round < 8; round++) {
                // A fresh text each round defeats the word cache for the first pass, as a new prompt would.
                String input = round == 0 ? text : englishText(500_000, round);
                long s = System.nanoTime();
                tokens = tokenizer.encode(input, true).length;
                long e = System.nanoTime();
                System.out.printf("  round %d: %d tokens in %.1f ms = %.1f MB/s%n", round, tokens, (e - s) / 1e6,
                        bytes / ((e - s) / 1e9) / 1e6);
            }
            long s = System.nanoTime();
            String back = tokenizer.decode(tokenizer.encode(text, false), false);
            System.out.printf("  encode+decode round trip %.1f ms, equal=%s%n", (System.nanoTime() - s) / 1e6,
                    back.equals(text));
        }
    }

    /** Seeded English-like prose: common words, punctuation, numbers, line breaks. */
    static String englishText(int chars, long seed) {
        String[] words = ("the of and to in a is that for it as was with be by on not he I this are or his from at "
                + "which but have an they you were her she there been one all we their has would when if so no "
                + "inference cache memory attention sequence tokens model context length sparse selection prefill "
                + "decode throughput latency kernel GPU budget compression accuracy benchmark evaluation retrieval "
                + "Llama Qwen RocketKV Java don't it's we'll they're 2024 3.14 1,000 (see above) e.g. i.e.").split(" ");
        Random rng = new Random(seed);
        StringBuilder out = new StringBuilder(chars + 100);
        boolean capital = true;
        while (out.length() < chars) {
            String w = words[rng.nextInt(words.length)];
            out.append(capital ? Character.toUpperCase(w.charAt(0)) + w.substring(1) : w);
            capital = false;
            int r = rng.nextInt(100);
            if (r < 8) {
                out.append(". ");
                capital = true;
            } else if (r < 12) {
                out.append(", ");
            } else if (r < 13) {
                out.append(".\n\n");
                capital = true;
            } else {
                out.append(' ');
            }
        }
        return out.substring(0, chars);
    }
}
