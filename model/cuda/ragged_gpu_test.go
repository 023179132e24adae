//go:build cuda

package cuda

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gpt2bench/gpt2bench/model"
	"github.com/gpt2bench/gpt2bench/tensor"
)

// raggedScript is a run of ragged steps as the engine schedules them:
// prompts in chunks mixed with decodes, a prefix block shared between two
// sequences, tables whose blocks are out of order, steps on the GEMV
// (N <= 16) and the GEMM path, and steps with no logits, the last row's
// and every row's. Sequence s's table is tables[s]; its tokens come from
// the fixture's prompt (rotated by s); a decode feeds back a token chosen
// from the last logits of the CPU reference.
type raggedSeq struct {
	seq    int // which sequence
	n      int // new tokens; 1 after the prompt: a decode
	logits model.LogitMode
}

// TestRagged runs ragged steps on the GPU (the device's paged pool,
// attention through block tables, chunked prefill mixed with decodes) and
// on the CPU (model.Ragged over model.KVBlocks with the same block ids),
// step after step, and compares every logit row: f32 weights against the
// CPU's f32 (with graphs of bucketed steps, their padding rows thrown
// away, and kernel by kernel), f16 against the CPU's f16; StepGreedy
// chooses the argmax of Step's logits. Bad steps are refused as the CPU
// refuses them.
func TestRagged(t *testing.T) {
	ctx := context.Background()
	cfg, p, ref := loadFixture(t, filepath.Join("..", "..", "testdata", "tiny-gpt2"))
	const bs, numBlocks = 4, 48
	// Sequence 2 shares sequence 0's first two blocks (the same 8 prompt
	// tokens, prefix-cached) and starts at position 8.
	tables := [][]int32{
		{3, 7, 1, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24},
		{40, 2, 5, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 41, 42, 43},
		{3, 7, 9, 0, 4, 6, 8, 10, 11, 25, 26, 27, 28, 29, 44, 45},
	}
	prompt := func(s int) []int32 {
		if s == 2 { // sequence 0's first 8 tokens, then others
			return append(append([]int32{}, ref.InputIDs[:8]...), rotate(ref.InputIDs, 3)[2][:6]...)
		}
		return rotate(ref.InputIDs, 3)[s]
	}
	steps := [][]raggedSeq{
		{{0, 5, model.LogitsNone}, {1, 3, model.LogitsAll}},                           // two prompt chunks
		{{0, 3, model.LogitsLast}, {1, 1, model.LogitsLast}},                          // the rest of 0's prompt, a decode
		{{1, 1, model.LogitsLast}, {0, 1, model.LogitsLast}, {2, 6, model.LogitsAll}}, // prefix hit: 2 starts at 8
		{{2, 1, model.LogitsLast}, {1, 1, model.LogitsLast}, {0, 1, model.LogitsLast}},
		{{0, 1, model.LogitsNone}, {1, 9, model.LogitsLast}, {2, 8, model.LogitsAll}}, // N = 18: GEMM
		{{0, 1, model.LogitsLast}, {1, 1, model.LogitsLast}, {2, 1, model.LogitsLast}},
	}
	for _, tc := range []struct {
		dt     tensor.DType
		graphs bool
	}{{tensor.F32, true}, {tensor.F32, false}, {tensor.F16, true}} {
		dt := tc.dt
		t.Run(fmt.Sprintf("%s/graphs=%v", dt, tc.graphs), func(t *testing.T) {
			g := openGPU(t, cfg, p, dt)
			cm := cpuModel(t, cfg, p, dt)
			kv, err := model.NewKVBlocks(cfg, bs, numBlocks)
			if err != nil {
				t.Fatal(err)
			}
			for b := range numBlocks {
				kv.Fill(b, float32(math.NaN())) // a read outside the tables shows
			}
			cr, err := cm.NewRagged(kv)
			if err != nil {
				t.Fatal(err)
			}
			gr, err := g.NewRagged(bs, numBlocks)
			if err != nil {
				t.Fatal(err)
			}
			defer gr.Close()
			gr.SetGraphs(tc.graphs)
			pos := []int{0, 0, 8}
			next := []int32{-1, -1, -1} // the token a decode feeds; -1 while the prompt runs
			for i, st := range steps {
				var seqs []model.SeqStep
				for _, q := range st {
					var toks []int32
					if next[q.seq] < 0 {
						toks = prompt(q.seq)[pos[q.seq] : pos[q.seq]+q.n]
					} else {
						toks = make([]int32, q.n)
						for j := range toks {
							toks[j] = (next[q.seq] + int32(31*j)) % int32(cfg.VocabSize)
						}
					}
					seqs = append(seqs, model.SeqStep{Tokens: toks, Pos: pos[q.seq], Blocks: tables[q.seq], Logits: q.logits})
				}
				V := cfg.VocabSize
				n := model.LogitRowsOf(seqs) * V
				want, got := make([]float32, n), make([]float32, n)
				if err := cr.Step(ctx, seqs, want); err != nil {
					t.Fatal(err)
				}
				if err := gr.Step(ctx, seqs, got); err != nil {
					t.Fatal(err)
				}
				compare(t, fmt.Sprintf("step %d (%d rows) logits", i, model.RaggedStepShape(seqs).Rows), got, want, tolFor(dt))
				// The same step again (it rewrites the same keys and
				// values) with argmax on the device: the ids of got.
				ids := make([]int32, model.LogitRowsOf(seqs))
				if err := gr.StepGreedy(ctx, seqs, ids); err != nil {
					t.Fatal(err)
				}
				for j := range ids {
					if w := model.Argmax(got[j*V : (j+1)*V]); ids[j] != w {
						t.Errorf("step %d logit row %d: StepGreedy chose %d, the argmax of Step's logits is %d", i, j, ids[j], w)
					}
				}
				row := 0
				for _, q := range st {
					pos[q.seq] += q.n
					switch q.logits {
					case model.LogitsAll:
						row += q.n
					case model.LogitsLast:
						row++
					default:
						continue
					}
					if pos[q.seq] >= len(prompt(q.seq)) || next[q.seq] >= 0 {
						next[q.seq] = model.Argmax(want[(row-1)*V : row*V])
					}
				}
			}
			t.Run("errors", func(t *testing.T) {
				ok := model.SeqStep{Tokens: []int32{1}, Pos: 0, Blocks: []int32{0}, Logits: model.LogitsLast}
				for _, tc := range []struct {
					name   string
					seqs   []model.SeqStep
					logits int
				}{
					{"no sequences", nil, 0},
					{"block outside the pool", []model.SeqStep{{Tokens: []int32{1}, Blocks: []int32{numBlocks}, Logits: model.LogitsLast}}, 1},
					{"table too short", []model.SeqStep{{Tokens: []int32{1, 2}, Pos: 3, Blocks: []int32{0}, Logits: model.LogitsLast}}, 1},
					{"token outside the vocabulary", []model.SeqStep{{Tokens: []int32{int32(cfg.VocabSize)}, Blocks: []int32{0}, Logits: model.LogitsLast}}, 1},
					{"past the context", []model.SeqStep{{Tokens: []int32{1, 2}, Pos: cfg.NPositions - 1, Blocks: tables[0], Logits: model.LogitsLast}}, 1},
					{"logits buffer", []model.SeqStep{ok}, 2},
				} {
					if err := gr.StepGreedy(ctx, tc.seqs, make([]int32, tc.logits)); err == nil {
						t.Errorf("%s: StepGreedy: no error", tc.name)
					}
					if err := gr.Step(ctx, tc.seqs, make([]float32, tc.logits*cfg.VocabSize)); err == nil {
						t.Errorf("%s: no error", tc.name)
					} else if cerr := cr.Step(ctx, tc.seqs, make([]float32, tc.logits*cfg.VocabSize)); cerr == nil {
						t.Errorf("%s: the GPU refused (%v), the CPU did not", tc.name, err)
					} else {
						t.Logf("%s: %v", tc.name, err)
					}
				}
			})
		})
	}
}

// TestSpeedRagged times continuous batching on the GPU's ragged step when
// GPT2BENCH_CUDA_BENCH is set: gpt2 124M (random weights), a closed loop
// of 64 concurrent requests of 128 prompt and 128 new tokens (256 requests
// in all; a finished request is replaced at once), scheduled as engine/
// does (decodes first, then prompt chunks within a budget of 2,048 rows,
// blocks of 16 positions), greedy on the device (StepGreedy: only ids come
// back), sampled on the device with each request's own seed (StepSample:
// temperature 1, top-k 50, top-p 0.95) and, for comparison, greedy with
// every step's logits copied to the host (Step). It reports output tokens
// per second and the median TTFT (from a request's arrival to its first
// token on the host), each mode timed on its second run (the first
// captures the graphs of its step buckets).
func TestSpeedRagged(t *testing.T) {
	cfg := speedModel(t)
	ctx := context.Background()
	p, err := model.RandomParams(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	conc, total, in, out := scaled(64), scaled(256), 128, scaled(128)
	const bs, budget = 16, 2048
	perSeq := (in + out + bs - 1) / bs
	var results []benchResult
	for _, dt := range []tensor.DType{tensor.F16, tensor.F32} {
		g := openGPU(t, cfg, p, dt)
		r, err := g.NewRagged(bs, conc*perSeq)
		if err != nil {
			t.Fatal(err)
		}
		for _, mode := range []contMode{contIDs, contSample, contLogits} {
			if os.Getenv("GPT2BENCH_CUDA_BENCH") != "tiny" {
				// Warm-up: the same schedule captures every bucket's graph
				// (capture and instantiation are not the steps' time).
				runContinuous(t, ctx, r, cfg, conc, total, in, out, perSeq, budget, mode)
			}
			tps, ttft, steps := runContinuous(t, ctx, r, cfg, conc, total, in, out, perSeq, budget, mode)
			name := [...]string{"continuous_ids", "continuous_sample", "continuous_logits"}[mode]
			results = append(results, benchResult{Name: name, DType: dt.String(), Batch: conc, Prompt: in, NewTokens: out,
				TTFTms: float64(ttft.Microseconds()) / 1e3, TokensPerS: tps, Runs: total})
			t.Logf("%s %s: %d requests, %d steps", name, dt, total, steps)
		}
		r.Close()
		g.Close()
	}
	for _, r := range results {
		t.Logf("%-22s %s B=%-2d prompt=%d new=%-3d ttft=%7.3fms tok/s=%9.1f", r.Name, r.DType, r.Batch, r.Prompt, r.NewTokens, r.TTFTms, r.TokensPerS)
	}
	if path := os.Getenv("GPT2BENCH_CUDA_BENCH_OUT"); path != "" {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		enc := json.NewEncoder(f)
		for _, r := range results {
			enc.Encode(r)
		}
		f.Close()
	}
}

// contMode is how runContinuous chooses tokens.
type contMode int

const (
	contIDs    contMode = iota // StepGreedy
	contSample                 // StepSample, each request its own seed
	contLogits                 // Step, argmax on the host
)

// runContinuous runs total requests through r, conc at a time, and
// returns the output tokens per second, the median TTFT and the steps.
// Slot s owns blocks s*perSeq ..; a request's prompt is prefilled in
// chunks within budget rows per step after every running decode.
func runContinuous(t *testing.T, ctx context.Context, r *Ragged, cfg model.Config, conc, total, in, out, perSeq, budget int, mode contMode) (float64, time.Duration, int) {
	t.Helper()
	type slot struct {
		req      int // -1: free
		prompt   []int32
		pos      int // positions cached
		gen      int // tokens generated
		last     int32
		arrival  time.Time
		blocks   []int32
		prefill  bool
		inFlight int // rows of the current step
		pcg      *rand.PCG
	}
	rng := rand.New(rand.NewPCG(5, 6))
	slots := make([]slot, conc)
	next := 0
	admit := func(s *slot, now time.Time) {
		if next >= total {
			s.req = -1
			return
		}
		pr := make([]int32, in)
		for i := range pr {
			pr[i] = int32(rng.IntN(cfg.VocabSize))
		}
		seed := uint64(next)
		*s = slot{req: next, prompt: pr, arrival: now, blocks: s.blocks, prefill: true, pcg: rand.NewPCG(seed, seed^model.PCGStream)}
		next++
	}
	for i := range slots {
		slots[i].blocks = make([]int32, perSeq)
		for j := range perSeq {
			slots[i].blocks[j] = int32(i*perSeq + j)
		}
	}
	start := time.Now()
	for i := range slots {
		admit(&slots[i], start)
	}
	var ttft []time.Duration
	var seqs []model.SeqStep
	var owners []int
	var srows []SampleRow
	so := model.SampleOptions{Temperature: 1, TopK: 50, TopP: 0.95}
	ids := make([]int32, 0, conc)
	var logits []float32
	produced, steps := 0, 0
	for {
		seqs, owners = seqs[:0], owners[:0]
		rows := 0
		for i := range slots { // decodes first
			s := &slots[i]
			if s.req >= 0 && !s.prefill {
				seqs = append(seqs, model.SeqStep{Tokens: []int32{s.last}, Pos: s.pos, Blocks: s.blocks, Logits: model.LogitsLast})
				owners = append(owners, i)
				s.inFlight = 1
				rows++
			}
		}
		for i := range slots { // then prompt chunks
			s := &slots[i]
			if s.req < 0 || !s.prefill || rows >= budget {
				continue
			}
			n := min(in-s.pos, budget-rows)
			lm := model.LogitsNone
			if s.pos+n == in {
				lm = model.LogitsLast
			}
			seqs = append(seqs, model.SeqStep{Tokens: s.prompt[s.pos : s.pos+n], Pos: s.pos, Blocks: s.blocks, Logits: lm})
			owners = append(owners, i)
			s.inFlight = n
			rows += n
		}
		if len(seqs) == 0 {
			break
		}
		nl := model.LogitRowsOf(seqs)
		ids = ids[:nl]
		switch mode {
		case contIDs:
			if err := r.StepGreedy(ctx, seqs, ids); err != nil {
				t.Fatal(err)
			}
		case contSample:
			srows = srows[:0]
			for k, sq := range seqs {
				if sq.Logits != model.LogitsNone {
					srows = append(srows, SampleRow{Opts: so, PCG: slots[owners[k]].pcg})
				}
			}
			if err := r.StepSample(ctx, seqs, srows, ids); err != nil {
				t.Fatal(err)
			}
		default:
			V := cfg.VocabSize
			if cap(logits) < nl*V {
				logits = make([]float32, nl*V)
			}
			if err := r.Step(ctx, seqs, logits[:nl*V]); err != nil {
				t.Fatal(err)
			}
			for j := range nl {
				ids[j] = model.Argmax(logits[j*V : (j+1)*V])
			}
		}
		steps++
		now := time.Now()
		j := 0
		for k, sq := range seqs {
			s := &slots[owners[k]]
			s.pos += s.inFlight
			if sq.Logits == model.LogitsNone {
				continue
			}
			s.last = ids[j]
			j++
			if s.prefill {
				s.prefill = false
				ttft = append(ttft, now.Sub(s.arrival))
			}
			s.gen++
			produced++
			if s.gen == out {
				admit(s, now)
			}
		}
	}
	el := time.Since(start)
	return float64(produced) / el.Seconds(), median(ttft), steps
}

// TestRaggedContinuous runs TestSpeedRagged's closed loop on the fixture,
// small: 5 requests of 12 + 6 tokens, 3 at a time, 16 rows a step, ids
// from the device (greedy and sampled) and from the host's argmax of the
// logits.
func TestRaggedContinuous(t *testing.T) {
	cfg, p, _ := loadFixture(t, filepath.Join("..", "..", "testdata", "tiny-gpt2"))
	g := openGPU(t, cfg, p, tensor.F32)
	const bs, in, out = 4, 12, 6
	perSeq := (in + out + bs - 1) / bs
	r, err := g.NewRagged(bs, 3*perSeq)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, mode := range []contMode{contIDs, contSample, contLogits} {
		tps, _, steps := runContinuous(t, context.Background(), r, cfg, 3, 5, in, out, perSeq, 16, mode)
		// 3 prompts in 3 steps (16 rows each at most), 5 more decodes each,
		// then the last 2 requests.
		if tps <= 0 || steps < 2*out {
			t.Errorf("mode %d: %.1f tok/s in %d steps", mode, tps, steps)
		}
	}
}

// TestRaggedSample runs ragged steps whose every logit row chooses its
// token on the device with its request's own options (StepSample): greedy,
// temperature with top-k, with top-p, with a top-p never reached inside
// its top-k, and temperature alone, four prompts then decodes of the
// tokens drawn, against model.Ragged's logits drawn by a model.Sampler
// per request with the same seed. The logits differ from the CPU's by
// ~1e-5, so a draw could in principle land on the other side of a
// boundary; at these sizes that is a 1e-4 chance.
func TestRaggedSample(t *testing.T) {
	ctx := context.Background()
	cfg, p, ref := loadFixture(t, filepath.Join("..", "..", "testdata", "tiny-gpt2"))
	g := openGPU(t, cfg, p, tensor.F32)
	cm := cpuModel(t, cfg, p, tensor.F32)
	const bs, steps = 4, 6
	opts := []model.SampleOptions{{}, {Temperature: 0.8, TopK: 20, Seed: 11}, {Temperature: 1.2, TopP: 0.9, Seed: 12},
		{Temperature: 1, TopK: 3, TopP: 0.95, Seed: 13}, {Temperature: 0.7, Seed: 14}}
	S := len(opts)
	perSeq := (len(ref.InputIDs) + steps + bs - 1) / bs
	kv, err := model.NewKVBlocks(cfg, bs, S*perSeq)
	if err != nil {
		t.Fatal(err)
	}
	cr, err := cm.NewRagged(kv)
	if err != nil {
		t.Fatal(err)
	}
	gr, err := g.NewRagged(bs, S*perSeq)
	if err != nil {
		t.Fatal(err)
	}
	defer gr.Close()
	samplers := make([]*model.Sampler, S)
	rows := make([]SampleRow, S)
	seqs := make([]model.SeqStep, S)
	prompts := rotate(ref.InputIDs, S)
	for s, o := range opts {
		if samplers[s], err = model.NewSampler(o, cfg.VocabSize); err != nil {
			t.Fatal(err)
		}
		rows[s] = SampleRow{Opts: o, PCG: rand.NewPCG(o.Seed, o.Seed^model.PCGStream)}
		blocks := make([]int32, perSeq)
		for j := range blocks {
			blocks[j] = int32((j*S + s) % (S * perSeq)) // interleaved
		}
		seqs[s] = model.SeqStep{Tokens: prompts[s], Blocks: blocks, Logits: model.LogitsLast}
	}
	V := cfg.VocabSize
	logits := make([]float32, S*V)
	ids := make([]int32, S)
	for step := range steps + 1 {
		if err := cr.Step(ctx, seqs, logits); err != nil {
			t.Fatal(err)
		}
		if err := gr.StepSample(ctx, seqs, rows, ids); err != nil {
			t.Fatal(err)
		}
		for s := range S {
			want := samplers[s].Sample(logits[s*V : (s+1)*V])
			if ids[s] != want {
				t.Errorf("step %d sequence %d %+v: GPU drew %d, CPU %d", step, s, opts[s], ids[s], want)
			}
			seqs[s].Pos += len(seqs[s].Tokens)
			seqs[s].Tokens = []int32{want}
		}
	}
	// Bad rows: one stream for two rows, too few, a bad option, a sampled
	// row without a stream.
	shared := rand.NewPCG(1, 2)
	two := []SampleRow{{Opts: model.SampleOptions{Temperature: 1}, PCG: shared}, {Opts: model.SampleOptions{Temperature: 1}, PCG: shared}}
	if err := gr.StepSample(ctx, seqs[:2], two, make([]int32, 2)); err == nil {
		t.Error("two rows drawing from one stream: no error")
	} else {
		t.Logf("one stream twice: %v", err)
	}
	seqs = seqs[:1]
	for _, tc := range []struct {
		name string
		rows []SampleRow
	}{
		{"no rows", nil},
		{"temperature -1", []SampleRow{{Opts: model.SampleOptions{Temperature: -1}}}},
		{"no stream", []SampleRow{{Opts: model.SampleOptions{Temperature: 1}}}},
	} {
		if err := gr.StepSample(ctx, seqs, tc.rows, make([]int32, 1)); err == nil {
			t.Errorf("%s: no error", tc.name)
		} else {
			t.Logf("%s: %v", tc.name, err)
		}
	}
}
