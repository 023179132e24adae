//go:build unix

package model

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time (user + system) the process has used: on a
// shared host it counts the work done, not the waits for a core.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
