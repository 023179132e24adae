package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gpt2bench/gpt2bench/bench/report"
)

// ClientOptions configure a Client.
type ClientOptions struct {
	// BaseURL is the API root as the OpenAI SDKs take it (OPENAI_BASE_URL),
	// e.g. "http://127.0.0.1:8000/v1"; a URL with no path gets "/v1".
	BaseURL string
	// APIKey is sent as "Authorization: Bearer KEY" when not empty.
	APIKey string
	// Model is the model name sent with each request.
	Model string
	// Chat selects /chat/completions (text prompts only) instead of /completions.
	Chat bool
	// IgnoreEOS asks the server for exactly max_tokens tokens (ignore_eos and
	// min_tokens, as vLLM and llama.cpp take them).
	IgnoreEOS bool
	// Temperature is sent with each request; nil leaves it to the server
	// (OpenAI's default is 1, which samples). gpt2bench load sends 0, greedy,
	// as vLLM's bench serve does and as bench generates in process.
	Temperature *float64
	// Timeout bounds each request from its send to its last byte; 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxConns is the number of keep-alive connections to keep (the concurrency); 0 means 64.
	MaxConns int
}

// DefaultTimeout bounds a request when ClientOptions.Timeout is 0.
const DefaultTimeout = 10 * time.Minute

// maxErrorBody bounds what is read of an error response.
const maxErrorBody = 4 << 10

// Client streams completions from one OpenAI-compatible server. It is safe
// for concurrent use.
type Client struct {
	opts     ClientOptions
	base     string // BaseURL without a trailing slash
	endpoint string // "/completions" or "/chat/completions"
	hc       *http.Client
	readers  sync.Pool // *bufio.Reader
	keys     string    // this client's prefix of Idempotency-Key values
	sent     atomic.Uint64
}

// NewClient checks opts and returns a Client with its own connection pool.
func NewClient(opts ClientOptions) (*Client, error) {
	u, err := url.Parse(opts.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: want http://HOST:PORT/v1 (the OpenAI base URL)", opts.BaseURL)
	}
	if u.User != nil {
		return nil, fmt.Errorf("server URL %q: pass credentials with --api-key or OPENAI_API_KEY, not in the URL", u.Redacted())
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1"
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Timeout < 0 {
		return nil, fmt.Errorf("request timeout %v is negative", opts.Timeout)
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = 64
	}
	tr := &http.Transport{
		Proxy:                 nil, // a load generator measures the server, never a proxy on the way
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          opts.MaxConns,
		MaxIdleConnsPerHost:   opts.MaxConns,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 0, // the request's own timeout bounds it
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
	}
	var id [8]byte
	rand.Read(id[:]) // never fails (crypto/rand)
	c := &Client{opts: opts, base: strings.TrimRight(u.String(), "/"), endpoint: "/completions", keys: "gpt2bench-" + hex.EncodeToString(id[:]) + "-",
		hc: &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if opts.Chat {
		c.endpoint = "/chat/completions"
	}
	c.readers.New = func() any { return bufio.NewReaderSize(nil, 16<<10) }
	return c, nil
}

// BaseURL returns the API root requests go to.
func (c *Client) BaseURL() string { return c.base }

// Endpoint returns the path measured under BaseURL.
func (c *Client) Endpoint() string { return c.endpoint }

// SetModel sets the model name sent with each request; call before any request.
func (c *Client) SetModel(m string) { c.opts.Model = m }

// Close closes the idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// ErrNotReady is wrapped by the error of Models when the server answered
// 503 Service Unavailable: a model still loading (gpt2bench serve, vLLM,
// llama.cpp), or a server draining.
var ErrNotReady = errors.New("the server is not ready (503)")

// Models lists the model ids of GET /models, and the Server header.
func (c *Client) Models(ctx context.Context) (ids []string, server string, err error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/models", nil)
	if err != nil {
		return nil, "", err
	}
	c.auth(req)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("GET %s/models: %w; is the server up at that URL?", c.base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, "", fmt.Errorf("GET %s/models: %w", c.base, err)
	}
	if resp.StatusCode == http.StatusServiceUnavailable {
		return nil, "", fmt.Errorf("GET %s/models: %s: %w", c.base, httpError(resp.StatusCode, body), ErrNotReady)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("GET %s/models: %s", c.base, httpError(resp.StatusCode, body))
	}
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, "", fmt.Errorf("GET %s/models: not an OpenAI model list: %w", c.base, err)
	}
	for _, m := range list.Data {
		ids = append(ids, m.ID)
	}
	return ids, resp.Header.Get("Server"), nil
}

func (c *Client) auth(req *http.Request) {
	if c.opts.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.opts.APIKey)
	}
}

// requestBody is the JSON of a completion request.
type requestBody struct {
	Model         string         `json:"model,omitempty"`
	Prompt        any            `json:"prompt,omitempty"`
	Messages      []message      `json:"messages,omitempty"`
	MaxTokens     int            `json:"max_tokens"`
	MinTokens     int            `json:"min_tokens,omitempty"`
	IgnoreEOS     bool           `json:"ignore_eos,omitempty"`
	Temperature   *float64       `json:"temperature,omitempty"`
	Stream        bool           `json:"stream"`
	StreamOptions *streamOptions `json:"stream_options,omitempty"`
}

type message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// chunk is one streamed event (or a whole non-streamed response).
type chunk struct {
	Choices []struct {
		Text  string `json:"text"`
		Delta struct {
			Content          string `json:"content"`
			ReasoningContent string `json:"reasoning_content"`
		} `json:"delta"`
		Message struct {
			Content string `json:"content"`
		} `json:"message"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
	ServerTiming *struct {
		QueueMs   *float64  `json:"queue_ms"`
		PrefillMs *float64  `json:"prefill_ms"`
		TTFTMs    *float64  `json:"ttft_ms"`
		DecodeMs  *float64  `json:"decode_ms"`
		ITLMs     []float64 `json:"itl_ms"`
	} `json:"server_timing"`
	Timings *struct {
		PromptMs            *float64 `json:"prompt_ms"`
		PredictedMs         *float64 `json:"predicted_ms"`
		PredictedPerTokenMs *float64 `json:"predicted_per_token_ms"`
	} `json:"timings"`
	Error *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// Do sends req, streaming the answer, and fills rec: its instants, events,
// gaps, usage, server timings and, on failure or mismatch, Class and Err.
// rec.planned must be set by the caller. Do returns ctx's error when ctx
// ended (the request then is not a failure of the server) and nil otherwise.
func (c *Client) Do(ctx context.Context, req Request, rec *Record) error {
	rec.InputLen, rec.OutputLen = req.InputLen, req.OutputLen
	rec.PromptTokens, rec.CompletionTokens = -1, -1
	body := requestBody{Model: c.opts.Model, MaxTokens: req.OutputLen, Temperature: c.opts.Temperature, Stream: true, StreamOptions: &streamOptions{true}}
	if c.opts.IgnoreEOS {
		body.IgnoreEOS, body.MinTokens = true, req.OutputLen
	}
	switch {
	case c.opts.Chat && req.PromptIDs != nil:
		return fmt.Errorf("chat completions take text prompts, not token ids; use the completions endpoint or text prompts")
	case c.opts.Chat:
		body.Messages = []message{{Role: "user", Content: req.PromptText}}
	case req.PromptIDs != nil:
		body.Prompt = req.PromptIDs
	default:
		body.Prompt = req.PromptText
	}
	data, err := json.Marshal(&body)
	if err != nil {
		return fmt.Errorf("encode request: %w", err)
	}
	rctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(rctx, http.MethodPost, c.base+c.endpoint, bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "text/event-stream")
	// A key of its own makes the request replayable for net/http: sent on
	// a kept-alive connection that the server closes at that moment (as
	// llama.cpp's server does after 5 requests a connection), it is sent
	// again on a new connection instead of failing. Its times count from
	// the first send, so the retry's delay is in them.
	hreq.Header.Set("Idempotency-Key", c.keys+strconv.FormatUint(c.sent.Add(1), 10))
	c.auth(hreq)

	rec.sent = time.Now()
	resp, err := c.hc.Do(hreq)
	if err != nil {
		rec.end = time.Now()
		return c.fail(ctx, rctx, rec, report.ErrClassConnection, err)
	}
	defer resp.Body.Close()
	rec.Status = resp.StatusCode
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		rec.end = time.Now()
		rec.Class, rec.Err, rec.Failed = "http_"+strconv.Itoa(resp.StatusCode), httpError(resp.StatusCode, b), true
		return nil
	}
	st := parseServerTimingHeader(resp.Header.Get("Server-Timing"))

	br := c.readers.Get().(*bufio.Reader)
	br.Reset(resp.Body)
	defer func() { br.Reset(nil); c.readers.Put(br) }()

	var (
		done, finished bool
		ch             chunk
		line           []byte
	)
	isJSON := strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json")
	for !done {
		line, err = readLine(br, line[:0])
		if err != nil {
			if err == io.EOF && len(line) == 0 {
				break
			}
			if err != io.EOF {
				rec.end = time.Now()
				return c.fail(ctx, rctx, rec, report.ErrClassBrokenStream, err)
			}
		}
		now := time.Now()
		payload := line
		if isJSON {
			// a server that ignored stream: one whole response
			rest, _ := io.ReadAll(io.LimitReader(br, 64<<20))
			payload = append(payload, rest...)
		} else {
			if len(payload) == 0 || payload[0] == ':' {
				continue
			}
			var ok bool
			if payload, ok = bytes.CutPrefix(payload, []byte("data:")); !ok {
				continue // event:, id:, retry: fields
			}
			payload = bytes.TrimLeft(payload, " ")
			if bytes.Equal(payload, []byte("[DONE]")) {
				done = true
				break
			}
		}
		ch = chunk{Choices: ch.Choices[:0]}
		if err := json.Unmarshal(payload, &ch); err != nil {
			rec.end = now
			rec.Class, rec.Err, rec.Failed = report.ErrClassBadResponse, fmt.Sprintf("event is not JSON: %v: %.120q", err, payload), true
			return nil
		}
		if ch.Error != nil {
			rec.end = now
			rec.Class, rec.Err, rec.Failed = report.ErrClassBadResponse, "error event: "+ch.Error.Message, true
			return nil
		}
		for i := range ch.Choices {
			cc := &ch.Choices[i]
			text := cc.Text
			if c.opts.Chat {
				text = cc.Delta.Content + cc.Delta.ReasoningContent + cc.Message.Content
			}
			if cc.FinishReason != nil {
				finished = true
			}
			// a completions event counts as a token unless it only closes the stream
			if text != "" || (!c.opts.Chat && cc.FinishReason == nil) {
				rec.Events++
				if rec.first.IsZero() {
					rec.first = now
				} else {
					rec.ITLMs = append(rec.ITLMs, float64(now.Sub(rec.last))/1e6)
				}
				rec.last = now
				break // one event is one token, however many choices
			}
		}
		if ch.Usage != nil {
			rec.PromptTokens, rec.CompletionTokens = ch.Usage.PromptTokens, ch.Usage.CompletionTokens
		}
		if s := ch.ServerTiming; s != nil {
			st = &ServerTiming{Source: "server_timing", QueueMs: s.QueueMs, PrefillMs: s.PrefillMs, TTFTMs: s.TTFTMs, DecodeMs: s.DecodeMs, ITLMs: s.ITLMs}
		} else if t := ch.Timings; t != nil && st == nil {
			st = &ServerTiming{Source: "llama.cpp timings", PrefillMs: t.PromptMs, TTFTMs: t.PromptMs, DecodeMs: t.PredictedMs, MeanITLMs: t.PredictedPerTokenMs}
		}
		if isJSON {
			done = true
		}
	}
	rec.end = time.Now()
	if !done && !finished {
		rec.Class, rec.Err, rec.Failed = report.ErrClassBrokenStream, fmt.Sprintf("stream ended after %d events without [DONE] or a finish_reason", rec.Events), true
		return nil
	}
	if rec.Events == 0 {
		rec.Class, rec.Err, rec.Failed = report.ErrClassBadResponse, "stream ended without any generated text", true
		return nil
	}
	if st == nil {
		st = parseServerTimingHeader(resp.Trailer.Get("Server-Timing"))
	}
	if st != nil {
		switch n := rec.outputTokens(); {
		case st.MeanITLMs != nil:
		case len(st.ITLMs) > 0:
			var s float64
			for _, v := range st.ITLMs {
				s += v
			}
			m := s / float64(len(st.ITLMs))
			st.MeanITLMs = &m
		case st.DecodeMs != nil && n > 1:
			m := *st.DecodeMs / float64(n-1) // decode: first token to last
			st.MeanITLMs = &m
		}
		rec.Server = st
	}
	if out := rec.outputTokens(); out != req.OutputLen {
		rec.Class, rec.Err = report.ErrClassWrongLength, fmt.Sprintf("%d tokens generated, %d asked", out, req.OutputLen)
	} else if req.InputLen > 0 && rec.PromptTokens >= 0 && rec.PromptTokens != req.InputLen {
		rec.Class, rec.Err = report.ErrClassWrongPrompt, fmt.Sprintf("server counted %d prompt tokens, %d sent", rec.PromptTokens, req.InputLen)
	}
	return nil
}

// fail classifies a transport error: the caller's cancellation is returned
// (no class), the request's own deadline is a timeout, anything else class.
func (c *Client) fail(ctx, rctx context.Context, rec *Record, class string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if rctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		class = report.ErrClassTimeout
	}
	rec.Class, rec.Err, rec.Failed = class, err.Error(), true
	return nil
}

// readLine reads one line into buf (without "\r\n"), however long, up to 64 MiB.
func readLine(br *bufio.Reader, buf []byte) ([]byte, error) {
	for {
		frag, err := br.ReadSlice('\n')
		buf = append(buf, frag...)
		if err == bufio.ErrBufferFull {
			if len(buf) > 64<<20 {
				return buf, errors.New("an SSE line is longer than 64 MiB")
			}
			continue
		}
		buf = bytes.TrimRight(buf, "\r\n")
		return buf, err
	}
}

// httpError makes a one-line message of an HTTP error response, with the
// OpenAI error message when the body has one.
func httpError(status int, body []byte) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
		Message string `json:"message"`
	}
	msg := ""
	if json.Unmarshal(body, &e) == nil {
		msg = e.Error.Message
		if msg == "" {
			msg = e.Message
		}
	}
	if msg == "" {
		msg = strings.Join(strings.Fields(string(body)), " ")
	}
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	s := fmt.Sprintf("HTTP %d %s", status, http.StatusText(status))
	if msg != "" {
		s += ": " + msg
	}
	return s
}

// parseServerTimingHeader reads a Server-Timing header
// ("queue;dur=1.2, prefill;dur=30, ttft;dur=31.5, decode;dur=400"); nil when
// it names none of those metrics.
func parseServerTimingHeader(h string) *ServerTiming {
	if h == "" {
		return nil
	}
	st := &ServerTiming{Source: "Server-Timing header"}
	found := false
	for _, m := range strings.Split(h, ",") {
		parts := strings.Split(m, ";")
		name := strings.ToLower(strings.TrimSpace(parts[0]))
		var dur *float64
		for _, p := range parts[1:] {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, "dur") {
				if f, err := strconv.ParseFloat(strings.Trim(v, `"`), 64); err == nil {
					dur = &f
				}
			}
		}
		if dur == nil {
			continue
		}
		switch name {
		case "queue":
			st.QueueMs = dur
		case "prefill":
			st.PrefillMs = dur
		case "ttft":
			st.TTFTMs = dur
		case "decode":
			st.DecodeMs = dur
		default:
			continue
		}
		found = true
	}
	if !found {
		return nil
	}
	return st
}
