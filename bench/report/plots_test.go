package report

import (
	"bytes"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// plotDir keeps the plots for inspection when set (REPORT_PLOT_DIR=/tmp/x go test -run Plots).
var plotDir = os.Getenv("REPORT_PLOT_DIR")

func TestWritePlots(t *testing.T) {
	r := readGolden(t)
	dir := plotDir
	if dir == "" {
		dir = t.TempDir()
	}
	paths, err := WritePlots(dir, r, []string{FormatPNG, FormatSVG})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ttft_vs_input", "tpot_vs_input", "decode_vs_batch", "decode_vs_concurrency", "ttft_cdf", "itl_cdf",
		"profile_prefill", "profile_decode", "roofline", "memory"}
	if len(paths) != 2*len(want) {
		t.Fatalf("wrote %d files, want %d: %v", len(paths), 2*len(want), paths)
	}
	for i, name := range want {
		for j, ext := range []string{".png", ".svg"} {
			got := paths[2*i+j]
			if filepath.Base(got) != name+ext {
				t.Errorf("path %d = %s, want %s", 2*i+j, filepath.Base(got), name+ext)
				continue
			}
			data, err := os.ReadFile(got)
			if err != nil {
				t.Fatal(err)
			}
			switch ext {
			case ".png":
				if _, err := png.Decode(bytes.NewReader(data)); err != nil {
					t.Errorf("%s: %v", got, err)
				}
			case ".svg":
				if !strings.Contains(string(data), "<svg") {
					t.Errorf("%s is not SVG", got)
				}
			}
		}
	}
}

func TestWritePlotsSparse(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Report)
		want int
	}{
		{"empty report", func(r *Report) { *r = Report{ModelName: "gpt2"} }, 0},
		{"no profile", func(r *Report) { r.Profile = nil }, 7},
		{"one latency sample", func(r *Report) {
			r.Latency = r.Latency[:1]
			r.Latency[0].TTFT = Summarize([]float64{12})
			r.Latency[0].ITL = Summarize(nil)
		}, 9},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := fakeReport(1, 1)
			tc.edit(r)
			paths, err := WritePlots(t.TempDir(), r, []string{FormatPNG})
			if err != nil {
				t.Fatal(err)
			}
			if len(paths) != tc.want {
				t.Errorf("wrote %d plots, want %d: %v", len(paths), tc.want, paths)
			}
		})
	}
	t.Run("bad format", func(t *testing.T) {
		if _, err := WritePlots(t.TempDir(), fakeReport(1, 1), []string{"gif"}); err == nil || !strings.Contains(err.Error(), "use png or svg") {
			t.Errorf("err = %v", err)
		}
	})
}

// TestOpColorsDistinct checks every op of a GPT-2 profile gets its own
// colour, the same in every plot, and that no two are hard to tell apart
// (as residual_2 and logits were with 8 colours for 15 ops).
func TestOpColorsDistinct(t *testing.T) {
	colors := opColors(append(slices.Clone(opOrder), "custom_op"))
	seen := map[color.RGBA]string{}
	for op, c := range colors {
		if other, ok := seen[c]; ok {
			t.Errorf("%s and %s share colour %v", op, other, c)
		}
		seen[c] = op
	}
	for i, a := range palette {
		for _, b := range palette[i+1:] {
			dr, dg, db := float64(a.R)-float64(b.R), float64(a.G)-float64(b.G), float64(a.B)-float64(b.B)
			if d := math.Sqrt(dr*dr + dg*dg + db*db); d < 40 {
				t.Errorf("palette colours %v and %v are %.0f apart in RGB, too close to tell apart", a, b, d)
			}
		}
	}
	if reversed := opColors([]string{"logits", "qkv"}); reversed["qkv"] != colors["qkv"] || reversed["logits"] != colors["logits"] {
		t.Error("an op's colour depends on the order the ops come in")
	}
	// Ops not in opOrder (an older report's names beside current ones)
	// take colours no op of the plot has: lm_head and qkv, mlp_proj and
	// ln_1 shared one in the golden report's profile plot.
	mixed := opColors([]string{"embedding", "ln_1", "qkv", "attention", "attn_proj", "ln_2", "mlp_fc", "gelu", "mlp_proj", "ln_f", "lm_head"})
	seen = map[color.RGBA]string{}
	for op, c := range mixed {
		if other, ok := seen[c]; ok {
			t.Errorf("%s and %s share colour %v in one plot", op, other, c)
		}
		seen[c] = op
	}
	if mixed["qkv"] != colors["qkv"] || mixed["gelu"] != colors["gelu"] {
		t.Error("a known op changed colour beside unknown ones")
	}
	if other := opColors([]string{"lm_head", "mlp_fc", "mlp_proj", "qkv", "attn_proj", "attention", "gelu", "ln_1", "ln_2", "embedding", "ln_f"}); other["lm_head"] != mixed["lm_head"] || other["attention"] != mixed["attention"] {
		t.Error("an unknown op's colour depends on the order the ops come in (profile and roofline plots differ)")
	}
}

// TestNiceTicks checks value axes get about five labelled ticks (the TTFT
// plot labelled only 0 and 250).
func TestNiceTicks(t *testing.T) {
	for _, tc := range []struct{ min, max float64 }{{0, 262}, {0, 1}, {0, 83}, {17, 23}, {0, 0.004}, {0, 12000}} {
		var labels []string
		for _, tk := range (niceTicks{}).Ticks(tc.min, tc.max) {
			if tk.Label != "" {
				labels = append(labels, tk.Label)
			}
		}
		if len(labels) < 4 || len(labels) > 11 {
			t.Errorf("[%g, %g]: labels %v, want 4 to 11", tc.min, tc.max, labels)
		}
		for _, l := range labels {
			if len(l) > 8 {
				t.Errorf("[%g, %g]: label %q is not a short decimal", tc.min, tc.max, l)
			}
		}
	}
}
