package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gpt2bench/gpt2bench/bench/report"
)

const goldenReport = "../../bench/report/testdata/gpt2_20260128_170152.json"

// slowed writes a copy of the golden report whose latencies are 20% higher.
func slowed(t *testing.T, dir string) string {
	t.Helper()
	return scaledCopy(t, filepath.Join(dir, "slow.json"), 1.2)
}

// scaledCopy writes a copy of the golden report at path whose latencies
// are f times the golden ones.
func scaledCopy(t *testing.T, path string, f float64) string {
	t.Helper()
	r, err := report.Read(goldenReport)
	if err != nil {
		t.Fatal(err)
	}
	scale := func(s *report.Summary, f float64) {
		for i := range s.Samples {
			s.Samples[i] *= f
		}
		unit := s.SampleUnit
		*s = report.Summarize(s.Samples)
		s.SampleUnit = unit
	}
	for i := range r.Latency {
		l := &r.Latency[i]
		for _, s := range []*report.Summary{&l.TTFT, &l.TPOT, &l.ITL, l.ITLRunMedian, &l.E2E} {
			scale(s, f)
		}
		scale(&l.PrefillTokensPerS, 1/f)
		scale(&l.DecodeTokensPerS, 1/f)
	}
	data, err := report.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReportAndCompare(t *testing.T) {
	dir := t.TempDir()
	slow := slowed(t, dir)
	truncated := filepath.Join(dir, "truncated.json")
	data, _ := os.ReadFile(goldenReport)
	os.WriteFile(truncated, data[:len(data)/3], 0o644)
	future := filepath.Join(dir, "future.json")
	os.WriteFile(future, []byte(strings.Replace(string(data), `"schema_version": "1.5"`, `"schema_version": "7"`, 1)), 0o644)

	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // substring
		stderr string // substring
	}{
		{"table", []string{"report", goldenReport}, exitOK, "LATENCY", ""},
		{"markdown", []string{"report", goldenReport, "--format", "markdown"}, exitOK, "| ", ""},
		{"benchstat", []string{"report", goldenReport, "--format", "benchstat"}, exitOK, "ns/op", ""},
		{"html and plots", []string{"report", goldenReport, "--html", filepath.Join(dir, "r.html"), "--plots", filepath.Join(dir, "plots")}, exitOK, "", "wrote"},
		{"bad format", []string{"report", goldenReport, "--format", "xml"}, exitUsage, "", "--format"},
		{"truncated", []string{"report", truncated}, exitFailure, "", "truncated.json"},
		{"future version", []string{"report", future}, exitFailure, "", "7"},
		{"self", []string{"compare", goldenReport, goldenReport}, exitOK, "~", ""},
		{"one report a side is never significant", []string{"compare", goldenReport, slow}, exitOK, "note: one report a side", ""},
		{"no gate on one report a side", []string{"compare", goldenReport, slow, "--threshold", "5%"}, exitUsage, "", "a gate needs 4 or more a side"},
		{"bad threshold", []string{"compare", goldenReport, slow, "--threshold", "lots"}, exitUsage, "", "threshold"},
		{"bad alpha", []string{"compare", goldenReport, slow, "--alpha", "2"}, exitUsage, "", "alpha"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(out, tc.stdout) || !strings.Contains(errs, tc.stderr) {
				t.Fatalf("exit %d (want %d)\nstdout:\n%.2000s\nstderr:\n%s\nwant stdout ~ %q, stderr ~ %q", code, tc.code, out, errs, tc.stdout, tc.stderr)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "plots", "roofline.png")); err != nil {
		t.Errorf("plots not written: %v", err)
	}
}

// TestCompareDirectories: a directory a side pools its reports, one sample
// per report (issue 17: runs of one process cannot show how much processes
// differ); each process here has its own speed, within 4%.
func TestCompareDirectories(t *testing.T) {
	dir := t.TempDir()
	base, same, slow, empty := filepath.Join(dir, "base"), filepath.Join(dir, "same"), filepath.Join(dir, "slow"), filepath.Join(dir, "empty")
	for _, d := range []string{base, same, slow, empty} {
		os.Mkdir(d, 0o755)
	}
	huge := filepath.Join(dir, "huge")
	os.Mkdir(huge, 0o755)
	for i := range 17 { // sparse files: 17 x 16 MiB announced, nothing written
		f, err := os.Create(filepath.Join(huge, fmt.Sprintf("r%02d.json", i)))
		if err != nil {
			t.Fatal(err)
		}
		f.Truncate(16 << 20)
		f.Close()
	}
	speeds := []float64{1, 1.04, 0.97, 1.02, 0.99}
	for i, f := range speeds {
		scaledCopy(t, filepath.Join(base, fmt.Sprintf("r%d.json", i)), f)
		scaledCopy(t, filepath.Join(same, fmt.Sprintf("r%d.json", i)), speeds[(i+2)%len(speeds)])
		scaledCopy(t, filepath.Join(slow, fmt.Sprintf("r%d.json", i)), 1.2*f)
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"same build", []string{"compare", base, same, "--threshold", "5%"}, exitOK, "n=5+5", ""},
		{"slower build", []string{"compare", base, slow, "--threshold", "5%"}, exitFailure, "5 reports: ", "regression"},
		{"one report against a directory", []string{"compare", goldenReport, slow}, exitOK, "need >= 4 samples", ""},
		{"empty directory", []string{"compare", base, empty}, exitFailure, "", "holds no .json report"},
		{"too much to read", []string{"compare", base, huge}, exitFailure, "", "more than the 256 MiB one side may have"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(out, tc.stdout) || !strings.Contains(errs, tc.stderr) {
				t.Fatalf("exit %d (want %d)\nstdout:\n%.3000s\nstderr:\n%s\nwant stdout ~ %q, stderr ~ %q", code, tc.code, out, errs, tc.stdout, tc.stderr)
			}
			if strings.Contains(out, report.OneProcessNote) {
				t.Errorf("the one-process note under a pooled comparison:\n%s", out)
			}
		})
	}
}
