package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gpt2bench/gpt2bench/engine"
	"github.com/gpt2bench/gpt2bench/model"
)

// defaultMaxTokens is max_tokens when a request leaves it out (OpenAI's and vLLM's default).
const defaultMaxTokens = 16

// plan is a validated completion request: what to submit and how to answer.
type plan struct {
	prompts      [][]int32
	n            int
	base         engine.Request // all but Prompt; Sampling.Seed is the first choice's
	stops        []string
	includeStop  bool
	logprobs     int // -1: none
	echo         bool
	scoreOnly    bool // max_tokens 0 with echo: the prompt's logprobs, no new token
	stream       bool
	includeUsage bool
	contUsage    bool
	tokenIDs     bool // return_tokens_as_token_ids
	eos          int32
	eosEnds      bool
	stopTok      map[int32]bool
}

// newPlan validates req against the engine and the server's limits.
func (s *Server) newPlan(req *completionRequest, eng *engine.Engine) (*plan, *apiError) {
	p := &plan{echo: req.Echo, stream: req.Stream, includeStop: req.IncludeStopStrInOutput, tokenIDs: req.ReturnTokensAsTokenIDs, logprobs: -1}
	switch {
	case req.BestOf != nil && *req.BestOf != 1 && (req.N == nil || *req.BestOf != *req.N):
		return nil, badRequest("best_of", "best_of %d is not supported; leave it out (or equal to n)", *req.BestOf)
	case req.Suffix != nil && *req.Suffix != "":
		return nil, badRequest("suffix", "suffix is not supported (GPT-2 has no insertion mode); leave it out")
	case req.PresencePenalty != nil && *req.PresencePenalty != 0:
		return nil, badRequest("presence_penalty", "presence_penalty %g is not supported; leave it out or 0", *req.PresencePenalty)
	case req.FrequencyPenalty != nil && *req.FrequencyPenalty != 0:
		return nil, badRequest("frequency_penalty", "frequency_penalty %g is not supported; leave it out or 0", *req.FrequencyPenalty)
	case req.RepetitionPenalty != nil && *req.RepetitionPenalty != 1:
		return nil, badRequest("repetition_penalty", "repetition_penalty %g is not supported; leave it out or 1", *req.RepetitionPenalty)
	case req.MinP != nil && *req.MinP != 0:
		return nil, badRequest("min_p", "min_p %g is not supported; leave it out or 0", *req.MinP)
	case len(req.LogitBias) > 0:
		return nil, badRequest("logit_bias", "logit_bias is not supported; leave it out")
	case req.StreamOptions != nil && !req.Stream:
		return nil, badRequest("stream_options", "stream_options is only allowed with stream: true")
	}
	if req.StreamOptions != nil {
		p.includeUsage, p.contUsage = req.StreamOptions.IncludeUsage, req.StreamOptions.ContinuousUsageStats
	}
	prompts, aerr := parsePrompts(req.Prompt)
	if aerr != nil {
		return nil, aerr
	}
	p.stops, aerr = parseStop(req.Stop)
	if aerr != nil {
		return nil, aerr
	}
	p.n = 1
	if req.N != nil {
		p.n = *req.N
	}
	if p.n < 1 || p.n > s.opts.MaxN {
		return nil, badRequest("n", "n %d, want 1..%d", p.n, s.opts.MaxN)
	}
	if c := len(prompts) * p.n; c > s.opts.MaxChoices {
		return nil, badRequest("n", "%d prompts × n %d = %d choices, the most per request is %d; send fewer prompts or a smaller n", len(prompts), p.n, c, s.opts.MaxChoices)
	}
	maxTokens := defaultMaxTokens
	if req.MaxTokens != nil {
		maxTokens = *req.MaxTokens
	}
	switch {
	case maxTokens < 0:
		return nil, badRequest("max_tokens", "max_tokens %d, want >= 1", maxTokens)
	case maxTokens == 0 && !req.Echo:
		return nil, badRequest("max_tokens", "max_tokens 0, want >= 1 (0 only with echo, to score the prompt)")
	case maxTokens == 0:
		p.scoreOnly, maxTokens = true, 1
	}
	if req.MinTokens < 0 || req.MinTokens > maxTokens {
		return nil, badRequest("min_tokens", "min_tokens %d, want 0..max_tokens (%d)", req.MinTokens, maxTokens)
	}
	temp, topP, topK := 1.0, 1.0, 0
	if req.Temperature != nil {
		temp = *req.Temperature
	}
	if req.TopP != nil {
		topP = *req.TopP
	}
	if req.TopK != nil && *req.TopK != -1 {
		topK = *req.TopK
	}
	switch {
	case temp < 0 || math.IsNaN(temp) || temp > 100:
		return nil, badRequest("temperature", "temperature %g, want 0..100 (0 is greedy)", temp)
	case topP <= 0 || topP > 1:
		return nil, badRequest("top_p", "top_p %g, want (0, 1]", topP)
	case topK < 0:
		return nil, badRequest("top_k", "top_k %d, want >= 1, or 0 or -1 for all tokens", topK)
	}
	if req.Logprobs != nil {
		p.logprobs = *req.Logprobs
		if p.logprobs < 0 || p.logprobs > engine.MaxTopLogprobs {
			return nil, badRequest("logprobs", "logprobs %d, want 0..%d", p.logprobs, engine.MaxTopLogprobs)
		}
	}
	if p.stream && p.echo && p.logprobs >= 0 {
		return nil, badRequest("echo", "echo with logprobs is not supported when streaming; set stream to false")
	}
	seed := rand.Uint64()
	if req.Seed != nil {
		seed = uint64(*req.Seed)
	}
	ecfg := eng.Config()
	p.eos, p.eosEnds = ecfg.EOS, !req.IgnoreEOS
	for _, id := range req.StopTokenIDs {
		if p.stopTok == nil {
			p.stopTok = map[int32]bool{}
		}
		p.stopTok[id] = true
	}
	p.base = engine.Request{
		MaxTokens: maxTokens, MinTokens: req.MinTokens, IgnoreEOS: req.IgnoreEOS, StopTokens: req.StopTokenIDs,
		Sampling:    model.SampleOptions{Temperature: float32(temp), TopP: float32(topP), TopK: topK, Seed: seed},
		Logprobs:    p.logprobs >= 0,
		TopLogprobs: max(p.logprobs, 0),
		// scoring the prompt needs its logprobs; so does echo with logprobs
		PromptLogprobs: p.echo && p.logprobs >= 0,
	}
	for _, pr := range prompts {
		ids := pr.ids
		if !pr.isIDs {
			var err error
			if ids, err = s.tok.EncodeSpecial(pr.text); err != nil {
				return nil, errorf(http.StatusInternalServerError, typeServer, "", "%v", err)
			}
			if len(ids) == 0 {
				ids = []int32{p.eos} // an empty prompt starts after an end of text, as OpenAI's does
			}
		}
		p.prompts = append(p.prompts, ids)
	}
	return p, nil
}

// choice is one choice of a request in flight.
type choice struct {
	index  int
	prompt []int32
	stream *engine.Stream
	cancel context.CancelFunc
	d      *detok
	echo   string // the prompt's text, when echoed

	n           int // tokens received
	first, last time.Time
	gaps        []time.Duration
	lp          *completionLogprobs
	offset      int // bytes of text before the next token (text_offset)

	ended      bool
	reason     string
	stopReason any
	res        engine.Result
}

// submit submits every choice; on an error it cancels those submitted.
func (s *Server) submit(ctx context.Context, eng *engine.Engine, p *plan) ([]*choice, *apiError) {
	cs := make([]*choice, 0, len(p.prompts)*p.n)
	for i, ids := range p.prompts {
		for j := range p.n {
			req := p.base
			req.Prompt = ids
			req.Sampling.Seed += uint64(j)
			cctx, cancel := context.WithCancel(ctx)
			st, err := eng.Submit(cctx, req)
			if err != nil {
				cancel()
				s.endAll(cs)
				return nil, fromEngine(err)
			}
			c := &choice{index: i*p.n + j, prompt: ids, stream: st, cancel: cancel, d: newDetok(p.stops, p.includeStop)}
			if p.logprobs >= 0 {
				c.lp = &completionLogprobs{}
			}
			cs = append(cs, c)
		}
	}
	if p.echo {
		for _, c := range cs {
			text, err := s.tok.Decode(c.prompt)
			if err != nil {
				s.endAll(cs)
				return nil, badRequest("prompt", "%v", err)
			}
			c.echo = text
			c.offset = len(text)
		}
	}
	return cs, nil
}

// endAll cancels the choices not ended yet, waits for the engine to let
// them go (within a step) and records them.
func (s *Server) endAll(cs []*choice) {
	for _, c := range cs {
		if c.ended {
			continue
		}
		c.cancel()
		c.res = c.stream.Result()
		c.ended = true
		c.reason = string(c.res.Reason)
		s.metrics.observeChoice(c.reason, c.res.Timings, c.last, len(c.prompt), c.n, c.gaps)
	}
	for _, c := range cs {
		c.cancel()
	}
}

// tokenStr is a token as the logprobs object names it.
func (s *Server) tokenStr(p *plan, id int32) string {
	if p.tokenIDs {
		return "token_id:" + strconv.Itoa(int(id))
	}
	b, err := s.tok.DecodeToken(id)
	if err != nil {
		return "token_id:" + strconv.Itoa(int(id))
	}
	if !utf8.Valid(b) {
		// Part of a character: JSON would turn it into U+FFFD, and two such
		// tokens into one key of top_logprobs. Name its bytes instead.
		var sb strings.Builder
		sb.WriteString("bytes:")
		for _, c := range b {
			fmt.Fprintf(&sb, "\\x%02x", c)
		}
		return sb.String()
	}
	return string(b)
}

// onToken takes the next token of c and returns the text it adds and
// whether it ends c (then c.reason is set and c.res final).
func (s *Server) onToken(p *plan, c *choice, tok engine.Token) (string, bool) {
	c.n++
	if c.n == 1 {
		c.first = tok.Time
	} else {
		c.gaps = append(c.gaps, tok.Time.Sub(c.last))
	}
	c.last = tok.Time
	if p.scoreOnly {
		c.n = 0
		return s.end(c, string(engine.FinishLength), nil), true
	}
	stopTok := (p.eosEnds && tok.ID == p.eos) || p.stopTok[tok.ID]
	var bytes []byte
	if !stopTok || c.n < p.base.MinTokens {
		bytes, _ = s.tok.DecodeToken(tok.ID)
	}
	if c.lp != nil {
		s.addLogprob(p, c, tok)
	}
	text, hit := c.d.push(bytes)
	c.offset += len(text)
	switch {
	case hit:
		return text + s.end(c, string(engine.FinishStop), c.d.stopped), true
	case stopTok && c.n >= p.base.MinTokens:
		var why any
		if tok.ID != p.eos || !p.eosEnds {
			why = tok.ID
		}
		return text + s.end(c, string(engine.FinishStop), why), true
	case c.n >= p.base.MaxTokens:
		return text + s.end(c, string(engine.FinishLength), nil), true
	}
	return text, false
}

// addLogprob appends tok to c's logprobs.
func (s *Server) addLogprob(p *plan, c *choice, tok engine.Token) {
	lp := float64(tok.Logprob)
	top := make(map[string]float64, len(tok.Top)+1)
	for _, t := range tok.Top {
		top[s.tokenStr(p, t.ID)] = float64(t.Logprob)
	}
	name := s.tokenStr(p, tok.ID)
	top[name] = lp
	c.lp.Tokens = append(c.lp.Tokens, name)
	c.lp.TokenLogprobs = append(c.lp.TokenLogprobs, &lp)
	c.lp.TopLogprobs = append(c.lp.TopLogprobs, top)
	c.lp.TextOffset = append(c.lp.TextOffset, c.offset)
}

// end finishes c with reason: it stops the engine's request (for a stop
// string), waits for its result and records it; it returns the text held
// back so far.
func (s *Server) end(c *choice, reason string, why any) string {
	rest := c.d.flush()
	c.cancel()
	c.res = c.stream.Result()
	c.ended, c.reason, c.stopReason = true, reason, why
	s.metrics.observeChoice(reason, c.res.Timings, c.last, len(c.prompt), c.n, c.gaps)
	return rest
}

// recv waits for the next token of any choice not ended. ok is false when
// that choice's stream closed; err is set when ctx ended.
func recv(ctx context.Context, cs []*choice) (*choice, engine.Token, bool, error) {
	var open []*choice
	for _, c := range cs {
		if !c.ended {
			open = append(open, c)
		}
	}
	if len(open) == 1 {
		c := open[0]
		select {
		case tok, ok := <-c.stream.Tokens():
			return c, tok, ok, nil
		case <-ctx.Done():
			return nil, engine.Token{}, false, ctx.Err()
		}
	}
	cases := make([]reflect.SelectCase, len(open)+1)
	cases[0] = reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())}
	for i, c := range open {
		cases[i+1] = reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(c.stream.Tokens())}
	}
	i, v, ok := reflect.Select(cases)
	if i == 0 {
		return nil, engine.Token{}, false, ctx.Err()
	}
	if !ok {
		return open[i-1], engine.Token{}, false, nil
	}
	return open[i-1], v.Interface().(engine.Token), true, nil
}

// closedEarly ends a choice whose stream closed before it finished (the
// client left, or the engine failed or closed); it returns the error to
// report, nil when the client is gone.
func (s *Server) closedEarly(c *choice) *apiError {
	c.res = c.stream.Result()
	c.ended, c.reason = true, string(c.res.Reason)
	s.metrics.observeChoice(c.reason, c.res.Timings, c.last, len(c.prompt), c.n, c.gaps)
	switch c.res.Reason {
	case engine.FinishCancelled:
		return nil
	case engine.FinishStop, engine.FinishLength: // not expected: the server mirrors the engine's rules
		return nil
	}
	e := fromEngine(c.res.Err)
	if e.Status == http.StatusServiceUnavailable {
		e.Message = "the server shut down before the request finished; it was cancelled"
	}
	return e
}

// timing is choice c's server_timing.
func timing(c *choice) *serverTiming {
	t := c.res.Timings
	st := &serverTiming{QueueMs: ms(t.Queue()), PrefillMs: ms(t.Prefill()), TTFTMs: ms(t.TTFT()), ITLMs: make([]float64, len(c.gaps))}
	if !c.first.IsZero() {
		st.DecodeMs = ms(c.last.Sub(c.first))
	}
	for i, g := range c.gaps {
		st.ITLMs[i] = ms(g)
	}
	return st
}

// header is a Server-Timing header value of st.
func (st *serverTiming) header() string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
	return "queue;dur=" + f(st.QueueMs) + ", prefill;dur=" + f(st.PrefillMs) + ", ttft;dur=" + f(st.TTFTMs) + ", decode;dur=" + f(st.DecodeMs)
}

// usageOf counts the prompt tokens once per prompt and every choice's tokens.
func usageOf(p *plan, cs []*choice) *usage {
	u := &usage{}
	cached := 0
	for i, c := range cs {
		if i%p.n == 0 {
			u.PromptTokens += len(c.prompt)
			if c.ended {
				cached += c.res.CachedTokens
			}
		}
		u.CompletionTokens += c.n
	}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	u.PromptTokensDetails = &struct {
		CachedTokens int `json:"cached_tokens"`
	}{cached}
	return u
}

// handleCompletions is POST /v1/completions.
func (s *Server) handleCompletions(w http.ResponseWriter, r *http.Request) {
	eng, aerr := s.ready()
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	var req completionRequest
	if aerr = s.decodeBody(w, r, &req); aerr == nil {
		aerr = s.checkModel(req.Model)
	}
	var p *plan
	if aerr == nil {
		p, aerr = s.newPlan(&req, eng)
	}
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	cs, aerr := s.submit(ctx, eng, p)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	defer s.endAll(cs)
	ri := info(r)
	id := "cmpl-" + ri.id
	created := time.Now().Unix()
	defer func() {
		c := cs[0]
		u := usageOf(p, cs)
		ri.attrs = append(ri.attrs, slog.Int("choices", len(cs)), slog.Bool("stream", p.stream),
			slog.Int("prompt_tokens", u.PromptTokens), slog.Int("output_tokens", u.CompletionTokens),
			slog.Int("cached_tokens", u.PromptTokensDetails.CachedTokens), slog.String("finish_reason", c.reason))
		if c.ended && c.n > 0 {
			st := timing(c)
			ri.attrs = append(ri.attrs, slog.Float64("queue_ms", st.QueueMs), slog.Float64("prefill_ms", st.PrefillMs),
				slog.Float64("ttft_ms", st.TTFTMs), slog.Float64("decode_ms", st.DecodeMs))
		}
	}()
	if p.stream {
		s.streamCompletion(ctx, w, p, cs, id, created)
		return
	}
	s.wholeCompletion(ctx, w, p, cs, id, created)
}

// wholeCompletion waits for every choice and writes one response.
func (s *Server) wholeCompletion(ctx context.Context, w http.ResponseWriter, p *plan, cs []*choice, id string, created int64) {
	texts := make([]strings.Builder, len(cs))
	for {
		c, tok, ok, err := recv(ctx, cs)
		if err != nil {
			return // the client is gone
		}
		if !ok {
			if aerr := s.closedEarly(c); aerr != nil {
				writeError(w, aerr)
				return
			}
		} else {
			text, _ := s.onToken(p, c, tok)
			texts[c.index].WriteString(text)
		}
		if allEnded(cs) {
			break
		}
	}
	resp := completionResponse{ID: id, Object: "text_completion", Created: created, Model: s.ModelName(), Usage: usageOf(p, cs)}
	for _, c := range cs {
		if c.reason == string(engine.FinishCancelled) {
			return // the client is gone
		}
		ch := completionChoice{Index: c.index, Text: c.echo + texts[c.index].String(), Logprobs: s.fullLogprobs(p, c), FinishReason: &c.reason, StopReason: c.stopReason}
		resp.Choices = append(resp.Choices, ch)
	}
	resp.ServerTiming = timing(cs[0])
	w.Header().Set("Server-Timing", resp.ServerTiming.header())
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
	writeJSON(w, &resp)
}

// fullLogprobs is c's logprobs with the prompt's in front when echoed.
func (s *Server) fullLogprobs(p *plan, c *choice) *completionLogprobs {
	if c.lp == nil || !p.echo {
		return c.lp
	}
	lp := &completionLogprobs{}
	off := 0
	for i, id := range c.prompt {
		name := s.tokenStr(p, id)
		lp.Tokens = append(lp.Tokens, name)
		lp.TextOffset = append(lp.TextOffset, off)
		b, _ := s.tok.DecodeToken(id)
		off += len(b)
		if i == 0 || i-1 >= len(c.res.PromptLogprobs) {
			lp.TokenLogprobs = append(lp.TokenLogprobs, nil)
			lp.TopLogprobs = append(lp.TopLogprobs, nil)
			continue
		}
		v := float64(c.res.PromptLogprobs[i-1].Logprob)
		lp.TokenLogprobs = append(lp.TokenLogprobs, &v)
		lp.TopLogprobs = append(lp.TopLogprobs, map[string]float64{name: v})
	}
	lp.Tokens = append(lp.Tokens, c.lp.Tokens...)
	lp.TokenLogprobs = append(lp.TokenLogprobs, c.lp.TokenLogprobs...)
	lp.TopLogprobs = append(lp.TopLogprobs, c.lp.TopLogprobs...)
	lp.TextOffset = append(lp.TextOffset, c.lp.TextOffset...)
	return lp
}

func allEnded(cs []*choice) bool {
	for _, c := range cs {
		if !c.ended {
			return false
		}
	}
	return true
}

// sse writes Server-Sent Events, each flushed, each under a write deadline.
type sse struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	err     error
}

func (e *sse) send(v any) {
	if e.err != nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		e.err = err
		return
	}
	e.raw(b)
}

func (e *sse) raw(b []byte) {
	if e.err != nil {
		return
	}
	e.rc.SetWriteDeadline(time.Now().Add(e.timeout))
	buf := make([]byte, 0, len(b)+8)
	buf = append(append(append(buf, "data: "...), b...), "\n\n"...)
	if _, e.err = e.w.Write(buf); e.err == nil {
		e.err = e.rc.Flush()
	}
}

// streamCompletion sends one event per token (one choice each), the last
// with server_timing (or a usage event after it that carries it), then
// [DONE]; Server-Timing goes in a trailer.
func (s *Server) streamCompletion(ctx context.Context, w http.ResponseWriter, p *plan, cs []*choice, id string, created int64) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	h.Set("Trailer", "Server-Timing")
	w.WriteHeader(http.StatusOK)
	ev := &sse{w: w, rc: http.NewResponseController(w), timeout: s.opts.WriteTimeout}
	chunk := func(c *choice, text string, lp *completionLogprobs, finish *string) *completionResponse {
		r := &completionResponse{ID: id, Object: "text_completion", Created: created, Model: s.ModelName(),
			Choices: []completionChoice{{Index: c.index, Text: text, Logprobs: lp, FinishReason: finish}}}
		if finish != nil {
			r.Choices[0].StopReason = c.stopReason
		}
		if p.contUsage {
			r.Usage = usageOf(p, cs)
		}
		return r
	}
	if p.echo {
		for _, c := range cs {
			ev.send(chunk(c, c.echo, nil, nil))
		}
	}
	for ev.err == nil && !allEnded(cs) {
		c, tok, ok, err := recv(ctx, cs)
		if err != nil {
			return // the client is gone
		}
		if !ok {
			if aerr := s.closedEarly(c); aerr != nil {
				ev.send(struct {
					Error *apiError `json:"error"`
				}{aerr})
				ev.raw([]byte("[DONE]"))
				return
			}
			if c.reason == string(engine.FinishCancelled) {
				return
			}
			continue
		}
		var lp *completionLogprobs
		n := 0
		if c.lp != nil {
			n = len(c.lp.Tokens)
		}
		text, last := s.onToken(p, c, tok)
		if c.lp != nil && len(c.lp.Tokens) > n {
			lp = &completionLogprobs{Tokens: c.lp.Tokens[n:], TokenLogprobs: c.lp.TokenLogprobs[n:], TopLogprobs: c.lp.TopLogprobs[n:], TextOffset: c.lp.TextOffset[n:]}
		}
		var finish *string
		if last {
			finish = &c.reason
		}
		out := chunk(c, text, lp, finish)
		if last && allEnded(cs) && !p.includeUsage {
			out.ServerTiming = timing(cs[0])
		}
		ev.send(out)
	}
	if ev.err != nil {
		return
	}
	st := timing(cs[0])
	if p.includeUsage {
		ev.send(&completionResponse{ID: id, Object: "text_completion", Created: created, Model: s.ModelName(), Choices: []completionChoice{}, Usage: usageOf(p, cs), ServerTiming: st})
	}
	ev.raw([]byte("[DONE]"))
	w.Header().Set("Server-Timing", st.header())
}
