package io.rocketkv.core.sparse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.rocketkv.core.numeric.DType;
import org.junit.jupiter.api.Test;

class RocketKvParamsTest {

    private static String error(Runnable r) {
        return assertThrows(IllegalArgumentException.class, r::run).getMessage();
    }

    @Test
    void builderNamesEveryFieldAndStartsFromTensorRtLlmsDefaults() {
        RocketKvParams d = RocketKvParams.builder().build();
        assertEquals(new RocketKvParams(32, 63, 2048, 64, 128, 4, DType.F8_E5M2, Stage1Policy.ROCKET), d);
        RocketKvParams p = RocketKvParams.builder().windowSize(3).kernelSize(5).promptBudget(7).topk(11).topr(13)
                .pageSize(16).ktDtype(DType.BF16).stage1Policy(Stage1Policy.SLIDING_WINDOW).build();
        assertEquals(3, p.windowSize());
        assertEquals(5, p.kernelSize());
        assertEquals(7, p.promptBudget());
        assertEquals(11, p.topk());
        assertEquals(13, p.topr());
        assertEquals(16, p.pageSize());
        assertEquals(DType.BF16, p.ktDtype());
        assertEquals(Stage1Policy.SLIDING_WINDOW, p.stage1Policy());
        assertEquals(p, p.toBuilder().build());
        assertEquals(Stage1Policy.ROCKET, p.withStage1Policy(Stage1Policy.ROCKET).stage1Policy());
        assertEquals("kernel_size must be odd and >= 1, got 4",
                error(() -> RocketKvParams.builder().kernelSize(4).build()));
    }

    @Test
    void toprAtMostHeadDim() {
        RocketKvParams.checkTopr(128, 128);
        RocketKvParams.checkTopr(1, 16);
        assertEquals("sparse_attention_config.topr (topr) must be <= the model's head_dim 64 (config.json), got 65; "
                + "set topr to at most 64 (topr = head_dim skips the channel filter)",
                error(() -> RocketKvParams.checkTopr(65, 64)));
        assertEquals("headDim must be >= 1, got 0", error(() -> RocketKvParams.checkTopr(1, 0)));
    }

    @Test
    void pageSizeDividesTokensPerBlock() {
        RocketKvParams.checkPageSize(4, 32);
        RocketKvParams.checkPageSize(32, 32);
        RocketKvParams.checkPageSize(1, 1);
        assertEquals("sparse_attention_config.page_size (pageSize) 64 must divide tokens_per_block "
                + "(tokensPerBlock) 32: KT pages live inside KV-cache blocks; lower page_size or raise "
                + "tokens_per_block",
                error(() -> RocketKvParams.checkPageSize(64, 32)));
        error(() -> RocketKvParams.checkPageSize(8, 12));
        error(() -> RocketKvParams.checkPageSize(0, 32));
    }

    @Test
    void validateAgainstAppliesBothRules() {
        RocketKvParams p = RocketKvParams.builder().topr(16).pageSize(8).build();
        assertSame(p, p.validateAgainst(16, 8));
        assertEquals("sparse_attention_config.topr (topr) must be <= the model's head_dim 8 (config.json), got 16; "
                + "set topr to at most 8 (topr = head_dim skips the channel filter)",
                error(() -> p.validateAgainst(8, 8)));
        assertEquals("sparse_attention_config.page_size (pageSize) 8 must divide tokens_per_block (tokensPerBlock) 4: "
                + "KT pages live inside KV-cache blocks; lower page_size or raise tokens_per_block",
                error(() -> p.validateAgainst(16, 4)));
    }
}
