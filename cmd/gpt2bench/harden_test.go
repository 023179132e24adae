package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/gpt2bench/gpt2bench/bench/report"
	"github.com/gpt2bench/gpt2bench/model"
	"github.com/gpt2bench/gpt2bench/weights"
)

// TestBadBoundsAreUsageErrors: absurd sizes are refused before any work,
// with exit 2 and the flag named (issue 16: --threads 100000000 crashed in
// tensor.NewPool, --concurrency 100000 took 12 GB, a NaN target threshold
// lost a finished benchmark).
func TestBadBoundsAreUsageErrors(t *testing.T) {
	dir := t.TempDir()
	nan := filepath.Join(dir, "nan.yaml")
	os.WriteFile(nan, []byte("- {metric: latency.ttft_ms.p50, comparison: <, threshold: .nan}\n"), 0o644)
	inf := filepath.Join(dir, "inf.yaml")
	os.WriteFile(inf, []byte("- {metric: latency.ttft_ms.p50, comparison: <, threshold: .inf}\n"), 0o644)
	out := filepath.Join(dir, "out")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"threads", []string{"generate", "--model", tinyDir, "--prompt-ids", "1", "--threads", "100000000"}, fmt.Sprintf("--threads 100000000: want 0..%d", 4*runtime.NumCPU())},
		{"concurrency", []string{"bench", "--model", tinyDir, "--phases", "throughput", "--concurrency", "100000", "--out", out}, "--concurrency: 100000, want at most 4096"},
		{"batch sizes", []string{"bench", "--model", tinyDir, "--phases", "throughput", "--batch-sizes", "100000", "--out", out}, "--batch-sizes: 100000, want at most 4096"},
		{"NaN target", []string{"bench", "--model", tinyDir, "--phases", "latency", "--targets", nan, "--out", out}, "threshold NaN, want a finite number"},
		{"Inf target", []string{"bench", "--model", tinyDir, "--phases", "latency", "--targets", inf, "--out", out}, "threshold +Inf, want a finite number"},
		{"KV cache memory", []string{"bench", "--model", tinyDir, "--phases", "throughput", "--continuous", "4", "--kv-cache-memory", "1PB", "--out", out}, "--kv-cache-memory 1PB needs 931322.6 GiB, only "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := runCLI(t, tc.args...)
			if code != exitUsage || !strings.Contains(errs, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit 2 mentioning %q", code, errs, tc.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("%s was written before the usage error", out)
			}
		})
	}
}

// TestTemperatureFloorIsGreedy: a temperature below model.MinTemperature
// generates what greedy does (1e-39 used to pick the last id every time).
func TestTemperatureFloorIsGreedy(t *testing.T) {
	args := []string{"generate", "--model", tinyDir, "--prompt-ids", "203,802,2", "-n", "6", "--ids"}
	_, greedy, _ := runCLI(t, args...)
	code, tiny, errs := runCLI(t, append(args, "--temperature", "1e-39", "--seed", "3")...)
	if code != exitOK || tiny != greedy {
		t.Errorf("temperature 1e-39: exit %d, %q; greedy gives %q (stderr %q)", code, tiny, greedy, errs)
	}
}

// TestGenerateSizesTheCache: a checkpoint with n_positions 2^20 and 1024
// layers (38 MB) generates and benchmarks with caches of prompt + output
// positions; they used to ask for 64 GiB, the full context.
func TestGenerateSizesTheCache(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 38 MB checkpoint")
	}
	cfg := model.Config{VocabSize: 16, NPositions: 1 << 20, NEmbd: 8, NLayer: 1024, NHead: 1, LayerNormEps: 1e-5, Activation: "gelu_new"}
	p, err := model.RandomParams(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "long")
	if err := weights.Save(context.Background(), dir, cfg, p); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI(t, "generate", "--model", dir, "--prompt-ids", "1,2", "-n", "3", "--ids")
	if code != exitOK || strings.Count(out, ",") != 2 {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	// bench, every phase and mode (the continuous engine's automatic KV
	// cache asked for 16 full contexts: 4 TiB).
	code, out, errs = runCLI(t, "bench", "--model", dir, "--quick", "--input-len", "8", "--output-len", "4", "--out", t.TempDir(), "--quiet", "--profile=false")
	if code != exitOK || !strings.Contains(out, "continuous") {
		t.Fatalf("bench: exit %d\n%s\n%s", code, out, errs)
	}
}

// TestExportInterrupted: Ctrl-C during export exits 130 and leaves no file;
// a temporary file a killed export left is removed by the next export.
func TestExportInterrupted(t *testing.T) {
	out := filepath.Join(t.TempDir(), "m")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(&signalError{syscall.SIGINT})
	var stdout, stderr bytes.Buffer
	if code := run(ctx, []string{"export", "--model", tinyDir, "--out", out}, &stdout, &stderr); code != exitInterrupted {
		t.Fatalf("exit %d, want 130; stderr %q", code, stderr.String())
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("an interrupted export left %v", entries)
	}

	// A temp file of the naming of internal/atomicfile, from a process
	// that no longer runs (as after SIGKILL).
	c := exec.Command("true")
	if err := c.Run(); err != nil {
		t.Skip("no true(1):", err)
	}
	stale := filepath.Join(out, fmt.Sprintf(".model.safetensors.%d.42.tmp", c.Process.Pid))
	os.MkdirAll(out, 0o755)
	if err := os.WriteFile(stale, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCLI(t, "export", "--model", tinyDir, "--out", out); code != exitOK {
		t.Fatalf("export: exit %d, %s", code, errs)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale temp file still there: %v", err)
	}
}

// TestReportNotLost: when --out cannot take the report after the run (here
// a file stands where the directory was), the report goes to the temporary
// directory and the error names both (issue 16: no finished measurement
// lost to a later error).
func TestReportNotLost(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	blocked := filepath.Join(t.TempDir(), "out")
	if err := os.WriteFile(blocked, []byte("a file, not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := report.Read("../../bench/report/testdata/gpt2_20260128_170152.json")
	if err != nil {
		t.Fatal(err)
	}
	r.ReportName = ""
	path, err := writeReport(blocked, r)
	if path == "" || filepath.Dir(path) != tmp || err == nil || !strings.Contains(err.Error(), "--out "+blocked) || !strings.Contains(err.Error(), "written to "+path) {
		t.Fatalf("writeReport = %q, %v; want a report in %s and an error naming both", path, err, tmp)
	}
	if _, err := report.Read(path); err != nil {
		t.Errorf("the fallback report: %v", err)
	}
	good := filepath.Join(t.TempDir(), "new", "dir")
	if path, err := writeReport(good, r); err != nil || filepath.Dir(path) != good {
		t.Errorf("writeReport(%s) = %q, %v", good, path, err)
	}
}

// TestBoundedInputFiles: perplexity of /dev/zero, a FIFO or a file over
// 64 MiB is a one-line error, exit 1 (/dev/zero ran out of memory), and so
// are a --reference and a --targets file that are devices (exit 1 and 2).
func TestBoundedInputFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip("mkfifo:", err)
	}
	big := filepath.Join(dir, "big.txt")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(maxStdinBytes + 1) // sparse: no 64 MiB written
	f.Close()
	for path, want := range map[string]string{"/dev/zero": "not a regular file", fifo: "not a regular file", big: "more than the 64 MiB"} {
		code, _, errs := runCLI(t, "perplexity", "--model", tinyDir, path)
		if code != exitFailure || !strings.Contains(errs, want) || strings.Count(errs, "\n") != 1 {
			t.Errorf("perplexity %s: exit %d, stderr %q; want exit 1 and one line with %q", path, code, errs, want)
		}
	}
	if code, _, errs := runCLI(t, "verify", "--model", tinyDir, "--reference", "/dev/zero"); code != exitFailure || !strings.Contains(errs, "not a regular file") {
		t.Errorf("verify --reference /dev/zero: exit %d, %q", code, errs)
	}
	if code, _, errs := runCLI(t, "bench", "--model", tinyDir, "--targets", fifo, "--out", dir); code != exitUsage || !strings.Contains(errs, "named pipe") {
		t.Errorf("bench --targets FIFO: exit %d, %q", code, errs)
	}
}

// TestReportHTMLSpecialTargets: report --html through a symlink writes the
// link's target and keeps the link; to /dev/null it writes in place (as
// root, the rename over a device replaced it with a regular file).
func TestReportHTMLSpecialTargets(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target.html")
	os.WriteFile(target, []byte("old"), 0o644)
	link := filepath.Join(dir, "link.html")
	if err := os.Symlink("target.html", link); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{link, "/dev/null"} {
		if code, _, errs := runCLI(t, "report", goldenReport, "--format", "csv", "--html", out); code != exitOK {
			t.Fatalf("report --html %s: exit %d, %s", out, code, errs)
		}
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symlink was replaced: %v", err)
	}
	if b, _ := os.ReadFile(target); !bytes.Contains(b, []byte("<html")) {
		t.Errorf("the link's target holds %.40q, not the page", b)
	}
	if fi, err := os.Lstat("/dev/null"); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Fatalf("/dev/null is no longer a device: %v %v", fi.Mode(), err)
	}
}
