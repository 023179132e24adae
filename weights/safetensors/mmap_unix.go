//go:build unix

package safetensors

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps path read-only; when mmap fails (an empty file, a file system
// without mmap) it reads the file instead.
func mapFile(path string) ([]byte, func() error, error) {
	if fi, err := os.Stat(path); err != nil {
		return nil, nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, nil, notRegular(path, fi.Mode())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() { // replaced since the Stat
		return nil, nil, notRegular(path, fi.Mode())
	}
	size := fi.Size()
	if size > 0 && size == int64(int(size)) {
		if buf, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED); err == nil {
			return buf, func() error { return unix.Munmap(buf) }, nil
		}
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(f, buf); err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	return buf, func() error { return nil }, nil
}
