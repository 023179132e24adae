package tensor

import (
	"fmt"
	"math"
)

// Fused attention for prefill and long contexts (FlashAttention's online
// softmax, on the CPU). With AVX-512 and 64-wide heads (every GPT-2 size)
// a block of 16 query rows (scaled, packed transposed: the rows in the
// lanes) meets the keys 48 at a time: scores by the 12-row tile of Linear
// (each key row broadcast against the 16 queries), the online-softmax
// step on the tile (running maximum m, sum l and the rescaling factor
// exp(m_old - m_new) per query, 16 at a time), then the output rows
// rescaled and the probabilities times the value rows added, by register
// tiles of 6 query rows × 64 values. Keys and values are read once per
// block of 16 queries, from L1, and the scores never exist beyond one
// tile. Otherwise (and for fewer than 8 query rows: decode reads the
// keys once anyway) each row runs AttnScores, Softmax and AttnValues.

// Tile sizes of the fused path.
const (
	flashQ = 16 // query rows per block: the lanes of a Z register
	flashK = 48 // keys per block: 4 groups of 12 (the score tile)
	flashD = 64 // head size of the fused path

	// flashMinQ is the fewest query rows that take the fused path: below
	// it most lanes of the score tile would be empty (decode reads its
	// keys once anyway).
	flashMinQ = 8
)

// AttnCausalScratch returns the scratch AttnCausal and AttnCausalPaged
// need for n = qpos0+nq positions of heads of hs values.
func AttnCausalScratch(n, hs int) int {
	return max(n+hs, flashD*flashQ+flashK*flashQ+flashQ+48+12*flashD)
}

// AttnCausalScratchF16 returns the scratch AttnCausalF16 and
// AttnCausalPagedF16 need for n = qpos0+nq positions of heads of hs
// values: AttnCausalScratch plus room for the head's keys and values
// widened to float32 (2·n·64), which the fused path reads from.
func AttnCausalScratchF16(n, hs int) int { return AttnCausalScratch(n, hs) + 2*n*flashD }

// AttnFused reports whether AttnCausal and AttnCausalPaged take the fused
// path for nq query rows of hs values (AVX-512, hs = 64, nq >= 8); callers
// that time the stages of attention apart keep their own passes otherwise.
func AttnFused(nq, hs int) bool { return useAVX512 && hs == flashD && nq >= flashMinQ }

// kvRows locates the key and value rows of one head in a cache: position
// p at base + blocks[p/bs]·bs·ld + (p%bs)·ld, or base + p·ld when blocks
// is nil (one contiguous block).
type kvRows struct {
	blocks       []int32
	bs, base, ld int
	kh, vh       []uint16 // half keys and values instead of k and v (--kv-dtype f16)
}

func (c *kvRows) off(p int) int {
	if c.blocks == nil {
		return c.base + p*c.ld
	}
	return c.base + int(c.blocks[p/c.bs])*c.bs*c.ld + p%c.bs*c.ld
}

// run returns how many positions from p on are contiguous, at most n.
func (c *kvRows) run(p, n int) int {
	if c.blocks == nil {
		return n
	}
	return min(n, c.bs-p%c.bs)
}

// AttnCausal computes causal self-attention of nq consecutive query rows
// of one head, at positions qpos0..qpos0+nq-1, against the cached keys
// and values of positions 0..qpos0+nq-1:
//
//	y_i = Σ_{p <= qpos0+i} softmax_p(scale · q_i·k_p) · v_p
//
//	q    [nq, ldq]           the first hs values of each row used
//	k, v [qpos0+nq, ldkv]    one head's slice of a [T, C] cache: ldkv = C
//	y    [nq, ldy]           the first hs values of each row overwritten
//	s    [AttnCausalScratch(qpos0+nq, hs)]
//
// It equals AttnScores, Softmax and AttnValues row by row up to float32
// rounding. FLOPs 4·hs·Σ_i (qpos0+i+1). It panics if a slice is too short.
// It does not allocate.
func AttnCausal(y []float32, ldy int, q []float32, ldq int, k, v []float32, ldkv, qpos0, nq, hs int, scale float32, s []float32) {
	n := qpos0 + nq
	if nq > 0 && (ldkv < hs || len(k) < (n-1)*ldkv+hs || len(v) < (n-1)*ldkv+hs) {
		panic(fmt.Sprintf("tensor: AttnCausal: len(k) %d, len(v) %d too short for %d rows of stride %d and width %d", len(k), len(v), n, ldkv, hs))
	}
	attnCausal(y, ldy, q, ldq, k, v, kvRows{ld: ldkv}, qpos0, nq, hs, scale, s)
}

// AttnCausalPaged is AttnCausal over a paged cache: position p of the
// head is at k[base + blocks[p/bs]·bs·ldkv + (p%bs)·ldkv:] (v alike), the
// layout of model's KV blocks ([L, blocks, bs, C], base = the layer's
// start plus the head's offset). blocks holds the sequence's block table.
func AttnCausalPaged(y []float32, ldy int, q []float32, ldq int, k, v []float32, ldkv int, blocks []int32, bs, base, qpos0, nq, hs int, scale float32, s []float32) {
	n := qpos0 + nq
	if nq <= 0 {
		return
	}
	if bs < 1 || len(blocks) < (n+bs-1)/bs || ldkv < hs {
		panic(fmt.Sprintf("tensor: AttnCausalPaged: %d blocks of %d for %d positions (stride %d, width %d)", len(blocks), bs, n, ldkv, hs))
	}
	for _, b := range blocks[:(n+bs-1)/bs] {
		if end := base + (int(b)+1)*bs*ldkv - ldkv + hs; b < 0 || base < 0 || end > len(k) || end > len(v) {
			panic(fmt.Sprintf("tensor: AttnCausalPaged: block %d of %d positions at base %d past len(k) %d, len(v) %d", b, bs, base, len(k), len(v)))
		}
	}
	attnCausal(y, ldy, q, ldq, k, v, kvRows{blocks: blocks, bs: bs, base: base, ld: ldkv}, qpos0, nq, hs, scale, s)
}

func attnCausal(y []float32, ldy int, q []float32, ldq int, k, v []float32, kv kvRows, qpos0, nq, hs int, scale float32, s []float32) {
	if nq <= 0 {
		return
	}
	n := qpos0 + nq
	switch {
	case len(q) < (nq-1)*ldq+hs || len(y) < (nq-1)*ldy+hs:
		panic(fmt.Sprintf("tensor: AttnCausal: len(q) %d or len(y) %d too short for %d rows", len(q), len(y), nq))
	case kv.kh == nil && len(s) < AttnCausalScratch(n, hs):
		panic(fmt.Sprintf("tensor: AttnCausal: scratch %d, want AttnCausalScratch(%d, %d) = %d", len(s), n, hs, AttnCausalScratch(n, hs)))
	case kv.kh != nil && len(s) < AttnCausalScratchF16(n, hs):
		panic(fmt.Sprintf("tensor: AttnCausalF16: scratch %d, want AttnCausalScratchF16(%d, %d) = %d", len(s), n, hs, AttnCausalScratchF16(n, hs)))
	}
	if kv.kh != nil {
		if AttnFused(nq, hs) { // widen the head's n keys and values once, then as float32
			kw := s[len(s)-2*n*flashD : len(s)-n*flashD]
			vw := s[len(s)-n*flashD:]
			for p0 := 0; p0 < n; {
				m := kv.run(p0, n-p0)
				o := kv.off(p0)
				widenRows64F16(kw[p0*flashD:], kv.kh[o:], kv.ld, m)
				widenRows64F16(vw[p0*flashD:], kv.vh[o:], kv.ld, m)
				p0 += m
			}
			attnCausalTiles(y, ldy, q, ldq, kw, vw, kvRows{ld: flashD}, qpos0, nq, scale, s[:len(s)-2*n*flashD])
			return
		}
		attnRowsF16(y, ldy, q, ldq, kv, qpos0, nq, hs, scale, s)
		return
	}
	if AttnFused(nq, hs) {
		attnCausalTiles(y, ldy, q, ldq, k, v, kv, qpos0, nq, scale, s)
		return
	}
	tmp := s[n : n+hs]
	for i := range nq {
		vis := qpos0 + i + 1
		sc := s[:vis]
		for p0 := 0; p0 < vis; {
			m := kv.run(p0, vis-p0)
			o := kv.off(p0)
			attnScores(sc[p0:p0+m], q[i*ldq:i*ldq+hs], k[o:o+(m-1)*kv.ld+hs], kv.ld, scale)
			p0 += m
		}
		Softmax(sc)
		yi := y[i*ldy : i*ldy+hs]
		for p0 := 0; p0 < vis; {
			m := kv.run(p0, vis-p0)
			o := kv.off(p0)
			if p0 == 0 {
				attnValues(yi, sc[:m], v[o:o+(m-1)*kv.ld+hs], kv.ld)
			} else {
				attnValues(tmp, sc[p0:p0+m], v[o:o+(m-1)*kv.ld+hs], kv.ld)
				for j, t := range tmp {
					yi[j] += t
				}
			}
			p0 += m
		}
	}
}

// attnRowsF16 is attnCausal's row-by-row path over half keys and values.
func attnRowsF16(y []float32, ldy int, q []float32, ldq int, kv kvRows, qpos0, nq, hs int, scale float32, s []float32) {
	k, v := kv.kh, kv.vh
	for i := range nq {
		vis := qpos0 + i + 1
		sc := s[:vis]
		for p0 := 0; p0 < vis; {
			m := kv.run(p0, vis-p0)
			o := kv.off(p0)
			attnScoresF16(sc[p0:p0+m], q[i*ldq:i*ldq+hs], k[o:o+(m-1)*kv.ld+hs], kv.ld, scale)
			p0 += m
		}
		Softmax(sc)
		yi := y[i*ldy : i*ldy+hs]
		clear(yi)
		for p0 := 0; p0 < vis; {
			m := kv.run(p0, vis-p0)
			o := kv.off(p0)
			attnValuesAddF16(yi, sc[p0:p0+m], v[o:o+(m-1)*kv.ld+hs], kv.ld)
			p0 += m
		}
	}
}

// attnCausalTiles is the fused path (hs = 64): key blocks of up to 48
// positions, never across a block of a paged cache.
func attnCausalTiles(y []float32, ldy int, q []float32, ldq int, k, v []float32, kv kvRows, qpos0, nq int, scale float32, buf []float32) {
	qt := buf[:flashD*flashQ]                                          // [64][16] scaled queries, transposed
	tile := buf[len(qt) : len(qt)+flashK*flashQ+flashQ]                // [48][16] scores, then probabilities (+ pad)
	st := (*[48]float32)(buf[len(qt)+len(tile):])                      // m, l, corr of the 16 queries
	kpad := buf[len(qt)+len(tile)+48 : len(qt)+len(tile)+48+12*flashD] // keys near the end of k, padded to 12 rows
	negInf := float32(math.Inf(-1))
	ld := kv.ld
	for i0 := 0; i0 < nq; i0 += flashQ {
		qn := min(flashQ, nq-i0)
		for d := range flashD {
			row := qt[d*flashQ : (d+1)*flashQ]
			for i := range row {
				row[i] = 0
				if i < qn {
					row[i] = q[(i0+i)*ldq+d] * scale
				}
			}
		}
		for i := range flashQ {
			st[i], st[16+i] = negInf, 0
		}
		for i := range qn {
			clear(y[(i0+i)*ldy : (i0+i)*ldy+flashD])
		}
		last := qpos0 + i0 + qn - 1 // the last position the block sees
		for p0 := 0; p0 <= last; {
			nk := kv.run(p0, min(flashK, last+1-p0))
			base := kv.off(p0)
			for g := 0; g < nk; g += 12 {
				kb, ldk := k[base+g*ld:], ld
				if 11*ld+flashD > len(kb) { // fewer than 12 rows left in k
					clear(kpad)
					for j := range min(12, nk-g) {
						copy(kpad[j*flashD:(j+1)*flashD], kb[j*ld:j*ld+flashD])
					}
					kb, ldk = kpad, flashD
				}
				outer12F32(tile[g*flashQ:], kb, ldk, qt, 0, flashD, flashQ, nil)
			}
			if p0+nk-1 > qpos0+i0 { // the diagonal: mask keys after each query
				for j := range nk {
					for i := range flashQ {
						if p0+j > qpos0+i0+i {
							tile[j*flashQ+i] = negInf
						}
					}
				}
			}
			flashSoftmax16(tile, nk, st)
			for r0 := 0; r0 < qn; r0 += 6 {
				pvRows(y[(i0+r0)*ldy:], ldy, tile[r0:], v[base:], ld, nk, st[32+r0:], min(6, qn-r0))
			}
			p0 += nk
		}
		for i := range qn {
			inv := 1 / st[16+i]
			yi := y[(i0+i)*ldy : (i0+i)*ldy+flashD]
			for d := range yi {
				yi[d] *= inv
			}
		}
	}
}

// flashSoftmax16Generic is the online-softmax step of a tile of scores
// s [nk][16] (keys in rows, 16 queries in the lanes) with the state st =
// m, l, corr [3][16]: m' = max(m, max_j s), corr = exp(m - m'), s =
// exp(s - m'), l = l·corr + Σ_j s, m = m'.
func flashSoftmax16Generic(s []float32, nk int, st *[48]float32) {
	for i := range 16 {
		mNew := st[i]
		for j := range nk {
			mNew = max(mNew, s[j*16+i])
		}
		corr := expf(max(st[i]-mNew, -87))
		var sum float32
		for j := range nk {
			e := expf(max(s[j*16+i]-mNew, -87))
			s[j*16+i] = e
			sum += e
		}
		st[16+i] = st[16+i]*corr + sum
		st[32+i] = corr
		st[i] = mNew
	}
}

// pvRowsGeneric computes, for r query rows, o[i*ldo+d] = corr[i]·o[i*ldo+d]
// + Σ_{j<nk} p[j*16+i]·v[j*ldv+d], d < 64.
func pvRowsGeneric(o []float32, ldo int, p, v []float32, ldv, nk int, corr []float32, r int) {
	for i := range r {
		oi := o[i*ldo : i*ldo+flashD]
		for d := range oi {
			oi[d] *= corr[i]
		}
		for j := range nk {
			axpy(oi, p[j*16+i], v[j*ldv:j*ldv+flashD])
		}
	}
}
