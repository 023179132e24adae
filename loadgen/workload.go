package loadgen

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
)

// Request is one request of a workload: its prompt and the output length asked.
type Request struct {
	// PromptIDs is the prompt as token ids, sent as a list so the server sees
	// exactly len(PromptIDs) tokens; nil when the prompt is text.
	PromptIDs []int32
	// PromptText is the prompt as text, when PromptIDs is nil.
	PromptText string
	// InputLen is the number of prompt tokens expected in usage.prompt_tokens; 0 when unknown.
	InputLen int
	// OutputLen is max_tokens, the number of tokens asked.
	OutputLen int
}

// Workload makes the requests of a run. Request(i) depends only on i, so the
// same workload sends the same requests whatever the concurrency or timing.
// RunPoint gives each point of a run its own range of i (a point's
// prompts never repeat another's, which a prefix cache would serve).
type Workload interface {
	// Request returns request i (0-based; warm-up requests first).
	Request(i int) Request
	// Describe returns the workload's settings for the report.
	Describe() WorkloadInfo
}

// WorkloadInfo is what the report says of a workload.
type WorkloadInfo struct {
	Source                     string // "random" or "dataset"
	Dataset                    string
	PromptFormat               string // "token_ids" or "text"
	InputLenMin, InputLenMax   int
	OutputLenMin, OutputLenMax int
	PrefixLen, PrefixGroups    int
}

// Lengths is a length distribution: uniform over [Min, Max], fixed when equal.
type Lengths struct{ Min, Max int }

// Fixed returns the distribution of the single length n.
func Fixed(n int) Lengths { return Lengths{n, n} }

// maxLen bounds every length a flag or dataset may ask for.
const maxLen = 1 << 20

// ParseLengths parses "128" (fixed) or "64:256" (uniform, both ends included).
func ParseLengths(s string) (Lengths, error) {
	lo, hi, isRange := strings.Cut(strings.TrimSpace(s), ":")
	a, err := strconv.Atoi(strings.TrimSpace(lo))
	if err != nil {
		return Lengths{}, fmt.Errorf("length %q: want a number of tokens (128) or a uniform range (64:256)", s)
	}
	b := a
	if isRange {
		if b, err = strconv.Atoi(strings.TrimSpace(hi)); err != nil {
			return Lengths{}, fmt.Errorf("length %q: want a number of tokens (128) or a uniform range (64:256)", s)
		}
	}
	l := Lengths{a, b}
	return l, l.check()
}

func (l Lengths) check() error {
	switch {
	case l.Min < 1:
		return fmt.Errorf("length %d: must be at least 1 token", l.Min)
	case l.Max < l.Min:
		return fmt.Errorf("length range %d:%d: the end is below the start", l.Min, l.Max)
	case l.Max > maxLen:
		return fmt.Errorf("length %d: more than %d tokens", l.Max, maxLen)
	}
	return nil
}

// String returns "128" or "64:256".
func (l Lengths) String() string {
	if l.Min == l.Max {
		return strconv.Itoa(l.Min)
	}
	return fmt.Sprintf("%d:%d", l.Min, l.Max)
}

func (l Lengths) draw(rng *rand.Rand) int {
	if l.Max == l.Min {
		return l.Min
	}
	return l.Min + rng.IntN(l.Max-l.Min+1)
}

// RandomWorkload sends prompts of random token ids with lengths drawn from
// Input and output lengths from Output. With PrefixLen > 0, requests go
// round-robin over PrefixGroups groups, and the first PrefixLen tokens of
// every prompt of a group are the same (to measure prefix caching); the
// input length counts the prefix.
type RandomWorkload struct {
	Input, Output Lengths
	// PrefixLen is the shared prefix length in tokens (0 = none), below every input length.
	PrefixLen int
	// PrefixGroups is the number of distinct prefixes (>= 1 when PrefixLen > 0).
	PrefixGroups int
	// Vocab bounds the ids: each is drawn from [0, Vocab), e.g. 50257 for GPT-2.
	Vocab int
	// Seed seeds the ids and lengths.
	Seed int64
}

// Check returns an error naming the first bad setting.
func (w *RandomWorkload) Check() error {
	if err := w.Input.check(); err != nil {
		return fmt.Errorf("input: %w", err)
	}
	if err := w.Output.check(); err != nil {
		return fmt.Errorf("output: %w", err)
	}
	switch {
	case w.Vocab < 2:
		return fmt.Errorf("vocabulary size %d: need at least 2 token ids", w.Vocab)
	case w.PrefixLen < 0:
		return fmt.Errorf("prefix length %d is negative", w.PrefixLen)
	case w.PrefixLen > 0 && w.PrefixLen >= w.Input.Min:
		return fmt.Errorf("prefix length %d is not below the shortest input %d; the prompt is prefix plus at least one own token", w.PrefixLen, w.Input.Min)
	case w.PrefixLen > 0 && (w.PrefixGroups < 1 || w.PrefixGroups > 1<<16):
		return fmt.Errorf("prefix groups %d: want 1 to 65536", w.PrefixGroups)
	}
	return nil
}

// Request implements Workload.
func (w *RandomWorkload) Request(i int) Request {
	rng := rand.New(rand.NewPCG(uint64(w.Seed), uint64(i)+1))
	in, out := w.Input.draw(rng), w.Output.draw(rng)
	ids := make([]int32, in)
	start := 0
	if w.PrefixLen > 0 {
		g := i % w.PrefixGroups
		prng := rand.New(rand.NewPCG(uint64(w.Seed)^0xa5a5a5a5, uint64(g)))
		for k := range w.PrefixLen {
			ids[k] = int32(prng.IntN(w.Vocab))
		}
		start = w.PrefixLen
	}
	for k := start; k < in; k++ {
		ids[k] = int32(rng.IntN(w.Vocab))
	}
	return Request{PromptIDs: ids, InputLen: in, OutputLen: out}
}

// Describe implements Workload.
func (w *RandomWorkload) Describe() WorkloadInfo {
	g := 0
	if w.PrefixLen > 0 {
		g = w.PrefixGroups
	}
	return WorkloadInfo{Source: "random", PromptFormat: "token_ids", InputLenMin: w.Input.Min, InputLenMax: w.Input.Max,
		OutputLenMin: w.Output.Min, OutputLenMax: w.Output.Max, PrefixLen: w.PrefixLen, PrefixGroups: g}
}

// Dataset is a workload read from a JSONL file, one request per line,
// sent in file order and round again when a run needs more:
//
//	{"prompt": "The capital of France is", "output_len": 32}
//	{"prompt": "Once upon a time", "output_len": 128, "input_len": 4}
//	{"prompt_ids": [464, 3139, 286, 4881, 318], "output_len": 16}
//
// prompt (text) or prompt_ids (token ids, sent as ids) is required, and so
// is output_len (max_tokens). input_len, for a text prompt, is the token
// count the server should report in usage.prompt_tokens; with prompt_ids it
// is their number. Blank lines and lines starting with # are skipped.
type Dataset struct {
	Path     string
	Requests []Request
}

// datasetLine is one JSONL line of a Dataset.
type datasetLine struct {
	Prompt    *string `json:"prompt"`
	PromptIDs []int32 `json:"prompt_ids"`
	OutputLen int     `json:"output_len"`
	InputLen  int     `json:"input_len"`
}

// Dataset bounds: a line and the number of requests.
const (
	maxDatasetLine     = 16 << 20
	maxDatasetRequests = 1 << 20
)

// ReadDataset reads a JSONL dataset (see Dataset). Errors name the line.
func ReadDataset(path string) (*Dataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	d, err := ParseDataset(f)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", path, err)
	}
	d.Path = path
	return d, nil
}

// ParseDataset reads a JSONL dataset from r (see Dataset).
func ParseDataset(r io.Reader) (*Dataset, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxDatasetLine)
	d := &Dataset{}
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if len(d.Requests) == maxDatasetRequests {
			return nil, fmt.Errorf("line %d: more than %d requests; split the file", n, maxDatasetRequests)
		}
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		var l datasetLine
		if err := dec.Decode(&l); err != nil {
			return nil, fmt.Errorf("line %d: %w; want {\"prompt\": \"...\", \"output_len\": 32}", n, err)
		}
		req := Request{OutputLen: l.OutputLen, InputLen: l.InputLen}
		switch {
		case l.Prompt != nil && l.PromptIDs != nil:
			return nil, fmt.Errorf("line %d: both prompt and prompt_ids; give one", n)
		case l.PromptIDs != nil:
			if len(l.PromptIDs) == 0 {
				return nil, fmt.Errorf("line %d: prompt_ids is empty", n)
			}
			if l.InputLen != 0 && l.InputLen != len(l.PromptIDs) {
				return nil, fmt.Errorf("line %d: input_len %d but %d prompt_ids; drop input_len", n, l.InputLen, len(l.PromptIDs))
			}
			for _, id := range l.PromptIDs {
				if id < 0 {
					return nil, fmt.Errorf("line %d: negative token id %d", n, id)
				}
			}
			req.PromptIDs, req.InputLen = l.PromptIDs, len(l.PromptIDs)
		case l.Prompt != nil:
			if *l.Prompt == "" {
				return nil, fmt.Errorf("line %d: prompt is empty", n)
			}
			req.PromptText = *l.Prompt
		default:
			return nil, fmt.Errorf("line %d: no prompt; add \"prompt\" (text) or \"prompt_ids\" (token ids)", n)
		}
		if l.OutputLen < 1 || l.OutputLen > maxLen {
			return nil, fmt.Errorf("line %d: output_len %d, want 1 to %d", n, l.OutputLen, maxLen)
		}
		if l.InputLen < 0 || l.InputLen > maxLen {
			return nil, fmt.Errorf("line %d: input_len %d, want 1 to %d", n, l.InputLen, maxLen)
		}
		d.Requests = append(d.Requests, req)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("a line is longer than %d bytes", maxDatasetLine)
		}
		return nil, err
	}
	if len(d.Requests) == 0 {
		return nil, errors.New("no requests; write one JSON object per line, e.g. {\"prompt\": \"Hello\", \"output_len\": 32}")
	}
	return d, nil
}

// Request implements Workload: the file's requests in order, round again.
func (d *Dataset) Request(i int) Request { return d.Requests[i%len(d.Requests)] }

// Describe implements Workload.
func (d *Dataset) Describe() WorkloadInfo {
	info := WorkloadInfo{Source: "dataset", Dataset: d.Path, PromptFormat: "token_ids", InputLenMin: -1, OutputLenMin: -1}
	for _, r := range d.Requests {
		if r.PromptIDs == nil {
			info.PromptFormat = "text"
		}
		if info.InputLenMin < 0 || r.InputLen < info.InputLenMin {
			info.InputLenMin = r.InputLen
		}
		info.InputLenMax = max(info.InputLenMax, r.InputLen)
		if info.OutputLenMin < 0 || r.OutputLen < info.OutputLenMin {
			info.OutputLenMin = r.OutputLen
		}
		info.OutputLenMax = max(info.OutputLenMax, r.OutputLen)
	}
	info.InputLenMin, info.OutputLenMin = max(info.InputLenMin, 0), max(info.OutputLenMin, 0)
	return info
}

// Codec turns token ids into text and back (the GPT-2 tokenizer in the CLI).
type Codec interface {
	Encode(text string) ([]int32, error)
	Decode(ids []int32) (string, error)
}

// TextWorkload sends Workload's token-id prompts as text: each prompt is
// decoded, then adjusted until it encodes back to exactly its length (ids
// merge and split across a decode), so InputLen stays true for a server
// with the same tokenizer; a server that counts otherwise shows up in
// prompt_len_mismatches.
type TextWorkload struct {
	Workload
	Codec Codec
}

// maxTextRounds bounds the decode-encode rounds of TextWorkload.
const maxTextRounds = 16

// Request implements Workload.
func (w *TextWorkload) Request(i int) Request {
	r := w.Workload.Request(i)
	if r.PromptIDs == nil {
		return r
	}
	n, ids := len(r.PromptIDs), r.PromptIDs
	text, _ := w.Codec.Decode(ids)
	for range maxTextRounds {
		got, err := w.Codec.Encode(text)
		if err != nil || len(got) == n {
			break
		}
		if len(got) > n {
			got = got[:n]
		} else {
			got = append(got, r.PromptIDs[:n-len(got)]...) // more of the same ids
		}
		text, _ = w.Codec.Decode(got)
	}
	if got, err := w.Codec.Encode(text); err != nil || len(got) != n {
		r.InputLen = 0 // could not make it exact: the check is skipped, the count still reported
	}
	r.PromptIDs, r.PromptText = nil, text
	return r
}

// Describe implements Workload.
func (w *TextWorkload) Describe() WorkloadInfo {
	info := w.Workload.Describe()
	info.PromptFormat = "text"
	return info
}
