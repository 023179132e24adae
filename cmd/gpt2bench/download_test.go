package main

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// miniHub serves the tiny fixture as the repo test/tiny the way the
// Hugging Face hub does for what `download` needs: HEAD and GET on
// /{repo}/resolve/{rev}/{file}, X-Repo-Commit, ETag (sha256 of LFS files
// as X-Linked-Etag), 404 for absent files. weights/hub's own tests cover
// redirects, resumes, checksums and auth against a fuller fake.
func miniHub(t *testing.T) (url string, gets *atomic.Int64) {
	t.Helper()
	const commit = "0123456789abcdef0123456789abcdef01234567"
	gets = new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		file, ok := strings.CutPrefix(r.URL.Path, "/test/tiny/resolve/")
		if !ok {
			http.Error(w, "repository not found", http.StatusUnauthorized)
			return
		}
		_, file, _ = strings.Cut(file, "/") // drop the revision
		data, err := os.ReadFile(filepath.Join(tinyDir, filepath.Base(file)))
		if err != nil || (file != "config.json" && file != "model.safetensors") {
			w.Header().Set("X-Error-Code", "EntryNotFound")
			http.Error(w, "entry not found", http.StatusNotFound)
			return
		}
		sum := sha256.Sum256(data)
		etag := `"` + hex.EncodeToString(sum[:]) + `"`
		w.Header().Set("X-Repo-Commit", commit)
		w.Header().Set("ETag", etag)
		w.Header().Set("X-Linked-Etag", etag)
		w.Header().Set("X-Linked-Size", strconv.Itoa(len(data)))
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		if r.Method == http.MethodGet {
			gets.Add(1)
			w.Write(data)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL, gets
}

// TestDownloadThenRun downloads a repo from a hub on loopback into a fresh
// cache, then runs it by name offline, as a user would.
func TestDownloadThenRun(t *testing.T) {
	url, gets := miniHub(t)
	cache := t.TempDir()
	t.Setenv("HF_ENDPOINT", url)
	t.Setenv("HF_HUB_CACHE", cache)
	t.Setenv("HF_TOKEN", "")

	code, out, errs := runCLI(t, "download", "test/tiny")
	if code != exitOK || !strings.HasPrefix(strings.TrimSpace(out), filepath.Join(cache, "models--test--tiny", "snapshots")) {
		t.Fatalf("download: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	first := gets.Load()
	if code, _, errs := runCLI(t, "download", "test/tiny"); code != exitOK || gets.Load() != first {
		t.Fatalf("second download: exit %d, %d more GETs (want 0), stderr %q", code, gets.Load()-first, errs)
	}

	t.Setenv("HF_HUB_OFFLINE", "1")
	t.Setenv("HF_ENDPOINT", "http://127.0.0.1:1") // nothing listens: offline must not ask
	code, out, errs = runCLI(t, "verify", "--model", "test/tiny", "--reference", tinyRef)
	if code != exitOK || !strings.Contains(out, "PASS") {
		t.Fatalf("verify --model test/tiny from the cache: exit %d\n%s\n%s", code, out, errs)
	}
	code, _, errs = runCLI(t, "generate", "--model", "test/absent", "--prompt", "x")
	if code != exitFailure || !strings.Contains(errs, "gpt2bench download test/absent") {
		t.Fatalf("uncached model: exit %d, stderr %q; want the download command named", code, errs)
	}
}
