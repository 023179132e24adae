//go:build gc && !purego

package tensor

// panel48x1F32AVX512 runs the strip kernel for one row of x (see
// panelRange and panelStripsGeneric):
//
//	for s := range strips { for i := range 1 { for c := range 48 {  // k >= 1, strips >= 1
//		out[i*ldo+s*48+c] = Σ_{kk<k} x[i*k+kk] · p[s*k*48+kk*48+c] + (bias[s*48+c] if bias != nil)
//	}}}
//
//go:noescape
func panel48x1F32AVX512(out *float32, ldo int, p *float32, k int, x *float32, strips int, bias *float32)

// panel48x2F32AVX512 is panel48x1F32AVX512 for 2 rows of x.
//
//go:noescape
func panel48x2F32AVX512(out *float32, ldo int, p *float32, k int, x *float32, strips int, bias *float32)

// panel48x3F32AVX512 is panel48x1F32AVX512 for 3 rows of x.
//
//go:noescape
func panel48x3F32AVX512(out *float32, ldo int, p *float32, k int, x *float32, strips int, bias *float32)

// panel48x4F32AVX512 is panel48x1F32AVX512 for 4 rows of x.
//
//go:noescape
func panel48x4F32AVX512(out *float32, ldo int, p *float32, k int, x *float32, strips int, bias *float32)

// panel48x5F32AVX512 is panel48x1F32AVX512 for 5 rows of x.
//
//go:noescape
func panel48x5F32AVX512(out *float32, ldo int, p *float32, k int, x *float32, strips int, bias *float32)

// panel48x6F32AVX512 is panel48x1F32AVX512 for 6 rows of x.
//
//go:noescape
func panel48x6F32AVX512(out *float32, ldo int, p *float32, k int, x *float32, strips int, bias *float32)

// panel48x7F32AVX512 is panel48x1F32AVX512 for 7 rows of x.
//
//go:noescape
func panel48x7F32AVX512(out *float32, ldo int, p *float32, k int, x *float32, strips int, bias *float32)

// panel48x8F32AVX512 is panel48x1F32AVX512 for 8 rows of x.
//
//go:noescape
func panel48x8F32AVX512(out *float32, ldo int, p *float32, k int, x *float32, strips int, bias *float32)

// panel48x1F16AVX512 is panel48x1F32AVX512 for float16 strips, each
// weight widened by HalfToFloat.
//
//go:noescape
func panel48x1F16AVX512(out *float32, ldo int, p *uint16, k int, x *float32, strips int, bias *float32)

// panel48x2F16AVX512 is panel48x1F16AVX512 for 2 rows of x.
//
//go:noescape
func panel48x2F16AVX512(out *float32, ldo int, p *uint16, k int, x *float32, strips int, bias *float32)

// panel48x3F16AVX512 is panel48x1F16AVX512 for 3 rows of x.
//
//go:noescape
func panel48x3F16AVX512(out *float32, ldo int, p *uint16, k int, x *float32, strips int, bias *float32)

// panel48x4F16AVX512 is panel48x1F16AVX512 for 4 rows of x.
//
//go:noescape
func panel48x4F16AVX512(out *float32, ldo int, p *uint16, k int, x *float32, strips int, bias *float32)

// panel48x5F16AVX512 is panel48x1F16AVX512 for 5 rows of x.
//
//go:noescape
func panel48x5F16AVX512(out *float32, ldo int, p *uint16, k int, x *float32, strips int, bias *float32)

// panel48x6F16AVX512 is panel48x1F16AVX512 for 6 rows of x.
//
//go:noescape
func panel48x6F16AVX512(out *float32, ldo int, p *uint16, k int, x *float32, strips int, bias *float32)

// panel48x7F16AVX512 is panel48x1F16AVX512 for 7 rows of x.
//
//go:noescape
func panel48x7F16AVX512(out *float32, ldo int, p *uint16, k int, x *float32, strips int, bias *float32)

// panel48x8F16AVX512 is panel48x1F16AVX512 for 8 rows of x.
//
//go:noescape
func panel48x8F16AVX512(out *float32, ldo int, p *uint16, k int, x *float32, strips int, bias *float32)

// panelStrips computes, for s < strips, i < r and c < 48,
// out[i*ldo+s*48+c] = x[i*k:][:k]·(column c of strip s of p) + bias[s*48+c]
// (bias may be nil), summing k in order; r <= panelRows. See
// panelStripsGeneric.
func panelStrips(out []float32, ldo int, p []float32, k int, x []float32, r, strips int, bias []float32) {
	bp := panelStripsBounds(len(out), ldo, len(p), k, len(x), r, strips, bias)
	if !useAVX512 {
		panelStripsGeneric(out, ldo, p, k, x, r, strips, bias)
		return
	}
	o, w, xp := &out[0], &p[0], &x[0]
	switch r {
	case 1:
		panel48x1F32AVX512(o, ldo, w, k, xp, strips, bp)
	case 2:
		panel48x2F32AVX512(o, ldo, w, k, xp, strips, bp)
	case 3:
		panel48x3F32AVX512(o, ldo, w, k, xp, strips, bp)
	case 4:
		panel48x4F32AVX512(o, ldo, w, k, xp, strips, bp)
	case 5:
		panel48x5F32AVX512(o, ldo, w, k, xp, strips, bp)
	case 6:
		panel48x6F32AVX512(o, ldo, w, k, xp, strips, bp)
	case 7:
		panel48x7F32AVX512(o, ldo, w, k, xp, strips, bp)
	case 8:
		panel48x8F32AVX512(o, ldo, w, k, xp, strips, bp)
	}
}

// panelStripsF16 is panelStrips for float16 strips; see
// panelStripsF16Generic.
func panelStripsF16(out []float32, ldo int, p []uint16, k int, x []float32, r, strips int, bias []float32) {
	bp := panelStripsBounds(len(out), ldo, len(p), k, len(x), r, strips, bias)
	if !useAVX512 {
		panelStripsF16Generic(out, ldo, p, k, x, r, strips, bias)
		return
	}
	o, w, xp := &out[0], &p[0], &x[0]
	switch r {
	case 1:
		panel48x1F16AVX512(o, ldo, w, k, xp, strips, bp)
	case 2:
		panel48x2F16AVX512(o, ldo, w, k, xp, strips, bp)
	case 3:
		panel48x3F16AVX512(o, ldo, w, k, xp, strips, bp)
	case 4:
		panel48x4F16AVX512(o, ldo, w, k, xp, strips, bp)
	case 5:
		panel48x5F16AVX512(o, ldo, w, k, xp, strips, bp)
	case 6:
		panel48x6F16AVX512(o, ldo, w, k, xp, strips, bp)
	case 7:
		panel48x7F16AVX512(o, ldo, w, k, xp, strips, bp)
	case 8:
		panel48x8F16AVX512(o, ldo, w, k, xp, strips, bp)
	}
}
