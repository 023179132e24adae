package tensor

import "fmt"

// The strip layout of float32 and float16 weights for AVX-512
// (PackForLinear). A linear layer's weights W [M, K] (out × in) are cut
// into strips of PanelWidth rows, and each strip is stored column by
// column: the 48 weights that multiply x[k] for 48 consecutive outputs are
// 192 contiguous bytes (96 for halves). That is Hugging Face's Conv1D
// layout [K, M] cut into strips 48 outputs wide. A kernel then loads 48
// weights (three zmm; halves widened by VCVTPH2PS), broadcasts x[i][k] for
// each of its rows of x, and accumulates 48 outputs per row in registers
// that are the outputs themselves: no sums across lanes at the end, one
// sequential stream of weights per thread, and x touched at 4 bytes per
// row per 48 weights (the row-major dot tile reads 512 bytes of x per 48
// weights). Every output sums k in order, whatever the number of rows, so
// a row's result does not depend on what else is in the batch.

// PanelWidth is the number of weight rows (outputs) in a strip.
const PanelWidth = 48

// panelRows is the most rows of x one strip kernel call takes.
const panelRows = 8

// PackForLinear returns m in the layout Linear reads fastest on this
// machine: float32 and float16 weights cut into strips (see PanelWidth)
// when the AVX-512 kernels run, else m itself. The packed copy is new
// memory of the same size (m is not modified).
func PackForLinear(m *Mat) *Mat {
	if !useAVX512 || m.Panels || (m.DType != F32 && m.DType != F16) {
		return m
	}
	return packPanels(m)
}

// packPanels returns float32 or float16 m cut into strips, on any
// machine. Strip s holds rows [48s, 48s+w), w = 48 but for a last,
// narrower strip, from element 48s·Cols of the data on, as [Cols][w].
func packPanels(m *Mat) *Mat {
	p := &Mat{Rows: m.Rows, Cols: m.Cols, DType: m.DType, Panels: true}
	switch m.DType {
	case F32:
		p.F32 = packStrips(m.F32, m.Rows, m.Cols)
	case F16:
		p.F16 = packStrips(m.F16, m.Rows, m.Cols)
	default:
		panic(fmt.Sprintf("tensor: packPanels: %v weights do not pack", m.DType))
	}
	return p
}

// packStrips returns row-major w [M, K] in strips.
func packStrips[T float32 | uint16](w []T, M, K int) []T {
	p := make([]T, M*K)
	for n := range M {
		off, sw := panelAt(M, K, n)
		dst := p[off:]
		for k, v := range w[n*K : (n+1)*K] {
			dst[k*sw] = v
		}
	}
	return p
}

// panelAt returns where row n of a strip-layout [M, K] matrix starts in
// its data and its strip's width (the stride between its elements).
func panelAt(M, K, n int) (off, w int) {
	s := n / PanelWidth
	w = min(PanelWidth, M-s*PanelWidth)
	return s*PanelWidth*K + n%PanelWidth, w
}

// unpackPanels returns strip-layout float32 m row-major.
func unpackPanels(m *Mat) *Mat {
	M, K := m.Rows, m.Cols
	w := make([]float32, M*K)
	for n := range M {
		m.Row(w[n*K:(n+1)*K], n)
	}
	return NewMat(w, M, K)
}

// panelRow writes row i of strip-layout m, widened to float32, into dst
// [Cols].
func (m *Mat) panelRow(dst []float32, i int) {
	off, w := panelAt(m.Rows, m.Cols, i)
	dst = dst[:m.Cols]
	if m.DType == F16 {
		src := m.F16[off:]
		for k := range dst {
			dst[k] = HalfToFloat(src[k*w])
		}
		return
	}
	src := m.F32[off:]
	for k := range dst {
		dst[k] = src[k*w]
	}
}

// panelTask is Linear over strip-layout weights, split by strips.
type panelTask struct {
	out, x, b []float32
	w         *Mat
	n         int
	act       Act
}

// Run implements Task.
func (t *panelTask) Run(lo, hi int) { panelRange(t.out, t.x, t.w, t.b, t.n, lo, hi, t.act) }

// panelRange computes out[:, lo:hi] = act(x·W[lo:hi]ᵀ + b) for strip-layout
// W and N rows of x [N, K]; lo is a multiple of PanelWidth. Up to
// panelRows rows, one kernel call runs all the range's whole strips (the
// weights one stream); more rows take each strip once and run every group
// of panelRows rows of x over it while it is in cache. A narrower last
// strip (M not a multiple of PanelWidth) runs in Go (panelNarrow).
func panelRange(out, x []float32, w *Mat, b []float32, N, lo, hi int, act Act) {
	if w.DType == F16 {
		panelRangeOf(out, x, w.F16, w.Rows, w.Cols, b, N, lo, hi, act, panelStripsF16, HalfToFloat)
		return
	}
	panelRangeOf(out, x, w.F32, w.Rows, w.Cols, b, N, lo, hi, act, panelStrips, widenF32)
}

// widenF32 is the identity: float32 weights as their own widening.
func widenF32(v float32) float32 { return v }

// stripsFunc is the signature of panelStrips and panelStripsF16.
type stripsFunc[T float32 | uint16] func(out []float32, ldo int, p []T, k int, x []float32, r, strips int, bias []float32)

// panelRangeOf is panelRange for strip data p of M rows of K: whole strips
// through strips, a narrower one through panelNarrow with widen.
func panelRangeOf[T float32 | uint16](out, x []float32, p []T, M, K int, b []float32, N, lo, hi int, act Act, strips stripsFunc[T], widen func(T) float32) {
	if lo%PanelWidth != 0 {
		panic(fmt.Sprintf("tensor: panelRange: lo %d not a multiple of %d", lo, PanelWidth))
	}
	s0, s1 := lo/PanelWidth, hi/PanelWidth // whole strips [s0, s1)
	if N <= panelRows {
		if s1 > s0 {
			strips(out[lo:], M, p[s0*K*PanelWidth:], K, x, N, s1-s0, biasAt(b, lo))
		}
	} else {
		for s := s0; s < s1; s++ {
			for g := 0; g < N; g += panelRows {
				strips(out[g*M+s*PanelWidth:], M, p[s*K*PanelWidth:], K, x[g*K:], min(panelRows, N-g), 1, biasAt(b, s*PanelWidth))
			}
			activateCols(act, out, N, M, s*PanelWidth, (s+1)*PanelWidth)
		}
	}
	if c := s1 * PanelWidth; c < hi {
		panelNarrow(out[c:], M, p[c*K:], K, min(PanelWidth, M-c), hi-c, x, N, biasAt(b, c), widen)
		if N > panelRows {
			activateCols(act, out, N, M, c, hi)
		}
	}
	if N <= panelRows {
		activateCols(act, out, N, M, lo, hi)
	}
}

// panelNarrow computes out[i*ldo+c] = Σ_{kk<k} x[i*k+kk]·widen(p[kk*w+c])
// + bias[c] for i < n and c < cols <= w: the first cols outputs of a strip
// w wide, in Go, summing kk in order. It runs a last strip narrower than
// PanelWidth (at most 47 of a layer's outputs: not worth assembly), the
// end of a LinearRange that stops inside a strip, and the generic kernels.
func panelNarrow[T float32 | uint16](out []float32, ldo int, p []T, k, w, cols int, x []float32, n int, bias []float32, widen func(T) float32) {
	var acc [PanelWidth]float32
	p = p[:k*w]
	for i := range n {
		a := acc[:cols]
		clear(a)
		for kk, xv := range x[i*k : (i+1)*k] {
			for c, pv := range p[kk*w : kk*w+cols] {
				a[c] += xv * widen(pv)
			}
		}
		o := out[i*ldo : i*ldo+cols]
		copy(o, a)
		if bias != nil {
			for c, v := range bias[:cols] {
				o[c] += v
			}
		}
	}
}

// activateCols applies act to columns [c0, c1) of out's N rows of M.
func activateCols(act Act, out []float32, N, M, c0, c1 int) {
	if act == ActNone {
		return
	}
	for n := range N {
		activateSlice(act, out[n*M+c0:n*M+c1])
	}
}

// biasAt returns bias[c:], or nil without a bias.
func biasAt(bias []float32, c int) []float32 {
	if bias == nil {
		return nil
	}
	return bias[c:]
}

// panelStripsGeneric computes, for s < strips, i < r and c < 48,
// out[i*ldo+s*48+c] = Σ_{kk<k} x[i*k+kk]·p[s*k*48+kk*48+c] + bias[s*48+c]
// (bias may be nil), summing kk in order.
func panelStripsGeneric(out []float32, ldo int, p []float32, k int, x []float32, r, strips int, bias []float32) {
	for s := range strips {
		panelNarrow(out[s*PanelWidth:], ldo, p[s*k*PanelWidth:], k, PanelWidth, PanelWidth, x, r, biasAt(bias, s*PanelWidth), widenF32)
	}
}

// panelStripsF16Generic is panelStripsGeneric for float16 strips, each
// weight widened by HalfToFloat.
func panelStripsF16Generic(out []float32, ldo int, p []uint16, k int, x []float32, r, strips int, bias []float32) {
	for s := range strips {
		panelNarrow(out[s*PanelWidth:], ldo, p[s*k*PanelWidth:], k, PanelWidth, PanelWidth, x, r, biasAt(bias, s*PanelWidth), HalfToFloat)
	}
}

// panelStripsBounds panics, as an index out of range would, unless every
// element the strip kernel touches lies inside its slice; it returns the
// address of bias's first element for the assembly (nil without a bias).
func panelStripsBounds(nout, ldo, np, k, nx, r, strips int, bias []float32) *float32 {
	if r < 1 || r > panelRows || k < 1 || strips < 1 || ldo < 0 ||
		(r-1)*ldo+strips*PanelWidth > nout || strips*k*PanelWidth > np || r*k > nx ||
		(bias != nil && strips*PanelWidth > len(bias)) {
		panic("tensor: panelStrips arguments out of range")
	}
	if bias == nil {
		return nil
	}
	return &bias[0]
}
