//go:build !amd64 || !gc || purego

package profile

func fma(n int, a float32) float32 { return fmaGeneric(n, a) }

// KernelName names the code Calibrate measures with: "generic, generic
// read" (pure Go) in this build; cached limits measured by other kernels
// are measured again (LoadLimits).
func KernelName() string { return "generic, generic read" }

func fmaFLOPsPerIter() int { return fmaFLOPs8 }
