package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

var servingLine = regexp.MustCompile(`serving (\S+) at (http://127\.0\.0\.1:\d+/v1)\n`)

// startServe runs gpt2bench serve with args and returns its base URL, its
// stderr and a channel with its exit code.
func startServe(t *testing.T, ctx context.Context, args ...string) (string, *lockedBuffer, chan int) {
	t.Helper()
	var out bytes.Buffer
	errb := &lockedBuffer{}
	code := make(chan int, 1)
	go func() {
		code <- runIO(ctx, append([]string{"serve", "--port", "0"}, args...), strings.NewReader(""), &out, errb)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := servingLine.FindStringSubmatch(errb.String()); m != nil {
			return m[2], errb, code
		}
		select {
		case c := <-code:
			t.Fatalf("serve exited %d before it was ready: %s", c, errb.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not ready after 30 s: %s", errb.String())
		}
	}
}

func TestServe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url, stderr, code := startServe(t, ctx, "--model", tinyDir, "--log-format", "json")
	if m := servingLine.FindStringSubmatch(stderr.String()); m[1] != "tiny-gpt2" {
		t.Errorf("served model name %q, want the directory's base name tiny-gpt2", m[1])
	}
	resp, err := http.Post(url+"/completions", "application/json", strings.NewReader(`{"model": "tiny-gpt2", "prompt": [1, 2, 3], "max_tokens": 4, "temperature": 0}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"text_completion"`) {
		t.Fatalf("completion: %d %s", resp.StatusCode, b)
	}
	cancel() // Ctrl-C
	select {
	case c := <-code:
		if c != exitOK {
			t.Fatalf("exit %d after Ctrl-C, want 0: %s", c, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not exit 30 s after Ctrl-C")
	}
	// the access log: one JSON record per request with its id, status,
	// tokens, timings and finish reason
	var rec map[string]any
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, `"msg":"request"`) && strings.Contains(line, `"/v1/completions"`) {
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("access log line is not JSON: %v: %s", err, line)
			}
		}
	}
	if rec == nil {
		t.Fatalf("no JSON access log of the completion: %s", stderr.String())
	}
	for k, want := range map[string]any{"status": 200.0, "prompt_tokens": 3.0, "output_tokens": 4.0, "finish_reason": "length", "stream": false} {
		if rec[k] != want {
			t.Errorf("access log %s = %v, want %v: %v", k, rec[k], want, rec)
		}
	}
	if id, _ := rec["id"].(string); id == "" || resp.Header.Get("X-Request-Id") != id {
		t.Errorf("access log id %v, response X-Request-Id %q", rec["id"], resp.Header.Get("X-Request-Id"))
	}
	for _, k := range []string{"queue_ms", "prefill_ms", "ttft_ms", "decode_ms", "duration_ms"} {
		if v, ok := rec[k].(float64); !ok || v < 0 {
			t.Errorf("access log %s = %v", k, rec[k])
		}
	}
}

// TestServeSIGTERM: SIGTERM drains, the request in flight finishes, exit 0.
func TestServeSIGTERM(t *testing.T) {
	url, stderr, code := startServe(t, context.Background(), "--model", tinyDir, "--log-format", "off", "--served-model-name", "x", "--shutdown-timeout", "60s")
	resp, err := http.Post(url+"/completions", "application/json", strings.NewReader(`{"prompt": [1, 2, 3], "max_tokens": 60, "ignore_eos": true, "stream": true}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(br)
	if !strings.HasSuffix(string(rest), "data: [DONE]\n\n") || strings.Contains(string(rest), `"error"`) {
		t.Errorf("the stream in flight did not finish: %s", rest)
	}
	select {
	case c := <-code:
		if c != exitOK {
			t.Fatalf("exit %d after SIGTERM, want 0: %s", c, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not exit 30 s after SIGTERM")
	}
}

func TestServeUsage(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--log-format", "xml"},
		{"serve", "--backend", "gonum"},
		{"serve", "--port", "70000"},
		{"serve", "--kv-cache-memory", "lots"},
		{"serve", "--max-body-bytes", "0"},
		{"serve", "extra"},
	} {
		if code, _, stderr := runCLI(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d: %s", args, code, exitUsage, stderr)
		}
	}
	// --help shows a curl example that runs against the default port.
	if code, stdout, _ := runCLI(t, "serve", "--help"); code != exitOK || !strings.Contains(stdout, "curl -s http://127.0.0.1:8000/v1/completions") {
		t.Errorf("serve --help: exit %d, no curl example:\n%s", code, stdout)
	}
	// A port in use is a failure, not a usage error.
	url, _, code := startServe(t, context.Background(), "--model", tinyDir, "--log-format", "off")
	port := url[strings.LastIndex(url, ":")+1 : len(url)-len("/v1")]
	if c, _, stderr := runCLI(t, "serve", "--model", tinyDir, "--port", port); c != exitFailure || !strings.Contains(stderr, "address already in use") {
		t.Errorf("port in use: exit %d: %s", c, stderr)
	}
	syscall.Kill(syscall.Getpid(), syscall.SIGTERM)
	<-code
}

// serveTiny starts gpt2bench serve on the tiny fixture (startServe) with
// extra flags and returns its base URL; the server is stopped when the
// test ends.
func serveTiny(t *testing.T, extra ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	url, _, code := startServe(t, ctx, append([]string{"--model", tinyDir, "--log-format", "off"}, extra...)...)
	t.Cleanup(func() {
		cancel()
		select {
		case <-code:
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop within 30 s of the cancel")
		}
	})
	return url
}
