package tensor

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// gpt2Shapes are the linear layers of GPT-2 124M (C=768, F=3072, V=50257)
// in decode (N=1), batched decode (N=8) and prefill (N=128), in the dtypes
// that matter there.
var gpt2Shapes = []struct {
	op      string
	N, K, M int
	dtypes  []DType
}{
	{"qkv", 1, 768, 2304, []DType{F32, F16, Q8, Q4}},
	{"proj", 1, 768, 768, []DType{F32, F16, Q8, Q4}},
	{"mlp_up", 1, 768, 3072, []DType{F32, F16, Q8, Q4}},
	{"mlp_down", 1, 3072, 768, []DType{F32, F16, Q8, Q4}},
	{"lm_head", 1, 768, 50257, []DType{F32, F16, Q8, Q4}},
	{"qkv", 8, 768, 2304, []DType{F32, F16, Q8, Q4}},
	{"mlp_down", 8, 3072, 768, []DType{F32}},
	{"lm_head", 8, 768, 50257, []DType{F32, Q8}},
	{"qkv", 128, 768, 2304, []DType{F32, F16, Q8, Q4}},
	{"mlp_up", 128, 768, 3072, []DType{F32}},
	{"mlp_down", 128, 3072, 768, []DType{F32, Q8}},
}

// BenchmarkLinear compares the kernel variants (impl=generic|avx2, and for
// N >= outerMinN impl=avx2-outer, the outer-product path; avx2 is then the
// dot-product tiles; impl=avx512 on row-major weights, impl=avx512-strips
// on float32 and float16 weights in strips, as the model holds them with
// AVX-512) and gonum's blas32 (impl=gonum, float32 only, its own
// goroutines) on 2 threads. GB/s counts the weights and x read once;
// GFLOP/s is 2·N·K·M.
//
//	go test ./tensor -run '^$' -bench Linear -count 5 | benchstat -col /impl -
func BenchmarkLinear(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	pool := NewPool(2)
	defer pool.Close()
	r := pool.NewRunner()
	for _, s := range gpt2Shapes {
		w32 := NewMat(randSlice(rng, s.M*s.K), s.M, s.K)
		x, out, bias := randSlice(rng, s.N*s.K), make([]float32, s.N*s.M), randSlice(rng, s.M)
		for _, dt := range s.dtypes {
			w, _ := w32.Convert(dt)
			bytes := w.Bytes() + int64(4*len(x))
			flops := 2 * float64(s.N*s.K*s.M)
			report := func(b *testing.B) {
				sec := b.Elapsed().Seconds() / float64(b.N)
				b.ReportMetric(flops/sec/1e9, "GFLOP/s")
				b.ReportMetric(float64(bytes)/sec/1e9, "GB/s")
			}
			impls := []string{"generic", "avx2"}
			if s.N >= outerMinN {
				impls = append(impls, "avx2-outer")
			}
			impls = append(impls, "avx512")
			if dt == F32 || dt == F16 {
				impls = append(impls, "avx512-strips")
			}
			if dt == F32 {
				impls = append(impls, "gonum")
			}
			for _, impl := range impls {
				name := fmt.Sprintf("op=%s/dtype=%v/impl=%s/N=%d/K=%d/M=%d", s.op, dt, impl, s.N, s.K, s.M)
				b.Run(name, func(b *testing.B) {
					if impl != "generic" && impl != "gonum" && !hasAVX2FMA() {
						b.Skip("no AVX2+FMA+F16C")
					}
					if impl == "avx512" && !hasAVX512() {
						b.Skip("no AVX-512 F/BW/DQ/VL/VNNI")
					}
					b.ReportAllocs()
					if impl == "gonum" {
						xg := blas32.General{Rows: s.N, Cols: s.K, Stride: s.K, Data: x}
						wg := blas32.General{Rows: s.M, Cols: s.K, Stride: s.K, Data: w.F32}
						og := blas32.General{Rows: s.N, Cols: s.M, Stride: s.M, Data: out}
						for b.Loop() {
							if s.N == 1 {
								blas32.Gemv(blas.NoTrans, 1, wg, blas32.Vector{N: s.K, Inc: 1, Data: x}, 0, blas32.Vector{N: s.M, Inc: 1, Data: out})
							} else {
								blas32.Gemm(blas.NoTrans, blas.Trans, 1, xg, wg, 0, og)
							}
						}
						report(b)
						return
					}
					if impl == "avx512-strips" {
						p := packPanels(w)
						for b.Loop() {
							r.Linear(out, x, p, bias, s.N)
						}
						report(b)
						return
					}
					forEachLinearVariant(b, func(v string) {
						if v != impl {
							return
						}
						for b.Loop() {
							r.Linear(out, x, w, bias, s.N)
						}
						report(b)
					})
				})
			}
		}
	}
}

// BenchmarkMemBandwidth is the roofline reference: streaming reads of a
// 256 MiB slice (too large for any cache) by 1 and 2 threads, as Linear
// reads weights. Its GB/s bounds any batch-1 decode kernel.
func BenchmarkMemBandwidth(b *testing.B) {
	const n = 64 << 20 // float32s: 256 MiB
	a := make([]float32, n)
	for i := range a {
		a[i] = 1
	}
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d/MiB=256", threads), func(b *testing.B) {
			if !hasAVX2FMA() {
				b.Skip("needs the assembly sum")
			}
			pool := NewPool(threads)
			defer pool.Close()
			r := pool.NewRunner()
			t := &sumTask{a: a}
			b.SetBytes(4 * n)
			for b.Loop() {
				r.For(n, 1<<16, t)
			}
			b.ReportMetric(4*n*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
	}
}

type sumTask struct {
	a   []float32
	sum [8]float32 // per-part results, only so the loads are not dead
}

func (t *sumTask) Run(lo, hi int) {
	s := t.a[lo:hi]
	t.sum[lo*8/len(t.a)] = Sum(s)
}

// BenchmarkPool measures the fixed cost of one For over 2 threads.
func BenchmarkPool(b *testing.B) {
	pool := NewPool(2)
	defer pool.Close()
	r := pool.NewRunner()
	t := &sumTask{a: make([]float32, 1024)}
	b.ReportAllocs()
	for b.Loop() {
		r.For(1024, 16, t)
	}
}

// BenchmarkLinearDTypes compares the weight dtypes side by side, each on
// the kernels this machine picks (no variant flipped), at every N that
// matters: decode (1), batched decode (8, 16) and prefill (128, 512), on 2
// threads, the dtypes innermost so that -count rounds interleave them.
// Reduced precision should never be slower than f32. cpu-µs/op is the
// process's CPU time per call (both threads' work, plus at most the
// pool's 20 µs spin per idle worker): on a shared host it does not count
// waits for a core, which wall time does.
//
//	go test ./tensor -run '^$' -bench LinearDTypes -count 5 | benchstat -col /dtype -
func BenchmarkLinearDTypes(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 3))
	pool := NewPool(2)
	defer pool.Close()
	r := pool.NewRunner()
	for _, s := range []struct {
		op   string
		K, M int
	}{{"qkv", 768, 2304}, {"mlp_down", 3072, 768}} {
		w32 := NewMat(randSlice(rng, s.M*s.K), s.M, s.K)
		ws := map[DType]*Mat{}
		for _, dt := range []DType{F32, F16, Q8, Q4} {
			ws[dt], _ = w32.Convert(dt)
		}
		bias := randSlice(rng, s.M)
		for _, N := range []int{1, 8, 16, 128, 512} {
			x, out := randSlice(rng, N*s.K), make([]float32, N*s.M)
			for _, dt := range []DType{F32, F16, Q8, Q4} {
				w := ws[dt]
				b.Run(fmt.Sprintf("op=%s/N=%d/dtype=%v", s.op, N, dt), func(b *testing.B) {
					b.ReportAllocs()
					cpu0 := cpuTime()
					for b.Loop() {
						r.Linear(out, x, w, bias, N)
					}
					b.ReportMetric(2*float64(N*s.K*s.M)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
					b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
				})
			}
		}
	}
}
