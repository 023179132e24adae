package profile

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"
)

// CalibrateOptions control Calibrate. Zero values take the defaults.
type CalibrateOptions struct {
	// BufferBytes is the size of the float32 slice streamed to measure
	// bandwidth; default 512 MiB, far beyond any cache.
	BufferBytes int64
	// Runs is the repetitions of each measurement; default 7. The median
	// is reported.
	Runs int
	// Threads is the goroutines of the all-cores measurements; default
	// runtime.NumCPU().
	Threads int
	// FMADuration is the length of one FMA run; default 50ms.
	FMADuration time.Duration
	// Progress, if set, is told what is being measured.
	Progress func(msg string)
}

// Calibrate measures this machine's roofline limits: streaming read
// bandwidth (tensor.Sum over BufferBytes of float32) and float32 FMA
// peak (12 independent FMA chains in registers, 16-wide with AVX-512),
// each on one goroutine and on Threads goroutines at once, Runs times.
// Other load on the machine lowers the numbers; the spread of each
// Measure shows it.
func Calibrate(ctx context.Context, opts CalibrateOptions) (*Limits, error) {
	if opts.BufferBytes == 0 {
		opts.BufferBytes = 512 << 20
	}
	if opts.Runs == 0 {
		opts.Runs = 7
	}
	if opts.Threads == 0 {
		opts.Threads = runtime.NumCPU()
	}
	if opts.FMADuration == 0 {
		opts.FMADuration = 50 * time.Millisecond
	}
	switch {
	case opts.BufferBytes < 1<<20:
		return nil, fmt.Errorf("profile: calibrate: buffer of %d bytes, want >= 1 MiB (512 MiB to defeat every cache)", opts.BufferBytes)
	case opts.Runs < 1 || opts.Threads < 1:
		return nil, fmt.Errorf("profile: calibrate: runs %d and threads %d, want >= 1", opts.Runs, opts.Threads)
	}
	progress := func(format string, a ...any) {
		if opts.Progress != nil {
			opts.Progress(fmt.Sprintf(format, a...))
		}
	}
	l := &Limits{Key: MachineKey(), CPU: CPUModel(), Cores: opts.Threads, Kernel: KernelName(), MeasuredAt: time.Now().UTC()}

	n := int(opts.BufferBytes / 4)
	n -= n % (64 * opts.Threads) // whole 64-float blocks per goroutine
	l.BufferBytes = int64(n) * 4
	progress("allocating %d MiB", l.BufferBytes>>20)
	buf := make([]float32, n)
	for i := range buf {
		buf[i] = 1 // touch every page before timing
	}
	var err error
	progress("memory read bandwidth, 1 goroutine")
	if l.MemRead1Core, err = measure(ctx, opts.Runs, func() float64 { return readGBs(buf, 1) }); err != nil {
		return nil, err
	}
	progress("memory read bandwidth, %d goroutines", opts.Threads)
	if l.MemReadAll, err = measure(ctx, opts.Runs, func() float64 { return readGBs(buf, opts.Threads) }); err != nil {
		return nil, err
	}
	buf = nil
	runtime.GC() // give the buffer back before the compute runs

	iters := fmaIters(opts.FMADuration)
	progress("float32 FMA peak, 1 goroutine")
	if l.Peak1Core, err = measure(ctx, opts.Runs, func() float64 { return fmaGFLOPs(iters, 1) }); err != nil {
		return nil, err
	}
	progress("float32 FMA peak, %d goroutines", opts.Threads)
	if l.PeakAll, err = measure(ctx, opts.Runs, func() float64 { return fmaGFLOPs(iters, opts.Threads) }); err != nil {
		return nil, err
	}
	return l, nil
}

// measure runs f runs times (after one warm-up) and summarises.
func measure(ctx context.Context, runs int, f func() float64) (Measure, error) {
	f()
	s := make([]float64, 0, runs)
	for range runs {
		if err := ctx.Err(); err != nil {
			return Measure{}, fmt.Errorf("profile: calibrate: %w", err)
		}
		s = append(s, f())
	}
	return newMeasure(s), nil
}

// parallel runs f(i) on threads goroutines released together and returns
// the wall time until the last one finishes.
func parallel(threads int, f func(i int)) time.Duration {
	if threads == 1 {
		t0 := time.Now()
		f(0)
		return time.Since(t0)
	}
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(threads)
	done.Add(threads)
	for i := range threads {
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			f(i)
		}()
	}
	ready.Wait()
	t0 := time.Now()
	close(start)
	done.Wait()
	return time.Since(t0)
}

// sink keeps the kernels' results alive.
type sink struct {
	mu sync.Mutex
	v  float32
}

func (s *sink) add(v float32) { s.mu.Lock(); s.v += v; s.mu.Unlock() }

// readGBs streams buf once, split across threads goroutines, and returns GB/s.
func readGBs(buf []float32, threads int) float64 {
	var out sink
	per := len(buf) / threads
	d := parallel(threads, func(i int) { out.add(sum(buf[i*per : (i+1)*per])) })
	return float64(4*per*threads) / d.Seconds() / 1e9
}

// fmaIters returns the FMA iterations that take about d on one goroutine.
func fmaIters(d time.Duration) int {
	n := 1 << 14
	for {
		t0 := time.Now()
		fma(n, 1e-6)
		el := time.Since(t0)
		if el > d/8 || n > 1<<34 {
			return max(1, int(float64(n)*d.Seconds()/el.Seconds()))
		}
		n *= 4
	}
}

// fmaGFLOPs runs iters FMA iterations on each of threads goroutines and
// returns their total rate.
func fmaGFLOPs(iters, threads int) float64 {
	var out sink
	d := parallel(threads, func(int) { out.add(fma(iters, 1e-6)) })
	return float64(threads) * float64(iters) * float64(fmaFLOPsPerIter()) / d.Seconds() / 1e9
}
