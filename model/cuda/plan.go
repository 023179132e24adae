package cuda

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/gpt2bench/gpt2bench/model"
	"github.com/gpt2bench/gpt2bench/tensor"
)

// This file is the host side of the forward pass in pure Go: which kernel
// runs with which grid, block, shared memory and arguments, and how large
// every device buffer is. It builds without cgo and is unit-tested on the
// CPU; backend.go (tag cuda) only resolves the arguments to device
// pointers and launches.

// buf names a device buffer. Per-layer buffers are resolved with a layer.
type buf uint8

const (
	//lint:ignore U1000 the zero buf, never a real buffer (named so it is not confused with bufLn1W)
	bufNone buf = iota
	// Per-layer weights ([out, in] for matrices).
	bufLn1W  // [C]
	bufLn1B  // [C]
	bufAttnW // [3C, C] dtype
	bufAttnB // [3C]
	bufProjW // [C, C] dtype
	bufProjB // [C]
	bufLn2W  // [C]
	bufLn2B  // [C]
	bufFcW   // [F, C] dtype
	bufFcB   // [F]
	bufFcPW  // [C, F] dtype
	bufFcPB  // [C]
	numLayerBufs
)

const (
	// Model-wide weights.
	bufWTE  buf = numLayerBufs + iota // [V, C] dtype: embeddings and the LM head
	bufWPE                            // [maxT, C]
	bufLnFW                           // [C]
	bufLnFB                           // [C]
	// Session buffers; N = rows, the largest B*T seen.
	bufX      // [N, C] residual stream
	bufXN     // [N, C] layer-norm output
	bufQKV    // [N, 3C]
	bufY      // [N, C] attention output
	bufH      // [N, F] MLP hidden
	bufLogits // [N or B, V]
	bufTok    // [N] int32 input ids; argmax writes the next ids to [B]
	bufPos    // [1] int32 positions cached per sequence (P)
	bufK      // [L, B, capacity, C] keys; resolved per layer
	bufV      // [L, B, capacity, C] values
	bufWork   // [splits, N, M] split-K partial sums, at most workFloats
	bufRNG    // [B] PCG states (hi, lo uint64) of the device sampler
	bufProbs  // [B, V] the sampler's probabilities
	// Ragged steps (raggedPlan).
	bufMeta // int32: rng [NL, 4] | tok [N] | rpos [N] | rseq [N] | logit rows [NL] | opts [NL, 3] | tables [S, stride] (raggedShape.layout)
	bufKP   // [L, numBlocks, blockSize, C] paged keys; resolved per layer
	bufVP   // [L, numBlocks, blockSize, C] paged values
	numBufs
)

// argKind says how a kernel argument is passed.
type argKind uint8

const (
	argPtr   argKind = iota // a device pointer: buf (+ layer)
	argNull                 // a null pointer (no bias)
	argInt                  // int32
	argFloat                // float32
)

// arg is one kernel argument before it is resolved to 8 bytes.
type arg struct {
	kind  argKind
	buf   buf
	layer int
	off   int // argPtr: elements (4 bytes each) past the buffer's start
	i     int32
	f     float32
}

func ptr(b buf) arg             { return arg{kind: argPtr, buf: b, layer: -1} }
func layerPtr(b buf, l int) arg { return arg{kind: argPtr, buf: b, layer: l} }
func null() arg                 { return arg{kind: argNull} }
func metaAt(off int) arg        { return arg{kind: argPtr, buf: bufMeta, layer: -1, off: off} }
func intArg(v int) arg          { return arg{kind: argInt, i: int32(v)} }
func floatArg(v float32) arg    { return arg{kind: argFloat, f: v} }

// scalar returns an int or float argument as the 8-byte slot the driver
// reads it from (a 4-byte parameter takes the low half).
func (a arg) scalar() uint64 {
	if a.kind == argFloat {
		return uint64(math.Float32bits(a.f))
	}
	return uint64(uint32(a.i))
}

// rows returns N = B*T.
func (s shape) rows() int { return s.B * s.T }

// logitRows returns the rows of logits a step writes.
func (s shape) logitRows() int {
	if s.All {
		return s.B * s.T
	}
	return s.B
}

func (s shape) String() string {
	return fmt.Sprintf("B=%d/T=%d/cap=%d/all=%v/unfused=%v/%v/nosample=%v/sampling=%+v", s.B, s.T, s.Cap, s.All, s.Unfused, s.Kernels, s.NoSample, s.Sampling)
}

func isF16(dt tensor.DType) bool { return dt == tensor.F16 }

func dtypeSize(dt tensor.DType) int {
	if isF16(dt) {
		return 2
	}
	return 4
}

// Epilogue modes of the linear kernels (kernels.cu EPI_*).
const (
	epiStore    = 0 // out = x·Wᵀ + b
	epiGELUTanh = 1 // out = gelu_tanh(x·Wᵀ + b)
	epiGELUErf  = 2 // out = gelu_erf(x·Wᵀ + b)
	epiAdd      = 3 // out += x·Wᵀ + b (residual)
)

// Launch geometry shared with kernels.cu.
const (
	gemvWarps     = 8   // output rows per GEMV block (one warp each)
	gemvMaxRows   = 16  // N above this uses a tiled GEMM
	gemmTile      = 64  // GEMM tile: 64 rows of x × 64 rows of w
	attnThreads   = 256 // attention block; HS divides 128
	normThreads   = 256
	argmaxThreads = 1024
	sampleThreads = 1024
	// splitTarget is the number of blocks below which a GEMM splits K
	// across blocks: about one per SM of an H100 (132).
	splitTarget = 128
	// workFloats bounds splits*N*M of any split GEMM: splits is at most
	// ceil(splitTarget/blocks), so splits*blocks < 2*splitTarget, and each
	// block covers at most gemmTile² outputs.
	workFloats = 2 * splitTarget * gemmTile * gemmTile
)

// V2's attention geometry: attnWideThreads per block when the grid has at
// most attnWideBlocks blocks (about one per SM, so every block runs at
// once) and the shared memory fits maxSharedDefault; else attnThreads.
const (
	attnWideThreads  = 1024
	attnWideBlocks   = splitTarget
	maxSharedDefault = 48 << 10 // dynamic shared memory without opting in
)

// launch is one kernel launch of a step.
type launch struct {
	kernel string // extern "C" name in kernels.cu
	grid   [3]int
	block  int
	shared int // dynamic shared memory, bytes
	args   []arg
	layer  int      // -1 outside the blocks (for a Tracer)
	op     model.Op // the op it belongs to; model.NumOps for bookkeeping
}

// Kernels selects the set of kernels a Session's steps use.
type Kernels uint8

const (
	KernelsV1 Kernels = iota // verified and timed on an H100 (the default)
	// KernelsV2 changes decode-sized steps (N <= 16 rows, fused norms;
	// prefill and unfused steps run V1) to 1 + 5L + 2 launches instead of
	// 1 + 6L + 3: the qkv GEMV stores the new keys and values (no
	// store_kv), the fused-norm GEMVs issue their weight loads before the
	// row statistics and read each row with 16-byte loads all in flight,
	// every GEMV loads its bias (and residual) before its dot products
	// instead of after, attention runs 1024-thread blocks when the grid is
	// small, and argmax advances the position (no advance). Not yet run
	// on a GPU.
	KernelsV2
)

// String returns "v1" or "v2".
func (k Kernels) String() string {
	switch k {
	case KernelsV1:
		return "v1"
	case KernelsV2:
		return "v2"
	}
	return fmt.Sprintf("Kernels(%d)", uint8(k))
}

// shape is what a step's plan depends on. The position is not part of it:
// kernels read it from bufPos, so one plan (and one captured graph) serves
// every decode step.
type shape struct {
	B, T int  // sequences, new positions per sequence
	Cap  int  // positions the KV cache holds per sequence (maxT of the kernels)
	All  bool // logits at every position (else the last of each sequence)
	// Unfused runs every layer norm as its own kernel; by default a norm
	// that feeds a GEMV (N <= 16 rows: decode) is computed inside it.
	Unfused bool
	Kernels Kernels // the kernel set of decode-sized fused steps
	// NoSample leaves out the argmax: the logits go to the host (Forward)
	// and no ids are chosen on the GPU.
	NoSample bool
	// Sampling, with a temperature, draws the ids with the sample kernel
	// instead of argmax.
	Sampling sampling
}

// sampling is what the sample kernel's launch depends on: the options of
// model.SampleOptions but the seed (the state lives in bufRNG).
type sampling struct {
	Temperature float32
	TopK        int
	TopP        float32
}

// samplingOf returns the launch parameters of o.
//
//lint:ignore U1000 used by backend.go (build tag cuda), which staticcheck's default build does not see
func samplingOf(o model.SampleOptions) sampling {
	o = o.Normalized()
	return sampling{Temperature: o.Temperature, TopK: o.TopK, TopP: o.TopP}
}

// Sentinel errors of the planner.
var (
	errDType = errors.New("cuda: only f32 and f16 weights run on the GPU; use --dtype f32 or f16")
)

// checkConfig reports an architecture the kernels cannot run: the linear
// kernels read 8 values at a time (C and F multiples of 8), attention
// splits a 128-thread block into whole heads (HS divides 128, HS % 4 == 0).
func checkConfig(cfg model.Config, dt tensor.DType) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if dt != tensor.F32 && dt != tensor.F16 {
		return fmt.Errorf("%w (got %s)", errDType, dt)
	}
	C, F, HS := cfg.NEmbd, cfg.Inner(), cfg.HeadSize()
	var errs []error
	if C%8 != 0 {
		errs = append(errs, fmt.Errorf("n_embd %d is not a multiple of 8", C))
	}
	if F%8 != 0 {
		errs = append(errs, fmt.Errorf("MLP width %d is not a multiple of 8", F))
	}
	if HS%4 != 0 || 128%HS != 0 {
		errs = append(errs, fmt.Errorf("head size %d is not one of 4, 8, 16, 32, 64, 128 (attention splits a row over HS/4 lanes)", HS))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cuda: the GPU kernels cannot run this model: %w", err)
	}
	return nil
}

// checkShape validates a step's shape against the architecture.
func checkShape(cfg model.Config, s shape) error {
	switch {
	case s.B < 1:
		return fmt.Errorf("cuda: batch %d, want >= 1", s.B)
	case s.T < 1:
		return fmt.Errorf("cuda: %d new positions, want >= 1", s.T)
	case s.Cap < 1 || s.Cap > cfg.NPositions:
		return fmt.Errorf("cuda: capacity %d, want 1..%d (n_positions)", s.Cap, cfg.NPositions)
	case s.T > s.Cap:
		return &model.ContextError{Have: s.T, Max: s.Cap}
	}
	return nil
}

// linear plans out[N, M] = epi(x[N, K]·w[M, K]ᵀ + bias): a warp-per-row GEMV
// for N <= 16 (rows in chunks of 1, 2, 4 or 8), else a 64×64-tiled GEMM
// (tensor cores for f16 weights, float32 FMA for f32), split along K with
// a reduction launch when it would have too few blocks to fill the GPU.
func linear(dt tensor.DType, N, K, M int, out, x, w, bias arg, mode, layer int, op model.Op) []launch {
	wt := "f32"
	if isF16(dt) {
		wt = "f16"
	}
	if N <= gemvMaxRows {
		nr := 1
		for nr < N && nr < 8 {
			nr *= 2
		}
		return []launch{{kernel: fmt.Sprintf("gemv_%s_%d", wt, nr), grid: [3]int{ceilDiv(M, gemvWarps), ceilDiv(N, nr), 1},
			block: 32 * gemvWarps, args: []arg{out, x, w, bias, intArg(N), intArg(K), intArg(M), intArg(mode)}, layer: layer, op: op}}
	}
	splits, kchunk := splitK(N, K, M)
	work := null()
	if splits > 1 {
		work = ptr(bufWork)
	}
	l := launch{grid: [3]int{ceilDiv(M, gemmTile), ceilDiv(N, gemmTile), splits}, layer: layer, op: op,
		args: []arg{out, x, w, bias, intArg(N), intArg(K), intArg(M), intArg(mode), work, intArg(kchunk)}}
	if isF16(dt) {
		l.kernel, l.block = "gemm_wmma_f16", 128
	} else {
		l.kernel, l.block = "gemm_simt_f32", 256
	}
	if splits == 1 {
		return []launch{l}
	}
	return []launch{l, {kernel: "splitk_reduce", grid: [3]int{ceilDiv(N*M, 256), 1, 1}, block: 256, layer: layer, op: op,
		args: []arg{out, ptr(bufWork), bias, intArg(N), intArg(M), intArg(splits), intArg(mode)}}}
}

// splitK returns how many blocks share the K loop of an N×M GEMM and the
// k range each takes (a multiple of 32, the wmma tile depth): 1 and K when
// the tiles alone give splitTarget blocks or K is short.
func splitK(N, K, M int) (splits, kchunk int) {
	blocks := ceilDiv(M, gemmTile) * ceilDiv(N, gemmTile)
	if blocks >= splitTarget || K < 512 {
		return 1, K
	}
	s := min(ceilDiv(splitTarget, blocks), K/256, 16)
	kchunk = ceilDiv(ceilDiv(K, s), 32) * 32
	return ceilDiv(K, kchunk), kchunk
}

// gemvLN plans out[N, M] = epi(ln(x)·wᵀ + bias) with the layer norm (gain
// g, bias b) computed inside the GEMV, reading row n of x at n*xstep+xoff.
// For N <= 16 rows.
func gemvLN(dt tensor.DType, N, K, M int, out, x, w, bias, g, b arg, eps float32, xstep, xoff, mode, layer int, op model.Op) launch {
	wt := "f32"
	if isF16(dt) {
		wt = "f16"
	}
	nr := 1
	for nr < N && nr < 8 {
		nr *= 2
	}
	return launch{kernel: fmt.Sprintf("gemv_ln_%s_%d", wt, nr), grid: [3]int{ceilDiv(M, gemvWarps), ceilDiv(N, nr), 1}, block: 32 * gemvWarps,
		args:  []arg{out, x, w, bias, intArg(N), intArg(K), intArg(M), intArg(mode), g, b, floatArg(eps), intArg(xstep), intArg(xoff)},
		layer: layer, op: op}
}

// gemv2 is linear's GEMV (N <= 16 rows) with V2's kernel (gemv2: bias
// and residual requested before the dot products).
func gemv2(dt tensor.DType, N, K, M int, out, x, w, bias arg, mode, layer int, op model.Op) launch {
	l := linear(dt, N, K, M, out, x, w, bias, mode, layer, op)[0]
	l.kernel = "gemv2" + strings.TrimPrefix(l.kernel, "gemv")
	return l
}

// gemvLN2 is gemvLN with V2's kernel (gemv_ln2: weights requested before
// the row statistics, float4 statistics loads).
func gemvLN2(dt tensor.DType, N, K, M int, out, x, w, bias, g, b arg, eps float32, xstep, xoff, mode, layer int, op model.Op) launch {
	l := gemvLN(dt, N, K, M, out, x, w, bias, g, b, eps, xstep, xoff, mode, layer, op)
	l.kernel = "gemv_ln2" + strings.TrimPrefix(l.kernel, "gemv_ln")
	return l
}

// gemvLNKV plans V2's qkv GEMV of layer l: qkv[N, 3C] = ln(x)·wᵀ + bias
// (gemv_ln2) that also stores the keys and values of its N = B*T rows in
// the layer's cache at positions P..P+T-1 (replacing store_kv).
func gemvLNKV(dt tensor.DType, N, C, T, capacity int, eps float32, l int) launch {
	lp := func(b buf) arg { return layerPtr(b, l) }
	g := gemvLN(dt, N, C, 3*C, ptr(bufQKV), ptr(bufX), lp(bufAttnW), lp(bufAttnB), lp(bufLn1W), lp(bufLn1B), eps, 1, 0, epiStore, l, model.OpQKV)
	g.kernel = "gemv_lnkv" + strings.TrimPrefix(g.kernel, "gemv_ln")
	g.args = []arg{ptr(bufQKV), ptr(bufX), lp(bufAttnW), lp(bufAttnB), intArg(N), intArg(C), intArg(3 * C), lp(bufLn1W), lp(bufLn1B), floatArg(eps),
		lp(bufK), lp(bufV), ptr(bufPos), intArg(T), intArg(capacity)}
	return g
}

// attnShared returns the attention kernel's dynamic shared memory: q [HS],
// scores [capacity rounded up to 4], a reduction scratch [32] and partial
// sums [4*attnThreads].
func attnShared(cfg model.Config, capacity int) int {
	return attnSharedFor(cfg, capacity, attnThreads)
}

// attnSharedFor is attnShared for a block of threads (attention_wide).
func attnSharedFor(cfg model.Config, capacity, threads int) int {
	return 4 * (cfg.HeadSize() + (capacity+3)&^3 + 32 + 4*threads)
}

// attnWide returns V2's attention block and dynamic shared memory for a
// grid of blocks (T*NH*B): attnWideThreads when the grid is small enough
// for every block to run at once and the scores fit the 48 KiB default,
// else attnThreads.
func attnWide(cfg model.Config, capacity, blocks int) (threads, shared int) {
	if blocks <= attnWideBlocks {
		if sh := attnSharedFor(cfg, capacity, attnWideThreads); sh <= maxSharedDefault {
			return attnWideThreads, sh
		}
	}
	return attnThreads, attnSharedFor(cfg, capacity, attnThreads)
}

// attnSerialShared is attention_serial's (128 threads) shared memory.
//
//lint:ignore U1000 used by the GPU tests (build tag cuda)
func attnSerialShared(cfg model.Config, capacity int) int {
	return 4 * (cfg.HeadSize() + capacity + 32 + 128)
}

// plan returns the launches of one forward step of shape s, in order:
// embed; per block ln_1, qkv (+ store_kv), attention, proj (+ residual),
// ln_2, fc (+ GELU), fc_proj (+ residual); ln_f, logits, argmax, advance.
// Unless s.Unfused, the layer norms of a step of N <= 16 rows run inside
// the GEMV that reads them (their time is reported under qkv, mlp_up and
// logits). Such a step with s.Kernels == KernelsV2 runs V2's kernels:
// embed; per block qkv with the cache store (gemv_lnkv), attention_wide,
// proj (gemv2), mlp_up (gemv_ln2), fc_proj (gemv2); logits (gemv_ln2),
// argmax_advance. With s.NoSample the step ends with the logits and
// advance (no argmax); with a sampling temperature, with sample (which
// draws the ids as model.Sampler does) and advance.
func plan(cfg model.Config, dt tensor.DType, s shape) ([]launch, error) {
	if err := checkConfig(cfg, dt); err != nil {
		return nil, err
	}
	if err := checkShape(cfg, s); err != nil {
		return nil, err
	}
	C, F, V, NH := cfg.NEmbd, cfg.Inner(), cfg.VocabSize, cfg.NHead
	N := s.B * s.T
	eps := cfg.LayerNormEps
	gelu := epiGELUTanh
	if cfg.Activation == "gelu" {
		gelu = epiGELUErf
	}
	wt := "f32"
	if isF16(dt) {
		wt = "f16"
	}
	norm := func(out, x, g, b arg, rows, step, off, layer int, op model.Op) launch {
		return launch{kernel: "layernorm", grid: [3]int{rows, 1, 1}, block: normThreads,
			args: []arg{out, x, g, b, intArg(C), floatArg(eps), intArg(step), intArg(off)}, layer: layer, op: op}
	}
	ls := make([]launch, 0, 3+12*cfg.NLayer+5)
	ls = append(ls, launch{kernel: "embed_" + wt, grid: [3]int{N, 1, 1}, block: normThreads,
		args: []arg{ptr(bufX), ptr(bufWTE), ptr(bufWPE), ptr(bufTok), ptr(bufPos), intArg(s.T), intArg(C)}, layer: -1, op: model.OpEmbed})
	scale := float32(1 / math.Sqrt(float64(cfg.HeadSize())))
	fuse := !s.Unfused && N <= gemvMaxRows
	v2 := fuse && s.Kernels == KernelsV2
	for l := range cfg.NLayer {
		lp := func(b buf) arg { return layerPtr(b, l) }
		if v2 {
			threads, shared := attnWide(cfg, s.Cap, s.T*NH*s.B)
			ls = append(ls, gemvLNKV(dt, N, C, s.T, s.Cap, eps, l),
				launch{kernel: "attention_wide", grid: [3]int{s.T, NH, s.B}, block: threads, shared: shared,
					args:  []arg{ptr(bufY), ptr(bufQKV), lp(bufK), lp(bufV), ptr(bufPos), intArg(s.T), intArg(C), intArg(NH), intArg(s.Cap), floatArg(scale)},
					layer: l, op: model.OpAttnScores},
			)
			ls = append(ls, gemv2(dt, N, C, C, ptr(bufX), ptr(bufY), lp(bufProjW), lp(bufProjB), epiAdd, l, model.OpAttnProj))
			ls = append(ls, gemvLN2(dt, N, C, F, ptr(bufH), ptr(bufX), lp(bufFcW), lp(bufFcB), lp(bufLn2W), lp(bufLn2B), eps, 1, 0, gelu, l, model.OpMLPUp))
			ls = append(ls, gemv2(dt, N, F, C, ptr(bufX), ptr(bufH), lp(bufFcPW), lp(bufFcPB), epiAdd, l, model.OpMLPDown))
			continue
		}
		if fuse {
			ls = append(ls, gemvLN(dt, N, C, 3*C, ptr(bufQKV), ptr(bufX), lp(bufAttnW), lp(bufAttnB), lp(bufLn1W), lp(bufLn1B), eps, 1, 0, epiStore, l, model.OpQKV))
		} else {
			ls = append(ls, norm(ptr(bufXN), ptr(bufX), lp(bufLn1W), lp(bufLn1B), N, 1, 0, l, model.OpLN1))
			ls = append(ls, linear(dt, N, C, 3*C, ptr(bufQKV), ptr(bufXN), lp(bufAttnW), lp(bufAttnB), epiStore, l, model.OpQKV)...)
		}
		ls = append(ls,
			launch{kernel: "store_kv", grid: [3]int{N, 1, 1}, block: normThreads,
				args: []arg{lp(bufK), lp(bufV), ptr(bufQKV), ptr(bufPos), intArg(s.T), intArg(C), intArg(s.Cap)}, layer: l, op: model.OpQKV},
			launch{kernel: "attention", grid: [3]int{s.T, NH, s.B}, block: attnThreads, shared: attnShared(cfg, s.Cap),
				args:  []arg{ptr(bufY), ptr(bufQKV), lp(bufK), lp(bufV), ptr(bufPos), intArg(s.T), intArg(C), intArg(NH), intArg(s.Cap), floatArg(scale)},
				layer: l, op: model.OpAttnScores})
		ls = append(ls, linear(dt, N, C, C, ptr(bufX), ptr(bufY), lp(bufProjW), lp(bufProjB), epiAdd, l, model.OpAttnProj)...)
		if fuse {
			ls = append(ls, gemvLN(dt, N, C, F, ptr(bufH), ptr(bufX), lp(bufFcW), lp(bufFcB), lp(bufLn2W), lp(bufLn2B), eps, 1, 0, gelu, l, model.OpMLPUp))
		} else {
			ls = append(ls, norm(ptr(bufXN), ptr(bufX), lp(bufLn2W), lp(bufLn2B), N, 1, 0, l, model.OpLN2))
			ls = append(ls, linear(dt, N, C, F, ptr(bufH), ptr(bufXN), lp(bufFcW), lp(bufFcB), gelu, l, model.OpMLPUp)...)
		}
		ls = append(ls, linear(dt, N, F, C, ptr(bufX), ptr(bufH), lp(bufFcPW), lp(bufFcPB), epiAdd, l, model.OpMLPDown)...)
	}
	rows, step, off := s.B, s.T, s.T-1 // last position of each sequence
	if s.All {
		rows, step, off = N, 1, 0
	}
	switch {
	case v2: // rows <= N <= gemvMaxRows
		ls = append(ls, gemvLN2(dt, rows, C, V, ptr(bufLogits), ptr(bufX), ptr(bufWTE), null(), ptr(bufLnFW), ptr(bufLnFB), eps, step, off, epiStore, -1, model.OpLogits))
	case !s.Unfused && rows <= gemvMaxRows:
		ls = append(ls, gemvLN(dt, rows, C, V, ptr(bufLogits), ptr(bufX), ptr(bufWTE), null(), ptr(bufLnFW), ptr(bufLnFB), eps, step, off, epiStore, -1, model.OpLogits))
	default:
		ls = append(ls, norm(ptr(bufXN), ptr(bufX), ptr(bufLnFW), ptr(bufLnFB), rows, step, off, -1, model.OpLNF))
		ls = append(ls, linear(dt, rows, C, V, ptr(bufLogits), ptr(bufXN), ptr(bufWTE), null(), epiStore, -1, model.OpLogits)...)
	}
	astep, aoff := 1, 0
	if s.All {
		astep, aoff = s.T, s.T-1
	}
	advance := launch{kernel: "advance", grid: [3]int{1, 1, 1}, block: 1, args: []arg{ptr(bufPos), intArg(s.T)}, layer: -1, op: model.NumOps}
	if s.NoSample {
		return append(ls, advance), nil
	}
	if sp := s.Sampling; sp.Temperature > 0 {
		return append(ls, launch{kernel: "sample", grid: [3]int{s.B, 1, 1}, block: sampleThreads, layer: -1, op: model.OpSample,
			args: []arg{ptr(bufTok), ptr(bufLogits), intArg(V), intArg(astep), intArg(aoff),
				floatArg(sp.Temperature), intArg(sp.TopK), floatArg(sp.TopP), ptr(bufRNG), ptr(bufProbs)}}, advance), nil
	}
	if v2 { // argmax reads no position and no later kernel does
		return append(ls, launch{kernel: "argmax_advance", grid: [3]int{s.B, 1, 1}, block: argmaxThreads,
			args: []arg{ptr(bufTok), ptr(bufLogits), intArg(V), intArg(astep), intArg(aoff), ptr(bufPos), intArg(s.T)}, layer: -1, op: model.OpSample}), nil
	}
	ls = append(ls,
		launch{kernel: "argmax", grid: [3]int{s.B, 1, 1}, block: argmaxThreads,
			args: []arg{ptr(bufTok), ptr(bufLogits), intArg(V), intArg(astep), intArg(aoff)}, layer: -1, op: model.OpSample},
		advance)
	return ls, nil
}

// kernelNames lists every kernel plan can name, for loading the module.
func kernelNames() []string {
	names := []string{"embed_f32", "embed_f16", "layernorm", "store_kv", "attention", "argmax", "advance",
		"gemm_simt_f32", "gemm_simt_f16", "gemm_wmma_f16", "splitk_reduce", "attention_serial",
		"attention_wide", "argmax_advance", // V2
		"sample",
		"embed_ragged_f32", "embed_ragged_f16", "store_kv_paged", "attention_paged", "gather_rows", "sample_rows"} // ragged steps
	for _, wt := range []string{"f32", "f16"} {
		for _, nr := range []int{1, 2, 4, 8} {
			names = append(names, fmt.Sprintf("gemv_%s_%d", wt, nr), fmt.Sprintf("gemv_ln_%s_%d", wt, nr),
				fmt.Sprintf("gemv2_%s_%d", wt, nr), fmt.Sprintf("gemv_ln2_%s_%d", wt, nr), fmt.Sprintf("gemv_lnkv_%s_%d", wt, nr))
		}
	}
	return names
}

// sessionSizes returns the bytes of each session buffer for rows = the
// largest B*T and logitRows = the largest logits row count.
func sessionSizes(cfg model.Config, B, capacity, rows, logitRows int) map[buf]int64 {
	C, F, V, L := int64(cfg.NEmbd), int64(cfg.Inner()), int64(cfg.VocabSize), int64(cfg.NLayer)
	N := int64(rows)
	kv := 4 * L * int64(B) * int64(capacity) * C
	return map[buf]int64{
		bufX: 4 * N * C, bufXN: 4 * N * C, bufQKV: 4 * N * 3 * C, bufY: 4 * N * C, bufH: 4 * N * F,
		bufLogits: 4 * int64(logitRows) * V, bufTok: 4 * N, bufPos: 4, bufK: kv, bufV: kv, bufWork: 4 * workFloats,
		bufRNG: 16 * int64(B), bufProbs: 4 * int64(B) * V,
	}
}

// kvLayerOffset returns the byte offset of layer l in bufK or bufV.
func kvLayerOffset(cfg model.Config, B, capacity, l int) int64 {
	return 4 * int64(l) * int64(B) * int64(capacity) * int64(cfg.NEmbd)
}

// weightBytes returns the device memory the weights take in dtype dt.
func weightBytes(cfg model.Config, dt tensor.DType) int64 {
	C, F, V, T := int64(cfg.NEmbd), int64(cfg.Inner()), int64(cfg.VocabSize), int64(cfg.NPositions)
	ds := int64(dtypeSize(dt))
	perLayer := ds*(3*C*C+C*C+F*C+C*F) + 4*(2*C+3*C+C+2*C+F+C)
	return ds*V*C + 4*T*C + 4*2*C + int64(cfg.NLayer)*perLayer
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// raggedShape is what a ragged step's plan depends on: its rows and its
// logit rows. Positions, sequences and block tables travel in bufMeta.
type raggedShape struct {
	N      int  // rows: new tokens of every sequence
	NL     int  // rows that want logits
	Greedy bool // argmax of each logit row into bufTok [NL] (StepGreedy)
	Sample bool // each logit row's own options and PCG state into bufTok [NL] (StepSample)
}

// raggedGeom is a Ragged's fixed geometry: the paged pool's block size and
// block count, and the entries per block table (blocks of n_positions).
// The device pool holds one block more, NumBlocks, where the padding rows
// of a bucketed step store their keys and values.
type raggedGeom struct {
	BlockSize, NumBlocks, Stride int
}

// raggedBucket returns the rows a captured ragged step of n rows runs
// (n >= 1): n rounded up to a power of two up to 16, to a multiple of 16
// up to 256, then of 64. Each bucket is one CUDA graph; the padding rows
// are computed and thrown away.
func raggedBucket(n int) int {
	switch {
	case n <= 16:
		b := 1
		for b < n {
			b *= 2
		}
		return b
	case n <= 256:
		return ceilDiv(n, 16) * 16
	}
	return ceilDiv(n, 64) * 64
}

// bucketed returns the shape a captured step of r runs: N and NL rounded
// up by raggedBucket (NL no further than N; 0 stays 0).
func (r raggedShape) bucketed() raggedShape {
	b := r
	b.N = raggedBucket(r.N)
	if r.NL > 0 {
		b.NL = min(raggedBucket(r.NL), b.N)
	}
	return b
}

// raggedGeometry returns the geometry of a pool of numBlocks blocks of
// blockSize positions for cfg.
func raggedGeometry(cfg model.Config, blockSize, numBlocks int) raggedGeom {
	return raggedGeom{BlockSize: blockSize, NumBlocks: numBlocks, Stride: ceilDiv(cfg.NPositions, blockSize)}
}

// metaLayout is where each part of bufMeta starts, in int32 elements.
type metaLayout struct {
	RNG    int // [NL, 2] uint64 PCG states (hi, lo), with Sample; at 0 (aligned)
	Tok    int // [N] token ids
	Pos    int // [N] positions
	Seq    int // [N] sequences
	LogRow int // [NL] rows that want logits
	Opts   int // [NL, 3] temperature bits, top-k, top-p bits, with Sample
	Tables int // [S, stride] block tables
}

// layout returns bufMeta's layout for r and the int32s a step of S
// sequences uploads.
func (r raggedShape) layout(g raggedGeom, S int) (metaLayout, int) {
	var m metaLayout
	if r.Sample {
		m.Tok = 4 * r.NL
	}
	m.Pos, m.Seq = m.Tok+r.N, m.Tok+2*r.N
	m.LogRow = m.Tok + 3*r.N
	m.Opts = m.LogRow + r.NL
	m.Tables = m.Opts
	if r.Sample {
		m.Tables += 3 * r.NL
	}
	return m, m.Tables + S*g.Stride
}

// raggedPlan returns the launches of one ragged step: embed each row at
// its own position; per block ln_1, qkv, the keys and values stored in
// each row's block (store_kv_paged), attention over each row's sequence
// through its block table (attention_paged), proj (+ residual), ln_2, fc
// (+ GELU), fc_proj (+ residual); then the rows that want logits gathered,
// ln_f and the LM head, and with r.Greedy argmax of each logit row, with
// r.Sample each row's own draw (sample_rows). Layer
// norms run as kernels of their own; linear layers are linear's GEMV
// (N <= 16) or GEMM over all N rows at once.
func raggedPlan(cfg model.Config, dt tensor.DType, g raggedGeom, r raggedShape) ([]launch, error) {
	if err := checkConfig(cfg, dt); err != nil {
		return nil, err
	}
	if r.N < 1 || r.NL < 0 || r.NL > r.N || r.Greedy && r.Sample {
		return nil, fmt.Errorf("cuda: ragged step of %d rows with %d logit rows (greedy %v, sample %v)", r.N, r.NL, r.Greedy, r.Sample)
	}
	if g.BlockSize < 1 || g.NumBlocks < 1 || g.Stride*g.BlockSize < cfg.NPositions {
		return nil, fmt.Errorf("cuda: paged KV cache of %d blocks of %d positions, %d per table", g.NumBlocks, g.BlockSize, g.Stride)
	}
	C, F, V, NH, N := cfg.NEmbd, cfg.Inner(), cfg.VocabSize, cfg.NHead, r.N
	eps := cfg.LayerNormEps
	gelu := epiGELUTanh
	if cfg.Activation == "gelu" {
		gelu = epiGELUErf
	}
	wt := "f32"
	if isF16(dt) {
		wt = "f16"
	}
	m, _ := r.layout(g, 0)
	tok, pos, seq, logRow, tables := m.Tok, m.Pos, m.Seq, m.LogRow, m.Tables
	norm := func(out, x, gw, gb arg, rows, layer int, op model.Op) launch {
		return launch{kernel: "layernorm", grid: [3]int{rows, 1, 1}, block: normThreads,
			args: []arg{out, x, gw, gb, intArg(C), floatArg(eps), intArg(1), intArg(0)}, layer: layer, op: op}
	}
	scale := float32(1 / math.Sqrt(float64(cfg.HeadSize())))
	maxT := cfg.NPositions
	ls := make([]launch, 0, 1+10*cfg.NLayer+5)
	ls = append(ls, launch{kernel: "embed_ragged_" + wt, grid: [3]int{N, 1, 1}, block: normThreads,
		args: []arg{ptr(bufX), ptr(bufWTE), ptr(bufWPE), metaAt(tok), metaAt(pos), intArg(C)}, layer: -1, op: model.OpEmbed})
	for l := range cfg.NLayer {
		lp := func(b buf) arg { return layerPtr(b, l) }
		ls = append(ls, norm(ptr(bufXN), ptr(bufX), lp(bufLn1W), lp(bufLn1B), N, l, model.OpLN1))
		ls = append(ls, linear(dt, N, C, 3*C, ptr(bufQKV), ptr(bufXN), lp(bufAttnW), lp(bufAttnB), epiStore, l, model.OpQKV)...)
		ls = append(ls,
			launch{kernel: "store_kv_paged", grid: [3]int{N, 1, 1}, block: normThreads, layer: l, op: model.OpQKV,
				args: []arg{lp(bufKP), lp(bufVP), ptr(bufQKV), metaAt(pos), metaAt(seq), metaAt(tables), intArg(g.Stride), intArg(g.BlockSize), intArg(C)}},
			launch{kernel: "attention_paged", grid: [3]int{N, NH, 1}, block: attnThreads, shared: attnShared(cfg, maxT), layer: l, op: model.OpAttnScores,
				args: []arg{ptr(bufY), ptr(bufQKV), lp(bufKP), lp(bufVP), metaAt(pos), metaAt(seq), metaAt(tables), intArg(g.Stride), intArg(g.BlockSize),
					intArg(C), intArg(NH), intArg(maxT), floatArg(scale)}})
		ls = append(ls, linear(dt, N, C, C, ptr(bufX), ptr(bufY), lp(bufProjW), lp(bufProjB), epiAdd, l, model.OpAttnProj)...)
		ls = append(ls, norm(ptr(bufXN), ptr(bufX), lp(bufLn2W), lp(bufLn2B), N, l, model.OpLN2))
		ls = append(ls, linear(dt, N, C, F, ptr(bufH), ptr(bufXN), lp(bufFcW), lp(bufFcB), gelu, l, model.OpMLPUp)...)
		ls = append(ls, linear(dt, N, F, C, ptr(bufX), ptr(bufH), lp(bufFcPW), lp(bufFcPB), epiAdd, l, model.OpMLPDown)...)
	}
	if r.NL == 0 {
		return ls, nil
	}
	ls = append(ls, launch{kernel: "gather_rows", grid: [3]int{r.NL, 1, 1}, block: normThreads, layer: -1, op: model.OpLNF,
		args: []arg{ptr(bufY), ptr(bufX), metaAt(logRow), intArg(C)}})
	ls = append(ls, norm(ptr(bufXN), ptr(bufY), ptr(bufLnFW), ptr(bufLnFB), r.NL, -1, model.OpLNF))
	ls = append(ls, linear(dt, r.NL, C, V, ptr(bufLogits), ptr(bufXN), ptr(bufWTE), null(), epiStore, -1, model.OpLogits)...)
	switch {
	case r.Greedy:
		ls = append(ls, launch{kernel: "argmax", grid: [3]int{r.NL, 1, 1}, block: argmaxThreads, layer: -1, op: model.OpSample,
			args: []arg{ptr(bufTok), ptr(bufLogits), intArg(V), intArg(1), intArg(0)}})
	case r.Sample:
		ls = append(ls, launch{kernel: "sample_rows", grid: [3]int{r.NL, 1, 1}, block: sampleThreads, layer: -1, op: model.OpSample,
			args: []arg{ptr(bufTok), ptr(bufLogits), intArg(V), metaAt(m.Opts), metaAt(m.RNG), ptr(bufProbs)}})
	}
	return ls, nil
}
