package io.rocketkv.examples.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The task generator: deterministic, the documented format, lengths close to the request in real tokens. */
class RetrievalTasksTest {

    static final Path MODEL = Path.of("../models/tiny-random-llama");
    static final Tokenizer TOK = Tokenizer.load(MODEL);
    static final RetrievalTasks GEN = new RetrievalTasks(s -> TOK.encode(s, false).length, s -> TOK.encode(s, true).length);

    @ParameterizedTest
    @ValueSource(strings = {"passkey", "multikey", "vartrack"})
    void sameSeedSameCaseOtherSeedOtherCase(String task) {
        var a = GEN.generate(task, 500, 11);
        var b = GEN.generate(task, 500, 11);
        var c = GEN.generate(task, 500, 12);
        assertEquals(a.prompt(), b.prompt());
        assertEquals(a.answer(), b.answer());
        assertNotEquals(a.prompt(), c.prompt());
    }

    @ParameterizedTest
    @ValueSource(strings = {"passkey", "multikey", "vartrack"})
    void formatNeedlesQuestionAndLength(String task) {
        for (int ctx : new int[] {300, 600, 1000}) {
            for (long seed = 0; seed < 4; seed++) {
                var c = GEN.generate(task, ctx, seed);
                String p = c.prompt();
                assertTrue(p.endsWith("\n\nQuestion: " + c.question() + "\nAnswer:"), p);
                assertEquals(1, p.split("Question: ", -1).length - 1, "the question appears once, at the end");
                assertTrue(c.answer().matches("[1-9][0-9]{4}"), c.answer());
                int last = -1;
                for (int i = 0; i < c.needles().size(); i++) {
                    int at = c.needleOffsets()[i];
                    assertTrue(at > last, "needles in order");
                    assertEquals(c.needles().get(i), p.substring(at, at + c.needles().get(i).length()));
                    last = at;
                }
                assertTrue(String.join(" ", c.needles()).contains(c.answer()), "the answer is in a needle");
                // short of the request by less than one filler sentence (up to ~50 tokens in this 296-token
                // vocabulary; ~15 in a few-thousand-token one)
                int tokens = TOK.encode(p, true).length;
                assertTrue(tokens <= ctx && tokens >= ctx - Math.max(60, ctx / 20),
                        task + " asked " + ctx + " tokens, got " + tokens);
            }
        }
    }

    @Test
    void taskSpecificContent() {
        var pk = GEN.generate("passkey", 400, 5);
        assertEquals("What is the pass key?", pk.question());
        assertEquals("The pass key is " + pk.answer() + ". Remember it. " + pk.answer() + " is the pass key.",
                pk.needles().getFirst());

        var mk = GEN.generate("multikey", 400, 5);
        assertEquals(4, mk.needles().size());
        String key = mk.question().replaceAll("^What is the special magic number for (\\S+)\\?$", "$1");
        assertTrue(mk.needles().contains("One of the special magic numbers for " + key + " is: " + mk.answer() + "."),
                mk.needles() + " / " + mk.question());

        var vt = GEN.generate("vartrack", 400, 5);
        assertEquals(6, vt.needles().size());
        // follow the chain back from the asked variable to its value
        String name = vt.question().replaceAll("^What is the value of VAR ([A-Z]{5})\\?$", "$1");
        String value = null;
        for (int hop = 0; hop < 10 && value == null; hop++) {
            for (String n : vt.needles()) {
                if (n.startsWith("VAR " + name + " = VAR ")) {
                    name = n.substring(("VAR " + name + " = VAR ").length(), n.length() - 1);
                    break;
                } else if (n.startsWith("VAR " + name + " = ")) {
                    value = n.substring(("VAR " + name + " = ").length(), n.length() - 1);
                }
            }
        }
        assertEquals(vt.answer(), value, vt.needles().toString());
    }

    @Test
    void fillerIsVariedAndSeedsAreHeldOut() {
        Set<String> sentences = new HashSet<>();
        var rng = new java.util.SplittableRandom(1);
        for (int i = 0; i < 300; i++) {
            sentences.add(GEN.sentence(rng));
        }
        assertTrue(sentences.size() > 290, "300 filler sentences, " + sentences.size() + " distinct");
        long s = RetrievalTasks.caseSeed(0, "passkey", 4096, 0);
        assertTrue(s >= RetrievalTasks.EVAL_SEED_BASE, "evaluation seeds are >= 2^40: " + s);
        assertNotEquals(s, RetrievalTasks.caseSeed(0, "passkey", 4096, 1));
    }

    @Test
    void badTaskAndTooShortContextNameTheFix() {
        var e = assertThrows(IllegalArgumentException.class, () -> GEN.generate("needle", 300, 1));
        assertTrue(e.getMessage().contains("passkey"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> GEN.generate("vartrack", 20, 1));
        assertTrue(e.getMessage().contains("20") && e.getMessage().contains("too short"), e.getMessage());
    }
}
