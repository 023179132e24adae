package model

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gpt2bench/gpt2bench/tensor"
)

// raggedTol bounds |ragged - alone| on logits: the same float32 ops, but a
// row's linear layers may run in a kernel chosen for a different N.
const raggedTol = 1e-4

// TestRaggedMatchesAlone runs several sequences through mixed ragged steps
// (prompts in chunks beside decodes, every sequence at its own position,
// blocks scattered through a pool whose unused blocks hold NaN) and checks
// each sequence's logits against the same sequence run alone in a Session.
func TestRaggedMatchesAlone(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		bs   int
		kv   tensor.DType
	}{
		{"small/bs=4", small, 4, tensor.F32}, {"small/bs=1", small, 1, tensor.F32}, {"small/bs=24", small, 24, tensor.F32}, {"gpt2/bs=8", GPT2(), 8, tensor.F32},
		{"small/bs=4/kv=f16", small, 4, tensor.F16}, {"head64/bs=5/kv=f16", head64, 5, tensor.F16}, {"gpt2/bs=8/kv=f16", GPT2(), 8, tensor.F16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.cfg.NEmbd > 64 && testing.Short() {
				t.Skip("gpt2-sized ragged comparison skipped in -short mode")
			}
			cfg := tc.cfg
			m, _ := newTestModel(t, cfg, Options{Threads: 3, KVDType: tc.kv})
			V := cfg.VocabSize
			ctx := context.Background()
			// Sequence s has a prompt of lens[s] tokens and is fed in the
			// chunks of plans[s] (then one token per step).
			lens := []int{10, 5, 1, 17}
			plans := [][]int{{6, 4}, {5}, {1}, {3, 3, 3, 8}} // 8 rows: the fused attention with head size 64
			total := []int{14, 9, 12, 20}                    // positions each sequence reaches
			numBlocks := 0
			for _, n := range total {
				numBlocks += (n + tc.bs - 1) / tc.bs
			}
			numBlocks += 3 // spare blocks, never used
			kv, err := NewKVBlocksOf(cfg, tc.kv, tc.bs, numBlocks)
			if err != nil {
				t.Fatal(err)
			}
			for b := range numBlocks {
				kv.Fill(b, float32(math.NaN()))
			}
			perm := rand.New(rand.NewPCG(1, 2)).Perm(numBlocks)
			tables := make([][]int32, len(lens))
			next := 0
			for s, n := range total {
				for range (n + tc.bs - 1) / tc.bs {
					tables[s] = append(tables[s], int32(perm[next]))
					next++
				}
			}
			r, err := m.NewRagged(kv)
			if err != nil {
				t.Fatal(err)
			}
			toks := make([][]int32, len(lens))
			for s := range toks {
				toks[s] = tokensFor(cfg, total[s], s+3)
			}
			got := make([][]float32, len(lens)) // [s][pos*V] logits of every position
			pos := make([]int, len(lens))
			step := make([]int, len(lens))
			for iter := 0; ; iter++ {
				var seqs []SeqStep
				var who []int
				for s := range toks {
					if pos[s] >= total[s] {
						continue
					}
					n := 1
					if step[s] < len(plans[s]) {
						n = plans[s][step[s]]
					}
					seqs = append(seqs, SeqStep{Tokens: toks[s][pos[s] : pos[s]+n], Pos: pos[s], Blocks: tables[s], Logits: LogitsAll})
					who = append(who, s)
				}
				if len(seqs) == 0 {
					break
				}
				logits := make([]float32, LogitRowsOf(seqs)*V)
				if err := r.Step(ctx, seqs, logits); err != nil {
					t.Fatal(err)
				}
				off := 0
				for j, s := range who {
					n := len(seqs[j].Tokens)
					got[s] = append(got[s], logits[off:off+n*V]...)
					off += n * V
					pos[s] += n
					step[s]++
				}
			}
			for s := range toks {
				alone, _ := m.NewSession(1, 0)
				want := make([]float32, total[s]*V)
				if err := alone.Forward(ctx, [][]int32{toks[s]}, want); err != nil {
					t.Fatal(err)
				}
				// With a half cache, keys and values that differ in their last
				// float32 bits (computed by kernels for another N) can round
				// to neighbouring halves: a half cache's bound, not float32
				// reassociation's (observed: 1.1e-4 against 4.5e-6).
				tol := raggedTol
				if tc.kv == tensor.F16 {
					tol = kvF16Tol
				}
				t.Run(fmt.Sprintf("seq=%d", s), func(t *testing.T) { assertClose(t, got[s], want, tol) })
			}
		})
	}
}

// TestRaggedErrors checks that bad steps are refused before any work.
func TestRaggedErrors(t *testing.T) {
	m, _ := newTestModel(t, small, Options{})
	kv, _ := NewKVBlocks(small, 4, 8)
	r, _ := m.NewRagged(kv)
	V := small.VocabSize
	tests := []struct {
		name string
		seqs []SeqStep
		n    int
		want string
	}{
		{"none", nil, 0, "no sequences"},
		{"empty", []SeqStep{{Blocks: []int32{0}}}, 0, "no tokens"},
		{"table too short", []SeqStep{{Tokens: make([]int32, 5), Blocks: []int32{0}, Logits: LogitsLast}}, V, "needs 2 blocks"},
		{"bad block", []SeqStep{{Tokens: []int32{1}, Blocks: []int32{8}, Logits: LogitsLast}}, V, "the pool has 8"},
		{"bad token", []SeqStep{{Tokens: []int32{int32(V)}, Blocks: []int32{0}, Logits: LogitsLast}}, V, "outside the vocabulary"},
		{"past context", []SeqStep{{Tokens: []int32{1}, Pos: small.NPositions, Blocks: make([]int32, 8), Logits: LogitsLast}}, V, "context is"},
		{"logits length", []SeqStep{{Tokens: []int32{1, 2}, Blocks: []int32{0}, Logits: LogitsAll}}, V, "wants"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := r.Step(context.Background(), tc.seqs, make([]float32, tc.n))
			if err == nil || !contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestRaggedStepAllocs checks that a steady-state ragged step of decodes
// and a prompt chunk allocates nothing.
func TestRaggedStepAllocs(t *testing.T) {
	for _, dt := range []tensor.DType{tensor.F32, tensor.F16, tensor.Q8, tensor.Q4} {
		t.Run(dt.String(), func(t *testing.T) {
			cfg := small
			cfg.NInner = 64
			m, _ := newTestModel(t, cfg, Options{DType: dt, Threads: 2})
			kv, _ := NewKVBlocks(cfg, 4, 32)
			r, _ := m.NewRagged(kv)
			seqs := []SeqStep{
				{Tokens: []int32{1}, Pos: 3, Blocks: []int32{0, 1, 2}, Logits: LogitsLast},
				{Tokens: []int32{2}, Pos: 7, Blocks: []int32{3, 4, 5}, Logits: LogitsLast},
				{Tokens: []int32{1, 2, 3, 4, 5}, Pos: 2, Blocks: []int32{6, 7, 8}, Logits: LogitsLast},
			}
			logits := make([]float32, 3*cfg.VocabSize)
			ctx := context.Background()
			if err := r.Step(ctx, seqs, logits); err != nil {
				t.Fatal(err)
			}
			if a := testing.AllocsPerRun(10, func() {
				if err := r.Step(ctx, seqs, logits); err != nil {
					t.Fatal(err)
				}
			}); a != 0 {
				t.Fatalf("ragged step allocates %v times, want 0", a)
			}
		})
	}
}

func TestRaggedStepShape(t *testing.T) {
	seqs := []SeqStep{
		{Tokens: make([]int32, 1), Pos: 9, Logits: LogitsLast},
		{Tokens: make([]int32, 4), Pos: 2, Logits: LogitsNone},
		{Tokens: make([]int32, 3), Pos: 0, Logits: LogitsAll},
	}
	st := RaggedStepShape(seqs)
	want := Step{B: 3, Ragged: true, Rows: 8, Pairs: 10 + (4*2 + 10) + 6, Cached: 10 + 6 + 3, LogitRows: 4, Decodes: 1}
	if st != want {
		t.Fatalf("shape = %+v, want %+v", st, want)
	}
	// A lockstep step and the same step as ragged sequences cost the same.
	cfg := GPT2()
	lock := Step{B: 2, T: 5, Pos: 7}
	rag := RaggedStepShape([]SeqStep{{Tokens: make([]int32, 5), Pos: 7, Logits: LogitsLast}, {Tokens: make([]int32, 5), Pos: 7, Logits: LogitsLast}})
	for op := range NumOps {
		f1, b1 := OpCost(cfg, op, lock, 4)
		f2, b2 := OpCost(cfg, op, rag, 4)
		if f1 != f2 || b1 != b2 {
			t.Errorf("%v: lockstep %g FLOPs %g bytes, ragged %g, %g", op, f1, b1, f2, b2)
		}
	}
}

// opCounter is a Tracer that only counts the attention ops it is told of.
type opCounter struct{ attn int }

func (c *opCounter) BeginStep(Step) {}
func (c *opCounter) BeginOp(_ int, op Op) {
	if op == OpAttnScores || op == OpAttnSoftmax || op == OpAttnValues {
		c.attn++
	}
}
func (c *opCounter) EndOp(int, Op) {}
func (c *opCounter) EndStep()      {}

// TestRaggedTracedSame checks that a step's logits are bit-identical with
// and without a Tracer: untraced, attention runs its three stages in one
// pass per (row, head); traced, in three passes that the tracer times.
func TestRaggedTracedSame(t *testing.T) {
	for _, kvt := range []tensor.DType{tensor.F32, tensor.F16} {
		t.Run(fmt.Sprintf("kv=%v", kvt), func(t *testing.T) {
			cfg := small
			m, _ := newTestModel(t, cfg, Options{Threads: 2, KVDType: kvt})
			V := cfg.VocabSize
			lens := []int{9, 3, 14} // prompt lengths; then 5 decodes each
			run := func(tr Tracer) []float32 {
				kv, err := NewKVBlocksOf(cfg, kvt, 4, 16)
				if err != nil {
					t.Fatal(err)
				}
				r, err := m.NewRagged(kv)
				if err != nil {
					t.Fatal(err)
				}
				if tr != nil {
					r.SetTracer(tr)
				}
				tables := [][]int32{{0, 1, 2, 3}, {4, 5}, {6, 7, 8, 9, 10}}
				var all []float32
				pos := make([]int, len(lens))
				for step := range 6 {
					var seqs []SeqStep
					for s, n := range lens {
						toks := tokensFor(cfg, n+5, s+1)
						k := 1
						if step == 0 {
							k = n
						}
						seqs = append(seqs, SeqStep{Tokens: toks[pos[s] : pos[s]+k], Pos: pos[s], Blocks: tables[s], Logits: LogitsAll})
						pos[s] += k
					}
					logits := make([]float32, LogitRowsOf(seqs)*V)
					if err := r.Step(context.Background(), seqs, logits); err != nil {
						t.Fatal(err)
					}
					all = append(all, logits...)
				}
				return all
			}
			var c opCounter
			plain, traced := run(nil), run(&c)
			if c.attn != 6*3*cfg.NLayer {
				t.Errorf("tracer saw %d attention ops, want %d (3 per layer per step)", c.attn, 6*3*cfg.NLayer)
			}
			for i := range plain {
				if math.Float32bits(plain[i]) != math.Float32bits(traced[i]) {
					t.Fatalf("logit %d: %v untraced, %v traced", i, plain[i], traced[i])
				}
			}
		})
	}
}
