package bench

import "math/rand/v2"

// Prompts returns n prompts of exactly length tokens each, drawn uniformly
// from [0, vocab) without eos (pass a negative eos to allow every id). The
// same seed, stream, n, length and vocab give the same prompts on every
// machine; distinct streams give independent prompts.
func Prompts(seed int64, stream uint64, n, length, vocab int, eos int32) [][]int32 {
	rng := rand.New(rand.NewPCG(uint64(seed), stream))
	hi := vocab
	skip := eos >= 0 && int(eos) < vocab
	if skip && vocab > 1 {
		hi-- // draw from vocab-1 ids and step over eos
	}
	out := make([][]int32, n)
	for i := range out {
		p := make([]int32, length)
		for t := range p {
			id := int32(rng.IntN(hi))
			if skip && vocab > 1 && id >= eos {
				id++
			}
			p[t] = id
		}
		out[i] = p
	}
	return out
}
