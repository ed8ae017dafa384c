// attention_test.cu: standalone correctness test and benchmark of kv_cache.cu, attention_prefill.cu
// and attention_decode.cu (llm.c style: the kernel files are included directly, a plain C++ fp64
// reference mirrors CpuKernels.writeKv / prefillAttention / decodeAttention, inputs are seeded random).
//
// Build (no GPU needed to build):
//   nvcc -O3 -arch=sm_90 -std=c++17 -o .gpu/attention_test rocketkv-cuda/src/test/cuda/attention_test.cu -ldl
// (cuBLAS, for the GEMM ceiling of the prefill benchmark, is opened at run time: libcublas.so.13 or .12)
// Run:
//   .gpu/attention_test            tests, then benchmarks
//   .gpu/attention_test test       tests only
//   .gpu/attention_test bench      benchmarks only
//   .gpu/attention_test prefill    the prefill benchmark only (v2, v3, cuBLAS GEMM ceiling)
//   .gpu/attention_test small      tests up to 5000 keys only (e.g. under compute-sanitizer)
//
// Tests: every kernel is launched through cudaLaunchKernel with a void* argument array, as the Java
// side does with cuLaunchKernel. K/V go through kv_cache_write_bf16 (whose output is compared bit for
// bit with a host Bf16.encode twin, slots -1 included) into a cache pre-filled with NaN, so a read of
// any slot that was never written poisons the output. The reference reads the same bf16 K/V.
// Benchmarks: decode at 32k x batch 8 (Llama-3.1-8B shapes) against the device-to-device cudaMemcpy
// bandwidth (bytes read + written) and a plain read-only kernel; prefill TFLOP/s.
#include "../../main/cuda/kv_cache.cu"
#include "../../main/cuda/attention_prefill.cu"
#include "../../main/cuda/attention_decode.cu"

#include <dlfcn.h>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#define CK(call)                                                                                   \
    do {                                                                                           \
        cudaError_t err_ = (call);                                                                 \
        if (err_ != cudaSuccess) {                                                                 \
            fprintf(stderr, "CUDA error %s (%s) at %s:%d: %s\n", cudaGetErrorName(err_),           \
                    cudaGetErrorString(err_), __FILE__, __LINE__, #call);                          \
            exit(2);                                                                               \
        }                                                                                          \
    } while (0)

// ------------------------------------------------------------------------------------------------
// Host helpers
// ------------------------------------------------------------------------------------------------
static uint64_t splitmix(uint64_t& s) {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static float uniform(uint64_t& s) {   // [-1, 1)
    return (float) ((splitmix(s) >> 40) * (1.0 / (1ull << 24)) * 2.0 - 1.0);
}

static void parallel_for(size_t n, const std::function<void(size_t)>& body) {
    unsigned nt = std::max(1u, std::thread::hardware_concurrency());
    std::atomic<size_t> next(0);
    std::vector<std::thread> ts;
    for (unsigned t = 0; t < nt; t++) {
        ts.emplace_back([&]() {
            for (size_t i; (i = next.fetch_add(1)) < n;) body(i);
        });
    }
    for (auto& t : ts) t.join();
}

// Fills v with uniform [-amp, amp), deterministic in seed regardless of thread count.
static void fill_random(std::vector<float>& v, uint64_t seed, float amp) {
    const size_t chunk = 1 << 16;
    size_t n = (v.size() + chunk - 1) / chunk;
    parallel_for(n, [&](size_t c) {
        uint64_t s = seed * 0x100000001b3ull + c;
        size_t e = std::min(v.size(), (c + 1) * chunk);
        for (size_t i = c * chunk; i < e; i++) v[i] = amp * uniform(s);
    });
}

// Twin of io.rocketkv.core.numeric.Bf16.encode.
static uint16_t bf16_encode(float f) {
    uint32_t bits;
    memcpy(&bits, &f, 4);
    uint32_t sign = (bits >> 16) & 0x8000u;
    uint32_t mag = bits & 0x7fffffffu;
    if (mag >= 0x7f800000u) return (uint16_t) (sign | (mag == 0x7f800000u ? 0x7f80u : 0x7fc0u));
    uint32_t r = (mag + 0x7fffu + ((mag >> 16) & 1u)) >> 16;
    if (r > 0x7f7fu) r = 0x7f7fu;
    return (uint16_t) (sign | r);
}
static float bf16_decode(uint16_t h) {
    uint32_t bits = (uint32_t) h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

// The sliding-window argument every attention kernel takes last: 0, full attention (the Java GPU tests cover windows).
static int kNoWindow = 0;

static void launch(const void* fn, dim3 grid, dim3 block, size_t smem, std::vector<void*> args) {
    CK(cudaLaunchKernel(fn, grid, block, args.data(), smem, 0));
}

template <typename T>
static T* dev_upload(const std::vector<T>& h) {
    T* d = nullptr;
    CK(cudaMalloc(&d, std::max<size_t>(1, h.size()) * sizeof(T)));
    if (!h.empty()) CK(cudaMemcpy(d, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
    return d;
}
template <typename T>
static std::vector<T> dev_download(const T* d, size_t n) {
    std::vector<T> h(n);
    CK(cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost));
    return h;
}

// ------------------------------------------------------------------------------------------------
// Kernel tables
// ------------------------------------------------------------------------------------------------
static const void* prefill_fast(int D) {
    switch (D) {
        case 16: return (const void*) attention_prefill_d16;
        case 32: return (const void*) attention_prefill_d32;
        case 64: return (const void*) attention_prefill_d64;
        case 128: return (const void*) attention_prefill_d128;
        default: return nullptr;
    }
}
static size_t prefill_smem(int D) {
    switch (D) {
        case 16: return rkv_prefill::Layout<16>::BYTES;
        case 32: return rkv_prefill::Layout<32>::BYTES;
        case 64: return rkv_prefill::Layout<64>::BYTES;
        case 128: return rkv_prefill::Layout<128>::BYTES;
        default: return 0;
    }
}
// v3 configurations benchmarked beside the library's (the first of each head dim in mma_variants is the library's) (name, Cfg<D, MT, NW, BN, QREG>, min blocks per SM).
typedef rkv_prefill_mma::Cfg<128, 2, 4, 64, false> Cfg_pv_d128_m2w4n64;
RKV_PREFILL_MMA_KERNEL(pv_d128_m2w4n64, Cfg_pv_d128_m2w4n64, 1)
typedef rkv_prefill_mma::Cfg<128, 2, 4, 32, false> Cfg_pv_d128_m2w4n32;
RKV_PREFILL_MMA_KERNEL(pv_d128_m2w4n32, Cfg_pv_d128_m2w4n32, 2)
typedef rkv_prefill_mma::Cfg<128, 1, 8, 64, true> Cfg_pv_d128_m1w8n64;
RKV_PREFILL_MMA_KERNEL(pv_d128_m1w8n64, Cfg_pv_d128_m1w8n64, 1)
typedef rkv_prefill_mma::Cfg<128, 2, 8, 32, false> Cfg_pv_d128_m2w8n32;
RKV_PREFILL_MMA_KERNEL(pv_d128_m2w8n32, Cfg_pv_d128_m2w8n32, 1)
typedef rkv_prefill_mma::Cfg<128, 1, 4, 64, true> Cfg_pv_d128_m1w4n64;
RKV_PREFILL_MMA_KERNEL(pv_d128_m1w4n64, Cfg_pv_d128_m1w4n64, 2)
typedef rkv_prefill_mma::Cfg<64, 1, 8, 64, true> Cfg_pv_d64_m1w8n64;
RKV_PREFILL_MMA_KERNEL(pv_d64_m1w8n64, Cfg_pv_d64_m1w8n64, 2)
typedef rkv_prefill_mma::Cfg<64, 2, 8, 64, true> Cfg_pv_d64_m2w8n64;
RKV_PREFILL_MMA_KERNEL(pv_d64_m2w8n64, Cfg_pv_d64_m2w8n64, 1)
typedef rkv_prefill_mma::Cfg<128, 1, 8, 128, true> Cfg_pv_d128_m1w8n128;
RKV_PREFILL_MMA_KERNEL(pv_d128_m1w8n128, Cfg_pv_d128_m1w8n128, 1)
typedef rkv_prefill_mma::Cfg<64, 1, 8, 128, true> Cfg_pv_d64_m1w8n128;
RKV_PREFILL_MMA_KERNEL(pv_d64_m1w8n128, Cfg_pv_d64_m1w8n128, 1)
typedef rkv_prefill_wgmma::Cfg<128, 128, true> Cfg_wg_d128_n128_vswap;
RKV_PREFILL_WGMMA_KERNEL(wg_d128_n128_vswap, Cfg_wg_d128_n128_vswap)
typedef rkv_prefill_wgmma::Cfg<128, 64> Cfg_wg_d128_n64;
RKV_PREFILL_WGMMA_KERNEL(wg_d128_n64, Cfg_wg_d128_n64)
typedef rkv_prefill_wgmma::Cfg<64, 64> Cfg_wg_d64_n64;
RKV_PREFILL_WGMMA_KERNEL(wg_d64_n64, Cfg_wg_d64_n64)
typedef rkv_prefill_ws::Cfg<128, 128, 3> Cfg_ws_d128_n128_s3;
RKV_PREFILL_WS_KERNEL(ws_d128_n128_s3, Cfg_ws_d128_n128_s3)
typedef rkv_prefill_ws::Cfg<128, 64, 4> Cfg_ws_d128_n64_s4;
RKV_PREFILL_WS_KERNEL(ws_d128_n64_s4, Cfg_ws_d128_n64_s4)
typedef rkv_prefill_ws::Cfg<64, 64, 4> Cfg_ws_d64_n64_s4;
RKV_PREFILL_WS_KERNEL(ws_d64_n64_s4, Cfg_ws_d64_n64_s4)
typedef rkv_prefill_ws::Cfg<64, 128, 2> Cfg_ws_d64_n128_s2;
RKV_PREFILL_WS_KERNEL(ws_d64_n128_s2, Cfg_ws_d64_n128_s2)
struct MmaVariant {
    const char* name;
    const void* fn;
    int D, bm, threads;
    size_t smem;
};
#define RKV_MV(NAME, ...) {#NAME, (const void*) NAME, __VA_ARGS__::D, __VA_ARGS__::BM, __VA_ARGS__::NTHREADS, __VA_ARGS__::BYTES}
static const std::vector<MmaVariant>& mma_variants() {
    static const std::vector<MmaVariant> v = {
            RKV_MV(attention_prefill_mma_d128, RkvPrefillMmaD128),
            RKV_MV(pv_d128_m2w4n64, Cfg_pv_d128_m2w4n64),
            RKV_MV(pv_d128_m2w4n32, Cfg_pv_d128_m2w4n32),
            RKV_MV(pv_d128_m1w8n64, Cfg_pv_d128_m1w8n64),
            RKV_MV(pv_d128_m2w8n32, Cfg_pv_d128_m2w8n32),
            RKV_MV(pv_d128_m1w4n64, Cfg_pv_d128_m1w4n64),
            RKV_MV(pv_d128_m1w8n128, Cfg_pv_d128_m1w8n128),
            RKV_MV(attention_prefill_wgmma_d128, RkvPrefillWgmmaD128),
            RKV_MV(wg_d128_n128_vswap, Cfg_wg_d128_n128_vswap),
            RKV_MV(wg_d128_n64, Cfg_wg_d128_n64),
            RKV_MV(attention_prefill_ws_d128, RkvPrefillWsD128),
            RKV_MV(ws_d128_n128_s3, Cfg_ws_d128_n128_s3),
            RKV_MV(ws_d128_n64_s4, Cfg_ws_d128_n64_s4),
            RKV_MV(attention_prefill_mma_d64, RkvPrefillMmaD64),
            RKV_MV(pv_d64_m1w8n64, Cfg_pv_d64_m1w8n64),
            RKV_MV(pv_d64_m2w8n64, Cfg_pv_d64_m2w8n64),
            RKV_MV(pv_d64_m1w8n128, Cfg_pv_d64_m1w8n128),
            RKV_MV(attention_prefill_wgmma_d64, RkvPrefillWgmmaD64),
            RKV_MV(wg_d64_n64, Cfg_wg_d64_n64),
            RKV_MV(attention_prefill_ws_d64, RkvPrefillWsD64),
            RKV_MV(ws_d64_n64_s4, Cfg_ws_d64_n64_s4),
            RKV_MV(ws_d64_n128_s2, Cfg_ws_d64_n128_s2),
    };
    return v;
}
static void launch_variant(const MmaVariant& v, int Hq, int maxQ, int numSeqs, std::vector<void*> args) {
    CK(cudaFuncSetAttribute(v.fn, cudaFuncAttributeMaxDynamicSharedMemorySize, (int) v.smem));
    launch(v.fn, dim3(Hq, (maxQ + v.bm - 1) / v.bm, numSeqs), dim3(v.threads), v.smem, args);
}

static const void* prefill_mma(int D) {
    switch (D) {
        case 64: return (const void*) attention_prefill_mma_d64;
        case 128: return (const void*) attention_prefill_mma_d128;
        default: return nullptr;
    }
}
static void launch_prefill_mma(int D, int Hq, int maxQ, int numSeqs, std::vector<void*> args) {
    for (const MmaVariant& v : mma_variants()) {
        if (v.fn == prefill_mma(D)) launch_variant(v, Hq, maxQ, numSeqs, args);
    }
}

static int group_tile(int G) { return G <= 1 ? 1 : G <= 2 ? 2 : G <= 4 ? 4 : 8; }
#define DEC_ROW(D) {(const void*) attention_decode_d##D##_g1, (const void*) attention_decode_d##D##_g2, \
                    (const void*) attention_decode_d##D##_g4, (const void*) attention_decode_d##D##_g8}
static const void* decode_fast(int D, int GT) {
    static const void* t16[4] = DEC_ROW(16);
    static const void* t32[4] = DEC_ROW(32);
    static const void* t64[4] = DEC_ROW(64);
    static const void* t128[4] = DEC_ROW(128);
    static const void* t256[4] = DEC_ROW(256);
    int gi = GT == 1 ? 0 : GT == 2 ? 1 : GT == 4 ? 2 : 3;
    switch (D) {
        case 16: return t16[gi];
        case 32: return t32[gi];
        case 64: return t64[gi];
        case 128: return t128[gi];
        case 256: return t256[gi];
        default: return nullptr;
    }
}

// Recommended split length (the rule documented in README.md): resident = blocks that fit on the
// device at once (occupancy x SMs); numSplits = clamp(floor(waves * resident / (numSeqs * Hkv *
// headChunks)), 1, ceil(maxKvLen / 256)); kvPerSplit = ceil(maxKvLen / numSplits).
static int g_num_sms = 132;
static int recommended_kv_per_split(const void* fn, int threads, int numSeqs, int numKvHeads, int headChunks,
                                    int maxKvLen, int waves = 2) {
    int perSm = 0;
    CK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&perSm, fn, threads, 0));
    long resident = (long) std::max(1, perSm) * g_num_sms;
    long base = (long) numSeqs * numKvHeads * headChunks;
    long splits = std::max(1L, waves * resident / base);
    splits = std::min(splits, std::max(1L, (long) (maxKvLen + 255) / 256));
    return (int) ((maxKvLen + splits - 1) / splits);
}

// Tuning variants of the v2 decode kernel (D = 128, GT = 4), benchmarked and also tested.
template <int D, int GT, int U, int NW, int PIPE, bool TR, int MINB>
__global__ void __launch_bounds__(NW * 32, MINB) bench_decode_variant(
        const float* q, const unsigned short* kvCache, const int* kvLens, const int* blockTables, float* out,
        float* workspace, int numHeads, int numKvHeads, int headDim, int tokensPerBlock, int maxBlocks, int kvPerSplit,
        float scale) {
    rkv_decode::decode_split<D, GT, U, NW, PIPE, TR, RkvBf16Kv>(q, kvCache, kvLens, blockTables, out, workspace,
                                                                numHeads, numKvHeads, tokensPerBlock, maxBlocks,
                                                                kvPerSplit, scale, 1.f, 1.f, 0);
}
struct DecodeVariant {
    const char* name;
    const void* fn;
    int warps;
};
static const std::vector<DecodeVariant>& decode_variants() {
    static const std::vector<DecodeVariant> v = {
            {"U4 NW4 direct, butterfly (run 1)", (const void*) bench_decode_variant<128, 4, 4, 4, 0, false, 1>, 4},
            {"U4 NW4 direct, transpose-reduce", (const void*) bench_decode_variant<128, 4, 4, 4, 0, true, 1>, 4},
            {"U4 NW4 cp.async x2, butterfly", (const void*) bench_decode_variant<128, 4, 4, 4, 2, false, 4>, 4},
            {"U4 NW4 cp.async x2, TR, minB 1", (const void*) bench_decode_variant<128, 4, 4, 4, 2, true, 1>, 4},
            {"U4 NW4 cp.async x2, TR, minB 4", (const void*) bench_decode_variant<128, 4, 4, 4, 2, true, 4>, 4},
            {"U2 NW4 cp.async x3, TR", (const void*) bench_decode_variant<128, 4, 2, 4, 3, true, 4>, 4},
            {"U2 NW4 cp.async x4, TR", (const void*) bench_decode_variant<128, 4, 2, 4, 4, true, 4>, 4},
            {"U4 NW2 cp.async x3, TR", (const void*) bench_decode_variant<128, 4, 4, 2, 3, true, 8>, 2},
            {"U4 NW2 cp.async x2, TR", (const void*) bench_decode_variant<128, 4, 4, 2, 2, true, 8>, 2},
    };
    return v;
}

// ------------------------------------------------------------------------------------------------
// Test fixture: a paged cache filled through kv_cache_write_bf16
// ------------------------------------------------------------------------------------------------
struct Case {
    std::string name;
    bool prefill;
    int D, Hq, Hkv, P;
    std::vector<int> qLens, kvLens;   // decode: qLens all 1
    float qAmp;
    int maxCheckRows;                 // prefill: rows checked per sequence (0 = all)
    bool naive;                       // also run the v1 kernel
};

struct Paged {
    int numSeqs, numBlocks, maxBlocks;
    std::vector<int> tables;          // [numSeqs][maxBlocks]
    std::vector<uint16_t> cache;      // expected host cache (NaN where never written)
    unsigned short* dCache = nullptr;
    int* dTables = nullptr;
    bool writeOk = true;
};

static const uint16_t SENTINEL = 0x7fc1;   // a NaN

static Paged build_cache(const Case& c, uint64_t seed) {
    Paged pg;
    pg.numSeqs = (int) c.kvLens.size();
    int total = 0, maxB = 0;
    for (int kv : c.kvLens) {
        int nb = (kv + c.P - 1) / c.P;
        total += nb;
        maxB = std::max(maxB, nb);
    }
    pg.maxBlocks = maxB + 1;                 // a -1 pad on every row: the stride is exercised
    pg.numBlocks = total + 3;                // spare blocks stay NaN
    std::vector<int> perm(pg.numBlocks);
    for (int i = 0; i < pg.numBlocks; i++) perm[i] = i;
    uint64_t s = seed;
    for (int i = pg.numBlocks - 1; i > 0; i--) std::swap(perm[i], perm[splitmix(s) % (i + 1)]);
    pg.tables.assign((size_t) pg.numSeqs * pg.maxBlocks, -1);
    int next = 0;
    for (int q = 0; q < pg.numSeqs; q++) {
        int nb = (c.kvLens[q] + c.P - 1) / c.P;
        for (int b = 0; b < nb; b++) pg.tables[(size_t) q * pg.maxBlocks + b] = perm[next++];
    }
    // Tokens to write: every key of every sequence, with a skipped (-1) token after every 7th.
    std::vector<int> slots;
    for (int q = 0; q < pg.numSeqs; q++) {
        for (int j = 0; j < c.kvLens[q]; j++) {
            slots.push_back(pg.tables[(size_t) q * pg.maxBlocks + j / c.P] * c.P + j % c.P);
            if (j % 7 == 6) slots.push_back(-1);
        }
    }
    const int T = (int) slots.size();
    const size_t row = (size_t) c.Hkv * c.D;
    std::vector<float> k((size_t) T * row), v((size_t) T * row);
    fill_random(k, seed * 3 + 1, 1.f);
    fill_random(v, seed * 3 + 2, 1.f);
    const size_t blockElems = (size_t) 2 * c.Hkv * c.P * c.D;
    pg.cache.assign(pg.numBlocks * blockElems, SENTINEL);
    parallel_for(T, [&](size_t t) {
        int slot = slots[t];
        if (slot < 0) return;
        int b = slot / c.P, off = slot % c.P;
        for (int h = 0; h < c.Hkv; h++) {
            for (int d = 0; d < c.D; d++) {
                size_t ko = (((size_t) b * 2 * c.Hkv + h) * c.P + off) * c.D + d;
                size_t vo = ko + (size_t) c.Hkv * c.P * c.D;
                pg.cache[ko] = bf16_encode(k[t * row + h * c.D + d]);
                pg.cache[vo] = bf16_encode(v[t * row + h * c.D + d]);
            }
        }
    });
    std::vector<uint16_t> init(pg.cache.size(), SENTINEL);
    pg.dCache = dev_upload(init);
    float* dk = dev_upload(k);
    float* dv = dev_upload(v);
    int* dSlots = dev_upload(slots);
    int nt = T, hkv = c.Hkv, dd = c.D, p = c.P, nb = pg.numBlocks;
    launch((const void*) kv_cache_write_bf16, dim3(T), dim3(128), 0,
           {&dk, &dv, &dSlots, &pg.dCache, &nt, &hkv, &dd, &p, &nb});
    CK(cudaGetLastError());
    CK(cudaDeviceSynchronize());
    std::vector<uint16_t> got = dev_download(pg.dCache, pg.cache.size());
    size_t bad = 0;
    for (size_t i = 0; i < got.size(); i++) {
        if (got[i] != pg.cache[i]) {
            if (bad < 5) printf("    kv_cache_write mismatch at %zu: got 0x%04x want 0x%04x\n", i, got[i], pg.cache[i]);
            bad++;
        }
    }
    pg.writeOk = bad == 0;
    if (bad) printf("    kv_cache_write: %zu of %zu elements differ\n", bad, got.size());
    CK(cudaFree(dk));
    CK(cudaFree(dv));
    CK(cudaFree(dSlots));
    pg.dTables = dev_upload(pg.tables);
    return pg;
}

// fp64 reference of one query row: keys 0..last of `seq`, query head `head`.
static void reference_row(const Case& c, const Paged& pg, int seq, int last, int head, const float* qRow,
                          double scale, double* out) {
    const int G = c.Hq / c.Hkv, kvh = head / G;
    std::vector<double> sc(last + 1);
    double mx = -INFINITY;
    for (int j = 0; j <= last; j++) {
        int b = pg.tables[(size_t) seq * pg.maxBlocks + j / c.P];
        size_t ko = (((size_t) b * 2 * c.Hkv + kvh) * c.P + j % c.P) * c.D;
        double s = 0;
        for (int d = 0; d < c.D; d++) s += (double) qRow[d] * bf16_decode(pg.cache[ko + d]);
        sc[j] = s * scale;
        mx = std::max(mx, sc[j]);
    }
    for (int d = 0; d < c.D; d++) out[d] = 0;
    double sum = 0;
    for (int j = 0; j <= last; j++) {
        int b = pg.tables[(size_t) seq * pg.maxBlocks + j / c.P];
        size_t vo = (((size_t) b * 2 * c.Hkv + c.Hkv + kvh) * c.P + j % c.P) * c.D;
        double e = exp(sc[j] - mx);
        sum += e;
        for (int d = 0; d < c.D; d++) out[d] += e * bf16_decode(pg.cache[vo + d]);
    }
    for (int d = 0; d < c.D; d++) out[d] /= sum;
}

struct Checked {
    std::vector<size_t> rows;   // token rows (index into q / out) checked
    std::vector<int> seqOf, lastOf;
    std::vector<double> ref;    // [rows][Hq][D]
};

struct Stats {
    size_t bad = 0, n = 0;
    double maxAbs = 0, maxRel = 0;
};

static Stats compare(const Case& c, const Checked& ck, const std::vector<float>& got, double atol, double rtol,
                     const char* label) {
    Stats st;
    const size_t rowElems = (size_t) c.Hq * c.D;
    for (size_t r = 0; r < ck.rows.size(); r++) {
        for (size_t e = 0; e < rowElems; e++) {
            double want = ck.ref[r * rowElems + e];
            double g = got[ck.rows[r] * rowElems + e];
            double err = fabs(g - want);
            st.n++;
            if (!(err <= atol + rtol * fabs(want))) {
                if (st.bad < 5) {
                    printf("    %s mismatch: seq %d row %zu head %zu d %zu: got %.7g want %.7g\n", label, ck.seqOf[r],
                           ck.rows[r], e / c.D, e % c.D, g, want);
                }
                st.bad++;
            }
            if (!(err <= st.maxAbs)) st.maxAbs = err;   // NaN propagates
            if (fabs(want) > 0.05 && !(err / fabs(want) <= st.maxRel)) st.maxRel = err / fabs(want);
        }
    }
    return st;
}

// v3 rounds q to bf16 (v2 splits it into hi + lo): its logits carry q's 2^-9 relative rounding.
static const double MMA_ATOL = 1e-2, MMA_RTOL = 2e-2;

static int g_pass = 0, g_fail = 0;
static bool g_small = false;   // "small" mode: only cases up to 5000 keys (for compute-sanitizer)

static void report(const Case& c, const char* variant, const Stats& st) {
    bool ok = st.bad == 0;
    (ok ? g_pass : g_fail)++;
    printf("  %-4s %-34s %-36s max abs %.3e  max rel(|ref|>0.05) %.3e  (%zu values%s)\n", ok ? "PASS" : "FAIL",
           c.name.c_str(), variant, st.maxAbs, st.maxRel, st.n,
           ok ? "" : (", " + std::to_string(st.bad) + " bad").c_str());
}

static void run_case(const Case& c, uint64_t seed) {
    const int numSeqs = (int) c.kvLens.size();
    std::vector<int> qStart(numSeqs + 1, 0);
    for (int s = 0; s < numSeqs; s++) qStart[s + 1] = qStart[s] + c.qLens[s];
    const int T = qStart[numSeqs];
    Paged pg = build_cache(c, seed);
    {
        bool ok = pg.writeOk;
        (ok ? g_pass : g_fail)++;
        printf("  %-4s %-34s %-36s (bitwise, %zu elements)\n", ok ? "PASS" : "FAIL", c.name.c_str(), "kv_cache_write_bf16",
               pg.cache.size());
    }
    std::vector<float> q((size_t) T * c.Hq * c.D);
    fill_random(q, seed * 7 + 5, c.qAmp);
    const float scale = (float) (1.0 / sqrt((double) c.D));

    // Rows to check.
    Checked ck;
    for (int s = 0; s < numSeqs; s++) {
        int ql = c.qLens[s];
        std::vector<int> rs;
        if (c.maxCheckRows == 0 || ql <= c.maxCheckRows) {
            for (int i = 0; i < ql; i++) rs.push_back(i);
        } else {
            uint64_t rs_seed = seed + s;
            for (int i = 0; i < 8; i++) rs.push_back(i);
            for (int i = 0; i < c.maxCheckRows / 2; i++) rs.push_back(ql - 1 - i);
            while ((int) rs.size() < c.maxCheckRows) rs.push_back((int) (splitmix(rs_seed) % ql));
            std::sort(rs.begin(), rs.end());
            rs.erase(std::unique(rs.begin(), rs.end()), rs.end());
        }
        for (int i : rs) {
            ck.rows.push_back(qStart[s] + i);
            ck.seqOf.push_back(s);
            ck.lastOf.push_back(c.kvLens[s] - ql + i);
        }
    }
    const size_t rowElems = (size_t) c.Hq * c.D;
    ck.ref.assign(ck.rows.size() * rowElems, 0.0);
    parallel_for(ck.rows.size() * c.Hq, [&](size_t task) {
        size_t r = task / c.Hq;
        int h = (int) (task % c.Hq);
        reference_row(c, pg, ck.seqOf[r], ck.lastOf[r], h, &q[ck.rows[r] * rowElems + (size_t) h * c.D], scale,
                      &ck.ref[r * rowElems + (size_t) h * c.D]);
    });

    float* dq = dev_upload(q);
    float* dOut = nullptr;
    CK(cudaMalloc(&dOut, q.size() * sizeof(float)));
    int* dKvLens = dev_upload(c.kvLens);
    int* dQStart = dev_upload(qStart);
    int hq = c.Hq, hkv = c.Hkv, dd = c.D, p = c.P, mb = pg.maxBlocks;
    float sc = scale;
    int maxQ = *std::max_element(c.qLens.begin(), c.qLens.end());
    int maxKv = *std::max_element(c.kvLens.begin(), c.kvLens.end());

    auto fetch = [&]() {
        CK(cudaGetLastError());
        CK(cudaDeviceSynchronize());
        std::vector<float> got = dev_download(dOut, q.size());
        CK(cudaMemset(dOut, 0xff, q.size() * sizeof(float)));   // NaN for the next variant
        return got;
    };
    CK(cudaMemset(dOut, 0xff, q.size() * sizeof(float)));

    if (c.prefill) {
        const double atol = 4e-3, rtol = 1e-2;
        if (const void* fn = prefill_fast(c.D)) {
            size_t smem = prefill_smem(c.D);
            CK(cudaFuncSetAttribute(fn, cudaFuncAttributeMaxDynamicSharedMemorySize, (int) smem));
            launch(fn, dim3((maxQ + 63) / 64, c.Hq, numSeqs), dim3(128), smem,
                   {&dq, &pg.dCache, &dQStart, &dKvLens, &pg.dTables, &dOut, &hq, &hkv, &dd, &p, &mb, &sc, &kNoWindow});
            std::string label = "attention_prefill_d" + std::to_string(c.D);
            report(c, label.c_str(), compare(c, ck, fetch(), atol, rtol, label.c_str()));
        }
        for (const MmaVariant& v : mma_variants()) {
            if (v.D != c.D) continue;
            launch_variant(v, c.Hq, maxQ, numSeqs,
                           {&dq, &pg.dCache, &dQStart, &dKvLens, &pg.dTables, &dOut, &hq, &hkv, &dd, &p, &mb, &sc, &kNoWindow});
            report(c, v.name, compare(c, ck, fetch(), MMA_ATOL, MMA_RTOL, v.name));
        }
        if (c.naive || !prefill_fast(c.D)) {
            launch((const void*) attention_prefill_naive, dim3((maxQ + 3) / 4, c.Hq, numSeqs), dim3(128), 0,
                   {&dq, &pg.dCache, &dQStart, &dKvLens, &pg.dTables, &dOut, &hq, &hkv, &dd, &p, &mb, &sc, &kNoWindow});
            report(c, "attention_prefill_naive", compare(c, ck, fetch(), 2e-4, 2e-3, "naive"));
        }
    } else {
        const double atol = 2e-4, rtol = 2e-3;
        const int G = c.Hq / c.Hkv;
        const int GT = group_tile(G);
        const int chunks = (G + GT - 1) / GT;
        auto run_decode = [&](const void* fn, int warps, int kvPerSplit, const std::string& name) {
            int numSplits = (maxKv + kvPerSplit - 1) / kvPerSplit;
            float* dWs = nullptr;
            size_t wsFloats = (size_t) numSeqs * c.Hq * numSplits * (c.D + 2);
            CK(cudaMalloc(&dWs, std::max<size_t>(1, wsFloats) * sizeof(float)));
            int kps = kvPerSplit;
            launch(fn, dim3(numSeqs, c.Hkv * chunks, numSplits), dim3(warps * 32), 0,
                   {&dq, &pg.dCache, &dKvLens, &pg.dTables, &dOut, &dWs, &hq, &hkv, &dd, &p, &mb, &kps, &sc, &kNoWindow});
            if (numSplits > 1) {
                int ns = numSplits;
                launch((const void*) attention_decode_merge, dim3(numSeqs, c.Hq), dim3(128), 0,
                       {&dWs, &dKvLens, &dOut, &hq, &dd, &kps, &ns, &kNoWindow});
            }
            char label[128];
            snprintf(label, sizeof label, "%s kvPerSplit %d (%d split%s)", name.c_str(), kvPerSplit, numSplits,
                     numSplits > 1 ? "s" : "");
            report(c, label, compare(c, ck, fetch(), atol, rtol, label));
            CK(cudaFree(dWs));
        };
        if (const void* fn = decode_fast(c.D, GT)) {
            int rec = recommended_kv_per_split(fn, 128, numSeqs, c.Hkv, chunks, maxKv);
            std::string name = "decode_d" + std::to_string(c.D) + "_g" + std::to_string(GT);
            for (int kvPerSplit : {maxKv, 37, rec}) run_decode(fn, 4, kvPerSplit, name);
        }
        if (c.D == 128 && GT == 4) {
            for (const DecodeVariant& v : decode_variants()) {
                int rec = recommended_kv_per_split(v.fn, v.warps * 32, numSeqs, c.Hkv, chunks, maxKv);
                for (int kvPerSplit : {37, rec}) run_decode(v.fn, v.warps, kvPerSplit, std::string("variant ") + v.name);
            }
        }
        if (c.naive || !decode_fast(c.D, GT)) {
            launch((const void*) attention_decode_naive, dim3(numSeqs, c.Hq), dim3(32), 0,
                   {&dq, &pg.dCache, &dKvLens, &pg.dTables, &dOut, &hq, &hkv, &dd, &p, &mb, &sc, &kNoWindow});
            report(c, "attention_decode_naive", compare(c, ck, fetch(), atol, rtol, "naive"));
        }
    }
    CK(cudaFree(dq));
    CK(cudaFree(dOut));
    CK(cudaFree(dKvLens));
    CK(cudaFree(dQStart));
    CK(cudaFree(pg.dCache));
    CK(cudaFree(pg.dTables));
}

// kv_cache_write_bf16 on special values (saturation, inf, NaN, ties, subnormals) for both code paths.
static void test_kv_write_special() {
    const float specials[] = {0.f, -0.f, 1.f, -1.f, 1.00390625f /* tie -> even (down) */, 1.01171875f /* tie -> up */,
                              3.4e38f /* rounds past max: saturates */, -3.4028235e38f, INFINITY, -INFINITY, NAN,
                              -NAN, 1e-40f /* subnormal */, -2.5e-39f, 65504.f, 3.14159265f};
    const int nsp = sizeof specials / sizeof specials[0];
    for (int D : {6, 8}) {
        const int Hkv = 3, P = 4, numBlocks = 5, T = 9;
        std::vector<int> slots = {0, 5, -1, 19, 7, -3, 12, 1, 18};
        std::vector<float> k((size_t) T * Hkv * D), v(k.size());
        uint64_t s = 99;
        for (size_t i = 0; i < k.size(); i++) {
            k[i] = (i % 3 == 0) ? specials[i % nsp] : 100.f * uniform(s);
            v[i] = (i % 2 == 0) ? specials[(i / 2) % nsp] : uniform(s);
        }
        std::vector<uint16_t> want((size_t) numBlocks * 2 * Hkv * P * D, SENTINEL);
        for (int t = 0; t < T; t++) {
            if (slots[t] < 0) continue;
            int b = slots[t] / P, off = slots[t] % P;
            for (int h = 0; h < Hkv; h++)
                for (int d = 0; d < D; d++) {
                    size_t ko = (((size_t) b * 2 * Hkv + h) * P + off) * D + d;
                    want[ko] = bf16_encode(k[((size_t) t * Hkv + h) * D + d]);
                    want[ko + (size_t) Hkv * P * D] = bf16_encode(v[((size_t) t * Hkv + h) * D + d]);
                }
        }
        std::vector<uint16_t> init(want.size(), SENTINEL);
        unsigned short* dc = dev_upload(init);
        float* dk = dev_upload(k);
        float* dv = dev_upload(v);
        int* ds = dev_upload(slots);
        int nt = T, hkv = Hkv, dd = D, p = P, nb = numBlocks;
        launch((const void*) kv_cache_write_bf16, dim3(T), dim3(128), 0, {&dk, &dv, &ds, &dc, &nt, &hkv, &dd, &p, &nb});
        CK(cudaDeviceSynchronize());
        std::vector<uint16_t> got = dev_download(dc, want.size());
        size_t bad = 0;
        for (size_t i = 0; i < got.size(); i++) {
            if (got[i] != want[i]) {
                if (bad < 5) printf("    mismatch at %zu: got 0x%04x want 0x%04x\n", i, got[i], want[i]);
                bad++;
            }
        }
        // spot-check the host twin on the documented cases
        bool twin = bf16_encode(3.4e38f) == 0x7f7f && bf16_encode(INFINITY) == 0x7f80 &&
                    bf16_encode(NAN) == 0x7fc0 && bf16_encode(1.00390625f) == 0x3f80 && bf16_encode(1.01171875f) == 0x3f82;
        bool ok = bad == 0 && twin;
        (ok ? g_pass : g_fail)++;
        printf("  %-4s %-34s %-36s (bitwise, %zu elements%s)\n", ok ? "PASS" : "FAIL",
               (std::string("special values D=") + std::to_string(D)).c_str(), "kv_cache_write_bf16", got.size(),
               twin ? "" : ", HOST TWIN WRONG");
        CK(cudaFree(dc));
        CK(cudaFree(dk));
        CK(cudaFree(dv));
        CK(cudaFree(ds));
    }
}

static std::vector<int> lens_mix(int n, uint64_t seed, int lo, int hi, std::vector<int> must) {
    std::vector<int> r = must;
    uint64_t s = seed;
    while ((int) r.size() < n) r.push_back(lo + (int) (splitmix(s) % (uint64_t) (hi - lo + 1)));
    r.resize(n);
    return r;
}

static void run_tests() {
    printf("== tests (decode: |err| <= 2e-4 + 2e-3|ref|; prefill v2 (bf16 tensor cores): |err| <= 4e-3 + 1e-2|ref|; v3 mma (bf16 q): |err| <= %.0e + %.0e|ref|; v1 naive: 2e-4 + 2e-3|ref|)\n", MMA_ATOL, MMA_RTOL);
    test_kv_write_special();
    std::vector<Case> cases;
    auto ones = [](size_t n) { return std::vector<int>(n, 1); };
    // decode
    {
        std::vector<int> kv = {1, 54, 97};
        cases.push_back({"decode D128 G4 P16 b3", false, 128, 32, 8, 16, ones(3), kv, 2.f, 0, true});
    }
    {
        std::vector<int> kv = lens_mix(17, 11, 1, 5000, {1, 54, 97, 4096, 16, 17, 31, 32, 33});
        cases.push_back({"decode D128 G8 P32 b17", false, 128, 32, 4, 32, ones(17), kv, 2.f, 0, false});
    }
    {
        std::vector<int> kv = lens_mix(17, 12, 1, 4096, {1, 54, 97, 4096});
        cases.push_back({"decode D64 G1 P16 b17", false, 64, 8, 8, 16, ones(17), kv, 2.f, 0, true});
    }
    cases.push_back({"decode D16 G4 P32 b1 32k", false, 16, 8, 2, 32, ones(1), {32768}, 4.f, 0, false});
    cases.push_back({"decode D128 G4 P16 b1 32k sharp", false, 128, 32, 8, 16, ones(1), {32768}, 16.f, 0, false});
    cases.push_back({"decode D32 G8 P16 b3", false, 32, 16, 2, 16, ones(3), {4096, 1, 97}, 2.f, 0, true});
    cases.push_back({"decode D64 G3(GT4) P16 b3", false, 64, 6, 2, 16, ones(3), {54, 97, 300}, 2.f, 0, false});
    cases.push_back({"decode D128 G12(GT8x2) P32 b3", false, 128, 12, 1, 32, ones(3), {97, 1, 1000}, 2.f, 0, false});
    cases.push_back({"decode D256 G2 P16 b3", false, 256, 8, 4, 16, ones(3), {54, 97, 2000}, 2.f, 0, false});
    cases.push_back({"decode D96 G2 P16 b3 (naive only)", false, 96, 8, 4, 16, ones(3), {1, 54, 97}, 2.f, 0, true});
    cases.push_back({"decode D128 G4 P16 b8 32k (bench)", false, 128, 32, 8, 16, ones(8), std::vector<int>(8, 32768), 4.f, 0, false});
    // prefill
    cases.push_back({"prefill D128 G4 P16 b3", true, 128, 32, 8, 16, {1, 54, 97}, {1, 54, 97}, 2.f, 0, true});
    {
        std::vector<int> l = lens_mix(17, 13, 1, 300, {1, 54, 97, 64, 65, 63});
        cases.push_back({"prefill D64 G1 P32 b17", true, 64, 4, 4, 32, l, l, 2.f, 0, true});
    }
    cases.push_back({"prefill D16 G8 P16 b1 4096", true, 16, 8, 1, 16, {4096}, {4096}, 4.f, 0, false});
    cases.push_back({"prefill D128 G4 P16 b1 32k", true, 128, 8, 2, 16, {32768}, {32768}, 4.f, 96, false});
    cases.push_back({"prefill D32 G4 P32 b3 prefix", true, 32, 8, 2, 32, {54, 97, 1}, {100, 97, 4096}, 2.f, 0, true});
    cases.push_back({"prefill D64 G8 P16 b3", true, 64, 16, 2, 16, {4096, 54, 97}, {4096, 54, 97}, 2.f, 0, true});
    cases.push_back({"prefill D128 G4 P16 b3 prefix tiles", true, 128, 8, 2, 16, {64, 65, 130}, {64, 200, 1000}, 8.f, 0, true});
    // awkward lengths, several prompts in one batch, GQA groups 1 / 4 / 8, chunks (kvLen > queryLen)
    {
        std::vector<int> l = {1, 17, 64, 65, 1000, 4097};
        cases.push_back({"prefill D128 G8 P16 b6 awkward", true, 128, 32, 4, 16, l, l, 2.f, 0, false});
        cases.push_back({"prefill D64 G1 P32 b6 awkward", true, 64, 8, 8, 32, l, l, 2.f, 0, false});
        cases.push_back({"prefill D128 G4 P16 b6 chunks", true, 128, 16, 4, 16, l, {7, 40, 64, 4160, 1033, 5000}, 4.f, 0, false});
        cases.push_back({"prefill D64 G8 P16 b6 chunks", true, 64, 16, 2, 16, l, {1, 300, 129, 65, 1999, 4100}, 4.f, 0, false});
    }
    cases.push_back({"prefill D96 G2 P16 b3 (naive only)", true, 96, 4, 2, 16, {1, 54, 97}, {1, 54, 97}, 2.f, 0, true});
    uint64_t seed = 1234;
    for (const Case& c : cases) {
        seed++;
        if (g_small && *std::max_element(c.kvLens.begin(), c.kvLens.end()) > 5000) continue;
        run_case(c, seed);
    }
    printf("== tests: %d passed, %d failed\n", g_pass, g_fail);
}

// ------------------------------------------------------------------------------------------------
// Benchmarks
// ------------------------------------------------------------------------------------------------
__global__ void bench_fill_bf16(unsigned short* p, size_t n, uint64_t seed) {
    for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < n; i += (size_t) gridDim.x * blockDim.x) {
        uint64_t z = (i + seed) * 0x9e3779b97f4a7c15ull;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z ^= z >> 27;
        float f = (float) ((z >> 40) * (1.0 / (1ull << 24))) * 2.f - 1.f;
        p[i] = (unsigned short) (__float_as_uint(f) >> 16);
    }
}

__global__ void bench_read(const uint4* __restrict__ p, size_t n, unsigned* sink) {
    unsigned x = 0;
    size_t stride = (size_t) gridDim.x * blockDim.x;
    size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x;
    for (; i + 3 * stride < n; i += 4 * stride) {
        uint4 a = rkv_ld_stream16(p + i), b = rkv_ld_stream16(p + i + stride);
        uint4 c = rkv_ld_stream16(p + i + 2 * stride), d = rkv_ld_stream16(p + i + 3 * stride);
        x ^= a.x ^ a.y ^ a.z ^ a.w ^ b.x ^ b.y ^ b.z ^ b.w ^ c.x ^ c.y ^ c.z ^ c.w ^ d.x ^ d.y ^ d.z ^ d.w;
    }
    for (; i < n; i += stride) {
        uint4 a = p[i];
        x ^= a.x ^ a.y ^ a.z ^ a.w;
    }
    if (x == 0x12345678u) *sink = x;
}

static float time_ms(const std::function<void()>& f, int iters) {
    cudaEvent_t a, b;
    CK(cudaEventCreate(&a));
    CK(cudaEventCreate(&b));
    for (int i = 0; i < 3; i++) f();
    CK(cudaEventRecord(a));
    for (int i = 0; i < iters; i++) f();
    CK(cudaEventRecord(b));
    CK(cudaEventSynchronize(b));
    CK(cudaGetLastError());
    float ms;
    CK(cudaEventElapsedTime(&ms, a, b));
    CK(cudaEventDestroy(a));
    CK(cudaEventDestroy(b));
    return ms / iters;
}

static void run_bench() {
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    printf("== benchmarks on %s, %d SMs, L2 %d MB\n", prop.name, prop.multiProcessorCount, prop.l2CacheSize >> 20);

    // Ceilings.
    const size_t copyBytes = 1ull << 30;
    void *src, *dst;
    CK(cudaMalloc(&src, copyBytes));
    CK(cudaMalloc(&dst, copyBytes));
    CK(cudaMemset(src, 1, copyBytes));
    float copyMs = time_ms([&]() { CK(cudaMemcpyAsync(dst, src, copyBytes, cudaMemcpyDeviceToDevice)); }, 10);
    double copyBw = 2.0 * copyBytes / (copyMs * 1e-3) / 1e9;
    unsigned* sink;
    CK(cudaMalloc(&sink, 4));
    float readMs = time_ms([&]() {
        bench_read<<<prop.multiProcessorCount * 8, 256>>>((const uint4*) src, copyBytes / 16, sink);
    }, 10);
    double readBw = copyBytes / (readMs * 1e-3) / 1e9;
    printf("  cudaMemcpy D2D 1 GiB: %.1f us, %.0f GB/s (read + written)   read-only kernel 1 GiB: %.1f us, %.0f GB/s\n",
           copyMs * 1e3, copyBw, readMs * 1e3, readBw);
    CK(cudaFree(src));
    CK(cudaFree(dst));

    // Decode: Llama-3.1-8B layer, 32k context, batch 8.
    const int B = 8, L = 32768, Hq = 32, Hkv = 8, D = 128;
    for (int P : {16, 32}) {
        const int nbPerSeq = L / P, numBlocks = B * nbPerSeq, maxBlocks = nbPerSeq;
        const size_t cacheElems = (size_t) numBlocks * 2 * Hkv * P * D;
        unsigned short* cache;
        CK(cudaMalloc(&cache, cacheElems * 2));
        bench_fill_bf16<<<4096, 256>>>(cache, cacheElems, 77);
        std::vector<int> perm(numBlocks);
        for (int i = 0; i < numBlocks; i++) perm[i] = i;
        uint64_t s = 5;
        for (int i = numBlocks - 1; i > 0; i--) std::swap(perm[i], perm[splitmix(s) % (i + 1)]);
        int* dTables = dev_upload(perm);   // [B][maxBlocks] = a random permutation
        std::vector<int> kvLens(B, L);
        int* dKv = dev_upload(kvLens);
        std::vector<float> q((size_t) B * Hq * D);
        fill_random(q, 3, 2.f);
        float* dq = dev_upload(q);
        float* dOut;
        CK(cudaMalloc(&dOut, q.size() * 4));
        float* dWs;
        const size_t wsMax = (size_t) B * Hq * (L / 32) * (D + 2);
        CK(cudaMalloc(&dWs, wsMax * 4));
        const double kvBytes = (double) B * L * Hkv * D * 2 * 2;
        const int GT = 4;
        int hq = Hq, hkv = Hkv, dd = D, p = P, mb = maxBlocks;
        float sc = 1.f / sqrtf((float) D);
        printf("  decode attention, Llama-3.1-8B layer (Hq 32, Hkv 8, D 128, bf16 cache, tokensPerBlock %d), "
               "batch 8 x 32768 keys, random block placement: K+V = %.1f MB\n", P, kvBytes / 1e6);
        auto run_variant = [&](const void* fn, int nwarps, int kvPerSplit, const char* name) {
            int numSplits = (L + kvPerSplit - 1) / kvPerSplit;
            int kps = kvPerSplit, ns = numSplits;
            auto f = [&]() {
                launch(fn, dim3(B, Hkv, numSplits), dim3(nwarps * 32), 0,
                       {&dq, &cache, &dKv, &dTables, &dOut, &dWs, &hq, &hkv, &dd, &p, &mb, &kps, &sc, &kNoWindow});
                if (numSplits > 1)
                    launch((const void*) attention_decode_merge, dim3(B, Hq), dim3(128), 0,
                           {&dWs, &dKv, &dOut, &hq, &dd, &kps, &ns, &kNoWindow});
            };
            float ms = time_ms(f, 20);
            double bw = kvBytes / (ms * 1e-3) / 1e9;
            int perSm = 0;
            CK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&perSm, fn, nwarps * 32, 0));
            printf("    %-40s kvPerSplit %6d (%3d splits, %5d blocks, %d/SM): %7.1f us %6.0f GB/s %5.1f%% of copy %5.1f%% of read\n",
                   name, kvPerSplit, numSplits, B * Hkv * numSplits, perSm, ms * 1e3, bw, 100 * bw / copyBw,
                   100 * bw / readBw);
            return ms;
        };
        const void* def = decode_fast(D, GT);
        for (int kps : {512, 1024, 2048, 4096, 8192}) run_variant(def, 4, kps, "attention_decode_d128_g4");
        run_variant(def, 4, recommended_kv_per_split(def, 128, B, Hkv, 1, L, 1), "attention_decode_d128_g4 (rec, 1 wave)");
        run_variant(def, 4, recommended_kv_per_split(def, 128, B, Hkv, 1, L, 2), "attention_decode_d128_g4 (rec, 2 waves)");
        if (P == 16) {
            for (const DecodeVariant& v : decode_variants()) {
                for (int kps : {2048, 4096}) run_variant(v.fn, v.warps, kps, v.name);
                int rec = recommended_kv_per_split(v.fn, v.warps * 32, B, Hkv, 1, L, 2);
                run_variant(v.fn, v.warps, rec, v.name);
            }
            // the naive kernel, for scale (one iteration is enough to see it)
            float ms = time_ms([&]() {
                launch((const void*) attention_decode_naive, dim3(B, Hq), dim3(32), 0,
                       {&dq, &cache, &dKv, &dTables, &dOut, &hq, &hkv, &dd, &p, &mb, &sc, &kNoWindow});
            }, 1);
            printf("    %-40s %7.1f us %6.0f GB/s (reads K/V G = 4 times)\n", "attention_decode_naive", ms * 1e3,
                   kvBytes / (ms * 1e-3) / 1e9);
            // Other batch sizes and contexts, default kernel, recommended split (2 waves), same cache.
            const int scen[][2] = {{1, 32768}, {1, 4096}, {8, 4096}, {32, 8192}, {64, 1024}, {64, 4096}};
            std::vector<float> qs((size_t) 64 * Hq * D);
            fill_random(qs, 9, 2.f);
            float* dqs = dev_upload(qs);
            float* dOuts;
            CK(cudaMalloc(&dOuts, qs.size() * 4));
            for (const auto& sc2 : scen) {
                const int b = sc2[0], len = sc2[1], mbs = len / P;
                std::vector<int> lens(b, len);
                int* dLens = dev_upload(lens);
                int kps = recommended_kv_per_split(def, 128, b, Hkv, 1, len, 2);
                int ns = (len + kps - 1) / kps;
                int hq2 = Hq, hkv2 = Hkv, dd2 = D, p2 = P, mb2 = mbs;
                float* outp = dOuts;
                const float* qp = dqs;
                auto f = [&]() {
                    launch(def, dim3(b, Hkv, ns), dim3(128), 0,
                           {&qp, &cache, &dLens, &dTables, &outp, &dWs, &hq2, &hkv2, &dd2, &p2, &mb2, &kps, &sc, &kNoWindow});
                    if (ns > 1)
                        launch((const void*) attention_decode_merge, dim3(b, Hq), dim3(128), 0,
                               {&dWs, &dLens, &outp, &hq2, &dd2, &kps, &ns, &kNoWindow});
                };
                float ms = time_ms(f, 20);
                double bytes = (double) b * len * Hkv * D * 2 * 2;
                printf("    scenario batch %2d x %5d keys: kvPerSplit %5d (%3d splits): %7.1f us %6.0f GB/s %5.1f%% of copy\n",
                       b, len, kps, ns, ms * 1e3, bytes / (ms * 1e-3) / 1e9, 100 * bytes / (ms * 1e-3) / 1e9 / copyBw);
                CK(cudaFree(dLens));
            }
            CK(cudaFree(dqs));
            CK(cudaFree(dOuts));
        }
        CK(cudaFree(cache));
        CK(cudaFree(dTables));
        CK(cudaFree(dKv));
        CK(cudaFree(dq));
        CK(cudaFree(dOut));
        CK(cudaFree(dWs));
    }

}

// Prefill: one prompt, Llama-3.1-8B heads (Hq 32, Hkv 8), v2 and v3, beside cuBLAS's bf16 GEMM rate.
static void run_prefill_bench() {
    {
        const int n = 8192;
        __nv_bfloat16 *a, *b, *c;
        CK(cudaMalloc(&a, (size_t) n * n * 2));
        CK(cudaMalloc(&b, (size_t) n * n * 2));
        CK(cudaMalloc(&c, (size_t) n * n * 2));
        bench_fill_bf16<<<4096, 256>>>((unsigned short*) a, (size_t) n * n, 1);
        bench_fill_bf16<<<4096, 256>>>((unsigned short*) b, (size_t) n * n, 2);
        // cuBLAS by dlopen, so the harness builds without the cuBLAS headers: cublasCreate_v2 and cublasGemmEx with
        // the C ABI's enum values (CUBLAS_OP_N 0, CUDA_R_16BF 14, CUBLAS_COMPUTE_32F 68, CUBLAS_GEMM_DEFAULT -1).
        void* lib = dlopen("libcublas.so.13", RTLD_NOW);
        if (!lib) lib = dlopen("libcublas.so.12", RTLD_NOW);
        typedef int (*CreateFn)(void**);
        typedef int (*DestroyFn)(void*);
        typedef int (*GemmFn)(void*, int, int, int, int, int, const void*, const void*, int, int, const void*, int, int,
                              const void*, void*, int, int, int, int);
        CreateFn create = lib ? (CreateFn) dlsym(lib, "cublasCreate_v2") : nullptr;
        DestroyFn destroy = lib ? (DestroyFn) dlsym(lib, "cublasDestroy_v2") : nullptr;
        GemmFn gemm = lib ? (GemmFn) dlsym(lib, "cublasGemmEx") : nullptr;
        void* h = nullptr;
        if (create && gemm && destroy && create(&h) == 0) {
            const float one = 1.f, zero = 0.f;
            float ms = time_ms([&]() { gemm(h, 0, 0, n, n, n, &one, a, 14, n, b, 14, n, &zero, c, 14, n, 68, -1); }, 20);
            printf("  ceiling: cuBLAS bf16 GEMM %d^3 (fp32 accumulate): %.1f TFLOP/s\n", n,
                   2.0 * n * n * n / (ms * 1e-3) / 1e12);
            destroy(h);
        } else {
            printf("  ceiling: cuBLAS not found (libcublas.so.13 / .12); no GEMM rate\n");
        }
        CK(cudaFree(a));
        CK(cudaFree(b));
        CK(cudaFree(c));
    }
    for (int D : {128, 64}) {
        for (int L : {4096, 16384, 32768, 131072}) {
            if (D == 64 && L != 32768) continue;
            const int P = 16, Hq = 32, Hkv = 8;
            const int nb = L / P;
            const size_t cacheElems = (size_t) nb * 2 * Hkv * P * D;
            unsigned short* cache;
            CK(cudaMalloc(&cache, cacheElems * 2));
            bench_fill_bf16<<<4096, 256>>>(cache, cacheElems, 78);
            std::vector<int> tbl(nb);
            for (int i = 0; i < nb; i++) tbl[i] = i;
            int* dTables = dev_upload(tbl);
            std::vector<int> kvLens = {L}, qStart = {0, L};
            int* dKv = dev_upload(kvLens);
            int* dQs = dev_upload(qStart);
            std::vector<float> q((size_t) L * Hq * D);
            fill_random(q, 4, 2.f);
            float* dq = dev_upload(q);
            float* dOut;
            CK(cudaMalloc(&dOut, q.size() * 4));
            int hq = Hq, hkv = Hkv, dd = D, p = P, mb = nb;
            float sc = 1.f / sqrtf((float) D);
            std::vector<void*> args = {&dq, &cache, &dQs, &dKv, &dTables, &dOut, &hq, &hkv, &dd, &p, &mb, &sc, &kNoWindow};
            double flops = 4.0 * D * Hq * ((double) L * (L + 1) / 2);   // QK^T and PV over the causal half
            int iters = L >= 65536 ? 2 : L > 8192 ? 5 : 20;
            printf("  prefill D%d, 1 x %6d tokens, Hq 32, Hkv 8:", D, L);
            for (const MmaVariant& v : mma_variants()) {
                if (v.D != D) continue;
                float ms3 = time_ms([&]() { launch_variant(v, Hq, L, 1, args); }, iters);
                printf(" | %s %.2f ms %.1f TFLOP/s", v.name, ms3, flops / (ms3 * 1e-3) / 1e12);
            }
            if (L <= 16384) {
                size_t smem = prefill_smem(D);
                CK(cudaFuncSetAttribute(prefill_fast(D), cudaFuncAttributeMaxDynamicSharedMemorySize, (int) smem));
                float ms2 = time_ms([&]() {
                    launch(prefill_fast(D), dim3((L + 63) / 64, Hq, 1), dim3(128), smem, args);
                }, L > 8192 ? 2 : 10);
                printf(" | v2 attention_prefill_d%d %8.2f ms %6.1f TFLOP/s", D, ms2, flops / (ms2 * 1e-3) / 1e12);
            }
            printf("\n");
            CK(cudaFree(cache));
            CK(cudaFree(dTables));
            CK(cudaFree(dKv));
            CK(cudaFree(dQs));
            CK(cudaFree(dq));
            CK(cudaFree(dOut));
        }
    }
}

int main(int argc, char** argv) {
    std::string mode = argc > 1 ? argv[1] : "all";
    int dev = 0;
    CK(cudaSetDevice(dev));
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, dev));
    g_num_sms = prop.multiProcessorCount;
    printf("device %s (sm_%d%d, %d SMs)\n", prop.name, prop.major, prop.minor, prop.multiProcessorCount);
    printf("prefill smem bytes: d16 %zu, d32 %zu, d64 %zu, d128 %zu\n", prefill_smem(16), prefill_smem(32),
           prefill_smem(64), prefill_smem(128));
    g_small = mode == "small";
    if (mode == "all" || mode == "test" || mode == "small") run_tests();
    if (mode == "all" || mode == "bench") run_bench();
    if (mode == "all" || mode == "bench" || mode == "prefill") run_prefill_bench();
    return g_fail == 0 ? 0 : 1;
}
