package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gpt2bench/gpt2bench/engine"
)

// apiError is an error in OpenAI's shape:
//
//	{"error": {"message": "...", "type": "invalid_request_error", "param": "max_tokens", "code": null}}
type apiError struct {
	Status  int     `json:"-"`
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

func (e *apiError) Error() string { return e.Message }

// Error types, as OpenAI names them.
const (
	typeInvalid     = "invalid_request_error"
	typeAuth        = "authentication_error"
	typeRateLimit   = "rate_limit_error"
	typeUnavailable = "service_unavailable"
	typeServer      = "server_error"
)

func strp(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// badRequest is a 400 about param (may be "").
func badRequest(param, format string, a ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Message: fmt.Sprintf(format, a...), Type: typeInvalid, Param: strp(param)}
}

// errorf builds an apiError of any status.
func errorf(status int, typ, code, format string, a ...any) *apiError {
	return &apiError{Status: status, Message: fmt.Sprintf(format, a...), Type: typ, Code: strp(code)}
}

// fromEngine maps an error of engine.Submit (or a failed request) to the
// API: a refused request is 400, a full queue 429, a closed engine 503.
func fromEngine(err error) *apiError {
	var re *engine.RequestError
	switch {
	case errors.As(err, &re):
		e := badRequest("", "%s", re.Msg)
		if re.Context != nil {
			e.Param, e.Code = strp("max_tokens"), strp("context_length_exceeded")
		}
		return e
	case errors.Is(err, engine.ErrQueueFull):
		return errorf(http.StatusTooManyRequests, typeRateLimit, "queue_full", "the server's request queue is full; retry later")
	case errors.Is(err, engine.ErrClosed):
		return errorf(http.StatusServiceUnavailable, typeUnavailable, "draining", "the server is shutting down and takes no new requests")
	}
	return errorf(http.StatusInternalServerError, typeServer, "", "%v", err)
}

// writeError writes e as the response, with Retry-After on 429 and 503.
func writeError(w http.ResponseWriter, e *apiError) {
	if rec, ok := w.(*recorder); ok { // the access log names the error
		rec.ri.attrs = append(rec.ri.attrs, slog.String("error", e.Message))
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if e.Status == http.StatusTooManyRequests || e.Status == http.StatusServiceUnavailable {
		h.Set("Retry-After", strconv.Itoa(1))
	}
	w.WriteHeader(e.Status)
	b, _ := json.Marshal(struct {
		Error *apiError `json:"error"`
	}{e})
	b = append(b, '\n')
	w.Write(b)
}
