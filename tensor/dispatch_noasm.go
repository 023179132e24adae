//go:build !amd64 || !gc || purego

package tensor

// useAVX2FMA is always false without the assembly kernels.
const useAVX2FMA = false

// useAVX512 is always false without the assembly kernels.
const useAVX512 = false
