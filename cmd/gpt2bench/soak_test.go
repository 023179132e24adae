package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gpt2bench/gpt2bench/bench/report"
)

func TestSoakUsage(t *testing.T) {
	out := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no duration", []string{"--duration", "0s"}, "--duration"},
		{"warm-up past the end", []string{"--duration", "10s", "--warmup-time", "10s"}, "--warmup-time"},
		{"unknown fault", []string{"--faults", "disconnect,flood"}, `unknown fault "flood"`},
		{"restart with --url", []string{"--url", "http://127.0.0.1:1/v1", "--faults", "restart"}, "cannot restart"},
		{"api key in process", []string{"--api-key", "k"}, "--api-key goes with --url"},
		{"engine flag with --url", []string{"--url", "http://127.0.0.1:1/v1", "--max-num-seqs", "4"}, "--max-num-seqs sets up the in-process server"},
		{"bad leak threshold", []string{"--leak-threshold", "rss=lots"}, "--leak-threshold"},
		{"unknown resource", []string{"--leak-threshold", "cpu=1"}, `unknown resource "cpu"`},
		{"error budget", []string{"--error-budget", "2"}, "--error-budget"},
		{"closed loop of none", []string{"--concurrency", "0"}, "--concurrency 0"},
		{"over the context", []string{"--model", tinyDir, "--input-len", "60", "--output-len", "8"}, "context is 64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"soak", "--out", out, "-q"}, tc.args...)
			if code := run(context.Background(), args, &stdout, &stderr); code != 2 {
				t.Fatalf("exit %d, want 2; stderr: %s", code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr %q does not say %q", stderr.String(), tc.want)
			}
		})
	}
}

// TestSoak is the 60-second soak CI runs: gpt2bench's server in process on
// the tiny fixture under 40 requests/s, every fault injected. Its verdicts
// pass (the clean engine: no leak, no drift, no failure outside the
// faults, every fault answered and recovered from), and the report and
// records are written.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("a 60 s soak")
	}
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	args := []string{"soak", "--model", tinyDir, "--duration", "60s", "--request-rate", "40", "--concurrency", "16",
		"--input-len", "16", "--output-len", "8", "--out", out, "--format", "json"}
	code := run(context.Background(), args, &stdout, &stderr)
	r, err := report.Decode(stdout.Bytes())
	if err != nil {
		t.Fatalf("exit %d, stdout is not a report: %v; stderr: %s", code, err, stderr.String())
	}
	var tbl strings.Builder
	report.WriteTable(&tbl, r)
	t.Log("\n" + tbl.String())
	if code != 0 {
		t.Fatalf("exit %d, want 0: %s", code, stderr.String())
	}
	s := r.Soak
	if s == nil || !s.Pass || s.Target != "in-process" || r.ModelName != "tiny-gpt2" {
		t.Fatalf("soak section %+v", s)
	}
	kinds := map[string]int{}
	for _, f := range s.Faults {
		kinds[f.Kind]++
	}
	if len(kinds) != 5 || kinds[report.FaultRestart] != 1 {
		t.Errorf("faults by kind %v, want all five kinds, restart once", kinds)
	}
	for _, name := range []string{"rss", "heap_inuse", "heap_live", "goroutines", "open_fds", "kv_blocks_used", "prefix_cache_blocks", "gc_cycles", "gc_pause_ms"} {
		if !slices.ContainsFunc(s.Resources, func(sr report.SoakSeries) bool {
			return sr.Name == name && len(sr.Values) == len(s.SampleTimesS)
		}) {
			t.Errorf("no series %s of %d samples", name, len(s.SampleTimesS))
		}
	}
	if len(s.SampleTimesS) < 50 || len(s.Windows) < 50 || len(s.Leaks) != 7 || len(s.Drift) != 3 {
		t.Errorf("%d samples, %d windows, %d leak and %d drift verdicts", len(s.SampleTimesS), len(s.Windows), len(s.Leaks), len(s.Drift))
	}
	// the report on disk, its records beside it, one line per request
	path := filepath.Join(out, r.ReportName+".json")
	if _, err := report.Read(path); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(out, s.RecordsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); n++ {
	}
	if n != s.Requests {
		t.Errorf("%d records, %d requests", n, s.Requests)
	}
	// and the HTML report draws its series
	var html, herr bytes.Buffer
	if code := run(context.Background(), []string{"report", path, "--html", filepath.Join(out, "soak.html")}, &html, &herr); code != 0 {
		t.Fatalf("report --html: exit %d: %s", code, herr.String())
	}
	page, err := os.ReadFile(filepath.Join(out, "soak.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Soak: PASS", "Soak: leaks", "Memory over the soak", "Garbage collection"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("the HTML report has no %q", want)
		}
	}
}

// TestSoakURL soaks gpt2bench serve over --url for a few seconds: the
// resources come from its /metrics and /proc/PID, every fault but restart
// runs.
func TestSoakURL(t *testing.T) {
	url := serveTiny(t, "--max-queue", "8")
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	args := []string{"soak", "--url", url, "--pid", fmt.Sprint(os.Getpid()), "--duration", "12s", "--warmup-time", "2s", "--fault-interval", "2s",
		"--request-rate", "20", "--concurrency", "8", "--input-len", "16", "--output-len", "8", "--burst-size", "64", "--context-len", "64",
		"--vocab-size", "1024", "--out", out, "--format", "json", "-q"}
	code := run(context.Background(), args, &stdout, &stderr)
	r, err := report.Decode(stdout.Bytes())
	if err != nil {
		t.Fatalf("exit %d, stdout is not a report: %v; stderr: %s", code, err, stderr.String())
	}
	s := r.Soak
	if s.Target != "url" || s.PID != os.Getpid() || !slices.Contains(s.Sources, "/metrics") {
		t.Errorf("target %s, pid %d, sources %v", s.Target, s.PID, s.Sources)
	}
	kinds := map[string]bool{}
	for _, f := range s.Faults {
		kinds[f.Kind] = true
		if !f.Pass {
			t.Errorf("fault %s: %s %v", f.Kind, f.Detail, f.Outcomes)
		}
	}
	if kinds[report.FaultRestart] || len(kinds) != 4 {
		t.Errorf("fault kinds %v, want every one but restart", kinds)
	}
	if s.ErrorBudget.Verdict != report.VerdictPass || s.Requests < 50 {
		t.Errorf("%d requests, error budget %+v", s.Requests, s.ErrorBudget)
	}
	if code != 0 {
		t.Errorf("exit %d: %s", code, stderr.String())
	}
}

// TestSoakFailsVerdict soaks a server that answers every completion 500:
// the error budget fails, soak exits 1, and the report is written all the
// same, its failures listed.
func TestSoakFailsVerdict(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/v1/models" {
			io.WriteString(w, `{"object": "list", "data": [{"id": "broken", "object": "model"}]}`)
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `{"error": {"message": "out of order", "type": "server_error"}}`)
	}))
	defer srv.Close()
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	args := []string{"soak", "--url", srv.URL + "/v1", "--duration", "3s", "--warmup-time", "1s", "--faults", "none",
		"--request-rate", "50", "--input-len", "4", "--output-len", "2", "--out", out, "--format", "json", "-q"}
	if code := run(context.Background(), args, &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "error budget") {
		t.Errorf("stderr does not name the failed verdict: %s", stderr.String())
	}
	r, err := report.Decode(stdout.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	s := r.Soak
	if s.Pass || s.ErrorBudget.Verdict != report.VerdictOverBudget || s.ErrorBudget.ByClass["http_500"] != s.Requests || s.Requests < 50 {
		t.Errorf("pass %v, error budget %+v, %d requests", s.Pass, s.ErrorBudget, s.Requests)
	}
	if _, err := report.Read(filepath.Join(out, r.ReportName+".json")); err != nil {
		t.Errorf("the report of a failed soak: %v", err)
	}
}
