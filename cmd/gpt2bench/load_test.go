package main

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gpt2bench/gpt2bench/bench/report"
	"github.com/gpt2bench/gpt2bench/loadgen/fakeserver"
)

func fakeOpenAI(t *testing.T, b fakeserver.Behavior) *fakeserver.Server {
	t.Helper()
	srv := fakeserver.New(func(int) fakeserver.Behavior { return b })
	t.Cleanup(srv.Close)
	return srv
}

// readLoadReport finds the one report in dir, reads it and counts its records.
func readLoadReport(t *testing.T, dir string) (*report.Report, int) {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(paths) != 1 {
		t.Fatalf("reports in %s: %v", dir, paths)
	}
	r, err := report.Read(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	recs := strings.TrimSuffix(paths[0], ".json") + ".requests.jsonl"
	if filepath.Base(recs) != r.Load.RecordsFile {
		t.Errorf("records %s, report says %s", filepath.Base(recs), r.Load.RecordsFile)
	}
	f, err := os.Open(recs)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); n++ {
	}
	return r, n
}

func TestLoad(t *testing.T) {
	srv := fakeOpenAI(t, fakeserver.Behavior{TTFT: 2 * time.Millisecond, ITL: time.Millisecond, ServerTiming: true})
	srv.APIKey = "sk-test"
	targets := filepath.Join(t.TempDir(), "targets.yaml")
	os.WriteFile(targets, []byte("targets:\n  - metric: load.ttft_ms.p99\n    comparison: \"<\"\n    threshold: 5000\n"), 0o644)
	failing := filepath.Join(t.TempDir(), "failing.yaml")
	os.WriteFile(failing, []byte("- {metric: load.ttft_ms.p50, comparison: '<', threshold: 0.001}\n"), 0o644)

	t.Run("closed loop", func(t *testing.T) {
		out := t.TempDir()
		code, stdout, stderr := runCLI(t, "load", "--url", srv.BaseURL(), "--api-key", "sk-test", "--concurrency", "1,3",
			"--num-requests", "6", "--warmup", "2", "--input-len", "16", "--output-len", "4", "--out", out, "--targets", targets)
		if code != exitOK {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		for _, want := range []string{"LOAD", "closed c=3", "SERVER VS CLIENT", "TARGETS"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("stdout has no %q:\n%s", want, stdout)
			}
		}
		r, n := readLoadReport(t, out)
		if len(r.Load.Points) != 2 || n != 2*(6+2) || r.ModelName != "fake-gpt2" || r.Load.Server != "fakeserver" {
			t.Errorf("points %d, records %d, model %q, server %q", len(r.Load.Points), n, r.ModelName, r.Load.Server)
		}
		if w := r.Load.Workload; w.Temperature == nil || *w.Temperature != 0 {
			t.Errorf("workload temperature %v, want 0 (greedy, the default)", w.Temperature)
		}
		if strings.Contains(strings.Join(r.Metadata.CommandLine, " "), "sk-test") {
			t.Error("the API key is in the report")
		}
		if !r.Targets[0].Pass {
			t.Errorf("target %+v failed", r.Targets[0])
		}
	})
	t.Run("open loop from env", func(t *testing.T) {
		t.Setenv("OPENAI_BASE_URL", srv.BaseURL())
		t.Setenv("OPENAI_API_KEY", "sk-test")
		out := t.TempDir()
		code, _, stderr := runCLI(t, "load", "--request-rates", "200,400", "--burstiness", "0.5", "--num-requests", "8",
			"--input-len-range", "4:12", "--output-len-range", "2:5", "--slo", "ttft=1s,e2e=2s", "--temperature", "-1", "--out", out, "--format", "json", "--quiet")
		if code != exitOK {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		if stderr != "" {
			t.Errorf("--quiet wrote to stderr: %s", stderr)
		}
		r, n := readLoadReport(t, out)
		if len(r.Load.Points) != 2 || r.Load.Points[1].RequestRate != 400 || r.Load.Points[0].TTFTFromPlan == nil || n != 2*(8+4) {
			t.Errorf("points %+v, %d records", r.Load.Points, n)
		}
		if r.Load.Workload.Temperature != nil {
			t.Errorf("--temperature -1 sent temperature %v; want none", *r.Load.Workload.Temperature)
		}
	})
	t.Run("dataset for a duration", func(t *testing.T) {
		out := t.TempDir()
		code, _, stderr := runCLI(t, "load", "--url", srv.BaseURL(), "--api-key", "sk-test", "--dataset", "../../loadgen/testdata/prompts.jsonl",
			"--concurrency", "2", "--duration", "300ms", "--warmup", "1", "--out", out, "--quiet")
		if code != exitOK {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		r, n := readLoadReport(t, out)
		p := r.Load.Points[0]
		if r.Load.Workload.Source != "dataset" || p.Requests == 0 || p.Failed != 0 || n != p.Requests+1 {
			t.Errorf("workload %+v, %d requests (%d failed), %d records", r.Load.Workload, p.Requests, p.Failed, n)
		}
	})
	t.Run("sweep", func(t *testing.T) {
		out := t.TempDir()
		code, _, stderr := runCLI(t, "load", "--url", srv.BaseURL(), "--api-key", "sk-test", "--sweep=2", "--concurrency", "2",
			"--slo", "ttft=1s", "--num-requests", "6", "--warmup", "0", "--output-len", "2", "--out", out)
		if code != exitOK {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		r, _ := readLoadReport(t, out)
		if r.Load.Sweep == nil || len(r.Load.Points) != 1+len(r.Load.Sweep.Rates) || r.Load.Sweep.CapacityRequestsPerS <= 0 {
			t.Errorf("sweep %+v with %d points", r.Load.Sweep, len(r.Load.Points))
		}
	})
	t.Run("failing target", func(t *testing.T) {
		code, _, stderr := runCLI(t, "load", "--url", srv.BaseURL(), "--api-key", "sk-test", "--num-requests", "2", "--output-len", "2",
			"--out", t.TempDir(), "--targets", failing)
		if code != exitFailure || !strings.Contains(stderr, "targets failed") {
			t.Errorf("exit %d, stderr %s", code, stderr)
		}
	})
	t.Run("report and compare", func(t *testing.T) {
		out := t.TempDir()
		for range 2 {
			if code, _, stderr := runCLI(t, "load", "--url", srv.BaseURL(), "--api-key", "sk-test", "--concurrency", "2", "--num-requests", "8",
				"--output-len", "3", "--out", out); code != exitOK {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			time.Sleep(1100 * time.Millisecond) // the next report gets its own timestamp
		}
		paths, _ := filepath.Glob(filepath.Join(out, "*.json"))
		if len(paths) != 2 {
			t.Fatalf("reports %v", paths)
		}
		code, stdout, stderr := runCLI(t, "report", paths[0], "--plots", filepath.Join(out, "plots"), "--html", filepath.Join(out, "r.html"))
		if code != exitOK || !strings.Contains(stdout, "LOAD") {
			t.Errorf("report: exit %d\n%s\n%s", code, stdout, stderr)
		}
		code, stdout, stderr = runCLI(t, "compare", paths[0], paths[1])
		if code != exitOK || !strings.Contains(stdout, "load=closed/conc=2") || !strings.Contains(stdout, "ttft_ms") {
			t.Errorf("compare: exit %d\n%s\n%s", code, stdout, stderr)
		}
	})
}

func TestLoadErrors(t *testing.T) {
	srv := fakeOpenAI(t, fakeserver.Behavior{})
	two := fakeOpenAI(t, fakeserver.Behavior{})
	two.Models = []string{"a", "b"}
	dataset := filepath.Join(t.TempDir(), "d.jsonl")
	os.WriteFile(dataset, []byte(`{"prompt": "hi", "output_len": 2}`+"\n"), 0o644)
	benchTarget := filepath.Join(t.TempDir(), "t.yaml")
	os.WriteFile(benchTarget, []byte("- {metric: latency.ttft_ms.p50, comparison: '<', threshold: 1}\n"), 0o644)
	url := srv.BaseURL()
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no url", []string{"load"}, exitUsage, "OPENAI_BASE_URL"},
		{"bad url", []string{"load", "--url", "localhost:80"}, exitUsage, "--url"},
		{"bad slo", []string{"load", "--url", url, "--slo", "ttft=fast"}, exitUsage, "--slo"},
		{"unknown slo", []string{"load", "--url", url, "--slo", "latency=1s"}, exitUsage, "unknown objective"},
		{"sweep without slo", []string{"load", "--url", url, "--sweep"}, exitUsage, "--sweep needs --slo"},
		{"burstiness", []string{"load", "--url", url, "--request-rate", "1", "--burstiness", "0"}, exitUsage, "--burstiness"},
		{"burstiness closed", []string{"load", "--url", url, "--burstiness", "2"}, exitUsage, "--request-rate"},
		{"input len", []string{"load", "--url", url, "--input-len", "0"}, exitUsage, "at least 1 token"},
		{"input lens", []string{"load", "--url", url, "--input-len", "8,16"}, exitUsage, "one length"},
		{"range and len", []string{"load", "--url", url, "--output-len", "8", "--output-len-range", "2:4"}, exitUsage, "give one"},
		{"bad range", []string{"load", "--url", url, "--input-len-range", "9:3"}, exitUsage, "below the start"},
		{"prefix", []string{"load", "--url", url, "--input-len", "8", "--prefix-len", "8"}, exitUsage, "prefix length 8"},
		{"caps", []string{"load", "--url", url, "--request-rate", "1", "--concurrency", "1,2"}, exitUsage, "give one value"},
		{"rate and rates", []string{"load", "--url", url, "--request-rate", "1", "--request-rates", "1,2"}, exitUsage, "give one"},
		{"dataset and lengths", []string{"load", "--url", url, "--dataset", dataset, "--input-len", "4"}, exitUsage, "--dataset"},
		{"missing dataset", []string{"load", "--url", url, "--dataset", "nope.jsonl"}, exitUsage, "nope.jsonl"},
		{"bench target", []string{"load", "--url", url, "--targets", benchTarget}, exitUsage, "bench metric"},
		{"no bound", []string{"load", "--url", url, "--num-requests", "0"}, exitUsage, "--duration"},
		{"two models", []string{"load", "--url", two.BaseURL(), "--out", t.TempDir()}, exitUsage, "lists 2 models"},
		{"bad format", []string{"load", "--url", url, "--format", "xml"}, exitUsage, "--format"},
		{"temperature", []string{"load", "--url", url, "--temperature", "200"}, exitUsage, "--temperature 200"},
		{"argument", []string{"load", "--url", url, "--sweep", "4"}, exitUsage, "--sweep=N"},
		{"server down", []string{"load", "--url", "http://127.0.0.1:1/v1", "--out", t.TempDir()}, exitFailure, "is the server up"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d (want %d), stderr %q (want %q)", code, tc.code, stderr, tc.want)
			}
		})
	}
}

func TestParseSLO(t *testing.T) {
	slo, err := parseSLO("ttft=500ms, tpot=50ms,e2e=10s,attainment=95%")
	if err != nil || slo.TTFTMs != 500 || slo.TPOTMs != 50 || slo.E2EMs != 10000 || slo.MinAttainment != 0.95 {
		t.Errorf("%+v, %v", slo, err)
	}
	for _, bad := range []string{"", "ttft", "ttft=-1s", "attainment=0.9", "attainment=2,ttft=1s"} {
		if _, err := parseSLO(bad); err == nil {
			t.Errorf("parseSLO(%q): no error", bad)
		}
	}
}

// TestLoadAgainstServe runs `gpt2bench serve` on the tiny fixture on
// loopback and `gpt2bench load` against it: an end-to-end engine report
// with both vantage points (the server's server_timing beside the client).
func TestLoadAgainstServe(t *testing.T) {
	url := serveTiny(t)
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, "load", "--url", url, "--concurrency", "1,4", "--num-requests", "12", "--warmup", "2",
		"--input-len", "16", "--output-len", "8", "--vocab-size", "1024", "--out", out)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	r, n := readLoadReport(t, out)
	if r.ModelName != "tiny-gpt2" || n != 2*(12+2) {
		t.Errorf("model %q, %d records", r.ModelName, n)
	}
	for _, p := range r.Load.Points {
		if p.Failed != 0 || p.OutputLenMismatches != 0 || p.PromptLenMismatches != 0 {
			t.Errorf("%s: failed %d, mismatches %d/%d: %+v", loadKey(p), p.Failed, p.OutputLenMismatches, p.PromptLenMismatches, p.Errors)
		}
		v := p.ServerView
		if v == nil || v.Source != "server_timing" || v.Requests != 12 || v.TTFT.N != 12 || v.ITL.N != 12 {
			t.Fatalf("%s: server view %+v", loadKey(p), v)
		}
		// the server's TTFT is inside the client's: client minus server >= 0
		if v.TTFTDiffMs.P50 < 0 {
			t.Errorf("%s: client TTFT below the server's (p50 of the difference %.3f ms)", loadKey(p), v.TTFTDiffMs.P50)
		}
	}
	if !strings.Contains(stdout, "SERVER VS CLIENT") {
		t.Errorf("no server-vs-client table:\n%s", stdout)
	}
}

func loadKey(p report.LoadPoint) string {
	return fmt.Sprintf("%s c=%d r=%g", p.Arrival, p.Concurrency, p.RequestRate)
}

// syncBuffer is a bytes.Buffer safe for the progress goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLoadProgress(t *testing.T) {
	var out syncBuffer
	p := &loadProgress{w: &out, total: 3}
	p.start(1, "concurrency 4", 100)
	p.counts.Done.Store(42)
	p.counts.InFlight.Store(4)
	p.counts.Failed.Store(1)
	p.counts.Tokens.Store(1000)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "done 42/100") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	p.stop()
	s := out.String()
	for _, want := range []string{"point 2/3 concurrency 4", "done 42/100", "in flight 4", "failed 1", "tok/s", "\r\033[K"} {
		if !strings.Contains(s, want) {
			t.Errorf("progress %q has no %q", s, want)
		}
	}
	var nilp *loadProgress // no terminal: no progress, no panic
	nilp.start(0, "x", 1)
	nilp.stop()
}

// TestLoadWaitsWhileLoading starts load against a server whose model list
// answers 503 twice (a model still loading, as serve, vLLM and llama.cpp
// answer then): load asks again, says so, and measures once it is ready.
func TestLoadWaitsWhileLoading(t *testing.T) {
	srv := fakeOpenAI(t, fakeserver.Behavior{})
	target, _ := url.Parse(srv.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var asked atomic.Int32
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/models" && asked.Add(1) <= 2 {
			http.Error(w, `{"error": {"message": "Loading model", "type": "unavailable_error"}}`, http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, "load", "--url", front.URL+"/v1", "--num-requests", "3", "--warmup", "0",
		"--input-len", "8", "--output-len", "4", "--out", out)
	if code != exitOK || !strings.Contains(stderr, "answers 503") || asked.Load() != 3 {
		t.Fatalf("exit %d, model list asked %d times\n%s\n%s", code, asked.Load(), stdout, stderr)
	}
	if r, _ := readLoadReport(t, out); r.ModelName != srv.Model {
		t.Errorf("model %q, want %q", r.ModelName, srv.Model)
	}
}
