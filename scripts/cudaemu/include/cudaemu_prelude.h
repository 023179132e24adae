// cudaemu_prelude.h is force-included (g++ -include) when kernels.cu is
// compiled as C++ for the CPU emulation: it supplies CUDA C's keywords,
// built-in variables and the intrinsics kernels.cu uses, on top of the
// fiber runtime of cudaemu_rt.h. Every CUDA thread of a block is a fiber;
// __syncthreads and the warp collectives are barriers between fibers.
#pragma once

#include <algorithm>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "cudaemu_rt.h"
#include "vector_types.h"
#include "cuda_fp16.h"

// Keywords. __shared__ is static storage (blocks run one at a time) in a
// section of its own, which the runtime fills with 0xff bytes (NaN) before
// each block: shared memory is uninitialized on the GPU. (extern
// __shared__ arrays are rewritten by build.sh to dyn_smem.)
#ifndef CUDAEMU_SCAN
#define __global__
#endif
#define __device__
#define __host__
#define __noinline__ __attribute__((noinline))
#define __forceinline__ inline
#define __shared__ static __attribute__((section("cudaemu_shared")))
#define __constant__
#define __managed__
#define __align__(n) __attribute__((aligned(n)))
#define __launch_bounds__(...)
#define __grid_constant__

// Built-in variables.
#define threadIdx (::cudaemu::cur->tid)
#define blockIdx (::cudaemu::grid_blockIdx)
#define blockDim (::cudaemu::grid_blockDim)
#define gridDim (::cudaemu::grid_gridDim)
#define warpSize 32

// Barriers and fences (one OS thread: fences are no-ops).
inline void __syncthreads() { ::cudaemu::syncthreads(); }
inline int __syncthreads_count(int p) {
  static int n;
  ::cudaemu::syncthreads();
  if (threadIdx.x + threadIdx.y + threadIdx.z == 0) n = 0;
  ::cudaemu::syncthreads();
  if (p) n++;
  ::cudaemu::syncthreads();
  int r = n;
  ::cudaemu::syncthreads();
  return r;
}
inline int __syncthreads_or(int p) { return __syncthreads_count(p) != 0; }
inline int __syncthreads_and(int p) {
  return __syncthreads_count(p) == (int)(blockDim.x * blockDim.y * blockDim.z);
}
inline void __syncwarp(unsigned mask = 0xffffffffu) { ::cudaemu::warp_sync(mask); }
inline void __threadfence() {}
inline void __threadfence_block() {}
inline void __threadfence_system() {}
inline unsigned __activemask() { return ::cudaemu::warp_live(); }

// Warp collectives: every live lane stores its value, waits, reads its
// source lane, waits again (the buffer is reused by the next collective).
namespace cudaemu {
template <class T>
T shfl(unsigned mask, T v, int src, int lane) {
  static_assert(sizeof(T) <= 8, "cudaemu: shuffle of a type wider than 8 bytes");
  uint64_t* s = warp_slots();
  std::memcpy(&s[lane], &v, sizeof(T));
  warp_sync(mask);
  T r = v;
  if (src >= 0 && src < 32 && ((warp_live() >> src) & 1)) std::memcpy(&r, &s[src], sizeof(T));
  warp_sync(mask);
  return r;
}
inline unsigned vote(unsigned mask, bool p) {
  uint64_t* s = warp_slots();
  int lane = cur->lane;
  s[lane] = p;
  warp_sync(mask);
  unsigned m = 0, live = warp_live() & mask;
  for (int i = 0; i < 32; i++)
    if (((live >> i) & 1) && s[i]) m |= 1u << i;
  warp_sync(mask);
  return m;
}
}  // namespace cudaemu

template <class T>
T __shfl_sync(unsigned mask, T v, int src, int width = 32) {
  int lane = ::cudaemu::cur->lane;
  return ::cudaemu::shfl(mask, v, (lane & ~(width - 1)) + (src & (width - 1)), lane);
}
template <class T>
T __shfl_xor_sync(unsigned mask, T v, int lanemask, int width = 32) {
  int lane = ::cudaemu::cur->lane, src = lane ^ lanemask;
  if ((src & ~(width - 1)) != (lane & ~(width - 1))) src = lane;
  return ::cudaemu::shfl(mask, v, src, lane);
}
template <class T>
T __shfl_down_sync(unsigned mask, T v, unsigned d, int width = 32) {
  int lane = ::cudaemu::cur->lane, src = lane + (int)d;
  if ((src & ~(width - 1)) != (lane & ~(width - 1))) src = lane;
  return ::cudaemu::shfl(mask, v, src, lane);
}
template <class T>
T __shfl_up_sync(unsigned mask, T v, unsigned d, int width = 32) {
  int lane = ::cudaemu::cur->lane, src = lane - (int)d;
  if (src < (lane & ~(width - 1))) src = lane;
  return ::cudaemu::shfl(mask, v, src, lane);
}
inline unsigned __ballot_sync(unsigned mask, int p) { return ::cudaemu::vote(mask, p != 0); }
inline int __any_sync(unsigned mask, int p) { return ::cudaemu::vote(mask, p != 0) != 0; }
inline int __all_sync(unsigned mask, int p) {
  return ::cudaemu::vote(mask, p != 0) == (::cudaemu::warp_live() & mask);
}

// Atomics: fibers switch only at barriers, so plain read-modify-write is atomic.
template <class T>
T atomicAdd(T* p, T v) { T o = *p; *p = o + v; return o; }
template <class T>
T atomicSub(T* p, T v) { T o = *p; *p = o - v; return o; }
template <class T>
T atomicExch(T* p, T v) { T o = *p; *p = v; return o; }
template <class T>
T atomicMax(T* p, T v) { T o = *p; *p = o > v ? o : v; return o; }
template <class T>
T atomicMin(T* p, T v) { T o = *p; *p = o < v ? o : v; return o; }
template <class T>
T atomicAnd(T* p, T v) { T o = *p; *p = o & v; return o; }
template <class T>
T atomicOr(T* p, T v) { T o = *p; *p = o | v; return o; }
template <class T>
T atomicCAS(T* p, T cmp, T v) { T o = *p; if (o == cmp) *p = v; return o; }

// Math: CUDA's overloaded min/max and the fast-math intrinsics.
template <class A, class B>
inline std::common_type_t<A, B> min(A a, B b) { return b < a ? b : a; }
template <class A, class B>
inline std::common_type_t<A, B> max(A a, B b) { return a < b ? b : a; }
inline float rsqrtf(float x) { return 1.f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __powf(float x, float y) { return powf(x, y); }
inline float __fdividef(float x, float y) { return x / y; }
inline float __frcp_rn(float x) { return 1.f / x; }
inline float __fsqrt_rn(float x) { return sqrtf(x); }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __saturatef(float x) { return x < 0.f ? 0.f : (x > 1.f ? 1.f : x); }
inline int __float_as_int(float f) { int i; std::memcpy(&i, &f, 4); return i; }
inline unsigned __float_as_uint(float f) { unsigned i; std::memcpy(&i, &f, 4); return i; }
inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
inline float __uint_as_float(unsigned i) { float f; std::memcpy(&f, &i, 4); return f; }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x ? __builtin_clz((unsigned)x) : 32; }
inline int __ffs(int x) { return __builtin_ffs(x); }
template <class T>
inline T __ldg(const T* p) { return *p; }
inline int __mulhi(int a, int b) { return (int)(((long long)a * b) >> 32); }
inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((unsigned long long)a * b) >> 32); }
inline long long __mul64hi(long long a, long long b) { return (long long)(((__int128)a * b) >> 64); }
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
  return (unsigned long long)(((unsigned __int128)a * b) >> 64);
}
inline unsigned __brev(unsigned x) {
  unsigned r = 0;
  for (int i = 0; i < 32; i++) r |= ((x >> i) & 1u) << (31 - i);
  return r;
}
