// Package atomicfile writes files so that a reader, or a crash, sees the
// whole new file or none of it: the data goes to a synced temporary file in
// the same directory, which then takes the file's name.
package atomicfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Write writes path with mode 0644 through a temporary file that write
// fills, renamed over path (replacing any file there). On error nothing is
// left behind and path is untouched.
func Write(path string, write func(io.Writer) error) error {
	tmp, err := temp(path, write)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// WriteBytes is Write for data in memory.
func WriteBytes(path string, data []byte) error {
	return Write(path, bytesWriter(data))
}

// Create is WriteBytes that never replaces a file: the temporary file is
// hard-linked to path, and an existing path fails with an error matching
// fs.ErrExist.
func Create(path string, data []byte) error {
	tmp, err := temp(path, bytesWriter(data))
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	return os.Link(tmp, path)
}

func bytesWriter(data []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := io.Copy(w, bytes.NewReader(data))
		return err
	}
}

// temp writes a synced, mode-0644 temporary file next to path and returns
// its name.
func temp(path string, write func(io.Writer) error) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return "", err
	}
	werr := write(f)
	if err := errors.Join(werr, f.Chmod(0o644), f.Sync(), f.Close()); err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return f.Name(), nil
}
