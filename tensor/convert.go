package tensor

import (
	"fmt"
	"math"
)

// Q8Block is the number of values of a row that share one int8 scale.
const Q8Block = 32

// Convert returns a copy of the float32 matrix m stored as dt. F16 rounds
// to nearest even; Q8 stores round(v/s) with s = max|v|/127 per block of
// Q8Block values of a row (symmetric, so zero stays exact); Q4 stores
// round(v/s) in [-8, 7] with s = v_max/-8 per block, v_max the value of
// largest magnitude (GGUF's Q4_0). Q8 and Q4 also get their row sums.
// The copy is row-major, also from strips (Panels).
func (m *Mat) Convert(dt DType) (*Mat, error) {
	if m.DType != F32 {
		return nil, fmt.Errorf("tensor: convert from %v: only float32 matrices convert", m.DType)
	}
	if m.Panels {
		m = unpackPanels(m)
	}
	out := &Mat{Rows: m.Rows, Cols: m.Cols, DType: dt}
	switch dt {
	case F32:
		out.F32 = append([]float32(nil), m.F32...)
	case F16:
		out.F16 = make([]uint16, len(m.F32))
		for i, v := range m.F32 {
			out.F16[i] = FloatToHalf(v)
		}
	case Q8:
		if m.Cols%Q8Block != 0 {
			return nil, fmt.Errorf("tensor: int8 needs rows of a multiple of %d values, have %d", Q8Block, m.Cols)
		}
		out.Q8 = make([]int8, len(m.F32))
		out.Scales = make([]float32, len(m.F32)/Q8Block)
		for bi := range out.Scales {
			blk := m.F32[bi*Q8Block : (bi+1)*Q8Block]
			var amax float32
			for _, v := range blk {
				amax = max(amax, float32(math.Abs(float64(v))))
			}
			s := amax / 127
			out.Scales[bi] = s
			if s == 0 {
				continue
			}
			q := out.Q8[bi*Q8Block : (bi+1)*Q8Block]
			for j, v := range blk {
				q[j] = int8(math.RoundToEven(float64(v / s)))
			}
		}
		out.Sums = q8RowSums(out)
	case Q4:
		if m.Cols%Q8Block != 0 {
			return nil, fmt.Errorf("tensor: q4 needs rows of a multiple of %d values, have %d", Q8Block, m.Cols)
		}
		out.Q4 = make([]uint8, len(m.F32)/2)
		out.Scales = make([]float32, len(m.F32)/Q8Block)
		for bi := range out.Scales {
			blk := m.F32[bi*Q8Block : (bi+1)*Q8Block]
			// The value of largest magnitude maps to -8 exactly (GGUF's
			// Q4_0): s = v/-8, the others to round(v/s) in [-8, 7].
			var vmax float32
			for _, v := range blk {
				if math.Abs(float64(v)) > math.Abs(float64(vmax)) {
					vmax = v
				}
			}
			s := vmax / -8
			out.Scales[bi] = s
			var inv float32
			if s != 0 {
				inv = 1 / s
			}
			q := out.Q4[bi*Q8Block/2 : (bi+1)*Q8Block/2]
			for j := range q {
				lo := min(15, max(0, int(math.RoundToEven(float64(blk[j]*inv)))+8))
				hi := min(15, max(0, int(math.RoundToEven(float64(blk[j+16]*inv)))+8))
				q[j] = uint8(lo) | uint8(hi)<<4
			}
		}
		out.Sums = q8RowSums(out)
	default:
		return nil, fmt.Errorf("tensor: convert to unknown dtype %v", dt)
	}
	return out, nil
}

// FloatToHalf rounds a float32 to the nearest IEEE 754 binary16 value
// (ties to even); overflow becomes ±Inf, NaN stays NaN.
func FloatToHalf(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	frac := b & 0x7fffff
	if exp == 0xff { // inf or NaN
		if frac != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 { // subnormal or zero in half
		if e < -10 {
			return sign
		}
		m := frac | 0x800000
		shift := uint32(14 - e)
		h := m >> shift
		rem := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	}
	h := uint32(e)<<10 | frac>>13
	rem := frac & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++ // may carry into the exponent, which is still correct (up to Inf)
	}
	return sign | uint16(h)
}

// q8RowSums returns Σ_k s[b(k)]·q[k] for each row of an int8 matrix, in
// float64 rounded once: the VNNI kernels see x + 128 and subtract 128
// times this.
func q8RowSums(m *Mat) []float32 {
	nb := m.Cols / Q8Block
	sums := make([]float32, m.Rows)
	for r := range sums {
		var t float64
		for b := range nb {
			var blk int64
			if m.DType == Q4 {
				for _, v := range m.Q4[(r*nb+b)*Q8Block/2 : (r*nb+b+1)*Q8Block/2] {
					blk += int64(v&15) + int64(v>>4) - 16
				}
			} else {
				for _, v := range m.Q8[(r*nb+b)*Q8Block : (r*nb+b+1)*Q8Block] {
					blk += int64(v)
				}
			}
			t += float64(m.Scales[r*nb+b]) * float64(blk)
		}
		sums[r] = float32(t)
	}
	return sums
}
