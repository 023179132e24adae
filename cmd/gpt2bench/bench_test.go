package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/gpt2bench/gpt2bench/bench/report"
)

// The -update flag rewrites golden files; registered here unless another
// test file of the package already did.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files")
	}
}

func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// tinyBench is a quick benchmark of the tiny fixture at input lengths
// lens: every phase, a few milliseconds in all.
func tinyBench(out, lens string, extra ...string) []string {
	args := []string{"bench", "--model", tinyDir, "--quick", "--input-lengths", lens, "--output-len", "4",
		"--concurrency", "1,2", "--batch-sizes", "1,3", "--out", out}
	return append(args, extra...)
}

// reports returns the report files written in dir.
func reports(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// readOnlyReport reads and validates the single report written in dir.
func readOnlyReport(t *testing.T, dir string) *report.Report {
	t.Helper()
	names := reports(t, dir)
	if len(names) != 2 || !strings.HasSuffix(names[0], ".json") || !strings.HasSuffix(names[1], ".md") {
		t.Fatalf("files in --out: %v, want one .json report and its .md", names)
	}
	r, err := report.Read(filepath.Join(dir, names[0]))
	if err != nil {
		t.Fatalf("written report: %v", err)
	}
	return r
}

// number matches a measured value, which changes from run to run.
var number = regexp.MustCompile(`^\(?(-?[0-9]+(\.[0-9]+)?(e[-+]?[0-9]+)?|n/a)\)?$`)

// structure masks the values of a summary table (numbers, with their byte
// units) and squeezes its spaces, keeping its layout: sections, columns,
// settings, modes, skipped lengths.
func structure(s string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		var fields []string
		prevNum := false
		for _, f := range strings.Fields(line) {
			switch {
			case number.MatchString(f):
				f, prevNum = strings.Replace(f, strings.Trim(f, "()"), "#", 1), true
			case prevNum && (f == "B" || f == "KiB" || f == "MiB" || f == "GiB" || f == "TiB"):
				prevNum = false
				continue
			default:
				prevNum = false
			}
			fields = append(fields, f)
		}
		out = append(out, strings.Join(fields, " "))
	}
	return strings.Join(out, "\n")
}

func TestBenchTiny(t *testing.T) {
	out := filepath.Join(t.TempDir(), "reports") // created by bench
	// The profile section's rows and shares vary with timing: it is checked
	// in TestBenchFormats, not in the golden table.
	code, stdout, stderr := runCLI(t, tinyBench(out, "8,16,100", "--profile=false")...)
	if code != exitOK {
		t.Fatalf("exit %d\nstderr:\n%s", code, stderr)
	}
	r := readOnlyReport(t, out)
	if r.ModelName != "tiny-gpt2" || r.Incomplete || !r.Metadata.Quick || r.Metadata.Warmup != 1 || r.Metadata.Runs != 3 {
		t.Errorf("report: model %q, incomplete %v, metadata %+v", r.ModelName, r.Incomplete, r.Metadata)
	}
	// throughput: single, concurrent, batched and continuous (--quick's 4).
	if len(r.Latency) != 2 || len(r.Memory) != 3 || len(r.Throughput) != 4 || len(r.Skipped) != 2 {
		t.Errorf("report has %d latency, %d memory, %d throughput, %d skipped; want 2, 3, 4, 2",
			len(r.Latency), len(r.Memory), len(r.Throughput), len(r.Skipped))
	}
	if !strings.Contains(stderr, "report: "+out) || !strings.Contains(stderr, "model "+tinyDir) {
		t.Errorf("stderr does not name the model and the report:\n%s", stderr)
	}
	// The table's first two lines hold the time and the machine; the rest is
	// compared with numbers masked.
	lines := strings.SplitN(stdout, "\n", 3)
	if len(lines) < 3 || !strings.HasPrefix(lines[0], r.ReportName+"  model tiny-gpt2") {
		t.Fatalf("stdout does not start with the report name:\n%s", stdout)
	}
	got := structure(lines[2])
	golden := filepath.Join("testdata", "bench_tiny.stdout")
	if updating() {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("stdout structure differs from %s (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", golden, got, want)
	}
}

func TestBenchFormats(t *testing.T) {
	tests := []struct {
		format string
		check  func(t *testing.T, stdout string)
	}{
		{"json", func(t *testing.T, stdout string) {
			if err := report.Validate([]byte(stdout)); err != nil {
				t.Errorf("stdout is not a valid report: %v", err)
			}
			if !strings.Contains(stdout, `"profile"`) || !strings.Contains(stdout, `"op": "mlp_up"`) {
				t.Errorf("report has no per-op profile section")
			}
		}},
		{"markdown", func(t *testing.T, stdout string) {
			if !strings.HasPrefix(stdout, "# Benchmark report: ") || !strings.Contains(stdout, "## Latency") {
				t.Errorf("stdout is not the Markdown summary:\n%s", stdout)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.format, func(t *testing.T) {
			out := t.TempDir()
			code, stdout, stderr := runCLI(t, tinyBench(out, "8,16", "--format", tc.format, "--quiet", "--phases", "latency")...)
			// --quiet leaves one line: where the report is.
			if code != exitOK || !regexp.MustCompile(`^report: \S+\.json \(summary \S+\.md\)\n$`).MatchString(stderr) {
				t.Fatalf("exit %d, stderr %q; want 0 and only the report's path on stderr (--quiet)", code, stderr)
			}
			tc.check(t, stdout)
			readOnlyReport(t, out)
		})
	}
}

func TestBenchTargets(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pass := write("pass.yaml", "targets:\n  - {metric: latency.ttft_ms.p95, comparison: <, threshold: 1e9}\n  - {metric: throughput.failed, comparison: <=, threshold: 0}\n")
	fail := write("fail.json", `[{"metric": "decode_tokens_per_s", "comparison": ">", "threshold": 1e12}]`)
	tests := []struct {
		name, file string
		code       int
		pass       int
	}{
		{"pass", pass, exitOK, 2 + 2}, // ttft for 2 lengths, failed for 3 modes
		{"fail", fail, exitFailure, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			code, stdout, stderr := runCLI(t, tinyBench(out, "8,16", "--targets", tc.file)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstderr:\n%s", code, tc.code, stderr)
			}
			if !strings.Contains(stdout, "TARGETS") {
				t.Errorf("no TARGETS table on stdout:\n%s", stdout)
			}
			r := readOnlyReport(t, out) // written even when a target fails
			if len(r.Targets) == 0 {
				t.Fatal("report has no targets")
			}
			if tc.code == exitFailure && !strings.Contains(stderr, "targets failed") {
				t.Errorf("stderr does not say targets failed:\n%s", stderr)
			}
		})
	}
}

func TestBenchBadInput(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	badTargets := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(badTargets, []byte("- {metric: speed, comparison: <, threshold: 1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"unknown flag", []string{"--bogus"}, exitUsage, "unknown flag: --bogus"},
		{"zero runs", []string{"--runs", "0"}, exitUsage, "--runs: 0, want >= 1"},
		{"negative warm-up", []string{"--warmup", "-1"}, exitUsage, "--warmup: -1, want >= 0"},
		{"zero output", []string{"--output-len", "0"}, exitUsage, "--output-len: 0 tokens, want >= 1"},
		{"zero input length", []string{"--input-len", "0"}, exitUsage, "--input-len: 0, want >= 1"},
		{"input length not a number", []string{"--input-len", "12x"}, exitUsage, "--input-len"},
		{"negative concurrency", []string{"--concurrency", "-2"}, exitUsage, "--concurrency: -2, want >= 1"},
		{"zero batch", []string{"--batch-sizes", "0"}, exitUsage, "--batch-sizes: 0, want >= 1"},
		{"beyond the context", []string{"--input-len", "2048"}, exitUsage, "--input-len: input 2048 + output 4 tokens need 2051 positions, the model's context is 64"},
		{"unknown phase", []string{"--phases", "latency,speed"}, exitUsage, `--phases: unknown phase "speed"`},
		{"unknown format", []string{"--format", "xml"}, exitUsage, `--format "xml": want table, json or markdown`},
		{"out is a file", []string{"--out", file}, exitUsage, "is not a directory"},
		{"out under a file", []string{"--out", filepath.Join(file, "sub")}, exitUsage, "is not a directory"},
		{"missing targets", []string{"--targets", filepath.Join(dir, "none.yaml")}, exitUsage, "--targets: targets: stat"},
		{"bad targets", []string{"--targets", badTargets}, exitUsage, `unknown metric "speed"`},
		{"target of a phase not run", []string{"--phases", "latency", "--targets", filepath.Join("..", "..", "bench", "testdata", "targets.json")}, exitUsage, "needs the throughput phase"},
		{"bad dtype", []string{"--dtype", "f8"}, exitUsage, "--dtype"},
		{"missing model", []string{"--model", filepath.Join(dir, "nope")}, exitFailure, "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, "out-"+strings.ReplaceAll(tc.name, " ", "-"))
			args := append([]string{"bench", "--model", tinyDir, "--quick", "--output-len", "4", "--out", out}, tc.args...) // a later --out wins
			code, stdout, stderr := runCLI(t, args...)
			if code != tc.code || !strings.Contains(stderr, tc.msg) {
				t.Fatalf("exit %d, stderr:\n%s\nwant exit %d and %q", code, stderr, tc.code, tc.msg)
			}
			if stdout != "" {
				t.Errorf("stdout not empty:\n%s", stdout)
			}
			if names := reports(t, out); len(names) != 0 {
				t.Errorf("--out holds %v after a refused run, want nothing", names)
			}
		})
	}
}

// cancelOn cancels a context when a line starting with prefix is written.
type cancelOn struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	prefix string
	cancel context.CancelFunc
}

func (w *cancelOn) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if bytes.HasPrefix(p, []byte(w.prefix)) {
		w.cancel()
	}
	return w.buf.Write(p)
}

// TestBenchInterrupted stops a bench as its phases start, by Ctrl-C and by
// SIGTERM (as main's signalContext cancels): both write the report marked
// incomplete and exit 128 + the signal.
func TestBenchInterrupted(t *testing.T) {
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, exitInterrupted}, {syscall.SIGTERM, 143}} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			out := t.TempDir()
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			// The signal as the phases start (the "benchmark:" line comes just before).
			stderr := &cancelOn{prefix: "benchmark:", cancel: func() { cancel(&signalError{tc.sig}) }}
			var stdout bytes.Buffer
			code := run(ctx, tinyBench(out, "8,16"), &stdout, stderr)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstderr:\n%s", code, tc.code, stderr.buf.String())
			}
			r := readOnlyReport(t, out)
			if !r.Incomplete || !strings.Contains(r.IncompleteReason, "interrupted during the latency phase") {
				t.Errorf("report incomplete %v, reason %q; want an interrupted latency phase", r.Incomplete, r.IncompleteReason)
			}
			if !strings.Contains(stdout.String(), "INCOMPLETE") || !strings.Contains(stderr.buf.String(), "interrupted; the incomplete report is") {
				t.Errorf("stdout/stderr do not say the run is incomplete:\n%s\n%s", stdout.String(), stderr.buf.String())
			}
		})
	}
}
