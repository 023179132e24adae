package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// mockLLMConfig makes mock-llm stream 16 one-character chunks 5 ms apart
// for every chat completion and list one model, "mock".
const mockLLMConfig = `streaming:
  chunkSize: 1
  chunkIntervalMs: 5
rules:
  - path: "/v1/chat/completions"
    method: "POST"
    match: "@"
    response:
      status: 200
      content: |
        {"id": "chatcmpl-{{timestamp}}", "object": "chat.completion", "model": "mock",
         "choices": [{"message": {"role": "assistant", "content": "abcdefghijklmnop"}, "finish_reason": "stop"}]}
  - path: "/v1/models"
    method: "GET"
    response:
      status: 200
      content: |
        {"object": "list", "data": [{"id": "mock", "object": "model", "owned_by": "mock-llm"}]}
`

// TestLoadThirdPartyServer runs gpt2bench load against mock-llm (npm
// @dwmkerr/mock-llm): an OpenAI-compatible server that nobody here wrote,
// on loopback. It is not an inference engine, but its HTTP, SSE and JSON
// are another project's. It skips, saying why, without node or the package
// (scripts/third-party-server.sh installs it in MOCK_LLM_DIR).
func TestLoadThirdPartyServer(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("no node on PATH: the third-party server mock-llm runs on Node (scripts/third-party-server.sh)")
	}
	dir := os.Getenv("MOCK_LLM_DIR")
	if dir == "" {
		dir = "/tmp/gpt2bench-mock-llm"
	}
	main := filepath.Join(dir, "node_modules", "@dwmkerr", "mock-llm", "dist", "main.js")
	if _, err := os.Stat(main); err != nil {
		t.Skipf("mock-llm is not installed at %s (scripts/third-party-server.sh installs it there; MOCK_LLM_DIR moves it)", main)
	}
	cfg := filepath.Join(t.TempDir(), "mock-llm.yaml")
	if err := os.WriteFile(cfg, []byte(mockLLMConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close() // mock-llm takes the port by number

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, main, "--config", cfg)
	cmd.Env = append(os.Environ(), "HOST=127.0.0.1", "PORT="+port)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "server running") {
				ready <- true
			}
		}
		close(ready)
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatal("mock-llm exited before it served")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("mock-llm not ready after 30 s")
	}
	url := "http://127.0.0.1:" + port + "/v1"

	out := t.TempDir()
	code, stdoutText, stderr := runCLI(t, "load", "--url", url, "--chat", "--concurrency", "1,4", "--num-requests", "12", "--warmup", "2",
		"--input-len", "16", "--output-len", "16", "--out", out)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdoutText, stderr)
	}
	r, n := readLoadReport(t, out)
	if r.ModelName != "mock" || n != 2*(12+2) || r.Load.Endpoint != "/chat/completions" {
		t.Errorf("model %q, %d records, endpoint %q", r.ModelName, n, r.Load.Endpoint)
	}
	for _, p := range r.Load.Points {
		if p.Completed != 12 || p.Failed != 0 || p.OutputLenMismatches != 0 || p.PromptLenMismatches != 0 {
			t.Errorf("%s: completed %d failed %d mismatches %d/%d: %+v", loadKey(p), p.Completed, p.Failed, p.OutputLenMismatches, p.PromptLenMismatches, p.Errors)
		}
		if p.ServerView != nil {
			t.Errorf("%s: a server view from a server that reports no timings: %+v", loadKey(p), p.ServerView)
		}
		if p.ITL.N != 12*15 || p.TPOT.N != 12 {
			t.Errorf("%s: %d gaps and %d TPOTs, want 12*15 and 12 (16 chunks a request)", loadKey(p), p.ITL.N, p.TPOT.N)
		}
	}
	// every record: 16 events, no usage (-1) from this server
	recs, _ := filepath.Glob(filepath.Join(out, "*.requests.jsonl"))
	b, err := os.ReadFile(recs[0])
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var rec struct {
			Events           int `json:"events"`
			CompletionTokens int `json:"completion_tokens"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil || rec.Events != 16 || rec.CompletionTokens != -1 {
			t.Errorf("record %d: %v %s", i, err, line)
		}
	}

	// Asking for 20 tokens of a server that sends 16: every request counted.
	out = t.TempDir()
	code, stdoutText, stderr = runCLI(t, "load", "--url", url, "--chat", "--concurrency", "2", "--num-requests", "6", "--warmup", "0",
		"--input-len", "16", "--output-len", "20", "--out", out)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdoutText, stderr)
	}
	r, _ = readLoadReport(t, out)
	if p := r.Load.Points[0]; p.OutputLenMismatches != 6 || p.Failed != 0 || len(p.Errors) != 1 || p.Errors[0].Class != "wrong_length" {
		t.Errorf("wrong lengths: mismatches %d, failed %d, errors %+v", p.OutputLenMismatches, p.Failed, p.Errors)
	}
}

// TestLoadLlamaServer runs gpt2bench load against llama.cpp's llama-server,
// an inference engine nobody here wrote, at GPT2BENCH_LLAMA_URL (e.g.
// http://127.0.0.1:18081/v1; scripts/llama-server.sh starts one on
// gpt2bench's exported weights and runs this test against it). It skips
// without the variable. Token-id prompts of exact length, ignore_eos and
// usage: no length mismatch, no failure (its server closes a connection
// after 5 requests: the requests caught by that are sent again), and the
// server's own timings read beside the client's.
func TestLoadLlamaServer(t *testing.T) {
	url := os.Getenv("GPT2BENCH_LLAMA_URL")
	if url == "" {
		t.Skip("GPT2BENCH_LLAMA_URL is not set: no llama-server to measure (scripts/llama-server.sh starts one)")
	}
	out := t.TempDir()
	code, stdoutText, stderr := runCLI(t, "load", "--url", url, "--concurrency", "1,2", "--num-requests", "6", "--warmup", "1",
		"--input-len", "32", "--output-len", "8", "--out", out)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdoutText, stderr)
	}
	r, n := readLoadReport(t, out)
	if n != 2*(6+1) || r.Load.Endpoint != "/completions" {
		t.Errorf("%d records, endpoint %q", n, r.Load.Endpoint)
	}
	for _, p := range r.Load.Points {
		if p.Completed != 6 || p.Failed != 0 || p.OutputLenMismatches != 0 || p.PromptLenMismatches != 0 {
			t.Errorf("%s: completed %d failed %d mismatches %d/%d: %+v", loadKey(p), p.Completed, p.Failed, p.OutputLenMismatches, p.PromptLenMismatches, p.Errors)
		}
		if p.ServerView == nil || p.ServerView.Source != "llama.cpp timings" || p.ServerView.Requests != 6 {
			t.Errorf("%s: server view %+v, want llama.cpp's timings of 6 requests", loadKey(p), p.ServerView)
		}
		// llama.cpp holds back a token that ends inside a UTF-8 sequence and
		// sends it with the next (random ids make many): up to 7 gaps each.
		if p.TPOT.N != 6 || p.ITL.N < 6 || p.ITL.N > 6*7 {
			t.Errorf("%s: %d TPOTs and %d gaps, want 6 and 6..42", loadKey(p), p.TPOT.N, p.ITL.N)
		}
	}
}
