//go:build !unix

package atomicfile

// running cannot tell here: every temporary file is taken as in use.
func running(int) bool { return true }
