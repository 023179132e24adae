// kernels.cu: the CUDA C kernels of the GPT-2 forward pass on the GPU.
//
// Compiled to PTX (kernels.ptx, committed, embedded with go:embed) by
// `go generate ./model/cuda` (see gen.go for the nvcc command). Every
// kernel is extern "C" so the Go side finds it by name; plan.go builds
// each launch (grid, block, shared memory, arguments) and is the only
// caller. Shapes use the legend of model/doc.go: B batch, T new positions,
// N = B*T rows, P cached positions (read from the device counter *pos),
// C n_embd, NH heads, HS = C/NH, F MLP width, V vocab, maxT session capacity.
//
// Layouts (row-major, last dim contiguous):
//
//	x, xn, y    [N, C]          float32 activations
//	qkv         [N, 3C]         q | k | v per row
//	h           [N, F]
//	logits      [N or B, V]
//	k/v cache   [B, maxT, C]    one layer (the Go side offsets by layer)
//	weights     [out, in]       float32 or half; HF Conv1D transposed at load
//
// Linear kernels share an epilogue: out = act(x·Wᵀ + b), act by mode:
// 0 store, 1 gelu (tanh), 2 gelu (erf), 3 residual (out += x·Wᵀ + b).

#include <cuda_fp16.h>
#include <mma.h>
#include <stdint.h>

#define EPI_STORE 0
#define EPI_GELU_TANH 1
#define EPI_GELU_ERF 2
#define EPI_ADD 3

__device__ __forceinline__ float gelu_tanh(float v) {
  const float s = 0.7978845608028654f;  // sqrt(2/pi)
  float u = s * (v + 0.044715f * v * v * v);
  return 0.5f * v * (1.f + tanhf(u));
}

__device__ __forceinline__ float gelu_erf(float v) {
  return 0.5f * v * (1.f + erff(v * 0.7071067811865476f));
}

// epilogue writes act(v) (or out += v) at out[i].
__device__ __forceinline__ void epilogue(float* out, size_t i, float v, int mode) {
  switch (mode) {
    case EPI_GELU_TANH: v = gelu_tanh(v); break;
    case EPI_GELU_ERF: v = gelu_erf(v); break;
    case EPI_ADD: v += out[i]; break;
    default: break;
  }
  out[i] = v;
}

__device__ __forceinline__ float tofloat(float v) { return v; }
__device__ __forceinline__ float tofloat(__half v) { return __half2float(v); }

// load8 reads 8 consecutive values (16-byte aligned for half, 32 for float).
__device__ __forceinline__ void load8(const float* __restrict__ p, float w[8]) {
  float4 a = *reinterpret_cast<const float4*>(p);
  float4 b = *reinterpret_cast<const float4*>(p + 4);
  w[0] = a.x; w[1] = a.y; w[2] = a.z; w[3] = a.w;
  w[4] = b.x; w[5] = b.y; w[6] = b.z; w[7] = b.w;
}

__device__ __forceinline__ void load8(const __half* __restrict__ p, float w[8]) {
  uint4 u = *reinterpret_cast<const uint4*>(p);
  const __half2* h = reinterpret_cast<const __half2*>(&u);
#pragma unroll
  for (int i = 0; i < 4; i++) {
    float2 f = __half22float2(h[i]);
    w[2 * i] = f.x;
    w[2 * i + 1] = f.y;
  }
}

// load4 reads 4 consecutive values (8-byte aligned for half, 16 for float).
__device__ __forceinline__ float4 load4(const float* __restrict__ p) {
  return *reinterpret_cast<const float4*>(p);
}

__device__ __forceinline__ float4 load4(const __half* __restrict__ p) {
  uint2 u = *reinterpret_cast<const uint2*>(p);
  const __half2* h = reinterpret_cast<const __half2*>(&u);
  float2 a = __half22float2(h[0]), b = __half22float2(h[1]);
  return make_float4(a.x, a.y, b.x, b.y);
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// block_sum returns the sum of v over the block to every thread.
// red is 32 floats of shared memory; the block is a multiple of 32 threads.
__device__ __forceinline__ float block_sum(float v, float* red) {
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // red may still be read by an earlier reduction
  if (lane == 0) red[warp] = v;
  __syncthreads();
  v = lane < nw ? red[lane] : 0.f;
  return warp_sum(v);
}

__device__ __forceinline__ float block_max(float v, float* red) {
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) red[warp] = v;
  __syncthreads();
  v = lane < nw ? red[lane] : -INFINITY;
  return warp_max(v);
}

// ---------------------------------------------------------------------------
// embed: x[n] = wte[tok[n]] + wpe[P + t], n = b*T + t.
// grid (N), block 256.
template <typename W>
__device__ __forceinline__ void embed_impl(float* __restrict__ x, const W* __restrict__ wte,
                                           const float* __restrict__ wpe, const int* __restrict__ tok,
                                           const int* __restrict__ pos, int T, int C) {
  int n = blockIdx.x, t = n % T;
  size_t id = (size_t)tok[n];
  size_t p = (size_t)(*pos + t);
  for (int c = threadIdx.x; c < C; c += blockDim.x)
    x[(size_t)n * C + c] = tofloat(wte[id * C + c]) + wpe[p * C + c];
}

extern "C" __global__ void embed_f32(float* x, const float* wte, const float* wpe, const int* tok,
                                     const int* pos, int T, int C) {
  embed_impl<float>(x, wte, wpe, tok, pos, T, C);
}

extern "C" __global__ void embed_f16(float* x, const __half* wte, const float* wpe, const int* tok,
                                     const int* pos, int T, int C) {
  embed_impl<__half>(x, wte, wpe, tok, pos, T, C);
}

// ---------------------------------------------------------------------------
// layernorm: out[r] = (x[r*step+off] - mean) / sqrt(var + eps) * g + b, two
// passes (no E[x²]-E[x]² cancellation), as tensor.LayerNorm.
// grid (rows), block 256. step/off pick rows (1/0 all, T/T-1 last per sequence).
extern "C" __global__ void layernorm(float* __restrict__ out, const float* __restrict__ x,
                                     const float* __restrict__ g, const float* __restrict__ b, int C,
                                     float eps, int step, int off) {
  __shared__ float red[32];
  const float* in = x + (size_t)(blockIdx.x * step + off) * C;
  float* o = out + (size_t)blockIdx.x * C;
  float s = 0.f;
  for (int c = threadIdx.x; c < C; c += blockDim.x) s += in[c];
  float mean = block_sum(s, red) / (float)C;
  float v = 0.f;
  for (int c = threadIdx.x; c < C; c += blockDim.x) {
    float d = in[c] - mean;
    v += d * d;
  }
  float var = block_sum(v, red) / (float)C;
  float rstd = 1.f / sqrtf(var + eps);
  for (int c = threadIdx.x; c < C; c += blockDim.x) o[c] = (in[c] - mean) * rstd * g[c] + b[c];
}

// ---------------------------------------------------------------------------
// gemv: out[n, m] = epi(x[n]·w[m] + bias[m]) for rows n0..n0+NR-1, one warp
// per output m, 8 warps per block: grid (ceil(M/8), ceil(N/NR)), block 256.
// Each lane reads 8 weights (16 or 32 bytes) per step: K % 8 == 0.
template <typename W, int NR>
__device__ __forceinline__ void gemv_impl(float* __restrict__ out, const float* __restrict__ x,
                                          const W* __restrict__ w, const float* __restrict__ bias,
                                          int N, int K, int M, int mode) {
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  int m = blockIdx.x * (blockDim.x >> 5) + warp;
  int n0 = blockIdx.y * NR;
  if (m >= M) return;
  float acc[NR];
#pragma unroll
  for (int r = 0; r < NR; r++) acc[r] = 0.f;
  const W* wr = w + (size_t)m * K;
#pragma unroll 4
  for (int k = lane * 8; k < K; k += 256) {
    float wv[8];
    load8(wr + k, wv);
#pragma unroll
    for (int r = 0; r < NR; r++) {
      if (n0 + r < N) {
        float xv[8];
        load8(x + (size_t)(n0 + r) * K + k, xv);
#pragma unroll
        for (int i = 0; i < 8; i++) acc[r] = fmaf(wv[i], xv[i], acc[r]);
      }
    }
  }
#pragma unroll
  for (int r = 0; r < NR; r++) acc[r] = warp_sum(acc[r]);
  if (lane == 0) {
    float bv = bias ? bias[m] : 0.f;
#pragma unroll
    for (int r = 0; r < NR; r++)
      if (n0 + r < N) epilogue(out, (size_t)(n0 + r) * M + m, acc[r] + bv, mode);
  }
}

#define GEMV(NAME, W, NR)                                                                      \
  extern "C" __global__ void NAME(float* out, const float* x, const W* w, const float* bias, \
                                  int N, int K, int M, int mode) {                            \
    gemv_impl<W, NR>(out, x, w, bias, N, K, M, mode);                                          \
  }
GEMV(gemv_f32_1, float, 1)
GEMV(gemv_f32_2, float, 2)
GEMV(gemv_f32_4, float, 4)
GEMV(gemv_f32_8, float, 8)
GEMV(gemv_f16_1, __half, 1)
GEMV(gemv_f16_2, __half, 2)
GEMV(gemv_f16_4, __half, 4)
GEMV(gemv_f16_8, __half, 8)


// gemv_ln: layer norm fused into the GEMV, for the decode path: out[n, m] =
// epi(ln(x[n*xstep + xoff])·w[m] + bias[m]), ln(v) = (v - mean)/sqrt(var +
// eps)*g + b as the layernorm kernel (two passes). Warp r of the block
// computes the statistics of row n0 + r (NR <= 8 warps), then every warp
// normalizes on the fly. grid (ceil(M/8), ceil(N/NR)), block 256. K % 8 == 0.
template <typename W, int NR>
__device__ __forceinline__ void gemv_ln_impl(float* __restrict__ out, const float* __restrict__ x,
                                             const W* __restrict__ w, const float* __restrict__ bias,
                                             int N, int K, int M, int mode, const float* __restrict__ lg,
                                             const float* __restrict__ lb, float eps, int xstep,
                                             int xoff) {
  __shared__ float mu[NR], rs[NR];
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  int m = blockIdx.x * (blockDim.x >> 5) + warp;
  int n0 = blockIdx.y * NR;
  if (warp < NR && n0 + warp < N) {
    const float* xr = x + ((size_t)(n0 + warp) * xstep + xoff) * K;
    float s = 0.f;
    for (int k = lane; k < K; k += 32) s += xr[k];
    float mean = warp_sum(s) / (float)K;
    float v = 0.f;
    for (int k = lane; k < K; k += 32) {
      float d = xr[k] - mean;
      v += d * d;
    }
    float var = warp_sum(v) / (float)K;
    if (lane == 0) {
      mu[warp] = mean;
      rs[warp] = 1.f / sqrtf(var + eps);
    }
  }
  __syncthreads();
  if (m >= M) return;
  float acc[NR];
#pragma unroll
  for (int r = 0; r < NR; r++) acc[r] = 0.f;
  const W* wr = w + (size_t)m * K;
#pragma unroll 2
  for (int k = lane * 8; k < K; k += 256) {
    float wv[8], gv[8], bv[8];
    load8(wr + k, wv);
    load8(lg + k, gv);
    load8(lb + k, bv);
#pragma unroll
    for (int r = 0; r < NR; r++) {
      if (n0 + r < N) {
        float xv[8];
        load8(x + ((size_t)(n0 + r) * xstep + xoff) * K + k, xv);
        float mean = mu[r], rstd = rs[r];
#pragma unroll
        for (int i = 0; i < 8; i++) acc[r] = fmaf(wv[i], (xv[i] - mean) * rstd * gv[i] + bv[i], acc[r]);
      }
    }
  }
#pragma unroll
  for (int r = 0; r < NR; r++) acc[r] = warp_sum(acc[r]);
  if (lane == 0) {
    float bsv = bias ? bias[m] : 0.f;
#pragma unroll
    for (int r = 0; r < NR; r++)
      if (n0 + r < N) epilogue(out, (size_t)(n0 + r) * M + m, acc[r] + bsv, mode);
  }
}

#define GEMV_LN(NAME, W, NR)                                                                      \
  extern "C" __global__ void NAME(float* out, const float* x, const W* w, const float* bias, int N, \
                                  int K, int M, int mode, const float* lg, const float* lb,         \
                                  float eps, int xstep, int xoff) {                                 \
    gemv_ln_impl<W, NR>(out, x, w, bias, N, K, M, mode, lg, lb, eps, xstep, xoff);                  \
  }
GEMV_LN(gemv_ln_f32_1, float, 1)
GEMV_LN(gemv_ln_f32_2, float, 2)
GEMV_LN(gemv_ln_f32_4, float, 4)
GEMV_LN(gemv_ln_f32_8, float, 8)
GEMV_LN(gemv_ln_f16_1, __half, 1)
GEMV_LN(gemv_ln_f16_2, __half, 2)
GEMV_LN(gemv_ln_f16_4, __half, 4)
GEMV_LN(gemv_ln_f16_8, __half, 8)

// ---------------------------------------------------------------------------
// gemm_simt: the same linear layer for many rows, float32 FMA (exact enough
// for the 1e-3 float32 tolerance). Tile 64 rows of x × 64 rows of w, BK 16;
// 256 threads, 4×4 outputs each. grid (ceil(M/64), ceil(N/64), splits),
// block 256. K % 8 == 0 (a group of 4 is wholly in or out of range).
// Split-K: block z sums k in [z*kchunk, (z+1)*kchunk) (kchunk % 32 == 0);
// with work non-null it stores the raw partial sums to work [splits, N, M]
// and splitk_reduce applies bias and epilogue; else kchunk >= K.
template <typename W>
__device__ __forceinline__ void gemm_simt_impl(float* __restrict__ out, const float* __restrict__ x,
                                               const W* __restrict__ w, const float* __restrict__ bias,
                                               int N, int K, int M, int mode, float* __restrict__ work,
                                               int kchunk) {
  __shared__ float xs[16][64 + 4];  // [k][n]
  __shared__ float ws[16][64 + 4];  // [k][m]
  int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  int n0 = blockIdx.y * 64, m0 = blockIdx.x * 64;
  int lr = tid / 4, lk = (tid % 4) * 4;  // this thread loads row lr, k lk..lk+3
  float acc[4][4];
#pragma unroll
  for (int i = 0; i < 4; i++)
#pragma unroll
    for (int j = 0; j < 4; j++) acc[i][j] = 0.f;
  int kbeg = blockIdx.z * kchunk, kend = min(K, kbeg + kchunk);
  for (int k0 = kbeg; k0 < kend; k0 += 16) {
    int k = k0 + lk;
    float4 xv = make_float4(0.f, 0.f, 0.f, 0.f), wv = make_float4(0.f, 0.f, 0.f, 0.f);
    if (n0 + lr < N && k < kend) xv = load4(x + (size_t)(n0 + lr) * K + k);
    if (m0 + lr < M && k < kend) wv = load4(w + (size_t)(m0 + lr) * K + k);
    xs[lk][lr] = xv.x; xs[lk + 1][lr] = xv.y; xs[lk + 2][lr] = xv.z; xs[lk + 3][lr] = xv.w;
    ws[lk][lr] = wv.x; ws[lk + 1][lr] = wv.y; ws[lk + 2][lr] = wv.z; ws[lk + 3][lr] = wv.w;
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < 16; kk++) {
      float a[4], b[4];
#pragma unroll
      for (int i = 0; i < 4; i++) a[i] = xs[kk][ty * 4 + i];
#pragma unroll
      for (int j = 0; j < 4; j++) b[j] = ws[kk][tx * 4 + j];
#pragma unroll
      for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; i++) {
    int n = n0 + ty * 4 + i;
    if (n >= N) continue;
#pragma unroll
    for (int j = 0; j < 4; j++) {
      int m = m0 + tx * 4 + j;
      if (m >= M) continue;
      if (work)
        work[((size_t)blockIdx.z * N + n) * M + m] = acc[i][j];
      else
        epilogue(out, (size_t)n * M + m, acc[i][j] + (bias ? bias[m] : 0.f), mode);
    }
  }
}

extern "C" __global__ void gemm_simt_f32(float* out, const float* x, const float* w, const float* bias,
                                         int N, int K, int M, int mode, float* work, int kchunk) {
  gemm_simt_impl<float>(out, x, w, bias, N, K, M, mode, work, kchunk);
}

extern "C" __global__ void gemm_simt_f16(float* out, const float* x, const __half* w, const float* bias,
                                         int N, int K, int M, int mode, float* work, int kchunk) {
  gemm_simt_impl<__half>(out, x, w, bias, N, K, M, mode, work, kchunk);
}

// ---------------------------------------------------------------------------
// gemm_wmma_f16: the linear layer on tensor cores: x rounded to half, w half,
// fp32 accumulation (wmma 16×16×16). Tile 64 rows of x × 64 rows of w, BK 32;
// 4 warps, each 32×32. grid (ceil(M/64), ceil(N/64), splits), block 128.
// K % 8 == 0. Split-K as gemm_simt.
extern "C" __global__ void gemm_wmma_f16(float* __restrict__ out, const float* __restrict__ x,
                                         const __half* __restrict__ w, const float* __restrict__ bias,
                                         int N, int K, int M, int mode, float* __restrict__ work,
                                         int kchunk) {
  using namespace nvcuda;
  __shared__ __align__(32) __half as[64][40];  // [n][k], row pad 8: 80-byte rows
  __shared__ __align__(32) __half bs[64][40];  // [m][k]
  __shared__ __align__(32) float cs[64][68];   // [n][m]
  int tid = threadIdx.x, warp = tid >> 5;
  int wy = warp >> 1, wx = warp & 1;
  int n0 = blockIdx.y * 64, m0 = blockIdx.x * 64;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> c[2][2];
#pragma unroll
  for (int i = 0; i < 2; i++)
#pragma unroll
    for (int j = 0; j < 2; j++) wmma::fill_fragment(c[i][j], 0.f);
  int kbeg = blockIdx.z * kchunk, kend = min(K, kbeg + kchunk);
  for (int k0 = kbeg; k0 < kend; k0 += 32) {
    // x tile: 64 rows × 32 k = 512 groups of 4 floats, 4 per thread.
#pragma unroll
    for (int r = 0; r < 4; r++) {
      int idx = tid + r * 128, row = idx >> 3, kq = (idx & 7) * 4, k = k0 + kq;
      float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
      if (n0 + row < N && k < kend) v = *reinterpret_cast<const float4*>(x + (size_t)(n0 + row) * K + k);
      __half2* d = reinterpret_cast<__half2*>(&as[row][kq]);
      d[0] = __floats2half2_rn(v.x, v.y);
      d[1] = __floats2half2_rn(v.z, v.w);
    }
    // w tile: 64 rows × 32 k = 256 groups of 8 halves, 2 per thread.
#pragma unroll
    for (int r = 0; r < 2; r++) {
      int idx = tid + r * 128, row = idx >> 2, kq = (idx & 3) * 8, k = k0 + kq;
      uint4 v = make_uint4(0u, 0u, 0u, 0u);
      if (m0 + row < M && k < kend) v = *reinterpret_cast<const uint4*>(w + (size_t)(m0 + row) * K + k);
      *reinterpret_cast<uint4*>(&bs[row][kq]) = v;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < 32; kk += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> a[2];
      wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> b[2];
#pragma unroll
      for (int i = 0; i < 2; i++) wmma::load_matrix_sync(a[i], &as[wy * 32 + i * 16][kk], 40);
#pragma unroll
      for (int j = 0; j < 2; j++) wmma::load_matrix_sync(b[j], &bs[wx * 32 + j * 16][kk], 40);
#pragma unroll
      for (int i = 0; i < 2; i++)
#pragma unroll
        for (int j = 0; j < 2; j++) wmma::mma_sync(c[i][j], a[i], b[j], c[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 2; i++)
#pragma unroll
    for (int j = 0; j < 2; j++)
      wmma::store_matrix_sync(&cs[wy * 32 + i * 16][wx * 32 + j * 16], c[i][j], 68, wmma::mem_row_major);
  __syncthreads();
  for (int idx = tid; idx < 64 * 64; idx += 128) {
    int row = idx >> 6, col = idx & 63, n = n0 + row, m = m0 + col;
    if (n >= N || m >= M) continue;
    if (work)
      work[((size_t)blockIdx.z * N + n) * M + m] = cs[row][col];
    else
      epilogue(out, (size_t)n * M + m, cs[row][col] + (bias ? bias[m] : 0.f), mode);
  }
}

// splitk_reduce finishes a split-K GEMM: out[n, m] = epi(Σ_z work[z, n, m] +
// bias[m]), summing the splits in order (deterministic). grid
// (ceil(N*M/256)), block 256.
extern "C" __global__ void splitk_reduce(float* __restrict__ out, const float* __restrict__ work,
                                         const float* __restrict__ bias, int N, int M, int splits,
                                         int mode) {
  size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x, NM = (size_t)N * M;
  if (i >= NM) return;
  float s = 0.f;
  for (int z = 0; z < splits; z++) s += work[z * NM + i];
  epilogue(out, i, s + (bias ? bias[i % M] : 0.f), mode);
}

// ---------------------------------------------------------------------------
// store_kv copies the new keys and values of one layer from qkv [N, 3C] into
// the cache [B, maxT, C] at positions P..P+T-1. grid (N), block 256.
extern "C" __global__ void store_kv(float* __restrict__ kc, float* __restrict__ vc,
                                    const float* __restrict__ qkv, const int* __restrict__ pos, int T,
                                    int C, int maxT) {
  int n = blockIdx.x, b = n / T, t = n % T;
  size_t dst = ((size_t)b * maxT + *pos + t) * C;
  const float* row = qkv + (size_t)n * 3 * C;
  for (int c = threadIdx.x; c < C; c += blockDim.x) {
    kc[dst + c] = row[C + c];
    vc[dst + c] = row[2 * C + c];
  }
}

// ---------------------------------------------------------------------------
// attention: causal self-attention of query row (b, h, t) over the cached
// positions 0..P+t of one layer:
//
//	s = q·Kᵀ/√HS, a = softmax(s), y[b*T+t, h*HS:(h+1)*HS] = a·V
//
// attention_serial is the first version: one thread per cached position
// for the scores and HS-wide serial sums for a·V; kept as the reference
// the tests compare attention with. grid (T, NH, B), block 128; shared
// memory (HS + maxT + 32 + 128) floats. HS % 4 == 0 and 128 % HS == 0.
extern "C" __global__ void attention_serial(float* __restrict__ y, const float* __restrict__ qkv,
                                     const float* __restrict__ kc, const float* __restrict__ vc,
                                     const int* __restrict__ pos, int T, int C, int NH, int maxT,
                                     float scale) {
  extern __shared__ float sm[];
  int t = blockIdx.x, h = blockIdx.y, b = blockIdx.z, tid = threadIdx.x;
  int HS = C / NH;
  float* q = sm;              // [HS]
  float* sc = sm + HS;        // [maxT] scores, then probabilities
  float* red = sc + maxT;     // [32]
  float* part = red + 32;     // [blockDim] partial sums of a·V
  int n = *pos + t + 1;       // causal: row t sees positions 0..P+t
  size_t row = (size_t)b * T + t;
  const float* qr = qkv + row * 3 * C + (size_t)h * HS;
  for (int d = tid; d < HS; d += blockDim.x) q[d] = qr[d];
  __syncthreads();
  const float* kb = kc + (size_t)b * maxT * C + (size_t)h * HS;
  const float* vb = vc + (size_t)b * maxT * C + (size_t)h * HS;
  float mx = -INFINITY;
  for (int p = tid; p < n; p += blockDim.x) {
    const float* kr = kb + (size_t)p * C;
    float s = 0.f;
    for (int d = 0; d < HS; d += 4) {
      float4 kv = *reinterpret_cast<const float4*>(kr + d);
      s = fmaf(q[d], kv.x, s);
      s = fmaf(q[d + 1], kv.y, s);
      s = fmaf(q[d + 2], kv.z, s);
      s = fmaf(q[d + 3], kv.w, s);
    }
    s *= scale;
    sc[p] = s;
    mx = fmaxf(mx, s);
  }
  mx = block_max(mx, red);
  float sum = 0.f;
  for (int p = tid; p < n; p += blockDim.x) {
    float e = expf(sc[p] - mx);  // subtract max: stability only
    sc[p] = e;
    sum += e;
  }
  sum = block_sum(sum, red);  // its barriers also publish sc
  int parts = blockDim.x / HS, d = tid % HS, pi = tid / HS;
  float acc = 0.f;
  if (pi < parts)
    for (int p = pi; p < n; p += parts) acc = fmaf(sc[p], vb[(size_t)p * C + d], acc);
  part[tid] = acc;
  __syncthreads();
  if (tid < HS) {
    float s = 0.f;
    for (int i = 0; i < parts; i++) s += part[i * HS + tid];
    y[row * C + (size_t)h * HS + tid] = s / sum;
  }
}


// attention: the same computation with every load 16 bytes wide and
// coalesced. A group of g = HS/4 lanes reads one cached row (a K row for a
// score, shuffle-reduced within the group; a V row for a·V), so a block of
// 256 threads walks 256/g positions per step and many loads are in flight.
// grid (T, NH, B), block 256; shared memory (HS + maxT rounded up to 4 +
// 32 + 1024) floats.
// HS divides 128 (g is a power of two <= 32) and HS % 4 == 0.
extern "C" __global__ void attention(float* __restrict__ y, const float* __restrict__ qkv,
                                     const float* __restrict__ kc, const float* __restrict__ vc,
                                     const int* __restrict__ pos, int T, int C, int NH, int maxT,
                                     float scale) {
  extern __shared__ __align__(16) float sm[];
  int t = blockIdx.x, h = blockIdx.y, b = blockIdx.z, tid = threadIdx.x;
  int HS = C / NH, g = HS / 4, j = tid % g, grp = tid / g, groups = blockDim.x / g;
  float* q = sm;                         // [HS]
  float* sc = sm + HS;                   // [maxT] scores, then exp(score - max)
  float* red = sc + ((maxT + 3) & ~3);   // [32], 16-byte aligned like part
  float* part = red + 32;      // [groups, HS] partial a·V, groups*HS = 4*blockDim
  int n = *pos + t + 1;        // causal: row t sees positions 0..P+t
  size_t row = (size_t)b * T + t;
  const float* qr = qkv + row * 3 * C + (size_t)h * HS;
  for (int d = tid; d < HS; d += blockDim.x) q[d] = qr[d];
  __syncthreads();
  float4 qv = reinterpret_cast<const float4*>(q)[j];
  const float* kb = kc + (size_t)b * maxT * C + (size_t)h * HS + 4 * j;
  const float* vb = vc + (size_t)b * maxT * C + (size_t)h * HS + 4 * j;
  float mx = -INFINITY;
#pragma unroll 4
  for (int base = 0; base < n; base += groups) {  // uniform over the block: shuffles are safe
    int p = base + grp;
    float s = 0.f;
    if (p < n) {
      float4 kv = *reinterpret_cast<const float4*>(kb + (size_t)p * C);
      s = qv.x * kv.x + qv.y * kv.y + qv.z * kv.z + qv.w * kv.w;
    }
    for (int o = g >> 1; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    if (p < n) {
      s *= scale;
      if (j == 0) sc[p] = s;
      mx = fmaxf(mx, s);
    }
  }
  mx = block_max(mx, red);  // its barriers also publish sc
  float sum = 0.f;
  for (int p = tid; p < n; p += blockDim.x) {
    float e = expf(sc[p] - mx);  // subtract max: stability only
    sc[p] = e;
    sum += e;
  }
  sum = block_sum(sum, red);
  float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll 4
  for (int p = grp; p < n; p += groups) {
    float w = sc[p];
    float4 v = *reinterpret_cast<const float4*>(vb + (size_t)p * C);
    acc.x = fmaf(w, v.x, acc.x);
    acc.y = fmaf(w, v.y, acc.y);
    acc.z = fmaf(w, v.z, acc.z);
    acc.w = fmaf(w, v.w, acc.w);
  }
  reinterpret_cast<float4*>(part + grp * HS)[j] = acc;
  __syncthreads();
  float inv = 1.f / sum;
  for (int d = tid; d < HS; d += blockDim.x) {
    float s = 0.f;
    for (int i = 0; i < groups; i++) s += part[i * HS + d];
    y[row * C + (size_t)h * HS + d] = s * inv;
  }
}

// ---------------------------------------------------------------------------
// argmax writes tok[b] = argmax of logits row b*step+off (the first index on
// ties, as torch.argmax). grid (B), block 1024.
// argmax_row writes *out = the argmax of l [V] (the first index on ties);
// every thread of the block (a multiple of 32 threads) calls it.
__device__ void argmax_row(int* __restrict__ out, const float* __restrict__ l, int V) {
  __shared__ float rv[32];
  __shared__ int ri[32];
  float bv = -INFINITY;
  int bi = 0x7fffffff;
  for (int i = threadIdx.x; i < V; i += blockDim.x) {
    float v = l[i];
    if (v > bv) { bv = v; bi = i; }  // i grows: the first wins ties
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    float ov = __shfl_xor_sync(0xffffffffu, bv, o);
    int oi = __shfl_xor_sync(0xffffffffu, bi, o);
    if (ov > bv || (ov == bv && oi < bi)) { bv = ov; bi = oi; }
  }
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  if (lane == 0) { rv[warp] = bv; ri[warp] = bi; }
  __syncthreads();
  if (warp == 0) {
    bv = lane < nw ? rv[lane] : -INFINITY;
    bi = lane < nw ? ri[lane] : 0x7fffffff;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      float ov = __shfl_xor_sync(0xffffffffu, bv, o);
      int oi = __shfl_xor_sync(0xffffffffu, bi, o);
      if (ov > bv || (ov == bv && oi < bi)) { bv = ov; bi = oi; }
    }
    if (lane == 0) *out = bi == 0x7fffffff ? 0 : bi;
  }
}

extern "C" __global__ void __launch_bounds__(1024) argmax(int* __restrict__ tok, const float* __restrict__ logits, int V, int step,
                                  int off) {
  argmax_row(tok + blockIdx.x, logits + (size_t)(blockIdx.x * step + off) * V, V);
}

// advance moves the position counter past the T new tokens. grid 1, block 1.
extern "C" __global__ void advance(int* pos, int T) { *pos += T; }

// ===========================================================================
// Kernel set V2 (plan.go KernelsV2): decode-sized steps (N <= 16 rows, fused
// norms) with fewer launches and shorter dependency chains. Each computes
// what its V1 counterpart does, in fp32, within the same tolerances; only
// the summation order of the layer-norm statistics and of attention's
// final a·V partial sums differs.

// raw8 holds 8 weights as loaded (16 bytes of half, 32 of float), so a
// warp can request its whole weight row before it needs the values.
template <typename W>
struct raw8;
template <>
struct raw8<float> {
  float4 a, b;
};
template <>
struct raw8<__half> {
  uint4 u;
};

__device__ __forceinline__ void loadraw(const float* __restrict__ p, raw8<float>& r) {
  r.a = *reinterpret_cast<const float4*>(p);
  r.b = *reinterpret_cast<const float4*>(p + 4);
}

__device__ __forceinline__ void loadraw(const __half* __restrict__ p, raw8<__half>& r) {
  r.u = *reinterpret_cast<const uint4*>(p);
}

__device__ __forceinline__ void unpack(const raw8<float>& r, float w[8]) {
  w[0] = r.a.x; w[1] = r.a.y; w[2] = r.a.z; w[3] = r.a.w;
  w[4] = r.b.x; w[5] = r.b.y; w[6] = r.b.z; w[7] = r.b.w;
}

__device__ __forceinline__ void unpack(const raw8<__half>& r, float w[8]) {
  const __half2* h = reinterpret_cast<const __half2*>(&r.u);
#pragma unroll
  for (int i = 0; i < 4; i++) {
    float2 f = __half22float2(h[i]);
    w[2 * i] = f.x;
    w[2 * i + 1] = f.y;
  }
}

// gemv2 is gemv (attn_proj and mlp_down of decode steps) with the
// epilogue's inputs requested before the dot products: lane 0 loads
// bias[m] and, for EPI_ADD, the residual out[n, m] of its NR rows at the
// start, where gemv loads them one after the other once the warp sum is
// done (two dependent global round trips at the end of every GEMV). Same
// arithmetic in the same order. grid (ceil(M/8), ceil(N/NR)), block 256.
template <typename W, int NR>
__device__ __forceinline__ void gemv2_impl(float* __restrict__ out, const float* __restrict__ x,
                                           const W* __restrict__ w, const float* __restrict__ bias,
                                           int N, int K, int M, int mode) {
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  int m = blockIdx.x * (blockDim.x >> 5) + warp;
  int n0 = blockIdx.y * NR;
  if (m >= M) return;
  float bv = 0.f, res[NR];
#pragma unroll
  for (int r = 0; r < NR; r++) res[r] = 0.f;
  if (lane == 0) {
    if (bias) bv = bias[m];
    if (mode == EPI_ADD) {
#pragma unroll
      for (int r = 0; r < NR; r++)
        if (n0 + r < N) res[r] = out[(size_t)(n0 + r) * M + m];
    }
  }
  float acc[NR];
#pragma unroll
  for (int r = 0; r < NR; r++) acc[r] = 0.f;
  const W* wr = w + (size_t)m * K;
#pragma unroll 4
  for (int k = lane * 8; k < K; k += 256) {
    float wv[8];
    load8(wr + k, wv);
#pragma unroll
    for (int r = 0; r < NR; r++) {
      if (n0 + r < N) {
        float xv[8];
        load8(x + (size_t)(n0 + r) * K + k, xv);
#pragma unroll
        for (int i = 0; i < 8; i++) acc[r] = fmaf(wv[i], xv[i], acc[r]);
      }
    }
  }
#pragma unroll
  for (int r = 0; r < NR; r++) acc[r] = warp_sum(acc[r]);
  if (lane == 0) {
#pragma unroll
    for (int r = 0; r < NR; r++) {
      if (n0 + r >= N) continue;
      float v = acc[r] + bv;
      switch (mode) {
        case EPI_GELU_TANH: v = gelu_tanh(v); break;
        case EPI_GELU_ERF: v = gelu_erf(v); break;
        case EPI_ADD: v += res[r]; break;
        default: break;
      }
      out[(size_t)(n0 + r) * M + m] = v;
    }
  }
}

#define GEMV2(NAME, W, NR)                                                                     \
  extern "C" __global__ void NAME(float* out, const float* x, const W* w, const float* bias, \
                                  int N, int K, int M, int mode) {                            \
    gemv2_impl<W, NR>(out, x, w, bias, N, K, M, mode);                                         \
  }
GEMV2(gemv2_f32_1, float, 1)
GEMV2(gemv2_f32_2, float, 2)
GEMV2(gemv2_f32_4, float, 4)
GEMV2(gemv2_f32_8, float, 8)
GEMV2(gemv2_f16_1, __half, 1)
GEMV2(gemv2_f16_2, __half, 2)
GEMV2(gemv2_f16_4, __half, 4)
GEMV2(gemv2_f16_8, __half, 8)

// LN_REGS float4 per lane hold a row of up to 32*4*LN_REGS = 768 values
// (gpt2's n_embd) in registers for the statistics; W_PRE weight chunks of
// 8 per lane (K <= 256*W_PRE = 768) are requested before the statistics
// are known. Longer rows finish in loops that re-read x (L1) or load the
// weights as they go. Larger values cost registers (ptxas -v): 8 and 4
// take the f16 NR=1 kernel from 66 to 74.
#define LN_REGS 6
#define W_PRE 3

// gemv_ln2 is gemv_ln with a shorter critical path:
//  1. every warp first issues the loads of its whole weight row (W_PRE
//     chunks, 16 or 32 bytes per lane each), so the DRAM latency of the
//     weights overlaps the statistics instead of following them;
//  2. warp r < NR computes the mean and variance of row n0 + r from
//     float4 loads all in flight at once (the row stays in registers, so
//     the second, centred pass reads no memory: two passes, no
//     E[x²]-E[x]² cancellation);
//  3. after one barrier every warp normalizes and accumulates as gemv_ln
//     (the same fmaf order).
// With kc non-null (the qkv GEMV, M = 3K, K = C) the epilogue also stores
// the new keys and values: row n = b*T + t, m in [C, 3C) goes to the
// cache [B, maxT, C] of k (m < 2C) or v at position *pos + t, which
// replaces store_kv. grid (ceil(M/8), ceil(N/NR)), block 256. K % 8 == 0.
template <typename W, int NR>
__device__ __forceinline__ void gemv_ln2_impl(float* __restrict__ out, const float* __restrict__ x,
                                              const W* __restrict__ w, const float* __restrict__ bias,
                                              int N, int K, int M, int mode, const float* __restrict__ lg,
                                              const float* __restrict__ lb, float eps, int xstep, int xoff,
                                              float* __restrict__ kc, float* __restrict__ vc,
                                              const int* __restrict__ pos, int T, int maxT) {
  __shared__ float mu[NR], rs[NR];
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  int m = blockIdx.x * (blockDim.x >> 5) + warp;
  int n0 = blockIdx.y * NR;
  bool live = m < M;
  // The epilogue's scalars are requested first too: no global load is
  // left between the reduction and the store.
  float bsv = 0.f;
  int P = 0;
  if (live && lane == 0) {
    if (bias) bsv = bias[m];
    if (kc) P = *pos;
  }
  const W* wr = w + (size_t)(live ? m : 0) * K;
  raw8<W> pre[W_PRE];
#pragma unroll
  for (int i = 0; i < W_PRE; i++) {
    int k = lane * 8 + 256 * i;
    if (live && k < K) loadraw(wr + k, pre[i]);
  }
  if (warp < NR && n0 + warp < N) {
    const float4* xr = reinterpret_cast<const float4*>(x + ((size_t)(n0 + warp) * xstep + xoff) * K);
    int K4 = K >> 2;
    float4 v[LN_REGS];
    float s = 0.f;
#pragma unroll
    for (int i = 0; i < LN_REGS; i++) {
      int j = lane + 32 * i;
      v[i] = j < K4 ? xr[j] : make_float4(0.f, 0.f, 0.f, 0.f);
    }
#pragma unroll
    for (int i = 0; i < LN_REGS; i++) s += (v[i].x + v[i].y) + (v[i].z + v[i].w);
    for (int j = lane + 32 * LN_REGS; j < K4; j += 32) {
      float4 u = xr[j];
      s += (u.x + u.y) + (u.z + u.w);
    }
    float mean = warp_sum(s) / (float)K;
    float q = 0.f;
#pragma unroll
    for (int i = 0; i < LN_REGS; i++) {
      if (lane + 32 * i < K4) {
        float a = v[i].x - mean, b = v[i].y - mean, c = v[i].z - mean, d = v[i].w - mean;
        q += (a * a + b * b) + (c * c + d * d);
      }
    }
    for (int j = lane + 32 * LN_REGS; j < K4; j += 32) {
      float4 u = xr[j];
      float a = u.x - mean, b = u.y - mean, c = u.z - mean, d = u.w - mean;
      q += (a * a + b * b) + (c * c + d * d);
    }
    float var = warp_sum(q) / (float)K;
    if (lane == 0) {
      mu[warp] = mean;
      rs[warp] = 1.f / sqrtf(var + eps);
    }
  }
  __syncthreads();
  if (!live) return;
  float acc[NR];
#pragma unroll
  for (int r = 0; r < NR; r++) acc[r] = 0.f;
  // One chunk of 8: k = lane*8 + 256*i, weights wv.
  auto chunk = [&](int k, const float wv[8]) {
    float gv[8], bv[8];
    load8(lg + k, gv);
    load8(lb + k, bv);
#pragma unroll
    for (int r = 0; r < NR; r++) {
      if (n0 + r < N) {
        float xv[8];
        load8(x + ((size_t)(n0 + r) * xstep + xoff) * K + k, xv);
        float mean = mu[r], rstd = rs[r];
#pragma unroll
        for (int i = 0; i < 8; i++) acc[r] = fmaf(wv[i], (xv[i] - mean) * rstd * gv[i] + bv[i], acc[r]);
      }
    }
  };
#pragma unroll
  for (int i = 0; i < W_PRE; i++) {
    int k = lane * 8 + 256 * i;
    if (k < K) {
      float wv[8];
      unpack(pre[i], wv);
      chunk(k, wv);
    }
  }
  for (int k = lane * 8 + 256 * W_PRE; k < K; k += 256) {
    raw8<W> rw;
    loadraw(wr + k, rw);
    float wv[8];
    unpack(rw, wv);
    chunk(k, wv);
  }
#pragma unroll
  for (int r = 0; r < NR; r++) acc[r] = warp_sum(acc[r]);
  if (lane == 0) {
    if (kc) {  // qkv: store; keys and values also to the cache
      int C = K;
      float* cache = m < 2 * C ? kc : vc;
      int c = m < 2 * C ? m - C : m - 2 * C;
#pragma unroll
      for (int r = 0; r < NR; r++) {
        int n = n0 + r;
        if (n < N) {
          float v = acc[r] + bsv;
          out[(size_t)n * M + m] = v;
          if (m >= C) cache[((size_t)(n / T) * maxT + P + n % T) * C + c] = v;
        }
      }
    } else {
#pragma unroll
      for (int r = 0; r < NR; r++)
        if (n0 + r < N) epilogue(out, (size_t)(n0 + r) * M + m, acc[r] + bsv, mode);
    }
  }
}

// gemv_ln2_<w>_<NR>: gemv_ln's arguments (mlp_up, logits).
#define GEMV_LN2(NAME, W, NR)                                                                      \
  extern "C" __global__ void NAME(float* out, const float* x, const W* w, const float* bias, int N,  \
                                  int K, int M, int mode, const float* lg, const float* lb,          \
                                  float eps, int xstep, int xoff) {                                  \
    gemv_ln2_impl<W, NR>(out, x, w, bias, N, K, M, mode, lg, lb, eps, xstep, xoff, nullptr, nullptr, \
                         nullptr, 1, 0);                                                             \
  }
GEMV_LN2(gemv_ln2_f32_1, float, 1)
GEMV_LN2(gemv_ln2_f32_2, float, 2)
GEMV_LN2(gemv_ln2_f32_4, float, 4)
GEMV_LN2(gemv_ln2_f32_8, float, 8)
GEMV_LN2(gemv_ln2_f16_1, __half, 1)
GEMV_LN2(gemv_ln2_f16_2, __half, 2)
GEMV_LN2(gemv_ln2_f16_4, __half, 4)
GEMV_LN2(gemv_ln2_f16_8, __half, 8)

// gemv_lnkv_<w>_<NR>: the qkv GEMV of one layer, ln_1 fused, with the new
// keys and values stored to that layer's cache kc, vc [B, maxT, C] at
// positions *pos..*pos+T-1 (x rows contiguous, M = 3K).
#define GEMV_LNKV(NAME, W, NR)                                                                     \
  extern "C" __global__ void NAME(float* out, const float* x, const W* w, const float* bias, int N,  \
                                  int K, int M, const float* lg, const float* lb, float eps,         \
                                  float* kc, float* vc, const int* pos, int T, int maxT) {           \
    gemv_ln2_impl<W, NR>(out, x, w, bias, N, K, M, EPI_STORE, lg, lb, eps, 1, 0, kc, vc, pos, T,     \
                         maxT);                                                                      \
  }
GEMV_LNKV(gemv_lnkv_f32_1, float, 1)
GEMV_LNKV(gemv_lnkv_f32_2, float, 2)
GEMV_LNKV(gemv_lnkv_f32_4, float, 4)
GEMV_LNKV(gemv_lnkv_f32_8, float, 8)
GEMV_LNKV(gemv_lnkv_f16_1, __half, 1)
GEMV_LNKV(gemv_lnkv_f16_2, __half, 2)
GEMV_LNKV(gemv_lnkv_f16_4, __half, 4)
GEMV_LNKV(gemv_lnkv_f16_8, __half, 8)

// attention_wide is attention for any block of 32..1024 threads (a power
// of two): plan.go launches 1024 when the grid (T, NH, B) is small, so a
// decode step walks 64 cached positions per step instead of 16 (HS 64).
// attention's last stage sums blockDim/g partial a·V rows serially (64 for
// 1024 threads); here they are halved in a tree (log2 steps). grid (T, NH,
// B); shared memory (HS + maxT rounded up to 4 + 32 + 4*blockDim) floats.
// HS divides 128 and HS % 4 == 0.
extern "C" __global__ void __launch_bounds__(1024) attention_wide(float* __restrict__ y, const float* __restrict__ qkv,
                                          const float* __restrict__ kc, const float* __restrict__ vc,
                                          const int* __restrict__ pos, int T, int C, int NH, int maxT,
                                          float scale) {
  extern __shared__ __align__(16) float sm[];
  int t = blockIdx.x, h = blockIdx.y, b = blockIdx.z, tid = threadIdx.x;
  int HS = C / NH, g = HS / 4, j = tid % g, grp = tid / g, groups = blockDim.x / g;
  float* q = sm;                        // [HS]
  float* sc = sm + HS;                  // [maxT] scores, then exp(score - max)
  float* red = sc + ((maxT + 3) & ~3);  // [32], 16-byte aligned like part
  float* part = red + 32;               // [groups, HS] partial a·V, groups*HS = 4*blockDim
  int n = *pos + t + 1;                 // causal: row t sees positions 0..P+t
  size_t row = (size_t)b * T + t;
  const float* qr = qkv + row * 3 * C + (size_t)h * HS;
  for (int d = tid; d < HS; d += blockDim.x) q[d] = qr[d];
  __syncthreads();
  float4 qv = reinterpret_cast<const float4*>(q)[j];
  const float* kb = kc + (size_t)b * maxT * C + (size_t)h * HS + 4 * j;
  const float* vb = vc + (size_t)b * maxT * C + (size_t)h * HS + 4 * j;
  float mx = -INFINITY;
#pragma unroll 4
  for (int base = 0; base < n; base += groups) {  // uniform over the block: shuffles are safe
    int p = base + grp;
    float s = 0.f;
    if (p < n) {
      float4 kv = *reinterpret_cast<const float4*>(kb + (size_t)p * C);
      s = qv.x * kv.x + qv.y * kv.y + qv.z * kv.z + qv.w * kv.w;
    }
    for (int o = g >> 1; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    if (p < n) {
      s *= scale;
      if (j == 0) sc[p] = s;
      mx = fmaxf(mx, s);
    }
  }
  mx = block_max(mx, red);  // its barriers also publish sc
  float sum = 0.f;
  for (int p = tid; p < n; p += blockDim.x) {
    float e = expf(sc[p] - mx);  // subtract max: stability only
    sc[p] = e;
    sum += e;
  }
  sum = block_sum(sum, red);
  float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll 4
  for (int p = grp; p < n; p += groups) {
    float w = sc[p];
    float4 v = *reinterpret_cast<const float4*>(vb + (size_t)p * C);
    acc.x = fmaf(w, v.x, acc.x);
    acc.y = fmaf(w, v.y, acc.y);
    acc.z = fmaf(w, v.z, acc.z);
    acc.w = fmaf(w, v.w, acc.w);
  }
  float4* p4 = reinterpret_cast<float4*>(part);
  p4[tid] = acc;  // part[grp*HS + 4j .. +3]: tid = grp*g + j
  __syncthreads();
  // Tree over the groups: rows [0, s) += rows [s, 2s), s*g float4 each.
  for (int s = groups >> 1; s > 0; s >>= 1) {
    for (int i = tid; i < s * g; i += blockDim.x) {
      float4 a = p4[i], c = p4[i + s * g];
      p4[i] = make_float4(a.x + c.x, a.y + c.y, a.z + c.z, a.w + c.w);
    }
    __syncthreads();
  }
  float inv = 1.f / sum;
  for (int d = tid; d < HS; d += blockDim.x) y[row * C + (size_t)h * HS + d] = part[d] * inv;
}

// argmax_advance is argmax followed by advance in one launch: tok[b] =
// argmax of logits row b*step+off, and block 0 moves the position counter
// past the T new tokens (argmax reads no position and it is the step's
// last kernel). grid (B), block 1024.
extern "C" __global__ void __launch_bounds__(1024) argmax_advance(int* __restrict__ tok, const float* __restrict__ logits, int V,
                                          int step, int off, int* __restrict__ pos, int T) {
  if (blockIdx.x == 0 && threadIdx.x == 0) *pos += T;
  __shared__ float rv[32];
  __shared__ int ri[32];
  const float* l = logits + (size_t)(blockIdx.x * step + off) * V;
  float bv = -INFINITY;
  int bi = 0x7fffffff;
  for (int i = threadIdx.x; i < V; i += blockDim.x) {
    float v = l[i];
    if (v > bv) { bv = v; bi = i; }  // i grows: the first wins ties
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    float ov = __shfl_xor_sync(0xffffffffu, bv, o);
    int oi = __shfl_xor_sync(0xffffffffu, bi, o);
    if (ov > bv || (ov == bv && oi < bi)) { bv = ov; bi = oi; }
  }
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  if (lane == 0) { rv[warp] = bv; ri[warp] = bi; }
  __syncthreads();
  if (warp == 0) {
    bv = lane < nw ? rv[lane] : -INFINITY;
    bi = lane < nw ? ri[lane] : 0x7fffffff;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      float ov = __shfl_xor_sync(0xffffffffu, bv, o);
      int oi = __shfl_xor_sync(0xffffffffu, bi, o);
      if (ov > bv || (ov == bv && oi < bi)) { bv = ov; bi = oi; }
    }
    if (lane == 0) tok[blockIdx.x] = bi == 0x7fffffff ? 0 : bi;
  }
}

// ---------------------------------------------------------------------------
// sample: the next token of sequence b drawn from logits row b*step+off as
// model.Sampler does on the host, so the same seed gives the same tokens:
//
//	p_i = exp((l_i - max) / temperature)   (float32; exp in double)
//	order: p descending, then id ascending (every key below is unique)
//	kept: the first topk in that order (topk 0: all), then the shortest
//	      prefix of them whose mass reaches topp·Σp (topp 0 or 1: all)
//	r = u·Σ_kept p, u = the sequence's next PCG Float64 (math/rand/v2)
//	token: the first in order whose cumulative mass exceeds r; without
//	       top-k or top-p the order is the ids' (as the host draws).
//
// The order statistics are radix selections over 64-bit keys (p's bits,
// then the complement of the id), 8 bits a pass, with the weights (1 per
// token, or its p) summed per digit in double. grid (B), block 1024
// (a multiple of 32); rng [B] PCG states (hi, lo), advanced once; probs
// [B, V] scratch.

// pcg_float64 advances a math/rand/v2 PCG state (hi, lo) and returns
// Rand.Float64 of its Uint64 (DXSM output).
__device__ double pcg_float64(unsigned long long* st) {
  const unsigned long long mulHi = 2549297995355413924ull, mulLo = 4865540595714422341ull;
  const unsigned long long incHi = 6364136223846793005ull, incLo = 1442695040888963407ull;
  unsigned long long hi = st[0], lo = st[1];
  unsigned long long nhi = __umul64hi(lo, mulLo) + hi * mulLo + lo * mulHi;
  unsigned long long nlo = lo * mulLo;
  unsigned long long s = nlo + incLo;
  nhi += incHi + (s < nlo ? 1ull : 0ull);
  nlo = s;
  st[0] = nhi;
  st[1] = nlo;
  unsigned long long x = nhi;
  x ^= x >> 32;
  x *= 0xda942042e4dd58b5ull;
  x ^= x >> 48;
  x *= (nlo | 1ull);
  return (double)(x << 11 >> 11) / 9007199254740992.0;  // / 2^53
}

// sample_key orders tokens: larger key first (p descending, id ascending).
__device__ __forceinline__ unsigned long long sample_key(float p, int i) {
  return ((unsigned long long)__float_as_uint(p) << 32) | (unsigned long long)(0xffffffffu - (unsigned)i);
}

__device__ __forceinline__ int sample_id(unsigned long long key) {
  return (int)(0xffffffffu - (unsigned)(key & 0xffffffffull));
}

// block_sum_double returns the block's sum of v to every thread.
__device__ double block_sum_double(double v, double* red) {
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  __syncthreads();
  if (lane == 0) red[warp] = v;
  __syncthreads();
  v = lane < nw ? red[lane] : 0.0;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// sample_select returns the key of the first token in order, among those
// with key >= kmin, at which the cumulative weight (1 per token when !mass,
// else p) reaches target (>= target, or > target when strict); *found is
// false, and the key of the last such token returned, when the total
// never does. Every thread calls it and gets the same result.
__device__ unsigned long long sample_select(const float* __restrict__ p, int V, unsigned long long kmin,
                                            bool mass, double target, bool strict, bool* found,
                                            double* hist, unsigned long long* shared_key, int* shared_flag) {
  unsigned long long prefix = 0, mask = 0;
  double above = 0.0;  // weight of the tokens before the current range
  bool ok = true;
  int lane = threadIdx.x & 31;
  for (int shift = 56; shift >= 0; shift -= 8) {
    for (int d = threadIdx.x; d < 256; d += blockDim.x) hist[d] = 0.0;
    __syncthreads();
    // Every lane of a warp runs the same number of iterations, so the
    // shuffles below see the whole warp.
    int rounds = (V + blockDim.x - 1) / blockDim.x;
    for (int r = 0; r < rounds; r++) {
      int i = r * blockDim.x + threadIdx.x;
      int digit = -1;
      double w = 0.0;
      if (i < V) {
        float pv = p[i];
        unsigned long long k = sample_key(pv, i);
        if (k >= kmin && (k & mask) == prefix) {
          digit = (int)((k >> shift) & 255ull);
          w = mass ? (double)pv : 1.0;
        }
      }
      // Sum the warp's weights per digit; the lowest lane of each digit adds.
      double sum = 0.0;
      bool leader = digit >= 0;
      for (int src = 0; src < 32; src++) {
        int d = __shfl_sync(0xffffffffu, digit, src);
        double v = __shfl_sync(0xffffffffu, w, src);
        if (digit >= 0 && d == digit) {
          sum += v;
          if (src < lane) leader = false;
        }
      }
      if (leader) atomicAdd(&hist[digit], sum);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      int pick = -1, lowest = -1;
      for (int d = 255; d >= 0; d--) {
        if (hist[d] == 0.0) continue;
        lowest = d;
        double c = above + hist[d];
        if (strict ? c > target : c >= target) {
          pick = d;
          break;
        }
        above = c;
      }
      if (pick < 0) {  // never reached: the range's last token
        pick = lowest < 0 ? 0 : lowest;
        *shared_flag = 0;
      } else if (shift == 56) {
        *shared_flag = 1;
      }
      *shared_key = (unsigned long long)pick << shift;
    }
    __syncthreads();
    prefix |= *shared_key;
    mask |= 255ull << shift;
    if (shift == 56) ok = *shared_flag != 0;
    __syncthreads();  // shared_key is rewritten next pass
  }
  *found = ok;
  return prefix;
}

// sample_row draws *out from logits l [V] (probabilities to p [V]) with
// the PCG state rng [2], as the sample kernel describes; every thread of
// the block calls it.
__device__ void sample_row(int* __restrict__ out, const float* __restrict__ l, float* __restrict__ p, int V,
                           float temperature, int topk, float topp, unsigned long long* __restrict__ rng) {
  __shared__ double red[32];
  __shared__ double hist[256];
  __shared__ unsigned long long skey;
  __shared__ int sflag;
  __shared__ double su;
  int tid = threadIdx.x;

  // max logit (the host takes logits[Argmax]: the same value).
  float mx = -INFINITY;
  for (int i = tid; i < V; i += blockDim.x) mx = fmaxf(mx, l[i]);
  __shared__ float redf[32];
  mx = block_max(mx, redf);
  float inv = 1.f / temperature;
  double part = 0.0;
  for (int i = tid; i < V; i += blockDim.x) {
    float e = (float)exp((double)((l[i] - mx) * inv));
    p[i] = e;
    part += (double)e;
  }
  double sum = block_sum_double(part, red);  // its barriers also publish p
  if (tid == 0) su = pcg_float64(rng);

  bool filter = (topk > 0 && topk < V) || (topp > 0.f && topp < 1.f);
  if (!filter) {
    // Draw in id order: contiguous chunks, a scan of their sums.
    __syncthreads();
    double r = su * sum;
    int chunk = (V + blockDim.x - 1) / blockDim.x;
    int lo = min(V, tid * chunk), hi = min(V, lo + chunk);
    double cs = 0.0;
    for (int i = lo; i < hi; i++) cs += (double)p[i];
    // Exclusive scan of the chunk sums, in thread order.
    __shared__ double scan[1024];
    scan[tid] = cs;
    __syncthreads();
    if (tid == 0) {
      double run = 0.0;
      for (int t = 0; t < (int)blockDim.x; t++) {
        double v = scan[t];
        scan[t] = run;
        run += v;
      }
    }
    __syncthreads();
    double before = scan[tid];
    if (tid == 0) sflag = V - 1;  // r beyond the total: the last token
    __syncthreads();
    if (lo < hi && before <= r && r < before + cs) {
      double rr = r - before;
      int pick = hi - 1;
      for (int i = lo; i < hi; i++) {
        rr -= (double)p[i];
        if (rr < 0.0) {
          pick = i;
          break;
        }
      }
      atomicMin(&sflag, pick);  // one chunk qualifies; min guards rounding
    }
    __syncthreads();
    if (tid == 0) *out = sflag;
    return;
  }

  unsigned long long kmin = 0;
  bool found;
  if (topk > 0 && topk < V) kmin = sample_select(p, V, 0, false, (double)topk, false, &found, hist, &skey, &sflag);
  if (topp > 0.f && topp < 1.f) {
    unsigned long long k = sample_select(p, V, kmin, true, (double)topp * sum, false, &found, hist, &skey, &sflag);
    if (found) kmin = k;
  }
  part = 0.0;
  for (int i = tid; i < V; i += blockDim.x)
    if (sample_key(p[i], i) >= kmin) part += (double)p[i];
  double ksum = block_sum_double(part, red);
  double r = su * ksum;
  unsigned long long k = sample_select(p, V, kmin, true, r, true, &found, hist, &skey, &sflag);
  if (tid == 0) *out = sample_id(k);
}

extern "C" __global__ void __launch_bounds__(1024) sample(int* __restrict__ tok, const float* __restrict__ logits, int V, int step,
                                  int off, float temperature, int topk, float topp,
                                  unsigned long long* __restrict__ rng, float* __restrict__ probs) {
  sample_row(tok + blockIdx.x, logits + (size_t)(blockIdx.x * step + off) * V, probs + (size_t)blockIdx.x * V, V,
             temperature, topk, topp, rng + 2 * blockIdx.x);
}

// ===========================================================================
// Ragged steps (plan.go raggedPlan, ragged.go): the continuous-batching
// engine's step over a paged KV cache. Every row n of the step carries its
// own token, position and sequence; each sequence its block table:
//
//	tok, rpos, rseq  [N] int32        row n's token, position, sequence
//	tables           [S, stride] int32 block ids; entry i holds positions
//	                                   i*bs .. (i+1)*bs-1 of the sequence
//	kc, vc           [numBlocks, bs, C] one layer of the pool (the Go side
//	                                   offsets by layer)
//
// Position p of sequence s lives in block tables[s*stride + p/bs], slot p%bs.

// kv_row returns the offset of position p of sequence s in a layer's pool.
__device__ __forceinline__ size_t kv_row(const int* __restrict__ tables, int stride, int bs, int s, int p, int C) {
  return ((size_t)tables[s * stride + p / bs] * bs + p % bs) * C;
}

// embed_ragged: x[n] = wte[tok[n]] + wpe[rpos[n]]. grid (N), block 256.
template <typename W>
__device__ __forceinline__ void embed_ragged_impl(float* __restrict__ x, const W* __restrict__ wte,
                                                  const float* __restrict__ wpe, const int* __restrict__ tok,
                                                  const int* __restrict__ rpos, int C) {
  int n = blockIdx.x;
  size_t id = (size_t)tok[n], p = (size_t)rpos[n];
  for (int c = threadIdx.x; c < C; c += blockDim.x)
    x[(size_t)n * C + c] = tofloat(wte[id * C + c]) + wpe[p * C + c];
}

extern "C" __global__ void embed_ragged_f32(float* x, const float* wte, const float* wpe, const int* tok,
                                            const int* rpos, int C) {
  embed_ragged_impl<float>(x, wte, wpe, tok, rpos, C);
}

extern "C" __global__ void embed_ragged_f16(float* x, const __half* wte, const float* wpe, const int* tok,
                                            const int* rpos, int C) {
  embed_ragged_impl<__half>(x, wte, wpe, tok, rpos, C);
}

// store_kv_paged copies the keys and values of row n from qkv [N, 3C] into
// its sequence's block at its position. grid (N), block 256.
extern "C" __global__ void store_kv_paged(float* __restrict__ kc, float* __restrict__ vc,
                                          const float* __restrict__ qkv, const int* __restrict__ rpos,
                                          const int* __restrict__ rseq, const int* __restrict__ tables,
                                          int stride, int bs, int C) {
  int n = blockIdx.x;
  size_t dst = kv_row(tables, stride, bs, rseq[n], rpos[n], C);
  const float* row = qkv + (size_t)n * 3 * C;
  for (int c = threadIdx.x; c < C; c += blockDim.x) {
    kc[dst + c] = row[C + c];
    vc[dst + c] = row[2 * C + c];
  }
}

// attention_paged is attention (above) for row n of a ragged step: its
// query against positions 0..rpos[n] of its own sequence, each key and
// value row found through the sequence's block table.
// grid (N, NH), block 256; shared memory (HS + maxT rounded up to 4 + 32 +
// 4*blockDim) floats, maxT >= every rpos[n]+1. HS divides 128, HS % 4 == 0.
extern "C" __global__ void attention_paged(float* __restrict__ y, const float* __restrict__ qkv,
                                           const float* __restrict__ kc, const float* __restrict__ vc,
                                           const int* __restrict__ rpos, const int* __restrict__ rseq,
                                           const int* __restrict__ tables, int stride, int bs, int C, int NH,
                                           int maxT, float scale) {
  extern __shared__ __align__(16) float sm[];
  int row = blockIdx.x, h = blockIdx.y, tid = threadIdx.x;
  int HS = C / NH, g = HS / 4, j = tid % g, grp = tid / g, groups = blockDim.x / g;
  float* q = sm;                        // [HS]
  float* sc = sm + HS;                  // [maxT] scores, then exp(score - max)
  float* red = sc + ((maxT + 3) & ~3);  // [32], 16-byte aligned like part
  float* part = red + 32;               // [groups, HS] partial a·V
  int s = rseq[row], n = rpos[row] + 1;  // causal: the row sees positions 0..its own
  const float* qr = qkv + (size_t)row * 3 * C + (size_t)h * HS;
  for (int d = tid; d < HS; d += blockDim.x) q[d] = qr[d];
  __syncthreads();
  float4 qv = reinterpret_cast<const float4*>(q)[j];
  size_t hoff = (size_t)h * HS + 4 * j;
  float mx = -INFINITY;
  for (int base = 0; base < n; base += groups) {  // uniform over the block: shuffles are safe
    int p = base + grp;
    float sv = 0.f;
    if (p < n) {
      float4 kv = *reinterpret_cast<const float4*>(kc + kv_row(tables, stride, bs, s, p, C) + hoff);
      sv = qv.x * kv.x + qv.y * kv.y + qv.z * kv.z + qv.w * kv.w;
    }
    for (int o = g >> 1; o > 0; o >>= 1) sv += __shfl_xor_sync(0xffffffffu, sv, o);
    if (p < n) {
      sv *= scale;
      if (j == 0) sc[p] = sv;
      mx = fmaxf(mx, sv);
    }
  }
  mx = block_max(mx, red);  // its barriers also publish sc
  float sum = 0.f;
  for (int p = tid; p < n; p += blockDim.x) {
    float e = expf(sc[p] - mx);  // subtract max: stability only
    sc[p] = e;
    sum += e;
  }
  sum = block_sum(sum, red);
  float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);
  for (int p = grp; p < n; p += groups) {
    float w = sc[p];
    float4 v = *reinterpret_cast<const float4*>(vc + kv_row(tables, stride, bs, s, p, C) + hoff);
    acc.x = fmaf(w, v.x, acc.x);
    acc.y = fmaf(w, v.y, acc.y);
    acc.z = fmaf(w, v.z, acc.z);
    acc.w = fmaf(w, v.w, acc.w);
  }
  reinterpret_cast<float4*>(part + grp * HS)[j] = acc;
  __syncthreads();
  float inv = 1.f / sum;
  for (int d = tid; d < HS; d += blockDim.x) {
    float a = 0.f;
    for (int i = 0; i < groups; i++) a += part[i * HS + d];
    y[(size_t)row * C + (size_t)h * HS + d] = a * inv;
  }
}

// gather_rows copies rows idx[r] of x [N, C] to out [R, C] (the rows that
// want logits). grid (R), block 256.
extern "C" __global__ void gather_rows(float* __restrict__ out, const float* __restrict__ x,
                                       const int* __restrict__ idx, int C) {
  const float* in = x + (size_t)idx[blockIdx.x] * C;
  float* o = out + (size_t)blockIdx.x * C;
  for (int c = threadIdx.x; c < C; c += blockDim.x) o[c] = in[c];
}

// sample_rows chooses the next token of every logit row b of a ragged step
// with the row's own options, opts [NL, 3] int32 (temperature and top-p as
// float bits, top-k): argmax at temperature 0, else as the sample kernel
// draws, with the row's PCG state rng [NL, 2] (the host uploads each
// request's state and advances its own copy by the one draw). grid (NL),
// block 1024; probs [NL, V] scratch.
extern "C" __global__ void __launch_bounds__(1024) sample_rows(int* __restrict__ tok, const float* __restrict__ logits, int V,
                                                             const int* __restrict__ opts,
                                                             unsigned long long* __restrict__ rng,
                                                             float* __restrict__ probs) {
  int b = blockIdx.x;
  const float* l = logits + (size_t)b * V;
  float temperature = __int_as_float(opts[3 * b]);
  if (temperature == 0.f) {  // uniform over the block: its barriers are safe
    argmax_row(tok + b, l, V);
    return;
  }
  sample_row(tok + b, l, probs + (size_t)b * V, V, temperature, opts[3 * b + 1], __int_as_float(opts[3 * b + 2]),
             rng + 2 * b);
}
