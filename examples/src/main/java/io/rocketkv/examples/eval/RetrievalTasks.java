package io.rocketkv.examples.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.function.ToIntFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The synthetic long-context retrieval tasks (as in RULER): varied filler sentences with needles, the question at
 * the end, an exact answer string. The grammar (word lists, sentence templates, needle and question phrasing) is
 * {@code retrieval_grammar.json} beside this class, the file the training generator
 * {@code tools/retrieval_model/tasks.py} reads too; the format and the construction steps are the contract written
 * in {@code tools/retrieval_model/README.md}. Only the random streams differ (this class draws from
 * {@link SplittableRandom}); evaluation seeds are disjoint from the training seeds ({@link #caseSeed}).
 *
 * <p>Tasks: {@code passkey} (one pass key), {@code multikey} (several key → value needles, one asked for) and
 * {@code vartrack} (a value passed along a chain of variables, with a distractor chain; the last variable of the
 * target chain is asked for).
 *
 * <p>The prompt is the grammar's {@code prompt} template with {@code {context}} and {@code {question}} filled in.
 * The answer line is part of the grammar's phrasing, not of this class: in the current grammar (version 3, as in
 * version 2) each task's question ends with {@code "\nAnswer:"} and, for multikey and vartrack, the asked key or
 * variable as an answer lead ({@code "...for bison?\nAnswer: bison"}); in version 1 the prompt template added
 * {@code "\nAnswer:"} after the question. Either way the model must generate {@link #answerPrefix()} +
 * {@link Case#answer()}.
 *
 * <p>The answer: the value (a 5-digit number) for passkey and multikey. For vartrack it depends on the grammar's
 * {@code tasks.vartrack.answer_spells_chain} ({@code vartrackAnswer}): with it (version 3) the answer spells out
 * the chain, the asked variable's sources, nearest first, then the value, separated by single spaces — for the
 * needles {@code VAR B 48213.}, {@code VAR C B.}, {@code VAR D C.} and the question about {@code VAR D} the answer
 * is {@code "C B 48213"} (a variable holding the value directly answers the value alone); without it (versions 1
 * and 2) the answer is the value alone, {@code "48213"}. The random draws are the same either way.
 */
public final class RetrievalTasks {

    /** The task names, in table order. */
    public static final List<String> TASKS = List.of("passkey", "multikey", "vartrack");

    /** Evaluation case seeds start here; training (tasks.py) uses seeds below it. */
    public static final long EVAL_SEED_BASE = 1L << 40;

    private static final Pattern SLOT = Pattern.compile("\\{([a-z_]+)\\}");
    private static final int MAX_SENTENCES = 1_000_000;

    private final JsonNode grammar;
    private final ToIntFunction<String> tokenCount;
    private final ToIntFunction<String> promptTokenCount;

    /**
     * One generated case.
     *
     * @param task          the task name
     * @param targetTokens  the requested prompt length in tokens (special tokens included)
     * @param seed          the case seed
     * @param prompt        the whole prompt: the grammar's {@code prompt} template filled with the context (filler
     *                      and needles) and the question
     * @param question      the question as filled into the prompt (after {@code "Question: "}; in the current
     *                      grammar it ends with the answer line, {@code "\nAnswer:"} and any answer lead)
     * @param answer        the exact answer (the model should generate {@link #answerPrefix()} + answer): a value,
     *                      or for vartrack under grammar version 3 the chain's sources then the value
     *                      ({@code "C B 48213"}, {@code vartrackAnswer})
     * @param needles       the needle sentences, in context order
     * @param needleOffsets the character offset of each needle in {@link #prompt}
     */
    public record Case(String task, int targetTokens, long seed, String prompt, String question, String answer,
                       List<String> needles, int[] needleOffsets) {
    }

    /**
     * @param tokenCount       tokens of a piece of text without special tokens (used per filler sentence)
     * @param promptTokenCount tokens of a whole prompt as the model sees it (special tokens included)
     */
    public RetrievalTasks(ToIntFunction<String> tokenCount, ToIntFunction<String> promptTokenCount) {
        this(loadGrammar(), tokenCount, promptTokenCount);
    }

    /**
     * A generator for another grammar file's contents (e.g. an earlier version, {@link #loadGrammar(Path)}).
     *
     * @param grammar          a parsed grammar in the format of {@code retrieval_grammar.json}
     * @param tokenCount       tokens of a piece of text without special tokens (used per filler sentence)
     * @param promptTokenCount tokens of a whole prompt as the model sees it (special tokens included)
     */
    public RetrievalTasks(JsonNode grammar, ToIntFunction<String> tokenCount, ToIntFunction<String> promptTokenCount) {
        String prompt = grammar.path("prompt").asText("");
        if (!prompt.contains("{context}") || !prompt.contains("{question}")) {
            throw new IllegalArgumentException("retrieval grammar: the prompt template must contain {context} and "
                    + "{question}, got '" + prompt + "'");
        }
        this.grammar = grammar;
        this.tokenCount = tokenCount;
        this.promptTokenCount = promptTokenCount;
    }

    /** The shared grammar file, parsed. */
    public static JsonNode loadGrammar() {
        try (InputStream in = RetrievalTasks.class.getResourceAsStream("retrieval_grammar.json")) {
            if (in == null) {
                throw new IllegalStateException("retrieval_grammar.json is missing from the classpath");
            }
            return new ObjectMapper().readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A grammar file, parsed (the format of {@code retrieval_grammar.json}). */
    public static JsonNode loadGrammar(Path file) {
        try {
            return new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** What the model generates before the answer ({@code answer_prefix}; {@code " "} when the grammar has none). */
    public String answerPrefix() {
        return grammar.path("answer_prefix").asText(" ");
    }

    /** The seed of evaluation case {@code index} of a task and context length under a run seed. */
    public static long caseSeed(long runSeed, String task, int contextTokens, int index) {
        long h = runSeed * 1_000_003L + TASKS.indexOf(task) * 7_919L + contextTokens * 104_729L + index;
        return EVAL_SEED_BASE + Math.floorMod(h, EVAL_SEED_BASE);
    }

    /** Checks a task name, with the list of valid ones in the message. */
    public static String requireTask(String task) {
        if (!TASKS.contains(task)) {
            throw new IllegalArgumentException("unknown retrieval task '" + task + "'; choose from " + TASKS);
        }
        return task;
    }

    /** Generates one case whose prompt is at most (and close to) {@code targetTokens} tokens. */
    public Case generate(String task, int targetTokens, long seed) {
        requireTask(task);
        SplittableRandom rng = new SplittableRandom(seed);
        JsonNode t = grammar.get("tasks").get(task);
        List<String> needles = new ArrayList<>();
        String question;
        String answer;
        switch (task) {
            case "passkey" -> {
                answer = Integer.toString(value(rng));
                needles.add(t.get("needle").asText().replace("{value}", answer));
                question = t.get("question").asText();
            }
            case "multikey" -> {
                int n = t.get("num_keys").asInt();
                Set<String> keys = new LinkedHashSet<>();
                while (keys.size() < n) {
                    keys.add(t.get("key").asText().replace("{key_adjective}", pick(rng, t.get("key_adjective")))
                            .replace("{key_noun}", pick(rng, t.get("key_noun"))));
                }
                int[] values = distinctValues(rng, n);
                List<String> keyList = new ArrayList<>(keys);
                for (int i = 0; i < n; i++) {
                    needles.add(t.get("needle").asText().replace("{key}", keyList.get(i))
                            .replace("{value}", Integer.toString(values[i])));
                }
                int target = rng.nextInt(n);
                answer = Integer.toString(values[target]);
                question = t.get("question").asText().replace("{key}", keyList.get(target));
            }
            default -> { // vartrack
                int hops = t.get("hops").asInt();
                Set<String> names = new LinkedHashSet<>();
                String letters = t.get("name_letters").asText();
                while (names.size() < 2 * hops) {
                    StringBuilder sb = new StringBuilder();
                    for (int i = 0; i < t.get("name_length").asInt(); i++) {
                        sb.append(letters.charAt(rng.nextInt(letters.length())));
                    }
                    names.add(sb.toString());
                }
                List<String> nameList = new ArrayList<>(names);
                int[] values = distinctValues(rng, 2);
                List<List<String>> chains = new ArrayList<>();
                for (int c = 0; c < 2; c++) {
                    List<String> chain = new ArrayList<>();
                    chain.add(t.get("assign").asText().replace("{name}", nameList.get(c * hops))
                            .replace("{value}", Integer.toString(values[c])));
                    for (int i = 1; i < hops; i++) {
                        chain.add(t.get("copy").asText().replace("{name}", nameList.get(c * hops + i))
                                .replace("{source}", nameList.get(c * hops + i - 1)));
                    }
                    chains.add(chain);
                }
                int[] next = new int[2];
                while (next[0] < hops || next[1] < hops) { // interleave, each chain in order
                    int c = next[0] == hops ? 1 : next[1] == hops ? 0 : rng.nextInt(2);
                    needles.add(chains.get(c).get(next[c]++));
                }
                answer = vartrackAnswer(nameList.subList(0, hops), hops - 1, values[0]);
                question = t.get("question").asText().replace("{name}", nameList.get(hops - 1));
            }
        }
        return assemble(task, targetTokens, seed, rng, needles, question, answer);
    }

    /**
     * The answer for vartrack variable {@code chain.get(i)} of a chain assigned {@code value} ({@code chain.get(0)}
     * holds the value, {@code chain.get(k)} copies {@code chain.get(k - 1)}); mirrors {@code vartrack_answer} of
     * {@code tasks.py}. With the grammar's {@code "answer_spells_chain": true} (version 3): the variable's sources,
     * nearest first, then the value, separated by single spaces ({@code "C B 48213"} for {@code D} of the chain
     * {@code B, C, D} assigned 48213; {@code "48213"} for {@code B}). Without it (versions 1 and 2): the value alone.
     */
    String vartrackAnswer(List<String> chain, int i, int value) {
        if (!grammar.path("tasks").path("vartrack").path("answer_spells_chain").asBoolean(false)) {
            return Integer.toString(value);
        }
        StringBuilder sb = new StringBuilder();
        for (int k = i - 1; k >= 0; k--) {
            sb.append(chain.get(k)).append(' ');
        }
        return sb.append(value).toString();
    }

    private Case assemble(String task, int targetTokens, long seed, SplittableRandom rng, List<String> needles,
                          String question, String answer) {
        int fixed = promptTokenCount.applyAsInt(prompt(String.join(" ", needles), question));
        if (fixed > targetTokens) {
            throw new IllegalArgumentException("context length " + targetTokens + " tokens is too short for task "
                    + task + ": its needles and question alone take " + fixed + " tokens; ask for more");
        }
        List<String> filler = new ArrayList<>();
        int used = fixed;
        while (filler.size() < MAX_SENTENCES) {
            String s = sentence(rng);
            int cost = tokenCount.applyAsInt(" " + s);
            if (used + cost > targetTokens) {
                break;
            }
            filler.add(s);
            used += cost;
        }
        int[] at = new int[needles.size()];
        for (int i = 0; i < at.length; i++) {
            at[i] = rng.nextInt(filler.size() + 1);
        }
        Arrays.sort(at);
        List<String> sentences = new ArrayList<>(filler);
        for (int i = at.length - 1; i >= 0; i--) { // from the back so earlier indices stay valid
            sentences.add(at[i], needles.get(i));
        }
        String context = String.join(" ", sentences);
        String prompt = prompt(context, question);
        int[] offsets = new int[needles.size()];
        int from = 0;
        for (int i = 0; i < offsets.length; i++) {
            offsets[i] = prompt.indexOf(needles.get(i), from);
            from = offsets[i] + needles.get(i).length();
        }
        return new Case(task, targetTokens, seed, prompt, question, answer, List.copyOf(needles), offsets);
    }

    private String prompt(String context, String question) {
        return grammar.get("prompt").asText().replace("{context}", context).replace("{question}", question);
    }

    /** One filler sentence: a template with each slot filled independently, first letter upper-cased. */
    String sentence(SplittableRandom rng) {
        JsonNode templates = grammar.get("sentences");
        String template = templates.get(rng.nextInt(templates.size())).asText();
        Matcher m = SLOT.matcher(template);
        StringBuilder sb = new StringBuilder();
        while (m.find()) {
            JsonNode words = grammar.get("words").get(m.group(1));
            if (words == null) {
                throw new IllegalStateException("retrieval_grammar.json: template slot {" + m.group(1)
                        + "} has no word list");
            }
            m.appendReplacement(sb, Matcher.quoteReplacement(pick(rng, words)));
        }
        m.appendTail(sb);
        return sb.substring(0, 1).toUpperCase(Locale.ROOT) + sb.substring(1);
    }

    private int value(SplittableRandom rng) {
        JsonNode v = grammar.get("values");
        return rng.nextInt(v.get("min").asInt(), v.get("max").asInt() + 1);
    }

    private int[] distinctValues(SplittableRandom rng, int n) {
        Set<Integer> values = new LinkedHashSet<>();
        while (values.size() < n) {
            values.add(value(rng));
        }
        return values.stream().mapToInt(Integer::intValue).toArray();
    }

    private static String pick(SplittableRandom rng, JsonNode list) {
        return list.get(rng.nextInt(list.size())).asText();
    }
}
