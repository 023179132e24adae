package tensor

import "fmt"

// DType is how a weight matrix is stored.
type DType uint8

const (
	F32 DType = iota // float32
	F16              // IEEE half, widened to float32 in the kernel
	Q8               // int8, symmetric, one float32 scale per block of 32 values of a row
	Q4               // 4-bit, one float32 scale per block of 32 values of a row (as GGUF's Q4_0)
)

// String returns the name used on the command line and in reports.
func (d DType) String() string {
	switch d {
	case F32:
		return "f32"
	case F16:
		return "f16"
	case Q8:
		return "int8"
	case Q4:
		return "q4"
	}
	return fmt.Sprintf("DType(%d)", uint8(d))
}

// ParseDType maps a command-line name ("f32", "f16", "int8", "q4") to a DType.
func ParseDType(s string) (DType, error) {
	switch s {
	case "f32", "float32", "fp32":
		return F32, nil
	case "f16", "float16", "fp16", "half":
		return F16, nil
	case "int8", "q8", "i8":
		return Q8, nil
	case "q4", "int4", "q4_0":
		return Q4, nil
	}
	return 0, fmt.Errorf("unknown dtype %q: want f32, f16, int8 or q4", s)
}

// Mat is a weight matrix [Rows, Cols] = [out, in], row-major, in one of
// the DTypes. Only the slice of its DType is set. Float32 and float16
// weights may instead be cut into strips (Panels; see PackForLinear).
type Mat struct {
	Rows, Cols int
	DType      DType
	Panels     bool      // F32 or F16 holds strips of PanelWidth rows, each column by column ([Cols, PanelWidth]; a narrower last strip [Cols, Rows%PanelWidth])
	F32        []float32 // [Rows, Cols] when DType == F32 (strips when Panels)
	F16        []uint16  // [Rows, Cols] when DType == F16 (strips when Panels)
	Q8         []int8    // [Rows, Cols] when DType == Q8
	Q4         []uint8   // [Rows, Cols/2] when DType == Q4: per block of 32, byte j holds value j (low nibble) and j+16 (high), each stored + 8
	Scales     []float32 // [Rows, Cols/32] when DType == Q8 or Q4
	Sums       []float32 // [Rows] Σ of each row's dequantised values when DType == Q8 or Q4 (the VNNI kernels' offset correction); may be nil
}

// NewMat wraps float32 data [rows, cols] without copying it.
func NewMat(data []float32, rows, cols int) *Mat {
	if len(data) != rows*cols {
		panic(fmt.Sprintf("tensor: NewMat: len %d != %d x %d", len(data), rows, cols))
	}
	return &Mat{Rows: rows, Cols: cols, DType: F32, F32: data}
}

// Bytes returns the memory the matrix occupies.
func (m *Mat) Bytes() int64 {
	return int64(4*len(m.F32) + 2*len(m.F16) + len(m.Q8) + len(m.Q4) + 4*len(m.Scales) + 4*len(m.Sums))
}

// Row writes row i of m, widened to float32, into dst [Cols].
func (m *Mat) Row(dst []float32, i int) {
	dst = dst[:m.Cols]
	switch {
	case m.Panels:
		m.panelRow(dst, i)
	case m.DType == F32:
		copy(dst, m.F32[i*m.Cols:(i+1)*m.Cols])
	default:
		m.rowSlow(dst, i)
	}
}
