package io.rocketkv.api;

import static io.rocketkv.api.ConfigAssertions.assertConfigError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.sparse.RocketKvParams;
import io.rocketkv.core.sparse.Stage1Policy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class RocketSparseAttentionConfigTest {

    @Test
    void defaultsMatchTheRocketKvTable() {
        RocketSparseAttentionConfig c = RocketSparseAttentionConfig.defaults();
        assertEquals(32, c.windowSize());
        assertEquals(63, c.kernelSize());
        assertEquals(2048, c.promptBudget());
        assertEquals(64, c.topk());
        assertEquals(128, c.topr());
        assertEquals(4, c.pageSize());
        assertEquals(KtCacheDtype.FLOAT8_E5M2, c.ktCacheDtype());
        assertEquals("float8_e5m2", c.ktCacheDtype().yamlName());
    }

    @Test
    void builderSetsEveryField() {
        RocketSparseAttentionConfig c = RocketSparseAttentionConfig.builder()
                .windowSize(16).kernelSize(5).promptBudget(256).topk(8).topr(64).pageSize(16)
                .ktCacheDtype(KtCacheDtype.BFLOAT16).build();
        assertEquals(new RocketSparseAttentionConfig(16, 5, 256, 8, 64, 16, KtCacheDtype.BFLOAT16), c);
    }

    @Test
    void toBuilderRoundTripsAndEqualityIsByValue() {
        RocketSparseAttentionConfig c = RocketSparseAttentionConfig.builder().topk(32).pageSize(8).build();
        assertEquals(c, c.toBuilder().build());
        assertEquals(c.hashCode(), c.toBuilder().build().hashCode());
        assertNotEquals(c, c.toBuilder().topk(33).build());
        assertTrue(c.toString().contains("topk=32"), c.toString());
    }

    @Test
    void windowSizeMustBePositive() {
        assertConfigError("sparse_attention_config.window_size",
                () -> RocketSparseAttentionConfig.builder().windowSize(0).build(),
                "sparse_attention_config.window_size (windowSize)", ">= 1", "got 0");
    }

    @ParameterizedTest
    @ValueSource(ints = {64, 0, -1, 2})
    void kernelSizeMustBeOddAndPositive(int bad) {
        assertConfigError("sparse_attention_config.kernel_size",
                () -> RocketSparseAttentionConfig.builder().kernelSize(bad).build(),
                "sparse_attention_config.kernel_size (kernelSize) must be odd and >= 1, got " + bad);
    }

    @Test
    void kernelSizeOneIsAllowed() {
        assertEquals(1, RocketSparseAttentionConfig.builder().kernelSize(1).build().kernelSize());
    }

    @Test
    void promptBudgetMustCoverTheWindow() {
        assertConfigError("sparse_attention_config.prompt_budget",
                () -> RocketSparseAttentionConfig.builder().windowSize(64).promptBudget(63).build(),
                "sparse_attention_config.prompt_budget (promptBudget)", ">= window_size (64)", "got 63");
        assertEquals(64, RocketSparseAttentionConfig.builder().windowSize(64).promptBudget(64).build()
                .promptBudget());
    }

    @Test
    void topkMustBePositive() {
        assertConfigError("sparse_attention_config.topk",
                () -> RocketSparseAttentionConfig.builder().topk(0).build(),
                "sparse_attention_config.topk (topk)", ">= 1", "got 0");
    }

    @Test
    void toprMustBePositive() {
        assertConfigError("sparse_attention_config.topr",
                () -> RocketSparseAttentionConfig.builder().topr(-3).build(),
                "sparse_attention_config.topr (topr)", ">= 1", "got -3");
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 3, 6, -4, 12})
    void pageSizeMustBeAPowerOfTwo(int bad) {
        assertConfigError("sparse_attention_config.page_size",
                () -> RocketSparseAttentionConfig.builder().pageSize(bad).build(),
                "sparse_attention_config.page_size (pageSize)", "power of two", "got " + bad);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 4, 8, 16, 1024})
    void powersOfTwoAreValidPageSizes(int ok) {
        assertEquals(ok, RocketSparseAttentionConfig.builder().pageSize(ok).build().pageSize());
    }

    @Test
    void toprIsCheckedAgainstTheModelHeadDim() {
        RocketSparseAttentionConfig c = RocketSparseAttentionConfig.defaults(); // topr 128
        assertSame(c, c.validateAgainst(128));
        assertSame(c, c.validateAgainst(256));
        assertConfigError("sparse_attention_config.topr", () -> c.validateAgainst(64),
                "sparse_attention_config.topr (topr)", "head_dim 64", "got 128");
        assertThrows(IllegalArgumentException.class, () -> c.validateAgainst(0));
    }

    @Test
    void mapsToTheEngineParamsByNameOnceTheModelRulesHold() {
        RocketSparseAttentionConfig c = RocketSparseAttentionConfig.builder().windowSize(3).kernelSize(5)
                .promptBudget(7).topk(11).topr(13).pageSize(16).ktCacheDtype(KtCacheDtype.BFLOAT16).build();
        RocketKvParams p = c.toRocketKvParams(16, 32, Stage1Policy.SLIDING_WINDOW);
        assertEquals(RocketKvParams.builder().windowSize(3).kernelSize(5).promptBudget(7).topk(11).topr(13)
                .pageSize(16).ktDtype(DType.BF16).stage1Policy(Stage1Policy.SLIDING_WINDOW).build(), p);
        assertEquals(RocketKvParams.builder().build(),
                RocketSparseAttentionConfig.defaults().toRocketKvParams(128, 32, Stage1Policy.ROCKET),
                "the api's defaults are the engine's");
        assertConfigError("sparse_attention_config.topr", () -> c.toRocketKvParams(12, 32, Stage1Policy.ROCKET),
                "sparse_attention_config.topr (topr)", "head_dim 12", "got 13", "set topr to at most 12");
        assertConfigError("sparse_attention_config.page_size", () -> c.toRocketKvParams(16, 8, Stage1Policy.ROCKET),
                "sparse_attention_config.page_size (pageSize) 16", "tokens_per_block (tokensPerBlock) 8",
                "lower page_size or raise tokens_per_block");
    }

    @Test
    void ktCacheDtypeParsesYamlNamesAndListsThemOnError() {
        assertEquals(KtCacheDtype.FLOAT8_E5M2, KtCacheDtype.parse("float8_e5m2"));
        assertEquals(KtCacheDtype.BFLOAT16, KtCacheDtype.parse("bfloat16"));
        assertEquals(KtCacheDtype.BFLOAT16, KtCacheDtype.parse("BFloat16"));
        assertConfigError("sparse_attention_config.kt_cache_dtype", () -> KtCacheDtype.parse("fp8"),
                "sparse_attention_config.kt_cache_dtype (ktCacheDtype)", "float8_e5m2, bfloat16", "got \"fp8\"");
        assertConfigError(() -> KtCacheDtype.parse(null), "float8_e5m2, bfloat16", "got null");
        assertEquals(KtCacheDtype.BFLOAT16,
                RocketSparseAttentionConfig.builder().ktCacheDtype("bfloat16").build().ktCacheDtype());
    }

    @Test
    void ktCacheDtypeMapsToTensorTypes() {
        assertEquals(DType.F8_E5M2, KtCacheDtype.FLOAT8_E5M2.dtype());
        assertEquals(DType.BF16, KtCacheDtype.BFLOAT16.dtype());
        assertEquals(1, KtCacheDtype.FLOAT8_E5M2.byteSize());
        assertEquals(2, KtCacheDtype.BFLOAT16.byteSize());
    }

    @Test
    void nullKtCacheDtypeInTheConstructorIsAnError() {
        assertConfigError("sparse_attention_config.kt_cache_dtype",
                () -> new RocketSparseAttentionConfig(32, 63, 2048, 64, 128, 4, null), "got null");
        assertEquals(KtCacheDtype.FLOAT8_E5M2,
                RocketSparseAttentionConfig.builder().ktCacheDtype((KtCacheDtype) null).build().ktCacheDtype());
    }
}
