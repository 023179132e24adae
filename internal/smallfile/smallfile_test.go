package smallfile

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	ok := filepath.Join(dir, "ok.txt")
	os.WriteFile(ok, []byte("hello"), 0o644)
	link := filepath.Join(dir, "link.txt")
	os.Symlink("ok.txt", link)
	big := filepath.Join(dir, "big.txt")
	os.WriteFile(big, make([]byte, 2<<20+1), 0o644)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip("mkfifo:", err)
	}
	tests := []struct {
		path string
		want string // "" for success
	}{
		{ok, ""},
		{link, ""},
		{big, "has 2097153 bytes, more than the 2 MiB"},
		{fifo, "is not a regular file (a named pipe (FIFO))"},
		{"/dev/zero", "is not a regular file (a character device)"},
		{dir, "a directory"},
		{filepath.Join(dir, "missing"), "no such file"},
	}
	for _, tc := range tests {
		b, err := Read(tc.path, 2<<20)
		switch {
		case tc.want == "" && (err != nil || string(b) != "hello"):
			t.Errorf("Read(%s) = %q, %v", tc.path, b, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("Read(%s): err = %v, want %q", tc.path, err, tc.want)
		}
	}
}
