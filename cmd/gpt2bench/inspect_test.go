package main

import (
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInspectCmd(t *testing.T) {
	out := t.TempDir()
	args := []string{"inspect", "--model", tinyDir, "--prompt-ids", "203,802,2,239,451,327", "--out", out, "--backend", "reference"}
	for run := 1; run <= 2; run++ { // the second run must not replace the first's files
		code, stdout, errs := runCLI(t, args...)
		if code != exitOK || !strings.Contains(stdout, "LOGIT LENS") || !strings.Contains(stdout, "block 1") || !strings.Contains(stdout, "model logits") {
			t.Fatalf("run %d: exit %d\nstdout:\n%s\nstderr:\n%s", run, code, stdout, errs)
		}
		if strings.Contains(stdout, "RANDOM") {
			t.Errorf("the fixture's weights are not the random default:\n%s", stdout)
		}
	}
	pngs, _ := filepath.Glob(filepath.Join(out, "tiny-gpt2_*_attention.png"))
	jsons, _ := filepath.Glob(filepath.Join(out, "tiny-gpt2_*_inspect.json"))
	if len(pngs) != 2 || len(jsons) != 2 {
		t.Fatalf("files in --out: %v %v, want two PNGs and two JSONs", pngs, jsons)
	}
	f, err := os.Open(pngs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Errorf("%s: %v", pngs[0], err)
	}
}

func TestInspectRandomDefaultSaysSo(t *testing.T) {
	if testing.Short() {
		t.Skip("loads the 124M-parameter default; skipped in -short mode")
	}
	code, stdout, errs := runCLI(t, "inspect", "--prompt", "Hello world", "--out", t.TempDir())
	if code != exitOK || !strings.Contains(stdout, "RANDOM weights") || !strings.Contains(stdout, "mean nothing") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, errs)
	}
}

func TestInspectUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"inspect", "--model", tinyDir}, "exactly one of --prompt"},
		{[]string{"inspect", "--model", tinyDir, "--prompt-ids", "1", "--top-k", "0"}, "--top-k 0"},
		{[]string{"inspect", "--model", tinyDir, "--prompt-ids", strings.Repeat("1,", 129) + "1"}, "at most 128"},
		{[]string{"inspect", "--model", tinyDir, "--prompt-ids", "1", "--backend", "cuda"}, "does not show"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			code, _, errs := runCLI(t, append(tc.args, "--out", t.TempDir())...)
			if code != exitUsage || !strings.Contains(errs, tc.want) {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", code, errs, tc.want)
			}
		})
	}
}
