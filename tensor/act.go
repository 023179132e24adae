package tensor

import "math"

// Fast float32 elementwise functions shared by GELU, Softmax and the fused
// activation of LinearAct.

// activateSlice applies act to every value of x.
func activateSlice(act Act, x []float32) {
	switch act {
	case ActGELUTanh:
		geluTanhSlice(x)
	case ActGELUErf:
		for i, v := range x {
			x[i] = geluErf(v)
		}
	}
}

// expSubGeneric sets x[i] = expf(x[i] - m) and returns Σ x[i].
func expSubGeneric(x []float32, m float32) float32 {
	var s0, s1 float32
	i := 0
	for ; i+2 <= len(x); i += 2 {
		e0, e1 := expf(x[i]-m), expf(x[i+1]-m)
		x[i], x[i+1] = e0, e1
		s0 += e0
		s1 += e1
	}
	for ; i < len(x); i++ {
		e := expf(x[i] - m)
		x[i] = e
		s0 += e
	}
	return s0 + s1
}

// geluTanhGeneric applies geluTanh to every value of x.
func geluTanhGeneric(x []float32) {
	for i, v := range x {
		x[i] = geluTanh(v)
	}
}

// geluTanh is x·½(1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³), computed as
// x·σ(2u) = x / (1 + e^(-2u)), the same function (½(1+tanh u) = σ(2u))
// with one exp and no cancellation for large |u|.
func geluTanh(v float32) float32 {
	const s2 = 2 * 0.7978845608028654 // 2·√(2/π)
	u := s2 * (v + 0.044715*v*v*v)
	return v / (1 + expf(-u))
}

// geluErf is the exact GELU x·½(1 + erf(x/√2)).
func geluErf(v float32) float32 {
	return 0.5 * v * (1 + float32(math.Erf(float64(v)/math.Sqrt2)))
}

// expf returns e^x in float32 to about 1 ulp (Cephes expf): x = n·ln2 + r
// with |r| <= ln2/2, e^r by a degree-6 polynomial, times 2^n built from
// the exponent bits. Below -87.3 it returns 0 (no subnormals), above
// 88.72 +Inf; NaN stays NaN.
func expf(x float32) float32 {
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693359375 // ln2 = ln2hi + ln2lo, ln2hi exact in few bits
		ln2lo = -2.12194440e-4
	)
	switch {
	case x > 88.72283905206835:
		return float32(math.Inf(1))
	case x < -87.33654475055310898:
		return 0
	case x != x:
		return x
	}
	// n = round(x·log2e)
	fn := x * log2e
	var n int32
	if fn >= 0 {
		n = int32(fn + 0.5)
	} else {
		n = int32(fn - 0.5)
	}
	f := float32(n)
	r := x - f*ln2hi - f*ln2lo
	p := float32(1.9875691500e-4)
	p = p*r + 1.3981999507e-3
	p = p*r + 8.3334519073e-3
	p = p*r + 4.1665795894e-2
	p = p*r + 1.6666665459e-1
	p = p*r + 5.0000001201e-1
	y := p*r*r + r + 1
	// scale by 2^n in two steps so n = 128 (x near the top) does not overflow the exponent
	if n > 127 {
		return y * 2 * math.Float32frombits(uint32(n-1+127)<<23)
	}
	if n < -126 {
		return y * math.Float32frombits(uint32(n+126+127)<<23) * 0x1p-126
	}
	return y * math.Float32frombits(uint32(n+127)<<23)
}
