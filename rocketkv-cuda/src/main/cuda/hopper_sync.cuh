// hopper_sync.cuh: the synchronisation a warp-specialised Hopper kernel needs (sm_90): shared-memory
// mbarriers (init, arrive, cp.async-tracked arrive, parity wait), named barriers between warpgroups, and
// warpgroup register reallocation (setmaxnreg, sm_90a). Used by prefill_wgmma_ws.cuh.
//
// mbarrier phases: a fresh barrier is in phase 0; wait(bar, parity) returns once the phase with that parity
// has completed, so wait(bar, 1) on a fresh barrier returns at once (the "previous" phase counts as done).
// A producer that fills stage s for the n-th time (n = 0, 1, ...) waits on the stage's "empty" barrier with
// parity (n & 1) ^ 1; a consumer waits on its "full" barrier with parity n & 1.
#pragma once

#include <stdint.h>

namespace rkv_sync {

static __device__ __forceinline__ void mbar_init(uint32_t bar, uint32_t count) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}

// Makes the initialised barriers visible before any thread uses them (follow with __syncthreads).
static __device__ __forceinline__ void mbar_fence_init() {
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
}

static __device__ __forceinline__ void mbar_arrive(uint32_t bar) {
    asm volatile("{\n.reg .b64 state;\nmbarrier.arrive.shared::cta.b64 state, [%0];\n}\n" ::"r"(bar) : "memory");
}

// One arrival on bar once every cp.async this thread issued before it has landed (the arrival is counted in
// the barrier's init count: noinc).
static __device__ __forceinline__ void mbar_arrive_cp_async(uint32_t bar) {
    asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];\n" ::"r"(bar) : "memory");
}

static __device__ __forceinline__ bool mbar_try_wait(uint32_t bar, uint32_t parity) {
    uint32_t done;
    asm volatile(
            "{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
            : "=r"(done)
            : "r"(bar), "r"(parity)
            : "memory");
    return done != 0;
}

static __device__ __forceinline__ void mbar_wait(uint32_t bar, uint32_t parity) {
    while (!mbar_try_wait(bar, parity)) {
    }
}

// Named barrier `id` (1..15; 0 is __syncthreads) over `count` threads: sync waits, arrive does not.
static __device__ __forceinline__ void bar_sync(int id, int count) {
    asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(count) : "memory");
}
static __device__ __forceinline__ void bar_arrive(int id, int count) {
    asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(count) : "memory");
}

// Warpgroup register reallocation (every warp of the warpgroup executes it).
template <int N>
static __device__ __forceinline__ void regs_dec() {
    asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(N));
}
template <int N>
static __device__ __forceinline__ void regs_inc() {
    asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(N));
}

}  // namespace rkv_sync
