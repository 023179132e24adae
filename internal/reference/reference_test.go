package reference

import (
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	for _, path := range []string{"../../testdata/tiny-gpt2/reference.json", "../../testdata/tiny-gpt2-f16/reference.json"} {
		r, err := Read(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.InputIDs) == 0 || len(r.Logits[0]) != r.Config.VocabSize || len(r.HiddenStateNorms) != r.Config.NLayer+1 || len(r.GreedyContinuation) == 0 {
			t.Errorf("%s: incomplete: %d ids, %d norms rows, %d greedy", path, len(r.InputIDs), len(r.HiddenStateNorms), len(r.GreedyContinuation))
		}
	}
}

func TestParseErrors(t *testing.T) {
	cfg := `"config": {"vocab_size": 2, "n_layer": 1}`
	tests := []struct {
		name, data, want string
	}{
		{"not json", `{"format":`, "not a gpt2-reference/v1 file"},
		{"other format", `{"format": "x"}`, `format "x"`},
		{"no ids", `{"format": "gpt2-reference/v1", ` + cfg + `}`, "input_ids is empty"},
		{"rows", `{"format": "gpt2-reference/v1", ` + cfg + `, "input_ids": [1, 0], "logits": [[1, 2]]}`, "1 logit rows for 2 input ids"},
		{"vocab", `{"format": "gpt2-reference/v1", ` + cfg + `, "input_ids": [1], "logits": [[1, 2, 3]]}`, "vocab_size is 2"},
		{"norm rows", `{"format": "gpt2-reference/v1", ` + cfg + `, "input_ids": [1], "logits": [[1, 2]], "hidden_state_norms": [[1]]}`, "want n_layer+1 = 2"},
		{"norm cols", `{"format": "gpt2-reference/v1", ` + cfg + `, "input_ids": [1], "logits": [[1, 2]], "hidden_state_norms": [[1], [1, 2]]}`, "row 1 has 2 values"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.data), "ref.json")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse() = %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}
