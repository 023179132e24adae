package model

import "github.com/gpt2bench/gpt2bench/tensor"

// Analytic cost of each op, for the profiler's roofline: the floating-point
// operations an op performs and the bytes it must move, derived from the
// shapes alone (ggml sizes its buffers the same way).
//
// Conventions, used by every formula below:
//   - A multiply-add is 2 FLOPs. exp, tanh and division count as 1 FLOP each,
//     so elementwise counts are a lower bound on the instructions executed.
//   - Bytes are compulsory traffic: every weight, activation and cache row
//     the op needs is read once and every result written once, float32
//     activations (4 bytes), weights at weightBytesPerValue. Re-reads that a
//     kernel makes because its working set does not fit in cache are not
//     counted, so GB/s from these bytes is a lower bound on real traffic.
//   - Dimensions as in doc.go: N = B*T rows, P = st.Pos cached positions,
//     C, F, NH, HS = C/NH, V. Causal attention over the cache: new row t
//     (0-based) of a sequence sees P+t+1 positions, so the (query, key)
//     pairs per head and sequence are A = T*P + T(T+1)/2.

// LayerNormFLOPsPerValue is the FLOPs per element of tensor.LayerNorm:
// mean (1 add), variance (subtract, multiply, add) and normalise
// (subtract, multiply by rstd, multiply by gain, add bias).
const LayerNormFLOPsPerValue = 1 + 3 + 4

// SoftmaxFLOPsPerValue is the FLOPs per element of tensor.Softmax: max (1
// compare), subtract, exp, add to the sum, and the final multiply.
const SoftmaxFLOPsPerValue = 1 + 3 + 1

// GELUFLOPsPerValue is the FLOPs per element of the tanh GELU written as
// x·½(1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³): x·x·x (2), ·0.044715, +x,
// ·√(2/π), tanh, 1+, ½·x and the final multiply. (The erf form and the
// kernel's x·σ(2u) rewrite differ by a FLOP or two; the count is nominal.)
const GELUFLOPsPerValue = 9

// GELUFused is true while Session runs GELU inside the MLP up projection
// (tensor Runner.LinearAct, each thread activating its own columns): the
// activation's FLOPs are then counted in OpMLPUp, h is never re-read, and
// OpGELU, still reported around an empty span, costs nothing. It must
// match Ragged.block (Session), and GonumSession and RefSession, which
// apply GELU inside their mlp_up span for the same accounting.
const GELUFused = true

// WeightBytesPerValue returns the bytes one weight occupies when stored as
// dt: 4 for F32, 2 for F16, 1 + 4/32 for Q8 (an int8 plus its share of a
// float32 scale per block of 32 values), 1/2 + 4/32 for Q4.
func WeightBytesPerValue(dt tensor.DType) float64 {
	switch dt {
	case tensor.F16:
		return 2
	case tensor.Q8:
		return 1 + 4.0/tensor.Q8Block
	case tensor.Q4:
		return 0.5 + 4.0/tensor.Q8Block
	default:
		return 4
	}
}

// attnPairs returns A, the (query, key) pairs per head and sequence of one
// step: Σ_{t<T} (P+t+1) = T*P + T(T+1)/2.
func attnPairs(st Step) float64 {
	T, P := float64(st.T), float64(st.Pos)
	return T*P + T*(T+1)/2
}

// shape returns, for any step, N (rows), B·A (query-key pairs per head
// over all sequences), B·(P+T) (cache rows read per layer) and the rows
// through the LM head. A lockstep step derives them from B, T and Pos; a
// ragged step carries them.
func (st Step) shape() (rows, pairs, cached, logitRows float64) {
	if st.Ragged {
		return float64(st.Rows), float64(st.Pairs), float64(st.Cached), float64(st.LogitRows)
	}
	B := float64(st.B)
	logitRows = B
	if st.AllLogits {
		logitRows = B * float64(st.T)
	}
	return B * float64(st.T), B * attnPairs(st), B * float64(st.Pos+st.T), logitRows
}

// linearCost is the cost of out[n, M] = x[n, K]·W[M, K]ᵀ + b[M]:
//
//	FLOPs = 2·n·K·M (multiply-adds) + n·M (bias, when present)
//	bytes = M·K·wb (weights) + 4·M (bias) + 4·n·K (x) + 4·n·M (out)
func linearCost(n, K, M int, bias bool, wb float64) (flops, bytes float64) {
	fn, fK, fM := float64(n), float64(K), float64(M)
	flops = 2 * fn * fK * fM
	bytes = fM*fK*wb + 4*fn*fK + 4*fn*fM
	if bias {
		flops += fn * fM
		bytes += 4 * fM
	}
	return flops, bytes
}

// OpCost returns the FLOPs and bytes of one call of op during step st (the
// whole step: all B sequences and T new positions; for a per-layer op, one
// layer). weightBytesPerValue is the storage of the weight matrices and
// the tied embedding/LM head (see WeightBytesPerValue); layer-norm gains,
// biases and wpe are float32. OpSample is the sampling of one token per
// sequence from the step's last logits. An unknown op costs nothing.
func OpCost(cfg Config, op Op, st Step, weightBytesPerValue float64) (flops, bytes float64) {
	wb := weightBytesPerValue
	N, BA, cached, lr := st.shape()
	rows := int(lr)
	n := int(N)
	C, F, V := float64(cfg.NEmbd), float64(cfg.Inner()), float64(cfg.VocabSize)
	NH := float64(cfg.NHead)
	HS := C / NH
	switch op {
	case OpEmbed:
		// x[N, C] = wte[tok] + wpe[pos]: N·C adds; read one wte row (wb) and
		// one wpe row (4) per position, write x.
		return N * C, N * C * (wb + 4 + 4)
	case OpLN1, OpLN2:
		// LayerNorm over [N, C]: read x, write xn, read gain and bias [C].
		return LayerNormFLOPsPerValue * N * C, 4*2*N*C + 4*2*C
	case OpQKV:
		// Linear [N, C] -> [N, 3C], then copy K and V rows [N, C] each into
		// the cache: read 2·N·C from qkv, write 2·N·C to the cache.
		f, b := linearCost(n, cfg.NEmbd, 3*cfg.NEmbd, true, wb)
		return f, b + 4*2*2*N*C
	case OpAttnScores:
		// s = q·Kᵀ/√HS for NH·ΣA pairs: HS multiply-adds plus one scale
		// multiply each. Read q [N, C] and every sequence's P+T cached keys
		// [P+T, C]; write the NH·ΣA scores.
		return NH * BA * (2*HS + 1), 4*N*C + 4*cached*C + 4*NH*BA
	case OpAttnSoftmax:
		// Softmax over each row of scores, NH·ΣA values in total: read and write them.
		return SoftmaxFLOPsPerValue * NH * BA, 4 * 2 * NH * BA
	case OpAttnValues:
		// y = a·V: HS multiply-adds per (query, key) pair. Read the
		// probabilities and every sequence's P+T cached values; write y [N, C].
		return NH * BA * 2 * HS, 4*NH*BA + 4*cached*C + 4*N*C
	case OpAttnProj:
		return linearCost(n, cfg.NEmbd, cfg.NEmbd, true, wb)
	case OpResidual1, OpResidual2:
		// x += y over [N, C]: read both, write x.
		return N * C, 4 * 3 * N * C
	case OpMLPUp:
		f, b := linearCost(n, cfg.NEmbd, cfg.Inner(), true, wb)
		if GELUFused {
			f += GELUFLOPsPerValue * N * F // applied to each output as it is written
		}
		return f, b
	case OpGELU:
		if GELUFused {
			return 0, 0
		}
		// In place over h [N, F]: read and write.
		return GELUFLOPsPerValue * N * F, 4 * 2 * N * F
	case OpMLPDown:
		return linearCost(n, cfg.Inner(), cfg.NEmbd, true, wb)
	case OpLNF:
		return LayerNormFLOPsPerValue * lr * C, 4*2*lr*C + 4*2*C
	case OpLogits:
		// LM head tied to wte [V, C], no bias.
		if rows == 0 {
			return 0, 0
		}
		return linearCost(rows, cfg.NEmbd, cfg.VocabSize, false, wb)
	case OpSample:
		// One pass over each sampled sequence's V logits (greedy argmax;
		// temperature and top-k cost a few more FLOPs per logit, not counted).
		sampled := float64(st.B)
		if st.Ragged {
			sampled = lr
		}
		return sampled * V, 4 * sampled * V
	}
	return 0, 0
}

// StepCost returns the FLOPs and bytes of one forward step: the embedding,
// every per-layer op times n_layer, ln_f and the LM head. Sampling runs
// outside Forward and is not included.
func StepCost(cfg Config, st Step, weightBytesPerValue float64) (flops, bytes float64) {
	for op := range NumOps {
		if op == OpSample {
			continue
		}
		f, b := OpCost(cfg, op, st, weightBytesPerValue)
		if op.PerLayer() {
			f, b = f*float64(cfg.NLayer), b*float64(cfg.NLayer)
		}
		flops += f
		bytes += b
	}
	return flops, bytes
}
