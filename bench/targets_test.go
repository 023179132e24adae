package bench

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gpt2bench/gpt2bench/bench/report"
)

func TestLoadTargets(t *testing.T) {
	tests := []struct {
		file  string
		n     int
		paths []string
	}{
		{"targets.yaml", 4, []string{"latency.ttft_ms.p95", "latency.decode_tokens_per_s.mean", "throughput.output_tokens_per_s", "memory.allocs_per_token"}},
		{"targets.json", 2, []string{"latency.ttft_ms.p95", "throughput.requests_per_s"}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			ts, err := LoadTargets(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(ts) != tc.n {
				t.Fatalf("got %d targets, want %d", len(ts), tc.n)
			}
			for i, p := range tc.paths {
				if ts[i].path() != p {
					t.Errorf("target %d resolves to %s, want %s", i+1, ts[i].path(), p)
				}
			}
		})
	}
}

func TestParseTargetsErrors(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"empty", "", "empty file"},
		{"no targets", "targets: []", "no targets"},
		{"bad yaml", "targets: [", "parse YAML"},
		{"bad json", `{"targets": [}`, "parse JSON"},
		{"unknown key", "- metric: ttft_ms\n  comparison: <\n  threshold: 1\n  treshold: 2", "field treshold not found"},
		{"unknown json key", `[{"metric": "ttft_ms", "comparison": "<", "threshold": 1, "thresh": 2}]`, "unknown field"},
		{"unknown metric", "- {metric: speed, comparison: <, threshold: 1}", `unknown metric "speed"`},
		{"unknown stat", "- {metric: ttft_ms.p42, comparison: <, threshold: 1}", `unknown statistic "p42"`},
		{"stat on a number", "- {metric: throughput.requests_per_s.p50, comparison: <, threshold: 1}", "is a number, not a summary"},
		{"ambiguous", "- {metric: gc_cycles, comparison: <, threshold: 1}", "in several sections"},
		{"bad comparison", "- {metric: ttft_ms, comparison: '=', threshold: 1}", `comparison "="`},
		{"no threshold", "- {metric: ttft_ms, comparison: <}", "no threshold"},
		{"no metric", "- {comparison: <, threshold: 1}", "no metric"},
		{"mode on latency", "- {metric: ttft_ms, comparison: <, threshold: 1, mode: batched}", "mode only applies to throughput"},
		{"bad mode", "- {metric: throughput.failed, comparison: <, threshold: 1, mode: fast}", `mode "fast"`},
		{"threshold not a number", "- {metric: ttft_ms, comparison: <, threshold: fast}", "parse YAML"},
		{"threshold NaN", "- {metric: ttft_ms, comparison: <, threshold: .nan}", "threshold NaN, want a finite number"},
		{"threshold Inf", "- {metric: ttft_ms, comparison: <, threshold: .inf}", "threshold +Inf, want a finite number"},
		{"threshold -Inf", "- {metric: ttft_ms, comparison: <, threshold: -.inf}", "threshold -Inf, want a finite number"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseTargets([]byte(tc.doc), false)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseTargets: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestEvaluateTargets(t *testing.T) {
	r := &report.Report{
		Latency: []report.Latency{
			{InputLen: 32, TTFT: report.Summarize([]float64{100, 200, 300}), DecodeTokensPerS: report.Summarize([]float64{30})},
			{InputLen: 128, TTFT: report.Summarize([]float64{1000, 3000}), DecodeTokensPerS: report.Summarize([]float64{10})},
		},
		Throughput: []report.Throughput{
			{Mode: report.ModeBatched, Concurrency: 1, BatchSize: 4, OutputTokensPerS: 50, Latency: report.Summarize(nil)},
			{Mode: report.ModeContinuous, Concurrency: 4, BatchSize: 1, OutputTokensPerS: 70, Latency: report.Summarize(nil)},
		},
	}
	ts, err := ParseTargets([]byte(`
- {metric: ttft_ms.p50, comparison: <, threshold: 2000}
- {metric: decode_tokens_per_s, comparison: '>', threshold: 20, input_len: 128}
- {metric: throughput.output_tokens_per_s, comparison: '>=', threshold: 50, batch_size: 4}
- {metric: memory.inference_peak_rss_bytes, comparison: <, threshold: 1e9}
- {metric: throughput.output_tokens_per_s, comparison: '>', threshold: 60, mode: continuous}
`), false)
	if err != nil {
		t.Fatal(err)
	}
	got := EvaluateTargets(r, ts)
	want := []struct {
		metric string
		value  float64
		pass   bool
	}{
		{"latency[input_len=32].ttft_ms.p50", 200, true},
		{"latency[input_len=128].ttft_ms.p50", 2000, false}, // 2000 < 2000 is false
		{"latency[input_len=128].decode_tokens_per_s.mean", 10, false},
		{"throughput[mode=batched,concurrency=1,batch_size=4].output_tokens_per_s", 50, true},
		{"memory.inference_peak_rss_bytes", 0, false}, // not measured: fails
		{"throughput[mode=continuous,concurrency=4,batch_size=1].output_tokens_per_s", 70, true},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d results, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Metric != w.metric || g.Value != w.value || g.Pass != w.pass {
			t.Errorf("result %d = %s %v pass=%v, want %s %v pass=%v", i, g.Metric, g.Value, g.Pass, w.metric, w.value, w.pass)
		}
	}
	if !strings.Contains(got[4].Name, "no measurement") || got[0].Unit != "ms" || got[2].Unit != "tok/s" {
		t.Errorf("names/units: %q %q %q", got[4].Name, got[0].Unit, got[2].Unit)
	}
	if Failed(got) != 3 {
		t.Errorf("Failed = %d, want 3", Failed(got))
	}
}

func FuzzParseTargets(f *testing.F) {
	for _, name := range []string{"targets.yaml", "targets.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, strings.HasSuffix(name, ".json"))
	}
	f.Add([]byte("- {metric: ttft_ms, comparison: <, threshold: 1}"), false)
	f.Fuzz(func(t *testing.T, data []byte, isJSON bool) {
		ts, err := ParseTargets(data, isJSON)
		if err != nil {
			return
		}
		EvaluateTargets(&report.Report{}, ts) // must not panic
	})
}

// TestEvaluateTargetsNaN checks that a report entry JSON cannot hold (a NaN
// field) fails its targets instead of panicking.
func TestEvaluateTargetsNaN(t *testing.T) {
	r := &report.Report{Throughput: []report.Throughput{{Mode: report.ModeSingle, Concurrency: 1, BatchSize: 1, OutputTokensPerS: math.NaN(), Latency: report.Summarize(nil)}}}
	ts, err := ParseTargets([]byte(`- {metric: throughput.output_tokens_per_s, comparison: '>', threshold: 1}`), false)
	if err != nil {
		t.Fatal(err)
	}
	got := EvaluateTargets(r, ts)
	if len(got) != 1 || got[0].Pass || !strings.Contains(got[0].Name, "invalid report") {
		t.Errorf("EvaluateTargets = %+v, want one failed result naming the invalid report", got)
	}
}
