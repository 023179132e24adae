package engine

import (
	"encoding/binary"
	"hash/maphash"
	"slices"
)

// blockPool hands out the blocks of a model.KVBlocks and keeps the prefix
// cache: full blocks are registered under a hash of their tokens chained
// to the block before them, stay findable after their sequences free them,
// and are evicted least recently freed first when a fresh block is needed.
//
// Free blocks sit in one list: blocks that hold nothing reusable at the
// front (taken first), freed cached blocks at the back (evicted last, in
// the order they were freed). Every operation is O(1) apart from hashing;
// none allocates after newBlockPool except the map's growth.
type blockPool struct {
	bs   int
	ref  []int32 // [NB] sequences using each block
	prev []int32 // [NB] free list links; -1 ends
	next []int32
	head int32 // first free block, -1 when none
	tail int32
	free int // blocks in the free list

	seed   maphash.Seed
	cached map[uint64]int32 // chain hash -> block
	hash   []uint64         // [NB] chain hash of a registered block
	reg    []bool           // [NB] whether hash[b] is in cached
	parent []int32          // [NB] the block before a registered block in its chain, -1 for the first
	toks   []int32          // [NB, bs] the tokens of a registered block, to check a hit exactly
	buf    [8]byte
}

func newBlockPool(numBlocks, blockSize int) *blockPool {
	p := &blockPool{
		bs: blockSize, ref: make([]int32, numBlocks), prev: make([]int32, numBlocks), next: make([]int32, numBlocks),
		head: -1, tail: -1, seed: maphash.MakeSeed(), cached: make(map[uint64]int32, numBlocks),
		hash: make([]uint64, numBlocks), reg: make([]bool, numBlocks), parent: make([]int32, numBlocks),
		toks: make([]int32, numBlocks*blockSize),
	}
	for b := range numBlocks {
		p.pushBack(int32(b))
	}
	return p
}

func (p *blockPool) pushBack(b int32) {
	p.prev[b], p.next[b] = p.tail, -1
	if p.tail >= 0 {
		p.next[p.tail] = b
	} else {
		p.head = b
	}
	p.tail = b
	p.free++
}

func (p *blockPool) pushFront(b int32) {
	p.prev[b], p.next[b] = -1, p.head
	if p.head >= 0 {
		p.prev[p.head] = b
	} else {
		p.tail = b
	}
	p.head = b
	p.free++
}

func (p *blockPool) unlink(b int32) {
	if p.prev[b] >= 0 {
		p.next[p.prev[b]] = p.next[b]
	} else {
		p.head = p.next[b]
	}
	if p.next[b] >= 0 {
		p.prev[p.next[b]] = p.prev[b]
	} else {
		p.tail = p.prev[b]
	}
	p.free--
}

// alloc takes a free block for one sequence, evicting its cache entry if
// it had one. It returns -1 when no block is free.
func (p *blockPool) alloc() int32 {
	b := p.head
	if b < 0 {
		return -1
	}
	p.unlink(b)
	if p.reg[b] {
		delete(p.cached, p.hash[b])
		p.reg[b] = false
	}
	p.ref[b] = 1
	return b
}

// release drops one sequence's use of b. A block nobody uses goes back to
// the free list: at the back when it is cached (so it can still be hit),
// at the front otherwise.
func (p *blockPool) release(b int32) {
	p.ref[b]--
	if p.ref[b] > 0 {
		return
	}
	if p.reg[b] {
		p.pushBack(b)
	} else {
		p.pushFront(b)
	}
}

// chain returns the hash of a block holding toks after a block whose chain
// hash is parent (0 for the first block).
func (p *blockPool) chain(parent uint64, toks []int32) uint64 {
	var h maphash.Hash
	h.SetSeed(p.seed)
	binary.LittleEndian.PutUint64(p.buf[:], parent)
	h.Write(p.buf[:])
	for _, t := range toks {
		binary.LittleEndian.PutUint32(p.buf[:4], uint32(t))
		h.Write(p.buf[:4])
	}
	return h.Sum64()
}

// register makes full block b, holding toks after block parent (-1 for
// the first block of a sequence) with chain hash h, findable by lookup.
// A block whose content is already cached elsewhere stays unregistered.
func (p *blockPool) register(b, parent int32, h uint64, toks []int32) {
	if p.reg[b] {
		return
	}
	if _, dup := p.cached[h]; dup {
		return
	}
	p.cached[h] = b
	p.hash[b], p.reg[b], p.parent[b] = h, true, parent
	copy(p.toks[int(b)*p.bs:], toks)
}

// lookup returns the cached block that holds toks after block parent with
// chain hash h, and takes a reference to it; -1 when there is none. The
// tokens and the parent are compared, so a hash collision is never a hit.
func (p *blockPool) lookup(parent int32, h uint64, toks []int32) int32 {
	b, ok := p.cached[h]
	if !ok || p.parent[b] != parent || !slices.Equal(p.toks[int(b)*p.bs:int(b+1)*p.bs], toks) {
		return -1
	}
	if p.ref[b] == 0 {
		p.unlink(b)
	}
	p.ref[b]++
	return b
}

// used returns the blocks held by at least one sequence.
func (p *blockPool) used() int { return len(p.ref) - p.free }
