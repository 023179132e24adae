// Package atomicfile writes files so that a reader, or a crash, sees the
// whole new file or none of it: the data goes to a synced temporary file in
// the same directory, which then takes the file's name.
//
// Only regular files are replaced so: a path that is a symlink is followed
// (the link stays, its target is replaced), and a device, FIFO or other
// special file is written in place, never replaced by a regular file.
// Temporary files are named ".NAME.PID.RANDOM.tmp"; one left by a process
// that no longer runs (killed with SIGKILL, say) is removed by the next
// write of the same NAME.
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
// (see perm). On error nothing is left behind and path is untouched. A
// symlink is followed; a special file (device, FIFO) is written in place.
func Write(path string, write func(io.Writer) error) error {
	target, special, err := resolve(path)
	if err != nil {
		return err
	}
	if special {
		return writeInPlace(target, write)
	}
	tmp, err := temp(target, write)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, target); err != nil {
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
// with O_EXCL and copies the temporary file there: still never replacing a
// file, but a crash can then leave path short.
func Create(path string, data []byte) error {
	return CreateFunc(path, bytesWriter(data))
}

// CreateFunc is Create with the content written by write, as for Write.
func CreateFunc(path string, write func(io.Writer) error) error {
	if _, err := os.Lstat(path); err == nil {
		return &fs.PathError{Op: "create", Path: path, Err: fs.ErrExist}
	}
	tmp, err := temp(path, write)
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
	src, err := os.Open(tmp)
	if err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	defer src.Close()
	_, werr := io.Copy(f, src)
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

// resolve follows path to the file Write should replace, and reports
// whether that file exists and is special (neither regular nor absent).
func resolve(path string) (target string, special bool, err error) {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return path, false, nil
	case err != nil:
		return "", false, err
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := filepath.EvalSymlinks(path)
		if err != nil {
			return "", false, fmt.Errorf("write %s: a symlink whose target cannot be resolved: %w", path, err)
		}
		fi, err = os.Stat(target)
		if err != nil {
			return "", false, err
		}
		path = target
	}
	switch {
	case fi.Mode().IsRegular():
		return path, false, nil
	case fi.IsDir():
		return "", false, fmt.Errorf("write %s: is a directory; give a file name", path)
	}
	return path, true, nil
}

// writeInPlace writes a device or FIFO as it is, without truncating or
// replacing it.
func writeInPlace(path string, write func(io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if err := errors.Join(write(f), f.Close()); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// temp writes a synced temporary file next to path, with perm's mode, and
// returns its name, first removing stale temporary files of path.
func temp(path string, write func(io.Writer) error) (string, error) {
	dir, base := filepath.Dir(path), filepath.Base(path)
	removeStale(dir, base)
	f, err := os.CreateTemp(dir, "."+base+"."+strconv.Itoa(os.Getpid())+".*.tmp")
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

// removeStale removes the temporary files of base in dir that a process
// which no longer runs left behind. Errors are ignored: it is housekeeping.
func removeStale(dir, base string) {
	names, _ := filepath.Glob(filepath.Join(dir, "."+escapeGlob(base)+".*.tmp"))
	for _, name := range names {
		pid, ok := tempPID(filepath.Base(name), base)
		if ok && pid != os.Getpid() && !running(pid) {
			os.Remove(name)
		}
	}
}

// tempPID reads PID from ".BASE.PID.RANDOM.tmp".
func tempPID(name, base string) (int, bool) {
	rest, ok := strings.CutPrefix(name, "."+base+".")
	if !ok {
		return 0, false
	}
	rest, ok = strings.CutSuffix(rest, ".tmp")
	pidStr, random, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 || random == "" || strings.Contains(random, ".") {
		return 0, false
	}
	pid, err := strconv.Atoi(pidStr)
	return pid, err == nil && pid > 0
}

// escapeGlob quotes the pattern characters of filepath.Match in s.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`*?[\`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}
