package tensor

import "math"

// rowSlow widens row i of a non-float32 matrix into dst.
func (m *Mat) rowSlow(dst []float32, i int) {
	K := m.Cols
	switch m.DType {
	case F16:
		src := m.F16[i*K : (i+1)*K]
		for j, h := range src {
			dst[j] = HalfToFloat(h)
		}
	case Q8:
		q := m.Q8[i*K : (i+1)*K]
		sc := m.Scales[i*(K/32) : (i+1)*(K/32)]
		for j, v := range q {
			dst[j] = float32(v) * sc[j/32]
		}
	case Q4:
		widenQ4Generic(dst, m.Q4[i*K/2:(i+1)*K/2], m.Scales[i*(K/32):(i+1)*(K/32)])
	}
}

// HalfToFloat widens an IEEE 754 binary16 value to float32 exactly.
func HalfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | frac<<13)
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: value = frac · 2⁻²⁴
		v := float32(frac) * (1.0 / (1 << 24))
		if sign != 0 {
			return -v
		}
		return v
	}
	return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
}
