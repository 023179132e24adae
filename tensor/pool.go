package tensor

import (
	"runtime"
	"sync"
)

// Task is one parallel op: Run computes the part [lo, hi) of its output.
// Implementations are long-lived structs (a Runner's fields), so handing
// one to the pool allocates nothing.
type Task interface {
	Run(lo, hi int)
}

// Pool is a fixed set of worker goroutines that run chunks of Tasks. It is
// created once per model and shared by every Runner; no goroutine is started
// per op. A Pool is safe for concurrent use by many Runners.
type Pool struct {
	threads int
	jobs    chan job
	done    chan struct{}
	once    sync.Once
}

type job struct {
	t      Task
	lo, hi int
	wg     *sync.WaitGroup
}

// NewPool starts a pool that runs ops on threads cores: threads-1 worker
// goroutines plus the calling goroutine. threads <= 0 means GOMAXPROCS.
func NewPool(threads int) *Pool {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	p := &Pool{threads: threads, jobs: make(chan job, 64*threads), done: make(chan struct{})}
	for range threads - 1 {
		go p.work()
	}
	return p
}

// Threads returns the number of goroutines an op is split across.
func (p *Pool) Threads() int { return p.threads }

// Close stops the workers. Ops must not run on the pool after Close.
func (p *Pool) Close() {
	p.once.Do(func() { close(p.done) })
}

func (p *Pool) work() {
	for {
		select {
		case j := <-p.jobs:
			j.t.Run(j.lo, j.hi)
			j.wg.Done()
		case <-p.done:
			return
		}
	}
}

// Runner submits ops to a Pool and waits for them. Each goroutine that runs
// a forward pass owns one Runner (it is not safe for concurrent use); its
// fields are the preallocated task structs, so For does not allocate.
type Runner struct {
	pool *Pool
	wg   sync.WaitGroup
	lin  linearTask
}

// NewRunner returns a Runner that splits ops across p's workers.
func (p *Pool) NewRunner() *Runner { return &Runner{pool: p} }

// Threads returns the number of parts an op is split into.
func (r *Runner) Threads() int { return r.pool.threads }

// For runs t over [0, n) split into one contiguous part per thread, each
// part's length a multiple of align (except the last), and returns when
// every part is done. The calling goroutine runs the first part itself.
func (r *Runner) For(n, align int, t Task) {
	if n <= 0 {
		return
	}
	parts := r.pool.threads
	if align < 1 {
		align = 1
	}
	blocks := (n + align - 1) / align
	if parts > blocks {
		parts = blocks
	}
	if parts <= 1 {
		t.Run(0, n)
		return
	}
	per := (blocks + parts - 1) / parts * align // rows per part, a multiple of align
	r.wg.Add(parts - 1)
	lo := per
	for i := 1; i < parts; i++ {
		hi := min(lo+per, n)
		if lo >= hi { // fewer parts needed than planned
			r.wg.Done()
			continue
		}
		r.pool.jobs <- job{t: t, lo: lo, hi: hi, wg: &r.wg}
		lo = hi
	}
	t.Run(0, min(per, n))
	r.wg.Wait()
}
