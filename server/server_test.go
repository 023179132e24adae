package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gpt2bench/gpt2bench/engine"
	"github.com/gpt2bench/gpt2bench/internal/testmodel"
	"github.com/gpt2bench/gpt2bench/tokenizer"
)

var (
	tokOnce sync.Once
	tok     *tokenizer.Tokenizer
)

func sharedTokenizer(t testing.TB) *tokenizer.Tokenizer {
	tokOnce.Do(func() {
		var err error
		if tok, err = tokenizer.New(); err != nil {
			t.Fatal(err)
		}
	})
	return tok
}

// testServer is a Server on a loopback port.
type testServer struct {
	*Server
	url  string // http://127.0.0.1:PORT
	logs *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func slogText(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// slowSteps makes every engine step take at least d, so that a test can
// act while a request runs.
func slowSteps(d time.Duration) func(engine.StepStats) {
	return func(engine.StepStats) { time.Sleep(d) }
}

func start(t testing.TB, ecfg engine.Config, opts Options) *testServer {
	t.Helper()
	logs := &syncBuffer{}
	if opts.ModelName == "" {
		opts.ModelName = "tiny"
	}
	opts.Logger = slogText(logs)
	opts.Tokenizer = sharedTokenizer(t)
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(testmodel.Tiny(t), ecfg); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return &testServer{Server: s, url: "http://" + ln.Addr().String(), logs: logs}
}

// post sends a JSON body and returns the status and body.
func post(t testing.TB, url, body string) (int, []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// errorBody is OpenAI's error shape.
type errorBody struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}

func parseError(t testing.TB, b []byte) errorBody {
	t.Helper()
	var e errorBody
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || e.Error.Message == "" || e.Error.Type == "" {
		t.Fatalf("not an OpenAI error (%v): %s", err, b)
	}
	return e
}

// events reads an SSE body: the data of each event, up to [DONE].
func events(t testing.TB, r io.Reader) (data []string, done bool) {
	t.Helper()
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		d, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			t.Errorf("not an SSE data line: %q", line)
			return data, false
		}
		if d == "[DONE]" {
			return data, true
		}
		data = append(data, d)
	}
	return data, false
}

// waitFor polls cond every 5 ms for up to 10 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// idle reports whether the engine holds no request and no block.
func idle(e *engine.Engine) func() bool {
	return func() bool {
		st := e.Stats()
		return st.Running == 0 && st.Waiting == 0 && st.BlocksUsed == 0
	}
}

func openFDs(t testing.TB) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(ents)
}

func ids(n, seed int) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = int32((seed*131 + i*17 + 7) % 1000)
	}
	return out
}

func jsonIDs(p []int32) string {
	b, _ := json.Marshal(p)
	return string(b)
}

func TestErrors(t *testing.T) {
	ts := start(t, engine.Config{}, Options{MaxBodyBytes: 2048, MaxN: 4, APIKey: ""})
	long := `{"prompt": ` + jsonIDs(ids(10, 1)) + `, "max_tokens": 100}`
	tests := []struct {
		name, path, body string
		status           int
		param            string
		want             []string // in the message
	}{
		{"invalid JSON", "/v1/completions", `{"prompt": [1,2,3], "max_tokens": 4`, 400, "", []string{"invalid JSON"}},
		{"syntax", "/v1/completions", `{"prompt": [1,2,3],, }`, 400, "", []string{"invalid JSON at byte"}},
		{"empty body", "/v1/completions", ``, 400, "", []string{"empty request body"}},
		{"not an object", "/v1/completions", `[1,2]`, 400, "", []string{"JSON object"}},
		{"trailing data", "/v1/completions", `{"prompt": [1]} {}`, 400, "", []string{"data after"}},
		{"wrong type", "/v1/completions", `{"prompt": [1,2,3], "max_tokens": "ten"}`, 400, "max_tokens", []string{`"max_tokens"`, "integer", "string"}},
		{"wrong type bool", "/v1/completions", `{"prompt": [1,2,3], "stream": 1}`, 400, "stream", []string{`"stream"`, "boolean"}},
		{"wrong prompt type", "/v1/completions", `{"prompt": 5}`, 400, "prompt", []string{`"prompt"`, "the number 5"}},
		{"mixed prompt list", "/v1/completions", `{"prompt": ["a", 5]}`, 400, "prompt", []string{`"prompt"[1]`}},
		{"no prompt", "/v1/completions", `{"max_tokens": 3}`, 400, "prompt", []string{`missing field "prompt"`}},
		{"unknown field", "/v1/completions", `{"prompt": [1], "frobnicate": 1}`, 400, "frobnicate", []string{`unknown field "frobnicate"`}},
		{"past the context", "/v1/completions", long, 400, "max_tokens", []string{"prompt length 10", "max tokens 100", "context is 64"}},
		{"n too large", "/v1/completions", `{"prompt": [1], "n": 5}`, 400, "n", []string{"n 5", "1..4"}},
		{"too many choices", "/v1/completions", `{"prompt": [[1],[2],[3],[4],[5],[6],[7],[8],[9],[10],[11],[12],[13],[14],[15],[16],[17]], "n": 4}`, 400, "n", []string{"68 choices", "64"}},
		{"token outside vocab", "/v1/completions", `{"prompt": [1, 5000]}`, 400, "", []string{"5000", "vocabulary"}},
		{"max_tokens 0", "/v1/completions", `{"prompt": [1], "max_tokens": 0}`, 400, "max_tokens", []string{"max_tokens 0"}},
		{"penalty", "/v1/completions", `{"prompt": [1], "presence_penalty": 0.5}`, 400, "presence_penalty", []string{"not supported"}},
		{"stream_options alone", "/v1/completions", `{"prompt": [1], "stream_options": {"include_usage": true}}`, 400, "stream_options", []string{"stream: true"}},
		{"bad stop", "/v1/completions", `{"prompt": [1], "stop": [""]}`, 400, "stop", []string{"stop string 0"}},
		{"logprobs", "/v1/completions", `{"prompt": [1], "logprobs": 21}`, 400, "logprobs", []string{"0..20"}},
		{"temperature", "/v1/completions", `{"prompt": [1], "temperature": -1}`, 400, "temperature", []string{"temperature -1"}},
		{"unknown model", "/v1/completions", `{"model": "gpt-4", "prompt": [1]}`, 404, "model", []string{`"gpt-4" does not exist`, `"tiny"`}},
		{"too large", "/v1/completions", `{"prompt": "` + strings.Repeat("a", 4096) + `"}`, 413, "", []string{"2048-byte limit"}},
		{"chat", "/v1/chat/completions", `{"model": "tiny", "messages": [{"role": "user", "content": "hi"}]}`, 400, "messages", []string{"no chat template"}},
		{"no route", "/v2/whatever", `{}`, 404, "", []string{"no route"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(t, ts.url+tc.path, tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			e := parseError(t, body)
			for _, w := range tc.want {
				if !strings.Contains(e.Error.Message, w) {
					t.Errorf("message %q lacks %q", e.Error.Message, w)
				}
			}
			if tc.param != "" && (e.Error.Param == nil || *e.Error.Param != tc.param) {
				t.Errorf("param %v, want %q", e.Error.Param, tc.param)
			}
		})
	}
	t.Run("413 chunked", func(t *testing.T) {
		// no Content-Length: the limit is met while reading
		body := io.MultiReader(strings.NewReader(`{"prompt": "`), strings.NewReader(strings.Repeat("a", 8192)), strings.NewReader(`"}`))
		resp, err := http.Post(ts.url+"/v1/completions", "application/json", body)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 413 {
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
		parseError(t, b)
	})
	t.Run("method", func(t *testing.T) {
		resp, err := http.Get(ts.url + "/v1/completions")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 405 {
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
		parseError(t, b)
	})
	if logs := ts.logs.String(); !strings.Contains(logs, `status=400`) || !strings.Contains(logs, `error="unknown field \"frobnicate\"`) {
		t.Errorf("the access log does not name the errors:\n%s", logs)
	}
	// Still serving after all that.
	status, body := post(t, ts.url+"/v1/completions", `{"prompt": [1, 2, 3], "max_tokens": 3, "temperature": 0}`)
	if status != 200 {
		t.Fatalf("after the errors: status %d: %s", status, body)
	}
}

func TestAuth(t *testing.T) {
	ts := start(t, engine.Config{}, Options{APIKey: "sesame"})
	for _, tc := range []struct {
		name, header string
		status       int
	}{{"none", "", 401}, {"wrong", "Bearer nope", 401}, {"right", "Bearer sesame", 200}} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", ts.url+"/v1/completions", strings.NewReader(`{"prompt": [1], "max_tokens": 1}`))
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			if tc.status == 401 {
				parseError(t, b)
			}
		})
	}
	// /health and /metrics need no key.
	for _, p := range []string{"/health", "/metrics"} {
		resp, err := http.Get(ts.url + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: status %d", p, resp.StatusCode)
		}
	}
}

func TestLoadingAndDraining(t *testing.T) {
	s, err := New(Options{ModelName: "tiny", Tokenizer: sharedTokenizer(t)})
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, path, body string) int {
		rec := &responseRecorder{header: http.Header{}}
		req, _ := http.NewRequest(method, path, strings.NewReader(body))
		s.Handler().ServeHTTP(rec, req)
		return rec.status
	}
	if c := call("GET", "/health", ""); c != 503 {
		t.Errorf("health while loading: %d, want 503", c)
	}
	if c := call("POST", "/v1/completions", `{"prompt": [1]}`); c != 503 {
		t.Errorf("completions while loading: %d, want 503", c)
	}
	if c := call("GET", "/v1/models", ""); c != 503 { // no placeholder model id
		t.Errorf("models while loading: %d, want 503", c)
	}
	if err := s.Start(testmodel.Tiny(t), engine.Config{}); err != nil {
		t.Fatal(err)
	}
	if c := call("GET", "/health", ""); c != 200 {
		t.Errorf("health when ready: %d, want 200", c)
	}
	if c := call("GET", "/v1/models", ""); c != 200 {
		t.Errorf("models when ready: %d, want 200", c)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c := call("GET", "/health", ""); c != 503 {
		t.Errorf("health after shutdown: %d, want 503", c)
	}
	if c := call("POST", "/v1/completions", `{"prompt": [1]}`); c != 503 {
		t.Errorf("completions after shutdown: %d, want 503", c)
	}
}

// responseRecorder is a minimal http.ResponseWriter.
type responseRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *responseRecorder) Header() http.Header { return r.header }
func (r *responseRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = 200
	}
	return r.body.Write(b)
}
func (r *responseRecorder) WriteHeader(c int) {
	if r.status == 0 {
		r.status = c
	}
}

// TestShutdownCancelsWithErrorEvent: requests still running when the
// drain deadline passes end with an error event and [DONE].
func TestShutdownCancelsWithErrorEvent(t *testing.T) {
	s, err := New(Options{ModelName: "tiny", Tokenizer: sharedTokenizer(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(testmodel.Tiny(t), engine.Config{OnStep: slowSteps(20 * time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go s.Serve(ln)
	resp, err := http.Post("http://"+ln.Addr().String()+"/v1/completions", "application/json", strings.NewReader(`{"prompt": [1,2,3], "max_tokens": 60, "stream": true}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if _, err := br.ReadString('\n'); err != nil { // the first token is out
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); err == nil {
		t.Error("Shutdown returned nil; want the drain deadline's error")
	}
	data, done := events(t, br)
	if !done || len(data) == 0 {
		t.Fatalf("stream ended without [DONE] (done %v, %d events)", done, len(data))
	}
	var e errorBody
	if err := json.Unmarshal([]byte(data[len(data)-1]), &e); err != nil || !strings.Contains(e.Error.Message, "shut down") {
		t.Fatalf("last event %s, want an error event about the shutdown", data[len(data)-1])
	}
}

func TestTrickledHeaders(t *testing.T) {
	ts := start(t, engine.Config{}, Options{ReadHeaderTimeout: 200 * time.Millisecond})
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t0 := time.Now()
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		io.Copy(io.Discard, conn) // returns when the server hangs up
	}()
	fmt.Fprint(conn, "POST /v1/completions HTTP/1.1\r\nHost: x\r\n")
	// One header byte every 50 ms: never done within the timeout.
	for i := 0; i < 100; i++ {
		select {
		case <-closed:
			i = 100
			continue
		case <-time.After(50 * time.Millisecond):
		}
		if _, err := conn.Write([]byte("X")); err != nil {
			break
		}
		if i == 1 { // others are served meanwhile
			status, body := post(t, ts.url+"/v1/completions", `{"prompt": [1, 2], "max_tokens": 2}`)
			if status != 200 {
				t.Fatalf("a normal request during the trickle: %d %s", status, body)
			}
		}
	}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the server kept a trickling client for 5 s")
	}
	t.Logf("cut off after %v", time.Since(t0).Round(time.Millisecond))
}

func TestDisconnectCancels(t *testing.T) {
	// Steps of 50 ms: the hang-up reaches the engine (a read on the closed
	// socket, then the request's context) in far less than a step, so the
	// request must be gone within the step in flight and the next one.
	ts := start(t, engine.Config{OnStep: slowSteps(50 * time.Millisecond)}, Options{})
	eng := ts.Engine()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", ts.url+"/v1/completions", strings.NewReader(`{"prompt": [5,6,7,8], "max_tokens": 60, "ignore_eos": true, "stream": true}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	for range 2 { // two events in
		if _, err := br.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
		br.ReadString('\n')
	}
	if eng.Stats().BlocksUsed == 0 {
		t.Fatal("no blocks held while the request runs")
	}
	before := eng.Stats().Steps
	cancel() // the client hangs up
	resp.Body.Close()
	waitFor(t, "the request to be cancelled and its blocks freed", idle(eng))
	st := eng.Stats()
	if n := st.Steps - before; n > 2 {
		t.Errorf("%d engine steps ran between the hang-up and the request's end, want at most 2 (the step in flight and the next)", n)
	}
	if got := st.Finished[2]; got != 1 {
		t.Errorf("cancelled requests %d, want 1 (finished %v)", got, st.Finished)
	}
	if st.GenerationTokens >= 60 {
		t.Errorf("%d tokens generated: the request ran to its end", st.GenerationTokens)
	}
	status, body := post(t, ts.url+"/v1/completions", `{"prompt": [1, 2], "max_tokens": 2}`)
	if status != 200 {
		t.Fatalf("after the disconnect: %d %s", status, body)
	}
}

// TestFlood: more requests than the queue holds: every one is answered,
// 200 with all its tokens or 429 in OpenAI's shape; none lost.
func TestFlood(t *testing.T) {
	const clients, maxTokens = 40, 12
	ts := start(t, engine.Config{MaxNumSeqs: 2, MaxQueue: 4, OnStep: slowSteps(2 * time.Millisecond)}, Options{})
	var mu sync.Mutex
	count := map[int]int{}
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			body := fmt.Sprintf(`{"prompt": %s, "max_tokens": %d, "ignore_eos": true, "stream": true, "stream_options": {"include_usage": true}}`, jsonIDs(ids(4, i)), maxTokens)
			resp, err := http.Post(ts.url+"/v1/completions", "application/json", strings.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			switch resp.StatusCode {
			case 200:
				data, done := events(t, resp.Body)
				var last completionResponse
				json.Unmarshal([]byte(data[len(data)-1]), &last)
				if !done || last.Usage == nil || last.Usage.CompletionTokens != maxTokens || len(data) != maxTokens+1 {
					t.Errorf("client %d: done %v, %d events, usage %+v", i, done, len(data), last.Usage)
				}
			case 429:
				b, _ := io.ReadAll(resp.Body)
				if e := parseError(t, b); e.Error.Type != typeRateLimit {
					t.Errorf("429 of type %q", e.Error.Type)
				}
				if resp.Header.Get("Retry-After") == "" {
					t.Error("429 without Retry-After")
				}
			default:
				b, _ := io.ReadAll(resp.Body)
				t.Errorf("client %d: status %d: %s", i, resp.StatusCode, b)
			}
			mu.Lock()
			count[resp.StatusCode]++
			mu.Unlock()
		})
	}
	wg.Wait()
	t.Logf("statuses: %v", count)
	if count[200]+count[429] != clients || count[429] == 0 || count[200] == 0 {
		t.Errorf("statuses %v: want every one of %d answered, some 200 and some 429", count, clients)
	}
	waitFor(t, "the engine to be idle", idle(ts.Engine()))
	if st := ts.Engine().Stats(); st.Finished[1] != int64(count[200]) {
		t.Errorf("engine finished %d by length, clients got %d", st.Finished[1], count[200])
	}
	status, body := post(t, ts.url+"/v1/completions", `{"prompt": [1, 2], "max_tokens": 2}`)
	if status != 200 {
		t.Fatalf("after the flood: %d %s", status, body)
	}
}

// TestConnectionLimits: headers past MaxHeaderBytes get 431; connections
// past MaxConnections wait, and ones that never send a request are cut
// off after ReadHeaderTimeout, so idle sockets cannot lock the others
// out; goroutines and open files return to their baseline.
func TestConnectionLimits(t *testing.T) {
	ts := start(t, engine.Config{}, Options{MaxHeaderBytes: 4 << 10, MaxConnections: 2, ReadHeaderTimeout: 300 * time.Millisecond})
	addr := strings.TrimPrefix(ts.url, "http://")
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	complete := func() {
		t.Helper()
		resp, err := hc.Post(ts.url+"/v1/completions", "application/json", strings.NewReader(`{"prompt": [1, 2], "max_tokens": 2}`))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	complete()
	time.Sleep(50 * time.Millisecond)
	baseG, baseFD := runtime.NumGoroutine(), openFDs(t)

	req, _ := http.NewRequest("POST", ts.url+"/v1/completions", strings.NewReader(`{"prompt": [1]}`))
	req.Header.Set("X-Big", strings.Repeat("a", 16<<10))
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("16 KiB header: status %d, want 431", resp.StatusCode)
	}

	// Four sockets that never send a byte: two hold both slots, two wait.
	var idle []net.Conn
	for range 4 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	t0 := time.Now()
	complete() // served once the idle ones are cut off
	t.Logf("a request behind 4 idle sockets was served after %v", time.Since(t0).Round(time.Millisecond))
	for _, c := range idle {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Error("an idle socket got data")
		}
		c.Close()
	}
	waitFor(t, "goroutines and open files back to their baseline", func() bool {
		return runtime.NumGoroutine() <= baseG && openFDs(t) <= baseFD
	})
}
