package soak

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gpt2bench/gpt2bench/bench/report"
	"github.com/gpt2bench/gpt2bench/loadgen"
)

// faultRequestTimeout bounds each request of a fault.
const faultRequestTimeout = 2 * time.Minute

// event is one scheduled fault.
type event struct {
	at   time.Duration // from the start
	kind string
}

// schedule returns the faults in time order: the kinds other than restart
// in turn every FaultInterval from half an interval after the warm-up, and
// restart once, half-way through the time after the warm-up.
func (o Options) schedule() []event {
	var kinds []string
	restart := false
	for _, f := range AllFaults { // a fixed order, whatever the flag's
		if !slices.Contains(o.Faults, f) {
			continue
		}
		if f == report.FaultRestart {
			restart = true
			continue
		}
		kinds = append(kinds, f)
	}
	var ev []event
	if len(kinds) > 0 {
		for t, k := o.Warmup+o.FaultInterval/2, 0; t < o.Duration-o.FaultInterval/4; t, k = t+o.FaultInterval, k+1 {
			ev = append(ev, event{t, kinds[k%len(kinds)]})
		}
	}
	if restart {
		ev = append(ev, event{o.Warmup + (o.Duration-o.Warmup)/2 + o.FaultInterval/4, report.FaultRestart})
	}
	slices.SortStableFunc(ev, func(a, b event) int { return int(a.at - b.at) })
	return ev
}

// runFaults injects the scheduled faults one after another until sendCtx ends.
func (r *run) runFaults(sendCtx, reqCtx context.Context) {
	ev := r.o.schedule()
	if len(ev) == 0 {
		return
	}
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64, DisableCompression: true, ResponseHeaderTimeout: faultRequestTimeout}
	defer tr.CloseIdleConnections()
	fh := &faultHTTP{hc: &http.Client{Transport: tr}, o: r.o}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for i, e := range ev {
		timer.Reset(time.Until(r.start.Add(e.at)))
		select {
		case <-sendCtx.Done():
			return
		case <-timer.C:
		}
		base := r.baseline(reqCtx)
		f := report.SoakFault{Kind: e.kind, StartS: time.Since(r.start).Seconds(), Outcomes: map[string]int{}}
		switch e.kind {
		case report.FaultDisconnect:
			fh.disconnect(reqCtx, &f, i)
		case report.FaultMalformed:
			fh.malformed(reqCtx, &f)
		case report.FaultOverContext:
			fh.overContext(reqCtx, &f)
		case report.FaultBurst:
			fh.burst(reqCtx, &f, r.start, i)
		case report.FaultRestart:
			fh.restart(reqCtx, &f)
		}
		tr.CloseIdleConnections()
		f.EndS = time.Since(r.start).Seconds()
		r.recover(reqCtx, &f, base)
		r.mu.Lock()
		r.faults = append(r.faults, f)
		r.mu.Unlock()
		var outs []string
		for _, k := range slices.Sorted(maps.Keys(f.Outcomes)) {
			outs = append(outs, fmt.Sprintf("%s %d", k, f.Outcomes[k]))
		}
		res := "ok"
		if !f.Pass {
			res = "FAIL: " + f.Detail
		}
		rec := "recovered after " + strconv.FormatFloat(f.RecoveredS, 'f', 1, 64) + " s"
		if f.RecoveredS < 0 {
			rec = "not recovered"
		}
		r.o.Logf("soak: fault %s at %.0f s: %s; %s; %s\n", f.Kind, f.StartS, strings.Join(outs, ", "), rec, res)
	}
}

// recoveryTolerance is how far above its level before a fault a resource
// may stay and count as recovered: the larger of an absolute slack and 10%.
var recoveryTolerance = map[string]float64{ResGoroutines: 8, ResOpenFDs: 4, ResKVBlocksUsed: 4}

// baseline is each recovery resource's level before a fault: the largest
// of the last three samples and a reading now.
func (r *run) baseline(ctx context.Context) map[string]float64 {
	now := r.read(ctx)
	out := map[string]float64{}
	r.mu.Lock()
	defer r.mu.Unlock()
	for name := range recoveryTolerance {
		v, ok := now[name]
		if !ok {
			continue
		}
		vals := r.vals[name]
		for _, x := range vals[max(0, len(vals)-3):] {
			v = math.Max(v, x)
		}
		out[name] = v
	}
	return out
}

// recover waits, at most FaultSettle, until the resources are back within
// their tolerance of base; it sets RecoveredS, and fails the fault if not.
func (r *run) recover(ctx context.Context, f *report.SoakFault, base map[string]float64) {
	f.Pass = f.Detail == ""
	if len(base) == 0 {
		f.RecoveredS = 0
		f.Detail = strings.TrimPrefix(f.Detail+"; no resource figures to check recovery against", "; ")
		return
	}
	end := time.Now()
	if r.o.Server != nil {
		// In process, the heap and RSS after a fault are made fresh: two
		// GCs (the live heap is otherwise the last cycle's, before the
		// fault's garbage was freed, and sync.Pools keep their buffers
		// through one cycle: a burst's connections leave MiBs there), the
		// second also returning free pages to the OS (the runtime does it
		// lazily, over minutes). A leak's memory is live: this does not
		// hide it.
		runtime.GC()
		debug.FreeOSMemory()
	}
	limit := end.Add(r.o.FaultSettle)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		now := r.read(ctx)
		var over []string
		for _, name := range slices.Sorted(maps.Keys(base)) {
			b := base[name]
			tol := math.Max(recoveryTolerance[name], 0.1*b)
			if v, ok := now[name]; ok && v > b+tol {
				over = append(over, fmt.Sprintf("%s %.0f (%.0f before)", name, v, b))
			}
		}
		if len(over) == 0 {
			f.RecoveredS = time.Since(end).Seconds()
			return
		}
		if time.Now().After(limit) || ctx.Err() != nil {
			f.RecoveredS = -1
			f.Pass = false
			msg := fmt.Sprintf("not back within %v: %s", r.o.FaultSettle, strings.Join(over, ", "))
			f.Detail = strings.TrimPrefix(f.Detail+"; "+msg, "; ")
			return
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
}

// faultHTTP sends the faults' requests over its own connections.
type faultHTTP struct {
	hc *http.Client
	o  Options
}

// url returns the completions URL.
func (h *faultHTTP) url() string {
	return strings.TrimRight(h.o.Client.BaseURL, "/") + "/completions"
}

// post sends body to the completions endpoint.
func (h *faultHTTP) post(ctx context.Context, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if h.o.Client.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+h.o.Client.APIKey)
	}
	return h.hc.Do(req)
}

// completion is the body of a completion request.
func (h *faultHTTP) completion(prompt any, maxTokens int, stream bool) []byte {
	b, _ := json.Marshal(map[string]any{"model": h.o.Client.Model, "prompt": prompt, "max_tokens": maxTokens, "stream": stream})
	return b
}

// prompt is the workload's i-th prompt, as ids or text.
func (h *faultHTTP) prompt(i int) (any, int) {
	req := h.o.Workload.Request(i)
	if req.PromptIDs != nil {
		return req.PromptIDs, req.OutputLen
	}
	return req.PromptText, req.OutputLen
}

// expectError sends body and classes the answer: "http_NNN" for a 4xx with
// an error body in OpenAI's shape, "http_NNN_no_error_body" without one,
// "http_NNN" for anything else, or a transport failure's class.
func (h *faultHTTP) expectError(ctx context.Context, body []byte) string {
	ctx, cancel := context.WithTimeout(ctx, faultRequestTimeout)
	defer cancel()
	resp, err := h.post(ctx, body)
	if err != nil {
		return classOf(ctx)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	out := "http_" + strconv.Itoa(resp.StatusCode)
	if resp.StatusCode >= 400 && resp.StatusCode < 500 {
		var e struct {
			Error *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(b, &e) != nil || e.Error == nil || e.Error.Message == "" {
			out += "_no_error_body"
		}
	}
	return out
}

// classOf names a transport failure: the request's timeout, else the connection.
func classOf(ctx context.Context) string {
	if ctx.Err() != nil {
		return report.ErrClassTimeout
	}
	return report.ErrClassConnection
}

// check fails f unless every outcome is one of ok.
func check(f *report.SoakFault, ok func(string) bool) {
	var bad []string
	for _, k := range slices.Sorted(maps.Keys(f.Outcomes)) {
		if !ok(k) {
			bad = append(bad, fmt.Sprintf("%s %d", k, f.Outcomes[k]))
		}
	}
	if len(bad) > 0 {
		f.Detail = "unexpected outcomes: " + strings.Join(bad, ", ")
	}
}

// isClientError is a 4xx with an error body.
func isClientError(k string) bool {
	return strings.HasPrefix(k, "http_4") && !strings.HasSuffix(k, "_no_error_body")
}

// disconnect opens streams and drops each after its first token.
func (h *faultHTTP) disconnect(ctx context.Context, f *report.SoakFault, seq int) {
	n := min(max(h.o.Concurrency, 2), 8)
	f.Expected = "each stream dropped after its first token (or refused with 429/503)"
	f.Sent = n
	var mu sync.Mutex
	var wg sync.WaitGroup
	for k := range n {
		wg.Go(func() {
			out := h.dropOne(ctx, 1<<28+seq*16+k)
			mu.Lock()
			f.Outcomes[out]++
			mu.Unlock()
		})
	}
	wg.Wait()
	check(f, func(k string) bool { return k == "disconnected" || k == "http_429" || k == "http_503" })
}

// dropOne sends one streaming request and closes it after the first event.
func (h *faultHTTP) dropOne(ctx context.Context, i int) string {
	ctx, cancel := context.WithTimeout(ctx, faultRequestTimeout)
	defer cancel()
	prompt, out := h.prompt(i)
	resp, err := h.post(ctx, h.completion(prompt, out, true))
	if err != nil {
		return classOf(ctx)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "http_" + strconv.Itoa(resp.StatusCode)
	}
	br := bufio.NewReader(io.LimitReader(resp.Body, 16<<20))
	for {
		line, err := br.ReadString('\n')
		if strings.HasPrefix(line, "data:") && !strings.Contains(line, "[DONE]") {
			cancel() // drop the connection mid-stream
			return "disconnected"
		}
		if err != nil {
			if ctx.Err() != nil {
				return report.ErrClassTimeout
			}
			return "ended_before_first_token"
		}
	}
}

// malformed sends bodies that are not a valid request.
func (h *faultHTTP) malformed(ctx context.Context, f *report.SoakFault) {
	m, _ := json.Marshal(h.o.Client.Model)
	bodies := []string{
		`{"model": ` + string(m) + `, "prompt": [1, 2`, // truncated JSON
		`not json at all`,
		`{"model": ` + string(m) + `, "prompt": "Hello", "max_tokens": "many"}`, // wrong type
		`{"model": ` + string(m) + `, "prompt": "Hello", "max_tokens": -5}`,     // out of range
	}
	f.Expected = "every request answered 4xx with an error body"
	f.Sent = len(bodies)
	for _, b := range bodies {
		f.Outcomes[h.expectError(ctx, []byte(b))]++
	}
	check(f, isClientError)
}

// overContext sends prompts one token longer than the context.
func (h *faultHTTP) overContext(ctx context.Context, f *report.SoakFault) {
	ids := make([]int32, h.o.ContextLen+1)
	for i := range ids {
		ids[i] = int32((i*7919 + 13) % h.o.Vocab)
	}
	f.Expected = fmt.Sprintf("prompts of %d tokens (context %d) answered 4xx with an error body", len(ids), h.o.ContextLen)
	f.Sent = 2
	for _, stream := range []bool{false, true} {
		f.Outcomes[h.expectError(ctx, h.completion(ids, 1, stream))]++
	}
	check(f, isClientError)
}

// burst sends BurstSize requests at once.
func (h *faultHTTP) burst(ctx context.Context, f *report.SoakFault, origin time.Time, seq int) {
	n := h.o.BurstSize
	f.Expected = fmt.Sprintf("%d requests at once: each completes or gets 429/503", n)
	f.Sent = n
	co := h.o.Client
	co.MaxConns = n
	co.Timeout = faultRequestTimeout
	c, err := loadgen.NewClient(co)
	if err != nil {
		f.Detail = err.Error()
		return
	}
	defer c.Close()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for k := range n {
		wg.Go(func() {
			rec, err := c.Send(ctx, h.o.Workload.Request(1<<29+seq*n+k), time.Now(), origin)
			out := "ok"
			switch {
			case err != nil:
				out = "interrupted"
			case rec.Class != "":
				out = rec.Class
			}
			mu.Lock()
			f.Outcomes[out]++
			mu.Unlock()
		})
	}
	wg.Wait()
	check(f, func(k string) bool { return k == "ok" || k == "http_429" || k == "http_503" || k == "interrupted" })
}

// restart drains the in-process server and starts it again.
func (h *faultHTTP) restart(ctx context.Context, f *report.SoakFault) {
	f.Expected = "drained (requests in flight finish), back on the same port, /health 200"
	f.Sent = 1
	t0 := time.Now()
	if err := h.o.Server.Restart(h.o.DrainTimeout); err != nil {
		f.Outcomes["error"]++
		f.Detail = err.Error()
		return
	}
	h.o.Logf("soak: restart: drained and started again in %.2f s\n", time.Since(t0).Seconds())
	// /health until 200
	health := strings.TrimSuffix(strings.TrimRight(h.o.Client.BaseURL, "/"), "/v1") + "/health"
	limit := time.Now().Add(30 * time.Second)
	for {
		hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		req, _ := http.NewRequestWithContext(hctx, http.MethodGet, health, nil)
		resp, err := h.hc.Do(req)
		status := 0
		if err == nil {
			status = resp.StatusCode
			resp.Body.Close()
		}
		cancel()
		if status == http.StatusOK {
			f.Outcomes["restarted"]++
			return
		}
		if time.Now().After(limit) || ctx.Err() != nil {
			f.Outcomes["not_back"]++
			f.Detail = fmt.Sprintf("/health did not answer 200 within 30 s of the restart (last: %d, %v)", status, err)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
