package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/gpt2bench/gpt2bench/bench/report"
	"github.com/gpt2bench/gpt2bench/model"
)

// request is one measured request of the throughput phase.
type request struct {
	start, end time.Time
	seqs       int   // sequences served (B for a batched generation)
	err        error // nil when it succeeded
}

// throughputStats turns the measured requests of one mode into a
// report.Throughput: duration from the first start to the last end; rates
// and request counts count successful sequences; latency has one sample per
// successful request, a batched generation being one request of B
// sequences that share its start and end (one sample, not B copies of it:
// copies are not independent samples and would fake significance).
func throughputStats(mode string, concurrency, batch, inputLen, outputLen int, reqs []request) report.Throughput {
	t := report.Throughput{Mode: mode, Concurrency: concurrency, BatchSize: batch, InputLen: inputLen, OutputLen: outputLen}
	var first, last time.Time
	var lat []float64
	ok := 0
	for _, r := range reqs {
		t.Requests += r.seqs
		if first.IsZero() || r.start.Before(first) {
			first = r.start
		}
		if r.end.After(last) {
			last = r.end
		}
		if r.err != nil {
			t.Failed += r.seqs
			continue
		}
		ok += r.seqs
		lat = append(lat, ms(r.end.Sub(r.start)))
	}
	unit := report.UnitRequest
	if mode == report.ModeBatched {
		unit = report.UnitBatch
	}
	t.Latency = summarize(lat, unit)
	if d := last.Sub(first); d > 0 {
		t.DurationS = d.Seconds()
		t.RequestsPerS = float64(ok) / t.DurationS
		t.OutputTokensPerS = float64(ok*outputLen) / t.DurationS
		t.TotalTokensPerS = float64(ok*(inputLen+outputLen)) / t.DurationS
	}
	return t
}

// throughputPhase runs the single-stream mode, then concurrent for each
// concurrency > 1, then batched for each batch size > 1, then continuous
// for each of its concurrencies and, with a request rate, once open-loop,
// all at the first planned input length. A concurrency or batch size of 1
// is the single mode, measured once.
func (b *runner) throughputPhase(ctx context.Context) error {
	T := b.plan.InputLens[0]
	add := func(t report.Throughput, err error) error {
		if t.Requests > 0 {
			b.r.Throughput = append(b.r.Throughput, t)
		}
		return err
	}
	if err := add(b.concurrent(ctx, T, 1)); err != nil {
		return err
	}
	for _, c := range uniq(b.opts.Concurrency) {
		if c > 1 {
			if err := add(b.concurrent(ctx, T, c)); err != nil {
				return err
			}
		}
	}
	for _, B := range uniq(b.opts.BatchSizes) {
		if B > 1 {
			if err := add(b.batched(ctx, T, B)); err != nil {
				return err
			}
		}
	}
	for _, c := range continuousModes(b.opts) {
		if err := add(b.continuous(ctx, T, c, 0)); err != nil {
			return err
		}
	}
	if b.opts.RequestRate > 0 {
		if err := add(b.continuous(ctx, T, 0, b.opts.RequestRate)); err != nil {
			return err
		}
	}
	return nil
}

// uniq returns vals without repeats, in order.
func uniq(vals []int) []int {
	var out []int
	for _, v := range vals {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// concurrent runs c goroutines, each with its own session (KV cache) over
// the shared weights: each does Warmup unmeasured requests, waits for the
// others, then Runs measured requests back to back. c = 1 is the single
// mode. A request that fails is counted and the worker goes on; the phase
// stops when ctx is cancelled.
func (b *runner) concurrent(ctx context.Context, T, c int) (report.Throughput, error) {
	N := b.opts.OutputLen
	mode := report.ModeConcurrent
	title := fmt.Sprintf("through. concurrency %d", c)
	if c == 1 {
		mode, title = report.ModeSingle, "through. single stream"
	}
	b.start(title, c*(b.opts.Warmup+b.opts.Runs))
	defer b.finish()
	sessions := make([]model.Backend, c)
	defer func() {
		for _, s := range sessions {
			if s != nil {
				s.Close()
			}
		}
	}()
	for i := range sessions {
		var err error
		if sessions[i], err = b.env.Engine.NewSession(1, T+N-1); err != nil {
			return report.Throughput{}, err
		}
	}
	var (
		mu       sync.Mutex // guards reqs, warmErr and the progress
		reqs     []request
		warmErr  error
		abort    bool // a warm-up failed: set before begin is closed, read after
		warmed   sync.WaitGroup
		finished sync.WaitGroup
		begin    = make(chan struct{})
	)
	step := func() {
		mu.Lock()
		b.step()
		mu.Unlock()
	}
	warmed.Add(c)
	finished.Add(c)
	for w := range c {
		go func() {
			defer finished.Done()
			be := sessions[w]
			prompts := b.prompts(streamThroughput+uint64(c)<<16+uint64(w), b.opts.Warmup+b.opts.Runs, T)
			for i := range b.opts.Warmup {
				if _, err := timedGenerate(ctx, be, prompts[i:i+1], N, b.opts.Seed, nil, nil); err != nil {
					mu.Lock()
					warmErr = errors.Join(warmErr, err)
					mu.Unlock()
					break
				}
				step()
			}
			warmed.Done()
			<-begin
			if abort {
				return
			}
			for i := range b.opts.Runs {
				if ctx.Err() != nil {
					return
				}
				p := prompts[b.opts.Warmup+i : b.opts.Warmup+i+1]
				start := time.Now()
				_, err := timedGenerate(ctx, be, p, N, b.opts.Seed, nil, nil)
				end := time.Now()
				if err != nil && ctx.Err() != nil {
					return // interrupted, not failed
				}
				mu.Lock()
				reqs = append(reqs, request{start: start, end: end, seqs: 1, err: err})
				b.step()
				mu.Unlock()
			}
		}()
	}
	warmed.Wait()
	abort = warmErr != nil
	close(begin)
	finished.Wait()
	if abort {
		if err := ctx.Err(); err != nil {
			return report.Throughput{}, err
		}
		return report.Throughput{}, fmt.Errorf("warm-up: %w", warmErr)
	}
	return throughputStats(mode, c, 1, T, N, reqs), ctx.Err()
}

// batched decodes B sequences together in one session, one forward pass
// per step: Warmup unmeasured then Runs measured generations, each serving
// B requests of the same start and end.
func (b *runner) batched(ctx context.Context, T, B int) (report.Throughput, error) {
	N := b.opts.OutputLen
	b.start(fmt.Sprintf("through. batch %d", B), b.opts.Warmup+b.opts.Runs)
	defer b.finish()
	be, err := b.env.Engine.NewSession(B, T+N-1)
	if err != nil {
		return report.Throughput{}, err
	}
	defer be.Close()
	prompts := b.prompts(streamThroughput+uint64(B)<<24, (b.opts.Warmup+b.opts.Runs)*B, T)
	for i := range b.opts.Warmup {
		if _, err := timedGenerate(ctx, be, prompts[i*B:(i+1)*B], N, b.opts.Seed, nil, nil); err != nil {
			return report.Throughput{}, err
		}
		b.step()
	}
	var reqs []request
	for i := range b.opts.Runs {
		j := b.opts.Warmup + i
		start := time.Now()
		_, err := timedGenerate(ctx, be, prompts[j*B:(j+1)*B], N, b.opts.Seed, nil, nil)
		end := time.Now()
		if err != nil && ctx.Err() != nil {
			break
		}
		reqs = append(reqs, request{start: start, end: end, seqs: B, err: err})
		b.step()
	}
	return throughputStats(report.ModeBatched, 1, B, T, N, reqs), ctx.Err()
}
