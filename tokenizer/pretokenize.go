package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// class is the character class of one rune for pre-tokenization.
type class uint8

const (
	classOther  class = iota // [^\s\p{L}\p{N}], and every invalid UTF-8 byte (as U+FFFD)
	classLetter              // \p{L}: unicode.L
	classNumber              // \p{N}: unicode.N
	classSpace               // \s: unicode.IsSpace
)

// classAt returns the class and the byte length of the rune that starts s
// (len(s) > 0). An invalid byte is one rune of length 1 and class classOther.
func classAt(s string) (class, int) {
	if c := s[0]; c < utf8.RuneSelf {
		return asciiClass[c], 1
	}
	r, n := utf8.DecodeRuneInString(s)
	switch {
	case unicode.IsLetter(r):
		return classLetter, n
	case unicode.IsNumber(r):
		return classNumber, n
	case unicode.IsSpace(r):
		return classSpace, n
	}
	return classOther, n // includes utf8.RuneError, valid (U+FFFD) or not
}

// asciiClass is classAt for bytes < 0x80.
var asciiClass = func() (t [utf8.RuneSelf]class) {
	for c := range t {
		switch r := rune(c); {
		case unicode.IsLetter(r):
			t[c] = classLetter
		case unicode.IsNumber(r):
			t[c] = classNumber
		case unicode.IsSpace(r):
			t[c] = classSpace
		}
	}
	return t
}()

// contractions are the first alternatives of the GPT-2 pattern, in order.
var contractions = [...]string{"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"}

// nextPiece returns the byte length of the first GPT-2 pre-token of s
// (len(s) > 0): the leftmost-first match at offset 0 of
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// It runs in time linear in the length of the piece it returns.
func nextPiece(s string) int {
	if s[0] == '\'' {
		for _, c := range contractions {
			if strings.HasPrefix(s, c) {
				return len(c)
			}
		}
	}
	c0, n0 := classAt(s)
	if s[0] == ' ' && len(s) > 1 {
		// " ?X+" for X letter, number or other: the space joins the run after it.
		if c1, n1 := classAt(s[1:]); c1 != classSpace {
			return 1 + n1 + runLen(s[1+n1:], c1)
		}
	}
	if c0 != classSpace {
		return n0 + runLen(s[n0:], c0)
	}
	// Whitespace run s[:end]; last is the start of its last rune.
	end, last := n0, 0
	for end < len(s) {
		c, n := classAt(s[end:])
		if c != classSpace {
			break
		}
		last = end
		end += n
	}
	if end == len(s) || last == 0 {
		// "\s+(?!\S)" takes the run up to the end of text, or "\s+" takes a
		// single space rune before a non-space.
		return end
	}
	// "\s+(?!\S)" backs off one rune: the last space goes with what follows.
	return last
}

// runLen returns the byte length of the longest prefix of s whose runes are
// all of class c.
func runLen(s string, c class) int {
	i := 0
	for i < len(s) {
		ci, n := classAt(s[i:])
		if ci != c {
			break
		}
		i += n
	}
	return i
}
