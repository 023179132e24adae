//go:build cuda

package cuda

// These tests need an NVIDIA GPU: build the binary here and run it there
// (scripts/gpu-check.sh):
//
//	eval "$(scripts/cuda-sdk.sh)"
//	go test -c -tags cuda -o .cuda/cudatest ./model/cuda
//	(cd model/cuda && ../../.cuda/cudatest -test.v)
//	GPT2BENCH_CUDA_BENCH=1 ... -test.run Speed   # timings, gpt2 124M

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gpt2bench/gpt2bench/internal/reference"
	"github.com/gpt2bench/gpt2bench/model"
	"github.com/gpt2bench/gpt2bench/tensor"
	"github.com/gpt2bench/gpt2bench/weights/safetensors"
)

const (
	tolF32 = 1e-3 // float32 on the GPU vs transformers / the CPU path
	tolF16 = 5e-2 // f16 weights (and f16 activations into the tensor cores)
)

func tolFor(dt tensor.DType) float64 {
	if dt == tensor.F16 {
		return tolF16
	}
	return tolF32
}

// loadFixture reads a testdata fixture: config from reference.json, weights
// from model.safetensors (HF Conv1D weights transposed to [out, in]).
func loadFixture(t *testing.T, dir string) (model.Config, *model.Params, *reference.Reference) {
	t.Helper()
	ref, err := reference.Read(filepath.Join(dir, "reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	rc := ref.Config
	cfg := model.Config{VocabSize: rc.VocabSize, NPositions: rc.NPositions, NEmbd: rc.NEmbd, NLayer: rc.NLayer, NHead: rc.NHead,
		LayerNormEps: float32(rc.LayerNormEps), Activation: rc.Activation}
	f, err := safetensors.Open(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := &model.Params{}
	for _, s := range p.Shapes(cfg) {
		name := "transformer." + s.Name
		info, ok := f.Tensor(name)
		if !ok {
			t.Fatalf("%s: no tensor %s", dir, name)
		}
		v := make([]float32, info.NumElements())
		if err := f.Float32(name, v); err != nil {
			t.Fatal(err)
		}
		conv1d := strings.HasSuffix(s.Name, "c_attn.weight") || strings.HasSuffix(s.Name, "c_proj.weight") || strings.HasSuffix(s.Name, "c_fc.weight")
		if conv1d { // [in, out] → [out, in]
			in, out := info.Shape[0], info.Shape[1]
			tr := make([]float32, len(v))
			for i := range in {
				for o := range out {
					tr[o*in+i] = v[i*out+o]
				}
			}
			v = tr
		}
		*s.Ptr = v
	}
	if err := p.Validate(cfg); err != nil {
		t.Fatal(err)
	}
	return cfg, p, ref
}

// compare fails when max |got-want| > tol, printing the worst index and
// the first pairs (llm.c check_tensor).
func compare(t *testing.T, what string, got, want []float32, tol float64) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	worst, at := 0.0, 0
	for i := range got {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if d > worst || math.IsNaN(d) {
			worst, at = d, i
			if math.IsNaN(d) {
				worst = math.Inf(1)
				break
			}
		}
	}
	if worst >= tol {
		n := min(5, len(got))
		t.Errorf("%s: max |diff| %.3g at %d (got %g want %g) >= %g; first got %v want %v", what, worst, at, got[at], want[at], tol, got[:n], want[:n])
	} else {
		t.Logf("%s: max |diff| %.3g", what, worst)
	}
	return worst
}

func flat(rows [][]float32) []float32 {
	var out []float32
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}

func openGPU(t testing.TB, cfg model.Config, p *model.Params, dt tensor.DType) *Model {
	t.Helper()
	m, err := Open(cfg, p, dt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func cpuModel(t testing.TB, cfg model.Config, p *model.Params, dt tensor.DType) *model.Model {
	t.Helper()
	m, err := model.New(cfg, p, model.Options{DType: dt})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// rotate returns B prompts: prompt rotated left by b.
func rotate(prompt []int32, B int) [][]int32 {
	out := make([][]int32, B)
	for b := range out {
		r := slices.Clone(prompt)
		k := b % len(r)
		out[b] = append(r[k:], r[:k]...)
	}
	return out
}

func TestFixtures(t *testing.T) {
	ctx := context.Background()
	for _, fx := range []string{"tiny-gpt2", "tiny-gpt2-f16"} {
		cfg, p, ref := loadFixture(t, filepath.Join("..", "..", "testdata", fx))
		T, V := len(ref.InputIDs), cfg.VocabSize
		for _, tc := range []struct {
			dt      tensor.DType
			fused   bool
			kernels Kernels // V2 changes only fused decode-sized steps
		}{{tensor.F32, true, KernelsV1}, {tensor.F16, true, KernelsV1}, {tensor.F32, false, KernelsV1}, {tensor.F16, false, KernelsV1},
			{tensor.F32, true, KernelsV2}, {tensor.F16, true, KernelsV2}} {
			dt := tc.dt
			t.Run(fmt.Sprintf("%s/%s/fused=%v/%v", fx, dt, tc.fused, tc.kernels), func(t *testing.T) {
				tol := tolFor(dt)
				// The reference was computed from these exact weights when they
				// are stored as f16 or run in f32; else compare with the CPU path.
				vsRef := dt == tensor.F32 || fx == "tiny-gpt2-f16"
				g := openGPU(t, cfg, p, dt)
				c := cpuModel(t, cfg, p, dt)
				s, err := g.NewSession(1, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				s.SetFusedNorm(tc.fused)
				s.SetKernels(tc.kernels)
				cs, _ := c.NewSession(1, 0)

				all := make([]float32, T*V)
				if err := s.Forward(ctx, [][]int32{ref.InputIDs}, all); err != nil {
					t.Fatal(err)
				}
				call := make([]float32, T*V)
				if err := cs.Forward(ctx, [][]int32{ref.InputIDs}, call); err != nil {
					t.Fatal(err)
				}
				compare(t, "prefill logits vs CPU", all, call, tol)
				if vsRef {
					compare(t, "prefill logits vs transformers", all, flat(ref.Logits), tol)
				}

				// Half the prompt at once, then one token per step (the graph).
				s.Reset()
				k := T / 2
				last := make([]float32, V)
				if err := s.Forward(ctx, [][]int32{ref.InputIDs[:k]}, last); err != nil {
					t.Fatal(err)
				}
				want := call[(k-1)*V : k*V]
				compare(t, fmt.Sprintf("prefill %d last logits", k), last, want, tol)
				for i := k; i < T; i++ {
					if err := s.Forward(ctx, [][]int32{{ref.InputIDs[i]}}, last); err != nil {
						t.Fatal(err)
					}
					compare(t, fmt.Sprintf("decode pos %d", i), last, call[i*V:(i+1)*V], tol)
				}
				if s.Pos() != T {
					t.Errorf("Pos %d after %d tokens", s.Pos(), T)
				}

				// Greedy continuation: on the device, and through Forward + host argmax.
				n := len(ref.GreedyContinuation)
				wantIDs := ref.GreedyContinuation
				if !vsRef {
					cpuOut, err := model.Generate(ctx, cs, [][]int32{ref.InputIDs}, model.GenerateOptions{MaxNewTokens: n})
					if err != nil {
						t.Fatal(err)
					}
					wantIDs = cpuOut[0]
				}
				ids, st, err := s.GenerateGreedy(ctx, [][]int32{ref.InputIDs}, n)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(ids[0], wantIDs) {
					t.Errorf("GenerateGreedy continuation\n got %v\nwant %v", ids[0], wantIDs)
				}
				t.Logf("greedy %d tokens: ttft %v, decode %v", n, st.TTFT, st.Decode)
				gen, err := model.Generate(ctx, s, [][]int32{ref.InputIDs}, model.GenerateOptions{MaxNewTokens: n})
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(gen[0], wantIDs) {
					t.Errorf("model.Generate on cuda\n got %v\nwant %v", gen[0], wantIDs)
				}

				// A batch of 3 different prompts against the CPU.
				const B = 3
				prompts := rotate(ref.InputIDs, B)
				bs, err := g.NewSession(B, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer bs.Close()
				bs.SetFusedNorm(tc.fused)
				bs.SetKernels(tc.kernels)
				cb, _ := c.NewSession(B, 0)
				got, wantB := make([]float32, B*T*V), make([]float32, B*T*V)
				if err := bs.Forward(ctx, prompts, got); err != nil {
					t.Fatal(err)
				}
				cb.Forward(ctx, prompts, wantB)
				compare(t, "batch 3 prefill", got, wantB, tol)
				gl, wl := make([]float32, B*V), make([]float32, B*V)
				for step := range 5 {
					next := [][]int32{{int32(step)}, {int32(7 * step)}, {int32(V - 1 - step)}}
					if err := bs.Forward(ctx, next, gl); err != nil {
						t.Fatal(err)
					}
					cb.Forward(ctx, next, wl)
					compare(t, fmt.Sprintf("batch 3 decode %d", step), gl, wl, tol)
				}
				bids, _, err := bs.GenerateGreedy(ctx, prompts, 8)
				if err != nil {
					t.Fatal(err)
				}
				cids, _ := model.Generate(ctx, cb, prompts, model.GenerateOptions{MaxNewTokens: 8})
				for b := range B {
					if !slices.Equal(bids[b], cids[b]) {
						t.Errorf("batch greedy seq %d: got %v want %v", b, bids[b], cids[b])
					}
				}
			})
		}
	}
}

// TestErrors checks that bad input is refused before any GPU work.
func TestErrors(t *testing.T) {
	cfg, p, _ := loadFixture(t, filepath.Join("..", "..", "testdata", "tiny-gpt2"))
	g := openGPU(t, cfg, p, tensor.F32)
	if _, err := Open(cfg, p, tensor.Q8); err == nil {
		t.Error("Open with int8: no error")
	}
	s, err := g.NewSession(2, 8)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	tests := []struct {
		name   string
		tokens [][]int32
		logits int
	}{
		{"batch", [][]int32{{1}}, 2 * cfg.VocabSize},
		{"ragged", [][]int32{{1, 2}, {3}}, 2 * cfg.VocabSize},
		{"vocab", [][]int32{{1}, {int32(cfg.VocabSize)}}, 2 * cfg.VocabSize},
		{"logits", [][]int32{{1}, {2}}, 5},
		{"context", [][]int32{make([]int32, 9), make([]int32, 9)}, 2 * cfg.VocabSize},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Forward(ctx, tc.tokens, make([]float32, tc.logits)); err == nil {
				t.Error("no error")
			}
			if s.Pos() != 0 {
				t.Errorf("Pos %d after a refused step", s.Pos())
			}
		})
	}
}

// TestDefaultModel compares the GPU with the CPU on gpt2 (124M) with
// random weights, the CLI's default model.
func TestDefaultModel(t *testing.T) {
	ctx := context.Background()
	cfg := model.GPT2()
	p, err := model.RandomParams(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	prompt := make([]int32, 24)
	for i := range prompt {
		prompt[i] = int32(rng.IntN(cfg.VocabSize))
	}
	V := cfg.VocabSize
	for _, tc := range []struct {
		dt      tensor.DType
		fused   bool
		kernels Kernels
	}{{tensor.F32, true, KernelsV1}, {tensor.F16, true, KernelsV1}, {tensor.F16, false, KernelsV1}, {tensor.F32, true, KernelsV2}, {tensor.F16, true, KernelsV2}} {
		dt := tc.dt
		t.Run(fmt.Sprintf("%s/fused=%v/%v", dt, tc.fused, tc.kernels), func(t *testing.T) {
			tol := tolFor(dt)
			g := openGPU(t, cfg, p, dt)
			c := cpuModel(t, cfg, p, dt)
			t.Logf("device: %v", g.Info())
			s, err := g.NewSession(1, 256)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			s.SetFusedNorm(tc.fused)
			s.SetKernels(tc.kernels)
			cs, _ := c.NewSession(1, 256)
			T := len(prompt)
			got, want := make([]float32, T*V), make([]float32, T*V)
			if err := s.Forward(ctx, [][]int32{prompt}, got); err != nil {
				t.Fatal(err)
			}
			cs.Forward(ctx, [][]int32{prompt}, want)
			compare(t, "prefill all logits", got, want, tol)
			gl, wl := make([]float32, V), make([]float32, V)
			for i := range 6 {
				tok := [][]int32{{int32(100 * i)}}
				if err := s.Forward(ctx, tok, gl); err != nil {
					t.Fatal(err)
				}
				cs.Forward(ctx, tok, wl)
				compare(t, fmt.Sprintf("decode %d", i), gl, wl, tol)
			}
			ids, _, err := s.GenerateGreedy(ctx, [][]int32{prompt}, 16)
			if err != nil {
				t.Fatal(err)
			}
			cids, err := model.Generate(ctx, cs, [][]int32{prompt}, model.GenerateOptions{MaxNewTokens: 16})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids[0], cids[0]) {
				msg := fmt.Sprintf("greedy continuation differs from the CPU:\n got %v\nwant %v", ids[0], cids[0])
				if dt == tensor.F32 {
					t.Error(msg)
				} else {
					t.Log(msg + " (random weights give near-tied logits; f16 is not required to match)")
				}
			}
		})
	}
	// The ragged step: a prompt, then its decode beside a second prompt
	// sharing no block, against model.Ragged (blocks of 16).
	for _, dt := range []tensor.DType{tensor.F32, tensor.F16} {
		t.Run(fmt.Sprintf("%s/ragged", dt), func(t *testing.T) {
			g := openGPU(t, cfg, p, dt)
			c := cpuModel(t, cfg, p, dt)
			const bs, nb = 16, 8
			kv, err := model.NewKVBlocks(cfg, bs, nb)
			if err != nil {
				t.Fatal(err)
			}
			cr, err := c.NewRagged(kv)
			if err != nil {
				t.Fatal(err)
			}
			gr, err := g.NewRagged(bs, nb)
			if err != nil {
				t.Fatal(err)
			}
			defer gr.Close()
			a, b := []int32{5, 2}, []int32{0, 7, 3}
			steps := [][]model.SeqStep{
				{{Tokens: prompt, Blocks: a, Logits: model.LogitsAll}},
				{{Tokens: []int32{42}, Pos: len(prompt), Blocks: a, Logits: model.LogitsLast}, {Tokens: prompt[:20], Blocks: b, Logits: model.LogitsLast}},
			}
			for i, seqs := range steps {
				n := model.LogitRowsOf(seqs) * V
				got, want := make([]float32, n), make([]float32, n)
				if err := gr.Step(ctx, seqs, got); err != nil {
					t.Fatal(err)
				}
				if err := cr.Step(ctx, seqs, want); err != nil {
					t.Fatal(err)
				}
				compare(t, fmt.Sprintf("ragged step %d logits", i), got, want, tolFor(dt))
			}
		})
	}
}

// opTimer is a model.Tracer summing wall time per (layer, op).
type opTimer struct {
	start time.Time
	sum   map[string]time.Duration
}

func (o *opTimer) BeginStep(model.Step)     {}
func (o *opTimer) EndStep()                 {}
func (o *opTimer) BeginOp(int, model.Op)    { o.start = time.Now() }
func (o *opTimer) EndOp(l int, op model.Op) { o.sum[op.String()] += time.Since(o.start) }

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// benchResult is one line of the speed report.
type benchResult struct {
	Name       string  `json:"name"`
	DType      string  `json:"dtype"`
	Batch      int     `json:"batch"`
	Prompt     int     `json:"prompt_tokens"`
	NewTokens  int     `json:"new_tokens"`
	TTFTms     float64 `json:"ttft_ms,omitempty"`
	TokensPerS float64 `json:"tokens_per_s,omitempty"`
	MsPerStep  float64 `json:"ms_per_step,omitempty"`
	// BandwidthShare is, for batch-1 decode, the weight bytes read per
	// step over the step time, as a share of the device's nominal memory
	// bandwidth (the KV cache and activations left out: a lower bound).
	BandwidthShare float64 `json:"bandwidth_share,omitempty"`
	Runs           int     `json:"runs"`
}

// bandwidthShare returns the share of g's nominal memory bandwidth that
// reading the weights once per step of msPerStep ms takes (0: unknown).
func bandwidthShare(g *Model, msPerStep float64) float64 {
	bw, err := strconv.ParseFloat(g.Info()["memory_bandwidth_gb_per_s"], 64)
	if err != nil || bw <= 0 || msPerStep <= 0 {
		return 0
	}
	return float64(g.WeightBytes()) / (msPerStep / 1e3) / (bw * 1e9)
}

// speedModel returns the architecture the speed tests time: gpt2 124M
// when GPT2BENCH_CUDA_BENCH is set, or with GPT2BENCH_CUDA_BENCH=tiny a
// 2-layer, 64-wide model with 1,024 tokens and the loops cut by
// scaled, so that scripts/gpu-check.sh's speed step can be tried out under
// scripts/cudaemu; it skips t when the variable is unset.
func speedModel(t *testing.T) model.Config {
	switch os.Getenv("GPT2BENCH_CUDA_BENCH") {
	case "":
		t.Skip("set GPT2BENCH_CUDA_BENCH=1 to time gpt2 on the GPU (tiny: a small model, to try the test out)")
	case "tiny":
		return model.Config{VocabSize: 1024, NPositions: 1024, NEmbd: 64, NLayer: 2, NHead: 4, LayerNormEps: 1e-5, Activation: "gelu_new"}
	}
	return model.GPT2()
}

// scaled returns n, or an eighth of it (at least 2) for the tiny model.
func scaled(n int) int {
	if os.Getenv("GPT2BENCH_CUDA_BENCH") == "tiny" {
		return max(2, n/8)
	}
	return n
}

// TestSpeed times gpt2 (124M, random weights) when GPT2BENCH_CUDA_BENCH is
// set: TTFT of a 128-token prompt, greedy decode at batch 1 and 32, and a
// per-op breakdown; GPT2BENCH_CUDA_BENCH_OUT names a JSON-lines file.
func TestSpeed(t *testing.T) {
	cfg := speedModel(t)
	ctx := context.Background()
	p, err := model.RandomParams(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	var results []benchResult
	rng := rand.New(rand.NewPCG(3, 4))
	prompt := func(n int) []int32 {
		v := make([]int32, n)
		for i := range v {
			v[i] = int32(rng.IntN(cfg.VocabSize))
		}
		return v
	}
	for _, dt := range []tensor.DType{tensor.F16, tensor.F32} {
		g := openGPU(t, cfg, p, dt)
		if dt == tensor.F16 {
			t.Logf("info: %v", g.Info())
		}
		s1, err := g.NewSession(1, 1024)
		if err != nil {
			t.Fatal(err)
		}
		// TTFT, 128-token prompt: prompt upload → first id on the host.
		p128 := [][]int32{prompt(128)}
		var tt []time.Duration
		for i := range scaled(40) {
			_, st, err := s1.GenerateGreedy(ctx, p128, 1)
			if err != nil {
				t.Fatal(err)
			}
			if i >= scaled(10) {
				tt = append(tt, st.TTFT)
			}
		}
		results = append(results, benchResult{Name: "ttft", DType: dt.String(), Batch: 1, Prompt: 128, NewTokens: 1,
			TTFTms: float64(median(tt).Microseconds()) / 1e3, Runs: len(tt)})
		// Decode, batch 1 and 32: 128-token prompts, 256 / 128 new tokens;
		// f16 also with the layer norms as kernels of their own, and with
		// KernelsV2 (at batch 32, N = 32 > 16 rows, V2 runs V1's plan: a
		// control).
		type decodeCase struct {
			B, n    int
			unfused bool
			kernels Kernels
		}
		n256, n128 := scaled(256), scaled(128)
		cases := []decodeCase{{1, n256, false, KernelsV1}, {32, n128, false, KernelsV1}}
		if dt == tensor.F16 {
			cases = append(cases, decodeCase{1, n256, true, KernelsV1}, decodeCase{32, n128, true, KernelsV1},
				decodeCase{1, n256, false, KernelsV2}, decodeCase{32, n128, false, KernelsV2})
		}
		for _, bc := range cases {
			s := s1
			if bc.B != 1 {
				if s, err = g.NewSession(bc.B, 1024); err != nil {
					t.Fatal(err)
				}
			}
			s.SetFusedNorm(!bc.unfused)
			s.SetKernels(bc.kernels)
			name := "decode_greedy"
			if bc.unfused {
				name = "decode_greedy_unfused"
			}
			if bc.kernels == KernelsV2 {
				name += "_v2"
			}
			prompts := rotate(prompt(128), bc.B)
			var tps []float64
			var ttft []time.Duration
			for i := range 4 {
				_, st, err := s.GenerateGreedy(ctx, prompts, bc.n)
				if err != nil {
					t.Fatal(err)
				}
				if i > 0 {
					tps = append(tps, st.DecodeTokensPerSecond(bc.B))
					ttft = append(ttft, st.TTFT)
				}
			}
			sort.Float64s(tps)
			med := tps[len(tps)/2]
			s.SetFusedNorm(true)
			s.SetKernels(KernelsV1)
			r := benchResult{Name: name, DType: dt.String(), Batch: bc.B, Prompt: 128, NewTokens: bc.n,
				TTFTms: float64(median(ttft).Microseconds()) / 1e3, TokensPerS: med, MsPerStep: 1e3 * float64(bc.B) / med, Runs: len(tps)}
			if bc.B == 1 {
				r.BandwidthShare = bandwidthShare(g, r.MsPerStep)
			}
			results = append(results, r)
			if bc.B != 1 {
				s.Close()
			}
		}
		// The same batch-1 decode launching kernel by kernel (no graphs).
		s1.SetGraphs(false)
		var ng []float64
		for range 2 {
			_, st, err := s1.GenerateGreedy(ctx, [][]int32{prompt(128)}, n128)
			if err != nil {
				t.Fatal(err)
			}
			ng = append(ng, st.DecodeTokensPerSecond(1))
		}
		s1.SetGraphs(true)
		results = append(results, benchResult{Name: "decode_greedy_nograph", DType: dt.String(), Batch: 1, Prompt: 128, NewTokens: n128,
			TokensPerS: max(ng[0], ng[1]), MsPerStep: 1e3 / max(ng[0], ng[1]), Runs: 2})
		// Decode through model.Backend.Forward with logits copied every step (B=1).
		logits := make([]float32, cfg.VocabSize)
		s1.Reset()
		s1.Forward(ctx, p128, logits)
		start := time.Now()
		steps := n128
		for i := range steps {
			if err := s1.Forward(ctx, [][]int32{{int32(i)}}, logits); err != nil {
				t.Fatal(err)
			}
		}
		el := time.Since(start)
		results = append(results, benchResult{Name: "decode_forward_logits", DType: dt.String(), Batch: 1, Prompt: 128, NewTokens: steps,
			TokensPerS: float64(steps) / el.Seconds(), MsPerStep: el.Seconds() * 1e3 / float64(steps), Runs: 1})
		// Per-op breakdown (tracer: synchronized per op, no graph).
		for _, ph := range []struct {
			name string
			T    int
		}{{"prefill128", 128}, {"decode", 1}} {
			ot := &opTimer{sum: map[string]time.Duration{}}
			s1.Reset()
			if ph.T == 1 {
				s1.Forward(ctx, p128, nil)
			}
			s1.SetTracer(ot)
			in := p128
			if ph.T == 1 {
				in = [][]int32{{5}}
			}
			if err := s1.Forward(ctx, in, logits); err != nil {
				t.Fatal(err)
			}
			s1.SetTracer(nil)
			var keys []string
			for k := range ot.sum {
				keys = append(keys, k)
			}
			sort.Slice(keys, func(i, j int) bool { return ot.sum[keys[i]] > ot.sum[keys[j]] })
			var b strings.Builder
			for _, k := range keys {
				fmt.Fprintf(&b, " %s=%.1fus", k, float64(ot.sum[k].Nanoseconds())/1e3)
			}
			t.Logf("ops %s %s (synchronized per op):%s", dt, ph.name, b.String())
		}
		s1.Close()
		g.Close()
	}
	for _, r := range results {
		t.Logf("%-22s %s B=%-2d prompt=%d new=%-3d ttft=%7.3fms tok/s=%9.1f ms/step=%.3f bandwidth=%.1f%%", r.Name, r.DType, r.Batch, r.Prompt, r.NewTokens, r.TTFTms, r.TokensPerS, r.MsPerStep, 100*r.BandwidthShare)
	}
	if path := os.Getenv("GPT2BENCH_CUDA_BENCH_OUT"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		enc := json.NewEncoder(f)
		for _, r := range results {
			enc.Encode(r)
		}
		f.Close()
	}
}
