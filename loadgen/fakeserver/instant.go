package fakeserver

import (
	"fmt"
	"io"
	"net/http"
	"strings"
)

// InstantHandler answers every completion at once with tokens text events,
// a usage event and [DONE], written in one piece from a prepared buffer
// (it does not read max_tokens): the cheapest server a load generator can
// meet, to measure the generator's own capacity. /v1/models lists "instant".
func InstantHandler(tokens int) http.Handler {
	var b strings.Builder
	for k := range tokens {
		finish := "null"
		if k == tokens-1 {
			finish = `"length"`
		}
		fmt.Fprintf(&b, "data: {\"id\":\"cmpl-0\",\"object\":\"text_completion\",\"choices\":[{\"index\":0,\"text\":\" tok\",\"finish_reason\":%s}]}\n\n", finish)
	}
	fmt.Fprintf(&b, "data: {\"id\":\"cmpl-0\",\"object\":\"text_completion\",\"choices\":[],\"usage\":{\"prompt_tokens\":0,\"completion_tokens\":%d,\"total_tokens\":%d}}\n\n", tokens, tokens)
	b.WriteString("data: [DONE]\n\n")
	body := []byte(b.String())
	models := []byte(`{"object":"list","data":[{"id":"instant","object":"model"}]}`)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 64<<20))
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/models") {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(models)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = w.Write(body)
	})
}
