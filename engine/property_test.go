package engine

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/gpt2bench/gpt2bench/model"
)

// checkInvariants verifies the block bookkeeping after a step: every
// block's reference count is the number of running tables that hold it;
// a block in two tables is a registered, full, computed prefix block with
// the same tokens in both; every table covers its computed positions.
func checkInvariants(e *Engine) error {
	p := e.pool
	bs := e.cfg.BlockSize
	refs := make([]int32, len(p.ref))
	owner := make(map[int32]*seq)
	for _, s := range e.running {
		if len(s.blocks) < (s.computed+bs-1)/bs {
			return fmt.Errorf("request %d: %d blocks for %d computed positions", s.id, len(s.blocks), s.computed)
		}
		for i, b := range s.blocks {
			refs[b]++
			o, shared := owner[b]
			if !shared {
				owner[b] = s
				continue
			}
			if !p.reg[b] || (i+1)*bs > s.computed {
				return fmt.Errorf("block %d shared by requests %d and %d but not a full cached prefix block (index %d, computed %d)", b, o.id, s.id, i, s.computed)
			}
			for j := i * bs; j < (i+1)*bs; j++ {
				if o.tokens[j] != s.tokens[j] {
					return fmt.Errorf("block %d shared by requests %d and %d holding different tokens", b, o.id, s.id)
				}
			}
		}
	}
	for _, s := range e.waiting {
		if len(s.blocks) != 0 {
			return fmt.Errorf("waiting request %d holds %d blocks", s.id, len(s.blocks))
		}
	}
	used := 0
	for b, r := range refs {
		if p.ref[b] != r {
			return fmt.Errorf("block %d: reference count %d, held by %d tables", b, p.ref[b], r)
		}
		if r > 0 {
			used++
		}
	}
	if used != p.used() {
		return fmt.Errorf("%d blocks held, pool says %d used", used, p.used())
	}
	return nil
}

// TestRandomLoad is a property test: random arrivals, prompt and output
// lengths, shared prefixes, cancellations and a KV pool small enough to
// force preemption. Freed blocks are filled with NaN, and the invariants
// are checked after every step. Every request must finish or say why;
// every finished request must give exactly the tokens it gives alone
// (batch-invariant mode, so alone and mixed agree bit for bit); after
// draining every block is back.
func TestRandomLoad(t *testing.T) {
	m := loadModel(t, fixtures[0], 2)
	V := m.Config().VocabSize
	seeds := []uint64{1, 2, 3}
	if testing.Short() {
		seeds = seeds[:2]
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { randomLoad(t, m, V, seed) })
	}
}

func randomLoad(t *testing.T, m *model.Model, V int, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 77))
	cfg := Config{
		MaxNumSeqs: 2 + rng.IntN(5), MaxNumBatchedTokens: 4 + rng.IntN(40), BlockSize: 1 + rng.IntN(8),
		BatchInvariant: true,
	}
	// Room for about one full context: requests must queue and preempt.
	cfg.KVCacheBytes = int64(m.Config().NPositions+3*cfg.BlockSize) * model.KVBytesPerToken(m.Config())
	var (
		mu       sync.Mutex
		broken   error
		preempts int
	)
	hooks := testHooks{poison: true, afterStep: func(e *Engine) {
		err := checkInvariants(e)
		mu.Lock()
		if err != nil && broken == nil {
			broken = fmt.Errorf("step %d: %w", e.stepNo, err)
		}
		preempts = int(e.stats.Preemptions)
		mu.Unlock()
	}}
	e, err := start(m, cfg, hooks)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for b := range e.kv.NumBlocks() {
		e.kv.Fill(b, float32(math.NaN())) // nothing may read a block before writing it
	}
	prefixes := [][]int32{promptFor(V, 9, int(seed)), promptFor(V, 17, int(seed)+1)}
	const n = 24
	type job struct {
		req      Request
		cancel   bool
		stream   *Stream
		cancelFn context.CancelFunc
	}
	jobs := make([]*job, n)
	for i := range jobs {
		p := promptFor(V, 1+rng.IntN(30), int(seed)*100+i)
		if rng.IntN(3) == 0 {
			p = append(append([]int32{}, prefixes[rng.IntN(2)]...), p...)
		}
		r := Request{Prompt: p, MaxTokens: 1 + rng.IntN(min(40, m.Config().NPositions-len(p))), IgnoreEOS: rng.IntN(2) == 0}
		if rng.IntN(2) == 0 {
			r.Sampling = model.SampleOptions{Temperature: 0.7 + rng.Float32(), TopK: rng.IntN(50), Seed: rng.Uint64()}
		}
		jobs[i] = &job{req: r, cancel: rng.IntN(6) == 0}
	}
	delays := make([]time.Duration, n)
	for i := range delays {
		delays[i] = time.Duration(rng.IntN(2000)) * time.Microsecond
	}
	for i, j := range jobs {
		time.Sleep(delays[i])
		ctx, cancel := context.WithCancel(context.Background())
		j.cancelFn = cancel
		s, err := e.Submit(ctx, j.req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		j.stream = s
		if j.cancel {
			time.AfterFunc(time.Duration(rng.IntN(3000))*time.Microsecond, cancel)
		}
	}
	// Alone: the same requests one at a time on a fresh engine.
	solo, err := New(m, Config{BlockSize: cfg.BlockSize, BatchInvariant: true, MaxNumBatchedTokens: 7})
	if err != nil {
		t.Fatal(err)
	}
	defer solo.Close()
	for i, j := range jobs {
		got, res := collect(j.stream)
		j.cancelFn()
		switch res.Reason {
		case FinishCancelled:
			if !j.cancel {
				t.Errorf("request %d cancelled without being asked: %v", i, res.Err)
			}
			continue
		case FinishStop, FinishLength:
		default:
			t.Errorf("request %d ended %q: %v", i, res.Reason, res.Err)
			continue
		}
		want, _ := collect(must(solo.Submit(context.Background(), j.req)))
		if !equal(got, want) {
			t.Errorf("request %d (%d prompt tokens, %d preemptions): mixed %v, alone %v", i, len(j.req.Prompt), res.Preemptions, got, want)
		}
	}
	e.Close()
	mu.Lock()
	defer mu.Unlock()
	if broken != nil {
		t.Fatal(broken)
	}
	if used := e.pool.used(); used != 0 {
		t.Fatalf("after draining %d blocks are still held", used)
	}
	if free := e.pool.free; free != e.pool.total() {
		t.Fatalf("free list holds %d of %d blocks", free, e.pool.total())
	}
	t.Logf("config %+v: %d preemptions, stats %+v", cfg, preempts, e.Stats())
}
