package cuda

// Nominal limits of a GPU from its device attributes, for the profile's
// roofline: what the data sheet would say, not a measurement.

// fp32Lanes returns the float32 FMA units per multiprocessor of compute
// capability major.minor (the CUDA C Programming Guide's arithmetic
// instruction throughput table), or 0 when unknown.
func fp32Lanes(major, minor int) int {
	switch {
	case major == 6 && minor == 0, major == 7, major == 8 && minor == 0:
		return 64
	case major == 5, major == 6, major == 8, major >= 9:
		return 128
	}
	return 0
}

// nominalBandwidth returns the peak DRAM bandwidth in GB/s (1e9 bytes) of
// a memory clocked at memClockKHz (the attribute's peak clock) with a bus
// of busBits: two transfers per clock (double data rate).
func nominalBandwidth(memClockKHz, busBits int) float64 {
	return 2 * float64(memClockKHz) * 1e3 * float64(busBits) / 8 / 1e9
}

// nominalFP32Peak returns the float32 FMA peak in GFLOP/s (an FMA is two
// FLOPs) of sms multiprocessors at clockKHz, or 0 when the architecture is
// unknown. Tensor cores (the f16 GEMMs of prefill) are faster than this.
func nominalFP32Peak(sms, clockKHz, major, minor int) float64 {
	return 2 * float64(sms*fp32Lanes(major, minor)) * float64(clockKHz) * 1e3 / 1e9
}
