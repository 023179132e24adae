//go:build !amd64 || !gc || purego

package tensor

func panelStrips(out []float32, ldo int, p []float32, k int, x []float32, r, strips int, bias []float32) {
	panelStripsBounds(len(out), ldo, len(p), k, len(x), r, strips, bias)
	panelStripsGeneric(out, ldo, p, k, x, r, strips, bias)
}

func panelStripsF16(out []float32, ldo int, p []uint16, k int, x []float32, r, strips int, bias []float32) {
	panelStripsBounds(len(out), ldo, len(p), k, len(x), r, strips, bias)
	panelStripsF16Generic(out, ldo, p, k, x, r, strips, bias)
}
