//go:build !amd64 || !gc || purego

package tensor

func dotTilesF32(out []float32, ldo, ls int, w []float32, lds int, x []float32, k, tiles int, bias []float32, n int) {
	dotTilesF32Generic(out, ldo, ls, w, lds, x, k, tiles, bias, n)
}

func dotTilesF16(out []float32, ldo, ls int, w []uint16, lds int, x []float32, k, tiles int, bias []float32, n int) {
	dotTilesF16Generic(out, ldo, ls, w, lds, x, k, tiles, bias, n)
}
