package tokenizer

import (
	"errors"
	"fmt"
	"strings"

	tiktokenloader "github.com/pkoukk/tiktoken-go-loader"
)

// EOT is the id of "<|endoftext|>", GPT-2's only special token.
const EOT = 50256

// VocabSize is the number of GPT-2 token ids: ids are in [0, VocabSize).
const VocabSize = 50257

// eotText is the text of the EOT special token.
const eotText = "<|endoftext|>"

// rankFile is the r50k_base rank file embedded by tiktoken-go-loader (it
// looks the file up by base name).
const rankFile = "r50k_base.tiktoken"

// errNotInitialized is returned by the methods of a Tokenizer not made by New.
var errNotInitialized = errors.New("tokenizer: not initialized; create it with tokenizer.New")

// Tokenizer encodes text to GPT-2 token ids and back. Safe for concurrent use:
// it is never modified after New. Building one takes tens of milliseconds and
// a few MB, so make one and share it.
type Tokenizer struct {
	ranks   map[string]int // token bytes -> id, ids [0, EOT): the mergeable tokens
	decoder []string       // [VocabSize] id -> token bytes; decoder[EOT] = "<|endoftext|>"
}

// New loads the embedded r50k_base vocabulary (no network, no files) and
// checks that it is GPT-2's: EOT mergeable tokens with ids 0..EOT-1, one
// per id, and every single byte a token.
func New() (*Tokenizer, error) {
	ranks, err := tiktokenloader.NewOfflineLoader().LoadTiktokenBpe(rankFile)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: load embedded %s: %w", rankFile, err)
	}
	return newFromRanks(ranks)
}

// newFromRanks validates ranks and builds a Tokenizer that owns them.
func newFromRanks(ranks map[string]int) (*Tokenizer, error) {
	if len(ranks) != EOT {
		return nil, fmt.Errorf("tokenizer: vocabulary has %d mergeable tokens, want %d; the r50k_base rank file is damaged", len(ranks), EOT)
	}
	decoder := make([]string, VocabSize)
	seen := make([]bool, EOT)
	for tok, id := range ranks {
		if id < 0 || id >= EOT {
			return nil, fmt.Errorf("tokenizer: token %q has id %d, want [0, %d); the r50k_base rank file is damaged", tok, id, EOT)
		}
		if seen[id] {
			return nil, fmt.Errorf("tokenizer: id %d is used twice; the r50k_base rank file is damaged", id)
		}
		if tok == "" {
			return nil, fmt.Errorf("tokenizer: id %d is the empty string; the r50k_base rank file is damaged", id)
		}
		seen[id] = true
		decoder[id] = tok
	}
	for b := 0; b < 256; b++ {
		if _, ok := ranks[string([]byte{byte(b)})]; !ok {
			return nil, fmt.Errorf("tokenizer: byte 0x%02x has no token; the r50k_base rank file is damaged", b)
		}
	}
	decoder[EOT] = eotText
	return &Tokenizer{ranks: ranks, decoder: decoder}, nil
}

// check reports whether t was made by New.
func (t *Tokenizer) check() error {
	if t == nil || t.ranks == nil || len(t.decoder) != VocabSize {
		return errNotInitialized
	}
	return nil
}

// Encode returns the token ids of text. "<|endoftext|>" in text is not
// special: it is encoded as the plain characters it is made of. Any byte
// string is accepted (see the package doc for invalid UTF-8); the error is
// non-nil only for a Tokenizer not made by New.
func (t *Tokenizer) Encode(text string) ([]int32, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	return t.encodeOrdinary(make([]int32, 0, estimateTokens(text)), text), nil
}

// EncodeSpecial is Encode, except that each "<|endoftext|>" in text becomes
// the single id EOT; the text between them is encoded as by Encode.
func (t *Tokenizer) EncodeSpecial(text string) ([]int32, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	ids := make([]int32, 0, estimateTokens(text))
	for {
		i := strings.Index(text, eotText)
		if i < 0 {
			return t.encodeOrdinary(ids, text), nil
		}
		ids = t.encodeOrdinary(ids, text[:i])
		ids = append(ids, EOT)
		text = text[i+len(eotText):]
	}
}

// estimateTokens guesses the number of tokens of text for preallocation
// (English prose is about 4 bytes per token).
func estimateTokens(text string) int {
	return len(text)/4 + 1
}

// encodeOrdinary appends the ids of text, with no special tokens, to ids.
func (t *Tokenizer) encodeOrdinary(ids []int32, text string) []int32 {
	for len(text) > 0 {
		n := nextPiece(text)
		ids = t.encodePiece(ids, text[:n])
		text = text[n:]
	}
	return ids
}

// Decode returns the text of ids: the concatenated bytes of their tokens,
// EOT as "<|endoftext|>". The result is not valid UTF-8 where the ids split
// a character. It returns an error naming the first id outside [0, VocabSize).
func (t *Tokenizer) Decode(ids []int32) (string, error) {
	if err := t.check(); err != nil {
		return "", err
	}
	n := 0
	for i, id := range ids {
		if id < 0 || id >= VocabSize {
			return "", fmt.Errorf("tokenizer: decode: id %d at index %d is outside [0, %d); pass GPT-2 token ids", id, i, VocabSize)
		}
		n += len(t.decoder[id])
	}
	var b strings.Builder
	b.Grow(n)
	for _, id := range ids {
		b.WriteString(t.decoder[id])
	}
	return b.String(), nil
}

// DecodeToken returns the bytes of one token (a new slice the caller may
// keep). They may be part of a UTF-8 sequence only: a streaming caller should
// buffer bytes until utf8.FullRune reports a whole character. EOT decodes to
// "<|endoftext|>". It returns an error for an id outside [0, VocabSize).
func (t *Tokenizer) DecodeToken(id int32) ([]byte, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	if id < 0 || id >= VocabSize {
		return nil, fmt.Errorf("tokenizer: decode token: id %d is outside [0, %d); pass a GPT-2 token id", id, VocabSize)
	}
	return []byte(t.decoder[id]), nil
}
