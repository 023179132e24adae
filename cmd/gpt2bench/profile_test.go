package main

import (
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gpt2bench/gpt2bench/model"
	"github.com/gpt2bench/gpt2bench/profile"
	"github.com/gpt2bench/gpt2bench/weights"
)

// withCachedLimits points the user cache at a temporary directory holding
// made-up limits, so no test calibrates.
func withCachedLimits(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", dir)
	t.Setenv("HOME", dir)
	path, err := profile.DefaultLimitsPath()
	if err != nil {
		t.Fatal(err)
	}
	l := &profile.Limits{
		Key: profile.MachineKey(), CPU: "test", Cores: 2, Kernel: "avx2-fma", BufferBytes: 512 << 20,
		MemRead1Core: profile.Measure{Median: 12, Min: 12, Max: 12}, MemReadAll: profile.Measure{Median: 20, Min: 20, Max: 20},
		Peak1Core: profile.Measure{Median: 125, Min: 125, Max: 125}, PeakAll: profile.Measure{Median: 250, Min: 250, Max: 250},
		MeasuredAt: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC),
	}
	if err := profile.SaveLimits(path, l); err != nil {
		t.Fatal(err)
	}
}

func TestProfileCmd(t *testing.T) {
	withCachedLimits(t)
	tl := filepath.Join(t.TempDir(), "timeline.json")
	code, out, errs := runCLI(t, "profile", "--model", tinyDir, "--input-len", "8", "--output-len", "4",
		"--overhead-runs", "1", "--timeline", tl, "--format", "json")
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errs)
	}
	var p profile.Profile
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("stdout is not a JSON profile: %v\n%s", err, out)
	}
	if len(p.Phases) != 2 || p.Phases[0].Phase != "prefill" || p.Phases[1].Steps != 3 || p.Limits == nil {
		t.Errorf("phases %+v, limits %v: want prefill and 3 decode steps, with limits", p.Phases, p.Limits)
	}
	if !strings.Contains(errs, "timeline:") {
		t.Errorf("stderr does not mention the timeline:\n%s", errs)
	}

	code, out, errs = runCLI(t, "profile", "--model", tinyDir, "--input-len", "4", "--output-len", "2", "--overhead-runs", "0")
	if code != exitOK || !strings.Contains(out, "OPS, SUMMED OVER LAYERS") || !strings.Contains(out, "of memory bandwidth") {
		t.Errorf("table: exit %d, stdout:\n%s\nstderr:\n%s", code, out, errs)
	}
}

// TestProfileStep checks the profile of one engine step: a mixed phase
// with every op, the step's FLOPs those of its shape.
func TestProfileStep(t *testing.T) {
	withCachedLimits(t)
	code, out, errs := runCLI(t, "profile", "--model", tinyDir, "--step-decodes", "3", "--step-chunk", "20", "--input-len", "30", "--format", "json")
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errs)
	}
	var p profile.Profile
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("stdout is not a JSON profile: %v\n%s", err, out)
	}
	if len(p.Phases) != 1 || p.Phases[0].Phase != "step" || p.Phases[0].Steps != 3 || p.InputLen != 23 {
		t.Fatalf("phases %+v, input %d: want one step phase of 3 steps over 23 rows", p.Phases, p.InputLen)
	}
	w, err := weights.Load(context.Background(), tinyDir, weights.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dec := model.SeqStep{Tokens: make([]int32, 1), Pos: 30, Logits: model.LogitsLast}
	st := model.RaggedStepShape([]model.SeqStep{dec, dec, dec, {Tokens: make([]int32, 20), Logits: model.LogitsLast}})
	want, _ := model.StepCost(w.Config, st, 4)
	if got := p.Phases[0].FLOPs; math.Abs(got-3*want) > 1e-6*want {
		t.Errorf("step FLOPs %g, want 3 x %g", got, want)
	}
	if code, _, errs := runCLI(t, "profile", "--model", tinyDir, "--step-decodes", "2", "--backend", "gonum"); code != exitUsage || !strings.Contains(errs, "cpu backend only") {
		t.Errorf("gonum step profile: exit %d, %s", code, errs)
	}
}

func TestProfileCmdUsage(t *testing.T) {
	withCachedLimits(t)
	for _, args := range [][]string{
		{"profile", "--input-len", "0"},
		{"profile", "--output-len", "0"},
		{"profile", "--format", "yaml"},
		{"profile", "--overhead-runs", "-1"},
		{"profile", "--model", tinyDir, "--input-len", "1000", "--output-len", "1000"},
		{"calibrate", "--runs", "0"},
		{"calibrate", "--format", "xml"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			if code, _, errs := runCLI(t, args...); code != exitUsage {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, exitUsage, errs)
			}
		})
	}
}

func TestCalibrateCmdCached(t *testing.T) {
	withCachedLimits(t)
	code, out, errs := runCLI(t, "calibrate")
	if code != exitOK || !strings.Contains(out, "memory read, 2 cores") || !strings.Contains(errs, "--force") {
		t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	code, out, _ = runCLI(t, "calibrate", "--format", "json")
	var l profile.Limits
	if code != exitOK || json.Unmarshal([]byte(out), &l) != nil || l.PeakAll.Median != 250 {
		t.Errorf("json: exit %d, stdout:\n%s", code, out)
	}
}

func TestCalibrateCmdForce(t *testing.T) {
	withCachedLimits(t)
	code, out, errs := runCLI(t, "calibrate", "--force", "--runs", "1", "--buffer-mb", "8")
	if code != exitOK || !strings.Contains(out, "float32 FMA peak") || !strings.Contains(errs, "cached in") {
		t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s", code, out, errs)
	}
}
