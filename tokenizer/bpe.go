package tokenizer

import "math"

// smallPiece is the longest piece merged by the simple quadratic scan
// (mergeScan); longer pieces use the heap (mergeHeap), which is O(n log n).
// Almost all pieces of real text are shorter than this.
const smallPiece = 64

// noRank marks a pair whose concatenation is not a token.
const noRank = math.MaxInt

// encodePiece appends the ids of one pre-token to ids.
func (t *Tokenizer) encodePiece(ids []int32, piece string) []int32 {
	if id, ok := t.ranks[piece]; ok {
		return append(ids, int32(id))
	}
	if len(piece) <= smallPiece {
		return mergeScan(ids, piece, t.ranks)
	}
	return mergeHeap(ids, piece, t.ranks)
}

// mergeScan byte-pair merges piece and appends the ids of its parts to ids.
// Each step joins the adjacent pair of parts whose concatenation has the
// lowest rank, the leftmost on a tie, until no concatenation is a token. This
// is tiktoken's bytePairMerge: O(len(piece)²), for short pieces.
func mergeScan(ids []int32, piece string, ranks map[string]int) []int32 {
	type part struct {
		start int // byte offset of the part in piece
		rank  int // rank of this part joined with the next one, or noRank
	}
	var buf [smallPiece + 1]part
	parts := buf[:0]
	if len(piece)+1 > len(buf) {
		parts = make([]part, 0, len(piece)+1)
	}
	for i := 0; i <= len(piece); i++ {
		parts = append(parts, part{start: i, rank: noRank})
	}
	// rankOf is the rank of parts[i] joined with the next skip+1 parts.
	rankOf := func(i, skip int) int {
		if i+skip+2 < len(parts) {
			if r, ok := ranks[piece[parts[i].start:parts[i+skip+2].start]]; ok {
				return r
			}
		}
		return noRank
	}
	for i := 0; i+2 < len(parts); i++ {
		parts[i].rank = rankOf(i, 0)
	}
	for len(parts) > 1 {
		minRank, i := noRank, -1
		for j, p := range parts[:len(parts)-1] {
			if p.rank < minRank {
				minRank, i = p.rank, j
			}
		}
		if i < 0 {
			break
		}
		// Join parts[i] and parts[i+1]; recompute the ranks that change.
		parts[i].rank = rankOf(i, 1)
		if i > 0 {
			parts[i-1].rank = rankOf(i-1, 1)
		}
		parts = append(parts[:i+1], parts[i+2:]...)
	}
	for i := 0; i+1 < len(parts); i++ {
		ids = append(ids, int32(ranks[piece[parts[i].start:parts[i+1].start]]))
	}
	return ids
}

// mergeHeap computes the same merges as mergeScan in O(n log n) for a piece
// of n bytes: the parts are a doubly linked list indexed by their start byte,
// and the candidate pairs sit in a min-heap ordered by (rank, start), so the
// leftmost lowest-rank pair comes out first, as in the scan. A heap entry is
// stale once its part was joined or re-ranked (gen changed); stale entries
// are skipped when popped.
func mergeHeap(ids []int32, piece string, ranks map[string]int) []int32 {
	n := len(piece)
	// Node i is the part starting at byte i while alive; next[i] is the start
	// of the following part (n for the last one), prev[i] of the one before
	// (-1 for the first).
	next := make([]int, n)
	prev := make([]int, n)
	gen := make([]uint32, n)
	alive := make([]bool, n)
	for i := range n {
		next[i], prev[i], alive[i] = i+1, i-1, true
	}
	// pairRank is the rank of part i joined with the part after it.
	pairRank := func(i int) (int, bool) {
		j := next[i]
		if j >= n {
			return 0, false
		}
		r, ok := ranks[piece[i:next[j]]]
		return r, ok
	}
	h := make(pairHeap, 0, n)
	for i := range n - 1 {
		if r, ok := pairRank(i); ok {
			h.push(pairEntry{rank: r, start: i})
		}
	}
	// push re-ranks part i: older entries for it become stale.
	push := func(i int) {
		gen[i]++
		if r, ok := pairRank(i); ok {
			h.push(pairEntry{rank: r, start: i, gen: gen[i]})
		}
	}
	for len(h) > 0 {
		e := h.pop()
		i := e.start
		if !alive[i] || gen[i] != e.gen {
			continue
		}
		// Join part i with part j = next[i].
		j := next[i]
		alive[j] = false
		next[i] = next[j]
		if next[i] < n {
			prev[next[i]] = i
		}
		push(i)
		if p := prev[i]; p >= 0 {
			push(p)
		}
	}
	for i := 0; i < n; i = next[i] {
		ids = append(ids, int32(ranks[piece[i:next[i]]]))
	}
	return ids
}

// pairEntry is a candidate join of the part starting at byte start with the
// part after it; gen is the part's generation when the entry was pushed.
type pairEntry struct {
	rank  int
	start int
	gen   uint32
}

// less orders entries by rank, then leftmost first.
func (a pairEntry) less(b pairEntry) bool {
	return a.rank < b.rank || (a.rank == b.rank && a.start < b.start)
}

// pairHeap is a binary min-heap of pairEntry (container/heap without the
// interface calls).
type pairHeap []pairEntry

// push adds e to the heap.
func (h *pairHeap) push(e pairEntry) {
	*h = append(*h, e)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s[i].less(s[p]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

// pop removes and returns the least entry; the heap must not be empty.
func (h *pairHeap) pop() pairEntry {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < len(s) && s[l].less(s[m]) {
			m = l
		}
		if r := l + 1; r < len(s) && s[r].less(s[m]) {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}
