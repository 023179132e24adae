package soak

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gpt2bench/gpt2bench/bench/report"
	"github.com/gpt2bench/gpt2bench/engine"
	"github.com/gpt2bench/gpt2bench/internal/testmodel"
	"github.com/gpt2bench/gpt2bench/loadgen"
	"github.com/gpt2bench/gpt2bench/server"
	"github.com/gpt2bench/gpt2bench/tokenizer"
)

// tinyQueue is the in-process server's queue in the tests: small, so that
// a burst of tinyBurst requests overflows it.
const (
	tinyQueue = 8
	tinyBurst = 96
)

// startTiny starts the in-process server on the tiny fixture; leak, when
// set, runs at every completion request.
func startTiny(t testing.TB, leak func()) *InProcess {
	t.Helper()
	tok, err := tokenizer.New()
	if err != nil {
		t.Fatal(err)
	}
	p := &InProcess{m: testmodel.Tiny(t), ecfg: engine.Config{MaxNumSeqs: 4, MaxQueue: tinyQueue},
		sopts: server.Options{ModelName: "tiny", Tokenizer: tok}, addr: "127.0.0.1:0", onRequest: leak}
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(10 * time.Second) })
	return p
}

// tinyOptions soaks p for d with a Poisson load at 40 requests/s of 16
// prompt and 8 output tokens, every fault on.
func tinyOptions(t testing.TB, p *InProcess, d time.Duration) Options {
	return Options{
		Client:   loadgen.ClientOptions{BaseURL: p.BaseURL(), Model: "tiny", IgnoreEOS: true, Timeout: time.Minute, MaxConns: 16},
		Workload: &loadgen.RandomWorkload{Input: loadgen.Fixed(16), Output: loadgen.Fixed(8), Vocab: 1024, Seed: 1},
		Vocab:    1024, Concurrency: 16, Rate: 40, Seed: 1, Duration: d,
		Samplers:   []Sampler{RuntimeSampler{}, ProcSampler{}, EngineSampler{Engine: p.Engine}},
		Server:     p,
		Faults:     AllFaults,
		BurstSize:  tinyBurst,
		ContextLen: 64,
		Logf:       func(format string, a ...any) { t.Logf(strings.TrimSuffix(format, "\n"), a...) },
	}
}

// leaker keeps 4 KB and one goroutine per request, until released.
type leaker struct {
	mu   sync.Mutex
	kept [][]byte
	stop chan struct{}
}

func newLeaker(t testing.TB) *leaker {
	l := &leaker{stop: make(chan struct{})}
	t.Cleanup(func() { close(l.stop) })
	return l
}

func (l *leaker) leak() {
	b := make([]byte, 4<<10)
	for i := range b {
		b[i] = byte(i) // touched: resident, not just reserved
	}
	l.mu.Lock()
	l.kept = append(l.kept, b)
	l.mu.Unlock()
	go func() { <-l.stop }()
}

func verdict(s *report.Soak, res string) report.SoakLeak {
	for _, l := range s.Leaks {
		if l.Resource == res {
			return l
		}
	}
	return report.SoakLeak{}
}

// TestSoakFlagsLeak soaks a server that keeps 4 KB and one goroutine per
// request for 60 s: the goroutines and the live heap are flagged, and the
// faults still pass.
//
// The soak reads this test process's runtime: no other test may run
// beside it (no t.Parallel here or in this package).
func TestSoakFlagsLeak(t *testing.T) {
	if testing.Short() {
		t.Skip("a 60 s soak")
	}
	l := newLeaker(t)
	p := startTiny(t, l.leak)
	var recs bytes.Buffer
	o := tinyOptions(t, p, 60*time.Second)
	o.Records = &recs
	s, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	logSoak(t, s)
	if s.Pass {
		t.Fatal("a leaking server passed")
	}
	for _, res := range []string{ResGoroutines, ResHeapLive} {
		if v := verdict(s, res); v.Verdict != report.VerdictLeak {
			t.Errorf("%s: verdict %q, want leak: %+v", res, v.Verdict, v)
		}
	}
	if n := bytes.Count(recs.Bytes(), []byte("\n")); n != s.Requests || n < 1000 {
		t.Errorf("%d records written, %d requests in the section", n, s.Requests)
	}
}

func logSoak(t *testing.T, s *report.Soak) {
	t.Helper()
	var b strings.Builder
	report.WriteTable(&b, &report.Report{ModelName: "tiny", Soak: s})
	t.Log("\n" + b.String())
	if dir := os.Getenv("SOAK_TEST_OUT"); dir != "" {
		r := &report.Report{SchemaVersion: report.SchemaVersion, ModelName: "tiny", Timestamp: time.Now().UTC().Truncate(time.Second), Soak: s}
		path, err := report.WriteNew(dir, r)
		fmt.Fprintln(os.Stderr, "soak report:", path, err)
	}
}

// TestLeakVerdict checks the regression on synthetic series: flat ones
// with independent or autocorrelated noise pass, a slope past the
// threshold and the minimum growth leaks, too few samples are not judged.
func TestLeakVerdict(t *testing.T) {
	const n = 60 // a sample a second for a minute
	times := make([]float64, n)
	for i := range times {
		times[i] = float64(i)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	series := func(slope, noise, rho float64) []float64 {
		v := make([]float64, n)
		e := 0.0
		for i := range v {
			e = rho*e + noise*rng.NormFloat64()
			v[i] = 100 + slope*times[i] + e
		}
		return v
	}
	for _, tc := range []struct {
		name               string
		slope, noise, rho  float64 // per second
		threshold, minGrow float64 // per hour, over the run
		want               string
	}{
		{"flat", 0, 5, 0, 60, 16, report.VerdictPass},
		{"flat, autocorrelated", 0, 5, 0.9, 60, 16, report.VerdictPass},
		{"a goroutine per request at 20/s", 20, 5, 0.5, 60, 16, report.VerdictLeak},
		{"slope under the threshold", 0.01, 0.1, 0, 60, 0, report.VerdictPass},
		{"slope past the threshold, growth under the minimum", 0.1, 0.01, 0, 60, 16, report.VerdictPass},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := leakVerdict("x", "count", times, series(tc.slope, tc.noise, tc.rho), tc.threshold, tc.minGrow)
			if l.Verdict != tc.want {
				t.Errorf("verdict %q, want %q: %+v", l.Verdict, tc.want, l)
			}
			if l.Verdict != report.VerdictInsufficient && !(l.CILowPerHour <= l.SlopePerHour && l.SlopePerHour <= l.CIHighPerHour) {
				t.Errorf("slope %v outside its interval [%v, %v]", l.SlopePerHour, l.CILowPerHour, l.CIHighPerHour)
			}
		})
	}
	if l := leakVerdict("x", "count", times[:5], series(20, 1, 0)[:5], 60, 16); l.Verdict != report.VerdictInsufficient {
		t.Errorf("5 samples: verdict %q, want %q", l.Verdict, report.VerdictInsufficient)
	}
	// The false-positive rate of the slope test alone (no minimum growth)
	// on flat series with strongly autocorrelated noise stays near the
	// interval's 2.5% one-sided rate thanks to the n_eff correction.
	const trials = 400
	flagged := 0
	for range trials {
		if leakVerdict("x", "count", times, series(0, 5, 0.8), 0, 0).Verdict == report.VerdictLeak {
			flagged++
		}
	}
	if rate := float64(flagged) / trials; rate > 0.08 {
		t.Errorf("flat AR(1) series flagged %d of %d times (%.1f%%); want about 2.5%%", flagged, trials, 100*rate)
	}
}

// TestDriftVerdict checks the drift gate: the same distribution passes, a
// 1.5x slower one drifts (unless it is slower by less than a millisecond),
// a faster one passes, few samples are not judged.
func TestDriftVerdict(t *testing.T) {
	scale := func(v []float64, k float64) []float64 {
		for i := range v {
			v[i] *= k
		}
		return v
	}
	rng := rand.New(rand.NewPCG(3, 4))
	draw := func(n int, scale float64) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = scale * (10 + rng.ExpFloat64())
		}
		return v
	}
	for _, tc := range []struct {
		name  string
		first []float64
		last  []float64
		want  string
	}{
		{"same", draw(200, 1), draw(200, 1), report.VerdictPass},
		{"1.5x slower", draw(200, 1), draw(200, 1.5), report.VerdictDrift},
		{"1.5x faster", draw(200, 1.5), draw(200, 1), report.VerdictPass},
		{"1.1x slower, under the threshold", draw(2000, 1), draw(2000, 1.1), report.VerdictPass},
		{"too few", draw(5, 1), draw(200, 2), report.VerdictInsufficient},
		{"1.5x slower but under a millisecond", scale(draw(200, 1), 0.01), scale(draw(200, 1.5), 0.01), report.VerdictPass},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := driftVerdict("ttft_ms", tc.first, tc.last, DefaultDriftAlpha, DefaultDriftThreshold, DefaultDriftMinMs)
			if d.Verdict != tc.want {
				t.Errorf("verdict %q, want %q: %+v", d.Verdict, tc.want, d)
			}
		})
	}
}

// TestSchedule checks the faults' schedule: after the warm-up, in turn,
// restart once half-way, none past the end.
func TestSchedule(t *testing.T) {
	o := Options{Duration: 60 * time.Second, Warmup: 10 * time.Second, FaultInterval: 5 * time.Second, Faults: AllFaults}
	ev := o.schedule()
	restarts := 0
	for i, e := range ev {
		if e.at < o.Warmup || e.at >= o.Duration {
			t.Errorf("fault %d (%s) at %v, outside [%v, %v)", i, e.kind, e.at, o.Warmup, o.Duration)
		}
		if i > 0 && e.at < ev[i-1].at {
			t.Errorf("faults out of order at %d", i)
		}
		if e.kind == report.FaultRestart {
			restarts++
		}
	}
	if restarts != 1 || len(ev) != 11 {
		t.Errorf("%d faults, %d restarts; want 11 and 1: %v", len(ev), restarts, ev)
	}
	if ev := (Options{Duration: time.Minute, Warmup: 10 * time.Second, FaultInterval: 5 * time.Second}).schedule(); len(ev) != 0 {
		t.Errorf("no faults asked, got %v", ev)
	}
}

// TestParseMetrics reads gpt2bench serve's /metrics as the --url mode does.
func TestParseMetrics(t *testing.T) {
	text := `# HELP go_goroutines Number of goroutines.
# TYPE go_goroutines gauge
go_goroutines 42
go_gc_duration_seconds{quantile="0.5"} 1e-05
go_gc_duration_seconds_sum 0.25
go_gc_duration_seconds_count 17
process_resident_memory_bytes 1.2345e+08
gpt2bench:kv_cache_usage_perc 0.25
gpt2bench:kv_cache_blocks_total 512
gpt2bench:http_requests_total{code="200",route="/v1/completions"} 12
`
	got := parseMetrics(strings.NewReader(text))
	for k, want := range map[string]float64{"go_goroutines": 42, "go_gc_duration_seconds_sum": 0.25, "go_gc_duration_seconds_count": 17,
		"process_resident_memory_bytes": 1.2345e8, "gpt2bench:kv_cache_usage_perc": 0.25} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
	if _, ok := got[`gpt2bench:http_requests_total{code="200",route="/v1/completions"}`]; ok {
		t.Error("labelled samples are read")
	}
}

func TestOptionsErrors(t *testing.T) {
	w := &loadgen.RandomWorkload{Input: loadgen.Fixed(4), Output: loadgen.Fixed(4), Vocab: 100}
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"no workload", Options{Duration: time.Minute, Concurrency: 1}, "no workload"},
		{"no duration", Options{Workload: w, Concurrency: 1}, "duration"},
		{"closed loop without concurrency", Options{Workload: w, Duration: time.Minute}, "concurrency"},
		{"warm-up too long", Options{Workload: w, Duration: time.Minute, Warmup: time.Hour, Concurrency: 1}, "warm-up"},
		{"unknown fault", Options{Workload: w, Duration: time.Minute, Concurrency: 1, Faults: []string{"flood"}}, "unknown fault"},
		{"restart without the server", Options{Workload: w, Duration: time.Minute, Concurrency: 1, Faults: []string{report.FaultRestart}}, "in-process"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.o.withDefaults()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestClosedLoopBacksOff soaks a server that refuses everything (503) in
// a closed loop: each worker waits after a failure instead of spinning.
func TestClosedLoopBacksOff(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"error": {"message": "draining"}}`)
	}))
	defer srv.Close()
	const d, conc = 2 * time.Second, 2
	s, err := Run(context.Background(), Options{
		Client:      loadgen.ClientOptions{BaseURL: srv.URL + "/v1", Model: "x", Timeout: 10 * time.Second},
		Workload:    &loadgen.RandomWorkload{Input: loadgen.Fixed(4), Output: loadgen.Fixed(2), Vocab: 100, Seed: 1},
		Concurrency: conc, Duration: d, Warmup: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if most := conc * int(d/failureBackoff+2); s.Requests > most || s.Requests < conc {
		t.Errorf("%d requests in %v from %d workers backing off %v: want at most %d", s.Requests, d, conc, failureBackoff, most)
	}
	if s.ErrorBudget.ByClass["http_503"] != s.Requests || s.Pass {
		t.Errorf("error budget %+v, pass %v", s.ErrorBudget, s.Pass)
	}
}
