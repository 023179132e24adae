// Package atomicfile writes files so that a reader, or a crash, sees the
// whole new file or none of it: the data goes to a synced temporary file in
// the same directory, which then takes the file's name.
package atomicfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// perm is the mode of new files: 0666 less the process umask, as
// os.Create gives (0644 under the usual umask 022, 0600 under 077). A
// temporary file is created 0600, so it is set explicitly.
func perm() os.FileMode { return 0o666 &^ umask() }

// umask returns the process's file mode creation mask from
// /proc/self/status (Linux 4.7+), else the usual 022. Reading it there
// leaves it alone: syscall.Umask would have to set it to read it.
func umask() os.FileMode {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0o022
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Umask:"); ok {
			if m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
				return os.FileMode(m) & 0o777
			}
		}
	}
	return 0o022
}

// Write writes path through a temporary file that write fills, renamed
// over path (replacing any file there), with the mode os.Create would give
// (see perm). On error nothing is left behind and path is untouched.
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
// fs.ErrExist. Where the file system has no hard links it creates path
// with O_EXCL and writes data: still never replacing a file, but a crash
// can then leave path short.
func Create(path string, data []byte) error {
	tmp, err := temp(path, bytesWriter(data))
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	lerr := os.Link(tmp, path)
	if lerr == nil || errors.Is(lerr, fs.ErrExist) {
		return lerr
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm())
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		return fmt.Errorf("%w (hard link: %v)", err, lerr)
	}
	_, werr := f.Write(data)
	if err := errors.Join(werr, f.Chmod(perm()), f.Sync(), f.Close()); err != nil {
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func bytesWriter(data []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := io.Copy(w, bytes.NewReader(data))
		return err
	}
}

// temp writes a synced temporary file next to path, with perm's mode, and
// returns its name.
func temp(path string, write func(io.Writer) error) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return "", err
	}
	werr := write(f)
	if err := errors.Join(werr, f.Chmod(perm()), f.Sync(), f.Close()); err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return f.Name(), nil
}
