package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
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
// made-up limits, so no test calibrates. The bandwidth is far above any
// machine's (the tiny model runs from the caches), so that no phase reads
// above 105% of it and makes profile measure again.
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
		Key: profile.MachineKey(), CPU: "test", Cores: 2, Kernel: profile.KernelName(), BufferBytes: 512 << 20,
		MemRead1Core: profile.Measure{Median: 4000, Min: 4000, Max: 4000}, MemReadAll: profile.Measure{Median: 8000, Min: 8000, Max: 8000},
		Peak1Core: profile.Measure{Median: 125000, Min: 125000, Max: 125000}, PeakAll: profile.Measure{Median: 250000, Min: 250000, Max: 250000},
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
	if code != exitOK || json.Unmarshal([]byte(out), &l) != nil || l.PeakAll.Median != 250000 {
		t.Errorf("json: exit %d, stdout:\n%s", code, out)
	}
}

func TestCalibrateCmdForce(t *testing.T) {
	withCachedLimits(t)
	code, out, errs := runCLI(t, "calibrate", "--force", "--runs", "1", "--buffer-mb", "8", "--threads", "1") // one run, one core: steady, so cached
	if code != exitOK || !strings.Contains(out, "float32 FMA peak") || !strings.Contains(errs, "cached in") {
		t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s", code, out, errs)
	}
}

// TestRecheckLowCalibration checks a profile reading above 105% of cached
// limits measures them again and is placed on the new ones, and that the
// new ones are cached only when steady.
func TestRecheckLowCalibration(t *testing.T) {
	withCachedLimits(t)
	path, err := profile.DefaultLimitsPath()
	if err != nil {
		t.Fatal(err)
	}
	low := &profile.Limits{Key: profile.MachineKey(), Cores: 1, Kernel: profile.KernelName(),
		MemRead1Core: profile.Measure{Max: 1, Median: 1, Min: 1}, MemReadAll: profile.Measure{Max: 1, Median: 1, Min: 1},
		Peak1Core: profile.Measure{Max: 1000, Median: 1000, Min: 1000}, PeakAll: profile.Measure{Max: 1000, Median: 1000, Min: 1000}}
	p := &profile.Profile{Threads: 1, Limits: low, Phases: []profile.PhaseSummary{{Phase: "decode", GBPerS: 1.4, BandwidthShare: 1.4, Bytes: 1e9, FLOPs: 1e8}}}
	var errb bytes.Buffer
	a := &app{stdout: io.Discard, stderr: &errb}
	tgt := profileTarget{limits: low, threads: 1, cached: true,
		calib: profile.CalibrateOptions{BufferBytes: 8 << 20, Runs: 2, Threads: 1, FMADuration: 2 * time.Millisecond}}
	if err := tgt.recheck(context.Background(), a, p); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errb.String(), "decode ran at 140% of the cached memory bandwidth") {
		t.Errorf("stderr does not say why it measures again:\n%s", errb.String())
	}
	if p.Limits == low || p.Phases[0].BandwidthShare >= 1.4 || tgt.cached {
		t.Errorf("profile not placed on the new calibration: limits %p, share %v", p.Limits, p.Phases[0].BandwidthShare)
	}
	cachedNow, err := profile.LoadLimits(path, profile.MachineKey())
	if err != nil {
		t.Fatal(err)
	}
	steady := p.Limits.Unsteady() == ""
	if replaced := cachedNow.MeasuredAt.Equal(p.Limits.MeasuredAt); replaced != steady {
		t.Errorf("cache replaced %v, but the new calibration steady %v (%s)", replaced, steady, p.Limits.Unsteady())
	}
	// A second recheck does nothing: the limits are no longer the cached ones.
	errb.Reset()
	p.Phases[0].BandwidthShare = 2
	if err := tgt.recheck(context.Background(), a, p); err != nil || errb.Len() != 0 {
		t.Errorf("second recheck: %v, %q", err, errb.String())
	}
}
