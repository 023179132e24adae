package engine

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/gpt2bench/gpt2bench/model"
)

// Engine runs the requests submitted to it on one model, batching them
// continuously: each step is one forward pass over the new token of every
// running sequence plus chunks of waiting prompts, under a token budget.
// Submit is safe for concurrent use; one goroutine of the engine's own
// runs the steps.
type Engine struct {
	m    *model.Model
	mcfg model.Config
	cfg  Config
	kv   *model.KVBlocks
	r    *model.Ragged
	pool *blockPool

	mu       sync.Mutex
	inbox    []*seq
	queued   int  // requests in inbox or waiting, for MaxQueue
	draining bool // Submit refuses new requests
	nextID   uint64
	stats    Stats
	wake     chan struct{} // cap 1: a request arrived
	stop     chan struct{} // closed by Close
	done     chan struct{} // closed when the loop has ended
	stopOnce sync.Once

	// Owned by the loop goroutine.
	waiting []*seq // FIFO; preempted sequences go back to the front
	running []*seq // in admission order: the first are served first
	step    []model.SeqStep
	stepSeq []*seq
	logits  []float32
	stepNo  int64
	sampled int // tokens sampled in the current step
	hooks   testHooks
}

// testHooks let the package's tests watch the loop's invariants.
type testHooks struct {
	afterStep func(e *Engine) // on the loop goroutine after every step
	poison    bool            // fill freed blocks with NaN
}

// seq is a request inside the engine.
type seq struct {
	id      uint64
	ctx     context.Context
	req     Request
	stream  *Stream
	sampler *model.Sampler
	stop    []bool // [V] or nil: tokens that end the request (EOS unless ignored, StopTokens)

	tokens   []int32 // prompt, then the generated tokens
	nPrompt  int
	computed int      // tokens whose keys and values are in blocks
	blocks   []int32  // block table
	hashes   []uint64 // chain hash of each registered full block, from the first
	running  bool
	finished bool
}

// New returns an Engine for m with cfg (zero fields take the defaults),
// and starts its loop. Close it to stop the loop and free its memory.
func New(m *model.Model, cfg Config) (*Engine, error) { return start(m, cfg, testHooks{}) }

// start is New with test hooks.
func start(m *model.Model, cfg Config, hooks testHooks) (*Engine, error) {
	e, err := build(m, cfg, hooks)
	if err != nil {
		return nil, err
	}
	go e.loop()
	return e, nil
}

// build returns an Engine whose loop is not running: tests and benchmarks
// drive its steps themselves.
func build(m *model.Model, cfg Config, hooks testHooks) (*Engine, error) {
	mcfg := m.Config()
	cfg, err := cfg.withDefaults(mcfg, m.KVDType())
	if err != nil {
		return nil, err
	}
	nb := cfg.numBlocks(mcfg, m.KVDType())
	kv, err := model.NewKVBlocksOf(mcfg, m.KVDType(), cfg.BlockSize, nb)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	r, err := m.NewRagged(kv)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	r.SetTracer(cfg.Tracer)
	r.SetBatchInvariant(cfg.BatchInvariant)
	e := &Engine{
		m: m, mcfg: mcfg, cfg: cfg, kv: kv, r: r, pool: newBlockPool(nb, cfg.BlockSize),
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		hooks: hooks,
	}
	e.stats.BlocksTotal = nb
	e.stats.BlockSize = cfg.BlockSize
	return e, nil
}

// Config returns the engine's configuration with its defaults filled in.
func (e *Engine) Config() Config { return e.cfg }

// Model returns the model the engine runs.
func (e *Engine) Model() *model.Model { return e.m }

// Submit validates req and queues it. The request runs until it finishes,
// ctx ends (it is then cancelled within one step and its blocks freed), or
// the engine closes. A request the engine refuses returns a
// *RequestError; a full queue ErrQueueFull; a draining engine ErrClosed.
func (e *Engine) Submit(ctx context.Context, req Request) (*Stream, error) {
	if err := req.validate(e.mcfg, e.pool.total(), e.cfg.BlockSize); err != nil {
		return nil, err
	}
	s := &seq{ctx: ctx, req: req, nPrompt: len(req.Prompt)}
	o := req.Sampling
	sampler, err := model.NewSampler(o, e.mcfg.VocabSize)
	if err != nil {
		return nil, &RequestError{Msg: err.Error()}
	}
	s.sampler = sampler
	s.tokens = make([]int32, 0, len(req.Prompt)+req.MaxTokens)
	s.tokens = append(s.tokens, req.Prompt...)
	s.blocks = make([]int32, 0, (cap(s.tokens)+e.cfg.BlockSize-1)/e.cfg.BlockSize)
	s.hashes = make([]uint64, 0, cap(s.blocks))
	if !req.IgnoreEOS || len(req.StopTokens) > 0 {
		s.stop = make([]bool, e.mcfg.VocabSize)
		s.stop[e.cfg.EOS] = !req.IgnoreEOS
		for _, id := range req.StopTokens {
			s.stop[id] = true
		}
	}
	s.stream = &Stream{tokens: make(chan Token, req.MaxTokens), done: make(chan struct{})}
	s.stream.result.PromptTokens = len(req.Prompt)

	e.mu.Lock()
	switch {
	case e.draining:
		e.mu.Unlock()
		return nil, ErrClosed
	case e.queued >= e.cfg.MaxQueue:
		e.mu.Unlock()
		return nil, ErrQueueFull
	}
	e.nextID++
	s.id = e.nextID
	s.stream.id = s.id
	s.stream.result.Timings.Arrival = time.Now()
	e.inbox = append(e.inbox, s)
	e.queued++
	e.stats.Waiting = e.queued
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
	return s.stream, nil
}

// Drain stops accepting requests and waits until every request in flight
// has finished or ctx ends; then the ones left are cancelled with
// ErrClosed and the engine is closed.
func (e *Engine) Drain(ctx context.Context) error {
	e.mu.Lock()
	e.draining = true
	e.mu.Unlock()
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		st := e.Stats()
		if st.Running == 0 && st.Waiting == 0 {
			break
		}
		select {
		case <-ctx.Done():
			e.Close()
			return ctx.Err()
		case <-t.C:
		}
	}
	e.Close()
	return nil
}

// Close stops the engine: requests still in flight end with FinishError
// and ErrClosed. It waits for the loop to end.
func (e *Engine) Close() error {
	e.mu.Lock()
	e.draining = true
	e.mu.Unlock()
	e.stopOnce.Do(func() { close(e.stop) })
	<-e.done
	return nil
}

// loop runs steps while there is work, and sleeps when there is none.
func (e *Engine) loop() {
	defer close(e.done)
	for {
		e.admit()
		if len(e.running) == 0 && len(e.waiting) == 0 {
			select {
			case <-e.wake:
				continue
			case <-e.stop:
				e.shutdown()
				return
			}
		}
		select {
		case <-e.stop:
			e.shutdown()
			return
		default:
		}
		e.reap()
		if len(e.running) == 0 && len(e.waiting) == 0 {
			continue
		}
		e.runStep()
	}
}

// admit moves submitted requests into the waiting queue.
func (e *Engine) admit() {
	e.mu.Lock()
	e.waiting = append(e.waiting, e.inbox...)
	clear(e.inbox)
	e.inbox = e.inbox[:0]
	e.mu.Unlock()
}

// shutdown ends every request in flight with ErrClosed.
func (e *Engine) shutdown() {
	e.admit()
	for _, s := range e.running {
		e.finish(s, FinishError, ErrClosed)
	}
	for _, s := range e.waiting {
		e.finish(s, FinishError, ErrClosed)
	}
	e.running, e.waiting = nil, nil
	e.publish(StepStats{})
}

// reap ends the requests whose context has ended, and publishes the
// engine's state when it ended any (no step may follow to do it).
func (e *Engine) reap() {
	n := 0
	for _, list := range [][]*seq{e.running, e.waiting} {
		for _, s := range list {
			if err := s.ctx.Err(); err != nil {
				e.finish(s, FinishCancelled, err)
				n++
			}
		}
	}
	e.compact()
	if n > 0 {
		e.publishState()
	}
}

// compact drops finished sequences from the running and waiting lists.
func (e *Engine) compact() {
	keep := func(s *seq) bool { return s.finished }
	e.running = slices.DeleteFunc(e.running, keep)
	e.waiting = slices.DeleteFunc(e.waiting, keep)
}

// finish ends s: its blocks go back to the pool, its stream closes.
func (e *Engine) finish(s *seq, reason FinishReason, err error) {
	if s.finished {
		return
	}
	s.finished = true
	e.releaseBlocks(s)
	res := &s.stream.result
	res.Reason, res.Err = reason, err
	res.OutputTokens = len(s.tokens) - s.nPrompt
	res.Timings.Finish = time.Now()
	e.mu.Lock()
	if !s.running {
		e.queued--
	}
	e.stats.Finished[reasonIndex(reason)]++
	e.mu.Unlock()
	close(s.stream.tokens)
	close(s.stream.done)
}

// releaseBlocks gives back s's blocks, the last first, so that the prefix
// cache evicts a chain from its end.
func (e *Engine) releaseBlocks(s *seq) {
	for i := len(s.blocks) - 1; i >= 0; i-- {
		b := s.blocks[i]
		e.pool.release(b)
		if e.hooks.poison && e.pool.ref[b] == 0 && !e.pool.reg[b] {
			e.kv.Fill(int(b), float32(math.NaN()))
		}
	}
	s.blocks = s.blocks[:0]
	s.hashes = s.hashes[:0]
	s.computed = 0
}

// reserve makes s's table cover end positions, taking blocks from the
// pool; it returns false when the pool ran out (blocks taken so far stay).
func (e *Engine) reserve(s *seq, end int) bool {
	need := (end + e.cfg.BlockSize - 1) / e.cfg.BlockSize
	for len(s.blocks) < need {
		b := e.pool.alloc()
		if b < 0 {
			return false
		}
		s.blocks = append(s.blocks, b)
	}
	return true
}

// preempt frees a running sequence's blocks and puts it back at the front
// of the waiting queue, to be recomputed (its tokens so far kept).
func (e *Engine) preempt(s *seq) {
	e.releaseBlocks(s)
	s.running = false
	e.running = e.running[:len(e.running)-1] // s is always the last running
	e.waiting = slices.Insert(e.waiting, 0, s)
	s.stream.result.Preemptions++
	e.mu.Lock()
	e.queued++
	e.stats.Preemptions++
	e.mu.Unlock()
}

// lookupPrefix gives a sequence that holds no blocks the cached blocks of
// its longest cached prefix (full blocks, leaving at least its last token
// to compute), and sets computed past them.
func (e *Engine) lookupPrefix(s *seq) (queried, hit int) {
	if e.cfg.NoPrefixCache || s.req.PromptLogprobs {
		return 0, 0
	}
	bs := e.cfg.BlockSize
	full := (len(s.tokens) - 1) / bs
	var h uint64
	parent := int32(-1)
	for i := range full {
		toks := s.tokens[i*bs : (i+1)*bs]
		h = e.pool.chain(h, toks)
		b := e.pool.lookup(parent, h, toks)
		if b < 0 {
			break
		}
		s.blocks = append(s.blocks, b)
		s.hashes = append(s.hashes, h)
		parent = b
	}
	s.computed = len(s.blocks) * bs
	return full * bs, s.computed
}

// registerFull enters s's newly completed blocks into the prefix cache.
func (e *Engine) registerFull(s *seq) {
	if e.cfg.NoPrefixCache || s.req.PromptLogprobs {
		return
	}
	bs := e.cfg.BlockSize
	for i := len(s.hashes); (i+1)*bs <= s.computed; i++ {
		var parentHash uint64
		parent := int32(-1)
		if i > 0 {
			parentHash, parent = s.hashes[i-1], s.blocks[i-1]
		}
		toks := s.tokens[i*bs : (i+1)*bs]
		h := e.pool.chain(parentHash, toks)
		s.hashes = append(s.hashes, h)
		e.pool.register(s.blocks[i], parent, h, toks)
	}
}

// schedule chooses the step: running sequences first, in admission order,
// each with its next token or prompt chunk, preempting the most recently
// admitted when blocks run out; then waiting ones while the token budget,
// the sequence cap and the blocks allow. It returns the preemptions and
// the prefix-cache tokens queried and hit by this step's admissions.
func (e *Engine) schedule() (preempted, queried, hit int) {
	e.step, e.stepSeq = e.step[:0], e.stepSeq[:0]
	budget := e.cfg.MaxNumBatchedTokens
	for i := 0; i < len(e.running) && budget > 0; i++ {
		s := e.running[i]
		n := min(len(s.tokens)-s.computed, budget)
		for !e.reserve(s, s.computed+n) {
			victim := e.running[len(e.running)-1]
			e.preempt(victim)
			preempted++
			if victim == s {
				n = 0
				break
			}
		}
		if n == 0 {
			break
		}
		e.add(s, n)
		budget -= n
	}
	if preempted > 0 {
		return preempted, 0, 0
	}
	for len(e.waiting) > 0 && budget > 0 && len(e.running) < e.cfg.MaxNumSeqs {
		s := e.waiting[0]
		q, h := 0, 0
		if len(s.blocks) == 0 {
			q, h = e.lookupPrefix(s)
		}
		n := min(len(s.tokens)-s.computed, budget)
		if !e.reserve(s, s.computed+n) {
			e.releaseBlocks(s) // hits included: looked up again next step
			break
		}
		queried += q
		hit += h
		if s.stream.result.Preemptions == 0 {
			s.stream.result.CachedTokens = h
		}
		e.waiting = slices.Delete(e.waiting, 0, 1)
		s.running = true
		e.running = append(e.running, s)
		e.mu.Lock()
		e.queued--
		e.mu.Unlock()
		if s.stream.result.Timings.FirstScheduled.IsZero() {
			s.stream.result.Timings.FirstScheduled = time.Now()
		}
		e.add(s, n)
		budget -= n
	}
	return 0, queried, hit
}

// add puts n tokens of s into the step.
func (e *Engine) add(s *seq, n int) {
	mode := model.LogitsNone
	switch {
	case s.req.PromptLogprobs && s.computed < s.nPrompt:
		mode = model.LogitsAll
	case s.computed+n == len(s.tokens):
		mode = model.LogitsLast
	}
	e.step = append(e.step, model.SeqStep{Tokens: s.tokens[s.computed : s.computed+n], Pos: s.computed, Blocks: s.blocks, Logits: mode})
	e.stepSeq = append(e.stepSeq, s)
}

// runStep schedules, runs and finishes one step.
func (e *Engine) runStep() {
	t0 := time.Now()
	preempted, queried, hit := e.schedule()
	if len(e.step) == 0 {
		// Nothing fits this step (every block held, nothing preemptible):
		// wait for a request to end or arrive rather than spin.
		select {
		case <-e.wake:
		case <-e.stop:
		case <-time.After(time.Millisecond):
		}
		return
	}
	V := e.mcfg.VocabSize
	nl := model.LogitRowsOf(e.step)
	if len(e.logits) < nl*V {
		e.logits = make([]float32, nl*V)
	}
	logits := e.logits[:nl*V]
	t1 := time.Now()
	err := e.r.Step(context.Background(), e.step, logits)
	t2 := time.Now()
	e.sampled = 0
	st := StepStats{Index: e.stepNo, Start: t0, Seqs: len(e.step), Preemptions: preempted, PrefixQueried: queried, PrefixHit: hit, Forward: t2.Sub(t1)}
	e.stepNo++
	row := 0
	for j, s := range e.stepSeq {
		sq := &e.step[j]
		n := len(sq.Tokens)
		st.Rows += n
		if n == 1 && s.computed >= s.nPrompt {
			st.DecodeRows++
		} else {
			st.PrefillRows += n
		}
		if err != nil {
			e.finish(s, FinishError, fmt.Errorf("engine: step failed: %w", err))
			continue
		}
		first := s.computed
		s.computed += n
		e.registerFull(s)
		switch sq.Logits {
		case model.LogitsAll:
			for t := range n {
				lrow := logits[(row+t)*V : (row+t+1)*V]
				if p := first + t + 1; p < s.nPrompt && len(s.stream.result.PromptLogprobs) < s.nPrompt-1 {
					id := s.tokens[p]
					s.stream.result.PromptLogprobs = append(s.stream.result.PromptLogprobs, Logprob{ID: id, Logprob: float32(float64(lrow[id]) - logSumExp(lrow))})
				}
			}
			if s.computed == len(s.tokens) {
				e.sample(s, logits[(row+n-1)*V:(row+n)*V], t2)
			}
			row += n
		case model.LogitsLast:
			e.sample(s, logits[row*V:(row+1)*V], t2)
			row++
		}
	}
	e.compact()
	st.Sampled = e.sampled
	st.Sample = time.Since(t2)
	st.Schedule = t1.Sub(t0)
	e.publish(st)
	if e.hooks.afterStep != nil {
		e.hooks.afterStep(e)
	}
	if e.cfg.OnStep != nil {
		e.cfg.OnStep(st)
	}
}

// sample chooses s's next token from its logits row, sends it and ends
// the request when it is done.
func (e *Engine) sample(s *seq, lrow []float32, now time.Time) {
	out := len(s.tokens) - s.nPrompt
	tok := Token{Time: now}
	wantLP := s.req.Logprobs || s.req.TopLogprobs > 0
	var lse float64
	if wantLP {
		// Log-probabilities of the model's distribution, before masking.
		lse = logSumExp(lrow)
		tok.Top = topLogprobs(lrow, s.req.TopLogprobs, lse)
	}
	if s.stop != nil && out < s.req.MinTokens {
		for id, stop := range s.stop {
			if stop {
				lrow[id] = float32(math.Inf(-1))
			}
		}
	}
	tok.ID = s.sampler.Sample(lrow)
	if wantLP {
		tok.Logprob = float32(float64(lrow[tok.ID]) - lse) // a sampled token was never masked
	}
	s.tokens = append(s.tokens, tok.ID)
	e.sampled++
	if out == 0 {
		s.stream.result.Timings.FirstToken = now
	}
	s.stream.tokens <- tok // never blocks: the channel holds MaxTokens
	out++
	switch {
	case s.stop != nil && s.stop[tok.ID] && out >= s.req.MinTokens:
		e.finish(s, FinishStop, nil)
	case out >= s.req.MaxTokens:
		e.finish(s, FinishLength, nil)
	}
}

// publishState stores the engine's occupancy: sequences and blocks.
func (e *Engine) publishState() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stats.Running = len(e.running)
	e.stats.Waiting = e.queued
	e.stats.BlocksUsed = e.pool.used()
	e.stats.PrefixCachedBlocks = len(e.pool.cached)
}

// publish stores the engine-wide figures after a step.
func (e *Engine) publish(st StepStats) {
	e.publishState()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stats.Steps++
	e.stats.PrefixQueriedTokens += int64(st.PrefixQueried)
	e.stats.PrefixHitTokens += int64(st.PrefixHit)
	e.stats.PromptTokens += int64(st.PrefillRows)
	e.stats.GenerationTokens += int64(st.Sampled)
	e.stats.LastStep = st
}
