package tokenizer

import (
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	tiktoken "github.com/pkoukk/tiktoken-go"
	tiktokenloader "github.com/pkoukk/tiktoken-go-loader"
)

// r50kPattern is tiktoken-go's r50k_base pre-tokenizer pattern.
const r50kPattern = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`

// shared builds the Tokenizer under test once for the whole test binary.
var shared = sync.OnceValues(New)

// testTokenizer returns the shared Tokenizer or fails the test.
func testTokenizer(tb testing.TB) *Tokenizer {
	tb.Helper()
	tok, err := shared()
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return tok
}

// reference builds tiktoken-go's r50k_base encoder from the same embedded
// ranks, through its exported constructors (no global loader).
var reference = sync.OnceValues(func() (*tiktoken.Tiktoken, error) {
	ranks, err := tiktokenloader.NewOfflineLoader().LoadTiktokenBpe(rankFile)
	if err != nil {
		return nil, err
	}
	special := map[string]int{eotText: EOT}
	bpe, err := tiktoken.NewCoreBPE(ranks, special, r50kPattern)
	if err != nil {
		return nil, err
	}
	enc := &tiktoken.Encoding{Name: "r50k_base", PatStr: r50kPattern, MergeableRanks: ranks, SpecialTokens: special, ExplicitNVocab: VocabSize}
	return tiktoken.NewTiktoken(bpe, enc, map[string]any{eotText: true}), nil
})

// testReference returns tiktoken-go's encoder or fails the test.
func testReference(tb testing.TB) *tiktoken.Tiktoken {
	tb.Helper()
	ref, err := reference()
	if err != nil {
		tb.Fatalf("tiktoken-go reference: %v", err)
	}
	return ref
}

// refEncode is tiktoken-go's encoding of text, with "<|endoftext|>" special
// or not.
func refEncode(ref *tiktoken.Tiktoken, text string, special bool) []int32 {
	var ids []int
	if special {
		ids = ref.Encode(text, []string{"all"}, nil)
	} else {
		ids = ref.EncodeOrdinary(text)
	}
	out := make([]int32, len(ids))
	for i, id := range ids {
		out[i] = int32(id)
	}
	return out
}

// readTestdata returns the files of testdata/*.txt by base name.
func readTestdata(tb testing.TB) map[string]string {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if err != nil || len(paths) == 0 {
		tb.Fatalf("no testdata/*.txt (err %v)", err)
	}
	files := make(map[string]string, len(paths))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		files[filepath.Base(p)] = string(b)
	}
	return files
}

// checkIDs fails the test with the first difference between got and want.
func checkIDs(t *testing.T, text string, got, want []int32) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	lo, hi := max(0, i-3), i+5
	t.Errorf("encode %.60q: %d ids, want %d; first difference at index %d: got %v, want %v",
		text, len(got), len(want), i, got[lo:min(hi, len(got))], want[lo:min(hi, len(want))])
}
