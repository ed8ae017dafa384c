package io.rocketkv.core.sparse;

/**
 * Which prompt tokens stage 1 keeps. {@link #ROCKET} is RocketKV (the default and the only policy a served
 * model should use); the other two exist <b>for accuracy evaluation only</b>, as baselines that keep the same
 * number of tokens ({@code min(L, prompt_budget)} per KV head) chosen without looking at the scores:
 *
 * <ul>
 *   <li>{@link Kind#SLIDING_WINDOW}: the last {@code B} prompt tokens {@code L − B .. L − 1} (which contain the
 *       window of W tokens, since {@code B ≥ W});</li>
 *   <li>{@link Kind#RANDOM}: {@code B − W} distinct prefix tokens drawn uniformly from {@code 0 .. L − W − 1}
 *       with a {@link java.util.SplittableRandom} seeded by {@code seed}, the prompt length and the KV head
 *       (so the same on every layer and every run), ascending, followed by the window.</li>
 * </ul>
 *
 * <p>Only the CPU backend implements the baselines; the CUDA backend refuses them. They are not part of the
 * YAML schema: set them with {@code LLM.Builder.evaluationStage1Policy}.
 *
 * @param kind the policy
 * @param seed the seed of {@link Kind#RANDOM} (0 and unused for the others)
 */
public record Stage1Policy(Kind kind, long seed) {

    /** The policies. */
    public enum Kind { ROCKET, SLIDING_WINDOW, RANDOM }

    /** RocketKV's own selection (the default). */
    public static final Stage1Policy ROCKET = new Stage1Policy(Kind.ROCKET, 0);
    /** Evaluation only: keep the last prompt_budget tokens. */
    public static final Stage1Policy SLIDING_WINDOW = new Stage1Policy(Kind.SLIDING_WINDOW, 0);

    public Stage1Policy {
        if (kind == null) {
            throw new IllegalArgumentException("stage-1 policy kind must be ROCKET, SLIDING_WINDOW or RANDOM, got null");
        }
        if (kind != Kind.RANDOM && seed != 0) {
            throw new IllegalArgumentException("only the RANDOM stage-1 policy takes a seed; " + kind + " got " + seed);
        }
    }

    /** Evaluation only: keep a seeded random subset of prompt_budget tokens that includes the window. */
    public static Stage1Policy random(long seed) {
        return new Stage1Policy(Kind.RANDOM, seed);
    }

    /** True for RocketKV's own selection. */
    public boolean isRocket() {
        return kind == Kind.ROCKET;
    }

    /** A short name: {@code rocket}, {@code sliding_window} or {@code random(seed)}. */
    public String label() {
        return switch (kind) {
            case ROCKET -> "rocket";
            case SLIDING_WINDOW -> "sliding_window";
            case RANDOM -> "random(" + seed + ")";
        };
    }
}
