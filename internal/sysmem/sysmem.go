// Package sysmem tells how much memory a process may still allocate, so that
// large buffers (weights, KV caches) are refused with both numbers before
// the allocation instead of dying in it.
package sysmem

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Available returns the bytes the process can still allocate: Linux's
// MemAvailable, lowered to what the cgroup v2 limit leaves (memory.max -
// memory.current) when one is set. ok is false where neither can be read
// (another OS), and callers then skip their check.
func Available() (n int64, ok bool) {
	return available("/proc/meminfo", "/sys/fs/cgroup")
}

func available(meminfo, cgroup string) (int64, bool) {
	n, ok := memAvailable(meminfo)
	if limit, ok2 := readInt(cgroup + "/memory.max"); ok2 {
		if cur, ok3 := readInt(cgroup + "/memory.current"); ok3 {
			left := max(limit-cur, 0)
			if !ok || left < n {
				n, ok = left, true
			}
		}
	}
	return n, ok
}

func memAvailable(path string) (int64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, found := strings.CutPrefix(sc.Text(), "MemAvailable:")
		if !found {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil || kb < 0 {
			return 0, false
		}
		return kb << 10, true
	}
	return 0, false
}

// readInt reads a file holding one integer ("max" is no limit: false).
func readInt(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
	return v, err == nil && v >= 0
}

// Check returns an error naming what and both sizes when need bytes exceed
// the available memory; nil when they fit or the memory is unknown.
func Check(what string, need int64) error {
	avail, ok := Available()
	if !ok || need <= avail {
		return nil
	}
	return &Error{What: what, Need: need, Avail: avail}
}

// Error is Check's refusal.
type Error struct {
	What        string // e.g. "the KV cache of 4 sequences of 1048576 positions"
	Need, Avail int64  // bytes
}

// Error names both sizes.
func (e *Error) Error() string {
	return fmt.Sprintf("%s needs %s, only %s of memory are available", e.What, Bytes(e.Need), Bytes(e.Avail))
}

// Bytes formats n in binary units: "1.5 GiB", "512 MiB", "12 KiB", "100 B".
func Bytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
