package io.rocketkv.examples.eval;

import io.rocketkv.api.KtCacheDtype;
import io.rocketkv.api.RocketSparseAttentionConfig;
import io.rocketkv.core.sparse.Stage1Policy;
import java.util.ArrayList;
import java.util.List;

/**
 * One column of the accuracy table: dense attention, RocketKV at some settings, or an evaluation-only baseline
 * (RocketKV's stage 2 with stage 1 replaced by a sliding window or a random subset of the same size).
 *
 * @param name   the label in the table and JSON
 * @param sparse the RocketKV settings; null for dense attention
 * @param policy the stage-1 policy ({@link Stage1Policy#ROCKET} unless a baseline)
 */
public record EvalSetting(String name, RocketSparseAttentionConfig sparse, Stage1Policy policy) {

    /** Seed of the random-subset baseline. */
    public static final long RANDOM_BASELINE_SEED = 1234;

    public EvalSetting {
        if (sparse == null && !policy.isRocket()) {
            throw new IllegalArgumentException("setting " + name + ": a " + policy.label()
                    + " baseline needs RocketKV settings (its prompt_budget is the number of tokens kept)");
        }
    }

    public static EvalSetting dense() {
        return new EvalSetting("dense", null, Stage1Policy.ROCKET);
    }

    public static EvalSetting rocket(RocketSparseAttentionConfig c) {
        return new EvalSetting("rocket B=" + c.promptBudget() + " k=" + c.topk() + " P=" + c.pageSize() + " "
                + (c.ktCacheDtype() == KtCacheDtype.BFLOAT16 ? "bf16" : "fp8"), c, Stage1Policy.ROCKET);
    }

    /** Keep only the last prompt_budget tokens (stage 2 as RocketKV). */
    public static EvalSetting slidingWindow(RocketSparseAttentionConfig c) {
        return new EvalSetting("sliding B=" + c.promptBudget(), c, Stage1Policy.SLIDING_WINDOW);
    }

    /** Keep a seeded random prompt_budget-token subset that contains the window (stage 2 as RocketKV). */
    public static EvalSetting randomSubset(RocketSparseAttentionConfig c) {
        return new EvalSetting("random B=" + c.promptBudget(), c, Stage1Policy.random(RANDOM_BASELINE_SEED));
    }

    /** True for the two baselines, which only the CPU backend runs. */
    public boolean baseline() {
        return !policy.isRocket();
    }

    /** dense, rocket, sliding_window or random. */
    public String kind() {
        return sparse == null ? "dense" : policy.isRocket() ? "rocket" : policy.kind() == Stage1Policy.Kind.SLIDING_WINDOW
                ? "sliding_window" : "random";
    }

    /**
     * The default grid: dense; RocketKV at budgets 64/128/256/512 (topk 16, page 4, fp8); at budget 256 topk 4, 8
     * and 32, page sizes 1 and 16, and a bf16 KT cache; both baselines at every budget.
     *
     * @param base window_size, kernel_size and topr come from here (topr must fit the model's head_dim)
     */
    public static List<EvalSetting> defaultGrid(RocketSparseAttentionConfig base) {
        List<EvalSetting> out = new ArrayList<>();
        out.add(dense());
        int[] budgets = {64, 128, 256, 512};
        for (int b : budgets) {
            out.add(rocket(cfg(base, b, 16, 4, KtCacheDtype.FLOAT8_E5M2)));
        }
        for (int k : new int[] {4, 8, 32}) {
            out.add(rocket(cfg(base, 256, k, 4, KtCacheDtype.FLOAT8_E5M2)));
        }
        for (int p : new int[] {1, 16}) {
            out.add(rocket(cfg(base, 256, 16, p, KtCacheDtype.FLOAT8_E5M2)));
        }
        out.add(rocket(cfg(base, 256, 16, 4, KtCacheDtype.BFLOAT16)));
        for (int b : budgets) {
            out.add(slidingWindow(cfg(base, b, 16, 4, KtCacheDtype.FLOAT8_E5M2)));
            out.add(randomSubset(cfg(base, b, 16, 4, KtCacheDtype.FLOAT8_E5M2)));
        }
        return out;
    }

    /** The whole cross product: budgets 64..512 × topk 4..32 × page 1/4/16 × fp8/bf16, then the baselines. */
    public static List<EvalSetting> fullGrid(RocketSparseAttentionConfig base) {
        List<EvalSetting> out = new ArrayList<>();
        out.add(dense());
        int[] budgets = {64, 128, 256, 512};
        for (int b : budgets) {
            for (int k : new int[] {4, 8, 16, 32}) {
                for (int p : new int[] {1, 4, 16}) {
                    for (KtCacheDtype d : KtCacheDtype.values()) {
                        out.add(rocket(cfg(base, b, k, p, d)));
                    }
                }
            }
        }
        for (int b : budgets) {
            out.add(slidingWindow(cfg(base, b, 16, 4, KtCacheDtype.FLOAT8_E5M2)));
            out.add(randomSubset(cfg(base, b, 16, 4, KtCacheDtype.FLOAT8_E5M2)));
        }
        return out;
    }

    /** dense, the config's RocketKV settings and both baselines at its budget (LlmEval). */
    public static List<EvalSetting> fromConfig(RocketSparseAttentionConfig c) {
        if (c == null) {
            return List.of(dense());
        }
        return List.of(dense(), rocket(c), slidingWindow(c), randomSubset(c));
    }

    private static RocketSparseAttentionConfig cfg(RocketSparseAttentionConfig base, int budget, int topk, int page,
                                                   KtCacheDtype dtype) {
        return base.toBuilder().promptBudget(budget).windowSize(Math.min(base.windowSize(), budget)).topk(topk)
                .pageSize(page).ktCacheDtype(dtype).build();
    }
}
