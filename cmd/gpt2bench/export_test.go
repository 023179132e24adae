package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gpt2bench/gpt2bench/internal/reference"
	"github.com/gpt2bench/gpt2bench/model"
	"github.com/gpt2bench/gpt2bench/weights"
)

// referenceFor computes a gpt2-reference/v1 file with the float64
// reference pass: logits and norms of prompt, then greedy tokens.
func referenceFor(t *testing.T, cfg model.Config, p *model.Params, prompt []int32, greedy int) []byte {
	t.Helper()
	logits, norms, err := model.Reference(cfg, p, prompt)
	if err != nil {
		t.Fatal(err)
	}
	ref := reference.Reference{
		Format:           reference.Format,
		Config:           reference.Config{VocabSize: cfg.VocabSize, NPositions: cfg.NPositions, NEmbd: cfg.NEmbd, NLayer: cfg.NLayer, NHead: cfg.NHead, LayerNormEps: float64(cfg.LayerNormEps), Activation: cfg.Activation},
		WeightsDType:     "float32",
		InputIDs:         prompt,
		HiddenStateNorms: norms,
		Producer:         "model.Reference (float64)",
	}
	for i := range len(prompt) {
		row := make([]float32, cfg.VocabSize)
		for j := range row {
			row[j] = float32(logits.At(i, j))
		}
		ref.Logits = append(ref.Logits, row)
	}
	seq := append([]int32(nil), prompt...)
	for range greedy {
		l, _, err := model.Reference(cfg, p, seq)
		if err != nil {
			t.Fatal(err)
		}
		r, _ := l.Dims()
		last := l.RawRowView(r - 1)
		best := 0
		for j, v := range last {
			if v > last[best] {
				best = j
			}
		}
		ref.GreedyContinuation = append(ref.GreedyContinuation, int32(best))
		seq = append(seq, int32(best))
	}
	data, err := json.Marshal(ref)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestVerifyOtherShapes runs verify on checkpoints of shapes the fixtures
// do not have (layers, heads, widths, vocabularies, MLP widths, erf GELU),
// with prompts that fill the context, against the float64 reference pass.
func TestVerifyOtherShapes(t *testing.T) {
	tests := []struct {
		cfg            model.Config
		prompt, greedy int
	}{
		{model.Config{VocabSize: 77, NPositions: 20, NEmbd: 48, NLayer: 3, NHead: 6, LayerNormEps: 1e-5, Activation: "gelu_new"}, 15, 5},
		{model.Config{VocabSize: 301, NPositions: 40, NEmbd: 96, NLayer: 1, NHead: 3, NInner: 100, LayerNormEps: 1e-5, Activation: "gelu"}, 39, 2},
		{model.Config{VocabSize: 50, NPositions: 8, NEmbd: 16, NLayer: 5, NHead: 1, LayerNormEps: 1e-6, Activation: "gelu_new"}, 1, 8},
	}
	for _, tc := range tests {
		c := tc.cfg
		t.Run(fmt.Sprintf("L=%d/NH=%d/C=%d/V=%d/T=%d", c.NLayer, c.NHead, c.NEmbd, c.VocabSize, tc.prompt), func(t *testing.T) {
			p, err := model.RandomParams(c, 5)
			if err != nil {
				t.Fatal(err)
			}
			// Weights drawn like the fixtures' (matrices N(0, 0.25), layer-norm
			// gains in [0.5, 1.5), biases of order 0.1) so that every
			// parameter matters, where the init's would leave biases at 0.
			for i, s := range p.Shapes(c) {
				for j := range *s.Ptr {
					v := &(*s.Ptr)[j]
					switch {
					case len(s.Shape) == 2:
						*v *= 12.5
					case strings.HasSuffix(s.Name, ".weight"):
						*v = 0.5 + float32((i*7+j)%10)/10
					default:
						*v = float32((i*7+j)%5-2) * 0.05
					}
				}
			}
			dir := filepath.Join(t.TempDir(), "model")
			if err := weights.Save(context.Background(), dir, c, p); err != nil {
				t.Fatal(err)
			}
			prompt := make([]int32, tc.prompt)
			for i := range prompt {
				prompt[i] = int32((i*13 + 3) % c.VocabSize)
			}
			ref := filepath.Join(t.TempDir(), "ref.json")
			if err := os.WriteFile(ref, referenceFor(t, c, p, prompt, tc.greedy), 0o644); err != nil {
				t.Fatal(err)
			}
			code, out, errs := runCLI(t, "verify", "--model", dir, "--reference", ref)
			if code != exitOK || !strings.Contains(out, "PASS") {
				t.Fatalf("exit %d\n%s\n%s", code, out, errs)
			}
			t.Logf("%s", strings.SplitN(out, "\n", 3)[1])
		})
	}
}

func TestExport(t *testing.T) {
	out := filepath.Join(t.TempDir(), "tiny")
	code, stdout, errs := runCLI(t, "export", "--model", filepath.Join(tinyDir, "pytorch_model_legacy.bin"), "--config", filepath.Join(tinyDir, "config.json"), "--out", out)
	if code != exitOK || !strings.Contains(stdout, "wrote "+out) {
		t.Fatalf("export: exit %d, %q, %q", code, stdout, errs)
	}
	// The converted directory still matches transformers.
	if code, out, errs := runCLI(t, "verify", "--model", out, "--reference", tinyRef); code != exitOK {
		t.Fatalf("verify the export: exit %d\n%s\n%s", code, out, errs)
	}
	if code, _, errs := runCLI(t, "export", "--model", tinyDir, "--out", out); code != exitFailure || !strings.Contains(errs, "exists") {
		t.Fatalf("export over an existing model: exit %d, %q; want 1 and a refusal", code, errs)
	}
	if code, _, _ := runCLI(t, "export"); code != exitUsage {
		t.Fatalf("export without --out: exit %d, want 2", code)
	}
}

// TestExportKeepsRandomLabel: a model of random weights exported (and
// exported again) reloads labelled RANDOM (issue 17: the label was lost).
// The embedded default is 500 MB, so a tiny random model stands in for it.
func TestExportKeepsRandomLabel(t *testing.T) {
	cfg := model.Config{VocabSize: 1024, NPositions: 64, NEmbd: 64, NLayer: 2, NHead: 4, LayerNormEps: 1e-5, Activation: "gelu_new"}
	p, err := model.RandomParams(cfg, 7)
	if err != nil {
		t.Fatal(err)
	}
	first := filepath.Join(t.TempDir(), "first")
	if err := weights.SaveModel(context.Background(), first, &weights.Model{Name: "default", Format: "embedded", Config: cfg, Params: p, Random: true}); err != nil {
		t.Fatal(err)
	}
	second := filepath.Join(t.TempDir(), "second")
	code, stdout, errs := runCLI(t, "export", "--model", first, "--out", second)
	if code != exitOK || !strings.Contains(stdout, "RANDOM weights") {
		t.Fatalf("export: exit %d, %q, %q", code, stdout, errs)
	}
	code, stdout, errs = runCLI(t, "generate", "--model", second, "--prompt-ids", "1,2", "-n", "2", "--ids")
	if code != exitOK || !strings.Contains(stdout+errs, "RANDOM weights, as marked by gpt2bench export") {
		t.Fatalf("generate on the export: exit %d, stdout %q, stderr %q; want the RANDOM label", code, stdout, errs)
	}
	// Real weights exported stay unlabelled.
	plain := filepath.Join(t.TempDir(), "real")
	if code, stdout, errs := runCLI(t, "export", "--model", tinyDir, "--out", plain); code != exitOK || strings.Contains(stdout, "RANDOM") {
		t.Fatalf("export of real weights: exit %d, %q, %q", code, stdout, errs)
	}
	if _, stdout, errs := runCLI(t, "generate", "--model", plain, "--prompt-ids", "1,2", "-n", "2", "--ids"); strings.Contains(stdout+errs, "RANDOM") {
		t.Errorf("real weights labelled RANDOM: %q %q", stdout, errs)
	}
}
