// rocket_stage1_test.cu: standalone bit-identity test and benchmark of rocket_stage1.cu (v2) against
// v1 (rocket_stage1_v1.cuh, a test-only copy of the kernels at the branch point, renamed v1_*). llm.c
// style: both kernel files are included directly; inputs are seeded (a counter hash, filled on the device).
//
// Build (no GPU needed to build):
//   nvcc -O3 -arch=sm_90 -std=c++17 -o .gpu/rocket_stage1_test rocketkv-cuda/src/test/cuda/rocket_stage1_test.cu
// Run:
//   .gpu/rocket_stage1_test            tests, then benchmarks
//   .gpu/rocket_stage1_test test       tests only
//   .gpu/rocket_stage1_test bench      benchmarks only
//   .gpu/rocket_stage1_test small      tests of the shapes up to 5000 tokens only (e.g. under compute-sanitizer)
//
// Tests: for each shape (L, Hq, Hkv, D, W, B) one sequence (starting at row 3 of q / k, its KV in a
// reversed block table) goes through v1's pipeline and through v2's, with every pass kernel variant
// (rows per chunk 128 / 64 / 32) and both logit modes (stored: pass 0 writes the logits, passes 1 and 2
// read them; recomputed: every pass computes them, v1's way). Each run starts from the same scratch
// pattern and the same cache, and tileMax, tileSum, rowMax, rowInv, score, pooled, kept and the whole
// KV cache after compaction are compared with v1's bit for bit (on the device). Some key rows repeat
// the previous one, so equal scores (ties in the selection) occur.
// Benchmarks: one layer's stage 1 (all launches, as CudaRocketStage1 runs them) at 32k and 128k, v1
// against v2 (each mode; chunk rows 128 and 64), cudaEvent over 20 iterations after 3 warm-ups, and
// v2's time per launch group.
#include "rocket_stage1_v1.cuh"
#include "../../main/cuda/rocket_stage1.cu"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
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
// Device helpers: seeded fills, a byte compare
// ------------------------------------------------------------------------------------------------
static __device__ __forceinline__ uint64_t t_mix(uint64_t z) {
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
__global__ void t_fill_uniform(float* p, size_t n, uint64_t seed, float amp) {   // [-amp, amp)
    for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < n; i += (size_t) gridDim.x * blockDim.x) {
        const uint64_t z = t_mix(seed * 0x100000001b3ull ^ i);
        p[i] = amp * (float) ((z >> 40) * (1.0 / (1ull << 24)) * 2.0 - 1.0);
    }
}
__global__ void t_fill_u16(unsigned short* p, size_t n, uint64_t seed) {   // random bf16 bits
    for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < n; i += (size_t) gridDim.x * blockDim.x) {
        p[i] = (unsigned short) (t_mix(seed * 0x100000001b3ull ^ i) >> 48);
    }
}
// Key rows t with t % 53 == 0 repeat row t - 1 (equal logits, hence equal scores).
__global__ void t_repeat_keys(float* k, int T, int rowLen) {
    for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < (size_t) T * rowLen;
         i += (size_t) gridDim.x * blockDim.x) {
        const int t = (int) (i / rowLen);
        if (t > 0 && t % 53 == 0) k[i] = k[i - rowLen];
    }
}
__global__ void t_compare(const unsigned char* a, const unsigned char* b, size_t n, unsigned long long* diffs,
                          unsigned long long* first) {
    for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < n; i += (size_t) gridDim.x * blockDim.x) {
        if (a[i] != b[i]) {
            atomicAdd(diffs, 1ull);
            atomicMin(first, (unsigned long long) i);
        }
    }
}

static unsigned long long* g_cmp = nullptr;   // [0] diffs, [1] first byte index

// Bytes that differ between two device buffers; *firstByte the first such byte.
static unsigned long long device_diff(const void* a, const void* b, size_t bytes, unsigned long long* firstByte) {
    unsigned long long init[2] = {0ull, ~0ull};
    CK(cudaMemcpy(g_cmp, init, sizeof(init), cudaMemcpyHostToDevice));
    if (bytes > 0) {
        t_compare<<<1024, 256>>>((const unsigned char*) a, (const unsigned char*) b, bytes, g_cmp, g_cmp + 1);
        CK(cudaGetLastError());
    }
    unsigned long long out[2];
    CK(cudaMemcpy(out, g_cmp, sizeof(out), cudaMemcpyDeviceToHost));
    *firstByte = out[1];
    return out[0];
}

// ------------------------------------------------------------------------------------------------
// One shape's inputs and one implementation's outputs
// ------------------------------------------------------------------------------------------------
struct Shape {
    int L, Hq, Hkv, D, W, B;
};

static const int TPB = 16;        // tokens per cache block
static const int START = 3;       // the sequence's first row in q / k
static const int KERNEL_SIZE = 63;

struct Inputs {
    Shape s;
    int T, n, G, R, tiles, numBlocks, nb;
    float scale;
    float* q = nullptr;
    float* k = nullptr;
    unsigned short* cache0 = nullptr;   // the pristine cache
    int* table = nullptr;
    size_t cacheElems = 0;

    explicit Inputs(const Shape& sh) : s(sh) {
        T = START + s.L + 5;
        n = s.L - s.W;
        G = s.Hq / s.Hkv;
        R = G * s.W;
        tiles = (n + S1_TK - 1) / S1_TK;
        nb = (s.L + TPB - 1) / TPB;
        numBlocks = nb + 2;
        scale = (float) (1.0 / sqrt((double) s.D));
        const size_t qn = (size_t) T * s.Hq * s.D, kn = (size_t) T * s.Hkv * s.D;
        cacheElems = (size_t) numBlocks * 2 * s.Hkv * TPB * s.D;
        CK(cudaMalloc(&q, qn * 4));
        CK(cudaMalloc(&k, kn * 4));
        CK(cudaMalloc(&cache0, cacheElems * 2));
        CK(cudaMalloc(&table, nb * 4));
        const uint64_t seed = (uint64_t) s.L * 1000003ull + s.Hq * 101 + s.Hkv * 7 + s.D + s.W * 13 + s.B;
        t_fill_uniform<<<2048, 256>>>(q, qn, seed, 2.0f);
        t_fill_uniform<<<2048, 256>>>(k, kn, seed + 1, 1.0f);
        t_repeat_keys<<<2048, 256>>>(k, T, s.Hkv * s.D);
        t_fill_u16<<<2048, 256>>>(cache0, cacheElems, seed + 2);
        CK(cudaGetLastError());
        std::vector<int> tab(nb);
        for (int i = 0; i < nb; i++) tab[i] = numBlocks - 1 - i;   // reversed, blocks 0 and 1 unused
        CK(cudaMemcpy(table, tab.data(), nb * 4, cudaMemcpyHostToDevice));
        CK(cudaDeviceSynchronize());
    }
    ~Inputs() {
        cudaFree(q);
        cudaFree(k);
        cudaFree(cache0);
        cudaFree(table);
    }
};

struct Outputs {
    float *rowMax, *rowInv, *tileMax, *score, *pooled, *logits = nullptr;
    double* tileSum;
    int* kept;
    unsigned short *kvTmp, *cache;
    size_t rows, tileElems, nElems, keptElems, kvTmpElems, cacheElems, logitElems = 0;

    Outputs(const Inputs& in, bool withLogits) {
        rows = (size_t) in.s.Hkv * in.R;
        tileElems = rows * in.tiles;
        nElems = (size_t) in.s.Hkv * in.n;
        keptElems = (size_t) in.s.Hkv * in.s.B;
        kvTmpElems = keptElems * 2 * in.s.D;
        cacheElems = in.cacheElems;
        CK(cudaMalloc(&rowMax, rows * 4));
        CK(cudaMalloc(&rowInv, rows * 4));
        CK(cudaMalloc(&tileMax, tileElems * 4));
        CK(cudaMalloc(&tileSum, tileElems * 8));
        CK(cudaMalloc(&score, nElems * 4));
        CK(cudaMalloc(&pooled, nElems * 4));
        CK(cudaMalloc(&kept, keptElems * 4));
        CK(cudaMalloc(&kvTmp, kvTmpElems * 2));
        CK(cudaMalloc(&cache, cacheElems * 2));
        if (withLogits) {
            logitElems = rows * in.tiles * S1_TK;
            CK(cudaMalloc(&logits, logitElems * 4));
        }
    }
    // the same starting state for every run: scratch 0xA5 bytes, the pristine cache
    void reset(const Inputs& in) {
        CK(cudaMemset(rowMax, 0xA5, rows * 4));
        CK(cudaMemset(rowInv, 0xA5, rows * 4));
        CK(cudaMemset(tileMax, 0xA5, tileElems * 4));
        CK(cudaMemset(tileSum, 0xA5, tileElems * 8));
        CK(cudaMemset(score, 0xA5, nElems * 4));
        CK(cudaMemset(pooled, 0xA5, nElems * 4));
        CK(cudaMemset(kept, 0xA5, keptElems * 4));
        CK(cudaMemset(kvTmp, 0xA5, kvTmpElems * 2));
        CK(cudaMemcpy(cache, in.cache0, cacheElems * 2, cudaMemcpyDeviceToDevice));
    }
    ~Outputs() {
        cudaFree(rowMax);
        cudaFree(rowInv);
        cudaFree(tileMax);
        cudaFree(tileSum);
        cudaFree(score);
        cudaFree(pooled);
        cudaFree(kept);
        cudaFree(kvTmp);
        cudaFree(cache);
        cudaFree(logits);
    }
};

// ------------------------------------------------------------------------------------------------
// The two pipelines (launches as CudaRocketStage1 makes them)
// ------------------------------------------------------------------------------------------------
static int v1_pass_smem(int d) {
    return ((d * (V1S1_TK + 1) + V1S1_RB * d + 1) & ~1) * 4 + V1S1_RB * (V1S1_TK / 32) * 8;
}

static void run_v1(const Inputs& in, Outputs& o) {
    const Shape& s = in.s;
    const int smem = v1_pass_smem(s.D);
    const int rows = s.Hkv * in.R;
    for (int pi = 0; pi < 3; pi++) {
        v1_rocket_stage1_pass<<<dim3(in.tiles, s.Hkv), V1S1_TK, smem>>>(
                in.q, in.k, o.rowMax, o.rowInv, o.tileMax, o.tileSum, o.score, START, s.L, s.W, s.Hq, s.Hkv, s.D,
                in.scale, pi);
        if (pi < 2) {
            v1_rocket_stage1_reduce<<<(rows + 127) / 128, 128>>>(o.tileMax, o.tileSum, o.rowMax, o.rowInv, rows,
                                                                in.tiles, pi);
        }
    }
    v1_rocket_stage1_pool<<<dim3((in.n + 255) / 256, s.Hkv), 256>>>(o.score, o.pooled, in.n, KERNEL_SIZE / 2);
    v1_rocket_stage1_select<<<s.Hkv, 1024>>>(o.pooled, o.kept, in.n, s.B, s.W);
    v1_rocket_stage1_gather<<<dim3(s.B, s.Hkv), 64>>>(o.cache, o.kept, in.table, o.kvTmp, s.B, s.Hkv, s.D, TPB);
    v1_rocket_stage1_scatter<<<dim3(s.B, s.Hkv), 64>>>(o.cache, in.table, o.kvTmp, s.B, s.Hkv, s.D, TPB);
}

typedef void (*PassFn)(const float*, const float*, const float*, const float*, float*, double*, float*, float*,
                       int, int, int, int, int, int, float, int);

struct Variant {
    int bm;          // rows per chunk: 128, 64, 32
    bool stored;     // logits stored by pass 0 (else recomputed by every pass)
};

static PassFn pass_fn(int bm) {
    return bm == 128 ? rocket_stage1_pass : bm == 64 ? rocket_stage1_pass_r64 : rocket_stage1_pass_r32;
}
static int smem_compute(int bm) {
    return bm == 128 ? S1_SMEM_COMPUTE(128) : bm == 64 ? S1_SMEM_COMPUTE(64) : S1_SMEM_COMPUTE(32);
}
static int smem_tile(int bm) {
    return bm == 128 ? S1_SMEM_TILE(128) : bm == 64 ? S1_SMEM_TILE(64) : S1_SMEM_TILE(32);
}
// CudaRocketStage1.selectSharedBytes: the pooled scores in shared memory when they fit 192 KiB.
static int select_smem(int n) {
    return 4ll * n <= 192 * 1024 ? 4 * n : 0;
}
// The variant CudaRocketStage1 picks for R rows.
static int auto_bm(int R) {
    return R > 64 ? 128 : R > 32 ? 64 : 32;
}

// events[0 .. 6]: optional marks after passes+reduces 0, 1, 2, pool, select, gather+scatter (timing)
static void run_v2(const Inputs& in, Outputs& o, Variant v, cudaEvent_t* marks = nullptr) {
    const Shape& s = in.s;
    const int rows = s.Hkv * in.R;
    PassFn pass = pass_fn(v.bm);
    float* logits = v.stored ? o.logits : nullptr;
    if (marks) CK(cudaEventRecord(marks[0]));
    for (int pi = 0; pi < 3; pi++) {
        const int smem = pi > 0 && logits != nullptr ? smem_tile(v.bm) : smem_compute(v.bm);
        pass<<<dim3(in.tiles, s.Hkv), S1_THREADS, smem>>>(in.q, in.k, o.rowMax, o.rowInv, o.tileMax, o.tileSum,
                                                          o.score, logits, START, s.L, s.W, s.Hq, s.Hkv, s.D,
                                                          in.scale, pi);
        if (pi < 2) {
            rocket_stage1_reduce<<<(rows + 127) / 128, 128>>>(o.tileMax, o.tileSum, o.rowMax, o.rowInv, rows,
                                                             in.tiles, pi);
        }
        if (marks) CK(cudaEventRecord(marks[1 + pi]));
    }
    rocket_stage1_pool<<<dim3((in.n + 255) / 256, s.Hkv), 256>>>(o.score, o.pooled, in.n, KERNEL_SIZE / 2);
    if (marks) CK(cudaEventRecord(marks[4]));
    rocket_stage1_select<<<s.Hkv, 1024, select_smem(in.n)>>>(o.pooled, o.kept, in.n, s.B, s.W);
    if (marks) CK(cudaEventRecord(marks[5]));
    rocket_stage1_gather<<<dim3(s.B, s.Hkv), 64>>>(o.cache, o.kept, in.table, o.kvTmp, s.B, s.Hkv, s.D, TPB);
    rocket_stage1_scatter<<<dim3(s.B, s.Hkv), 64>>>(o.cache, in.table, o.kvTmp, s.B, s.Hkv, s.D, TPB);
    if (marks) CK(cudaEventRecord(marks[6]));
}

static void set_smem_attributes() {
    CK(cudaFuncSetAttribute(v1_rocket_stage1_pass, cudaFuncAttributeMaxDynamicSharedMemorySize, v1_pass_smem(256)));
    CK(cudaFuncSetAttribute(rocket_stage1_pass, cudaFuncAttributeMaxDynamicSharedMemorySize, S1_SMEM_COMPUTE(128)));
    CK(cudaFuncSetAttribute(rocket_stage1_pass_r64, cudaFuncAttributeMaxDynamicSharedMemorySize,
                            S1_SMEM_COMPUTE(64)));
    CK(cudaFuncSetAttribute(rocket_stage1_pass_r32, cudaFuncAttributeMaxDynamicSharedMemorySize,
                            S1_SMEM_COMPUTE(32)));
    CK(cudaFuncSetAttribute(rocket_stage1_select, cudaFuncAttributeMaxDynamicSharedMemorySize, 192 * 1024));
}

// ------------------------------------------------------------------------------------------------
// Tests
// ------------------------------------------------------------------------------------------------
static bool compare_one(const char* what, const void* a, const void* b, size_t bytes, size_t elemBytes) {
    unsigned long long first;
    const unsigned long long d = device_diff(a, b, bytes, &first);
    if (d == 0) return true;
    const size_t e = (size_t) (first / elemBytes);
    unsigned long long va = 0, vb = 0;
    CK(cudaMemcpy(&va, (const char*) a + e * elemBytes, elemBytes, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(&vb, (const char*) b + e * elemBytes, elemBytes, cudaMemcpyDeviceToHost));
    printf("      %-8s %llu bytes differ, first at element %zu: v1 0x%llx, v2 0x%llx\n", what, d, e, va, vb);
    return false;
}

static bool compare(const Outputs& a, const Outputs& b) {
    bool ok = true;
    ok &= compare_one("tileMax", a.tileMax, b.tileMax, a.tileElems * 4, 4);
    ok &= compare_one("tileSum", a.tileSum, b.tileSum, a.tileElems * 8, 8);
    ok &= compare_one("rowMax", a.rowMax, b.rowMax, a.rows * 4, 4);
    ok &= compare_one("rowInv", a.rowInv, b.rowInv, a.rows * 4, 4);
    ok &= compare_one("score", a.score, b.score, a.nElems * 4, 4);
    ok &= compare_one("pooled", a.pooled, b.pooled, a.nElems * 4, 4);
    ok &= compare_one("kept", a.kept, b.kept, a.keptElems * 4, 4);
    ok &= compare_one("cache", a.cache, b.cache, a.cacheElems * 2, 2);
    return ok;
}

static int run_tests(bool smallOnly) {
    const Shape shapes[] = {
        {32768, 32, 8, 128, 32, 2048},   // Llama-3.1-8B, 32k
        {131072, 32, 8, 128, 32, 2048},  // 128k
        {4097, 32, 8, 128, 32, 1024},    // odd length: a 97-key last tile
        {1000, 8, 8, 64, 16, 256},       // G = 1, R = 16
        {300, 12, 4, 64, 32, 128},       // R = 96 (a part chunk at 128 rows)
        {2000, 16, 8, 128, 32, 512},     // R = 64
        {3001, 32, 4, 128, 32, 512},     // R = 256: several chunks
        {777, 8, 4, 72, 8, 200},         // D = 72: a part channel stage; R = 16
        {1500, 4, 2, 100, 24, 300},      // D = 100 (not a multiple of 8), R = 48
    };
    int fails = 0, runs = 0;
    for (const Shape& s : shapes) {
        if (smallOnly && s.L > 5000) continue;
        Inputs in(s);
        Outputs ref(in, false);
        Outputs out(in, true);
        ref.reset(in);
        run_v1(in, ref);
        CK(cudaGetLastError());
        CK(cudaDeviceSynchronize());
        printf("shape L=%d Hq=%d Hkv=%d D=%d W=%d B=%d (n=%d, R=%d, tiles=%d)\n", s.L, s.Hq, s.Hkv, s.D, s.W, s.B,
               in.n, in.R, in.tiles);
        for (int bm : {128, 64, 32}) {
            for (bool stored : {true, false}) {
                out.reset(in);
                run_v2(in, out, Variant{bm, stored});
                CK(cudaGetLastError());
                CK(cudaDeviceSynchronize());
                const bool ok = compare(ref, out);
                runs++;
                if (!ok) fails++;
                printf("  %s  rows/chunk %3d, logits %s%s\n", ok ? "PASS" : "FAIL", bm,
                       stored ? "stored    " : "recomputed", bm == auto_bm(in.R) ? "  (the variant Java uses)" : "");
            }
        }
    }
    printf("%s: %d of %d runs bit-identical to v1\n", fails ? "FAIL" : "PASS", runs - fails, runs);
    return fails;
}

// ------------------------------------------------------------------------------------------------
// Benchmarks
// ------------------------------------------------------------------------------------------------
static const int WARMUP = 3, ITERS = 20;

template <class F>
static float time_ms(F f) {
    cudaEvent_t a, b;
    CK(cudaEventCreate(&a));
    CK(cudaEventCreate(&b));
    for (int i = 0; i < WARMUP; i++) f();
    CK(cudaEventRecord(a));
    for (int i = 0; i < ITERS; i++) f();
    CK(cudaEventRecord(b));
    CK(cudaEventSynchronize(b));
    CK(cudaGetLastError());
    float ms;
    CK(cudaEventElapsedTime(&ms, a, b));
    CK(cudaEventDestroy(a));
    CK(cudaEventDestroy(b));
    return ms / ITERS;
}

static void run_bench() {
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    printf("\nbenchmarks on %s (%d SMs), ms per layer (one sequence, all launches), mean of %d after %d warm-ups\n",
           prop.name, prop.multiProcessorCount, ITERS, WARMUP);
    const Shape shapes[] = {{32768, 32, 8, 128, 32, 2048}, {131072, 32, 8, 128, 32, 2048}};
    for (const Shape& s : shapes) {
        Inputs in(s);
        Outputs ref(in, false);
        Outputs out(in, true);
        ref.reset(in);
        out.reset(in);
        const double macs = (double) s.Hkv * in.R * in.n * s.D;   // one logit pass
        printf("L=%d Hq=%d Hkv=%d D=%d W=%d B=%d: one logit pass = %.2f G multiply-adds (fp32, no FMA: %.2f G"
               " instructions); stored logits %.0f MB\n", s.L, s.Hq, s.Hkv, s.D, s.W, s.B, macs * 1e-9,
               2 * macs * 1e-9, out.logitElems * 4e-6);
        const float t1 = time_ms([&] { run_v1(in, ref); });
        printf("  v1                                  %8.3f ms\n", t1);
        for (Variant v : {Variant{128, true}, Variant{128, false}, Variant{64, true}, Variant{64, false}}) {
            const float t2 = time_ms([&] { run_v2(in, out, v); });
            printf("  v2 rows/chunk %3d, logits %s  %8.3f ms  (%.2fx)\n", v.bm, v.stored ? "stored    " : "recomputed",
                   t2, t1 / t2);
        }
        // v2 (the Java variant, stored) per launch group
        cudaEvent_t marks[7];
        for (auto& e : marks) CK(cudaEventCreate(&e));
        const char* names[6] = {"pass 0 + reduce", "pass 1 + reduce", "pass 2", "pool", "select", "gather+scatter"};
        double sum[6] = {0};
        const Variant v{auto_bm(in.R), true};
        for (int i = 0; i < WARMUP; i++) run_v2(in, out, v);
        for (int i = 0; i < ITERS; i++) {
            run_v2(in, out, v, marks);
            CK(cudaEventSynchronize(marks[6]));
            for (int j = 0; j < 6; j++) {
                float ms;
                CK(cudaEventElapsedTime(&ms, marks[j], marks[j + 1]));
                sum[j] += ms;
            }
        }
        printf("  v2 (rows/chunk %d, stored) by launch group:", v.bm);
        for (int j = 0; j < 6; j++) printf("  %s %.3f", names[j], sum[j] / ITERS);
        printf(" ms\n");
        const double p0 = sum[0] / ITERS;
        printf("  pass 0: %.1f T fp32 instructions/s (FMUL + FADD)\n", 2 * macs / (p0 * 1e-3) * 1e-12);
        for (auto& e : marks) CK(cudaEventDestroy(e));
    }
}

int main(int argc, char** argv) {
    const std::string mode = argc > 1 ? argv[1] : "all";
    CK(cudaMalloc(&g_cmp, 2 * sizeof(unsigned long long)));
    set_smem_attributes();
    int fails = 0;
    if (mode == "all" || mode == "test" || mode == "small") fails = run_tests(mode == "small");
    if (mode == "all" || mode == "bench") run_bench();
    cudaFree(g_cmp);
    return fails ? 1 : 0;
}
