package tensor

import "fmt"

// The strip layout of float32 weights for AVX-512 (PackForLinear). A
// linear layer's weights W [M, K] (out × in) are cut into strips of
// PanelWidth rows, and each strip is stored column by column: the 48
// weights that multiply x[k] for 48 consecutive outputs are 192
// contiguous bytes. That is Hugging Face's Conv1D layout [K, M] cut into
// strips 48 outputs wide. A kernel then loads 48 weights (three zmm),
// broadcasts x[i][k] for each of its rows of x, and accumulates 48
// outputs per row in registers that are the outputs themselves: no sums
// across lanes at the end, one sequential stream of weights per thread,
// and x touched at 4 bytes per row per 192 bytes of weights (the
// row-major dot tile reads 512 bytes of x per 192). Every output sums k
// in order, whatever the number of rows, so a row's result does not
// depend on what else is in the batch.

// PanelWidth is the number of weight rows (outputs) in a strip.
const PanelWidth = 48

// panelRows is the most rows of x one strip kernel call takes.
const panelRows = 8

// PackForLinear returns m in the layout Linear reads fastest on this
// machine: float32 weights cut into strips (see PanelWidth) when the
// AVX-512 kernels run, else m itself. The packed copy is new memory of
// the same size (m is not modified).
func PackForLinear(m *Mat) *Mat {
	if !useAVX512 || m.DType != F32 || m.Panels {
		return m
	}
	return packPanels(m)
}

// packPanels returns float32 m cut into strips, on any machine. Strip s
// holds rows [48s, 48s+w), w = 48 but for a last, narrower strip, at
// F32[48s·Cols:] as [Cols][w].
func packPanels(m *Mat) *Mat {
	M, K := m.Rows, m.Cols
	p := make([]float32, M*K)
	for n := range M {
		row := m.F32[n*K : (n+1)*K]
		off, w := panelAt(M, K, n)
		dst := p[off:]
		for k, v := range row {
			dst[k*w] = v
		}
	}
	return &Mat{Rows: M, Cols: K, DType: F32, F32: p, Panels: true}
}

// panelAt returns where row n of a strip-layout [M, K] matrix starts in
// F32 and its strip's width (the stride between its elements).
func panelAt(M, K, n int) (off, w int) {
	s := n / PanelWidth
	w = min(PanelWidth, M-s*PanelWidth)
	return s*PanelWidth*K + n%PanelWidth, w
}

// unpackPanels returns strip-layout m row-major.
func unpackPanels(m *Mat) *Mat {
	M, K := m.Rows, m.Cols
	w := make([]float32, M*K)
	for n := range M {
		m.Row(w[n*K:(n+1)*K], n)
	}
	return NewMat(w, M, K)
}

// panelRow writes row i of strip-layout m into dst [Cols].
func (m *Mat) panelRow(dst []float32, i int) {
	off, w := panelAt(m.Rows, m.Cols, i)
	src := m.F32[off:]
	for k := range dst[:m.Cols] {
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
	K, M := w.Cols, w.Rows
	if lo%PanelWidth != 0 {
		panic(fmt.Sprintf("tensor: panelRange: lo %d not a multiple of %d", lo, PanelWidth))
	}
	s0, s1 := lo/PanelWidth, hi/PanelWidth // whole strips [s0, s1)
	bias := func(c int) []float32 {
		if b == nil {
			return nil
		}
		return b[c:]
	}
	if N <= panelRows {
		if s1 > s0 {
			panelStrips(out[lo:], M, w.F32[s0*K*PanelWidth:], K, x, N, s1-s0, bias(lo))
		}
	} else {
		for s := s0; s < s1; s++ {
			for g := 0; g < N; g += panelRows {
				panelStrips(out[g*M+s*PanelWidth:], M, w.F32[s*K*PanelWidth:], K, x[g*K:], min(panelRows, N-g), 1, bias(s*PanelWidth))
			}
			activateCols(act, out, N, M, s*PanelWidth, (s+1)*PanelWidth)
		}
	}
	if c := s1 * PanelWidth; c < hi {
		panelNarrow(out[c:], M, w.F32[c*K:], K, min(PanelWidth, M-c), hi-c, x, N, bias(c))
		if N > panelRows {
			activateCols(act, out, N, M, c, hi)
		}
	}
	if N <= panelRows {
		activateCols(act, out, N, M, lo, hi)
	}
}

// panelNarrow computes out[i*ldo+c] = Σ_{kk<k} x[i*k+kk]·p[kk*w+c] +
// bias[c] for i < n and c < cols <= w: the first cols outputs of a strip w
// wide, in Go, summing kk in order. It runs a last strip narrower than
// PanelWidth (at most 47 of a layer's outputs: not worth assembly) and
// the end of a LinearRange that stops inside a strip.
func panelNarrow(out []float32, ldo int, p []float32, k, w, cols int, x []float32, n int, bias []float32) {
	var acc [PanelWidth]float32
	p = p[:k*w]
	for i := range n {
		a := acc[:cols]
		clear(a)
		for kk, xv := range x[i*k : (i+1)*k] {
			for c, pv := range p[kk*w : kk*w+cols] {
				a[c] += xv * pv
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

// panelStripsGeneric computes, for s < strips, i < r and c < 48,
// out[i*ldo+s*48+c] = Σ_{kk<k} x[i*k+kk]·p[s*k*48+kk*48+c] + bias[s*48+c]
// (bias may be nil), summing kk in order.
func panelStripsGeneric(out []float32, ldo int, p []float32, k int, x []float32, r, strips int, bias []float32) {
	var acc [PanelWidth]float32
	for s := range strips {
		ps := p[s*k*PanelWidth:][:k*PanelWidth]
		for i := range r {
			clear(acc[:])
			for kk, xv := range x[i*k : (i+1)*k] {
				pk := ps[kk*PanelWidth:][:PanelWidth]
				for c := range acc {
					acc[c] += xv * pk[c]
				}
			}
			o := out[i*ldo+s*PanelWidth:][:PanelWidth]
			copy(o, acc[:])
			if bias != nil {
				for c, v := range bias[s*PanelWidth:][:PanelWidth] {
					o[c] += v
				}
			}
		}
	}
}

// panelStripsBounds panics, as an index out of range would, unless every
// element the strip kernel touches lies inside its slice.
func panelStripsBounds(nout, ldo, np, k, nx, r, strips int, bias []float32) {
	if r < 1 || r > panelRows || k < 1 || strips < 1 || ldo < 0 ||
		(r-1)*ldo+strips*PanelWidth > nout || strips*k*PanelWidth > np || r*k > nx ||
		(bias != nil && strips*PanelWidth > len(bias)) {
		panic("tensor: panelStrips arguments out of range")
	}
}
