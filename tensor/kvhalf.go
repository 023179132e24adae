package tensor

import "fmt"

// Attention over a KV cache stored in IEEE half precision (model's
// --kv-dtype f16): the keys and values are rounded once, when they are
// written, and widened to float32 in the kernels as they are read, so a
// long-context decode step reads half the bytes of a float32 cache. The
// arithmetic stays float32.

// NarrowF16 rounds src to half precision into dst (FloatToHalf on each
// value: nearest, ties to even; overflow to ±Inf):
//
//	dst[i] = FloatToHalf(src[i])     i < len(src)
//
// It panics if the lengths differ. It does not allocate.
func NarrowF16(dst []uint16, src []float32) {
	if len(dst) != len(src) {
		panic(fmt.Sprintf("tensor: NarrowF16: len %d != %d", len(dst), len(src)))
	}
	narrowF16(dst, src)
}

// narrowF16Generic is NarrowF16 one value at a time.
func narrowF16Generic(dst []uint16, src []float32) {
	dst = dst[:len(src)]
	for i, f := range src {
		dst[i] = FloatToHalf(f)
	}
}

// WidenF16 widens half-precision values to float32 exactly:
// dst[i] = HalfToFloat(src[i]). It panics if the lengths differ. It does
// not allocate.
func WidenF16(dst []float32, src []uint16) {
	if len(dst) != len(src) {
		panic(fmt.Sprintf("tensor: WidenF16: len %d != %d", len(dst), len(src)))
	}
	widenF16(dst, src)
}

// AttnScoresF16 is AttnScores with half-precision keys:
//
//	scores[p] = scale · Σ_j q[j]·HalfToFloat(k[p*ldk+j])     p < n = len(scores)
//
//	q      [HS]
//	k      [n, ldk]   half keys of one head, ldk >= HS
//	scores [n]
//
// FLOPs 2·n·HS, bytes read 2·n·HS. It panics if k is too short. It does
// not allocate.
func AttnScoresF16(scores, q []float32, k []uint16, ldk int, scale float32) {
	n, hs := len(scores), len(q)
	if n == 0 {
		return
	}
	if ldk < hs || len(k) < (n-1)*ldk+hs {
		panic(fmt.Sprintf("tensor: AttnScoresF16: len(k) %d too short for %d rows of stride %d and width %d", len(k), n, ldk, hs))
	}
	attnScoresF16(scores, q, k, ldk, scale)
}

// attnScoresF16Generic is AttnScoresF16 one key at a time.
func attnScoresF16Generic(scores, q []float32, k []uint16, ldk int, scale float32) {
	hs := len(q)
	for p := range scores {
		scores[p] = dotF16Generic(k[p*ldk:p*ldk+hs], q) * scale
	}
}

// AttnValuesF16 is AttnValues with half-precision values:
//
//	y[j] = Σ_p a[p]·HalfToFloat(v[p*ldv+j])     p < n = len(a), j < HS = len(y)
//
//	a [n]
//	v [n, ldv]   half values of one head, ldv >= HS
//	y [HS]       overwritten
//
// FLOPs 2·n·HS, bytes read 2·n·HS. It panics if v is too short. It does
// not allocate.
func AttnValuesF16(y, a []float32, v []uint16, ldv int) {
	clear(y)
	AttnValuesAddF16(y, a, v, ldv)
}

// AttnValuesAddF16 is AttnValuesF16 adding to y instead of overwriting
// it: y[j] += Σ_p a[p]·HalfToFloat(v[p*ldv+j]) (the later blocks of a
// paged cache).
func AttnValuesAddF16(y, a []float32, v []uint16, ldv int) {
	n, hs := len(a), len(y)
	if n == 0 {
		return
	}
	if ldv < hs || len(v) < (n-1)*ldv+hs {
		panic(fmt.Sprintf("tensor: AttnValuesF16: len(v) %d too short for %d rows of stride %d and width %d", len(v), n, ldv, hs))
	}
	attnValuesAddF16(y, a, v, ldv)
}

// attnValuesAddF16Generic is AttnValuesAddF16 one position at a time.
func attnValuesAddF16Generic(y, a []float32, v []uint16, ldv int) {
	hs := len(y)
	for p, w := range a {
		vr := v[p*ldv : p*ldv+hs]
		for j, h := range vr {
			y[j] += w * HalfToFloat(h)
		}
	}
}

// AttnCausalPagedF16 is AttnCausalPaged over a paged cache of half keys
// and values (the same layout, uint16 instead of float32), with scratch s
// of AttnCausalScratchF16(qpos0+nq, hs). Decode (the row path) widens
// each key and value as it reads it; the fused path widens the head's
// keys and values once into s, then runs as for float32.
func AttnCausalPagedF16(y []float32, ldy int, q []float32, ldq int, k, v []uint16, ldkv int, blocks []int32, bs, base, qpos0, nq, hs int, scale float32, s []float32) {
	n := qpos0 + nq
	if nq <= 0 {
		return
	}
	if bs < 1 || len(blocks) < (n+bs-1)/bs || ldkv < hs {
		panic(fmt.Sprintf("tensor: AttnCausalPagedF16: %d blocks of %d for %d positions (stride %d, width %d)", len(blocks), bs, n, ldkv, hs))
	}
	for _, b := range blocks[:(n+bs-1)/bs] {
		if end := base + (int(b)+1)*bs*ldkv - ldkv + hs; b < 0 || base < 0 || end > len(k) || end > len(v) {
			panic(fmt.Sprintf("tensor: AttnCausalPagedF16: block %d of %d positions at base %d past len(k) %d, len(v) %d", b, bs, base, len(k), len(v)))
		}
	}
	attnCausal(y, ldy, q, ldq, nil, nil, kvRows{blocks: blocks, bs: bs, base: base, ld: ldkv, kh: k, vh: v}, qpos0, nq, hs, scale, s)
}

// AttnCausalF16 is AttnCausal with half keys and values ([qpos0+nq,
// ldkv] each) and scratch s of AttnCausalScratchF16(qpos0+nq, hs).
func AttnCausalF16(y []float32, ldy int, q []float32, ldq int, k, v []uint16, ldkv, qpos0, nq, hs int, scale float32, s []float32) {
	n := qpos0 + nq
	if nq > 0 && (ldkv < hs || len(k) < (n-1)*ldkv+hs || len(v) < (n-1)*ldkv+hs) {
		panic(fmt.Sprintf("tensor: AttnCausalF16: len(k) %d, len(v) %d too short for %d rows of stride %d and width %d", len(k), len(v), n, ldkv, hs))
	}
	attnCausal(y, ldy, q, ldq, nil, nil, kvRows{ld: ldkv, kh: k, vh: v}, qpos0, nq, hs, scale, s)
}

// widenRows64F16Generic widens rows of 64 halves at stride lds into dst
// [rows][64] (a key or value block of the fused path).
func widenRows64F16Generic(dst []float32, src []uint16, lds, rows int) {
	for r := range rows {
		widenF16Generic(dst[r*64:(r+1)*64], src[r*lds:r*lds+64])
	}
}
