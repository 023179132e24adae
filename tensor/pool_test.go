package tensor

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// coverTask counts how often each index of [0, n) is run, which thread ran
// it, and checks every chunk's alignment.
type coverTask struct {
	t      *testing.T
	align  int
	hits   []atomic.Int32
	by     []atomic.Int32 // thread that ran the index, +1
	stall  time.Duration  // thread 0 sleeps this long in its first chunk
	stalls atomic.Int32
}

func (c *coverTask) runWorker(w, lo, hi int) {
	if lo%c.align != 0 || (hi != len(c.hits) && hi%c.align != 0) {
		c.t.Errorf("chunk [%d, %d) not aligned to %d", lo, hi, c.align)
	}
	if w == 0 && c.stall > 0 && c.stalls.Add(1) == 1 {
		time.Sleep(c.stall)
	}
	for i := lo; i < hi; i++ {
		c.hits[i].Add(1)
		c.by[i].Store(int32(w + 1))
	}
}

func (c *coverTask) Run(lo, hi int) { c.runWorker(0, lo, hi) }

// TestPoolFor checks that For runs every index exactly once in aligned
// chunks, for any thread count, length and alignment, and that a stalled
// thread's chunks are taken over by the others.
func TestPoolFor(t *testing.T) {
	for _, tc := range []struct {
		threads, n, align int
		stall             time.Duration
	}{
		{1, 100, 1, 0},
		{2, 1, 1, 0},
		{2, 7, 1, 0},
		{2, 1000, 1, 0},
		{2, 50257, 48, 0},
		{2, 48 * 3, 48, 0},
		{3, 1001, 16, 0},
		{4, 12, 1, 0},
		{8, 100000, 7, 0},
		{2, 4096, 1, 50 * time.Millisecond},
		{4, 4096, 8, 50 * time.Millisecond},
	} {
		t.Run(fmt.Sprintf("threads=%d/n=%d/align=%d/stall=%v", tc.threads, tc.n, tc.align, tc.stall), func(t *testing.T) {
			pool := NewPool(tc.threads)
			defer pool.Close()
			r := pool.NewRunner()
			for range 3 { // the Runner's state is reused
				c := &coverTask{t: t, align: tc.align, hits: make([]atomic.Int32, tc.n), by: make([]atomic.Int32, tc.n), stall: tc.stall}
				r.For(tc.n, tc.align, c)
				for i := range c.hits {
					if h := c.hits[i].Load(); h != 1 {
						t.Fatalf("index %d ran %d times", i, h)
					}
				}
				if tc.stall > 0 {
					// Thread 0's own run is the first 1/threads of the
					// indices; while it sleeps in its first chunk the
					// others must take the rest of its run.
					own := tc.n / tc.threads
					taken := 0
					for i := range own {
						if c.by[i].Load() != 1 {
							taken++
						}
					}
					if taken < own/2 {
						t.Errorf("other threads took %d of the stalled thread's %d indices, want most", taken, own)
					}
				}
			}
		})
	}
}

// TestPoolConcurrentRunners runs Fors from several Runners on one pool at
// once (the engine's scheduler beside a profiler, or two sessions).
func TestPoolConcurrentRunners(t *testing.T) {
	pool := NewPool(2)
	defer pool.Close()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			r := pool.NewRunner()
			for it := range 50 {
				n := 1 + (g*977+it*131)%5000
				c := &coverTask{t: t, align: 1, hits: make([]atomic.Int32, n), by: make([]atomic.Int32, n)}
				r.For(n, 1, c)
				for i := range c.hits {
					if h := c.hits[i].Load(); h != 1 {
						t.Errorf("runner %d, For %d: index %d ran %d times", g, it, i, h)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}
