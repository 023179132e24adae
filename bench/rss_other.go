//go:build !linux

package bench

import "errors"

var errNoRSS = errors.New("bench: resident set size is only read on linux")

// currentRSS is not available on this OS.
func currentRSS() (int64, error) { return 0, errNoRSS }

// peakRSSMark is not available on this OS.
func peakRSSMark() (int64, error) { return 0, errNoRSS }

// resetPeakRSS is not available on this OS.
func resetPeakRSS() error { return errNoRSS }

// rssReader is a stub: RSS is unknown on this OS.
type rssReader struct{}

func newRSSReader() *rssReader  { return nil }
func (r *rssReader) rss() int64 { return 0 }
func (r *rssReader) close()     {}
