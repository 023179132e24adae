package tensor

import (
	"fmt"
	"unsafe"
)

// Act is an elementwise activation that Linear applies to its output while
// the output is still in cache (fused bias + activation).
type Act uint8

const (
	ActNone     Act = iota // identity
	ActGELUTanh            // GPT-2's "gelu_new", as GELUTanh
	ActGELUErf             // exact "gelu", as GELUErf
)

// Blocking of Linear (see linearRange).
const (
	linearAlign = 16        // rows of W per thread split: whole 4-row groups, 64-byte output lines
	xBlockBytes = 512 << 10 // K-block so x[:, k0:k1] stays in L2 while W streams
)

// Linear computes out = x·Wᵀ + b for every row of x (a GPT-2 linear layer),
// split across r's threads by output column: chunks of rows of W, so each
// row of W is streamed from memory once, by one thread.
//
//	x   [N, K]
//	w   [M, K]   out × in (HF Conv1D [K, M], transposed once at load;
//	             or in strips of 48 rows, PackForLinear)
//	b   [M]      may be nil
//	out [N, M]   must not alias x
//
// FLOPs 2·N·K·M; bytes read w.Bytes() + 4·N·K, written 4·N·M.
//
// It panics if a length disagrees with N, K, M. It does not allocate
// (after the Runner's first call with a given shape and dtype).
func (r *Runner) Linear(out, x []float32, w *Mat, b []float32, N int) {
	r.LinearAct(out, x, w, b, N, ActNone)
}

// LinearAct is Linear followed by act on every output value, fused: out =
// act(x·Wᵀ + b). Shapes as in Linear.
func (r *Runner) LinearAct(out, x []float32, w *Mat, b []float32, N int, act Act) {
	checkLinear(out, x, w, b, N)
	K, M := w.Cols, w.Rows
	if w.Panels { // any N; batch-invariant by construction
		r.pt = panelTask{out: out, x: x, w: w, b: b, n: N, act: act}
		r.For(M, PanelWidth, &r.pt)
		r.pt = panelTask{}
		return
	}
	if N == 1 && vnniQ8(N, w) && !r.invariant {
		if len(r.xq) < K {
			r.xq = make([]byte, K)
		}
		if len(r.xs) < 1 {
			r.xs = make([]float32, outerNR)
		}
		xq, xs := r.xq[:K], r.xs[:1]
		xs[0] = quantRow(xq, x)
		if q4VNNIRows(w) {
			if len(r.xp) < K {
				r.xp = make([]byte, K)
			}
			xpermQ4(r.xp[:K], xq)
			xq = r.xp[:K]
		}
		r.growScratch(q4ScratchLen(K))
		r.lin = linearTask{out: out, xq: xq, xs: xs, wide: true, w: w, b: b, n: 1, act: act, scratch: r.scratch}
		r.For(M, linearAlign, &r.lin)
		r.lin = linearTask{}
		return
	}
	if dotN(N, w) && !r.invariant {
		r.growScratch(dotScratchLen(K))
		r.lin = linearTask{out: out, x: x, dot: true, w: w, b: b, n: N, act: act, scratch: r.scratch}
		r.For(M, wideAlign, &r.lin)
		r.lin = linearTask{}
		return
	}
	if wideN(N, w) && !r.invariant {
		np := (N + outerNR - 1) / outerNR
		var xt, xs []float32
		var xq []byte
		if w.DType == Q8 || w.DType == Q4 {
			if len(r.xq) < np*outerNR*K {
				r.xq = make([]byte, np*outerNR*K)
			}
			if len(r.xs) < np*outerNR {
				r.xs = make([]float32, np*outerNR)
			}
			xq, xs = r.xq[:np*outerNR*K], r.xs[:np*outerNR]
		} else {
			if len(r.xt) < np*outerNR*K {
				r.xt = make([]float32, np*outerNR*K)
			}
			xt = r.xt[:np*outerNR*K]
		}
		r.pk = packTask{xt: xt, xq: xq, xs: xs, x: x, n: N, k: K}
		r.For(np, 1, &r.pk)
		r.pk = packTask{}
		r.growScratch(wideScratchLen(K))
		r.lin = linearTask{out: out, xt: xt, xq: xq, xs: xs, wide: true, w: w, b: b, n: N, act: act, scratch: r.scratch}
		r.For(M, wideAlign, &r.lin)
		r.lin = linearTask{}
		return
	}
	kc := blockK(N, K)
	if outerN(N) && !r.invariant {
		np := (N + outerNR - 1) / outerNR
		if len(r.xt) < np*outerNR*K {
			r.xt = make([]float32, np*outerNR*K)
		}
		xt := r.xt[:np*outerNR*K]
		r.pk = packTask{xt: xt, x: x, n: N, k: K}
		r.For(np, 1, &r.pk)
		r.pk = packTask{}
		r.growScratch(outerScratchLen(kc))
		r.lin = linearTask{out: out, xt: xt, w: w, b: b, n: N, kc: kc, act: act, scratch: r.scratch}
		r.For(M, outerAlign, &r.lin)
		r.lin = linearTask{}
		return
	}
	if r.invariant {
		r.growScratch(groupOuterScratch(K, N))
		r.lin = linearTask{out: out, x: x, w: w, b: b, n: N, act: act, scratch: r.scratch, invariant: true}
		r.For(M, linearAlign, &r.lin)
		r.lin = linearTask{}
		return
	}
	r.growScratch(scratchLen(w, N, kc))
	r.lin = linearTask{out: out, x: x, w: w, b: b, n: N, kc: kc, act: act, scratch: r.scratch}
	r.For(M, linearAlign, &r.lin)
	r.lin = linearTask{} // drop references for the GC
}

// LinearRange computes columns [lo, hi) of out = x·Wᵀ + b on the calling
// goroutine; Linear runs it on every thread. Shapes as in Linear. Unlike
// Linear it allocates its scratch (packed blocks of W and x) when N > 1.
// For weights in strips (Mat.Panels) lo must be a multiple of PanelWidth.
func LinearRange(out, x []float32, w *Mat, b []float32, N, lo, hi int) {
	checkLinear(out, x, w, b, N)
	if lo < 0 || hi > w.Rows || lo > hi {
		panic(fmt.Sprintf("tensor: LinearRange: range [%d, %d) outside [0, %d)", lo, hi, w.Rows))
	}
	if w.Panels { // panelRange panics unless lo is a multiple of PanelWidth
		panelRange(out, x, w, b, N, lo, hi, ActNone)
		return
	}
	if N == 1 && vnniQ8(N, w) {
		xq := make([]byte, w.Cols)
		xs := quantRow(xq, x)
		if q4VNNIRows(w) {
			xp := make([]byte, w.Cols)
			xpermQ4(xp, xq)
			xq = xp
		}
		gemvRangeQ8(out, xq, xs, w, b, lo, hi, ActNone, make([]float32, q4ScratchLen(w.Cols)))
		return
	}
	if dotN(N, w) {
		dotRange(out, x, w, b, N, lo, hi, ActNone, make([]float32, dotScratchLen(w.Cols)))
		return
	}
	if wideN(N, w) {
		K := w.Cols
		np := (N + outerNR - 1) / outerNR
		var xt, xs []float32
		var xq []byte
		if w.DType == Q8 || w.DType == Q4 {
			xq, xs = make([]byte, np*outerNR*K), make([]float32, np*outerNR)
			packXQ(xq, xs, x, N, K, 0, np)
		} else {
			xt = make([]float32, np*outerNR*K)
			packXT(xt, x, N, K, 0, np)
		}
		wideRange(out, xt, xq, xs, w, b, N, lo, hi, make([]float32, wideScratchLen(K)))
		return
	}
	kc := blockK(N, w.Cols)
	if outerN(N) {
		np := (N + outerNR - 1) / outerNR
		xt := make([]float32, np*outerNR*w.Cols)
		packXT(xt, x, N, w.Cols, 0, np)
		outerRange(out, xt, w, b, N, lo, hi, kc, make([]float32, outerScratchLen(kc)))
		return
	}
	linearRange(out, x, w, b, N, lo, hi, kc, ActNone, make([]float32, scratchLen(w, N, kc)))
}

func checkLinear(out, x []float32, w *Mat, b []float32, N int) {
	K, M := w.Cols, w.Rows
	switch {
	case len(x) != N*K:
		panic(fmt.Sprintf("tensor: Linear: len(x) %d != N*K %d*%d", len(x), N, K))
	case len(out) != N*M:
		panic(fmt.Sprintf("tensor: Linear: len(out) %d != N*M %d*%d", len(out), N, M))
	case b != nil && len(b) != M:
		panic(fmt.Sprintf("tensor: Linear: len(b) %d != M %d", len(b), M))
	}
}

// blockK returns the K-block: all of K when x [N, K] fits in xBlockBytes
// twice over, else a multiple of 64 that keeps x[:, k0:k0+kc] within it.
func blockK(N, K int) int {
	if N <= 1 || 4*N*K <= 2*xBlockBytes {
		return K
	}
	kc := xBlockBytes / (4 * N) &^ 63
	return max(kc, 64)
}

// rowPad is added to the stride of packed rows so that consecutive rows
// do not map to the same L1 sets (rows of 1024·j floats are 4 KiB apart).
const rowPad = 16

// packX reports whether linearRange copies x[:, k0:k1] into scratch: when
// K is blocked (the block is then contiguous) or when rows of x are a
// multiple of 4 KiB apart, so the 3 rows of a tile and the 4 of W would
// share L1 sets.
func packX(N, K, kc int) bool { return N > 1 && (kc < K || K%1024 == 0) }

// Small batches (batched decode) take the other loop order: all of x fits
// in L2, so linearRange walks W once, group by group, and blocks K only
// for L1 (4 rows of W and 3 of x per tile).
const (
	smallXBytes = 256 << 10 // x [N, K] at most this big: group-outer order
	l1K         = 768       // K-block of a tile in that order
)

func smallN(N, K int) bool { return N > 1 && 4*N*K <= smallXBytes }

// scratchLen is the per-thread scratch Linear needs for N > 1: a packed
// (copied or widened) 4-row block of W, when packX the packed block of x,
// and the [N, 4] results of a group.
func scratchLen(w *Mat, N, kc int) int {
	switch {
	case N <= 1 && w.DType == Q4:
		return q4ScratchLen(w.Cols)
	case N <= 1:
		return 0
	case smallN(N, w.Cols):
		return groupOuterScratch(w.Cols, N)
	case packX(N, w.Cols, kc):
		return (4+N)*(kc+rowPad) + 4*N
	}
	return 4*(kc+rowPad) + 4*N
}

type linearTask struct {
	out, x, b []float32
	xt        []float32 // x packed by packXT: the outer-product path when not nil
	xq        []byte    // x quantised by packXQ (AVX-512 path, int8 weights)
	xs        []float32 // the row scales of xq
	wide      bool      // the AVX-512 path (wideRange)
	dot       bool      // the AVX-512 dot-product path (dotRange)
	w         *Mat
	n, kc     int
	act       Act
	scratch   [][]float32 // [threads][4·kc]
	invariant bool        // groupOuterRange for every N (batch-invariant mode)
}

// Run implements Task; the pool calls runWorker instead.
func (t *linearTask) Run(lo, hi int) { t.runWorker(0, lo, hi) }

func (t *linearTask) runWorker(w, lo, hi int) {
	var buf []float32
	if w < len(t.scratch) {
		buf = t.scratch[w]
	}
	if t.dot {
		dotRange(t.out, t.x, t.w, t.b, t.n, lo, hi, t.act, buf)
		return
	}
	if t.wide && t.n == 1 {
		gemvRangeQ8(t.out, t.xq, t.xs[0], t.w, t.b, lo, hi, t.act, buf)
		return
	}
	if t.xt != nil || t.wide {
		if t.wide {
			wideRange(t.out, t.xt, t.xq, t.xs, t.w, t.b, t.n, lo, hi, buf)
		} else {
			outerRange(t.out, t.xt, t.w, t.b, t.n, lo, hi, t.kc, buf)
		}
		if t.act != ActNone {
			for n := range t.n {
				activateSlice(t.act, t.out[n*t.w.Rows+lo:n*t.w.Rows+hi])
			}
		}
		return
	}
	if t.invariant {
		groupOuterRange(t.out, t.x, t.w, t.b, t.n, lo, hi, buf, true)
		if t.act != ActNone {
			for n := range t.n {
				activateSlice(t.act, t.out[n*t.w.Rows+lo:n*t.w.Rows+hi])
			}
		}
		return
	}
	linearRange(t.out, t.x, t.w, t.b, t.n, lo, hi, t.kc, t.act, buf)
}

// linearRange computes out[:, lo:hi] (outerRange does for the
// outer-product path). Batch 1 (decode) streams rows lo..hi-1
// of W once, sequentially, through a GEMV kernel in their stored dtype.
// N > 1 copies or widens each group of 4 weight rows to float32 in buf and
// runs a 4×3 register tile down the rows of x (4×2 or 4×1 for the last
// rows); partial sums of earlier K-blocks accumulate in out. Large N
// (prefill) blocks K by kc with the K-block outermost, so x[:, k0:k1]
// stays in L2; small N walks the groups of W outermost (see smallN).
func linearRange(out, x []float32, w *Mat, b []float32, N, lo, hi, kc int, act Act, buf []float32) {
	K, M := w.Cols, w.Rows
	switch {
	case N == 1:
		gemvRange(out, x, w, b, lo, hi, act, buf)
		return
	case smallN(N, K):
		groupOuterRange(out, x, w, b, N, lo, hi, buf, false)
	default:
		pack := packX(N, K, kc)
		nx := 0 // rows of packed x in buf
		if pack {
			nx = N
		}
		for k0 := 0; k0 < K; k0 += kc {
			k1 := min(k0+kc, K)
			kk := k1 - k0
			st := store{out: out, b: b, m: M, first: k0 == 0, last: k1 == K}
			xs, ldx := x[k0:], K // x[n, k0:k1] at xs[n*ldx:]
			if pack {
				ldx = kk + rowPad
				xs = buf[4*(kc+rowPad) : 4*(kc+rowPad)+N*ldx]
				for n := range N {
					copy(xs[n*ldx:n*ldx+kk], x[n*K+k0:n*K+k1])
				}
			}
			for m := lo; m < hi; m += 4 {
				rows := min(4, hi-m)
				wb, ldw := weightBlock(w, m, rows, k0, k1, buf)
				groupTiles(&st, wb, ldw, xs, ldx, kk, N, m, rows, buf[(4+nx)*(kc+rowPad):], nil)
			}
		}
	}
	if act != ActNone {
		for n := range N {
			activateSlice(act, out[n*M+lo:n*M+hi])
		}
	}
}

// groupOuterRange is linearRange's loop for small N: the groups of 4
// weight rows outermost, each copied or widened into buf once, K blocked
// by l1K for L1, and a register tile down the N rows of x. Every output
// value is computed the same way whatever N is and wherever its row sits
// among the N when invariant is set (groupRows), which is what the
// batch-invariant mode (Runner.SetBatchInvariant) relies on.
func groupOuterRange(out, x []float32, w *Mat, b []float32, N, lo, hi int, buf []float32, invariant bool) {
	K, M := w.Cols, w.Rows
	for m := lo; m < hi; m += 4 {
		rows := min(4, hi-m)
		wb, ldw := weightBlock(w, m, rows, 0, K, buf)
		for k0 := 0; k0 < K; k0 += l1K {
			k1 := min(k0+l1K, K)
			st := store{out: out, b: b, m: M, first: k0 == 0, last: k1 == K}
			// While the first tile computes, prefetch this K-block's
			// share of the next 4 rows of a float32 W, so that their
			// load overlaps compute (batched decode is near memory-bound).
			var pf *float32
			if w.DType == F32 && m+8 <= hi {
				pf = &w.F32[(m+4)*K+4*k0]
			}
			if invariant {
				groupRows(&st, wb[k0:], ldw, x[k0:], K, k1-k0, N, m, rows, buf[4*(K+rowPad):])
				continue
			}
			groupTiles(&st, wb[k0:], ldw, x[k0:], K, k1-k0, N, m, rows, buf[4*(K+rowPad):], pf)
		}
	}
}

// groupRows is groupTiles one row of x at a time: every row takes the
// same 4-row GEMV kernel, so its result does not depend on N or on its
// place among the rows (the tiles of 3 and 2 rows order their sums
// differently). Batch-invariant mode; W stays in L1 across the rows.
func groupRows(st *store, wb []float32, ldw int, xs []float32, ldx, kk, N, m, rows int, res []float32) {
	if rows < 4 {
		groupTiles(st, wb, ldw, xs, ldx, kk, N, m, rows, res, nil)
		return
	}
	res = res[:4*N]
	for n := range N {
		gemv4F32((*[4]float32)(res[4*n:4*n+4]), wb, ldw, xs[n*ldx:n*ldx+kk])
	}
	st.putRows(m, res)
}

// groupOuterScratch is the per-thread scratch of groupOuterRange.
func groupOuterScratch(K, N int) int { return 4*(K+rowPad) + 4*N }

// groupTiles computes the partial sums of weight rows m..m+rows-1 (wb,
// stride ldw) with the N rows of x (xs, stride ldx) over kk columns into
// res [N, 4] and stores them through st. pf, if not nil, is prefetched by
// the first tile.
func groupTiles(st *store, wb []float32, ldw int, xs []float32, ldx, kk, N, m, rows int, res []float32, pf *float32) {
	if rows < 4 {
		for i := range rows {
			wr := wb[i*ldw : i*ldw+kk]
			for n := range N {
				st.put(n, m+i, dot(wr, xs[n*ldx:n*ldx+kk]))
			}
		}
		return
	}
	res = res[:4*N]
	n := N / 3 * 3
	if n > 0 {
		tiles4x3F32(res, wb, ldw, xs, ldx, kk, n/3, pf)
	}
	switch N - n {
	case 2:
		tile4x2F32((*[8]float32)(res[4*n:4*n+8]), wb, ldw, xs[n*ldx:], ldx, kk)
	case 1:
		gemv4F32((*[4]float32)(res[4*n:4*n+4]), wb, ldw, xs[n*ldx:n*ldx+kk])
	}
	st.putRows(m, res)
}

// weightBlock copies (F32) or widens (F16, Q8) rows [m, m+rows) ×
// columns [k0, k1) of w into buf with row stride ldw = k1-k0+rowPad. The
// 4 rows are read as one sequential stream; the tiles then reuse them
// from L1.
func weightBlock(w *Mat, m, rows, k0, k1 int, buf []float32) (wb []float32, ldw int) {
	K := w.Cols
	kk := k1 - k0
	ldw = kk + rowPad
	for i := range rows {
		dst := buf[i*ldw : i*ldw+kk]
		off := (m+i)*K + k0
		switch w.DType {
		case F32:
			copy(dst, w.F32[off:off+kk])
		case F16:
			widenF16(dst, w.F16[off:off+kk])
		case Q8:
			widenQ8(dst, w.Q8[off:off+kk], w.Scales[off/Q8Block:])
		case Q4: // K-blocks start on blocks of 32 (kc is a multiple of 64, or K)
			widenQ4Generic(dst, w.Q4[off/2:(off+kk)/2], w.Scales[off/Q8Block:])
		}
	}
	return buf, ldw
}

// gemvRange is linearRange for one row of x: out[lo:hi] = act(W[lo:hi]·x + b).
// Rows lo..hi-1 of W are contiguous, so each kernel reads them as one
// sequential stream at memory bandwidth.
func gemvRange(out, x []float32, w *Mat, b []float32, lo, hi int, act Act, buf []float32) {
	K := w.Cols
	o := out[lo:hi]
	switch w.DType {
	case F32:
		gemvRowsF32(o, w.F32[lo*K:hi*K], x)
	case F16:
		gemvRowsF16(o, w.F16[lo*K:hi*K], x)
	case Q8:
		gemvRowsQ8(o, w.Q8[lo*K:hi*K], w.Scales[lo*K/Q8Block:hi*K/Q8Block], x)
	case Q4:
		b8 := int8View(buf)
		for m := lo; m < hi; m += q4Rows {
			n := min(q4Rows, hi-m)
			gemvRowsQ8(out[m:m+n], q8Rows(w, m, n, b8), w.Scales[m*K/Q8Block:(m+n)*K/Q8Block], x)
		}
	}
	if b != nil {
		Add(o, b[lo:hi])
	}
	activateSlice(act, o)
}

// store writes partial or final results into out [N, M]: a K-block after
// the first adds to what is there; the last adds the bias.
type store struct {
	out, b      []float32
	m           int // M, the row stride of out
	first, last bool
}

func (s *store) put(n, m int, v float32) {
	i := n*s.m + m
	if !s.first {
		v += s.out[i]
	}
	if s.last && s.b != nil {
		v += s.b[m]
	}
	s.out[i] = v
}

// putRows stores res [N, 4], the results of columns m..m+3 for every row.
func (s *store) putRows(m int, res []float32) {
	N := len(res) / 4
	var bb [4]float32
	if s.last && s.b != nil {
		copy(bb[:], s.b[m:m+4])
	}
	for n := range N {
		o := s.out[n*s.m+m : n*s.m+m+4 : n*s.m+m+4]
		r := res[4*n : 4*n+4 : 4*n+4]
		if s.first {
			o[0], o[1], o[2], o[3] = r[0]+bb[0], r[1]+bb[1], r[2]+bb[2], r[3]+bb[3]
		} else {
			o[0], o[1], o[2], o[3] = o[0]+r[0]+bb[0], o[1]+r[1]+bb[1], o[2]+r[2]+bb[2], o[3]+r[3]+bb[3]
		}
	}
}

// The outer-product path of Linear, for N >= outerMinN rows of x (prefill)
// with the assembly kernels: x is packed once per call, transposed in
// panels of outerNR rows ([K][16], see packXT), and a 6×16 register tile
// (outer6x16F32: 6 rows of W broadcast against 16 rows of x, 12
// accumulators, no horizontal sums) runs over each group of 6 weight rows
// and every panel, reading a float32 W in place (float16 and int8 groups
// are widened into scratch first). K is blocked as in the other path.
const (
	outerMinN  = 16
	outerMR    = 6  // weight rows per tile
	outerNR    = 16 // rows of x per tile (a panel)
	outerAlign = 48 // rows of W per thread split: whole tiles and 4-row groups
)

// outerN reports whether Linear takes the outer-product path for N rows.
func outerN(N int) bool { return useAVX2FMA && useOuter && N >= outerMinN }

// outerScratchLen is the per-thread scratch of outerRange: the result tile
// and a widened group of 6 weight rows.
func outerScratchLen(kc int) int { return 128 + outerMR*(kc+rowPad) }

// packTask packs x for the outer-product path (xt) or quantises it for
// the VNNI tiles (xq, xs), by panel.
type packTask struct {
	xt, x, xs []float32
	xq        []byte
	n, k      int
}

// Run implements Task.
func (t *packTask) Run(lo, hi int) {
	if t.xq != nil {
		packXQ(t.xq, t.xs, t.x, t.n, t.k, lo, hi)
		return
	}
	packXT(t.xt, t.x, t.n, t.k, lo, hi)
}

// outerRange computes out[:, lo:hi] from xt (x packed by packXT) with the
// 6×16 tile; partial sums of earlier K-blocks accumulate in out.
func outerRange(out, xt []float32, w *Mat, b []float32, N, lo, hi, kc int, buf []float32) {
	K, M := w.Cols, w.Rows
	np := (N + outerNR - 1) / outerNR
	tile := (*[128]float32)(buf[:128])
	wbuf := buf[128:]
	for k0 := 0; k0 < K; k0 += kc {
		k1 := min(k0+kc, K)
		kk := k1 - k0
		st := store{out: out, b: b, m: M, first: k0 == 0, last: k1 == K}
		for m := lo; m < hi; m += outerMR {
			rows := min(outerMR, hi-m)
			var wb []float32
			ldw := K
			if w.DType == F32 && rows == outerMR {
				wb = w.F32[m*K+k0:]
			} else {
				wb, ldw = weightBlock(w, m, rows, k0, k1, wbuf)
				for i := rows; i < outerMR; i++ {
					clear(wb[i*ldw : i*ldw+kk])
				}
			}
			// The next group: rows m+6.., or the first rows in the next
			// K-block. The panels prefetch one row of it each, so that
			// its first panel finds W in cache.
			nm, nk0, nk1 := m+outerMR, k0, k1
			if nm >= hi {
				nm, nk0, nk1 = lo, k1, min(k1+kc, K)
			}
			for p := range np {
				var pf []float32
				if p < outerMR && nm+p < hi && nk0 < K {
					off := (nm+p)*K + nk0
					switch w.DType {
					case F32:
						pf = w.F32[off : off+nk1-nk0]
					case F16: // the kernel only prefetches pf: a float32 view of the half row (4-byte aligned)
						if off%2 == 0 {
							pf = unsafe.Slice((*float32)(unsafe.Pointer(&w.F16[off])), (nk1-nk0)/2)
						}
					}
				}
				outer6x16F32(tile, wb, ldw, xt[p*outerNR*K+outerNR*k0:], kk, pf)
				st.putTile(tile, p*outerNR, min(outerNR, N-p*outerNR), m, rows)
			}
		}
	}
}

// putTile stores tile [16][8] (x row i, weight row j at tile[i*8+j]):
// rows [n0, n0+nn) × columns [m, m+rows) of out.
func (s *store) putTile(tile *[128]float32, n0, nn, m, rows int) {
	var bb [8]float32
	if s.last && s.b != nil {
		copy(bb[:rows], s.b[m:m+rows])
	}
	if nn == outerNR && rows == outerMR {
		addTile6(s.out[n0*s.m+m:], s.m, tile, &bb, !s.first)
		return
	}
	for i := range nn {
		o := s.out[(n0+i)*s.m+m : (n0+i)*s.m+m+rows]
		t := tile[i*8 : i*8+rows]
		if s.first {
			for j := range o {
				o[j] = t[j] + bb[j]
			}
		} else {
			for j := range o {
				o[j] += t[j] + bb[j]
			}
		}
	}
}
