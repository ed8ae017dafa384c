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
 * The task generator: deterministic, the documented format (the shared grammar, version 3, and the earlier versions 2
 * and 1 kept in tools/retrieval_model/experiments), lengths close to the request in real tokens.
 */
class RetrievalTasksTest {

    static final Path MODEL = Path.of("../models/tiny-random-llama");
    static final Tokenizer TOK = Tokenizer.load(MODEL);
    static final RetrievalTasks GEN = new RetrievalTasks(s -> TOK.encode(s, false).length, s -> TOK.encode(s, true).length);
    static final JsonNode GRAMMAR_V1 =
            RetrievalTasks.loadGrammar(Path.of("../tools/retrieval_model/experiments/grammar_v1.json"));
    static final RetrievalTasks GEN_V1 = new RetrievalTasks(GRAMMAR_V1, s -> TOK.encode(s, false).length,
            s -> TOK.encode(s, true).length);
    static final JsonNode GRAMMAR_V2 =
            RetrievalTasks.loadGrammar(Path.of("../tools/retrieval_model/experiments/grammar_v2.json"));
    static final RetrievalTasks GEN_V2 = new RetrievalTasks(GRAMMAR_V2, s -> TOK.encode(s, false).length,
            s -> TOK.encode(s, true).length);

    static RetrievalTasks generator(int version) {
        return switch (version) {
            case 1 -> GEN_V1;
            case 2 -> GEN_V2;
            default -> GEN;
        };
    }

    @Test
    void theSharedGrammarIsVersionThree() {
        JsonNode g = RetrievalTasks.loadGrammar();
        assertEquals(3, g.get("version").asInt());
        assertEquals("{context}\n\nQuestion: {question}", g.get("prompt").asText());
        assertTrue(g.get("tasks").get("vartrack").get("answer_spells_chain").asBoolean(), "version 3 spells the chain");
        assertEquals(2, GRAMMAR_V2.get("version").asInt());
        assertTrue(GRAMMAR_V2.get("tasks").get("vartrack").path("answer_spells_chain").isMissingNode());
        assertEquals(1, GRAMMAR_V1.get("version").asInt());
        assertTrue(GRAMMAR_V1.get("tasks").get("vartrack").path("answer_spells_chain").isMissingNode());
        assertEquals(" ", GEN.answerPrefix());
        assertEquals(" ", GEN_V2.answerPrefix());
        assertEquals(" ", GEN_V1.answerPrefix());
        // version 3 is version 2 with answer_spells_chain (and its own version number and comment)
        ObjectNode v3 = (ObjectNode) g.deepCopy();
        ObjectNode v2 = (ObjectNode) GRAMMAR_V2.deepCopy();
        for (ObjectNode v : List.of(v3, v2)) {
            v.remove(List.of("version", "comment"));
            ((ObjectNode) v.get("tasks").get("vartrack")).remove("answer_spells_chain");
        }
        assertEquals(v2, v3, "version 3 differs from version 2 only in the vartrack answer");
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
    @CsvSource({"passkey,3", "multikey,3", "vartrack,3", "passkey,2", "multikey,2", "vartrack,2", "passkey,1",
            "multikey,1", "vartrack,1"})
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
                // a 5-digit value; a version 3 vartrack answer first names the asked variable's 2 sources
                String value = version == 3 && task.equals("vartrack") ? "[B-HJ-NP-Z] [B-HJ-NP-Z] [1-9][0-9]{4}"
                        : "[1-9][0-9]{4}";
                assertTrue(c.answer().matches(value), c.answer());
                int last = -1;
                for (int i = 0; i < c.needles().size(); i++) {
                    int at = c.needleOffsets()[i];
                    assertTrue(at > last, "needles in order");
                    assertEquals(c.needles().get(i), p.substring(at, at + c.needles().get(i).length()));
                    last = at;
                }
                assertTrue(String.join(" ", c.needles()).contains(c.answer().substring(c.answer().lastIndexOf(' ') + 1)),
                        "the answer's value is in a needle");
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
        // asked variable; following the chain back from it gives the answer (version 3: the sources passed, then
        // the value)
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
        assertEquals(chain.get(1) + " " + chain.get(2) + " " + at, vt.answer(), vt.needles().toString());
        for (int i = chain.size() - 1; i > 0; i--) { // each chain in order: a variable after its source
            int copy = vt.needles().indexOf("VAR " + chain.get(i - 1) + " " + chain.get(i) + ".");
            int source = vt.needles().indexOf("VAR " + chain.get(i) + " " + rhs.get(chain.get(i)) + ".");
            assertTrue(copy > source, vt.needles().toString());
        }
    }

    /**
     * Follows a vartrack case's needles ("VAR X Y." with Y a name or a value) from the asked variable to the value,
     * independently of the generator: returns the variables passed (the asked one first) and, last, the value.
     */
    static List<String> chainFromNeedles(RetrievalTasks.Case c) {
        Matcher q = Pattern.compile("What is the value of VAR ([A-Z])\\?\nAnswer: VAR \\1").matcher(c.question());
        assertTrue(q.matches(), c.question());
        Map<String, String> rhs = new HashMap<>();
        for (String n : c.needles()) {
            Matcher m = Pattern.compile("VAR ([A-Z]) ([A-Z]|[1-9][0-9]{4})\\.").matcher(n);
            assertTrue(m.matches(), n);
            assertTrue(rhs.put(m.group(1), m.group(2)) == null, "distinct names: " + c.needles());
        }
        List<String> path = new ArrayList<>();
        String at = q.group(1);
        while (rhs.containsKey(at)) {
            assertTrue(path.size() < c.needles().size(), "no cycle: " + c.needles());
            path.add(at);
            at = rhs.get(at);
        }
        assertTrue(at.matches("[1-9][0-9]{4}"), "the chain ends in a value: " + c.needles());
        path.add(at);
        return path;
    }

    @Test
    void versionThreeVartrackAnswerSpellsTheChainFoundInTheNeedles() {
        for (int ctx : new int[] {300, 800}) {
            for (long seed = 0; seed < 40; seed++) {
                var c = GEN.generate("vartrack", ctx, seed);
                List<String> path = chainFromNeedles(c);
                assertEquals(4, path.size(), "3 variables and the value: " + c.needles());
                // the sources of the asked variable, nearest first, then the value (the asked variable left out)
                assertEquals(String.join(" ", path.subList(1, path.size())), c.answer(), c.needles() + " / " + c.question());
                // the random draws are those of version 2: the same prompt, version 2 answers the value alone
                var v2 = GEN_V2.generate("vartrack", ctx, seed);
                assertEquals(c.prompt(), v2.prompt());
                assertEquals(path.getLast(), v2.answer());
                assertTrue(c.answer().endsWith(" " + v2.answer()), c.answer() + " / " + v2.answer());
            }
        }
        // other chain lengths: 1 hop answers the value alone, 4 hops name 3 sources
        for (int hops : new int[] {1, 2, 4}) {
            ObjectNode g = (ObjectNode) RetrievalTasks.loadGrammar().deepCopy();
            ((ObjectNode) g.get("tasks").get("vartrack")).put("hops", hops);
            var gen = new RetrievalTasks(g, s -> TOK.encode(s, false).length, s -> TOK.encode(s, true).length);
            for (long seed = 0; seed < 10; seed++) {
                var c = gen.generate("vartrack", 500, seed);
                List<String> path = chainFromNeedles(c);
                assertEquals(hops + 1, path.size(), c.needles().toString());
                assertEquals(String.join(" ", path.subList(1, path.size())), c.answer(), c.needles().toString());
            }
        }
    }

    @Test
    void vartrackAnswerFollowsTheGrammarVersion() {
        List<String> chain = List.of("B", "C", "D"); // VAR B 48213. VAR C B. VAR D C.
        assertEquals("C B 48213", GEN.vartrackAnswer(chain, 2, 48213));
        assertEquals("B 48213", GEN.vartrackAnswer(chain, 1, 48213));
        assertEquals("48213", GEN.vartrackAnswer(chain, 0, 48213), "the variable holding the value: the value alone");
        for (RetrievalTasks older : List.of(GEN_V2, GEN_V1)) {
            assertEquals("48213", older.vartrackAnswer(chain, 2, 48213));
            assertEquals("48213", older.vartrackAnswer(chain, 0, 48213));
        }
        ObjectNode off = (ObjectNode) RetrievalTasks.loadGrammar().deepCopy();
        ((ObjectNode) off.get("tasks").get("vartrack")).put("answer_spells_chain", false);
        assertEquals("48213", new RetrievalTasks(off, String::length, String::length).vartrackAnswer(chain, 2, 48213));
    }

    @ParameterizedTest
    @ValueSource(strings = {"passkey", "multikey", "vartrack"})
    void versionTwoGrammarAnswersTheValueAlone(String task) {
        for (long seed = 0; seed < 12; seed++) {
            var v2 = GEN_V2.generate(task, 400, seed);
            var v3 = GEN.generate(task, 400, seed);
            assertTrue(v2.answer().matches("[1-9][0-9]{4}"), v2.answer());
            assertEquals(v3.prompt(), v2.prompt(), "the same draws, the same prompt");
            assertEquals(v3.needles(), v2.needles());
            if (task.equals("vartrack")) {
                assertEquals(chainFromNeedles(v2).getLast(), v2.answer(), v2.needles().toString());
                assertNotEquals(v3.answer(), v2.answer());
            } else {
                assertEquals(v3.answer(), v2.answer(), "passkey and multikey answers are unchanged");
            }
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
