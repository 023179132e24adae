package tokenizer

import (
	"strings"
	"testing"
)

// BenchmarkEncode reports encoding speed (MB/s of input) for this package
// (impl=gpt2bench) and for tiktoken-go (impl=tiktoken-go) on 100 kB inputs.
func BenchmarkEncode(b *testing.B) {
	const size = 100_000
	files := readTestdata(b)
	inputs := []struct{ name, text string }{
		{"prose", strings.Repeat(files["prose.txt"], size/1000)[:size]},
		{"unicode", strings.Repeat(files["unicode.txt"], size/500)[:size]},
		{"code", strings.Repeat(files["code.txt"], size/300)[:size]},
	}
	tok, ref := testTokenizer(b), testReference(b)
	for _, in := range inputs {
		b.Run("input="+in.name+"/impl=gpt2bench", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in.text)))
			for b.Loop() {
				if _, err := tok.Encode(in.text); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("input="+in.name+"/impl=tiktoken-go", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in.text)))
			for b.Loop() {
				ref.EncodeOrdinary(in.text)
			}
		})
	}
}
