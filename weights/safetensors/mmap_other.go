//go:build !unix

package safetensors

import (
	"fmt"
	"os"
)

// mapFile reads path into memory: this platform has no mmap support here.
func mapFile(path string) ([]byte, func() error, error) {
	if fi, err := os.Stat(path); err != nil {
		return nil, nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, nil, notRegular(path, fi.Mode())
	}
	buf, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	return buf, func() error { return nil }, nil
}
