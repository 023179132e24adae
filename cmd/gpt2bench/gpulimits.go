package main

import (
	"strconv"

	"github.com/gpt2bench/gpt2bench/profile"
)

// gpuLimits turns a CUDA model's Info (model/cuda Model.Info) into the
// profile's nominal limits: the memory bandwidth and float32 peak the
// device's clocks give. It returns nil when the device reports neither.
func gpuLimits(info map[string]string) *profile.Limits {
	bw, _ := strconv.ParseFloat(info["memory_bandwidth_gb_per_s"], 64)
	pk, _ := strconv.ParseFloat(info["fp32_peak_gflop_per_s"], 64)
	if bw <= 0 && pk <= 0 {
		return nil
	}
	return profile.NominalLimits(gpuName(info), "device attributes (memory clock × bus width; SMs × float32 lanes × clock)", bw, pk)
}

// gpuName returns the device's name from Info, or "GPU".
func gpuName(info map[string]string) string {
	if d := info["device"]; d != "" {
		return d
	}
	return "GPU"
}

// profileTarget is where a profile runs: its limits, the device name
// (empty for the CPU) and the CPU threads (1 on a GPU).
type profileTarget struct {
	limits  *profile.Limits
	device  string
	threads int
	// cached is true when limits came from the cache rather than a
	// calibration in this process: recheck may measure them again, with
	// calib (zero: Calibrate's defaults).
	cached bool
	calib  profile.CalibrateOptions
}
