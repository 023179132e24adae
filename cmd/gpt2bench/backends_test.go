package main

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Tolerances of the three backends on the fixtures, never loosened:
//   - the float64 reference against transformers' float32 logits, relative
//     to each logit's size (|error| / max(1, |logit|)): transformers' own
//     float32 rounding is ~1e-6 of the logit (1.2e-5 absolute on tiny-gpt2's
//     logits of up to 8.8);
//   - the float32 backends against the float64 reference, absolute.
const (
	refVsTransformersRelTol = 1e-5
	float32VsRefTol         = 1e-4
)

var relLine = regexp.MustCompile(`relative logit error ([0-9.e+-]+)`)
var logitLine = regexp.MustCompile(`max \|logit error\| +([0-9.e+-]+)`)

// TestBackendsAgreeOnFixtures checks through the CLI that on every fixture
// the reference matches transformers, and cpu and gonum match the reference.
func TestBackendsAgreeOnFixtures(t *testing.T) {
	for _, fx := range []struct{ dir, ref string }{{tinyDir, tinyRef}, {f16Dir, f16Ref}} {
		name := filepath.Base(fx.dir)
		for _, backend := range []string{"cpu", "gonum", "reference"} {
			t.Run(name+"/"+backend+"/transformers", func(t *testing.T) {
				code, out, errs := runCLI(t, "verify", "--model", fx.dir, "--reference", fx.ref, "--backend", backend)
				if code != exitOK || !strings.Contains(out, "PASS") {
					t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
				}
				if backend != "reference" {
					return
				}
				m := relLine.FindStringSubmatch(out)
				if m == nil {
					t.Fatalf("no relative logit error in:\n%s", out)
				}
				if rel, _ := strconv.ParseFloat(m[1], 64); rel > refVsTransformersRelTol {
					t.Errorf("reference vs transformers: relative logit error %g, want <= %g\n%s", rel, refVsTransformersRelTol, out)
				}
			})
			if backend == "reference" {
				continue
			}
			t.Run(name+"/"+backend+"/against-reference", func(t *testing.T) {
				code, out, errs := runCLI(t, "verify", "--model", fx.dir, "--against", "reference", "--backend", backend, "--decode", "6")
				if code != exitOK || !strings.Contains(out, "PASS") || !strings.Contains(out, "PER LAYER") {
					t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
				}
				m := logitLine.FindStringSubmatch(out)
				if m == nil {
					t.Fatalf("no logit error in:\n%s", out)
				}
				if d, _ := strconv.ParseFloat(m[1], 64); d > float32VsRefTol {
					t.Errorf("%s vs reference: max |logit error| %g, want <= %g", backend, d, float32VsRefTol)
				}
				for _, op := range []string{"attn_softmax", "mlp_down", "residual_2", "ln_f"} {
					if !regexp.MustCompile(`(?m)^ *` + op + ` +-?\d`).MatchString(out) {
						t.Errorf("per-op table has no row for %s:\n%s", op, out)
					}
				}
			})
		}
	}
}

func TestBackendUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"verify", "--model", tinyDir, "--backend", "gonum", "--dtype", "f16", "--reference", tinyRef}, "float32 weights only"},
		{[]string{"verify", "--model", tinyDir, "--backend", "blas", "--reference", tinyRef}, "want cpu, gonum, reference or cuda"},
		{[]string{"verify", "--model", tinyDir, "--backend", "gonum", "--kv-dtype", "f16", "--reference", tinyRef}, "a half KV cache is the cpu backend's"},
		{[]string{"verify", "--model", tinyDir, "--backend", "reference", "--threads", "1", "--reference", tinyRef}, "GOMAXPROCS=1"},
		{[]string{"verify", "--model", tinyDir}, "--against reference"},
		{[]string{"verify", "--model", tinyDir, "--against", "transformers"}, "--against \"transformers\""},
		{[]string{"verify", "--model", tinyDir, "--against", "reference", "--decode", "-1"}, "--decode -1"},
	} {
		t.Run(strings.Join(tc.args[3:], " "), func(t *testing.T) {
			code, _, errs := runCLI(t, tc.args...)
			if code != exitUsage || !strings.Contains(errs, tc.want) {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", code, errs, tc.want)
			}
		})
	}
}

// TestBenchOtherBackends checks that bench --backend gonum and reference
// write valid reports naming the backend, with a per-op profile.
func TestBenchOtherBackends(t *testing.T) {
	withCachedLimits(t)
	for _, backend := range []string{"gonum", "reference"} {
		t.Run(backend, func(t *testing.T) {
			out := t.TempDir()
			code, _, errs := runCLI(t, tinyBench(out, "8", "--backend", backend, "--quiet")...)
			if code != exitOK {
				t.Fatalf("exit %d\nstderr:\n%s", code, errs)
			}
			r := readOnlyReport(t, out) // validated against the schema
			if r.SystemInfo.Backend != backend || r.Metadata.Device != backend {
				t.Errorf("system_info.backend %q, metadata.device %q; want %q", r.SystemInfo.Backend, r.Metadata.Device, backend)
			}
			if r.Profile == nil || len(r.Profile.Ops) == 0 {
				t.Fatalf("no per-op profile in the %s report", backend)
			}
			ops := map[string]bool{}
			for _, o := range r.Profile.Ops {
				ops[o.Op] = true
			}
			for _, op := range []string{"qkv", "attn_scores", "mlp_up", "logits"} {
				if !ops[op] {
					t.Errorf("profile has no %s op: %v", op, ops)
				}
			}
			if backend == "reference" {
				if _, ok := r.Memory[0].WeightsBytes["float64"]; !ok || r.Metadata.DType != "float64" {
					t.Errorf("reference report: weights %v, dtype %q; want float64", r.Memory[0].WeightsBytes, r.Metadata.DType)
				}
			}
		})
	}
}

// TestOtherBackendsGenerate checks generate and perplexity on the new backends.
func TestOtherBackendsGenerate(t *testing.T) {
	for _, backend := range []string{"gonum", "reference"} {
		t.Run(backend, func(t *testing.T) {
			code, out, errs := runCLI(t, "generate", "--model", tinyDir, "--backend", backend, "--prompt-ids", "203,802,2,239,451,327,163,54,121,360,272,784,562,834,975,276", "-n", "5", "--ids")
			if code != exitOK || out != "829,272,600,225,892\n" {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
			}
			withCachedLimits(t)
			code, out, errs = runCLI(t, "profile", "--model", tinyDir, "--backend", backend, "--input-len", "4", "--output-len", "2", "--overhead-runs", "0")
			if code != exitOK || !strings.Contains(out, "OPS, SUMMED OVER LAYERS") {
				t.Errorf("profile: exit %d, stdout:\n%s\nstderr:\n%s", code, out, errs)
			}
		})
	}
}

// TestCompareCPUWithGonum checks that compare of a cpu and a gonum report
// shows the time of each op on both and the speed-up.
func TestCompareCPUWithGonum(t *testing.T) {
	withCachedLimits(t)
	var paths []string
	for _, backend := range []string{"gonum", "cpu"} {
		out := t.TempDir()
		if code, _, errs := runCLI(t, tinyBench(out, "8", "--backend", backend, "--quiet", "--phases", "latency")...); code != exitOK {
			t.Fatalf("bench --backend %s: exit %d\n%s", backend, code, errs)
		}
		paths = append(paths, filepath.Join(out, reports(t, out)[0]))
	}
	code, _, errs := runCLI(t, "compare", paths[0], paths[1])
	if code != exitUsage && code != exitFailure || !strings.Contains(errs, "--force") {
		t.Errorf("compare of two backends without --force: exit %d, stderr %q; want a refusal naming --force", code, errs)
	}
	code, out, errs := runCLI(t, "compare", "--force", paths[0], paths[1])
	if code != exitOK || !strings.Contains(out, "PER-OP PROFILE") || !regexp.MustCompile(`(?m)^decode +qkv +\S+ +\S+ +[0-9.]+×`).MatchString(out) {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if !strings.Contains(out, `backend "gonum" vs "cpu-`) {
		t.Errorf("the differing backend is not listed:\n%s", out)
	}
}
