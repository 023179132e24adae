//go:build unix

package atomicfile

import (
	"errors"
	"syscall"
)

// running reports whether process pid exists (signal 0 probes it). A
// process of another user (EPERM) counts as running.
func running(pid int) bool {
	return !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
