package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/gpt2bench/gpt2bench/engine"
)

// sdk returns the official OpenAI Go client for ts, with no retries (a
// retried 429 would hide it).
func sdk(ts *testServer, hc *http.Client, opts ...option.RequestOption) openai.Client {
	if hc == nil {
		hc = &http.Client{}
	}
	return openai.NewClient(append([]option.RequestOption{
		option.WithBaseURL(ts.url + "/v1/"), option.WithAPIKey("unused"), option.WithMaxRetries(0), option.WithHTTPClient(hc),
	}, opts...)...)
}

func tokensOf(p []int32) openai.CompletionNewParamsPromptUnion {
	ids := make([]int64, len(p))
	for i, v := range p {
		ids[i] = int64(v)
	}
	return openai.CompletionNewParamsPromptUnion{OfArrayOfTokens: ids}
}

// idsOf reads the token ids back from logprobs tokens named "token_id:N"
// (return_tokens_as_token_ids).
func idsOf(t testing.TB, tokens []string) []int32 {
	t.Helper()
	out := make([]int32, len(tokens))
	for i, s := range tokens {
		n, err := strconv.Atoi(strings.TrimPrefix(s, "token_id:"))
		if err != nil {
			t.Fatalf("token %q is not token_id:N", s)
		}
		out[i] = int32(n)
	}
	return out
}

func TestOpenAISDK(t *testing.T) {
	ts := start(t, engine.Config{}, Options{})
	client := sdk(ts, nil)
	ctx := context.Background()

	t.Run("completion", func(t *testing.T) {
		c, err := client.Completions.New(ctx, openai.CompletionNewParams{
			Model: "tiny", Prompt: tokensOf([]int32{10, 20, 30}), MaxTokens: openai.Int(7), Temperature: openai.Float(0), Logprobs: openai.Int(2),
		}, option.WithJSONSet("ignore_eos", true))
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Choices) != 1 || c.Choices[0].FinishReason != "length" || c.Model != "tiny" || !strings.HasPrefix(c.ID, "cmpl-") {
			t.Fatalf("completion %+v", c)
		}
		if u := c.Usage; u.PromptTokens != 3 || u.CompletionTokens != 7 || u.TotalTokens != 10 {
			t.Errorf("usage %+v", u)
		}
		lp := c.Choices[0].Logprobs
		if len(lp.Tokens) != 7 || len(lp.TokenLogprobs) != 7 || len(lp.TopLogprobs) != 7 || len(lp.TextOffset) != 7 {
			t.Errorf("logprobs %+v for text %q", lp, c.Choices[0].Text)
		}
		for i, top := range lp.TopLogprobs {
			if len(top) < 2 || len(top) > 3 {
				t.Errorf("token %d: %d top logprobs, want 2 (3 when the sampled one is not among them)", i, len(top))
			}
		}
		if raw := c.RawJSON(); !strings.Contains(raw, `"server_timing":{"queue_ms":`) {
			t.Errorf("no server_timing in %s", raw)
		}
	})

	t.Run("streaming", func(t *testing.T) {
		prompt := []int32{10, 20, 30}
		whole, err := client.Completions.New(ctx, openai.CompletionNewParams{Model: "tiny", Prompt: tokensOf(prompt), MaxTokens: openai.Int(9), Temperature: openai.Float(0)}, option.WithJSONSet("ignore_eos", true))
		if err != nil {
			t.Fatal(err)
		}
		stream := client.Completions.NewStreaming(ctx, openai.CompletionNewParams{
			Model: "tiny", Prompt: tokensOf(prompt), MaxTokens: openai.Int(9), Temperature: openai.Float(0),
			StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
		}, option.WithJSONSet("ignore_eos", true))
		var text strings.Builder
		var usage openai.CompletionUsage
		events, finish := 0, ""
		for stream.Next() {
			ch := stream.Current()
			for _, c := range ch.Choices {
				text.WriteString(c.Text)
				events++
				if c.FinishReason != "" {
					finish = string(c.FinishReason)
				}
			}
			if ch.Usage.TotalTokens > 0 {
				usage = ch.Usage
				if !strings.Contains(ch.RawJSON(), `"itl_ms":[`) {
					t.Errorf("usage chunk without server_timing: %s", ch.RawJSON())
				}
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if events != 9 || finish != "length" || usage.CompletionTokens != 9 || usage.PromptTokens != 3 {
			t.Errorf("%d events, finish %q, usage %+v", events, finish, usage)
		}
		if text.String() != whole.Choices[0].Text {
			t.Errorf("streamed text %q, whole %q", text.String(), whole.Choices[0].Text)
		}
	})

	t.Run("n and seed", func(t *testing.T) {
		params := openai.CompletionNewParams{Model: "tiny", Prompt: tokensOf([]int32{1, 2}), MaxTokens: openai.Int(6), N: openai.Int(3), Seed: openai.Int(42), Temperature: openai.Float(1)}
		a, err := client.Completions.New(ctx, params, option.WithJSONSet("ignore_eos", true))
		if err != nil {
			t.Fatal(err)
		}
		b, err := client.Completions.New(ctx, params, option.WithJSONSet("ignore_eos", true))
		if err != nil {
			t.Fatal(err)
		}
		if len(a.Choices) != 3 || a.Usage.PromptTokens != 2 || a.Usage.CompletionTokens != 18 {
			t.Fatalf("%d choices, usage %+v", len(a.Choices), a.Usage)
		}
		for i := range a.Choices {
			if a.Choices[i].Index != int64(i) || a.Choices[i].Text != b.Choices[i].Text {
				t.Errorf("choice %d: index %d, %q vs %q with the same seed", i, a.Choices[i].Index, a.Choices[i].Text, b.Choices[i].Text)
			}
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			params openai.CompletionNewParams
			status int
			want   string
		}{
			{"unknown model", openai.CompletionNewParams{Model: "gpt-3.5-turbo-instruct", Prompt: tokensOf([]int32{1})}, 404, "does not exist"},
			{"past the context", openai.CompletionNewParams{Model: "tiny", Prompt: tokensOf(ids(40, 3)), MaxTokens: openai.Int(30)}, 400, "context is 64"},
			{"n too large", openai.CompletionNewParams{Model: "tiny", Prompt: tokensOf([]int32{1}), N: openai.Int(100)}, 400, "n 100"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := client.Completions.New(ctx, tc.params)
				var ae *openai.Error
				if !errors.As(err, &ae) {
					t.Fatalf("error %v, want an *openai.Error", err)
				}
				if ae.StatusCode != tc.status || !strings.Contains(ae.Message, tc.want) || ae.Type == "" {
					t.Errorf("status %d type %q message %q; want %d and %q", ae.StatusCode, ae.Type, ae.Message, tc.status, tc.want)
				}
			})
		}
	})

	t.Run("models", func(t *testing.T) {
		page, err := client.Models.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Data) != 1 || page.Data[0].ID != "tiny" {
			t.Errorf("models %+v", page.Data)
		}
	})
}

// TestConcurrentStreams: 64 streaming clients at once all complete with
// the greedy tokens each request gets alone, and the server's goroutines
// and open files return to their baseline.
func TestConcurrentStreams(t *testing.T) {
	const clients = 64
	var maxSeqs atomic.Int64 // the most sequences in one step
	var together atomic.Bool // steps take 1 ms, so that the clients' requests meet in the queue even on one core
	ts := start(t, engine.Config{BatchInvariant: true, MaxNumSeqs: 16, OnStep: func(st engine.StepStats) {
		if int64(st.Seqs) > maxSeqs.Load() {
			maxSeqs.Store(int64(st.Seqs))
		}
		if together.Load() {
			time.Sleep(time.Millisecond)
		}
	}}, Options{})
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	client := sdk(ts, hc, option.WithJSONSet("return_tokens_as_token_ids", true), option.WithJSONSet("ignore_eos", true))
	ctx := context.Background()
	params := func(i int) openai.CompletionNewParams {
		return openai.CompletionNewParams{Model: "tiny", Prompt: tokensOf(ids(3+i%20, i)), MaxTokens: openai.Int(int64(8 + i%24)), Temperature: openai.Float(0), Logprobs: openai.Int(0)}
	}
	stream := func(i int) ([]int32, error) {
		s := client.Completions.NewStreaming(ctx, params(i))
		var toks []string
		finished := false
		for s.Next() {
			for _, c := range s.Current().Choices {
				toks = append(toks, c.Logprobs.Tokens...)
				finished = finished || c.FinishReason == "length"
			}
		}
		if err := s.Err(); err != nil {
			return nil, err
		}
		if !finished {
			return nil, fmt.Errorf("client %d: stream ended without finish_reason length", i)
		}
		return idsOf(t, toks), nil
	}

	alone := make([][]int32, clients)
	for i := range clients {
		var err error
		if alone[i], err = stream(i); err != nil {
			t.Fatal(err)
		}
		if len(alone[i]) != 8+i%24 {
			t.Fatalf("request %d alone: %d tokens, want %d", i, len(alone[i]), 8+i%24)
		}
	}
	hc.CloseIdleConnections()
	waitFor(t, "the engine to be idle", idle(ts.Engine()))
	time.Sleep(50 * time.Millisecond)
	baseG, baseFD := runtime.NumGoroutine(), openFDs(t)
	maxSeqs.Store(0)
	together.Store(true)

	got := make([][]int32, clients)
	errs := make([]error, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() { got[i], errs[i] = stream(i) })
	}
	wg.Wait()
	for i := range clients {
		if errs[i] != nil {
			t.Errorf("client %d: %v", i, errs[i])
			continue
		}
		if fmt.Sprint(got[i]) != fmt.Sprint(alone[i]) {
			t.Errorf("client %d: tokens %v together, %v alone", i, got[i], alone[i])
		}
	}
	if maxSeqs.Load() < 2 {
		t.Errorf("at most %d sequences shared a step: the clients did not run together", maxSeqs.Load())
	}
	t.Logf("up to %d sequences per step", maxSeqs.Load())
	hc.CloseIdleConnections()
	waitFor(t, "goroutines and open files back to their baseline", func() bool {
		return runtime.NumGoroutine() <= baseG && openFDs(t) <= baseFD
	})
	if st := ts.Engine().Stats(); st.Running != 0 || st.Waiting != 0 || st.BlocksUsed != 0 {
		t.Errorf("engine after the clients: %+v", st)
	}
}
