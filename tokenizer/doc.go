// Package tokenizer is the GPT-2 byte-level BPE tokenizer (OpenAI's r50k_base
// encoding, 50257 ids), working offline.
//
// The vocabulary comes from github.com/pkoukk/tiktoken-go-loader, which embeds
// the r50k_base rank file in the binary; nothing is fetched at run time and no
// global state (such as tiktoken.SetBpeLoader) is touched: the loader is called
// directly. Encoding follows github.com/pkoukk/tiktoken-go v0.1.8 exactly for
// valid UTF-8 (the tests compare the two on every input), but the hot path is
// implemented here, because tiktoken-go
//
//   - merges each pre-token in time quadratic in its length (100 kB without a
//     space takes seconds), where this package uses a heap for long pre-tokens;
//   - rescans the rest of the text at every special token (quadratic in the
//     number of "<|endoftext|>"), where this package splits with strings.Index;
//   - replaces invalid UTF-8 with U+FFFD, silently drops unknown ids when
//     decoding and panics on disallowed special tokens, where this package
//     keeps every byte, returns errors and never panics.
//
// # Pre-tokenization
//
// Text is first split by the GPT-2 pattern
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// with \s = unicode.IsSpace, \p{L} = unicode.L, \p{N} = unicode.N (the
// classes of the regexp2 engine tiktoken-go uses), implemented as a linear
// scanner. Each piece is then byte-pair merged: repeatedly join the adjacent
// pair whose concatenation has the lowest rank, leftmost first.
//
// # Invalid UTF-8
//
// Every byte string round-trips: Decode(Encode(s)) == s. A byte that is not
// part of valid UTF-8 is classed like U+FFFD would be (a symbol, neither space,
// letter nor number), but it is encoded as itself, with the byte-level tokens,
// not as the three bytes of U+FFFD. Valid UTF-8 encodes exactly as in
// tiktoken-go (and as in OpenAI's tiktoken, up to differences between the
// Unicode versions behind the character classes).
//
// # Decoding
//
// A token is a byte string, not always whole characters: an emoji is often
// several tokens. Decode concatenates the bytes of its ids, so decoding a prefix of a
// sequence may end in a partial UTF-8 sequence; streaming output should use
// DecodeToken and hold back incomplete runes (utf8.FullRune).
package tokenizer
