//go:build unix

package hub

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestNoExistMarkers checks huggingface_hub's .no_exist/{commit}/{file}
// markers: written for a file the hub answers 404 for at a commit, and
// read back so that the next download does not ask again.
func TestNoExistMarkers(t *testing.T) {
	h := newFakeHub(t)
	cfg := h.config(t)
	if _, err := Download(context.Background(), cfg, "test/tiny-bin", "", nil); err != nil {
		t.Fatal(err)
	}
	repoDir := filepath.Join(cfg.CacheDir, RepoFolder("test/tiny-bin"))
	marker := filepath.Join(repoDir, ".no_exist", testCommit, "model.safetensors")
	if fi, err := os.Stat(marker); err != nil || fi.Size() != 0 {
		t.Fatalf("no empty .no_exist marker for model.safetensors: %v", err)
	}
	markers, _ := filepath.Glob(filepath.Join(repoDir, ".no_exist", testCommit, "*"))
	h.mu.Lock()
	first := h.misses
	h.misses = 0
	h.mu.Unlock()
	if first != len(markers) {
		t.Errorf("%d requests answered 404, %d markers written", first, len(markers))
	}
	if _, err := Download(context.Background(), cfg, "test/tiny-bin", "", nil); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	second := h.misses
	h.mu.Unlock()
	if second != 0 {
		t.Errorf("second download asked %d times for files the markers say are absent", second)
	}
}

// TestBlobLock checks a blob is written under huggingface_hub's lock,
// {cache}/.locks/{repo folder}/{etag}.lock: while another process holds
// it the download waits (here: gives up after LockWait), and it goes
// through once the lock is free.
func TestBlobLock(t *testing.T) {
	h := newFakeHub(t)
	cfg := h.config(t)
	content := h.repos["test/tiny-gpt2"]["config.json"]
	lock := filepath.Join(cfg.CacheDir, ".locks", RepoFolder("test/tiny-gpt2"), gitBlobSHA1(content)+".lock")
	if err := os.MkdirAll(filepath.Dir(lock), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(lock, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil { // as Python's filelock holds it
		t.Fatal(err)
	}
	cfg.LockWait = 300 * time.Millisecond
	_, err = Download(context.Background(), cfg, "test/tiny-gpt2", "", nil)
	if err == nil || !strings.Contains(err.Error(), "another process has held") {
		t.Fatalf("download under a held lock: %v, want it to wait and give up", err)
	}
	if _, serr := os.Stat(filepath.Join(cfg.CacheDir, RepoFolder("test/tiny-gpt2"), "blobs", gitBlobSHA1(content))); serr == nil {
		t.Error("the blob was written while another process held its lock")
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	if _, err := Download(context.Background(), cfg, "test/tiny-gpt2", "", nil); err != nil {
		t.Fatalf("after the lock was released: %v", err)
	}
	locks, _ := filepath.Glob(filepath.Join(cfg.CacheDir, ".locks", RepoFolder("test/tiny-gpt2"), "*.lock"))
	if len(locks) < 2 { // config.json and the weights at least
		t.Errorf("lock files %v, want one per blob", locks)
	}
}

// TestNoHostFailsFast checks a hub whose host name does not resolve fails
// at once (no retries, no back-off) with ErrNoHost and a message naming
// offline mode.
func TestNoHostFailsFast(t *testing.T) {
	cfg := Config{
		Endpoint: "https://hub.invalid", CacheDir: t.TempDir(), MaxRetries: 5, RetryBase: time.Second,
		HTTPClient: &http.Client{Transport: &http.Transport{
			DialContext: func(_ context.Context, _, addr string) (net.Conn, error) {
				host, _, _ := net.SplitHostPort(addr)
				return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
			},
		}},
	}
	t0 := time.Now()
	_, err := Download(context.Background(), cfg, "gpt2", "", nil)
	if !errors.Is(err, ErrNoHost) {
		t.Fatalf("err = %v, want ErrNoHost", err)
	}
	if d := time.Since(t0); d > 900*time.Millisecond { // one back-off would be 1 s
		t.Errorf("took %v: retried a name that does not resolve", d)
	}
	for _, s := range []string{"hub.invalid", "HF_HUB_OFFLINE=1", "HF_ENDPOINT"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("message %q does not mention %s", err, s)
		}
	}
}
