// mma.h (cudaemu): nvcuda::wmma on the CPU. A fragment holds its whole
// tile in every lane (the API leaves the element-to-lane mapping opaque,
// so each lane computing the whole tile is a faithful emulation);
// products accumulate in float (or the accumulator's type).
#pragma once

#include <type_traits>

#include "cuda_fp16.h"

namespace nvcuda {
namespace wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

template <class Use, int M, int N, int K>
struct dims;
template <int M, int N, int K>
struct dims<matrix_a, M, N, K> { static constexpr int rows = M, cols = K; };
template <int M, int N, int K>
struct dims<matrix_b, M, N, K> { static constexpr int rows = K, cols = N; };
template <int M, int N, int K>
struct dims<accumulator, M, N, K> { static constexpr int rows = M, cols = N; };

// fragment: x holds the tile row-major, rows × cols.
template <class Use, int M, int N, int K, class T, class Layout = void>
struct fragment {
  static constexpr int rows = dims<Use, M, N, K>::rows, cols = dims<Use, M, N, K>::cols;
  static constexpr int num_elements = rows * cols;
  T x[num_elements];
};

template <class Use, int M, int N, int K, class T, class L, class V>
inline void fill_fragment(fragment<Use, M, N, K, T, L>& f, const V& v) {
  for (int i = 0; i < f.num_elements; i++) f.x[i] = T(v);
}

// load_matrix_sync for matrix_a/matrix_b: the layout is the fragment's.
template <class Use, int M, int N, int K, class T, class L>
inline void load_matrix_sync(fragment<Use, M, N, K, T, L>& f, const T* p, unsigned ldm) {
  constexpr bool row = std::is_same<L, row_major>::value;
  for (int r = 0; r < f.rows; r++)
    for (int c = 0; c < f.cols; c++) f.x[r * f.cols + c] = row ? p[r * ldm + c] : p[c * ldm + r];
}

// load_matrix_sync for an accumulator: the layout is an argument.
template <int M, int N, int K, class T>
inline void load_matrix_sync(fragment<accumulator, M, N, K, T>& f, const T* p, unsigned ldm, layout_t l) {
  for (int r = 0; r < M; r++)
    for (int c = 0; c < N; c++) f.x[r * N + c] = l == mem_row_major ? p[r * ldm + c] : p[c * ldm + r];
}

template <int M, int N, int K, class T>
inline void store_matrix_sync(T* p, const fragment<accumulator, M, N, K, T>& f, unsigned ldm, layout_t l) {
  for (int r = 0; r < M; r++)
    for (int c = 0; c < N; c++) (l == mem_row_major ? p[r * ldm + c] : p[c * ldm + r]) = f.x[r * N + c];
}

// mma_sync: d = a·b + c.
template <int M, int N, int K, class TA, class LA, class TB, class LB, class TC>
inline void mma_sync(fragment<accumulator, M, N, K, TC>& d, const fragment<matrix_a, M, N, K, TA, LA>& a,
                     const fragment<matrix_b, M, N, K, TB, LB>& b, const fragment<accumulator, M, N, K, TC>& c) {
  float fa[M * K], fb[K * N], out[M * N];
  for (int i = 0; i < M * K; i++) fa[i] = (float)a.x[i];
  for (int i = 0; i < K * N; i++) fb[i] = (float)b.x[i];
  for (int i = 0; i < M * N; i++) out[i] = (float)c.x[i];
  for (int i = 0; i < M; i++)
    for (int k = 0; k < K; k++) {
      float av = fa[i * K + k];
      for (int j = 0; j < N; j++) out[i * N + j] += av * fb[k * N + j];
    }
  for (int i = 0; i < M * N; i++) d.x[i] = TC(out[i]);
}

}  // namespace wmma
}  // namespace nvcuda
