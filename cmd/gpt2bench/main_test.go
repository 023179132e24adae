package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// fixtures are the checkpoints transformers wrote (see testdata/FIXTURES.md).
const (
	tinyDir = "../../testdata/tiny-gpt2"
	tinyRef = "../../testdata/tiny-gpt2/reference.json"
	f16Dir  = "../../testdata/tiny-gpt2-f16"
	f16Ref  = "../../testdata/tiny-gpt2-f16/reference.json"
)

// TestMain keeps the tests' calibration cache (profile, bench) out of the
// user's cache directory.
func TestMain(m *testing.M) {
	for _, k := range []string{"XDG_CACHE_HOME", "HOME"} {
		if v, ok := os.LookupEnv(k); ok {
			userEnv = append(userEnv, k+"="+v)
		}
	}
	dir, err := os.MkdirTemp("", "gpt2bench-cache-")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_CACHE_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// userEnv is XDG_CACHE_HOME and HOME before the tests changed them: the
// go command a test runs needs the user's build cache, not an empty one.
var userEnv []string

// goEnv is the environment for the go command: the user's cache and home.
func goEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "XDG_CACHE_HOME=") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	return append(env, userEnv...)
}

// runCLI runs the command line as main would, with empty stdin, and
// returns the exit code and output.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runStdin(t, "", args...)
}

// runStdin is runCLI with stdin.
func runStdin(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = runIO(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestTokenize(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"tokenize", "Hello world"}, "[15496,995]\n"},
		{[]string{"tokenize", " The quick brown fox jumps over the lazy dog."}, "[383,2068,7586,21831,18045,625,262,16931,3290,13]\n"},
		{[]string{"tokenize", "--special", "<|endoftext|>"}, "[50256]\n"},
		{[]string{"tokenize", ""}, "[]\n"},
		{[]string{"detokenize", "15496,995"}, "Hello world\n"},
		{[]string{"detokenize", "15496", "11", "995", "0"}, "Hello, world!\n"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errs := runCLI(t, tc.args...)
			if code != exitOK || out != tc.want {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 0, %q", code, out, errs, tc.want)
			}
		})
	}
}

// TestTokenizeStdin checks tokenize and detokenize read stdin when given no
// argument or "-", as Unix tools do, and that they pipe into each other.
func TestTokenizeStdin(t *testing.T) {
	tests := []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"no argument", "hi", []string{"tokenize"}, "[5303]\n"},
		{"dash", "Hello world", []string{"tokenize", "-"}, "[15496,995]\n"},
		{"echo's newline is kept", "hi\n", []string{"tokenize"}, "[5303,198]\n"},
		{"a dash argument with text is text", "", []string{"tokenize", "-", "x"}, "[12,2124]\n"},
		{"detokenize a JSON array", "[15496,995]\n", []string{"detokenize"}, "Hello world\n"},
		{"detokenize lines", "15496\n995\n", []string{"detokenize", "-"}, "Hello world\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runStdin(t, tc.stdin, tc.args...)
			if code != exitOK || out != tc.want {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 0, %q", code, out, errs, tc.want)
			}
		})
	}
}

// TestGenerateSeed checks sampling without --seed draws a seed and prints
// it, and that the printed seed repeats the text.
func TestGenerateSeed(t *testing.T) {
	args := []string{"generate", "--model", tinyDir, "--prompt-ids", "203,802,2", "--output-len", "12", "--ids", "--temperature", "1"}
	seedRE := regexp.MustCompile(`sampling with seed (\d+) \(--seed \d+ repeats this text\)`)
	var texts []string
	var seeds []string
	for range 2 {
		code, out, errs := runCLI(t, args...)
		m := seedRE.FindStringSubmatch(errs)
		if code != exitOK || m == nil {
			t.Fatalf("exit %d, stderr %q; want the drawn seed printed", code, errs)
		}
		texts, seeds = append(texts, out), append(seeds, m[1])
	}
	if seeds[0] == seeds[1] {
		t.Errorf("two runs without --seed drew the same seed %s", seeds[0])
	}
	code, again, errs := runCLI(t, append(args, "--seed", seeds[0])...)
	if code != exitOK || again != texts[0] {
		t.Errorf("--seed %s: exit %d, text %q, want %q (stderr %q)", seeds[0], code, again, texts[0], errs)
	}
	// The old flag name still works, hidden.
	if code, _, errs := runCLI(t, "generate", "--model", tinyDir, "--prompt-ids", "1", "--max-new-tokens", "2", "--ids"); code != exitOK {
		t.Errorf("--max-new-tokens: exit %d, %s", code, errs)
	}
}

func TestVerifyFixtures(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"safetensors", []string{"--model", tinyDir, "--reference", tinyRef}},
		{"zip-bin", []string{"--model", filepath.Join(tinyDir, "pytorch_model.bin"), "--config", filepath.Join(tinyDir, "config.json"), "--reference", tinyRef}},
		{"legacy-bin", []string{"--model", filepath.Join(tinyDir, "pytorch_model_legacy.bin"), "--config", filepath.Join(tinyDir, "config.json"), "--reference", tinyRef}},
		{"f16-safetensors", []string{"--model", f16Dir, "--reference", f16Ref}},
		{"safetensors-file", []string{"--model", filepath.Join(tinyDir, "model.safetensors"), "--config", filepath.Join(tinyDir, "config.json"), "--reference", tinyRef}},
		{"dtype-f16", []string{"--model", tinyDir, "--reference", tinyRef, "--dtype", "f16"}}, // --kv-dtype auto: f16
		{"dtype-f16-kv-f32", []string{"--model", tinyDir, "--reference", tinyRef, "--dtype", "f16", "--kv-dtype", "f32"}},
		{"threads-1", []string{"--model", tinyDir, "--reference", tinyRef, "--threads", "1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCLI(t, append([]string{"verify"}, tc.args...)...)
			if code != exitOK || !strings.Contains(out, "PASS") {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
			}
		})
	}
	t.Run("mismatch", func(t *testing.T) {
		// The f16 fixture's reference against the f32 model: other weights.
		code, out, _ := runCLI(t, "verify", "--model", tinyDir, "--reference", f16Ref)
		if code != exitFailure || !strings.Contains(out, "FAIL") {
			t.Fatalf("exit %d, stdout:\n%s\nwant exit 1 and FAIL", code, out)
		}
	})
}

func TestGenerate(t *testing.T) {
	// The fixture's greedy continuation, as token ids.
	code, out, errs := runCLI(t, "generate", "--model", tinyDir, "--prompt-ids", "203,802,2,239,451,327,163,54,121,360,272,784,562,834,975,276", "-n", "5", "--ids")
	if code != exitOK || out != "829,272,600,225,892\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	truncated := filepath.Join(dir, "truncated.safetensors")
	data, err := os.ReadFile(filepath.Join(tinyDir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(truncated, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	notPickle := filepath.Join(dir, "x.bin")
	if err := os.WriteFile(notPickle, []byte("PK\x03\x04 not really a zip"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string // in stderr
	}{
		{"unknown subcommand", []string{"frobnicate"}, exitUsage, "unknown command"},
		{"unknown flag", []string{"generate", "--frob"}, exitUsage, "unknown flag"},
		{"bad dtype", []string{"generate", "--prompt", "x", "--dtype", "f8"}, exitUsage, "unknown dtype"},
		{"bad kv dtype", []string{"generate", "--prompt", "x", "--kv-dtype", "int8"}, exitUsage, "--kv-dtype: \"int8\": want auto, f32 or f16"},
		{"bad backend", []string{"generate", "--prompt", "x", "--backend", "tpu"}, exitUsage, "--backend"},
		{"no prompt", []string{"generate"}, exitUsage, "--prompt"},
		{"zero tokens", []string{"generate", "--prompt", "x", "-n", "0"}, exitUsage, "--output-len (-n) 0"},
		{"bad temperature", []string{"generate", "--prompt", "x", "--temperature", "-1"}, exitUsage, "temperature"},
		{"bad top-p", []string{"generate", "--prompt", "x", "--top-p", "1.5"}, exitUsage, "top-p"},
		{"prompt too long", []string{"generate", "--model", tinyDir, "--prompt-ids", strings.Repeat("1,", 60) + "1", "-n", "10"}, exitFailure, "context is 64"},
		{"token outside vocab", []string{"generate", "--model", tinyDir, "--prompt", "Hello world", "-n", "2"}, exitFailure, "outside the model's vocabulary"},
		{"missing model", []string{"verify", "--model", filepath.Join(dir, "nope"), "--reference", tinyRef}, exitFailure, "nope"},
		{"truncated safetensors", []string{"verify", "--model", truncated, "--config", filepath.Join(tinyDir, "config.json"), "--reference", tinyRef}, exitFailure, "truncated"},
		{"corrupt zip", []string{"verify", "--model", notPickle, "--config", filepath.Join(tinyDir, "config.json"), "--reference", tinyRef}, exitFailure, "x.bin"},
		{"no reference", []string{"verify", "--model", tinyDir}, exitUsage, "--reference"},
		{"bad reference", []string{"verify", "--model", tinyDir, "--reference", filepath.Join(tinyDir, "config.json")}, exitFailure, "gpt2-reference/v1"},
		{"detokenize junk", []string{"detokenize", "12,abc"}, exitUsage, "not a token id"},
		{"detokenize out of range", []string{"detokenize", "50257"}, exitFailure, "50257"},
		{"bad download name", []string{"download", "not a repo!"}, exitUsage, "not a repo!"},
		{"continuous without a ragged step", []string{"bench", "--model", tinyDir, "--backend", "gonum", "--continuous", "2"}, exitUsage, "runs its ragged steps on --backend cpu only"},
		{"bad max-num-seqs", []string{"bench", "--model", tinyDir, "--max-num-seqs", "0"}, exitUsage, "--max-num-seqs 0"},
		{"bad kv-cache-memory", []string{"bench", "--model", tinyDir, "--kv-cache-memory", "lots"}, exitUsage, "--kv-cache-memory"},
		{"bad request rate", []string{"bench", "--model", tinyDir, "--request-rate", "-1"}, exitUsage, "--request-rate"},
		{"bad continuous", []string{"bench", "--model", tinyDir, "--continuous", "0"}, exitUsage, "--continuous"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(errs, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d mentioning %q", code, errs, tc.code, tc.want)
			}
			if strings.Contains(errs, "goroutine ") || strings.Contains(errs, "panic") {
				t.Fatalf("stderr has a stack trace:\n%s", errs)
			}
			if n := strings.Count(strings.TrimSpace(errs), "\n"); n > 3 {
				t.Errorf("error is %d lines, want a short message:\n%s", n+1, errs)
			}
		})
	}
}

// TestKVDTypeDescribed checks what --kv-dtype resolves to, as the
// description line names it: auto keeps float32 for f32 weights and
// takes a half cache for reduced-precision ones.
func TestKVDTypeDescribed(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // after "weights on cpu"
	}{
		{nil, "weights on cpu\n"},
		{[]string{"--dtype", "f16"}, "f16 weights on cpu, f16 KV cache\n"},
		{[]string{"--dtype", "int8", "--kv-dtype", "f32"}, "int8 weights on cpu\n"},
		{[]string{"--kv-dtype", "f16"}, "f32 weights on cpu, f16 KV cache\n"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			args := append([]string{"generate", "--model", tinyDir, "--prompt-ids", "203,802,2", "-n", "2", "--ids"}, tc.args...)
			code, _, errs := runCLI(t, args...)
			if code != exitOK || !strings.Contains(errs, tc.want) {
				t.Fatalf("exit %d, stderr %q; want 0 and %q", code, errs, tc.want)
			}
		})
	}
}
