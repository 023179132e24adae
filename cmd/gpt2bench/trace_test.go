package main

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestTraceTasks writes a --trace of a profile run and reads it with the
// real `go tool trace -d=parsed`: each generation is its own task, the
// op regions belong to the two traced generations only (the profiled one
// and the overhead run), and the tracer's cost calibration adds no fake
// op regions.
func TestTraceTasks(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not in PATH: cannot run go tool trace")
	}
	withCachedLimits(t)
	out := filepath.Join(t.TempDir(), "trace.out")
	code, _, errs := runCLI(t, "profile", "--model", tinyDir, "--input-len", "4", "--output-len", "3",
		"--warmup", "1", "--overhead-runs", "1", "--no-calibrate", "--trace", out)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	tool := exec.Command(goBin, "tool", "trace", "-d=parsed", out)
	tool.Env = goEnv()
	dump, err := tool.CombinedOutput()
	if err != nil {
		t.Fatalf("go tool trace: %v\n%.2000s", err, dump)
	}
	tasks := map[string]string{} // ID -> type
	var order []string
	taskRE := regexp.MustCompile(`TaskBegin .*ID=(\d+) .*Type="([^"]*)"`)
	regionRE := regexp.MustCompile(`RegionBegin .*Task=(\d+) Type="([^"]*)"`)
	regions := map[string]map[string]int{} // task type -> region type -> count
	for _, line := range strings.Split(string(dump), "\n") {
		if m := taskRE.FindStringSubmatch(line); m != nil {
			tasks[m[1]] = m[2]
			order = append(order, m[2])
		}
		if m := regionRE.FindStringSubmatch(line); m != nil {
			typ := tasks[m[1]]
			if regions[typ] == nil {
				regions[typ] = map[string]int{}
			}
			regions[typ][m[2]]++
		}
	}
	want := []string{"profile: warm-up generation", "profile: profiled generation",
		"profile: tracer cost calibration (no regions)", "profile: overhead, untraced generation", "profile: overhead, traced generation"}
	if strings.Join(order, "|") != strings.Join(want, "|") {
		t.Errorf("tasks %q, want %q", order, want)
	}
	// tiny-gpt2: 2 layers, 3 steps (1 prefill + 2 decode): 6 gelu regions per traced generation.
	for typ, want := range map[string]int{"profile: profiled generation": 6, "profile: overhead, traced generation": 6} {
		if got := regions[typ]["gelu"]; got != want {
			t.Errorf("%s: %d gelu regions, want %d", typ, got, want)
		}
	}
	for typ, rs := range regions {
		if typ != "profile: profiled generation" && typ != "profile: overhead, traced generation" {
			t.Errorf("regions outside the traced generations, under task %q: %v", typ, rs)
		}
	}
}
