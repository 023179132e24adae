package report

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
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
