// Package fakeserver is an OpenAI-compatible completions server with
// injected, known behaviour (time to first token, inter-token gaps, jitter,
// HTTP errors, cut streams, wrong token counts, server timings), for testing
// load generators on loopback as net/http/httptest tests HTTP clients.
// It generates no text: every token is the string " tok".
package fakeserver

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Behavior is what the server does with one request. The zero value
// streams max_tokens tokens at once.
type Behavior struct {
	// TTFT is the delay from the request's arrival to the first token.
	TTFT time.Duration
	// ITL is the delay between consecutive tokens.
	ITL time.Duration
	// Jitter adds a uniform random delay in [0, Jitter) to TTFT and to every gap.
	Jitter time.Duration
	// Status, when not 0 or 200, answers with that status and an OpenAI error body.
	Status int
	// CutAfter > 0 breaks the connection after that many tokens.
	CutAfter int
	// ExtraTokens is added to the tokens generated (negative: fewer), as a
	// server that does not honour max_tokens or ignore_eos.
	ExtraTokens int
	// ExtraPromptTokens is added to the usage.prompt_tokens reported.
	ExtraPromptTokens int
	// Hang never answers; the request ends when the client gives up.
	Hang bool
	// ServerTiming adds gpt2bench serve's server_timing to the last event
	// (queue_ms 0, the served ttft_ms and itl_ms), and a Server-Timing
	// header (the drawn delays: headers go out before the tokens).
	ServerTiming bool
	// LlamaTimings adds llama.cpp's timings object to the last event instead.
	LlamaTimings bool
	// NoUsage leaves usage out of the stream.
	NoUsage bool
}

// Injected is what the server did to one request: the delays it drew, and
// when it actually served them (its sleeps run late by the timer's and the
// scheduler's delay, more so on a busy machine).
type Injected struct {
	TTFT time.Duration   // first token after arrival, as drawn
	ITL  []time.Duration // gaps between tokens, as drawn
	// Arrived is when the handler got the request; Flushed when each event
	// was flushed to the connection (monotonic clock, this process).
	Arrived time.Time
	Flushed []time.Time
}

// ServedTTFT is the time from arrival to the first flushed event.
func (in Injected) ServedTTFT() time.Duration {
	if len(in.Flushed) == 0 {
		return 0
	}
	return in.Flushed[0].Sub(in.Arrived)
}

// ServedITL returns the gaps between flushed events.
func (in Injected) ServedITL() []time.Duration {
	var out []time.Duration
	for k := 1; k < len(in.Flushed); k++ {
		out = append(out, in.Flushed[k].Sub(in.Flushed[k-1]))
	}
	return out
}

// Server is a running fake server. Its URL's "/v1" is the OpenAI base URL.
type Server struct {
	*httptest.Server
	// Model is the only entry of /v1/models; Models, when set, the entries instead.
	Model  string
	Models []string
	// APIKey, when set, is required as "Authorization: Bearer KEY" (401 otherwise).
	APIKey string

	// keepAliveMax > 0 closes a connection, without a word to the client,
	// once it served that many requests: as llama.cpp's server
	// (cpp-httplib, 5 requests a connection by default) does, so that a
	// client may send its next request on a connection being closed.
	keepAliveMax atomic.Int64
	served       sync.Map // net.Conn -> *atomic.Int64: requests begun on it

	pick func(n int) Behavior
	seq  atomic.Int64
	mu   sync.Mutex
	inj  []Injected
	rng  *rand.Rand
}

// New starts a server on 127.0.0.1 whose request n (0-based, in arrival
// order) gets pick(n). Close it when done.
func New(pick func(n int) Behavior) *Server {
	s := &Server{Model: "fake-gpt2", pick: pick, rng: rand.New(rand.NewPCG(1, 2))}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/models", s.models)
	mux.HandleFunc("POST /v1/completions", s.completions)
	mux.HandleFunc("POST /v1/chat/completions", s.completions)
	s.Server = httptest.NewUnstartedServer(mux)
	s.Server.Config.ConnState = s.connState
	s.Server.Start()
	return s
}

// SetKeepAliveMax makes the server close each connection as soon as it
// has served n requests, without a "Connection: close" (0: never), as
// llama.cpp's server closes a connection after its keep-alive count: a
// client that sends its next request at that moment finds it closed.
func (s *Server) SetKeepAliveMax(n int) { s.keepAliveMax.Store(int64(n)) }

func (s *Server) connState(c net.Conn, st http.ConnState) {
	switch st {
	case http.StateActive:
		v, _ := s.served.LoadOrStore(c, new(atomic.Int64))
		v.(*atomic.Int64).Add(1)
	case http.StateIdle:
		max := s.keepAliveMax.Load()
		if v, ok := s.served.Load(c); ok && max > 0 && v.(*atomic.Int64).Load() >= max {
			c.Close() // on its way to idle: never inside a response
		}
	case http.StateClosed, http.StateHijacked:
		s.served.Delete(c)
	}
}

// BaseURL is the OpenAI base URL of the server, ending in /v1.
func (s *Server) BaseURL() string { return s.URL + "/v1" }

// Injected returns the delays drawn for every streamed request finished so far, in the order they finished.
func (s *Server) Injected() []Injected {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Injected(nil), s.inj...)
}

func (s *Server) models(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	ids := s.Models
	if len(ids) == 0 {
		ids = []string{s.Model}
	}
	var list []string
	for _, id := range ids {
		list = append(list, fmt.Sprintf(`{"id":%q,"object":"model","owned_by":"fakeserver"}`, id))
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Server", "fakeserver")
	fmt.Fprintf(w, `{"object":"list","data":[%s]}`, strings.Join(list, ","))
}

func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	if s.APIKey != "" && r.Header.Get("Authorization") != "Bearer "+s.APIKey {
		httpError(w, http.StatusUnauthorized, "invalid API key")
		return false
	}
	return true
}

type completionRequest struct {
	Model     string                     `json:"model"`
	Prompt    json.RawMessage            `json:"prompt"`
	Messages  []struct{ Content string } `json:"messages"`
	MaxTokens int                        `json:"max_tokens"`
	Stream    bool                       `json:"stream"`
}

func (s *Server) jitter(j time.Duration) time.Duration {
	if j <= 0 {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Duration(s.rng.Int64N(int64(j)))
}

func (s *Server) completions(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	if !s.authorized(w, r) {
		return
	}
	n := int(s.seq.Add(1) - 1)
	b := s.pick(n)
	var req completionRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<20)).Decode(&req); err != nil {
		httpError(w, http.StatusBadRequest, "bad JSON: "+err.Error())
		return
	}
	if b.Hang {
		<-r.Context().Done()
		return
	}
	if b.Status != 0 && b.Status != http.StatusOK {
		httpError(w, b.Status, "injected failure")
		return
	}
	if req.MaxTokens < 1 {
		httpError(w, http.StatusBadRequest, "max_tokens must be at least 1")
		return
	}
	promptTokens := 0
	var ids []int
	var text string
	switch {
	case json.Unmarshal(req.Prompt, &ids) == nil:
		promptTokens = len(ids)
	case json.Unmarshal(req.Prompt, &text) == nil:
		promptTokens = len(strings.Fields(text))
	default:
		for _, m := range req.Messages {
			promptTokens += len(strings.Fields(m.Content))
		}
	}
	promptTokens += b.ExtraPromptTokens
	tokens := max(req.MaxTokens+b.ExtraTokens, 1)

	inj := &Injected{TTFT: b.TTFT + s.jitter(b.Jitter), Arrived: arrived, Flushed: make([]time.Time, 0, tokens)}
	for range tokens - 1 {
		inj.ITL = append(inj.ITL, b.ITL+s.jitter(b.Jitter))
	}
	defer func() {
		s.mu.Lock()
		s.inj = append(s.inj, *inj)
		s.mu.Unlock()
	}()

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	if b.ServerTiming {
		var dec time.Duration
		for _, g := range inj.ITL {
			dec += g
		}
		w.Header().Set("Server-Timing", fmt.Sprintf("queue;dur=0, prefill;dur=%s, ttft;dur=%s, decode;dur=%s", ms(inj.TTFT), ms(inj.TTFT), ms(dec)))
	}
	chat := strings.HasSuffix(r.URL.Path, "/chat/completions")
	rc := http.NewResponseController(w)
	// deadlines are absolute from the arrival, so sleep errors do not add up
	due := arrived.Add(inj.TTFT)
	for k := range tokens {
		if k > 0 {
			due = due.Add(inj.ITL[k-1])
		}
		if d := time.Until(due); d > 0 {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
		if b.CutAfter > 0 && k == b.CutAfter {
			panic(http.ErrAbortHandler) // the client sees the connection break
		}
		finish := "null"
		if k == tokens-1 {
			finish = `"length"`
		}
		if chat {
			role := ""
			if k == 0 {
				role = `"role":"assistant",`
			}
			fmt.Fprintf(w, "data: {\"id\":\"chatcmpl-%d\",\"object\":\"chat.completion.chunk\",\"model\":%q,\"choices\":[{\"index\":0,\"delta\":{%s\"content\":\" tok\"},\"finish_reason\":%s}]}\n\n", n, s.Model, role, finish)
		} else {
			fmt.Fprintf(w, "data: {\"id\":\"cmpl-%d\",\"object\":\"text_completion\",\"model\":%q,\"choices\":[{\"index\":0,\"text\":\" tok\",\"finish_reason\":%s}]}\n\n", n, s.Model, finish)
		}
		if err := rc.Flush(); err != nil {
			return
		}
		inj.Flushed = append(inj.Flushed, time.Now())
	}
	var last []string
	if !b.NoUsage {
		last = append(last, fmt.Sprintf(`"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}`, promptTokens, tokens, promptTokens+tokens))
	}
	// the timings a real server would report: what it served, not what it meant to
	served := inj.ServedITL()
	var dec time.Duration
	for _, g := range served {
		dec += g
	}
	switch {
	case b.ServerTiming:
		itl := make([]string, len(served))
		for i, g := range served {
			itl[i] = ms(g)
		}
		last = append(last, fmt.Sprintf(`"server_timing":{"queue_ms":0,"prefill_ms":%s,"ttft_ms":%s,"decode_ms":%s,"itl_ms":[%s]}`,
			ms(inj.ServedTTFT()), ms(inj.ServedTTFT()), ms(dec), strings.Join(itl, ",")))
	case b.LlamaTimings:
		per := 0.0
		if len(served) > 0 {
			per = float64(dec) / 1e6 / float64(len(served))
		}
		last = append(last, fmt.Sprintf(`"timings":{"prompt_n":%d,"prompt_ms":%s,"predicted_n":%d,"predicted_ms":%s,"predicted_per_token_ms":%s}`,
			promptTokens, ms(inj.ServedTTFT()), tokens, ms(dec), strconv.FormatFloat(per, 'f', -1, 64)))
	}
	if len(last) > 0 {
		fmt.Fprintf(w, "data: {\"id\":\"cmpl-%d\",\"object\":\"text_completion\",\"choices\":[],%s}\n\n", n, strings.Join(last, ","))
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	_ = rc.Flush()
}

func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', -1, 64) }

func httpError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"message":%q,"type":"fake","code":%d}}`, msg, status)
}
