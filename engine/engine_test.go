package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gpt2bench/gpt2bench/internal/reference"
	"github.com/gpt2bench/gpt2bench/model"
	"github.com/gpt2bench/gpt2bench/tensor"
	"github.com/gpt2bench/gpt2bench/weights"
)

// fixtures are the Hugging Face checkpoints the engine is checked against.
var fixtures = []string{"../testdata/tiny-gpt2", "../testdata/tiny-gpt2-f16"}

// logitTol bounds |ragged - alone| on logits (the same bound as model's).
const logitTol = 1e-4

func loadModel(t testing.TB, spec string, threads int) *model.Model {
	t.Helper()
	w, err := weights.Load(context.Background(), spec, weights.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.New(w.Config, w.Params, model.Options{Threads: threads})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

func newEngine(t testing.TB, m *model.Model, cfg Config) *Engine {
	t.Helper()
	e, err := New(m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// collect reads a stream to its end.
func collect(s *Stream) ([]int32, Result) {
	var ids []int32
	for tok := range s.Tokens() {
		ids = append(ids, tok.ID)
	}
	return ids, s.Result()
}

// alone runs one request with model.Generate on a batch-1 session.
func alone(t *testing.T, m *model.Model, req Request) []int32 {
	t.Helper()
	s, err := m.NewSession(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	out, err := model.Generate(context.Background(), s, [][]int32{req.Prompt}, model.GenerateOptions{MaxNewTokens: req.MaxTokens, Sampling: req.Sampling})
	if err != nil {
		t.Fatal(err)
	}
	return out[0]
}

func promptFor(V, n, seed int) []int32 {
	ids := make([]int32, n)
	r := rand.New(rand.NewPCG(uint64(seed), 9))
	for i := range ids {
		ids[i] = int32(r.IntN(V))
	}
	return ids
}

// TestFixturesMixed runs each fixture's reference prompt among other
// requests of other lengths and sampling settings, in small steps that mix
// chunked prefill with decodes: its greedy continuation must be
// transformers', and every request's tokens those it gets alone.
func TestFixturesMixed(t *testing.T) {
	for _, dir := range fixtures {
		t.Run(dir[strings.LastIndex(dir, "/")+1:], func(t *testing.T) {
			ref, err := reference.Read(dir + "/reference.json")
			if err != nil {
				t.Fatal(err)
			}
			m := loadModel(t, dir, 2)
			cfg := m.Config()
			e := newEngine(t, m, Config{MaxNumBatchedTokens: 7, BlockSize: 4, MaxNumSeqs: 5})
			reqs := []Request{{Prompt: ref.InputIDs, MaxTokens: len(ref.GreedyContinuation), IgnoreEOS: true}}
			for i := range 6 {
				r := Request{Prompt: promptFor(cfg.VocabSize, 1+7*i%19, i), MaxTokens: 5 + 3*i, IgnoreEOS: true}
				if i%2 == 1 {
					r.Sampling = model.SampleOptions{Temperature: 0.9, TopK: 20, TopP: 0.95, Seed: uint64(40 + i)}
				}
				reqs = append(reqs, r)
			}
			streams := make([]*Stream, len(reqs))
			for i, r := range reqs {
				if streams[i], err = e.Submit(context.Background(), r); err != nil {
					t.Fatal(err)
				}
			}
			for i, s := range streams {
				got, res := collect(s)
				if res.Reason != FinishLength {
					t.Fatalf("request %d ended %q (%v), want length", i, res.Reason, res.Err)
				}
				want := alone(t, m, reqs[i])
				if i == 0 {
					want = ref.GreedyContinuation
				}
				if !equal(got, want) {
					t.Errorf("request %d: got %v, want %v", i, got, want)
				}
			}
			if st := e.Stats(); st.Steps < 10 || st.BlocksUsed != 0 {
				t.Errorf("stats %+v: want many steps and every block back", st)
			}
		})
	}
}

func equal(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestFixturesRaggedLogits checks each fixture's logits in a mixed ragged
// step against the same sequence alone, within logitTol.
func TestFixturesRaggedLogits(t *testing.T) {
	for _, dir := range fixtures {
		t.Run(dir[strings.LastIndex(dir, "/")+1:], func(t *testing.T) {
			ref, err := reference.Read(dir + "/reference.json")
			if err != nil {
				t.Fatal(err)
			}
			m := loadModel(t, dir, 2)
			cfg := m.Config()
			V := cfg.VocabSize
			kv, _ := model.NewKVBlocks(cfg, 4, 64)
			for b := range 64 {
				kv.Fill(b, float32(math.NaN()))
			}
			r, _ := m.NewRagged(kv)
			p := ref.InputIDs
			other := promptFor(V, 11, 3)
			// Step 1: the first 5 reference tokens beside all of other.
			// Step 2: the rest of the reference beside other's first decode.
			s1 := []model.SeqStep{
				{Tokens: p[:5], Pos: 0, Blocks: []int32{10, 3, 7, 20, 1}, Logits: model.LogitsAll},
				{Tokens: other, Pos: 0, Blocks: []int32{5, 6, 30, 31}, Logits: model.LogitsLast},
			}
			got := make([]float32, 0, len(p)*V)
			l1 := make([]float32, model.LogitRowsOf(s1)*V)
			if err := r.Step(context.Background(), s1, l1); err != nil {
				t.Fatal(err)
			}
			got = append(got, l1[:5*V]...)
			s2 := []model.SeqStep{
				{Tokens: []int32{int32(model.Argmax(l1[5*V:]))}, Pos: 11, Blocks: s1[1].Blocks, Logits: model.LogitsLast},
				{Tokens: p[5:], Pos: 5, Blocks: s1[0].Blocks, Logits: model.LogitsAll},
			}
			l2 := make([]float32, model.LogitRowsOf(s2)*V)
			if err := r.Step(context.Background(), s2, l2); err != nil {
				t.Fatal(err)
			}
			got = append(got, l2[V:]...)
			for i, row := range ref.Logits {
				worst := 0.0
				for j, w := range row {
					worst = math.Max(worst, math.Abs(float64(got[i*V+j]-w)))
				}
				// transformers' own logits, at verify's tolerance for these fixtures.
				if worst > 1e-3 || math.IsNaN(worst) {
					t.Fatalf("position %d: max |logit - transformers| = %g", i, worst)
				}
			}
			s, _ := m.NewSession(1, 0)
			want := make([]float32, len(p)*V)
			if err := s.Forward(context.Background(), [][]int32{p}, want); err != nil {
				t.Fatal(err)
			}
			for i := range want {
				if d := math.Abs(float64(got[i] - want[i])); d > logitTol || math.IsNaN(d) {
					t.Fatalf("logit %d (position %d): ragged %g, alone %g", i, i/V, got[i], want[i])
				}
			}
		})
	}
}

// TestDefaultModelMixed checks the gpt2-sized default: greedy and seeded
// requests mixed in one engine give the tokens they give alone.
func TestDefaultModelMixed(t *testing.T) {
	if testing.Short() {
		t.Skip("124M default model skipped in -short mode")
	}
	m := loadModel(t, "", 0)
	V := m.Config().VocabSize
	e := newEngine(t, m, Config{MaxNumBatchedTokens: 48})
	reqs := []Request{
		{Prompt: promptFor(V, 40, 1), MaxTokens: 6},
		{Prompt: promptFor(V, 3, 2), MaxTokens: 8, Sampling: model.SampleOptions{Temperature: 0.8, TopK: 40, Seed: 5}},
		{Prompt: promptFor(V, 70, 3), MaxTokens: 4},
	}
	var streams []*Stream
	for _, r := range reqs {
		r.IgnoreEOS = true
		s, err := e.Submit(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		streams = append(streams, s)
	}
	for i, s := range streams {
		got, _ := collect(s)
		if want := alone(t, m, reqs[i]); !equal(got, want) {
			t.Errorf("request %d: mixed %v, alone %v", i, got, want)
		}
	}
}

// TestPrefixCache checks that a second request with a shared prefix finds
// its blocks and gets bit-identical log-probabilities to a cold run.
func TestPrefixCache(t *testing.T) {
	m := loadModel(t, fixtures[0], 2)
	V := m.Config().VocabSize
	shared := promptFor(V, 20, 7)
	a := append(append([]int32{}, shared...), 1, 2, 3)
	b := append(append([]int32{}, shared...), 9, 8)
	run := func(cfg Config) (Result, []Token) {
		e := newEngine(t, m, cfg)
		s, err := e.Submit(context.Background(), Request{Prompt: a, MaxTokens: 3, IgnoreEOS: true})
		if err != nil {
			t.Fatal(err)
		}
		collect(s)
		s, err = e.Submit(context.Background(), Request{Prompt: b, MaxTokens: 6, IgnoreEOS: true, Logprobs: true, TopLogprobs: 5})
		if err != nil {
			t.Fatal(err)
		}
		var toks []Token
		for tok := range s.Tokens() {
			toks = append(toks, tok)
		}
		st := e.Stats()
		if cfg.NoPrefixCache && st.PrefixHitTokens != 0 {
			t.Errorf("prefix cache off, %d tokens hit", st.PrefixHitTokens)
		}
		return s.Result(), toks
	}
	for _, inv := range []bool{true, false} {
		t.Run(fmt.Sprintf("batch-invariant=%v", inv), func(t *testing.T) {
			warmRes, warm := run(Config{BlockSize: 8, BatchInvariant: inv})
			coldRes, cold := run(Config{BlockSize: 8, NoPrefixCache: true, BatchInvariant: inv})
			if warmRes.CachedTokens != 16 || coldRes.CachedTokens != 0 {
				t.Fatalf("cached tokens: warm %d (want 16: two full blocks of the 20 shared), cold %d", warmRes.CachedTokens, coldRes.CachedTokens)
			}
			// Batch-invariant: bit-identical. Otherwise the suffix runs
			// through kernels chosen for fewer rows: within logitTol.
			tol := 0.0
			if !inv {
				tol = logitTol
			}
			for i := range cold {
				w, c := warm[i], cold[i]
				if w.ID != c.ID || len(w.Top) != 5 || math.Abs(float64(w.Logprob-c.Logprob)) > tol {
					t.Fatalf("token %d: warm %+v, cold %+v", i, w, c)
				}
				for j := range c.Top {
					if w.Top[j].ID != c.Top[j].ID || math.Abs(float64(w.Top[j].Logprob-c.Top[j].Logprob)) > tol {
						t.Fatalf("token %d top %d: warm %+v, cold %+v (tolerance %g)", i, j, w.Top[j], c.Top[j], tol)
					}
				}
			}
		})
	}
}

// TestBadRequests checks that each bad request gets its own clear error
// while a good one in flight is unaffected.
func TestBadRequests(t *testing.T) {
	m := loadModel(t, fixtures[0], 1)
	cfg := m.Config()
	e := newEngine(t, m, Config{KVCacheBytes: 10 * 4 * model.KVBytesPerToken(cfg), BlockSize: 4})
	good, err := e.Submit(context.Background(), Request{Prompt: []int32{1, 2, 3}, MaxTokens: 20, IgnoreEOS: true})
	if err != nil {
		t.Fatal(err)
	}
	long := make([]int32, cfg.NPositions+1)
	tests := []struct {
		name string
		req  Request
		want string
	}{
		{"empty prompt", Request{MaxTokens: 1}, "empty prompt"},
		{"prompt past context", Request{Prompt: long, MaxTokens: 1}, fmt.Sprintf("context is %d", cfg.NPositions)},
		{"max tokens 0", Request{Prompt: []int32{1}}, "max tokens 0"},
		{"max tokens past context", Request{Prompt: []int32{1}, MaxTokens: cfg.NPositions + 1}, "shorten the prompt or lower max tokens"},
		{"token outside vocabulary", Request{Prompt: []int32{int32(cfg.VocabSize)}, MaxTokens: 1}, "outside the vocabulary"},
		{"negative token", Request{Prompt: []int32{-1}, MaxTokens: 1}, "outside the vocabulary"},
		{"temperature", Request{Prompt: []int32{1}, MaxTokens: 1, Sampling: model.SampleOptions{Temperature: -1}}, "temperature"},
		{"top-p", Request{Prompt: []int32{1}, MaxTokens: 1, Sampling: model.SampleOptions{TopP: 2}}, "top-p"},
		{"top logprobs", Request{Prompt: []int32{1}, MaxTokens: 1, TopLogprobs: 21}, "top logprobs 21"},
		{"min tokens", Request{Prompt: []int32{1}, MaxTokens: 2, MinTokens: 3}, "min tokens 3"},
		{"stop token", Request{Prompt: []int32{1}, MaxTokens: 2, StopTokens: []int32{-5}}, "stop token -5"},
		{"bigger than the cache", Request{Prompt: make([]int32, 60), MaxTokens: 4}, "raise --kv-cache-memory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Submit(context.Background(), tc.req)
			var re *RequestError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want a *RequestError containing %q", err, tc.want)
			}
		})
	}
	if ids, res := collect(good); len(ids) != 20 || res.Reason != FinishLength {
		t.Fatalf("good request: %d tokens, %q %v", len(ids), res.Reason, res.Err)
	}
}

// TestStopAndMinTokens checks EOS, stop tokens and min tokens.
func TestStopAndMinTokens(t *testing.T) {
	m := loadModel(t, fixtures[0], 1)
	V := m.Config().VocabSize
	e := newEngine(t, m, Config{})
	p := promptFor(V, 5, 1)
	free, _ := collect(must(e.Submit(context.Background(), Request{Prompt: p, MaxTokens: 12, IgnoreEOS: true})))
	// Stop at the 4th greedy token: the output ends with it.
	ids, res := collect(must(e.Submit(context.Background(), Request{Prompt: p, MaxTokens: 12, IgnoreEOS: true, StopTokens: []int32{free[3]}})))
	if k := indexOf(free, free[3]); len(ids) != k+1 || res.Reason != FinishStop {
		t.Fatalf("stop token: %v (%q), want %v", ids, res.Reason, free[:k+1])
	}
	// With min tokens past it, the stop token is never sampled early.
	ids, res = collect(must(e.Submit(context.Background(), Request{Prompt: p, MaxTokens: 12, MinTokens: 8, IgnoreEOS: true, StopTokens: []int32{free[3]}})))
	if len(ids) < 8 || res.Reason == FinishError {
		t.Fatalf("min tokens 8: %v (%q)", ids, res.Reason)
	}
	for _, id := range ids[:8] {
		if id == free[3] {
			t.Fatalf("stop token sampled before min tokens: %v", ids)
		}
	}
}

func must(s *Stream, err error) *Stream {
	if err != nil {
		panic(err)
	}
	return s
}

func indexOf(ids []int32, id int32) int {
	for i, x := range ids {
		if x == id {
			return i
		}
	}
	return -1
}

// TestCancelWithinOneStep checks that a request cancelled during a step
// has ended, and given back its blocks, before the next step runs.
func TestCancelWithinOneStep(t *testing.T) {
	m := loadModel(t, fixtures[0], 1)
	ctx, cancel := context.WithCancel(context.Background())
	var (
		mu      sync.Mutex
		victim  *seq
		stepsAt = -1
		late    []string
	)
	hooks := testHooks{afterStep: func(e *Engine) {
		mu.Lock()
		defer mu.Unlock()
		if victim == nil {
			for _, s := range e.running {
				if s.ctx == ctx && len(s.tokens) > s.nPrompt {
					victim, stepsAt = s, int(e.stepNo)
					cancel() // during the step's bookkeeping: the next loop must reap it
				}
			}
			return
		}
		if !victim.finished {
			late = append(late, fmt.Sprintf("step %d", e.stepNo))
		}
		held := 0
		for _, s := range e.running {
			held += len(s.blocks)
		}
		if e.pool.used() != held {
			late = append(late, fmt.Sprintf("step %d: %d blocks used, running requests hold %d", e.stepNo, e.pool.used(), held))
		}
	}}
	e, err := start(m, Config{}, hooks)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	other := must(e.Submit(context.Background(), Request{Prompt: []int32{4, 5}, MaxTokens: 60, IgnoreEOS: true}))
	s := must(e.Submit(ctx, Request{Prompt: []int32{1, 2, 3}, MaxTokens: 60, IgnoreEOS: true}))
	<-s.Done()
	if res := s.Result(); res.Reason != FinishCancelled || !errors.Is(res.Err, context.Canceled) {
		t.Fatalf("cancelled request ended %q %v", res.Reason, res.Err)
	}
	collect(other)
	mu.Lock()
	defer mu.Unlock()
	if stepsAt < 0 || len(late) > 0 {
		t.Fatalf("cancelled after step %d; still held after: %v", stepsAt, late)
	}
	if st := e.Stats(); st.BlocksUsed != 0 || st.Running != 0 {
		t.Fatalf("after both ended: %+v", st)
	}
}

// TestQueueFullAndClose checks the bounded queue and Close.
func TestQueueFullAndClose(t *testing.T) {
	m := loadModel(t, fixtures[0], 1)
	e, err := New(m, Config{MaxQueue: 2, MaxNumSeqs: 1})
	if err != nil {
		t.Fatal(err)
	}
	var streams []*Stream
	full := false
	for range 10 {
		s, err := e.Submit(context.Background(), Request{Prompt: []int32{1}, MaxTokens: 50, IgnoreEOS: true})
		if errors.Is(err, ErrQueueFull) {
			full = true
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		streams = append(streams, s)
	}
	if !full {
		t.Fatal("10 submissions to a queue of 2 with one running: none refused")
	}
	e.Close()
	for _, s := range streams {
		if res := s.Result(); res.Reason != FinishLength && !errors.Is(res.Err, ErrClosed) {
			t.Fatalf("after Close: %q %v", res.Reason, res.Err)
		}
	}
	if _, err := e.Submit(context.Background(), Request{Prompt: []int32{1}, MaxTokens: 1}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Submit after Close: %v, want ErrClosed", err)
	}
}

// TestDrain checks that Drain lets requests in flight finish.
func TestDrain(t *testing.T) {
	m := loadModel(t, fixtures[0], 1)
	e, err := New(m, Config{})
	if err != nil {
		t.Fatal(err)
	}
	s := must(e.Submit(context.Background(), Request{Prompt: []int32{1}, MaxTokens: 30, IgnoreEOS: true}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if ids, res := collect(s); len(ids) != 30 || res.Reason != FinishLength {
		t.Fatalf("drained request: %d tokens, %q", len(ids), res.Reason)
	}
}

// TestStatsAfterLastCancel checks that cancelling the only request leaves
// Stats idle (no step follows to publish them) and Drain returns.
func TestStatsAfterLastCancel(t *testing.T) {
	m := loadModel(t, fixtures[0], 1)
	e := newEngine(t, m, Config{OnStep: func(StepStats) { time.Sleep(time.Millisecond) }})
	ctx, cancel := context.WithCancel(context.Background())
	s := must(e.Submit(ctx, Request{Prompt: []int32{1, 2, 3}, MaxTokens: 60, IgnoreEOS: true}))
	<-s.Tokens() // it runs
	cancel()
	<-s.Done()
	deadline := time.Now().Add(10 * time.Second)
	for st := e.Stats(); st.Running != 0 || st.Waiting != 0 || st.BlocksUsed != 0; st = e.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("stats after the only request was cancelled: %+v", st)
		}
		time.Sleep(time.Millisecond)
	}
	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer dcancel()
	if err := e.Drain(dctx); err != nil {
		t.Fatalf("Drain after the last cancel: %v", err)
	}
}

// TestHalfKVCacheFixtures runs each fixture's reference prompt among
// other requests, in small mixed steps, on a model whose KV cache holds
// halves (--kv-dtype f16): its greedy continuation must still be
// transformers' (verify measures the half cache's logits within 7.7e-3 of
// them on these fixtures), and every block must come back.
func TestHalfKVCacheFixtures(t *testing.T) {
	for _, dir := range fixtures {
		t.Run(dir[strings.LastIndex(dir, "/")+1:], func(t *testing.T) {
			ref, err := reference.Read(dir + "/reference.json")
			if err != nil {
				t.Fatal(err)
			}
			w, err := weights.Load(context.Background(), dir, weights.Options{})
			if err != nil {
				t.Fatal(err)
			}
			m, err := model.New(w.Config, w.Params, model.Options{Threads: 2, KVDType: tensor.F16})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(m.Close)
			cfg := m.Config()
			e := newEngine(t, m, Config{MaxNumBatchedTokens: 7, BlockSize: 4, MaxNumSeqs: 5})
			reqs := []Request{{Prompt: ref.InputIDs, MaxTokens: len(ref.GreedyContinuation), IgnoreEOS: true}}
			for i := range 4 {
				reqs = append(reqs, Request{Prompt: promptFor(cfg.VocabSize, 2+5*i, i), MaxTokens: 4 + 2*i, IgnoreEOS: true})
			}
			streams := make([]*Stream, len(reqs))
			for i, r := range reqs {
				if streams[i], err = e.Submit(context.Background(), r); err != nil {
					t.Fatal(err)
				}
			}
			for i, s := range streams {
				got, res := collect(s)
				if res.Reason != FinishLength || len(got) != reqs[i].MaxTokens {
					t.Fatalf("request %d ended %q after %d tokens (%v), want length after %d", i, res.Reason, len(got), res.Err, reqs[i].MaxTokens)
				}
				if i == 0 && !equal(got, ref.GreedyContinuation) {
					t.Errorf("greedy continuation %v, transformers %v", got, ref.GreedyContinuation)
				}
			}
			if st := e.Stats(); st.BlocksUsed != 0 {
				t.Errorf("stats %+v: want every block back", st)
			}
		})
	}
}
