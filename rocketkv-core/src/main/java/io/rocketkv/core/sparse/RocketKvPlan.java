package io.rocketkv.core.sparse;

import io.rocketkv.core.kvcache.KtCacheManager;

/**
 * What the RocketKV kernels need besides tensors: the settings and the KT page addressing.
 *
 * @param params the RocketKV settings
 * @param kt     KT page addressing inside the KV blocks
 */
public record RocketKvPlan(RocketKvParams params, KtCacheManager kt) {

    public RocketKvPlan {
        if (params.pageSize() != kt.pageSize()) {
            throw new IllegalArgumentException("page_size " + params.pageSize() + " != KT cache page size " + kt.pageSize());
        }
    }
}
