//go:build linux

package bench

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// currentRSS returns the resident set size (VmRSS of /proc/self/status).
func currentRSS() (int64, error) { return procStatus("VmRSS:") }

// peakRSSMark returns the kernel's peak RSS mark (VmHWM).
func peakRSSMark() (int64, error) { return procStatus("VmHWM:") }

// resetPeakRSS resets VmHWM to the current RSS (Linux >= 4.0) by writing
// "5" to /proc/self/clear_refs.
func resetPeakRSS() error {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// procStatus returns the value in bytes of a "Key:   123 kB" line of
// /proc/self/status.
func procStatus(key string) (int64, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	v, ok := statusValue(data, []byte(key))
	if !ok {
		return 0, fmt.Errorf("bench: no %s in /proc/self/status", key)
	}
	return v, nil
}

// statusValue parses the kB value after key in a /proc/*/status text and
// returns it in bytes. It does not allocate.
func statusValue(data, key []byte) (int64, bool) {
	i := bytes.Index(data, key)
	if i < 0 {
		return 0, false
	}
	var kb int64
	digits := 0
	for _, c := range data[i+len(key):] {
		switch {
		case c == ' ' || c == '\t':
			if digits > 0 {
				return kb * 1024, true
			}
		case c >= '0' && c <= '9':
			kb = kb*10 + int64(c-'0')
			digits++
		default:
			return kb * 1024, digits > 0
		}
	}
	return kb * 1024, digits > 0
}

var keyVmRSS = []byte("VmRSS:")

// rssReader reads VmRSS from an open /proc/self/status into a fixed
// buffer, so the memory sampler does not allocate (which would count in
// the allocations it measures).
type rssReader struct {
	f   *os.File
	buf [8192]byte
}

// newRSSReader opens /proc/self/status; nil when it cannot.
func newRSSReader() *rssReader {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return nil
	}
	return &rssReader{f: f}
}

// rss returns the current VmRSS in bytes, 0 when unknown.
func (r *rssReader) rss() int64 {
	if r == nil {
		return 0
	}
	n, err := r.f.ReadAt(r.buf[:], 0)
	if err != nil && err != io.EOF {
		return 0
	}
	v, _ := statusValue(r.buf[:n], keyVmRSS)
	return v
}

// close closes the file.
func (r *rssReader) close() {
	if r != nil {
		r.f.Close()
	}
}
