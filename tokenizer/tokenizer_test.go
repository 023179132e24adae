package tokenizer

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

func TestPublishedVectors(t *testing.T) {
	tok := testTokenizer(t)
	tests := []struct {
		name    string
		text    string
		special bool
		want    []int32
	}{
		{"hello", "Hello world", false, []int32{15496, 995}},
		{"leading-space", " Hello world", false, []int32{18435, 995}},
		{"punctuation", "Hello, world!", false, []int32{15496, 11, 995, 0}},
		{"fox", " The quick brown fox jumps over the lazy dog.", false, []int32{383, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13}},
		{"digits", "0000000", false, []int32{24598}},
		{"eot-special", "<|endoftext|>", true, []int32{EOT}},
		{"eot-plain", "<|endoftext|>", false, []int32{27, 91, 437, 1659, 5239, 91, 29}},
		{"eot-between", "Hi<|endoftext|> there", true, []int32{17250, EOT, 612}},
		{"empty", "", false, []int32{}},
		{"empty-special", "", true, []int32{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			encode := tok.Encode
			if tc.special {
				encode = tok.EncodeSpecial
			}
			got, err := encode(tc.text)
			if err != nil {
				t.Fatal(err)
			}
			checkIDs(t, tc.text, got, tc.want)
			text, err := tok.Decode(got)
			if err != nil || text != tc.text {
				t.Errorf("Decode(%v) = %q, %v; want %q", got, text, err, tc.text)
			}
		})
	}
}

// roundTripCases are texts every test of exact round trips covers.
var roundTripCases = []struct{ name, text string }{
	{"ascii", "Hello, world! It's 3:45pm; we'll see."},
	{"contractions", "I'm sure they've said you'd've known it's 'quoted' ''s 'S 'LL"},
	{"accents", "Grüße, naïve café, Ångström, façade"},
	{"cjk", "我能吞下玻璃而不伤身体。日本語のテキスト"},
	{"emoji", "👋🌍 family 👨‍👩‍👧‍👦 flag 🇺🇳 heart ❤️"},
	{"combining", "e\u0301 a\u0308\u0308 Z\u0351\u0352\u0353"},
	{"spaces", "a  b   c    d\t\te \n\n\nf\r\n\r\ng   "},
	{"space-runs", strings.Repeat(" ", 17) + "x" + strings.Repeat(" ", 9)},
	{"unicode-spaces", "a\u00a0b\u2003\u2003c\u3000\u3000 d\u0085e"},
	{"only-newlines", "\n\n\n\n"},
	{"digits", "1234567890 3.14159 1e-9 0x1F 00000000000000"},
	{"control", "\x00\x01\x02\x7f\x1b[31mred\x1b[0m"},
	{"eot-text", "a<|endoftext|>b<|endoftext|><|endoftext|>"},
	{"eot-partial", "<|endoftext| <|endoftext <|endoftext|"},
	{"invalid-byte", "\xff"},
	{"invalid-mixed", "ab\xffcd \xfe\xfd é\xc3 \xc3\xa9\x80 \xed\xa0\x80 surrogate"},
	{"invalid-space", " \xff \x80\x80\x80 x"},
	{"replacement-char", "\ufffd \ufffd\ufffd"},
	{"bom", "\ufeffbom"},
}

func TestRoundTrip(t *testing.T) {
	tok := testTokenizer(t)
	cases := roundTripCases
	for name, text := range readTestdata(t) {
		cases = append(cases, struct{ name, text string }{name, text})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkRoundTrip(t, tok, tc.text)
		})
	}
}

// checkRoundTrip checks that Encode and EncodeSpecial decode back to text,
// through Decode and through DecodeToken.
func checkRoundTrip(t *testing.T, tok *Tokenizer, text string) {
	t.Helper()
	for _, special := range []bool{false, true} {
		encode := tok.Encode
		if special {
			encode = tok.EncodeSpecial
		}
		ids, err := encode(text)
		if err != nil {
			t.Fatalf("encode %q (special %v): %v", text, special, err)
		}
		got, err := tok.Decode(ids)
		if err != nil {
			t.Fatalf("decode %v: %v", ids, err)
		}
		if got != text {
			t.Fatalf("round trip (special %v): got %q, want %q (ids %v)", special, got, text, ids)
		}
		var b []byte
		for _, id := range ids {
			tb, err := tok.DecodeToken(id)
			if err != nil {
				t.Fatalf("DecodeToken(%d): %v", id, err)
			}
			b = append(b, tb...)
		}
		if string(b) != text {
			t.Fatalf("DecodeToken round trip (special %v): got %q, want %q", special, b, text)
		}
	}
}

// TestMatchesTiktoken compares Encode and EncodeSpecial with tiktoken-go on
// valid UTF-8, including pieces long enough for mergeHeap.
func TestMatchesTiktoken(t *testing.T) {
	tok, ref := testTokenizer(t), testReference(t)
	cases := map[string]string{
		"long-letters": strings.Repeat("abracadabra", 200),
		"long-lower":   randomText(rand.New(rand.NewPCG(1, 2)), "abcdefghijklmnopqrstuvwxyz", 3000),
		"long-digits":  strings.Repeat("0123456789", 300),
		"long-punct":   strings.Repeat("!?.,-=+*/", 300),
		"long-newline": strings.Repeat("\n", 2000) + "x",
		"long-mixed":   randomText(rand.New(rand.NewPCG(3, 4)), "ab \n\t'sé1!<|>", 5000),
		"many-eot":     strings.Repeat("a<|endoftext|> ", 50),
	}
	for _, tc := range roundTripCases {
		if utf8.ValidString(tc.text) {
			cases[tc.name] = tc.text
		}
	}
	for name, text := range readTestdata(t) {
		cases[name] = text
	}
	for name, text := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := tok.Encode(text)
			if err != nil {
				t.Fatal(err)
			}
			checkIDs(t, text, got, refEncode(ref, text, false))
			got, err = tok.EncodeSpecial(text)
			if err != nil {
				t.Fatal(err)
			}
			checkIDs(t, text, got, refEncode(ref, text, true))
		})
	}
}

// randomText returns n runes drawn from alphabet.
func randomText(rng *rand.Rand, alphabet string, n int) string {
	runes := []rune(alphabet)
	var b strings.Builder
	for range n {
		b.WriteRune(runes[rng.IntN(len(runes))])
	}
	return b.String()
}

// TestInvalidUTF8 pins what happens to bytes that are not UTF-8: each is
// encoded as itself (its byte-level token) and classed like U+FFFD.
func TestInvalidUTF8(t *testing.T) {
	tok := testTokenizer(t)
	byteID := func(b byte) int32 { return int32(tok.ranks[string([]byte{b})]) }
	tests := []struct {
		name string
		text string
		want []int32
	}{
		{"lone-ff", "\xff", []int32{byteID(0xff)}},
		{"lone-continuation", "\x80", []int32{byteID(0x80)}},
		{"truncated-e-acute", "\xc3", []int32{byteID(0xc3)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tok.Encode(tc.text)
			if err != nil {
				t.Fatal(err)
			}
			checkIDs(t, tc.text, got, tc.want)
		})
	}
	// Piece boundaries are those of the text with U+FFFD in place of each
	// invalid byte.
	t.Run("boundaries-like-U+FFFD", func(t *testing.T) {
		for _, text := range []string{"ab\xffcd", " \xff!x", "x \xfe\xfd\xfc y", "1\x802"} {
			fixed := string([]rune(text)) // U+FFFD for each invalid byte, as in regexp2
			var got []string
			for _, p := range piecesOf(text) {
				got = append(got, string([]rune(p)))
			}
			if want := piecesOf(fixed); !slices.Equal(got, want) {
				t.Errorf("%q splits into %q, want %q (the pieces of %q)", text, piecesOf(text), want, fixed)
			}
		}
	})
}

// piecesOf returns the pre-tokens of text.
func piecesOf(text string) []string {
	var out []string
	for len(text) > 0 {
		n := nextPiece(text)
		out = append(out, text[:n])
		text = text[n:]
	}
	return out
}

func TestDecodeErrors(t *testing.T) {
	tok := testTokenizer(t)
	for _, id := range []int32{-1, VocabSize, VocabSize + 1, math.MaxInt32, math.MinInt32} {
		t.Run(fmt.Sprintf("id=%d", id), func(t *testing.T) {
			if s, err := tok.Decode([]int32{15496, id}); err == nil {
				t.Errorf("Decode: got %q, want an error", s)
			} else if !strings.Contains(err.Error(), fmt.Sprint(id)) {
				t.Errorf("Decode error %q does not name the id", err)
			}
			if b, err := tok.DecodeToken(id); err == nil {
				t.Errorf("DecodeToken: got %q, want an error", b)
			}
		})
	}
	t.Run("eot", func(t *testing.T) {
		b, err := tok.DecodeToken(EOT)
		if err != nil || string(b) != "<|endoftext|>" {
			t.Errorf("DecodeToken(EOT) = %q, %v", b, err)
		}
	})
	t.Run("token-may-split-rune", func(t *testing.T) {
		ids, _ := tok.Encode("🙃") // 4 bytes, not one GPT-2 token
		b, err := tok.DecodeToken(ids[0])
		if err != nil || len(ids) < 2 || utf8.Valid(b) {
			t.Errorf("Encode(%q) = %v, first token %q (%v); want a partial UTF-8 sequence", "🙃", ids, b, err)
		}
	})
	t.Run("decode-copy", func(t *testing.T) {
		b, _ := tok.DecodeToken(15496)
		b[0] = 'X'
		if b2, _ := tok.DecodeToken(15496); string(b2) != "Hello" {
			t.Errorf("DecodeToken result aliases the vocabulary: %q", b2)
		}
	})
}

func TestNotInitialized(t *testing.T) {
	for name, tok := range map[string]*Tokenizer{"nil": nil, "zero": {}} {
		t.Run(name, func(t *testing.T) {
			if _, err := tok.Encode("x"); err == nil {
				t.Error("Encode: no error")
			}
			if _, err := tok.EncodeSpecial("x"); err == nil {
				t.Error("EncodeSpecial: no error")
			}
			if _, err := tok.Decode([]int32{1}); err == nil {
				t.Error("Decode: no error")
			}
			if _, err := tok.DecodeToken(1); err == nil {
				t.Error("DecodeToken: no error")
			}
		})
	}
}

func TestVocabulary(t *testing.T) {
	tok := testTokenizer(t)
	for id := int32(0); id < VocabSize; id++ {
		b, err := tok.DecodeToken(id)
		if err != nil || len(b) == 0 {
			t.Fatalf("DecodeToken(%d) = %q, %v", id, b, err)
		}
	}
	t.Run("damaged", func(t *testing.T) {
		if _, err := newFromRanks(map[string]int{"a": 0}); err == nil {
			t.Error("newFromRanks accepted a 1-token vocabulary")
		}
	})
}

// TestMergeHeapMatchesScan checks the O(n log n) merge against the simple
// scan on pieces with many merges and ties.
func TestMergeHeapMatchesScan(t *testing.T) {
	tok := testTokenizer(t)
	rng := rand.New(rand.NewPCG(5, 6))
	alphabets := []string{"a", "ab", "abc", "aeiouy", "etaoinshrdlu", "0123456789", " ", "\n", "=-", "é", "ab\xff"}
	for _, alpha := range alphabets {
		for _, n := range []int{1, 2, 3, 5, 8, 13, 64, 65, 200, 1000} {
			t.Run(fmt.Sprintf("alphabet=%q/n=%d", alpha, n), func(t *testing.T) {
				piece := string(randomBytes(rng, alpha, n))
				got := mergeHeap(nil, piece, tok.ranks)
				want := mergeScan(nil, piece, tok.ranks)
				checkIDs(t, piece, got, want)
			})
		}
	}
}

// randomBytes returns n bytes drawn from alphabet's bytes.
func randomBytes(rng *rand.Rand, alphabet string, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return b
}

// TestLongInputs encodes 100 kB inputs, including single pre-tokens of
// 100 kB, which are quadratic in tiktoken-go. It checks round trips only (no
// timing assertion) and logs the time taken.
func TestLongInputs(t *testing.T) {
	tok := testTokenizer(t)
	const size = 100_000
	prose := strings.Repeat(readTestdata(t)["prose.txt"], size/1000)[:size]
	rng := rand.New(rand.NewPCG(7, 8))
	tests := []struct{ name, text string }{
		{"prose", prose},
		{"no-spaces-a", strings.Repeat("a", size)},
		{"no-spaces-random", string(randomBytes(rng, "abcdefghijklmnopqrstuvwxyz", size))},
		{"no-spaces-prose", strings.ReplaceAll(prose, " ", "")},
		{"spaces", strings.Repeat(" ", size)},
		{"newlines", strings.Repeat("\n", size)},
		{"digits", strings.Repeat("7", size)},
		{"eot", strings.Repeat("<|endoftext|>", size/13)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			ids, err := tok.EncodeSpecial(tc.text)
			elapsed := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d bytes -> %d ids in %v", len(tc.text), len(ids), elapsed)
			got, err := tok.Decode(ids)
			if err != nil || got != tc.text {
				t.Fatalf("round trip failed (err %v, %d of %d bytes)", err, len(got), len(tc.text))
			}
		})
	}
}

func TestConcurrent(t *testing.T) {
	tok := testTokenizer(t)
	text := readTestdata(t)["unicode.txt"]
	want, err := tok.Encode(text)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for range 20 {
				got, err := tok.Encode(text)
				if err == nil && len(got) != len(want) {
					err = fmt.Errorf("got %d ids, want %d", len(got), len(want))
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
