//go:build !amd64 || !gc || purego

package tensor

func gemv4F32(dst *[4]float32, w []float32, ldw int, x []float32) { gemv4F32Generic(dst, w, ldw, x) }
func widenF16(dst []float32, src []uint16)                        { widenF16Generic(dst, src) }
func widenQ8(dst []float32, q []int8, s []float32)                { widenQ8Generic(dst, q, s) }

func tile4x2F32(dst *[8]float32, w []float32, ldw int, x []float32, ldx, k int) {
	tile4x2F32Generic(dst, w, ldw, x, ldx, k)
}

func gemvRowsF32(out, w, x []float32)                    { gemvRowsF32Generic(out, w, x) }
func gemvRowsF16(out []float32, w []uint16, x []float32) { gemvRowsF16Generic(out, w, x) }
func gemvRowsQ8(out []float32, q []int8, s, x []float32) { gemvRowsQ8Generic(out, q, s, x) }

func tiles4x3F32(dst, w []float32, ldw int, x []float32, ldx, k, ntiles int, _ *float32) {
	tiles4x3F32Generic(dst, w, ldw, x, ldx, k, ntiles)
}

func outer6x16F32(dst *[128]float32, w []float32, ldw int, xt []float32, k int, _ []float32) {
	outer6x16F32Generic(dst, w, ldw, xt, k)
}

func addTile6(out []float32, ldo int, tile *[128]float32, bias *[8]float32, acc bool) {
	addTile6Generic(out, ldo, tile, bias, acc)
}

func packXT(xt, x []float32, N, K, plo, phi int) { packXTGeneric(xt, x, N, K, plo, phi) }

func outer12F32(dst, w []float32, ldw int, xt []float32, ldp, k, p int, _ []float32) {
	outer12F32Generic(dst, w, ldw, xt, ldp, k, p)
}

func vnni12Q8(dst []float32, w []int8, ldw int, s []float32, lds int, xq []byte, kb, p int, _ []int8) {
	vnni12Q8Generic(dst, w, ldw, s, lds, xq, kb, p)
}

func storeTile12(out []float32, ldo int, tile []float32, lanes, nn, rows int, alpha []float32, beta, bias *[16]float32, acc bool) {
	storeTile12Generic(out, ldo, tile, lanes, nn, rows, alpha, beta, bias, acc)
}

func quantPackRow(dst []byte, src []float32) float32 { return quantPackRowGeneric(dst, src) }

func quantRow(dst []byte, src []float32) float32 { return quantRowGeneric(dst, src) }

func gemvRowsQ8VNNI(out []float32, q []int8, s []float32, xq []byte) {
	gemvRowsQ8VNNIGeneric(out, q, s, xq)
}

func flashSoftmax16(s []float32, nk int, st *[48]float32) { flashSoftmax16Generic(s, nk, st) }

func pvRows(o []float32, ldo int, p, v []float32, ldv, nk int, corr []float32, r int) {
	pvRowsGeneric(o, ldo, p, v, ldv, nk, corr, r)
}

func unpackQ4(dst []int8, src []uint8) { unpackQ4Generic(dst, src) }

func prefetchF16([]uint16) {}
