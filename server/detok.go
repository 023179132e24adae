package server

import (
	"bytes"
	"unicode/utf8"
)

// detok turns one choice's tokens into text as they arrive: it emits only
// whole UTF-8 characters, holds back a tail that may be the start of a
// stop string, and finds the first stop string (OpenAI's semantics: the
// text ends before it, unless includeStop).
type detok struct {
	stops       [][]byte
	includeStop bool
	buf         []byte // the text so far (ended at a stop string once stopped)
	sent        int    // bytes of buf already emitted
	stopped     string // the stop string found, "" if none
}

func newDetok(stops []string, includeStop bool) *detok {
	d := &detok{includeStop: includeStop}
	for _, s := range stops {
		d.stops = append(d.stops, []byte(s))
	}
	return d
}

// push adds a token's bytes and returns the text that may be emitted now
// and whether a stop string ended the text.
func (d *detok) push(b []byte) (string, bool) {
	if d.stopped != "" {
		return "", true
	}
	start := len(d.buf)
	d.buf = append(d.buf, b...)
	if len(d.stops) > 0 {
		best, which := -1, -1
		for i, s := range d.stops {
			from := max(0, start-len(s)+1) // earlier matches were found before
			if j := bytes.Index(d.buf[from:], s); j >= 0 && (best < 0 || from+j < best) {
				best, which = from+j, i
			}
		}
		if best >= 0 {
			end := best
			if d.includeStop {
				end += len(d.stops[which])
			}
			d.buf = d.buf[:end]
			d.stopped = string(d.stops[which])
			return d.flush(), true
		}
	}
	end := len(d.buf) - d.holdback()
	end = completeRunes(d.buf, d.sent, end)
	out := string(d.buf[d.sent:end])
	d.sent = end
	return out, false
}

// flush returns whatever is not emitted yet (the end of the text).
func (d *detok) flush() string {
	out := string(d.buf[d.sent:])
	d.sent = len(d.buf)
	return out
}

// holdback returns the length of the longest tail of buf that is a proper
// prefix of a stop string (it may become one).
func (d *detok) holdback() int {
	h := 0
	for _, s := range d.stops {
		for k := min(len(s)-1, len(d.buf)); k > h; k-- {
			if bytes.HasSuffix(d.buf, s[:k]) {
				h = k
				break
			}
		}
	}
	return h
}

// completeRunes moves end back (not before from) past an incomplete UTF-8
// sequence at its end, which the next token may complete.
func completeRunes(b []byte, from, end int) int {
	for i := end - 1; i >= from && i >= end-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:end]) {
				return i
			}
			return end
		}
	}
	return end
}
