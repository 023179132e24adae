package cuda

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gpt2bench/gpt2bench/model"
	"github.com/gpt2bench/gpt2bench/tensor"
)

// tiny is the architecture of testdata/tiny-gpt2.
var tiny = model.Config{VocabSize: 1024, NPositions: 64, NEmbd: 64, NLayer: 2, NHead: 4, LayerNormEps: 1e-5, Activation: "gelu_new"}

// ptxParams parses kernels.ptx into kernel name → parameter types
// (".u64", ".u32", ".f32"), the ABI each plan must match.
func ptxParams(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile("kernels.ptx")
	if err != nil {
		t.Fatal(err)
	}
	entry := regexp.MustCompile(`(?s)\.visible \.entry (\w+)\((.*?)\)`)
	param := regexp.MustCompile(`\.param (\.\w+) `)
	out := map[string][]string{}
	for _, m := range entry.FindAllStringSubmatch(string(b), -1) {
		var types []string
		for _, p := range param.FindAllStringSubmatch(m[2], -1) {
			types = append(types, p[1])
		}
		out[m[1]] = types
	}
	return out
}

// ptxMaxThreads parses kernels.ptx into kernel name → the .maxntid its
// __launch_bounds__ gave it (absent: none).
func ptxMaxThreads(t *testing.T) map[string]int {
	t.Helper()
	b, err := os.ReadFile("kernels.ptx")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?s)\.visible \.entry (\w+)\([^)]*\)\s*\.maxntid (\d+), 1, 1`)
	out := map[string]int{}
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		n, err := strconv.Atoi(m[2])
		if err != nil {
			t.Fatal(err)
		}
		out[m[1]] = n
	}
	return out
}

func TestKernelsMatchPTX(t *testing.T) {
	ptx := ptxParams(t)
	src, err := os.ReadFile("kernels.cu")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range kernelNames() {
		if _, ok := ptx[name]; !ok {
			t.Errorf("kernel %s is not in kernels.ptx; run go generate", name)
		}
		if !strings.Contains(string(src), name) {
			t.Errorf("kernel %s is not in kernels.cu", name)
		}
	}
	if len(ptx) != len(kernelNames()) {
		t.Errorf("kernels.ptx has %d entries, kernelNames lists %d", len(ptx), len(kernelNames()))
	}
}

// TestPlanABI checks every launch of every plan against kernels.ptx: the
// arguments' types, the grid and block limits, the shared memory, and a
// __launch_bounds__ (PTX .maxntid) of at least the block on every kernel
// launched with more than 256 threads: without it ptxas may give a thread
// more than the 64 registers a 1024-thread block can have, and the launch
// fails with CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES.
func TestPlanABI(t *testing.T) {
	ptx := ptxParams(t)
	bounds := ptxMaxThreads(t)
	for _, cfg := range []model.Config{tiny, model.GPT2()} {
		for _, dt := range []tensor.DType{tensor.F32, tensor.F16} {
			var shapes []shape
			for _, k := range []Kernels{KernelsV1, KernelsV2} {
				shapes = append(shapes, shape{B: 1, T: 1, Cap: 64, Kernels: k}, shape{B: 1, T: 1, Cap: 63, Unfused: true, Kernels: k},
					shape{B: 3, T: 5, Cap: 64, All: true, Kernels: k}, shape{B: 3, T: 7, Cap: 64, All: true, Kernels: k},
					shape{B: 2, T: 40, Cap: 64, Kernels: k}, shape{B: 32, T: 1, Cap: 64, Kernels: k}, shape{B: 16, T: 1, Cap: 64, Kernels: k},
					shape{B: 1, T: 1, Cap: 64, Kernels: k, NoSample: true},
					shape{B: 2, T: 1, Cap: 64, Kernels: k, Sampling: sampling{Temperature: 0.7, TopK: 5, TopP: 0.9}})
			}
			for _, s := range shapes {
				t.Run(fmt.Sprintf("C=%d/%s/%v", cfg.NEmbd, dt, s), func(t *testing.T) {
					ls, err := plan(cfg, dt, s)
					if err != nil {
						t.Fatal(err)
					}
					checkABI(t, ptx, bounds, ls)
				})
			}
			for _, rs := range []raggedShape{{N: 1, NL: 1}, {N: 3, NL: 0}, {N: 18, NL: 5}, {N: 200, NL: 64}, {N: 70, NL: 64, Greedy: true}, {N: 70, NL: 64, Sample: true}} {
				t.Run(fmt.Sprintf("C=%d/%s/ragged/%+v", cfg.NEmbd, dt, rs), func(t *testing.T) {
					ls, err := raggedPlan(cfg, dt, raggedGeometry(cfg, 16, 100), rs)
					if err != nil {
						t.Fatal(err)
					}
					checkABI(t, ptx, bounds, ls)
				})
			}
		}
	}
}

// checkABI checks launches ls against kernels.ptx (see TestPlanABI).
func checkABI(t *testing.T, ptx map[string][]string, bounds map[string]int, ls []launch) {
	t.Helper()
	for i, l := range ls {
		want, ok := ptx[l.kernel]
		if !ok {
			t.Fatalf("launch %d: kernel %s not in PTX", i, l.kernel)
		}
		if len(want) != len(l.args) {
			t.Fatalf("launch %d %s: %d args, PTX has %d", i, l.kernel, len(l.args), len(want))
		}
		for j, a := range l.args {
			var got string
			switch a.kind {
			case argPtr, argNull:
				got = ".u64"
			case argInt:
				got = ".u32"
			case argFloat:
				got = ".f32"
			}
			if got != want[j] {
				t.Errorf("launch %d %s arg %d: %s, PTX wants %s", i, l.kernel, j, got, want[j])
			}
		}
		if l.block < 1 || l.block > 1024 || l.block%32 != 0 && l.block != 1 {
			t.Errorf("launch %d %s: block %d", i, l.kernel, l.block)
		}
		if mx, ok := bounds[l.kernel]; l.block > 256 && (!ok || mx < l.block) {
			t.Errorf("launch %d %s: block %d, its __launch_bounds__ allow %d (0: none)", i, l.kernel, l.block, mx)
		}
		if l.grid[0] < 1 || l.grid[1] < 1 || l.grid[2] < 1 || l.grid[1] > 65535 || l.grid[2] > 65535 {
			t.Errorf("launch %d %s: grid %v", i, l.kernel, l.grid)
		}
		if l.shared > 48<<10 {
			t.Errorf("launch %d %s: %d bytes of dynamic shared memory, over the 48 KiB default", i, l.kernel, l.shared)
		}
	}
}

func TestPlanStructure(t *testing.T) {
	cfg := model.GPT2()
	tests := []struct {
		name     string
		s        shape
		launches int
		first    string // kernel of the first launch in layer 0
		logits   string
	}{
		// embed; per layer gemv_ln(qkv) store_kv attention proj gemv_ln(fc) fc_proj; gemv_ln(logits) argmax advance.
		{"decode/fused", shape{B: 1, T: 1, Cap: 1024}, 1 + 6*cfg.NLayer + 3, "gemv_ln_f16_1", "gemv_ln_f16_1"},
		// Forward: logits to the host, no argmax.
		{"decode/nosample", shape{B: 1, T: 1, Cap: 1024, NoSample: true}, 1 + 6*cfg.NLayer + 2, "gemv_ln_f16_1", "gemv_ln_f16_1"},
		{"decode/v2/nosample", shape{B: 1, T: 1, Cap: 1024, NoSample: true, Kernels: KernelsV2}, 1 + 5*cfg.NLayer + 2, "gemv_lnkv_f16_1", "gemv_ln2_f16_1"},
		// Temperature: the sample kernel draws the ids (then advance, V1 and V2).
		{"decode/sample", shape{B: 1, T: 1, Cap: 1024, Sampling: sampling{Temperature: 0.8, TopK: 40}}, 1 + 6*cfg.NLayer + 3, "gemv_ln_f16_1", "gemv_ln_f16_1"},
		{"decode/v2/sample", shape{B: 1, T: 1, Cap: 1024, Kernels: KernelsV2, Sampling: sampling{Temperature: 1, TopP: 0.9}}, 1 + 5*cfg.NLayer + 3, "gemv_lnkv_f16_1", "gemv_ln2_f16_1"},
		// embed; per layer ln qkv store_kv attention proj ln fc fc_proj; ln_f logits argmax advance.
		{"decode/unfused", shape{B: 1, T: 1, Cap: 1024, Unfused: true}, 1 + 8*cfg.NLayer + 4, "layernorm", "gemv_f16_1"},
		{"batch16/fused", shape{B: 16, T: 1, Cap: 1024}, 1 + 6*cfg.NLayer + 3, "gemv_ln_f16_8", "gemv_ln_f16_8"},
		// prefill: separate norms; split GEMMs add a reduction each (qkv, proj, fc, fc_proj).
		{"prefill128", shape{B: 1, T: 128, Cap: 1024}, 1 + 12*cfg.NLayer + 3, "layernorm", "gemv_ln_f16_1"}, // ln_f inside the last-row logits GEMV
		{"prefill128/all", shape{B: 1, T: 128, Cap: 1024, All: true}, 1 + 12*cfg.NLayer + 4, "layernorm", "gemm_wmma_f16"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ls, err := plan(cfg, tensor.F16, tc.s)
			if err != nil {
				t.Fatal(err)
			}
			if len(ls) != tc.launches {
				t.Fatalf("%d launches, want %d", len(ls), tc.launches)
			}
			wantLast := []string{"argmax", "advance"}
			switch {
			case tc.s.Sampling.Temperature > 0:
				wantLast[0] = "sample"
			case tc.s.NoSample:
				wantLast = []string{"gemv_ln_f16_1", "advance"}
				if tc.s.Kernels == KernelsV2 {
					wantLast[0] = "gemv_ln2_f16_1"
				}
			}
			if ls[0].kernel != "embed_f16" || ls[len(ls)-1].kernel != wantLast[1] || ls[len(ls)-2].kernel != wantLast[0] {
				t.Errorf("first/last kernels %s ... %s %s", ls[0].kernel, ls[len(ls)-2].kernel, ls[len(ls)-1].kernel)
			}
			if ls[1].kernel != tc.first {
				t.Errorf("layer 0 starts with %s, want %s", ls[1].kernel, tc.first)
			}
			var logits *launch
			for i := range ls {
				if ls[i].op == model.OpLogits && logits == nil {
					logits = &ls[i]
				}
			}
			if logits == nil || logits.kernel != tc.logits || logits.grid[0] != ceilDiv(cfg.VocabSize, gemvWarps) && logits.kernel != "gemm_wmma_f16" {
				t.Errorf("logits launch %+v, want %s", logits, tc.logits)
			}
			// Every per-layer launch points at its own layer's buffers.
			for _, l := range ls {
				for _, a := range l.args {
					if a.kind == argPtr && (a.buf < numLayerBufs || a.buf == bufK || a.buf == bufV) && a.layer != l.layer {
						t.Errorf("%s (layer %d) reads buffer %d of layer %d", l.kernel, l.layer, a.buf, a.layer)
					}
				}
			}
			// Ops appear in model order within each layer.
			last := map[int]model.Op{}
			for _, l := range ls {
				if l.layer < 0 {
					continue
				}
				if op, ok := last[l.layer]; ok && l.op < op {
					t.Errorf("layer %d: op %s after %s", l.layer, l.op, op)
				}
				last[l.layer] = l.op
			}
		})
	}
}

func TestLinearSelection(t *testing.T) {
	tests := []struct {
		dt      tensor.DType
		N, K, M int
		kernel  string
		gridY   int
		threads int
		splits  int // launches: 1, or a split GEMM plus its reduction
	}{
		{tensor.F32, 1, 768, 2304, "gemv_f32_1", 1, 256, 1},
		{tensor.F16, 2, 768, 2304, "gemv_f16_2", 1, 256, 1},
		{tensor.F16, 3, 768, 2304, "gemv_f16_4", 1, 256, 1},
		{tensor.F16, 8, 768, 2304, "gemv_f16_8", 1, 256, 1},
		{tensor.F32, 13, 768, 2304, "gemv_f32_8", 2, 256, 1},
		{tensor.F16, 16, 3072, 768, "gemv_f16_8", 2, 256, 1},
		{tensor.F16, 17, 768, 2304, "gemm_wmma_f16", 1, 128, 3},
		{tensor.F32, 32, 768, 2304, "gemm_simt_f32", 1, 256, 3},
		{tensor.F16, 128, 3072, 768, "gemm_wmma_f16", 2, 128, 6},
		{tensor.F16, 128, 768, 3072, "gemm_wmma_f16", 2, 128, 2},
		{tensor.F16, 128, 64, 192, "gemm_wmma_f16", 2, 128, 1}, // K too short to split
		{tensor.F16, 4096, 768, 2304, "gemm_wmma_f16", 64, 128, 1},
		{tensor.F32, 128, 768, 50257, "gemm_simt_f32", 2, 256, 1},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/N=%d/K=%d/M=%d", tc.dt, tc.N, tc.K, tc.M), func(t *testing.T) {
			ls := linear(tc.dt, tc.N, tc.K, tc.M, ptr(bufQKV), ptr(bufXN), layerPtr(bufAttnW, 0), layerPtr(bufAttnB, 0), epiStore, 0, model.OpQKV)
			l := ls[0]
			if l.kernel != tc.kernel || l.grid[1] != tc.gridY || l.block != tc.threads || l.grid[2] != tc.splits {
				t.Errorf("got %s grid %v block %d, want %s gridY %d block %d splits %d", l.kernel, l.grid, l.block, tc.kernel, tc.gridY, tc.threads, tc.splits)
			}
			if want := map[bool]int{true: 2, false: 1}[tc.splits > 1]; len(ls) != want {
				t.Errorf("%d launches, want %d", len(ls), want)
			}
			// Every output row is covered.
			switch {
			case strings.HasPrefix(l.kernel, "gemv"):
				if l.grid[0]*gemvWarps < tc.M {
					t.Errorf("grid %v covers %d outputs", l.grid, l.grid[0]*gemvWarps)
				}
			default:
				if l.grid[0]*gemmTile < tc.M || l.grid[1]*gemmTile < tc.N {
					t.Errorf("grid %v does not cover %dx%d", l.grid, tc.N, tc.M)
				}
			}
		})
	}
}

// TestSplitK checks the split-K ranges on a grid of shapes: they cover K
// exactly once, in whole wmma tiles, and the partial sums fit the workspace.
func TestSplitK(t *testing.T) {
	for _, N := range []int{17, 32, 64, 100, 128, 256, 512, 1024, 4096} {
		for _, K := range []int{64, 256, 768, 1024, 1280, 1600, 3072, 4096, 5120, 6400} {
			for _, M := range []int{64, 192, 768, 1024, 2304, 3072, 4800, 6400, 50257} {
				splits, kchunk := splitK(N, K, M)
				switch {
				case splits < 1 || splits > 16:
					t.Fatalf("N=%d K=%d M=%d: %d splits", N, K, M, splits)
				case splits == 1 && kchunk < K:
					t.Fatalf("N=%d K=%d M=%d: one split of %d < K", N, K, M, kchunk)
				case splits > 1 && (kchunk%32 != 0 || (splits-1)*kchunk >= K || splits*kchunk < K):
					t.Fatalf("N=%d K=%d M=%d: %d splits of %d do not tile K", N, K, M, splits, kchunk)
				case splits > 1 && splits*N*M > workFloats:
					t.Fatalf("N=%d K=%d M=%d: %d splits need %d floats, workspace %d", N, K, M, splits, splits*N*M, workFloats)
				}
			}
		}
	}
}

func TestCheckConfig(t *testing.T) {
	odd := tiny
	odd.NEmbd, odd.NHead = 60, 4 // HS 15
	tests := []struct {
		name string
		cfg  model.Config
		dt   tensor.DType
		want string
	}{
		{"gpt2/f32", model.GPT2(), tensor.F32, ""},
		{"gpt2/f16", model.GPT2(), tensor.F16, ""},
		{"tiny/f16", tiny, tensor.F16, ""},
		{"int8", tiny, tensor.Q8, "only f32 and f16"},
		{"odd", odd, tensor.F32, "not a multiple of 8"},
	}
	for _, xl := range []string{"gpt2-medium", "gpt2-large", "gpt2-xl", "distilgpt2"} {
		c, _ := model.Preset(xl)
		tests = append(tests, struct {
			name string
			cfg  model.Config
			dt   tensor.DType
			want string
		}{xl, c, tensor.F16, ""})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkConfig(tc.cfg, tc.dt)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestCheckShape(t *testing.T) {
	tests := []struct {
		name string
		s    shape
		ok   bool
	}{
		{"decode", shape{B: 1, T: 1, Cap: 64}, true},
		{"full", shape{B: 4, T: 64, Cap: 64}, true},
		{"batch0", shape{B: 0, T: 1, Cap: 64}, false},
		{"T0", shape{B: 1, T: 0, Cap: 64}, false},
		{"cap", shape{B: 1, T: 1, Cap: 65}, false},
		{"long", shape{B: 1, T: 33, Cap: 32}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkShape(tiny, tc.s)
			if (err == nil) != tc.ok {
				t.Fatalf("checkShape(%v) = %v", tc.s, err)
			}
		})
	}
	var ce *model.ContextError
	if err := checkShape(tiny, shape{B: 1, T: 33, Cap: 32}); !errors.As(err, &ce) || ce.Have != 33 || ce.Max != 32 {
		t.Errorf("want *model.ContextError{33, 32}, got %v", err)
	}
}

func TestSizes(t *testing.T) {
	cfg := model.GPT2()
	// gpt2 in f16: 124.4M params, 2 bytes for the matrices and WTE, 4 for the rest.
	wb := weightBytes(cfg, tensor.F16)
	if wb < 240e6 || wb > 270e6 {
		t.Errorf("f16 weights %d bytes, want about 250 MB", wb)
	}
	if w32 := weightBytes(cfg, tensor.F32); w32 != 4*cfg.NumParams() {
		t.Errorf("f32 weights %d bytes, want 4*%d", w32, cfg.NumParams())
	}
	s := sessionSizes(cfg, 32, 1024, 32*128, 32)
	if want := int64(4 * 12 * 32 * 1024 * 768); s[bufK] != want || s[bufV] != want {
		t.Errorf("KV %d bytes, want %d", s[bufK], want)
	}
	if s[bufLogits] != 4*32*int64(cfg.VocabSize) || s[bufH] != 4*32*128*3072 || s[bufTok] != 4*32*128 ||
		s[bufRNG] != 16*32 || s[bufProbs] != 4*32*int64(cfg.VocabSize) {
		t.Errorf("sizes %v", s)
	}
	if off := kvLayerOffset(cfg, 32, 1024, 11); off+4*32*1024*768 != s[bufK] {
		t.Errorf("last layer offset %d does not end at %d", off, s[bufK])
	}
	if got := attnShared(cfg, 1023); got != 4*(64+1024+32+4*256) {
		t.Errorf("attention shared memory %d", got)
	}
}

func TestArgScalar(t *testing.T) {
	if got := intArg(-1).scalar(); got != 0xffffffff {
		t.Errorf("int -1 → %#x", got)
	}
	if got := floatArg(1).scalar(); got != 0x3f800000 {
		t.Errorf("float 1 → %#x", got)
	}
}

func TestKernelsString(t *testing.T) {
	for k, want := range map[Kernels]string{KernelsV1: "v1", KernelsV2: "v2", 7: "Kernels(7)"} {
		if got := k.String(); got != want {
			t.Errorf("Kernels(%d).String() = %q, want %q", uint8(k), got, want)
		}
	}
}

// TestPlanV2 checks the V2 decode plans launch by launch: 1 + 5L + 2
// launches (V1: 1 + 6L + 3), no store_kv or advance, the KV store in the
// qkv GEMV, and no kernel after the one that advances the position.
func TestPlanV2(t *testing.T) {
	cfg := model.GPT2()
	tests := []struct {
		name    string
		dt      tensor.DType
		s       shape
		nr      int // rows per GEMV block
		threads int // attention block
	}{
		{"decode/f16", tensor.F16, shape{B: 1, T: 1, Cap: 1024}, 1, 1024},
		{"decode/f32", tensor.F32, shape{B: 1, T: 1, Cap: 256}, 1, 1024},
		{"batch3", tensor.F16, shape{B: 3, T: 1, Cap: 1024}, 4, 1024},
		{"batch8", tensor.F16, shape{B: 8, T: 1, Cap: 1024}, 8, 1024},  // 96 attention blocks
		{"batch16", tensor.F16, shape{B: 16, T: 1, Cap: 1024}, 8, 256}, // 192: more than one per SM
		{"prompt4", tensor.F16, shape{B: 2, T: 4, Cap: 1024}, 8, 1024}, // N = 8: decode-sized
		{"prompt4/all", tensor.F16, shape{B: 2, T: 4, Cap: 64, All: true}, 8, 1024},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.s.Kernels = KernelsV2
			ls, err := plan(cfg, tc.dt, tc.s)
			if err != nil {
				t.Fatal(err)
			}
			L := cfg.NLayer
			if want := 1 + 5*L + 2; len(ls) != want {
				t.Fatalf("%d launches, want %d", len(ls), want)
			}
			v1, err := plan(cfg, tc.dt, shape{B: tc.s.B, T: tc.s.T, Cap: tc.s.Cap, All: tc.s.All})
			if err != nil {
				t.Fatal(err)
			}
			if want := 1 + 6*L + 3; len(v1) != want {
				t.Fatalf("V1: %d launches, want %d", len(v1), want)
			}
			wt := tc.dt.String()
			want := []string{"embed_" + wt}
			for range L {
				want = append(want, fmt.Sprintf("gemv_lnkv_%s_%d", wt, tc.nr), "attention_wide", fmt.Sprintf("gemv2_%s_%d", wt, tc.nr),
					fmt.Sprintf("gemv_ln2_%s_%d", wt, tc.nr), fmt.Sprintf("gemv2_%s_%d", wt, tc.nr))
			}
			lnr := 1
			for lnr < tc.s.logitRows() && lnr < 8 {
				lnr *= 2
			}
			want = append(want, fmt.Sprintf("gemv_ln2_%s_%d", wt, lnr), "argmax_advance")
			var got []string
			for _, l := range ls {
				got = append(got, l.kernel)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("kernels\n got %v\nwant %v", got, want)
			}
			N, C := tc.s.rows(), cfg.NEmbd
			for i, l := range ls {
				switch {
				case strings.HasPrefix(l.kernel, "gemv_lnkv"):
					if l.grid != [3]int{ceilDiv(3*C, gemvWarps), ceilDiv(N, tc.nr), 1} || l.op != model.OpQKV {
						t.Errorf("launch %d %s: grid %v op %s", i, l.kernel, l.grid, l.op)
					}
					k, v, pos := l.args[10], l.args[11], l.args[12]
					if k.buf != bufK || v.buf != bufV || k.layer != l.layer || v.layer != l.layer || pos.buf != bufPos ||
						l.args[13].i != int32(tc.s.T) || l.args[14].i != int32(tc.s.Cap) {
						t.Errorf("launch %d %s: cache arguments %+v", i, l.kernel, l.args[10:])
					}
				case l.kernel == "attention_wide":
					if l.block != tc.threads || l.shared != attnSharedFor(cfg, tc.s.Cap, tc.threads) || l.grid != [3]int{tc.s.T, cfg.NHead, tc.s.B} {
						t.Errorf("launch %d: block %d shared %d grid %v, want block %d", i, l.block, l.shared, l.grid, tc.threads)
					}
				case l.kernel == "argmax_advance":
					if i != len(ls)-1 || l.args[5].buf != bufPos || l.args[6].i != int32(tc.s.T) || l.grid[0] != tc.s.B {
						t.Errorf("launch %d argmax_advance: args %+v", i, l.args)
					}
				}
				for _, a := range l.args {
					if a.kind == argPtr && (a.buf < numLayerBufs || a.buf == bufK || a.buf == bufV) && a.layer != l.layer {
						t.Errorf("%s (layer %d) reads buffer %d of layer %d", l.kernel, l.layer, a.buf, a.layer)
					}
				}
			}
			// embed is V1's; proj and fc_proj are V1's GEMVs, argument for
			// argument, under gemv2's name.
			if !reflect.DeepEqual(ls[0], v1[0]) {
				t.Errorf("embed %+v, V1 %+v", ls[0], v1[0])
			}
			for i, j := 0, 0; i < len(ls); i++ {
				if !strings.HasPrefix(ls[i].kernel, "gemv2_") {
					continue
				}
				v1name := "gemv_" + strings.TrimPrefix(ls[i].kernel, "gemv2_")
				for j < len(v1) && v1[j].kernel != v1name {
					j++
				}
				if j == len(v1) {
					t.Fatalf("launch %d %s: no V1 %s left", i, ls[i].kernel, v1name)
				}
				l := ls[i]
				l.kernel = v1name
				if !reflect.DeepEqual(v1[j], l) {
					t.Fatalf("launch %d %s differs from V1's %+v", i, ls[i].kernel, v1[j])
				}
				j++
			}
		})
	}
}

// TestPlanV2KeepsV1 checks that V2 changes nothing but decode-sized fused
// steps: prefill, N > 16 and unfused plans are V1's.
func TestPlanV2KeepsV1(t *testing.T) {
	for _, cfg := range []model.Config{tiny, model.GPT2()} {
		for _, dt := range []tensor.DType{tensor.F32, tensor.F16} {
			for _, s := range []shape{
				{B: 1, T: 48, Cap: 1024}, {B: 1, T: 48, Cap: 1024, All: true}, {B: 1, T: 17, Cap: 64}, {B: 32, T: 1, Cap: 1024},
				{B: 17, T: 1, Cap: 64}, {B: 1, T: 1, Cap: 1024, Unfused: true}, {B: 4, T: 4, Cap: 64, All: true, Unfused: true},
			} {
				s.Cap = min(s.Cap, cfg.NPositions)
				t.Run(fmt.Sprintf("C=%d/%s/%v", cfg.NEmbd, dt, s), func(t *testing.T) {
					v1, err := plan(cfg, dt, s)
					if err != nil {
						t.Fatal(err)
					}
					s.Kernels = KernelsV2
					v2, err := plan(cfg, dt, s)
					if err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(v1, v2) {
						t.Errorf("V2 plan differs from V1's")
					}
				})
			}
		}
	}
}

// TestAttnWide checks V2's attention block: 1024 threads while the grid
// has at most attnWideBlocks blocks and the scores fit the 48 KiB of
// dynamic shared memory, else V1's 256.
func TestAttnWide(t *testing.T) {
	long := model.GPT2()
	long.NPositions = 16384
	tests := []struct {
		name             string
		cfg              model.Config
		capacity, blocks int
		threads, shared  int
	}{
		{"gpt2/decode", model.GPT2(), 1024, 12, 1024, 4 * (64 + 1024 + 32 + 4*1024)},
		{"gpt2/cap1023", model.GPT2(), 1023, 12, 1024, 4 * (64 + 1024 + 32 + 4*1024)},
		{"gpt2/128 blocks", model.GPT2(), 1024, attnWideBlocks, 1024, 4 * (64 + 1024 + 32 + 4*1024)},
		{"gpt2/129 blocks", model.GPT2(), 1024, attnWideBlocks + 1, 256, 4 * (64 + 1024 + 32 + 4*256)},
		{"tiny", tiny, 64, 4, 1024, 4 * (16 + 64 + 32 + 4*1024)},
		// 4*(64 + maxT + 32 + 4096) <= 48 KiB up to maxT = 8096.
		{"long/fits", long, 8096, 12, 1024, 48 << 10},
		{"long/fallback", long, 8097, 12, 256, 4 * (64 + 8100 + 32 + 4*256)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			threads, shared := attnWide(tc.cfg, tc.capacity, tc.blocks)
			if threads != tc.threads || shared != tc.shared {
				t.Errorf("attnWide = %d threads, %d bytes; want %d, %d", threads, shared, tc.threads, tc.shared)
			}
			if shared > maxSharedDefault {
				t.Errorf("%d bytes of shared memory, over the 48 KiB default", shared)
			}
		})
	}
	// The plan takes the fallback too.
	ls, err := plan(long, tensor.F16, shape{B: 1, T: 1, Cap: 9000, Kernels: KernelsV2})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		if l.kernel == "attention_wide" && (l.block != 256 || l.shared != attnSharedFor(long, 9000, 256)) {
			t.Fatalf("attention_wide at capacity 9000: block %d shared %d", l.block, l.shared)
		}
	}
}

// TestRaggedPlan checks a ragged step's launches: embed, ten per block
// (two layer norms, four linear layers, the paged store and attention) on
// all N rows, then the logit rows gathered, ln_f and the LM head on NL
// rows (nothing when NL is 0); bufMeta's parts follow one another; bad
// shapes and geometries are refused.
func TestRaggedPlan(t *testing.T) {
	g := raggedGeometry(tiny, 4, 10)
	if g.Stride != 16 {
		t.Errorf("stride %d for 64 positions in blocks of 4, want 16", g.Stride)
	}
	for _, rs := range []raggedShape{{N: 5, NL: 2}, {N: 40, NL: 0}} {
		ls, err := raggedPlan(tiny, tensor.F32, g, rs)
		if err != nil {
			t.Fatal(err)
		}
		var attn, logits []launch
		for _, l := range ls {
			switch l.kernel {
			case "attention_paged":
				attn = append(attn, l)
			case "gemv_f32_2", "gemm_simt_f32":
				if l.op == model.OpLogits {
					logits = append(logits, l)
				}
			}
		}
		if len(attn) != tiny.NLayer || attn[0].grid != [3]int{rs.N, tiny.NHead, 1} {
			t.Errorf("%+v: %d attention launches, grid %v", rs, len(attn), attn[0].grid)
		}
		if (rs.NL > 0) != (len(logits) == 1) || ls[0].kernel != "embed_ragged_f32" {
			t.Errorf("%+v: %d logit launches, first %s", rs, len(logits), ls[0].kernel)
		}
		m, n := rs.layout(g, 3)
		if m != (metaLayout{Pos: rs.N, Seq: 2 * rs.N, LogRow: 3 * rs.N, Opts: 3*rs.N + rs.NL, Tables: 3*rs.N + rs.NL}) || n != m.Tables+3*16 {
			t.Errorf("%+v: meta layout %+v, %d", rs, m, n)
		}
		rs.Sample = true
		m, n = rs.layout(g, 3)
		NL := rs.NL
		if m != (metaLayout{Tok: 4 * NL, Pos: 4*NL + rs.N, Seq: 4*NL + 2*rs.N, LogRow: 4*NL + 3*rs.N, Opts: 5*NL + 3*rs.N, Tables: 8*NL + 3*rs.N}) || n != m.Tables+3*16 {
			t.Errorf("%+v: meta layout %+v, %d", rs, m, n)
		}
	}
	for _, tc := range []struct {
		g  raggedGeom
		rs raggedShape
	}{
		{g, raggedShape{N: 0}}, {g, raggedShape{N: 2, NL: 3}}, {g, raggedShape{N: 2, NL: -1}}, {g, raggedShape{N: 2, NL: 1, Greedy: true, Sample: true}},
		{raggedGeom{BlockSize: 4, NumBlocks: 10, Stride: 15}, raggedShape{N: 1, NL: 1}},
		{raggedGeom{BlockSize: 0, NumBlocks: 10, Stride: 16}, raggedShape{N: 1, NL: 1}},
	} {
		if _, err := raggedPlan(tiny, tensor.F32, tc.g, tc.rs); err == nil {
			t.Errorf("%+v %+v: no error", tc.g, tc.rs)
		}
	}
}

func TestRaggedBucket(t *testing.T) {
	for _, tc := range []struct{ n, want int }{{1, 1}, {2, 2}, {3, 4}, {5, 8}, {9, 16}, {16, 16}, {17, 32}, {64, 64}, {65, 80}, {256, 256}, {257, 320}, {2048, 2048}, {2049, 2112}} {
		if got := raggedBucket(tc.n); got != tc.want {
			t.Errorf("raggedBucket(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
	for _, tc := range []struct{ in, want raggedShape }{
		{raggedShape{N: 70, NL: 3, Sample: true}, raggedShape{N: 80, NL: 4, Sample: true}},
		{raggedShape{N: 5, NL: 5}, raggedShape{N: 8, NL: 8}},
		{raggedShape{N: 17, NL: 0}, raggedShape{N: 32, NL: 0}},
		{raggedShape{N: 3, NL: 3}, raggedShape{N: 4, NL: 4}},
	} {
		if got := tc.in.bucketed(); got != tc.want {
			t.Errorf("%+v bucketed = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}
