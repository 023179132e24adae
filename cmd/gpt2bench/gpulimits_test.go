package main

import "testing"

func TestGPULimits(t *testing.T) {
	for _, tc := range []struct {
		name     string
		info     map[string]string
		nilLimit bool
		device   string
		bw, pk   float64
	}{
		{"both", map[string]string{"device": "NVIDIA H100 80GB HBM3", "memory_bandwidth_gb_per_s": "3352.3", "fp32_peak_gflop_per_s": "66908.2"}, false, "NVIDIA H100 80GB HBM3", 3352.3, 66908.2},
		{"bandwidth only", map[string]string{"memory_bandwidth_gb_per_s": "1555.2"}, false, "GPU", 1555.2, 0},
		{"none", map[string]string{"device": "X"}, true, "", 0, 0},
		{"garbage", map[string]string{"memory_bandwidth_gb_per_s": "fast"}, true, "", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := gpuLimits(tc.info)
			if tc.nilLimit {
				if l != nil {
					t.Fatalf("limits %+v, want nil", l)
				}
				return
			}
			if l == nil {
				t.Fatal("nil limits")
			}
			if l.CPU != tc.device || l.Bandwidth(1) != tc.bw || l.Peak(1) != tc.pk || l.Source == "" {
				t.Errorf("limits %q %g GB/s %g GFLOP/s source %q; want %q %g %g", l.CPU, l.Bandwidth(1), l.Peak(1), l.Source, tc.device, tc.bw, tc.pk)
			}
		})
	}
}
