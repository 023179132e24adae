//go:build unix

package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestModeFollowsUmask checks new files get 0666 less the umask, as
// os.Create gives, whichever way they are written (a temporary file alone
// would be 0600 whatever the umask).
func TestModeFollowsUmask(t *testing.T) {
	for _, tc := range []struct {
		umask int
		want  os.FileMode
	}{{0o022, 0o644}, {0o077, 0o600}, {0o002, 0o664}} {
		t.Run(fmt.Sprintf("umask=%03o", tc.umask), func(t *testing.T) {
			old := syscall.Umask(tc.umask)
			defer syscall.Umask(old)
			dir := t.TempDir()
			for name, write := range map[string]func(string) error{
				"Write":  func(p string) error { return WriteBytes(p, []byte("x")) },
				"Create": func(p string) error { return Create(p, []byte("x")) },
			} {
				p := filepath.Join(dir, name)
				if err := write(p); err != nil {
					t.Fatal(err)
				}
				if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != tc.want {
					t.Errorf("%s: mode %v, %v; want %v", name, fi.Mode().Perm(), err, tc.want)
				}
			}
		})
	}
}
