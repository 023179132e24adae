//go:build gc && !purego

package tensor

// geluTanhAVX2 applies geluTanh to n values in place, 8 at a time:
//
//	for i := range n { x[i] = x[i] / (1 + expf(-2·√(2/π)·(x[i] + 0.044715·x[i]³))) }   // n a multiple of 8
//
//go:noescape
func geluTanhAVX2(x *float32, n int)

func geluTanhSlice(x []float32) {
	n := len(x)
	if !useAVX2FMA || n < 8 {
		geluTanhGeneric(x)
		return
	}
	n8 := n &^ 7
	geluTanhAVX2(&x[0], n8)
	geluTanhGeneric(x[n8:])
}

// expSubAVX2 computes the softmax numerator and its sum:
//
//	for i := range n { x[i] = expf(x[i] - m); s += x[i] }     // n a multiple of 8
//
//go:noescape
func expSubAVX2(x *float32, n int, m float32) float32

func expSub(x []float32, m float32) float32 {
	n := len(x)
	if !useAVX2FMA || n < 8 {
		return expSubGeneric(x, m)
	}
	n8 := n &^ 7
	return expSubAVX2(&x[0], n8, m) + expSubGeneric(x[n8:], m)
}
