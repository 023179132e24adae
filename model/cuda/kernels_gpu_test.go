//go:build cuda

package cuda

// Kernel-by-kernel checks against plain Go loops (float64 sums), so a
// failure names the kernel before the end-to-end tests in gpu_test.go.

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"unsafe"

	"gorgonia.org/cu"

	"github.com/gpt2bench/gpt2bench/model"
	"github.com/gpt2bench/gpt2bench/tensor"
)

// harness runs single launches on buffers it uploads itself. Every method
// makes the context current on its goroutine's thread (subtests run on
// goroutines of their own).
type harness struct {
	t      *testing.T
	m      *Model
	stream cu.Stream
	bufs   map[buf]cu.DevicePtr
}

func (h *harness) enter() func() {
	h.t.Helper()
	exit, err := h.m.enter()
	if err != nil {
		h.t.Fatal(err)
	}
	return exit
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	p, err := model.RandomParams(tiny, 1)
	if err != nil {
		t.Fatal(err)
	}
	m := openGPU(t, tiny, p, tensor.F32)
	h := &harness{t: t, m: m, bufs: map[buf]cu.DevicePtr{}}
	defer h.enter()()
	if h.stream, err = cu.MakeStream(cu.NonBlocking); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.close)
	return h
}

func (h *harness) close() {
	defer h.enter()()
	for _, d := range h.bufs {
		cu.MemFree(d)
	}
	h.stream.Destroy()
}

// put uploads v ([]float32, []int32 or []uint16) as buffer b.
func (h *harness) put(b buf, v any) {
	h.t.Helper()
	defer h.enter()()
	var p unsafe.Pointer
	var n int64
	switch v := v.(type) {
	case []float32:
		p, n = unsafe.Pointer(&v[0]), 4*int64(len(v))
	case []int32:
		p, n = unsafe.Pointer(&v[0]), 4*int64(len(v))
	case []uint16:
		p, n = unsafe.Pointer(&v[0]), 2*int64(len(v))
	default:
		h.t.Fatalf("put %T", v)
	}
	if old, ok := h.bufs[b]; ok {
		cu.MemFree(old)
	}
	d, err := cu.MemAlloc(n)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := cu.MemcpyHtoD(d, p, n); err != nil {
		h.t.Fatal(err)
	}
	if err := cu.Synchronize(); err != nil { // the copy may still be in flight
		h.t.Fatal(err)
	}
	h.bufs[b] = d
}

func (h *harness) alloc(b buf, floats int) { h.put(b, make([]float32, floats)) }

func (h *harness) get(b buf, n int) []float32 {
	h.t.Helper()
	defer h.enter()()
	v := make([]float32, n)
	if err := cu.MemcpyDtoH(unsafe.Pointer(&v[0]), h.bufs[b], 4*int64(n)); err != nil {
		h.t.Fatal(err)
	}
	return v
}

func (h *harness) getInts(b buf, n int) []int32 {
	h.t.Helper()
	defer h.enter()()
	v := make([]int32, n)
	if err := cu.MemcpyDtoH(unsafe.Pointer(&v[0]), h.bufs[b], 4*int64(n)); err != nil {
		h.t.Fatal(err)
	}
	return v
}

// run launches ls in order (buffers resolved by name, layers ignored) and waits.
func (h *harness) run(ls ...launch) {
	h.t.Helper()
	defer h.enter()()
	for _, l := range ls {
		vals := make([]uint64, len(l.args))
		for j, a := range l.args {
			switch a.kind {
			case argPtr:
				d, ok := h.bufs[a.buf]
				if !ok {
					h.t.Fatalf("%s: buffer %d not uploaded", l.kernel, a.buf)
				}
				vals[j] = uint64(d)
			case argNull:
			default:
				vals[j] = a.scalar()
			}
		}
		if err := launchKernel(h.m.fns[l.kernel], l.grid[0], l.grid[1], l.grid[2], l.block, l.shared, h.stream, vals); err != nil {
			h.t.Fatalf("launch %s: %v", l.kernel, err)
		}
	}
	if err := h.stream.Synchronize(); err != nil {
		h.t.Fatalf("%s: %v", ls[0].kernel, err)
	}
}

func randVec(rng *rand.Rand, n int, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * scale)
	}
	return v
}

func roundHalf(v []float32) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = tensor.HalfToFloat(tensor.FloatToHalf(x))
	}
	return out
}

func toHalf(v []float32) []uint16 {
	out := make([]uint16, len(v))
	for i, x := range v {
		out[i] = tensor.FloatToHalf(x)
	}
	return out
}

// checkClose compares with a per-element bound tol[i].
func checkClose(t *testing.T, what string, got, want, tol []float32) {
	t.Helper()
	bad := 0
	for i := range got {
		d := math.Abs(float64(got[i] - want[i]))
		if !(d <= float64(tol[i])) {
			if bad < 5 {
				t.Errorf("%s[%d]: got %g want %g (|diff| %.3g > %.3g)", what, i, got[i], want[i], d, tol[i])
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d values off", what, bad, len(got))
	}
}

func TestKernelLinear(t *testing.T) {
	h := newHarness(t)
	rng := rand.New(rand.NewPCG(5, 6))
	shapes := []struct{ N, K, M int }{
		{1, 64, 192}, {3, 768, 2304}, {13, 256, 64}, {16, 3072, 768}, {17, 768, 2304},
		{48, 64, 256}, {128, 3072, 768}, {128, 768, 3072}, {100, 768, 1000}, {32, 768, 50257},
	}
	for _, sh := range shapes {
		for _, dt := range []tensor.DType{tensor.F32, tensor.F16} {
			for _, mode := range []int{epiStore, epiGELUTanh, epiGELUErf, epiAdd} {
				if sh.M == 50257 && mode != epiStore {
					continue
				}
				plans := [][]launch{linear(dt, sh.N, sh.K, sh.M, ptr(bufY), ptr(bufX), ptr(bufAttnW), ptr(bufAttnB), mode, 0, model.OpQKV)}
				if sh.N <= gemvMaxRows { // V2's GEMV too
					plans = append(plans, []launch{gemv2(dt, sh.N, sh.K, sh.M, ptr(bufY), ptr(bufX), ptr(bufAttnW), ptr(bufAttnB), mode, 0, model.OpQKV)})
				}
				for _, ls := range plans {
					t.Run(fmt.Sprintf("%s/N=%d/K=%d/M=%d/mode=%d/%s", dt, sh.N, sh.K, sh.M, mode, ls[0].kernel), func(t *testing.T) {
						h.t = t
						x := randVec(rng, sh.N*sh.K, 1)
						w := randVec(rng, sh.M*sh.K, 0.05)
						b := randVec(rng, sh.M, 0.1)
						out0 := randVec(rng, sh.N*sh.M, 1)
						if dt == tensor.F16 {
							h.put(bufAttnW, toHalf(w))
							w = roundHalf(w)
						} else {
							h.put(bufAttnW, w)
						}
						h.put(bufX, x)
						h.put(bufAttnB, b)
						h.put(bufY, out0)
						h.alloc(bufWork, workFloats)
						h.run(ls...)
						got := h.get(bufY, sh.N*sh.M)
						xr, relTol := x, 4e-6
						if ls[0].kernel == "gemm_wmma_f16" {
							xr = roundHalf(x) // the tensor cores take half inputs
							relTol = 1e-5     // and add products with truncation
						}
						want, tol := make([]float32, len(got)), make([]float32, len(got))
						var wg sync.WaitGroup
						for n := range sh.N {
							wg.Go(func() { refRow(xr, w, b, out0, want, tol, n, sh.K, sh.M, mode, relTol) })
						}
						wg.Wait()
						checkClose(t, "out", got, want, tol)
					})
				}
			}
		}
	}
}

// refRow computes row n of the linear reference and its error bound.
func refRow(xr, w, b, out0, want, tol []float32, n, K, M, mode int, relTol float64) {
	for m := range M {
		var s, a float64
		for k := range K {
			p := float64(xr[n*K+k]) * float64(w[m*K+k])
			s += p
			a += math.Abs(p)
		}
		v := s + float64(b[m])
		switch mode {
		case epiGELUTanh:
			v = 0.5 * v * (1 + math.Tanh(0.7978845608028654*(v+0.044715*v*v*v)))
		case epiGELUErf:
			v = 0.5 * v * (1 + math.Erf(v/math.Sqrt2))
		case epiAdd:
			v += float64(out0[n*M+m])
		}
		want[n*M+m] = float32(v)
		tol[n*M+m] = float32(relTol*a + 2e-6*math.Abs(v) + 1e-6)
	}
}

func TestKernelLayerNormEmbedArgmax(t *testing.T) {
	h := newHarness(t)
	rng := rand.New(rand.NewPCG(7, 8))
	const C, rows, T = 768, 6, 3
	x := randVec(rng, rows*C, 2)
	for i := range x {
		x[i] += 3 // a mean far from 0
	}
	g, b := randVec(rng, C, 1), randVec(rng, C, 0.1)
	h.put(bufX, x)
	h.put(bufLn1W, g)
	h.put(bufLn1B, b)
	h.alloc(bufXN, rows*C)
	for _, tc := range []struct{ n, step, off int }{{rows, 1, 0}, {rows / T, T, T - 1}} {
		t.Run(fmt.Sprintf("layernorm/step=%d", tc.step), func(t *testing.T) {
			h.t = t
			h.run(launch{kernel: "layernorm", grid: [3]int{tc.n, 1, 1}, block: normThreads,
				args: []arg{ptr(bufXN), ptr(bufX), ptr(bufLn1W), ptr(bufLn1B), intArg(C), floatArg(1e-5), intArg(tc.step), intArg(tc.off)}})
			got := h.get(bufXN, tc.n*C)
			want, tol := make([]float32, len(got)), make([]float32, len(got))
			for r := range tc.n {
				in := x[(r*tc.step+tc.off)*C:][:C]
				var mean, v float64
				for _, e := range in {
					mean += float64(e)
				}
				mean /= C
				for _, e := range in {
					v += (float64(e) - mean) * (float64(e) - mean)
				}
				rstd := 1 / math.Sqrt(v/C+1e-5)
				for c := range C {
					want[r*C+c] = float32((float64(in[c])-mean)*rstd*float64(g[c]) + float64(b[c]))
					tol[r*C+c] = 1e-5
				}
			}
			checkClose(t, "layernorm", got, want, tol)
		})
	}
	t.Run("embed", func(t *testing.T) {
		h.t = t
		const V, maxT, B = 50, 16, 2
		wte, wpe := randVec(rng, V*C, 1), randVec(rng, maxT*C, 1)
		tok := []int32{3, 49, 0, 7, 7, 1}
		h.put(bufWTE, toHalf(wte))
		h.put(bufWPE, wpe)
		h.put(bufTok, tok)
		h.put(bufPos, []int32{5})
		h.alloc(bufX, B*T*C)
		h.run(launch{kernel: "embed_f16", grid: [3]int{B * T, 1, 1}, block: normThreads,
			args: []arg{ptr(bufX), ptr(bufWTE), ptr(bufWPE), ptr(bufTok), ptr(bufPos), intArg(T), intArg(C)}})
		got := h.get(bufX, B*T*C)
		wr := roundHalf(wte)
		want, tol := make([]float32, len(got)), make([]float32, len(got))
		for n := range B * T {
			for c := range C {
				want[n*C+c] = wr[int(tok[n])*C+c] + wpe[(5+n%T)*C+c]
			}
		}
		checkClose(t, "embed", got, want, tol)
	})
	t.Run("argmax", func(t *testing.T) {
		h.t = t
		const V = 50257
		l := randVec(rng, 3*V, 1)
		l[5] = 9
		l[V+40000], l[V+40001], l[V+30000] = 7, 7, 7 // ties: the first wins
		l[2*V+V-1] = 100
		h.put(bufLogits, l)
		h.put(bufTok, make([]int32, 3))
		h.run(launch{kernel: "argmax", grid: [3]int{3, 1, 1}, block: argmaxThreads,
			args: []arg{ptr(bufTok), ptr(bufLogits), intArg(V), intArg(1), intArg(0)}})
		got := h.getInts(bufTok, 3)
		if want := []int32{5, 30000, V - 1}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("argmax %v, want %v", got, want)
		}
	})
	t.Run("argmax_advance", func(t *testing.T) {
		h.t = t
		const V, B = 50257, 3
		for _, T := range []int{1, 2} { // T = 2: logits at every position, argmax of the last
			l := randVec(rng, B*T*V, 1)
			want := make([]int32, B)
			for b := range B {
				i := rng.IntN(V)
				l[(b*T+T-1)*V+i] = 50
				if T > 1 {
					l[b*T*V+(i+1)%V] = 60 // not the last position: ignored
				}
				want[b] = int32(i)
			}
			h.put(bufLogits, l)
			h.put(bufTok, make([]int32, B))
			h.put(bufPos, []int32{5})
			h.run(launch{kernel: "argmax_advance", grid: [3]int{B, 1, 1}, block: argmaxThreads,
				args: []arg{ptr(bufTok), ptr(bufLogits), intArg(V), intArg(T), intArg(T - 1), ptr(bufPos), intArg(T)}})
			if got := h.getInts(bufTok, B); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("T=%d: argmax %v, want %v", T, got, want)
			}
			if got := h.getInts(bufPos, 1)[0]; got != int32(5+T) {
				t.Errorf("T=%d: pos %d, want %d (advanced once, not once per block)", T, got, 5+T)
			}
		}
	})
	t.Run("advance", func(t *testing.T) {
		h.t = t
		h.put(bufPos, []int32{5})
		h.run(launch{kernel: "advance", grid: [3]int{1, 1, 1}, block: 1, args: []arg{ptr(bufPos), intArg(3)}})
		if got := h.getInts(bufPos, 1)[0]; got != 8 {
			t.Errorf("pos %d, want 8", got)
		}
	})
}

func TestKernelAttention(t *testing.T) {
	h := newHarness(t)
	rng := rand.New(rand.NewPCG(9, 10))
	for _, tc := range []struct {
		B, T, P, C, NH, maxT int
		kernel               string
		block                int // attention_wide only; the others have their own
	}{
		{1, 1, 0, 64, 4, 64, "attention", 0}, {2, 3, 5, 64, 4, 15, "attention", 0}, {1, 1, 700, 768, 12, 1024, "attention", 0},
		{3, 20, 0, 768, 12, 33, "attention", 0}, {2, 4, 9, 1600, 25, 16, "attention", 0}, {1, 2, 300, 128, 1, 302, "attention", 0},
		{1, 1, 0, 64, 4, 64, "attention_serial", 0}, {2, 3, 5, 64, 4, 16, "attention_serial", 0}, {1, 1, 700, 768, 12, 1024, "attention_serial", 0},
		// V2: 1024 threads for decode (HS 64: 64 positions per step; HS 4:
		// 1024 groups of one lane; HS 128: 32 of 32), and the 256 fallback.
		{1, 1, 0, 64, 4, 64, "attention_wide", 1024}, {1, 1, 700, 768, 12, 1024, "attention_wide", 1024},
		{1, 1, 1023, 768, 12, 1024, "attention_wide", 1024}, {4, 1, 255, 768, 12, 1024, "attention_wide", 1024},
		{2, 3, 5, 64, 4, 15, "attention_wide", 1024}, {2, 4, 9, 1600, 25, 16, "attention_wide", 1024},
		{1, 2, 300, 128, 1, 302, "attention_wide", 1024}, {1, 1, 40, 16, 4, 64, "attention_wide", 1024},
		{1, 1, 700, 768, 12, 1024, "attention_wide", 256}, {3, 20, 0, 768, 12, 33, "attention_wide", 256},
	} {
		t.Run(fmt.Sprintf("%s/B=%d/T=%d/P=%d/C=%d/NH=%d/maxT=%d/block=%d", tc.kernel, tc.B, tc.T, tc.P, tc.C, tc.NH, tc.maxT, tc.block), func(t *testing.T) {
			h.t = t
			cfg := model.Config{NEmbd: tc.C, NHead: tc.NH}
			C, HS, N := tc.C, tc.C/tc.NH, tc.B*tc.T
			attn := launch{kernel: tc.kernel, grid: [3]int{tc.T, tc.NH, tc.B}, block: attnThreads, shared: attnShared(cfg, tc.maxT),
				args: []arg{ptr(bufY), ptr(bufQKV), ptr(bufK), ptr(bufV), ptr(bufPos), intArg(tc.T), intArg(C), intArg(tc.NH), intArg(tc.maxT), floatArg(float32(1 / math.Sqrt(float64(HS))))}}
			switch tc.kernel {
			case "attention_serial":
				attn.block, attn.shared = 128, attnSerialShared(cfg, tc.maxT)
			case "attention_wide":
				attn.block, attn.shared = tc.block, attnSharedFor(cfg, tc.maxT, tc.block)
			}
			qkv := randVec(rng, N*3*C, 1)
			kc, vc := randVec(rng, tc.B*tc.maxT*C, 1), randVec(rng, tc.B*tc.maxT*C, 1)
			h.put(bufQKV, qkv)
			h.put(bufK, kc)
			h.put(bufV, vc)
			h.put(bufPos, []int32{int32(tc.P)})
			h.alloc(bufY, N*C)
			h.run(
				launch{kernel: "store_kv", grid: [3]int{N, 1, 1}, block: normThreads,
					args: []arg{ptr(bufK), ptr(bufV), ptr(bufQKV), ptr(bufPos), intArg(tc.T), intArg(C), intArg(tc.maxT)}},
				attn,
			)
			// The reference: the cache with the new rows stored, then attention.
			for n := range N {
				b, tt := n/tc.T, n%tc.T
				copy(kc[(b*tc.maxT+tc.P+tt)*C:][:C], qkv[n*3*C+C:][:C])
				copy(vc[(b*tc.maxT+tc.P+tt)*C:][:C], qkv[n*3*C+2*C:][:C])
			}
			got := h.get(bufY, N*C)
			want, tol := make([]float32, N*C), make([]float32, N*C)
			for n := range N {
				b, tt := n/tc.T, n%tc.T
				span := tc.P + tt + 1
				for hd := range tc.NH {
					q := qkv[n*3*C+hd*HS:][:HS]
					s := make([]float64, span)
					mx := math.Inf(-1)
					for p := range span {
						k := kc[(b*tc.maxT+p)*C+hd*HS:][:HS]
						for d := range HS {
							s[p] += float64(q[d]) * float64(k[d])
						}
						s[p] /= math.Sqrt(float64(HS))
						mx = math.Max(mx, s[p])
					}
					var sum float64
					for p := range s {
						s[p] = math.Exp(s[p] - mx)
						sum += s[p]
					}
					for d := range HS {
						var y float64
						for p := range span {
							y += s[p] / sum * float64(vc[(b*tc.maxT+p)*C+hd*HS+d])
						}
						want[n*C+hd*HS+d] = float32(y)
						tol[n*C+hd*HS+d] = 2e-5
					}
				}
			}
			checkClose(t, "y", got, want, tol)
			checkClose(t, "k cache", h.get(bufK, len(kc)), kc, make([]float32, len(kc)))
		})
	}
}

func TestKernelGemvLN(t *testing.T) {
	h := newHarness(t)
	rng := rand.New(rand.NewPCG(11, 12))
	for _, tc := range []struct{ N, K, M, xstep, xoff int }{
		{1, 64, 192, 1, 0}, {3, 768, 2304, 1, 0}, {16, 768, 3072, 1, 0}, {5, 1600, 100, 1, 0}, {2, 768, 50257, 4, 3}, {1, 64, 1024, 7, 6},
		{1, 1024, 520, 1, 0}, // K between gemv_ln2's registers (768) and two of them
	} {
		for _, dt := range []tensor.DType{tensor.F32, tensor.F16} {
			for _, mode := range []int{epiStore, epiGELUTanh} {
				for _, mk := range []func(tensor.DType, int, int, int, arg, arg, arg, arg, arg, arg, float32, int, int, int, int, model.Op) launch{gemvLN, gemvLN2} {
					l := mk(dt, tc.N, tc.K, tc.M, ptr(bufY), ptr(bufX), ptr(bufAttnW), ptr(bufAttnB), ptr(bufLn1W), ptr(bufLn1B), 1e-5, tc.xstep, tc.xoff, mode, 0, model.OpQKV)
					t.Run(fmt.Sprintf("%s/N=%d/K=%d/M=%d/step=%d/mode=%d/%s", dt, tc.N, tc.K, tc.M, tc.xstep, mode, l.kernel), func(t *testing.T) {
						h.t = t
						rows := tc.N*tc.xstep + tc.xoff
						x := randVec(rng, rows*tc.K, 2)
						for i := range x {
							x[i] += 1
						}
						w, b := randVec(rng, tc.M*tc.K, 0.05), randVec(rng, tc.M, 0.1)
						g, gb := randVec(rng, tc.K, 1), randVec(rng, tc.K, 0.1)
						if dt == tensor.F16 {
							h.put(bufAttnW, toHalf(w))
							w = roundHalf(w)
						} else {
							h.put(bufAttnW, w)
						}
						h.put(bufX, x)
						h.put(bufAttnB, b)
						h.put(bufLn1W, g)
						h.put(bufLn1B, gb)
						h.alloc(bufY, tc.N*tc.M)
						h.run(l)
						got := h.get(bufY, tc.N*tc.M)
						want, tol := refGemvLN(x, w, b, g, gb, tc.N, tc.K, tc.M, tc.xstep, tc.xoff, mode)
						checkClose(t, "out", got, want, tol)
					})
				}
			}
		}
	}
}

// refGemvLN returns out[N, M] = epi(ln(x row n*xstep+xoff)·wᵀ + b) (eps
// 1e-5, gain g, bias gb) in float64 and each value's error bound.
func refGemvLN(x, w, b, g, gb []float32, N, K, M, xstep, xoff, mode int) (want, tol []float32) {
	want, tol = make([]float32, N*M), make([]float32, N*M)
	xn := make([]float64, K)
	for n := range N {
		in := x[(n*xstep+xoff)*K:][:K]
		var mean, v float64
		for _, e := range in {
			mean += float64(e)
		}
		mean /= float64(K)
		for _, e := range in {
			v += (float64(e) - mean) * (float64(e) - mean)
		}
		rstd := 1 / math.Sqrt(v/float64(K)+1e-5)
		for k, e := range in {
			xn[k] = (float64(e)-mean)*rstd*float64(g[k]) + float64(gb[k])
		}
		for m := range M {
			var s, a float64
			for k := range K {
				p := xn[k] * float64(w[m*K+k])
				s += p
				a += math.Abs(p)
			}
			v := s + float64(b[m])
			if mode == epiGELUTanh {
				v = 0.5 * v * (1 + math.Tanh(0.7978845608028654*(v+0.044715*v*v*v)))
			}
			want[n*M+m] = float32(v)
			tol[n*M+m] = float32(1e-5*a + 2e-6*math.Abs(v) + 1e-6)
		}
	}
	return want, tol
}

// TestKernelGemvLNKV checks V2's qkv GEMV: the qkv rows as gemv_ln's, and
// the keys and values of row n = b*T + t stored in the cache at position
// P + t of sequence b, bit for bit, with every other cache row untouched.
func TestKernelGemvLNKV(t *testing.T) {
	h := newHarness(t)
	rng := rand.New(rand.NewPCG(13, 14))
	for _, tc := range []struct{ B, T, P, C, maxT int }{
		{1, 1, 0, 64, 64}, {2, 1, 5, 768, 16}, {3, 2, 7, 768, 12}, {16, 1, 100, 768, 128}, {2, 4, 9, 64, 16}, {5, 1, 3, 1600, 8}, {1, 1, 1023, 768, 1024},
	} {
		for _, dt := range []tensor.DType{tensor.F32, tensor.F16} {
			N, C, M := tc.B*tc.T, tc.C, 3*tc.C
			l := gemvLNKV(dt, N, C, tc.T, tc.maxT, 1e-5, 0)
			t.Run(fmt.Sprintf("%s/B=%d/T=%d/P=%d/C=%d/maxT=%d/%s", dt, tc.B, tc.T, tc.P, tc.C, tc.maxT, l.kernel), func(t *testing.T) {
				h.t = t
				x := randVec(rng, N*C, 2)
				for i := range x {
					x[i] -= 2
				}
				w, b := randVec(rng, M*C, 0.05), randVec(rng, M, 0.1)
				g, gb := randVec(rng, C, 1), randVec(rng, C, 0.1)
				kc, vc := randVec(rng, tc.B*tc.maxT*C, 1), randVec(rng, tc.B*tc.maxT*C, 1)
				if dt == tensor.F16 {
					h.put(bufAttnW, toHalf(w))
					w = roundHalf(w)
				} else {
					h.put(bufAttnW, w)
				}
				h.put(bufX, x)
				h.put(bufAttnB, b)
				h.put(bufLn1W, g)
				h.put(bufLn1B, gb)
				h.put(bufK, kc)
				h.put(bufV, vc)
				h.put(bufPos, []int32{int32(tc.P)})
				h.alloc(bufQKV, N*M)
				h.run(l)
				got := h.get(bufQKV, N*M)
				want, tol := refGemvLN(x, w, b, g, gb, N, C, M, 1, 0, epiStore)
				checkClose(t, "qkv", got, want, tol)
				for n := range N {
					bb, tt := n/tc.T, n%tc.T
					copy(kc[(bb*tc.maxT+tc.P+tt)*C:][:C], got[n*M+C:][:C])
					copy(vc[(bb*tc.maxT+tc.P+tt)*C:][:C], got[n*M+2*C:][:C])
				}
				checkClose(t, "k cache", h.get(bufK, len(kc)), kc, make([]float32, len(kc)))
				checkClose(t, "v cache", h.get(bufV, len(vc)), vc, make([]float32, len(vc)))
				if p := h.getInts(bufPos, 1)[0]; p != int32(tc.P) {
					t.Errorf("pos %d, want %d unchanged", p, tc.P)
				}
			})
		}
	}
}
