package tokenizer

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// maxReferenceLen bounds the inputs compared with tiktoken-go, whose merge is
// quadratic in the length of a pre-token.
const maxReferenceLen = 4096

// FuzzTokenizerRoundTrip checks, on any bytes, that nothing panics or errors,
// that every id is in range, that both encodings decode back to the input,
// and, for valid UTF-8, that the ids are tiktoken-go's. Seeds: testdata/*.txt,
// their lines, and roundTripCases.
func FuzzTokenizerRoundTrip(f *testing.F) {
	for _, text := range readTestdata(f) {
		f.Add(text)
		for line := range strings.Lines(text) {
			f.Add(line)
		}
	}
	for _, tc := range roundTripCases {
		f.Add(tc.text)
	}
	tok, ref := testTokenizer(f), testReference(f)
	f.Fuzz(func(t *testing.T, text string) {
		for _, special := range []bool{false, true} {
			encode := tok.Encode
			if special {
				encode = tok.EncodeSpecial
			}
			ids, err := encode(text)
			if err != nil {
				t.Fatalf("encode (special %v): %v", special, err)
			}
			for i, id := range ids {
				if id < 0 || id >= VocabSize || (id == EOT && !special) {
					t.Fatalf("id %d at index %d out of range (special %v)", id, i, special)
				}
			}
			got, err := tok.Decode(ids)
			if err != nil || got != text {
				t.Fatalf("round trip (special %v): got %q, %v; want %q", special, got, err, text)
			}
			if utf8.ValidString(text) && len(text) <= maxReferenceLen {
				if want := refEncode(ref, text, special); !slices.Equal(ids, want) {
					t.Fatalf("encode %q (special %v) = %v, tiktoken-go %v", text, special, ids, want)
				}
			}
		}
	})
}
