//go:build !amd64 || !gc || purego

package tensor

import "testing"

// forEachVariant runs f for the only variant of this build.
func forEachVariant(t testing.TB, f func(name string)) { f("generic") }

func hasAVX2FMA() bool     { return false }
func hasAVX512() bool      { return false }
func cpuHas() (bool, bool) { return false, false }
