// prefill_wgmma_ws.cuh: v5 of the causal prefill attention of attention_prefill.cu for Hopper (sm_90a),
// warp-specialised as FlashAttention-3 is: the same parameters, semantics, precision and CPU twin
// (CpuKernels.prefillAttention) as v3 (prefill_mma.cuh) and v4 (prefill_wgmma.cuh). Included by
// attention_prefill.cu only; on targets other than sm_90a the kernels compile to a trap, and the library
// launches them only where attention_prefill_wgmma_probe reports sm_90a code for the device.
//
// Shapes (as attention_prefill.cu): q f32 [T][Hq * D], kvCache bf16 [numBlocks][2][Hkv][P][D],
// queryStart i32 [S + 1], kvLens i32 [S] (kvLen >= queryLen: earlier chunks or a cached prefix),
// blockTables i32 [S][maxBlocks], out f32 [T][Hq * D]. D is 64 or 128.
//
// Launch: grid (numHeads, ceil(maxQueryLen / 128), numSeqs), block 384 threads (three warpgroups), dynamic
// shared memory Cfg::BYTES = 128 * D * 2 + NS * 2 * BN * D * 2 + 1024 + 32 * NS (Q, NS stages of K and of V,
// 1024 to align the swizzled tiles, 4 NS mbarriers):
//   D 128, BN 128, NS 2: 164,928 B    D 64, BN 128, NS 3: 115,808 B
// Heads vary fastest (the G query heads of a KV head read its tiles from L2 once between them); query tiles
// are visited longest-first.
//
// Roles. Warpgroup 0 is the producer: it gives up registers (setmaxnreg) and copies the K and V tiles of the
// block's keys, tile after tile, through the block table by 16-byte cp.async into an NS-stage ring of
// 128-byte-swizzled tiles (K and V in separate stages, so QK^T of a tile can start before its V lands);
// each copy signals a "full" mbarrier when it lands (cp.async.mbarrier.arrive) and waits on the stage's
// "empty" mbarrier before it overwrites a stage. Warpgroups 1 and 2 are the consumers: each owns 64 of the
// block's 128 query rows (its Q rows rounded to bf16 into shared memory by itself) and, per key tile t:
//   S = Q K_t^T (D / 16 wgmma m64nBNk16, both operands in shared memory) and, in the same batch,
//   O += P_{t-1} V_{t-1} (BN / 16 wgmma m64nDk16, P from registers, V read MN-major);
//   scale, causal mask (tiles crossing the diagonal only) and online softmax of S while PV still runs;
//   then O *= alpha and P_t = bf16(exp(S - m)).
// The softmax of tile t thus overlaps the tensor cores' PV of tile t - 1 (intra-warpgroup overlap), and the
// two consumers take turns issuing their matrix products (named barriers 1 and 2, "ping-pong"), so one's
// softmax overlaps the other's products. Every consumer runs every tile of the block (its mask zeroes keys past its rows).
#pragma once

#include <cuda_bf16.h>
#include <stdint.h>

#include "hopper_sync.cuh"
#include "prefill_mma.cuh"
#include "prefill_wgmma.cuh"
#include "wgmma_ops.cuh"

namespace rkv_prefill_ws {

// D head dim (64, 128), BN keys per tile (64, 128), NS pipeline stages (K and V each).
template <int D_, int BN_, int NS_>
struct Cfg {
    static constexpr int D = D_, BN = BN_, NS = NS_, BM = 128, NTHREADS = 384;
    static constexpr int PRODUCER_REGS = 40, CONSUMER_REGS = 232;   // 128 * 40 + 256 * 232 <= 65,536
    static constexpr uint32_t Q_BYTES = BM * D * 2;
    static constexpr uint32_t KV_BYTES = BN * D * 2;   // one K or one V tile
    static constexpr uint32_t BAR_OFFSET = Q_BYTES + 2 * NS * KV_BYTES;
    static constexpr size_t BYTES = BAR_OFFSET + 1024 + 32 * NS;
    static_assert(BYTES <= 232448, "more shared memory than a Hopper block has");
};

static __device__ __forceinline__ void pin_u32(uint32_t& x) {
    asm volatile("" : "+r"(x)::"memory");
}

template <class C>
__device__ __forceinline__ void prefill(
        const float* __restrict__ q, const unsigned short* __restrict__ kvCache,
        const int* __restrict__ queryStart, const int* __restrict__ kvLens,
        const int* __restrict__ blockTables, float* __restrict__ out,
        int numHeads, int numKvHeads, int tokensPerBlock, int maxBlocks, float scale) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    using namespace rkv_prefill_mma;
    using namespace rkv_sync;
    using rkv_prefill_wgmma::swz;
    constexpr int D = C::D, BN = C::BN, BM = C::BM, NS = C::NS;
    static_assert(D == 64 || D == 128, "v5 prefill covers head dims 64 and 128");
    static_assert(BN == 64 || BN == 128, "v5 prefill tiles are 64 or 128 keys");
    constexpr int SREG = BN / 2;       // S registers per thread
    constexpr int OREG = D / 2;        // O registers per thread

    extern __shared__ __align__(1024) unsigned char smemRaw[];
    const uint32_t rawAddr = smem_addr(smemRaw);
    const uint32_t base = (rawAddr + 1023u) & ~1023u;
    unsigned char* smem = smemRaw + (base - rawAddr);
    auto kOff = [](int s) { return C::Q_BYTES + (uint32_t) (2 * s) * C::KV_BYTES; };   // offsets from base
    auto vOff = [](int s) { return C::Q_BYTES + (uint32_t) (2 * s + 1) * C::KV_BYTES; };
    const uint32_t bars = base + C::BAR_OFFSET;
    auto fullK = [&](int s) { return bars + 8u * s; };
    auto fullV = [&](int s) { return bars + 8u * (NS + s); };
    auto emptyK = [&](int s) { return bars + 8u * (2 * NS + s); };
    auto emptyV = [&](int s) { return bars + 8u * (3 * NS + s); };

    const rkv_prefill_mma::PrefillTile<BM, BN> tile(queryStart, kvLens, blockTables, numHeads, numKvHeads, maxBlocks);
    if (!tile.live) return;
    const int head = tile.head, qStart = tile.qStart, qLen = tile.qLen, q0 = tile.q0, past = tile.past;
    const int kvHead = tile.kvHead, rows = tile.rows, kvEnd = tile.kvEnd, numTiles = tile.numTiles;
    const int* table = tile.table;

    const int tid = threadIdx.x;
    const int wg = __shfl_sync(0xffffffffu, tid >> 7, 0);   // warp-uniform, as the compiler can see
    if (tid == 0) {
        for (int s = 0; s < NS; s++) {
            mbar_init(fullK(s), 128);   // every producer thread's cp.async arrival
            mbar_init(fullV(s), 128);
            mbar_init(emptyK(s), 8);    // one arrival per consumer warp
            mbar_init(emptyV(s), 8);
        }
        mbar_fence_init();
    }
    __syncthreads();

    if (wg == 0) {   // producer
        regs_dec<C::PRODUCER_REGS>();
        for (int t = 0; t < numTiles; t++) {
            const int s = t % NS;
            const uint32_t parity = ((t / NS) & 1) ^ 1;
            mbar_wait(emptyK(s), parity);
            load_kv_rows<D, BN, 128>(smem + kOff(s), kvCache, table, kvHead, numKvHeads, tokensPerBlock, t * BN,
                    kvEnd, tid, false, [](int r, int c) { return swz(BN, r, c); });
            mbar_arrive_cp_async(fullK(s));
            mbar_wait(emptyV(s), parity);
            load_kv_rows<D, BN, 128>(smem + vOff(s), kvCache, table, kvHead, numKvHeads, tokensPerBlock, t * BN,
                    kvEnd, tid, true, [](int r, int c) { return swz(BN, r, c); });
            mbar_arrive_cp_async(fullV(s));
        }
        cp_async_wait<0>();
        return;
    }

    regs_inc<C::CONSUMER_REGS>();
    const int cw = wg - 1;             // consumer 0 or 1: rows 64 cw .. 64 cw + 63 of the tile
    const int ctid = tid - 128 * wg;
    const int warp = ctid >> 5;
    const int lane = tid & 31;

    // This consumer's 64 Q rows (f32 -> bf16, swizzled into the BM-row tile), rows past qLen zero.
    load_q_tile<D, 64, 128>(smem, q, qStart + q0 + cw * 64, numHeads, head, max(0, min(64, rows - cw * 64)), ctid,
            [cw](int r, int c) { return swz(BM, cw * 64 + r, c); });
    rkv_wgmma::fence_proxy_async();
    bar_sync(3 + cw, 128);

    const int rowA = q0 + cw * 64 + warp * 16 + (lane >> 2);   // this lane's rows: rowA, rowA + 8
    const int wgFirst = past + q0 + cw * 64;                    // last key of the consumer's first row
    const int warpFirst = wgFirst + warp * 16;
    const float sl2 = scale * 1.4426950408889634f;
    const uint32_t qBase = base + cw * 64 * 128;
    const int myTurn = 1 + cw, otherTurn = 2 - cw;

    float o[OREG];
#pragma unroll
    for (int i = 0; i < OREG; i++) o[i] = 0.f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
    uint32_t p[BN / 16][4];
#pragma unroll
    for (int kk = 0; kk < BN / 16; kk++) p[kk][0] = p[kk][1] = p[kk][2] = p[kk][3] = 0u;

    constexpr uint32_t V_LBO = (uint32_t) BN * 128u, V_SBO = 1024u;
    auto issuePv = [&](int s) {
        const uint32_t vAddr = base + vOff(s);
#pragma unroll
        for (int kk = 0; kk < BN / 16; kk++) {
            rkv_prefill_wgmma::pv<D>(o, p[kk], rkv_wgmma::desc_sw128(vAddr + kk * 16 * 128, V_LBO, V_SBO));
        }
        rkv_wgmma::commit();
    };

    auto issueQk = [&](float (&sacc)[SREG], int s) {
        const uint32_t kAddr = base + kOff(s);
#pragma unroll
        for (int kk = 0; kk < D / 16; kk++) {
            const uint64_t da = rkv_wgmma::desc_sw128(qBase + (kk >> 2) * BM * 128 + (kk & 3) * 32, 16, 1024);
            const uint64_t db = rkv_wgmma::desc_sw128(kAddr + (kk >> 2) * BN * 128 + (kk & 3) * 32, 16, 1024);
            rkv_prefill_wgmma::qk<BN>(sacc, da, db, kk > 0);
        }
        rkv_wgmma::commit();
    };
    // Every consumer runs every tile (the mask zeroes what its rows may not see), so the products are issued
    // unconditionally: wgmma under a branch is serialised by the compiler.
    if (cw == 1) bar_arrive(1, 256);   // consumer 0 issues first
    {   // tile 0: S only
        float sacc[SREG], alpha[2];
        mbar_wait(fullK(0), 0);
        rkv_wgmma::fence_proxy_async();
        bar_sync(myTurn, 256);
        rkv_wgmma::fence();
        issueQk(sacc, 0);
        if (!(cw == 1 && numTiles == 1)) bar_arrive(otherTurn, 256);
        rkv_wgmma::wait<0>();
        rkv_wgmma::pin(sacc);
        if (lane == 0) mbar_arrive(emptyK(0));
        rkv_prefill_wgmma::online_softmax<BN>(sacc, 0, warpFirst, past, rowA, lane, sl2, m, l, alpha);
        rkv_prefill_wgmma::pack_p<BN>(p, sacc);
    }
    for (int t = 1; t < numTiles; t++) {
        const int s = t % NS, sp = (t - 1) % NS;
        float sacc[SREG], alpha[2];
        mbar_wait(fullK(s), (t / NS) & 1);
        mbar_wait(fullV(sp), ((t - 1) / NS) & 1);
        rkv_wgmma::fence_proxy_async();
        bar_sync(myTurn, 256);
        rkv_wgmma::fence();
        issueQk(sacc, s);
        issuePv(sp);
        if (!(cw == 1 && t == numTiles - 1)) bar_arrive(otherTurn, 256);   // the last arrival would go unmatched
        rkv_wgmma::wait<1>();
        rkv_wgmma::pin(sacc);
        if (lane == 0) mbar_arrive(emptyK(s));
        rkv_prefill_wgmma::online_softmax<BN>(sacc, t * BN, warpFirst, past, rowA, lane, sl2, m, l, alpha);
        rkv_wgmma::wait<0>();
        rkv_wgmma::pin(o);
#pragma unroll
        for (int kk = 0; kk < BN / 16; kk++) {
            pin_u32(p[kk][0]); pin_u32(p[kk][1]); pin_u32(p[kk][2]); pin_u32(p[kk][3]);
        }
        if (lane == 0) mbar_arrive(emptyV(sp));
#pragma unroll
        for (int i = 0; i < OREG; i++) o[i] *= alpha[(i >> 1) & 1];
        rkv_prefill_wgmma::pack_p<BN>(p, sacc);
    }
    {   // PV of the last tile
        const int sp = (numTiles - 1) % NS;
        mbar_wait(fullV(sp), ((numTiles - 1) / NS) & 1);
        rkv_wgmma::fence_proxy_async();
        rkv_wgmma::fence();
        issuePv(sp);
        rkv_wgmma::wait<0>();
        rkv_wgmma::pin(o);
    }

    rkv_prefill_wgmma::store_o<D>(out, o, l, rowA, qLen, qStart, numHeads, head, lane);
#else
    __trap();
#endif
}

}  // namespace rkv_prefill_ws
