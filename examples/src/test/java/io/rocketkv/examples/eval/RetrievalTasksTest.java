package io.rocketkv.examples.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rocketkv.core.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The task generator: deterministic, the documented format (the shared grammar, version 2, and the earlier version 1
 * kept in tools/retrieval_model/experiments), lengths close to the request in real tokens.
 */
class RetrievalTasksTest {

    static final Path MODEL = Path.of("../models/tiny-random-llama");
    static final Tokenizer TOK = Tokenizer.load(MODEL);
    static final RetrievalTasks GEN = new RetrievalTasks(s -> TOK.encode(s, false).length, s -> TOK.encode(s, true).length);
    static final JsonNode GRAMMAR_V1 =
            RetrievalTasks.loadGrammar(Path.of("../tools/retrieval_model/experiments/grammar_v1.json"));
    static final RetrievalTasks GEN_V1 = new RetrievalTasks(GRAMMAR_V1, s -> TOK.encode(s, false).length,
            s -> TOK.encode(s, true).length);

    static RetrievalTasks generator(int version) {
        return version == 1 ? GEN_V1 : GEN;
    }

    @Test
    void theSharedGrammarIsVersionTwo() {
        JsonNode g = RetrievalTasks.loadGrammar();
        assertEquals(2, g.get("version").asInt());
        assertEquals("{context}\n\nQuestion: {question}", g.get("prompt").asText());
        assertEquals(1, GRAMMAR_V1.get("version").asInt());
        assertEquals(" ", GEN.answerPrefix());
        assertEquals(" ", GEN_V1.answerPrefix());
        var noQuestion = ((ObjectNode) GRAMMAR_V1.deepCopy()).put("prompt", "{context}\nAnswer:");
        var e = assertThrows(IllegalArgumentException.class,
                () -> new RetrievalTasks(noQuestion, String::length, String::length));
        assertTrue(e.getMessage().contains("{question}"), e.getMessage());
    }

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
    @CsvSource({"passkey,2", "multikey,2", "vartrack,2", "passkey,1", "multikey,1", "vartrack,1"})
    void formatNeedlesQuestionAndLength(String task, int version) {
        for (int ctx : new int[] {300, 600, 1000}) {
            for (long seed = 0; seed < 4; seed++) {
                var c = generator(version).generate(task, ctx, seed);
                String p = c.prompt();
                if (version == 1) {
                    assertTrue(p.endsWith("\n\nQuestion: " + c.question() + "\nAnswer:"), p);
                } else {
                    // the answer line, with its lead (the asked key / variable; none for passkey), ends the question
                    assertTrue(p.endsWith("\n\nQuestion: " + c.question()), p);
                    String q = c.question();
                    String lead = switch (task) {
                        case "passkey" -> "";
                        case "multikey" ->
                                " " + q.replaceAll("(?s)^What is the special magic number for (\\S+)\\?\n.*$", "$1");
                        default -> " " + q.replaceAll("(?s)^What is the value of (VAR \\S+)\\?\n.*$", "$1");
                    };
                    assertTrue(c.question().endsWith("?\nAnswer:" + lead), c.question());
                    assertEquals(1, c.question().split("\n", -1).length - 1, "one line break, before the answer line");
                }
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

    @ParameterizedTest
    @ValueSource(longs = {0, 5, 17})
    void taskSpecificContent(long seed) {
        var pk = GEN.generate("passkey", 400, seed);
        assertEquals("What is the pass key?\nAnswer:", pk.question());
        assertEquals("The pass key is " + pk.answer() + ". Remember it. " + pk.answer() + " is the pass key.",
                pk.needles().getFirst());
        assertTrue(pk.prompt().endsWith("\n\nQuestion: What is the pass key?\nAnswer:"), pk.prompt());

        // multikey: 4 one-word keys (nouns of the grammar), each needle's value right after its key; the answer
        // line repeats the asked key
        var mk = GEN.generate("multikey", 400, seed);
        assertEquals(4, mk.needles().size());
        Matcher q = Pattern.compile("What is the special magic number for ([a-z]+)\\?\nAnswer: ([a-z]+)")
                .matcher(mk.question());
        assertTrue(q.matches(), mk.question());
        assertEquals(q.group(1), q.group(2), "the answer lead is the asked key");
        Set<String> nouns = new HashSet<>();
        RetrievalTasks.loadGrammar().get("tasks").get("multikey").get("key_noun").forEach(n -> nouns.add(n.asText()));
        Map<String, String> valueOf = new HashMap<>();
        for (String n : mk.needles()) {
            Matcher m = Pattern.compile("One of the special magic numbers is ([a-z]+) ([1-9][0-9]{4})\\.").matcher(n);
            assertTrue(m.matches(), n);
            assertTrue(nouns.contains(m.group(1)), m.group(1) + " is a key noun");
            assertTrue(valueOf.put(m.group(1), m.group(2)) == null, "distinct keys: " + mk.needles());
        }
        assertEquals(4, new HashSet<>(valueOf.values()).size(), "distinct values: " + mk.needles());
        assertEquals(mk.answer(), valueOf.get(q.group(1)), mk.needles() + " / " + mk.question());

        // vartrack: 6 one-letter names (no A, I, O), "VAR X value." / "VAR X source."; the answer line repeats the
        // asked variable; following the chain back from it gives the answer
        var vt = GEN.generate("vartrack", 400, seed);
        assertEquals(6, vt.needles().size());
        Matcher vq = Pattern.compile("What is the value of VAR ([A-Z])\\?\nAnswer: VAR ([A-Z])").matcher(vt.question());
        assertTrue(vq.matches(), vt.question());
        assertEquals(vq.group(1), vq.group(2), "the answer lead is the asked variable");
        Map<String, String> rhs = new HashMap<>();
        for (String n : vt.needles()) {
            Matcher m = Pattern.compile("VAR ([B-HJ-NP-Z]) ([B-HJ-NP-Z]|[1-9][0-9]{4})\\.").matcher(n);
            assertTrue(m.matches(), n);
            assertTrue(rhs.put(m.group(1), m.group(2)) == null, "distinct names: " + vt.needles());
        }
        String at = vq.group(1);
        List<String> chain = new ArrayList<>();
        while (rhs.containsKey(at) && chain.size() < 10) {
            chain.add(at);
            at = rhs.get(at);
        }
        assertEquals(3, chain.size(), "3 hops: " + vt.needles());
        assertEquals(vt.answer(), at, vt.needles().toString());
        for (int i = chain.size() - 1; i > 0; i--) { // each chain in order: a variable after its source
            int copy = vt.needles().indexOf("VAR " + chain.get(i - 1) + " " + chain.get(i) + ".");
            int source = vt.needles().indexOf("VAR " + chain.get(i) + " " + rhs.get(chain.get(i)) + ".");
            assertTrue(copy > source, vt.needles().toString());
        }
    }

    @Test
    void versionOneGrammarStillGenerates() {
        var pk = GEN_V1.generate("passkey", 400, 5);
        assertEquals("What is the pass key?", pk.question());
        assertTrue(pk.prompt().endsWith("\n\nQuestion: What is the pass key?\nAnswer:"), pk.prompt());
        // passkey prompts are the same in both versions (the bundled model, trained on version 1, sees its format)
        assertEquals(pk.prompt(), GEN.generate("passkey", 400, 5).prompt());

        var mk = GEN_V1.generate("multikey", 400, 5);
        assertEquals(4, mk.needles().size());
        String key = mk.question().replaceAll("^What is the special magic number for ([a-z]+-[a-z]+)\\?$", "$1");
        assertTrue(mk.needles().contains("One of the special magic numbers for " + key + " is: " + mk.answer() + "."),
                mk.needles() + " / " + mk.question());

        var vt = GEN_V1.generate("vartrack", 400, 5);
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
