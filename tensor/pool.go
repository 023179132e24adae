package tensor

import (
	"context"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"
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

// job asks worker w to take chunks of f until none are left.
type job struct {
	f *forState
	w int
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

// spinWait is how long an idle worker keeps polling for the next job before
// it blocks. The ops of a forward pass come microseconds apart, and waking a
// parked goroutine takes tens of microseconds on a VM: a late worker would
// leave most chunks to the caller.
const spinWait = 20 * time.Microsecond

func (p *Pool) work() {
	for {
		var j job
		select {
		case j = <-p.jobs:
		case <-p.done:
			return
		}
		for ok := true; ok; j, ok = p.poll() {
			if j.f.labels != nil { // the submitter's pprof labels cover this worker's share
				pprof.SetGoroutineLabels(j.f.labels)
			}
			j.f.run(j.w)
			if j.f.labels != nil {
				pprof.SetGoroutineLabels(context.Background())
			}
			j.f.pending.Add(-1)
			j.f.wg.Done()
		}
	}
}

// poll spins for up to spinWait for a job.
func (p *Pool) poll() (job, bool) {
	var start time.Time
	for i := 0; ; i++ {
		select {
		case j := <-p.jobs:
			return j, true
		default:
		}
		if i%64 == 63 {
			if start.IsZero() {
				start = time.Now()
			} else if time.Since(start) > spinWait {
				return job{}, false
			}
			runtime.Gosched()
		}
	}
}

// Runner submits ops to a Pool and waits for them. Each goroutine that runs
// a forward pass owns one Runner (it is not safe for concurrent use); its
// fields are the preallocated task structs, so For does not allocate.
type Runner struct {
	pool    *Pool
	f       forState
	lin     linearTask
	pt      panelTask
	pk      packTask
	xt      []float32 // x packed for Linear's outer-product path, grown only
	xq      []byte    // x quantised for Linear's VNNI path, grown only
	xp      []byte    // xq in the 4-bit GEMV's order (xpermQ4), grown only
	xs      []float32 // the row scales of xq, grown only
	ln      lnTask
	scratch [][]float32     // [threads][...] per-worker scratch of Linear, grown only
	labels  context.Context // pprof labels the workers wear while running this Runner's ops; nil for none

	invariant bool // Linear computes every row alike whatever N is (SetBatchInvariant)
}

// SetBatchInvariant makes Linear compute each output row with the same
// operations in the same order whatever the number of rows N is and
// wherever the row sits among them, so that a row's result never depends
// on what else shares its call (bit for bit). It costs speed: batch-1
// GEMV and the prefill outer-product kernel give way to the small-batch
// tile loop for every N. The other kernels are row-invariant already, and
// float32 weights in strips (PackForLinear) are batch-invariant on every
// path: the setting changes nothing for them.
func (r *Runner) SetBatchInvariant(on bool) { r.invariant = on }

// BatchInvariant reports whether SetBatchInvariant turned the mode on.
func (r *Runner) BatchInvariant() bool { return r.invariant }

// SetLabels makes the pool's workers carry ctx's pprof labels while they
// run this Runner's ops, so a CPU profile attributes their share of an op
// to it as it does the caller's (pprof.SetGoroutineLabels only labels the
// calling goroutine). ClearLabels removes them. It does not allocate.
func (r *Runner) SetLabels(ctx context.Context) { r.labels = ctx }

// ClearLabels removes the labels SetLabels gave the workers.
func (r *Runner) ClearLabels() { r.labels = nil }

// NewRunner returns a Runner that splits ops across p's workers.
func (p *Pool) NewRunner() *Runner {
	r := &Runner{pool: p}
	r.f.runs = make([]chunkRun, p.threads)
	return r
}

// Threads returns the number of parts an op is split into.
func (r *Runner) Threads() int { return r.pool.threads }

// chunksPerThread is how many chunks For cuts per thread. Each thread owns
// a contiguous run of chunks and takes them front to back, so a streaming
// op (the decode GEMMs) reads one sequential stream per thread that the
// prefetchers follow across chunk boundaries; a thread that runs out takes
// chunks from the back of the others' runs, so when the OS deschedules one
// (a shared machine) the others finish its share instead of waiting at the
// barrier, and the threads end at most one chunk apart. Against one shared
// counter of 4 chunks per thread (each thread's stream jumping at every
// chunk), this took batch-8 decode's GEMMs from 82% to 88% of a two-thread
// read when the bus gave ~70 GB/s (see README, "Chunks a thread owns").
const chunksPerThread = 16

// workerTask is a Task that also wants to know which thread runs a chunk
// (0 is the caller, 1..threads-1 the pool's workers), to use that
// thread's scratch.
type workerTask interface {
	runWorker(w, lo, hi int)
}

// forState is one For in flight: chunks of per values of [0, n), thread
// w owning the run of chunks in runs[w].
type forState struct {
	t       Task
	wt      workerTask      // t, when it implements workerTask
	labels  context.Context // pprof labels for the workers, or nil
	n, per  int
	runs    []chunkRun     // one per thread of the pool; the first parts in use
	parts   int            // threads taking part
	pending atomic.Int32   // workers still running chunks, for spinning
	wg      sync.WaitGroup // the same count, for blocking
	_       [64]byte       // keep the counters off the cache line of whatever follows
}

// chunkRun is the chunks [front, back) of one thread's run not yet taken,
// packed as front<<32 | back so that one compare-and-swap takes a chunk
// from either end. Padded to a cache line of its own: the owner updates it
// at every chunk.
type chunkRun struct {
	fb atomic.Uint64
	_  [56]byte
}

// set makes [front, back) the run's chunks.
func (c *chunkRun) set(front, back int) { c.fb.Store(uint64(front)<<32 | uint64(back)) }

// take removes a chunk from the front of the run (the owner) or from its
// back (a thief) and returns it, or false when the run is empty.
func (c *chunkRun) take(fromBack bool) (int, bool) {
	for {
		v := c.fb.Load()
		front, back := v>>32, v&(1<<32-1)
		if front >= back {
			return 0, false
		}
		next, chunk := (front+1)<<32|back, front
		if fromBack {
			next, chunk = front<<32|(back-1), back-1
		}
		if c.fb.CompareAndSwap(v, next) {
			return int(chunk), true
		}
	}
}

// run is thread w's part of a For: its own run front to back, then the
// other runs' chunks from their backs.
func (f *forState) run(w int) {
	for i := range f.parts {
		src := &f.runs[(w+i)%f.parts] // w's own run first
		for {
			c, ok := src.take(i > 0)
			if !ok {
				break
			}
			lo := c * f.per
			hi := min(lo+f.per, f.n)
			if f.wt != nil {
				f.wt.runWorker(w, lo, hi)
			} else {
				f.t.Run(lo, hi)
			}
		}
	}
}

// For runs t over [0, n) and returns when all of it is done. It cuts
// [0, n) into chunks whose length is a multiple of align (except the last),
// gives the calling goroutine and up to threads-1 workers a contiguous run
// of them each, in order, and lets a thread that finishes its run take the
// others' last chunks until none are left. It does not allocate.
func (r *Runner) For(n, align int, t Task) {
	if n <= 0 {
		return
	}
	align = max(align, 1)
	blocks := (n + align - 1) / align
	parts := min(r.pool.threads, blocks)
	if parts <= 1 {
		if wt, ok := t.(workerTask); ok {
			wt.runWorker(0, 0, n)
		} else {
			t.Run(0, n)
		}
		return
	}
	f := &r.f
	per := (blocks + parts*chunksPerThread - 1) / (parts * chunksPerThread) * align
	chunks := (n + per - 1) / per
	f.t, f.n, f.per, f.parts = t, n, per, parts
	f.labels = r.labels
	f.wt, _ = t.(workerTask)
	for w := range parts {
		f.runs[w].set(chunks*w/parts, chunks*(w+1)/parts)
	}
	f.pending.Store(int32(parts - 1))
	f.wg.Add(parts - 1)
	for w := 1; w < parts; w++ {
		r.pool.jobs <- job{f: f, w: w}
	}
	f.run(0)
	// The workers finish their last chunk within microseconds: spin a
	// little rather than park (a parked caller is as slow to wake as a
	// parked worker), then block, so that an oversubscribed machine gets
	// the CPU back.
	var start time.Time
	for i := 0; f.pending.Load() != 0; i++ {
		if i%64 == 63 {
			if start.IsZero() {
				start = time.Now()
			} else if time.Since(start) > spinWait {
				break
			}
			runtime.Gosched()
		}
	}
	f.wg.Wait()
	f.t, f.wt = nil, nil
}

// growScratch makes r.scratch hold one slice of at least n values per
// thread. It allocates only when a call needs more than every call before.
func (r *Runner) growScratch(n int) {
	if n == 0 {
		return
	}
	if len(r.scratch) < r.pool.threads {
		r.scratch = make([][]float32, r.pool.threads)
	}
	for i := range r.scratch {
		if len(r.scratch[i]) < n {
			r.scratch[i] = make([]float32, n)
		}
	}
}
