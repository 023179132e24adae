package inspect

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"math"
	"slices"
	"testing"

	"github.com/gpt2bench/gpt2bench/internal/reference"
	"github.com/gpt2bench/gpt2bench/model"
	"github.com/gpt2bench/gpt2bench/weights"
)

const fixture = "../testdata/tiny-gpt2"

// backends returns the fixture on every inspectable backend, batch 1.
func backends(t *testing.T) []model.Inspectable {
	t.Helper()
	w, err := weights.Load(context.Background(), fixture, weights.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.New(w.Config, w.Params, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	cpu, err := m.NewSession(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	g, err := model.NewGonum(w.Config, w.Params)
	if err != nil {
		t.Fatal(err)
	}
	gn, err := g.NewSession(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	r, err := model.NewRef(w.Config, w.Params)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := r.NewSession(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	return []model.Inspectable{cpu, gn, ref}
}

func prompt(t *testing.T) []int32 {
	t.Helper()
	r, err := reference.Read(fixture + "/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	return r.InputIDs
}

func ids(gs []Guess) []int32 {
	out := make([]int32, len(gs))
	for i, g := range gs {
		out[i] = g.ID
	}
	return out
}

func TestRun(t *testing.T) {
	p := prompt(t)
	T := len(p)
	for _, be := range backends(t) {
		t.Run(be.Name(), func(t *testing.T) {
			r, err := Run(context.Background(), be, p, Options{TopK: 7})
			if err != nil {
				t.Fatal(err)
			}
			cfg := be.Config()
			if len(r.Stages) != cfg.NLayer+1 || r.Stages[0].Layer != -1 || r.Stages[0].Attention != nil {
				t.Fatalf("%d stages (first layer %d), want embeddings + %d blocks", len(r.Stages), r.Stages[0].Layer, cfg.NLayer)
			}
			// The lens after the last block is the model's own prediction.
			last := r.Stages[cfg.NLayer]
			for pos := range T {
				if got, want := ids(last.Lens[pos]), ids(r.Logits[pos]); !slices.Equal(got, want) {
					t.Errorf("position %d: logit lens after the last block %v, model's top-k %v", pos, got, want)
				}
				if len(last.Lens[pos]) != 7 {
					t.Fatalf("top-k has %d entries, want 7", len(last.Lens[pos]))
				}
			}
			// The model's greedy choice after the prompt is the fixture's.
			ref, _ := reference.Read(fixture + "/reference.json")
			if got := r.Logits[T-1][0].ID; got != ref.GreedyContinuation[0] {
				t.Errorf("model's top-1 after the prompt %d, transformers' greedy %d", got, ref.GreedyContinuation[0])
			}
			for _, st := range r.Stages[1:] {
				if len(st.Attention) != cfg.NHead {
					t.Fatalf("block %d: %d heads of attention, want %d", st.Layer, len(st.Attention), cfg.NHead)
				}
				for h, a := range st.Attention {
					for q, row := range a {
						var sum float64
						for k, v := range row {
							if k > q && v != 0 {
								t.Fatalf("block %d head %d: position %d attends to the future %d (%g)", st.Layer, h, q, k, v)
							}
							sum += v
						}
						if math.Abs(sum-1) > 1e-5 {
							t.Fatalf("block %d head %d row %d sums to %g, want 1", st.Layer, h, q, sum)
						}
					}
				}
				for pos, n := range st.Norm {
					if !(n > 0) {
						t.Errorf("block %d position %d: residual norm %g", st.Layer, pos, n)
					}
				}
			}

			var js, pic bytes.Buffer
			if err := r.WriteJSON(&js); err != nil {
				t.Fatal(err)
			}
			var back Result
			if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Stages) != len(r.Stages) || len(back.Stages[1].Attention[0]) != T {
				t.Fatalf("JSON does not read back: %v", err)
			}
			if err := r.WriteAttentionPNG(&pic); err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(&pic)
			if err != nil {
				t.Fatal(err)
			}
			cell := T * max(1, maxCell/T)
			if b := img.Bounds(); b.Dy() != titleH+topLabel+cfg.NLayer*(cell+gap) || b.Dx() < leftLabel+cfg.NHead*(cell+gap) {
				t.Errorf("PNG is %v, want a grid of %d×%d cells of %d px", b, cfg.NLayer, cfg.NHead, cell)
			}
			var text bytes.Buffer
			if err := r.WriteText(&text); err != nil || !bytes.Contains(text.Bytes(), []byte("block 1")) {
				t.Errorf("text: %v\n%s", err, text.String())
			}
		})
	}
}

func TestRunRefuses(t *testing.T) {
	be := backends(t)[0]
	for name, p := range map[string][]int32{
		"empty":    nil,
		"too long": make([]int32, MaxTokens+1),
	} {
		if _, err := Run(context.Background(), be, p, Options{}); err == nil {
			t.Errorf("%s prompt accepted", name)
		}
	}
	if _, err := Run(context.Background(), be, []int32{1}, Options{TopK: -1}); err == nil {
		t.Error("top-k -1 accepted")
	}
}

func TestTopK(t *testing.T) {
	row := []float64{0.5, 3, -1, 3, 2}
	got := topK(row, 3, nil)
	if want := []int32{1, 3, 4}; !slices.Equal(ids(got), want) {
		t.Fatalf("topK = %v, want %v (ties: lower id first)", ids(got), want)
	}
	var sum float64
	for _, v := range row {
		sum += math.Exp(v - 3)
	}
	if p := got[0].Prob; math.Abs(p-1/sum) > 1e-12 {
		t.Errorf("probability %g, want %g", p, 1/sum)
	}
}
