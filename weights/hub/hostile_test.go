package hub

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// hostile serves one repo whose files a handler answers, with the headers
// of the hub (X-Repo-Commit, ETag as a git blob id, Content-Length).
func hostile(t *testing.T, get func(w http.ResponseWriter, r *http.Request, body []byte)) (*httptest.Server, Config) {
	t.Helper()
	files := map[string][]byte{"config.json": readFixture(t, "config.json"), "model.safetensors": readFixture(t, "model.safetensors")}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		file := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
		body, ok := files[file]
		if !ok {
			w.Header().Set("X-Repo-Commit", testCommit)
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set("X-Repo-Commit", testCommit)
		w.Header().Set("ETag", `"`+gitBlobSHA1(body)+`"`)
		if r.Method == http.MethodHead {
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			return
		}
		get(w, r, body)
	}))
	t.Cleanup(srv.Close)
	cfg := Config{Endpoint: srv.URL, CacheDir: t.TempDir(), MaxRetries: 1, RetryBase: time.Millisecond, IdleTimeout: 200 * time.Millisecond}
	return srv, cfg
}

// blobBytes sums the sizes of the files the cache holds.
func blobBytes(t *testing.T, dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// TestEndlessBody: a server that sends more than it announced is cut off
// at the announced size plus one byte, and the download fails clearly.
func TestEndlessBody(t *testing.T) {
	_, cfg := hostile(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		chunk := make([]byte, 1<<16)
		for range 1 << 14 { // 1 GiB at most, if the client kept reading
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	start := time.Now()
	_, err := Download(context.Background(), cfg, "test/endless", "", nil)
	if err == nil || !strings.Contains(err.Error(), "sent more than the 826 bytes it announced") {
		t.Fatalf("err = %v", err)
	}
	if n := blobBytes(t, cfg.CacheDir); n > 1<<20 {
		t.Errorf("the cache holds %d bytes after an endless body", n)
	}
	t.Logf("failed in %v: %v", time.Since(start), err)
}

// TestStalledBody: a body that stops arriving is given up after the idle
// timeout (and its retries), not waited on forever.
func TestStalledBody(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	_, cfg := hostile(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body[:10])
		w.(http.Flusher).Flush()
		select { // stall until the client gives up or the test ends
		case <-r.Context().Done():
		case <-release:
		case <-time.After(10 * time.Second):
		}
	})
	start := time.Now()
	_, err := Download(context.Background(), cfg, "test/stall", "", nil)
	if err == nil || !strings.Contains(err.Error(), "idle timeout") {
		t.Fatalf("err = %v, want an idle timeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("gave up after %v, want about 2 idle timeouts", d)
	}
}

// TestUncheckableETag: one made-up ETag for every file would map config.json
// and the weights to one blob; it is refused before anything is written.
func TestUncheckableETag(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Repo-Commit", testCommit)
		w.Header().Set("ETag", `"same-for-all"`)
		w.Header().Set("Content-Length", "5")
		if r.Method == http.MethodGet {
			w.Write([]byte("hello"))
		}
	}))
	defer srv.Close()
	cfg := Config{Endpoint: srv.URL, CacheDir: t.TempDir(), MaxRetries: -1}
	_, err := Download(context.Background(), cfg, "test/etag", "", nil)
	if err == nil || !strings.Contains(err.Error(), `ETag "same-for-all" is neither a SHA-256 (LFS) nor a git blob id`) {
		t.Fatalf("err = %v", err)
	}
	if n := blobBytes(t, cfg.CacheDir); n != 0 {
		t.Errorf("%d bytes written", n)
	}
}

// TestTokenExactOrigin: HF_TOKEN goes to the endpoint's scheme://host:port
// only, not along a redirect to another port of the same host.
func TestTokenExactOrigin(t *testing.T) {
	var mu sync.Mutex
	var sawAuth []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		sawAuth = append(sawAuth, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Write(readFixture(t, "config.json"))
	}))
	defer other.Close()
	srv, cfg := hostile(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		if r.Header.Get("Authorization") != "Bearer hf_secret" {
			t.Errorf("the endpoint got Authorization %q", r.Header.Get("Authorization"))
		}
		http.Redirect(w, r, other.URL+"/elsewhere", http.StatusFound) // same host, another port
	})
	cfg.Token = "hf_secret"
	Download(context.Background(), cfg, "test/redirect", "", nil)
	mu.Lock()
	defer mu.Unlock()
	if len(sawAuth) == 0 {
		t.Fatal("the redirect was not followed")
	}
	for _, a := range sawAuth {
		if a != "" {
			t.Errorf("%s (another port of %s) got Authorization %q", other.URL, srv.URL, a)
		}
	}
}

// TestListedNameOutsideRepo: a file list naming a path outside the repo
// ("../..") is refused before anything is fetched under that name, and
// nothing lands outside the cache.
func TestListedNameOutsideRepo(t *testing.T) {
	h := newFakeHub(t)
	files := map[string][]byte{}
	for k, v := range h.repos["test/tiny-gpt2"] {
		files[k] = v
	}
	files["../../../../escape.json"] = []byte("{}")
	h.repos["test/escape"] = files
	cfg := h.config(t)
	outside := filepath.Dir(cfg.CacheDir)
	_, err := Download(context.Background(), cfg, "test/escape", "", []string{"*.json", "*/*/*/*/*.json", "*.safetensors"})
	if err == nil || !strings.Contains(err.Error(), `names "../../../../escape.json", which is not a path inside the repo`) {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(outside, "escape.json")); err == nil {
		t.Error("escape.json was written outside the cache")
	}
}
