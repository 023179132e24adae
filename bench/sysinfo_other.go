//go:build !linux

package bench

// kernelRelease is not read on this OS.
func kernelRelease() string { return "" }

// cpuModel is not read on this OS.
func cpuModel() string { return "" }

// totalMemory is not read on this OS.
func totalMemory() int64 { return 0 }
