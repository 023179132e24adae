package half

import (
	"encoding/binary"
	"math"
	"slices"
	"testing"
)

// refFloat16 computes a binary16 value from its fields with float64
// arithmetic: (-1)^s * 2^(e-15) * (1 + m/1024), or 2^-14 * m/1024 when e is 0.
func refFloat16(h uint16) float64 {
	s := 1.0
	if h&0x8000 != 0 {
		s = -1
	}
	e := int(h>>10) & 0x1f
	m := float64(h & 0x3ff)
	switch e {
	case 0x1f:
		if m == 0 {
			return math.Inf(int(s))
		}
		return math.NaN()
	case 0:
		return s * math.Ldexp(m/1024, -14)
	}
	return s * math.Ldexp(1+m/1024, e-15)
}

func TestFloat16ToFloat32Exhaustive(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		got := Float16ToFloat32(h)
		want := refFloat16(h)
		if math.IsNaN(want) {
			if !math.IsNaN(float64(got)) {
				t.Fatalf("%#04x: got %v, want NaN", h, got)
			}
			if math.Float32bits(got)>>31 != uint32(h>>15) {
				t.Fatalf("%#04x: NaN lost its sign", h)
			}
			continue
		}
		if float64(got) != want || math.Signbit(float64(got)) != math.Signbit(want) {
			t.Fatalf("%#04x: got %v, want %v", h, got, want)
		}
		if back := Float32ToFloat16(got); back != h {
			t.Fatalf("%#04x: round trip gives %#04x", h, back)
		}
	}
}

func TestBFloat16ToFloat32Exhaustive(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		b := uint16(i)
		got := BFloat16ToFloat32(b)
		s := 1.0
		if b&0x8000 != 0 {
			s = -1
		}
		e := int(b>>7) & 0xff
		m := float64(b & 0x7f)
		var want float64
		switch e {
		case 0xff:
			want = math.Inf(int(s))
			if m != 0 {
				want = math.NaN()
			}
		case 0:
			want = s * math.Ldexp(m/128, -126)
		default:
			want = s * math.Ldexp(1+m/128, e-127)
		}
		if math.IsNaN(want) {
			if !math.IsNaN(float64(got)) {
				t.Fatalf("%#04x: got %v, want NaN", b, got)
			}
			continue
		}
		if float64(got) != want || math.Signbit(float64(got)) != math.Signbit(want) {
			t.Fatalf("%#04x: got %v, want %v", b, got, want)
		}
	}
}

func TestFloat32ToFloat16Rounding(t *testing.T) {
	tests := []struct {
		name string
		in   float32
		want uint16
	}{
		{"one", 1, 0x3c00},
		{"max", 65504, 0x7bff},
		{"overflow", 65520, 0x7c00}, // halfway above max rounds to even: Inf
		{"below-overflow", 65519, 0x7bff},
		{"smallest-subnormal", float32(math.Ldexp(1, -24)), 0x0001},
		{"half-smallest-subnormal", float32(math.Ldexp(1, -25)), 0x0000}, // ties to even: 0
		{"three-quarter-subnormal", float32(math.Ldexp(3, -26)), 0x0001},
		{"tie-to-even-up", 1 + 3.0/2048, 0x3c02},
		{"tie-to-even-down", 1 + 1.0/2048, 0x3c00},
		{"neg-inf", float32(math.Inf(-1)), 0xfc00},
		{"neg-zero", float32(math.Copysign(0, -1)), 0x8000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Float32ToFloat16(tc.in); got != tc.want {
				t.Errorf("Float32ToFloat16(%v) = %#04x, want %#04x", tc.in, got, tc.want)
			}
		})
	}
	if h := Float32ToFloat16(float32(math.NaN())); h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
		t.Errorf("NaN became %#04x", h)
	}
}

func TestDecode(t *testing.T) {
	want := []float32{1, -2.5, 0, float32(math.Inf(1))}
	f32 := make([]byte, 0, 4*len(want))
	f16 := make([]byte, 0, 2*len(want))
	bf16 := make([]byte, 0, 2*len(want))
	for _, v := range want {
		f32 = binary.LittleEndian.AppendUint32(f32, math.Float32bits(v))
		f16 = binary.LittleEndian.AppendUint16(f16, Float32ToFloat16(v))
		bf16 = binary.LittleEndian.AppendUint16(bf16, uint16(math.Float32bits(v)>>16))
	}
	for _, tc := range []struct {
		name   string
		decode func(dst []float32, src []byte)
		src    []byte
	}{
		{"float32", DecodeFloat32, f32},
		{"float16", DecodeFloat16, f16},
		{"bfloat16", DecodeBFloat16, bf16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := make([]float32, len(want))
			tc.decode(got, tc.src)
			if !slices.Equal(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}
