package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/spf13/cobra"

	"github.com/gpt2bench/gpt2bench/bench/report"
)

// TestExitCodes is the table README's exit codes promise: 0 success, 1
// failure, 2 usage (with a hint naming the command's --help), 128 + n for
// signal n (130 Ctrl-C, 143 SIGTERM).
func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	incomplete := filepath.Join(dir, "incomplete.json")
	r, err := report.Read(goldenReport)
	if err != nil {
		t.Fatal(err)
	}
	r.Incomplete, r.IncompleteReason = true, "interrupted during the throughput phase"
	data, err := report.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(incomplete, data, 0o644); err != nil {
		t.Fatal(err)
	}
	// Directories of 4 reports a side, the least a gate at alpha 0.05 takes.
	base, withIncomplete := filepath.Join(dir, "base"), filepath.Join(dir, "new")
	golden, err := os.ReadFile(goldenReport)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		os.MkdirAll(base, 0o755)
		os.MkdirAll(withIncomplete, 0o755)
		os.WriteFile(filepath.Join(base, fmt.Sprintf("r%d.json", i)), golden, 0o644)
		if i < 3 {
			os.WriteFile(filepath.Join(withIncomplete, fmt.Sprintf("r%d.json", i)), golden, 0o644)
		}
	}
	os.WriteFile(filepath.Join(withIncomplete, "r3.json"), data, 0o644)
	noDir := filepath.Join(dir, "no", "such", "dir")
	tests := []struct {
		name string
		args []string
		code int
		want string // in stderr
	}{
		{"version", []string{"version"}, exitOK, ""},
		{"--version", []string{"--version"}, exitOK, ""},
		{"unknown command", []string{"frobnicate"}, exitUsage, "unknown command"},
		{"detokenize without ids", []string{"detokenize"}, exitUsage, "no token ids"},
		{"compare one report", []string{"compare", goldenReport}, exitUsage, "requires at least 2 arg(s)"},
		{"bench extra argument", []string{"bench", "extra"}, exitUsage, `unknown command "extra"`},
		{"bool flag given a value", []string{"bench", "--profile", "false"}, exitUsage, `"false"`},
		{"bad revision", []string{"generate", "--prompt", "x", "--revision", "../x"}, exitUsage, "--revision"},
		{"bad download revision", []string{"download", "gpt2", "--revision", "a/../../b"}, exitUsage, "--revision"},
		{"bad include pattern", []string{"download", "gpt2", "--include", "[x"}, exitUsage, "--include"},
		{"unwritable cpuprofile", []string{"--cpuprofile", filepath.Join(noDir, "cpu.out"), "version"}, exitUsage, "--cpuprofile"},
		{"unwritable trace", []string{"--trace", filepath.Join(noDir, "t.out"), "version"}, exitUsage, "--trace"},
		{"unwritable memprofile", []string{"--memprofile", filepath.Join(noDir, "m.out"), "version"}, exitUsage, "--memprofile"},
		{"profile two input lengths", []string{"profile", "--input-len", "8,16"}, exitUsage, "one input length"},
		{"failure: missing model", []string{"verify", "--model", filepath.Join(dir, "none"), "--reference", tinyRef}, exitFailure, "none"},
		{"gate on an incomplete report", []string{"compare", base, withIncomplete, "--threshold", "5%"}, exitFailure, "incomplete report"},
		{"incomplete allowed", []string{"compare", base, withIncomplete, "--threshold", "5%", "--allow-incomplete"}, exitOK, ""},
		{"gate on one report a side", []string{"compare", goldenReport, incomplete, "--threshold", "5%"}, exitUsage, "a gate needs 4 or more a side"},
	}
	hint := regexp.MustCompile(`run 'gpt2bench( [a-z]+)? --help' for usage`)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(errs, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d mentioning %q", code, errs, tc.code, tc.want)
			}
			if got := hint.MatchString(errs); got != (tc.code == exitUsage) {
				t.Errorf("usage hint present %v, want %v:\n%s", got, tc.code == exitUsage, errs)
			}
		})
	}
	t.Run("version and --version agree", func(t *testing.T) {
		_, a, _ := runCLI(t, "version")
		_, b, _ := runCLI(t, "--version")
		if a != b || !strings.HasPrefix(a, "gpt2bench ") {
			t.Errorf("version %q, --version %q", a, b)
		}
	})
	t.Run("a panic exits 1, not 2", func(t *testing.T) {
		var out, errb bytes.Buffer
		root := newRootCmd(&app{stdout: &out, stderr: &errb, getenv: os.Getenv})
		root.RunE = func(*cobra.Command, []string) error { panic("boom") }
		err := execute(context.Background(), root)
		var pe *panicError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), "internal error: boom") {
			t.Fatalf("err = %v, want a *panicError", err)
		}
	})
	t.Run("signals", func(t *testing.T) {
		for _, tc := range []struct {
			sig  syscall.Signal
			code int
		}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
			ctx, cancel := context.WithCancelCause(context.Background())
			cancel(&signalError{tc.sig})
			var out, errb bytes.Buffer
			// A model command that stops at its first context check.
			code := run(ctx, []string{"perplexity", "--model", tinyDir, filepath.Join(tinyDir, "config.json")}, &out, &errb)
			if code != tc.code {
				t.Errorf("%v: exit %d, want %d; stderr %q", tc.sig, code, tc.code, errb.String())
			}
		}
	})
}

// TestOfflineMessage checks a hub model missing from the cache in offline
// mode says so, instead of only telling the user to download it.
func TestOfflineMessage(t *testing.T) {
	t.Setenv("HF_HUB_CACHE", t.TempDir())
	t.Setenv("HF_HUB_OFFLINE", "1")
	code, _, errs := runCLI(t, "generate", "--model", "gpt2", "--prompt", "x")
	if code != exitFailure || !strings.Contains(errs, "offline mode (HF_HUB_OFFLINE is set)") || !strings.Contains(errs, "gpt2bench download gpt2") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}
