package sysmem

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAvailable(t *testing.T) {
	dir := t.TempDir()
	meminfo := filepath.Join(dir, "meminfo")
	os.WriteFile(meminfo, []byte("MemTotal:       24000000 kB\nMemAvailable:    1000 kB\n"), 0o644)
	cg := filepath.Join(dir, "cg")
	os.Mkdir(cg, 0o755)
	tests := []struct {
		name         string
		max, current string
		want         int64
	}{
		{"no-cgroup", "", "", 1000 << 10},
		{"cgroup-max", "max\n", "5\n", 1000 << 10},
		{"cgroup-lower", "600000\n", "100000\n", 500000},
		{"cgroup-over", "100\n", "200\n", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(filepath.Join(cg, "memory.max"))
			os.Remove(filepath.Join(cg, "memory.current"))
			if tc.max != "" {
				os.WriteFile(filepath.Join(cg, "memory.max"), []byte(tc.max), 0o644)
				os.WriteFile(filepath.Join(cg, "memory.current"), []byte(tc.current), 0o644)
			}
			got, ok := available(meminfo, cg)
			if !ok || got != tc.want {
				t.Errorf("available = %d, %v; want %d", got, ok, tc.want)
			}
		})
	}
	if _, ok := available(filepath.Join(dir, "none"), filepath.Join(dir, "none")); ok {
		t.Error("nothing readable: ok")
	}
}

func TestCheck(t *testing.T) {
	if _, ok := Available(); !ok {
		t.Skip("no memory figures on this system")
	}
	if err := Check("a byte", 1); err != nil {
		t.Error(err)
	}
	err := Check("the KV cache", 1<<62)
	if err == nil || !strings.Contains(err.Error(), "the KV cache needs 4294967296.0 GiB, only ") {
		t.Errorf("err = %v", err)
	}
}
