package report

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeSoakReport is a soak report of 120 s with samples every 2 s, windows
// of 10 s, a leak in goroutines and a fault of every kind.
func fakeSoakReport(seed uint64) *Report {
	rng := rand.New(rand.NewPCG(seed, 11))
	r := fakeReport(seed, 1)
	r.SchemaVersion = "1.4" // the version that added soak; fixed so the goldens do not follow later minors
	r.ReportName = "gpt2_20260128_190000"
	r.Timestamp = time.Date(2026, 1, 28, 19, 0, 0, 0, time.UTC)
	r.Latency, r.Memory, r.Throughput, r.Profile, r.Quality, r.Targets, r.Skipped = nil, nil, nil, nil, nil, nil, nil
	r.Metadata = Metadata{Device: "cpu", Warmup: 0, Runs: 1, Seed: 1,
		CommandLine: []string{"gpt2bench", "soak", "--duration", "2m", "--concurrency", "4"}}
	s := &Soak{
		Target: "in-process", URL: "http://127.0.0.1:40000/v1", PID: 4242, Sources: []string{"runtime", "/proc/self"},
		Workload: LoadWorkload{Source: "random", PromptFormat: "token_ids", InputLenMin: 16, InputLenMax: 16,
			OutputLenMin: 16, OutputLenMax: 16, IgnoreEOS: true, Seed: 1},
		Arrival: ArrivalPoisson, Concurrency: 8, RequestRate: 20, DurationS: 120, ElapsedS: 120, WarmupS: 20,
		SampleIntervalS: 2, WindowS: 10, RecordsFile: "gpt2_20260128_190000.requests.jsonl",
	}
	res := map[string]*SoakSeries{}
	s.Resources = []SoakSeries{{Name: "rss", Unit: "bytes"}, {Name: "heap_inuse", Unit: "bytes"}, {Name: "heap_live", Unit: "bytes"},
		{Name: "goroutines", Unit: "count"}, {Name: "open_fds", Unit: "count"}, {Name: "kv_blocks_used", Unit: "count"},
		{Name: "prefix_cache_blocks", Unit: "count"}, {Name: "gc_cycles", Unit: "count", Cumulative: true}, {Name: "gc_pause_ms", Unit: "ms", Cumulative: true}}
	for i := range s.Resources {
		res[s.Resources[i].Name] = &s.Resources[i]
	}
	for i := 0; i <= 60; i++ {
		t := float64(2 * i)
		s.SampleTimesS = append(s.SampleTimesS, t)
		s.InFault = append(s.InFault, i%15 == 7)
		res["rss"].Values = append(res["rss"].Values, 80<<20+float64(rng.IntN(1<<20)))
		res["heap_inuse"].Values = append(res["heap_inuse"].Values, 30<<20+float64(rng.IntN(4<<20)))
		res["heap_live"].Values = append(res["heap_live"].Values, 20<<20+float64(rng.IntN(1<<20)))
		res["goroutines"].Values = append(res["goroutines"].Values, 30+20*t+float64(rng.IntN(5)))
		res["open_fds"].Values = append(res["open_fds"].Values, 20+float64(rng.IntN(3)))
		res["kv_blocks_used"].Values = append(res["kv_blocks_used"].Values, float64(rng.IntN(16)))
		res["prefix_cache_blocks"].Values = append(res["prefix_cache_blocks"].Values, 40)
		res["gc_cycles"].Values = append(res["gc_cycles"].Values, 3*t)
		res["gc_pause_ms"].Values = append(res["gc_pause_ms"].Values, 0.2*t)
	}
	for w := 0; w < 12; w++ {
		n := 190 + rng.IntN(20)
		pc := func(base float64) Percentiles { return Percentiles{N: n, P50: base, P90: base * 1.3, P99: base * 1.8} }
		s.Windows = append(s.Windows, SoakWindow{StartS: float64(10 * w), EndS: float64(10*w + 10), Requests: n, Failed: w % 5 / 4,
			RequestsPerS: float64(n) / 10, OutputTokensPerS: float64(16*n) / 10, TTFT: pc(4 + rng.Float64()), ITL: pc(1.5), E2E: pc(28)})
		s.Requests += n
	}
	s.Failed = 3
	kinds := []string{FaultDisconnect, FaultMalformed, FaultOverContext, FaultBurst, FaultRestart}
	for i, k := range kinds {
		f := SoakFault{Kind: k, StartS: float64(25 + 18*i), EndS: float64(26 + 18*i), Sent: 4, Outcomes: map[string]int{"http_400": 4},
			Expected: "every request 400 with an error body", RecoveredS: 1.5, Pass: true}
		if k == FaultBurst {
			f.Outcomes = map[string]int{"ok": 40, "http_429": 24}
			f.Expected, f.Sent = "each request completes or gets 429", 64
		}
		if k == FaultRestart {
			f.Pass, f.RecoveredS, f.Detail = false, -1, "goroutines 412 after 30 s, 60 before"
		}
		s.Faults = append(s.Faults, f)
	}
	s.Leaks = []SoakLeak{
		{Resource: "goroutines", Unit: "count", N: 45, NEff: 30.2, SlopePerHour: 72000, CILowPerHour: 70100, CIHighPerHour: 73900,
			ThresholdPerHour: 60, First: 430, Last: 2390, MinGrowth: 16, Verdict: VerdictLeak},
		{Resource: "heap_live", Unit: "bytes", N: 45, NEff: 12.5, SlopePerHour: 1 << 20, CILowPerHour: -(8 << 20), CIHighPerHour: 10 << 20,
			ThresholdPerHour: 16 << 20, First: 20 << 20, Last: 20<<20 + 1<<15, Verdict: VerdictPass},
		{Resource: "open_fds", Unit: "count", N: 3, Verdict: VerdictInsufficient},
	}
	s.Drift = []SoakDrift{
		{Metric: "ttft_ms", FirstN: 400, LastN: 410, FirstP50: 4.4, LastP50: 4.6, Ratio: 1.045, P: 0.21, Alpha: 0.01, Threshold: 0.25, MinDeltaMs: 1, Verdict: VerdictPass},
		{Metric: "e2e_ms", FirstN: 400, LastN: 410, FirstP50: 28, LastP50: 41, Ratio: 1.46, P: 1e-9, Alpha: 0.01, Threshold: 0.25, Verdict: VerdictDrift},
	}
	s.ErrorBudget = SoakErrorBudget{Requests: s.Requests, Failed: 1, FailedDuringFaults: 2, ByClass: map[string]int{"broken_stream": 1},
		Budget: 0.001, Used: 1 / float64(s.Requests), Verdict: VerdictPass}
	s.Failures = []string{"leak: goroutines grow 72000 per hour", "drift: e2e_ms p50 4.6 -> 41 ms", "fault restart at 97 s: not recovered"}
	r.Soak = s
	return r
}

func TestSoakReportValidates(t *testing.T) {
	r := fakeSoakReport(1)
	data, err := Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(data); err != nil {
		t.Fatal(err)
	}
	back, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if back.Soak == nil || len(back.Soak.Resources) != 9 || len(back.Soak.Faults) != 5 || back.Soak.Leaks[0].Verdict != VerdictLeak {
		t.Fatalf("round trip lost the soak section: %+v", back.Soak)
	}
	// a reader of 1.3 (without soak) reads this report, ignoring the section
	if err := Validate(bytes.Replace(data, []byte(`"schema_version": "1.4"`), []byte(`"schema_version": "1.3"`), 1)); err != nil {
		t.Error(err)
	}
}

func TestSoakRender(t *testing.T) {
	r := fakeSoakReport(1)
	for _, tc := range []struct {
		name  string
		write func(*bytes.Buffer, *Report) error
	}{
		{"markdown", func(b *bytes.Buffer, r *Report) error { return WriteMarkdown(b, r) }},
		{"table", func(b *bytes.Buffer, r *Report) error { return WriteTable(b, r) }},
		{"html", func(b *bytes.Buffer, r *Report) error { return WriteHTML(b, r) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tc.write(&buf, r); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			for _, want := range []string{"FAIL (3)", "LEAK", "DRIFT", "INSUFFICIENT", "not recovered", "http", "429", "72000", "goroutines"} {
				if !strings.Contains(out, want) {
					t.Errorf("no %q in the output", want)
				}
			}
			if strings.Contains(out, "No latency measurements") {
				t.Error("a soak report shows empty bench sections")
			}
		})
	}
}

func TestSoakPlots(t *testing.T) {
	dir := t.TempDir()
	paths, err := WritePlots(dir, fakeSoakReport(1), []string{FormatPNG, FormatSVG})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"soak_memory", "soak_goroutines_fds", "soak_kv", "soak_gc", "soak_latency", "soak_itl", "soak_throughput"}
	got := map[string]bool{}
	for _, p := range paths {
		got[strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))] = true
		fi, err := os.Stat(p)
		if err != nil || fi.Size() < 1000 {
			t.Errorf("%s: %v, %d bytes", p, err, fi.Size())
		}
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("no plot %s (got %v)", w, paths)
		}
	}
	// the SVG of the memory plot marks the faults
	svg, err := os.ReadFile(filepath.Join(dir, "soak_memory.svg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"fault: restart", "fault: burst", "end of warm-up"} {
		if !bytes.Contains(svg, []byte(k)) {
			t.Errorf("memory plot has no legend entry %q", k)
		}
	}
}
