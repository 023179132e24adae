//go:build linux

package bench

import "testing"

func TestStatusValue(t *testing.T) {
	data := []byte("Name:\tx\nVmHWM:\t  123456 kB\nVmRSS:\t 2048 kB\n")
	tests := []struct {
		key  string
		want int64
		ok   bool
	}{{"VmHWM:", 123456 * 1024, true}, {"VmRSS:", 2048 * 1024, true}, {"VmSwap:", 0, false}, {"Name:", 0, false}}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			got, ok := statusValue(data, []byte(tc.key))
			if got != tc.want || ok != tc.ok {
				t.Errorf("statusValue(%s) = %d, %v; want %d, %v", tc.key, got, ok, tc.want, tc.ok)
			}
		})
	}
}
