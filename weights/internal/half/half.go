// Package half converts IEEE 754 half precision (float16) and bfloat16
// values, and little-endian tensor data, to and from float32 for the
// checkpoint parsers.
package half

import (
	"encoding/binary"
	"math"
)

// Float16ToFloat32 returns the float32 equal to the IEEE 754 binary16 value
// with bits h. Every float16 is exactly representable as a float32, so the
// conversion is exact: subnormals become normal float32s, ±Inf stays ±Inf,
// and a NaN keeps its sign and payload (shifted into the float32 mantissa).
func Float16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0: // normal: rebias 15 -> 127
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	case mant == 0: // ±0
		return math.Float32frombits(sign)
	}
	// subnormal: value = mant * 2^-24; normalise so the leading 1 is implicit.
	e := uint32(127 - 15 + 1)
	for mant&0x400 == 0 {
		mant <<= 1
		e--
	}
	return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
}

// BFloat16ToFloat32 returns the float32 whose top 16 bits are b: bfloat16 is
// a truncated float32, so the conversion is exact.
func BFloat16ToFloat32(b uint16) float32 {
	return math.Float32frombits(uint32(b) << 16)
}

// Float32ToFloat16 returns the binary16 bits nearest to f, rounding to
// nearest even; values beyond the float16 range become ±Inf and a NaN stays
// a NaN (with the top bits of its payload). It is the inverse of
// Float16ToFloat32 on every float16.
func Float32ToFloat16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff { // Inf or NaN
		if mant == 0 {
			return sign | 0x7c00
		}
		m := uint16(mant >> 13)
		if m == 0 {
			m = 0x200 // keep it a NaN
		}
		return sign | 0x7c00 | m
	}
	e := exp - 127 + 15
	if e >= 0x1f { // overflow
		return sign | 0x7c00
	}
	if e <= 0 { // subnormal or zero in float16
		if e < -10 {
			return sign // rounds to ±0
		}
		mant |= 0x800000 // implicit leading 1
		shift := uint32(14 - e)
		h := mant >> shift
		rem := mant & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	}
	h := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++ // may carry into the exponent, up to Inf: still correct
	}
	return sign | uint16(h)
}

// DecodeFloat32 converts little-endian float32 data: dst[i] = src[4i:4i+4].
// src must hold at least 4*len(dst) bytes.
func DecodeFloat32(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
	}
}

// DecodeFloat16 converts little-endian float16 data exactly:
// dst[i] = Float16ToFloat32(src[2i:2i+2]). src must hold at least
// 2*len(dst) bytes.
func DecodeFloat16(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = Float16ToFloat32(binary.LittleEndian.Uint16(src[2*i:]))
	}
}

// DecodeBFloat16 converts little-endian bfloat16 data exactly:
// dst[i] = BFloat16ToFloat32(src[2i:2i+2]). src must hold at least
// 2*len(dst) bytes.
func DecodeBFloat16(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = BFloat16ToFloat32(binary.LittleEndian.Uint16(src[2*i:]))
	}
}
