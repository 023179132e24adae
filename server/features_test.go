package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gpt2bench/gpt2bench/engine"
)

func TestDetok(t *testing.T) {
	euro := []byte("€") // 3 bytes
	tests := []struct {
		name        string
		stops       []string
		includeStop bool
		pieces      [][]byte
		emitted     []string // per push
		stopped     string
	}{
		{"plain", nil, false, [][]byte{[]byte("Hel"), []byte("lo")}, []string{"Hel", "lo"}, ""},
		{"split rune", nil, false, [][]byte{euro[:1], euro[1:2], euro[2:], []byte("!")}, []string{"", "", "€", "!"}, ""},
		{"stop inside a token", []string{"\n\n"}, false, [][]byte{[]byte("a"), []byte("b\n\nc")}, []string{"a", "b"}, "\n\n"},
		{"stop across tokens", []string{"END"}, false, [][]byte{[]byte("xE"), []byte("N"), []byte("Dy")}, []string{"x", "", ""}, "END"},
		{"held prefix released", []string{"END"}, false, [][]byte{[]byte("xE"), []byte("Nz")}, []string{"x", "ENz"}, ""},
		{"include stop", []string{"END"}, true, [][]byte{[]byte("xEN"), []byte("Dy")}, []string{"x", "END"}, "END"},
		{"first of two stops", []string{"b", "a"}, false, [][]byte{[]byte("xab")}, []string{"x"}, "a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newDetok(tc.stops, tc.includeStop)
			for i, p := range tc.pieces {
				if i >= len(tc.emitted) {
					break
				}
				got, _ := d.push(p)
				if got != tc.emitted[i] {
					t.Errorf("push %d (%q): emitted %q, want %q", i, p, got, tc.emitted[i])
				}
			}
			if d.stopped != tc.stopped {
				t.Errorf("stopped at %q, want %q", d.stopped, tc.stopped)
			}
		})
	}
}

// FuzzDetok: whatever the bytes and stops, the text emitted is the text
// up to the first stop string, and never contains one.
func FuzzDetok(f *testing.F) {
	f.Add([]byte("hello\n\nworld"), "\n\n", uint8(3))
	f.Add([]byte("€€€"), "€", uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, stop string, step uint8) {
		if stop == "" {
			return
		}
		n := int(step%7) + 1
		d := newDetok([]string{stop}, false)
		var out strings.Builder
		done := false
		for i := 0; i < len(data) && !done; i += n {
			s, hit := d.push(data[i:min(i+n, len(data))])
			out.WriteString(s)
			done = hit
		}
		if !done {
			out.WriteString(d.flush())
		}
		want := string(data)
		if j := strings.Index(want, stop); j >= 0 {
			want = want[:j]
		}
		if out.String() != want {
			t.Fatalf("emitted %q, want %q", out.String(), want)
		}
	})
}

func complete(t *testing.T, ts *testServer, body string) completionResponse {
	t.Helper()
	status, b := post(t, ts.url+"/v1/completions", body)
	if status != 200 {
		t.Fatalf("status %d: %s", status, b)
	}
	var r completionResponse
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCompletionFeatures(t *testing.T) {
	ts := start(t, engine.Config{}, Options{})
	tk := sharedTokenizer(t)
	base := complete(t, ts, `{"prompt": [11, 12, 13], "max_tokens": 20, "temperature": 0, "ignore_eos": true}`)
	text := base.Choices[0].Text

	t.Run("stop string", func(t *testing.T) {
		// stop at a piece of the greedy text: it ends there, trimmed
		var stop string
		for _, w := range []int{3, 2, 1} {
			if len(text) > 6+w {
				stop = text[6 : 6+w]
				break
			}
		}
		if stop == "" {
			t.Skipf("greedy text %q too short", text)
		}
		body := fmt.Sprintf(`{"prompt": [11, 12, 13], "max_tokens": 20, "temperature": 0, "ignore_eos": true, "stop": %q}`, stop)
		r := complete(t, ts, body)
		want := text[:strings.Index(text, stop)]
		if c := r.Choices[0]; c.Text != want || *c.FinishReason != "stop" || c.StopReason != stop {
			t.Errorf("text %q finish %v stop_reason %v; want %q, stop, %q", c.Text, *c.FinishReason, c.StopReason, want, stop)
		}
		if r.Usage.CompletionTokens >= 20 {
			t.Errorf("%d tokens: the request was not stopped", r.Usage.CompletionTokens)
		}
		// streamed: the same text
		resp, err := http.Post(ts.url+"/v1/completions", "application/json", strings.NewReader(strings.Replace(body, "{", `{"stream": true,`, 1)))
		if err != nil {
			t.Fatal(err)
		}
		data, done := events(t, resp.Body)
		resp.Body.Close()
		var got strings.Builder
		for _, d := range data {
			var ch completionResponse
			json.Unmarshal([]byte(d), &ch)
			for _, c := range ch.Choices {
				got.WriteString(c.Text)
			}
		}
		if !done || got.String() != want {
			t.Errorf("streamed %q (done %v), want %q", got.String(), done, want)
		}
		waitFor(t, "the stopped request to leave the engine", idle(ts.Engine()))
	})

	t.Run("stop token", func(t *testing.T) {
		all := complete(t, ts, `{"prompt": [11, 12, 13], "max_tokens": 20, "temperature": 0, "ignore_eos": true, "logprobs": 0, "return_tokens_as_token_ids": true}`)
		toks := idsOf(t, all.Choices[0].Logprobs.Tokens)
		r := complete(t, ts, fmt.Sprintf(`{"prompt": [11, 12, 13], "max_tokens": 20, "temperature": 0, "ignore_eos": true, "stop_token_ids": [%d]}`, toks[4]))
		i := 0
		for toks[i] != toks[4] {
			i++
		}
		if *r.Choices[0].FinishReason != "stop" || r.Usage.CompletionTokens != i+1 {
			t.Errorf("finish %s after %d tokens, want stop after %d", *r.Choices[0].FinishReason, r.Usage.CompletionTokens, i+1)
		}
	})

	t.Run("echo and logprobs", func(t *testing.T) {
		r := complete(t, ts, `{"prompt": [11, 12, 13], "max_tokens": 2, "temperature": 0, "echo": true, "logprobs": 1}`)
		prompt, _ := tk.Decode([]int32{11, 12, 13})
		c := r.Choices[0]
		if !strings.HasPrefix(c.Text, prompt) || len(c.Logprobs.Tokens) != 5 || c.Logprobs.TokenLogprobs[0] != nil || c.Logprobs.TokenLogprobs[1] == nil {
			t.Errorf("echo: text %q, logprobs %+v", c.Text, c.Logprobs)
		}
		score := complete(t, ts, `{"prompt": [11, 12, 13], "max_tokens": 0, "echo": true, "logprobs": 0}`)
		if sc := score.Choices[0]; sc.Text != prompt || len(sc.Logprobs.Tokens) != 3 || score.Usage.CompletionTokens != 0 || *sc.Logprobs.TokenLogprobs[1] != *c.Logprobs.TokenLogprobs[1] {
			t.Errorf("scoring: %+v usage %+v", sc, score.Usage)
		}
	})

	t.Run("text prompts", func(t *testing.T) {
		// Tokens of GPT-2 under the tiny model's 1024: bytes and short merges.
		r := complete(t, ts, `{"prompt": ["ab", "c d"], "max_tokens": 3, "temperature": 0}`)
		want, _ := tk.Encode("ab")
		want2, _ := tk.Encode("c d")
		if len(r.Choices) != 2 || r.Usage.PromptTokens != len(want)+len(want2) {
			t.Errorf("choices %d, usage %+v", len(r.Choices), r.Usage)
		}
	})

	t.Run("server timing header", func(t *testing.T) {
		resp, err := http.Post(ts.url+"/v1/completions", "application/json", strings.NewReader(`{"prompt": [1, 2], "max_tokens": 4, "ignore_eos": true}`))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		h := resp.Header.Get("Server-Timing")
		for _, m := range []string{"queue;dur=", "prefill;dur=", "ttft;dur=", "decode;dur="} {
			if !strings.Contains(h, m) {
				t.Errorf("Server-Timing %q lacks %s", h, m)
			}
		}
		// streamed: a trailer
		resp, err = http.Post(ts.url+"/v1/completions", "application/json", strings.NewReader(`{"prompt": [1, 2], "max_tokens": 4, "ignore_eos": true, "stream": true}`))
		if err != nil {
			t.Fatal(err)
		}
		data, _ := events(t, resp.Body)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if !strings.Contains(resp.Trailer.Get("Server-Timing"), "decode;dur=") {
			t.Errorf("no Server-Timing trailer: %v", resp.Trailer)
		}
		var last struct {
			ServerTiming *serverTiming `json:"server_timing"`
		}
		json.Unmarshal([]byte(data[len(data)-1]), &last)
		if st := last.ServerTiming; st == nil || len(st.ITLMs) != 3 || st.TTFTMs <= 0 {
			t.Errorf("last event's server_timing %+v", st)
		}
	})
}

func TestTokenizeAndModels(t *testing.T) {
	ts := start(t, engine.Config{}, Options{})
	status, b := post(t, ts.url+"/tokenize", `{"model": "tiny", "prompt": "Hello world<|endoftext|>"}`)
	var tr struct {
		Count       int     `json:"count"`
		MaxModelLen int     `json:"max_model_len"`
		Tokens      []int32 `json:"tokens"`
	}
	if err := json.Unmarshal(b, &tr); status != 200 || err != nil || tr.Count != 3 || tr.MaxModelLen != 64 || fmt.Sprint(tr.Tokens) != "[15496 995 50256]" {
		t.Errorf("tokenize: %d %s", status, b)
	}
	status, b = post(t, ts.url+"/detokenize", `{"tokens": [15496, 995]}`)
	if status != 200 || string(b) != `{"prompt":"Hello world"}`+"\n" {
		t.Errorf("detokenize: %d %s", status, b)
	}
	status, b = post(t, ts.url+"/detokenize", `{"tokens": [99999]}`)
	if status != 400 {
		t.Errorf("detokenize out of range: %d %s", status, b)
	}
}

func TestMetrics(t *testing.T) {
	ts := start(t, engine.Config{}, Options{})
	complete(t, ts, `{"prompt": [1, 2, 3], "max_tokens": 5, "ignore_eos": true}`)
	resp, err := http.Get(ts.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(b)
	for _, want := range []string{
		"gpt2bench:num_requests_running 0", "gpt2bench:num_requests_waiting 0", "gpt2bench:kv_cache_usage_perc 0",
		"gpt2bench:prefix_cache_queries_total", "gpt2bench:prefix_cache_hits_total",
		"gpt2bench:prompt_tokens_total 3", "gpt2bench:generation_tokens_total 5",
		`gpt2bench:request_success_total{finished_reason="length"} 1`, `gpt2bench:request_success_total{finished_reason="stop"} 0`,
		"gpt2bench:time_to_first_token_seconds_count 1", "gpt2bench:inter_token_latency_seconds_count 4",
		"gpt2bench:e2e_request_latency_seconds_count 1", "gpt2bench:request_queue_time_seconds_count 1",
		"gpt2bench:request_prefill_time_seconds_count 1", "gpt2bench:request_decode_time_seconds_count 1",
		"gpt2bench:iteration_tokens_total_bucket", "gpt2bench:num_preemptions_total 0",
		`gpt2bench:http_requests_total{code="200",route="/v1/completions"} 1`,
		"go_goroutines", "process_open_fds",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if !strings.Contains(ts.logs.String(), "finish_reason=length") {
		t.Errorf("access log lacks the request: %s", ts.logs.String())
	}
}
