package loadgen

import (
	"slices"
	"strings"
	"testing"
)

func TestParseLengths(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Lengths
		err  bool
	}{
		{"128", Fixed(128), false}, {" 64:256 ", Lengths{64, 256}, false}, {"5:5", Fixed(5), false},
		{"0", Lengths{}, true}, {"-3", Lengths{}, true}, {"9:3", Lengths{}, true}, {"x", Lengths{}, true},
		{"1:y", Lengths{}, true}, {"2000000", Lengths{}, true},
	} {
		got, err := ParseLengths(tc.in)
		if (err != nil) != tc.err || (!tc.err && got != tc.want) {
			t.Errorf("ParseLengths(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestRandomWorkload(t *testing.T) {
	w := &RandomWorkload{Input: Lengths{20, 40}, Output: Lengths{3, 9}, PrefixLen: 10, PrefixGroups: 3, Vocab: 100, Seed: 7}
	if err := w.Check(); err != nil {
		t.Fatal(err)
	}
	seenIn, seenOut := map[int]bool{}, map[int]bool{}
	for i := range 300 {
		r := w.Request(i)
		if len(r.PromptIDs) != r.InputLen || r.InputLen < 20 || r.InputLen > 40 || r.OutputLen < 3 || r.OutputLen > 9 {
			t.Fatalf("request %d: %d ids, input %d, output %d", i, len(r.PromptIDs), r.InputLen, r.OutputLen)
		}
		for _, id := range r.PromptIDs {
			if id < 0 || id >= 100 {
				t.Fatalf("request %d: id %d outside the vocabulary", i, id)
			}
		}
		seenIn[r.InputLen], seenOut[r.OutputLen] = true, true
		// same group, same prefix; another group, another prefix
		same, other := w.Request(i+3), w.Request(i+1)
		if !slices.Equal(r.PromptIDs[:10], same.PromptIDs[:10]) {
			t.Fatalf("requests %d and %d share a group but not the prefix", i, i+3)
		}
		if slices.Equal(r.PromptIDs[:10], other.PromptIDs[:10]) {
			t.Fatalf("requests %d and %d are in different groups but share the prefix", i, i+1)
		}
		if !slices.Equal(r.PromptIDs, w.Request(i).PromptIDs) {
			t.Fatalf("request %d differs between calls", i)
		}
	}
	if len(seenIn) < 15 || len(seenOut) != 7 {
		t.Errorf("uniform lengths cover %d input and %d output values", len(seenIn), len(seenOut))
	}
	for _, bad := range []*RandomWorkload{
		{Input: Fixed(8), Output: Fixed(1), Vocab: 1},
		{Input: Fixed(8), Output: Fixed(1), Vocab: 10, PrefixLen: 8, PrefixGroups: 1},
		{Input: Fixed(8), Output: Fixed(1), Vocab: 10, PrefixLen: 4, PrefixGroups: 0},
		{Input: Fixed(8), Output: Fixed(0), Vocab: 10},
	} {
		if bad.Check() == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

func TestParseDataset(t *testing.T) {
	good := `# prompts for a smoke test
{"prompt": "The capital of France is", "output_len": 32}

{"prompt": "Once upon a time", "output_len": 128, "input_len": 4}
{"prompt_ids": [464, 3139, 286], "output_len": 16}
`
	d, err := ParseDataset(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Requests) != 3 || d.Requests[1].InputLen != 4 || d.Requests[2].InputLen != 3 || d.Requests[2].PromptIDs == nil {
		t.Fatalf("parsed %+v", d.Requests)
	}
	if d.Request(4).OutputLen != 128 {
		t.Error("Request does not wrap around")
	}
	if info := d.Describe(); info.OutputLenMin != 16 || info.OutputLenMax != 128 || info.InputLenMax != 4 {
		t.Errorf("describe %+v", info)
	}
	for _, tc := range []struct{ in, want string }{
		{``, "no requests"},
		{`{"prompt": "x"}`, "line 1: output_len 0"},
		{`{"output_len": 3}`, "line 1: no prompt"},
		{"\n{\"prompt\": \"x\", \"output_len\": 3, \"temperature\": 1}", "line 2: json: unknown field"},
		{`{"prompt": "x", "prompt_ids": [1], "output_len": 3}`, "both prompt and prompt_ids"},
		{`{"prompt_ids": [1, -2], "output_len": 3}`, "negative token id"},
		{`{"prompt_ids": [1, 2], "input_len": 3, "output_len": 3}`, "input_len 3 but 2 prompt_ids"},
		{`{"prompt": "", "output_len": 3}`, "prompt is empty"},
		{`not json`, "line 1: invalid character"},
	} {
		_, err := ParseDataset(strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseDataset(%q): error %v, want it to contain %q", tc.in, err, tc.want)
		}
	}
}

// FuzzParseDataset: errors yes, panics never.
func FuzzParseDataset(f *testing.F) {
	f.Add(`{"prompt": "a b", "output_len": 2}`)
	f.Add(`{"prompt_ids": [1, 2, 3], "output_len": 1}` + "\n# c\n")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDataset(strings.NewReader(s))
		if err == nil && len(d.Requests) == 0 {
			t.Fatal("no error and no requests")
		}
	})
}

// wordCodec is a Codec whose tokens are words, except that "ab" encodes as
// two tokens: a decode-encode round changes the count, as with real BPE.
type wordCodec struct{}

func (wordCodec) Decode(ids []int32) (string, error) {
	var s []string
	for _, id := range ids {
		if id%5 == 0 {
			s = append(s, "ab")
		} else {
			s = append(s, "w")
		}
	}
	return strings.Join(s, " "), nil
}

func (wordCodec) Encode(text string) ([]int32, error) {
	var ids []int32
	for _, w := range strings.Fields(text) {
		if w == "ab" {
			ids = append(ids, 1, 2)
		} else {
			ids = append(ids, 3)
		}
	}
	return ids, nil
}

func TestTextWorkload(t *testing.T) {
	w := &TextWorkload{Workload: &RandomWorkload{Input: Lengths{5, 30}, Output: Fixed(2), Vocab: 50, Seed: 3}, Codec: wordCodec{}}
	for i := range 50 {
		r := w.Request(i)
		ids, _ := wordCodec{}.Encode(r.PromptText)
		if r.PromptIDs != nil || r.InputLen == 0 || len(ids) != r.InputLen {
			t.Fatalf("request %d: %q encodes to %d tokens, InputLen %d", i, r.PromptText, len(ids), r.InputLen)
		}
	}
	if w.Describe().PromptFormat != "text" {
		t.Error("text workload not described as text")
	}
}

func TestExampleDataset(t *testing.T) {
	d, err := ReadDataset("testdata/prompts.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Requests) != 5 || d.Requests[3].InputLen != 5 || d.Describe().PromptFormat != "text" {
		t.Errorf("example dataset read as %+v", d.Requests)
	}
}
