package report

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRealBenchstat runs golang.org/x/perf's benchstat, as a user would,
// on two reports written by WriteBenchstat (the second 20% slower, another
// run name and commit): the plain `benchstat old new` must print one
// comparison (a "vs base" column) per unit, not a table per file. CI
// installs benchstat (.ci/run); without it the test skips.
func TestRealBenchstat(t *testing.T) {
	bin, err := exec.LookPath("benchstat")
	if err != nil {
		t.Skip("benchstat not in PATH (go install golang.org/x/perf/cmd/benchstat@latest); skipping the real-tool check")
	}
	dir := t.TempDir()
	a, b := fakeReport(1, 1), fakeReport(2, 1.2)
	b.ReportName, b.SystemInfo.GitCommit = "gpt2_20260129_090000", "9e8d7c6"
	for name, r := range map[string]*Report{"old.txt": a, "new.txt": b} {
		var buf bytes.Buffer
		if err := WriteBenchstat(&buf, r); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, "old.txt", "new.txt")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("benchstat: %v\n%s", err, out)
	}
	s := string(out)
	t.Logf("benchstat old.txt new.txt:\n%s", s)
	if n := strings.Count(s, "vs base"); n < 5 {
		t.Errorf("benchstat printed %d comparisons (\"vs base\"), want one per unit (sec/op, ttft-ms, tpot-ms, itl-ms, tok/s...):\n%s", n, s)
	}
	if strings.Contains(s, "report:") || strings.Contains(s, "commit:") {
		t.Errorf("a per-run key reached benchstat's table headers:\n%s", s)
	}
	for _, unit := range []string{"ttft-ms", "itl-ms", "tok/s"} {
		if !strings.Contains(s, unit) {
			t.Errorf("no %s table:\n%s", unit, s)
		}
	}
	// 20% slower everywhere, 10 runs a side: significant, with a p-value.
	if !strings.Contains(s, "p=0.000 n=10") {
		t.Errorf("no significant change with n=10 a side:\n%s", s)
	}
}
