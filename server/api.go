package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// completionRequest is the body of POST /v1/completions: OpenAI's fields
// and vLLM's extensions (top_k, min_tokens, ignore_eos, stop_token_ids,
// include_stop_str_in_output, return_tokens_as_token_ids). Fields OpenAI
// has and gpt2bench does not implement are accepted only at the value
// that turns them off, so that a request never silently means something
// else.
type completionRequest struct {
	Model         string          `json:"model"`
	Prompt        json.RawMessage `json:"prompt"` // string | [string] | [int] | [[int]]
	MaxTokens     *int            `json:"max_tokens"`
	Temperature   *float64        `json:"temperature"`
	TopP          *float64        `json:"top_p"`
	TopK          *int            `json:"top_k"`
	Seed          *int64          `json:"seed"`
	Stop          json.RawMessage `json:"stop"` // string | [string] | null
	N             *int            `json:"n"`
	Logprobs      *int            `json:"logprobs"`
	Echo          bool            `json:"echo"`
	Stream        bool            `json:"stream"`
	StreamOptions *struct {
		IncludeUsage         bool `json:"include_usage"`
		ContinuousUsageStats bool `json:"continuous_usage_stats"`
	} `json:"stream_options"`

	// vLLM's extensions.
	IgnoreEOS              bool    `json:"ignore_eos"`
	MinTokens              int     `json:"min_tokens"`
	StopTokenIDs           []int32 `json:"stop_token_ids"`
	IncludeStopStrInOutput bool    `json:"include_stop_str_in_output"`
	ReturnTokensAsTokenIDs bool    `json:"return_tokens_as_token_ids"`
	SkipSpecialTokens      *bool   `json:"skip_special_tokens"`

	// Accepted when off.
	User              string             `json:"user"`
	BestOf            *int               `json:"best_of"`
	Suffix            *string            `json:"suffix"`
	PresencePenalty   *float64           `json:"presence_penalty"`
	FrequencyPenalty  *float64           `json:"frequency_penalty"`
	RepetitionPenalty *float64           `json:"repetition_penalty"`
	MinP              *float64           `json:"min_p"`
	LogitBias         map[string]float64 `json:"logit_bias"`
}

// maxStops bounds the stop strings of a request, and maxStopLen each one.
const (
	maxStops   = 16
	maxStopLen = 256
)

// decodeStrict decodes one JSON object from data into v, refusing unknown
// fields, wrong types and trailing data with a message that names the
// field.
func decodeStrict(data []byte, v any) *apiError {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			return badRequest("", "invalid JSON: data after the request object; send one JSON object")
		}
		return nil
	}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return badRequest("", "empty request body; send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("", "invalid JSON: the body ends in the middle of a value")
	case errors.As(err, &se):
		return badRequest("", "invalid JSON at byte %d: %s", se.Offset, strings.TrimPrefix(se.Error(), "json: "))
	case errors.As(err, &te):
		if te.Field == "" {
			return badRequest("", "the request body must be a JSON object, not %s", te.Value)
		}
		return badRequest(te.Field, "field %q: want %s, got %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return badRequest(name, "unknown field %q; see the API's fields in gpt2bench serve --help", name)
	}
	return badRequest("", "invalid JSON: %v", err)
}

// jsonKind names a Go kind as JSON would.
func jsonKind(k string) string {
	switch k {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "bool":
		return "a boolean"
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	}
	return k
}

// prompt is one prompt of a request: text, or token ids.
type prompt struct {
	text  string
	ids   []int32
	isIDs bool
}

// parsePrompts reads prompt's four shapes: a string, a list of strings, a
// list of token ids, a list of token-id lists.
func parsePrompts(raw json.RawMessage) ([]prompt, *apiError) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, badRequest("prompt", "missing field \"prompt\": give a string, a list of strings, a list of token ids or a list of token-id lists")
	}
	var s string
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, badRequest("prompt", "field \"prompt\": %v", err)
		}
		return []prompt{{text: s}}, nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, badRequest("prompt", "field \"prompt\": want a string, a list of strings, a list of token ids or a list of token-id lists, got %s", kindOf(raw))
	}
	if len(list) == 0 {
		return nil, badRequest("prompt", "field \"prompt\" is an empty list; give at least one prompt")
	}
	switch first := bytes.TrimSpace(list[0]); {
	case len(first) > 0 && first[0] == '"':
		out := make([]prompt, len(list))
		for i, r := range list {
			if err := json.Unmarshal(r, &out[i].text); err != nil {
				return nil, badRequest("prompt", "field \"prompt\"[%d]: want a string like the first, got %s", i, kindOf(r))
			}
		}
		return out, nil
	case len(first) > 0 && first[0] == '[':
		out := make([]prompt, len(list))
		for i, r := range list {
			if err := json.Unmarshal(r, &out[i].ids); err != nil {
				return nil, badRequest("prompt", "field \"prompt\"[%d]: want a list of token ids (integers), got %s", i, kindOf(r))
			}
			out[i].isIDs = true
		}
		return out, nil
	default:
		var ids []int32
		if err := json.Unmarshal(raw, &ids); err != nil {
			return nil, badRequest("prompt", "field \"prompt\": want a list of token ids (integers) or of strings: %v", strings.TrimPrefix(err.Error(), "json: "))
		}
		return []prompt{{ids: ids, isIDs: true}}, nil
	}
}

// parseStop reads stop: null, a string or a list of strings.
func parseStop(raw json.RawMessage) ([]string, *apiError) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	var stops []string
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, badRequest("stop", "field \"stop\": %v", err)
		}
		stops = []string{s}
	} else if err := json.Unmarshal(raw, &stops); err != nil {
		return nil, badRequest("stop", "field \"stop\": want a string or a list of strings, got %s", kindOf(raw))
	}
	if len(stops) > maxStops {
		return nil, badRequest("stop", "%d stop strings, the most is %d", len(stops), maxStops)
	}
	for i, s := range stops {
		if s == "" || len(s) > maxStopLen {
			return nil, badRequest("stop", "stop string %d has %d bytes, want 1..%d", i, len(s), maxStopLen)
		}
	}
	return stops, nil
}

// kindOf names the JSON kind of raw for error messages.
func kindOf(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '[':
		return "a list"
	case '{':
		return "an object"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return fmt.Sprintf("the number %.20s", raw)
}

// usage is OpenAI's token accounting.
type usage struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	TotalTokens         int `json:"total_tokens"`
	PromptTokensDetails *struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details,omitempty"`
}

// completionLogprobs is the legacy completions API's logprobs object.
type completionLogprobs struct {
	Tokens        []string             `json:"tokens"`
	TokenLogprobs []*float64           `json:"token_logprobs"` // null for the first prompt token
	TopLogprobs   []map[string]float64 `json:"top_logprobs"`   // null entries for it too
	TextOffset    []int                `json:"text_offset"`
}

// completionChoice is one choice of a response or of a streamed chunk.
type completionChoice struct {
	Index        int                 `json:"index"`
	Text         string              `json:"text"`
	Logprobs     *completionLogprobs `json:"logprobs"`
	FinishReason *string             `json:"finish_reason"`
	StopReason   any                 `json:"stop_reason,omitempty"` // vLLM: the stop string or token that ended it
}

// serverTiming is gpt2bench's extension: the engine's own clock readings
// of the request (choice 0), in milliseconds.
type serverTiming struct {
	QueueMs   float64   `json:"queue_ms"`   // arrival to first scheduled step
	PrefillMs float64   `json:"prefill_ms"` // first scheduled step to first token
	TTFTMs    float64   `json:"ttft_ms"`    // arrival to first token
	DecodeMs  float64   `json:"decode_ms"`  // first token to last
	ITLMs     []float64 `json:"itl_ms"`     // gaps between consecutive tokens, as the engine sampled them
}

// completionResponse is a whole response or one streamed chunk.
type completionResponse struct {
	ID           string             `json:"id"`
	Object       string             `json:"object"`
	Created      int64              `json:"created"`
	Model        string             `json:"model"`
	Choices      []completionChoice `json:"choices"`
	Usage        *usage             `json:"usage,omitempty"`
	ServerTiming *serverTiming      `json:"server_timing,omitempty"`
}
