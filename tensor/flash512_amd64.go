//go:build gc && !purego

package tensor

// flashSoftmax16AVX512 is the online-softmax step of a tile of scores,
// keys in rows and 16 query rows in the lanes:
//
//	m, l, corr := st[0:16], st[16:32], st[32:48]
//	for i := range 16 {                                       // nk >= 1
//		mNew := max(m[i], max_{j<nk} s[j*16+i])
//		corr[i] = expf(m[i] - mNew)
//		for j := range nk { s[j*16+i] = expf(s[j*16+i] - mNew) }
//		l[i] = l[i]·corr[i] + Σ_j s[j*16+i]
//		m[i] = mNew
//	}
//
//go:noescape
func flashSoftmax16AVX512(s *float32, nk int, st *[48]float32)

// pvNx64AVX512 rescale N (1..6) rows of 64 outputs and add probabilities
// times value rows:
//
//	for i := range N {                                          // nk >= 0
//		for d := range 64 { o[i*ldo+d] = corr[i]·o[i*ldo+d] + Σ_{j<nk} p[j*16+i]·v[j*ldv+d] }
//	}
//
//go:noescape
func pv1x64AVX512(o *float32, ldo int, p *float32, v *float32, ldv int, nk int, corr *float32)

//go:noescape
func pv2x64AVX512(o *float32, ldo int, p *float32, v *float32, ldv int, nk int, corr *float32)

//go:noescape
func pv3x64AVX512(o *float32, ldo int, p *float32, v *float32, ldv int, nk int, corr *float32)

//go:noescape
func pv4x64AVX512(o *float32, ldo int, p *float32, v *float32, ldv int, nk int, corr *float32)

//go:noescape
func pv5x64AVX512(o *float32, ldo int, p *float32, v *float32, ldv int, nk int, corr *float32)

//go:noescape
func pv6x64AVX512(o *float32, ldo int, p *float32, v *float32, ldv int, nk int, corr *float32)

func flashSoftmax16(s []float32, nk int, st *[48]float32) {
	if !useAVX512 || nk < 1 {
		flashSoftmax16Generic(s, nk, st)
		return
	}
	s = s[:16*nk]
	flashSoftmax16AVX512(&s[0], nk, st)
}

// pvRows adds r (1..6) query rows' share of a tile; see pvRowsGeneric.
func pvRows(o []float32, ldo int, p, v []float32, ldv, nk int, corr []float32, r int) {
	if !useAVX512 || nk < 1 || r < 1 || r > 6 {
		pvRowsGeneric(o, ldo, p, v, ldv, nk, corr, r)
		return
	}
	o = o[:(r-1)*ldo+64]
	p = p[:(nk-1)*16+r]
	v = v[:(nk-1)*ldv+64]
	corr = corr[:r]
	switch r {
	case 1:
		pv1x64AVX512(&o[0], ldo, &p[0], &v[0], ldv, nk, &corr[0])
	case 2:
		pv2x64AVX512(&o[0], ldo, &p[0], &v[0], ldv, nk, &corr[0])
	case 3:
		pv3x64AVX512(&o[0], ldo, &p[0], &v[0], ldv, nk, &corr[0])
	case 4:
		pv4x64AVX512(&o[0], ldo, &p[0], &v[0], ldv, nk, &corr[0])
	case 5:
		pv5x64AVX512(&o[0], ldo, &p[0], &v[0], ldv, nk, &corr[0])
	default:
		pv6x64AVX512(&o[0], ldo, &p[0], &v[0], ldv, nk, &corr[0])
	}
}
