package hub

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// env turns a map into a getenv func.
func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestCacheDir(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"HF_HUB_CACHE", map[string]string{"HF_HUB_CACHE": "/c", "HF_HOME": "/h", "HOME": "/u"}, "/c"},
		{"legacy HUGGINGFACE_HUB_CACHE", map[string]string{"HUGGINGFACE_HUB_CACHE": "/c", "HF_HOME": "/h"}, "/c"},
		{"HF_HOME", map[string]string{"HF_HOME": "/h", "HOME": "/u"}, "/h/hub"},
		{"XDG_CACHE_HOME", map[string]string{"XDG_CACHE_HOME": "/x", "HOME": "/u"}, "/x/huggingface/hub"},
		{"home", map[string]string{"HOME": "/u"}, "/u/.cache/huggingface/hub"},
		{"tilde", map[string]string{"HF_HOME": "~/hf", "HOME": "/u"}, "/u/hf/hub"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CacheDir(env(tc.env))
			if err != nil || got != filepath.FromSlash(tc.want) {
				t.Errorf("CacheDir = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestRepoID(t *testing.T) {
	tests := []struct {
		name, want string
		ok         bool
	}{
		{"gpt2", "openai-community/gpt2", true},
		{"gpt2-medium", "openai-community/gpt2-medium", true},
		{"gpt2-large", "openai-community/gpt2-large", true},
		{"gpt2-xl", "openai-community/gpt2-xl", true},
		{"distilgpt2", "distilbert/distilgpt2", true},
		{"openai-community/gpt2", "openai-community/gpt2", true},
		{"my.org/tiny_gpt2-v1.5", "my.org/tiny_gpt2-v1.5", true},
		{"gpt3", "", false},
		{"", "", false},
		{"a/b/c", "", false},
		{"../x", "", false},
		{"a/..", "", false},
		{"a--b/c", "", false},
		{"/gpt2", "", false},
		{"owner/", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RepoID(tc.name)
			if (err == nil) != tc.ok || got != tc.want {
				t.Errorf("RepoID(%q) = %q, %v; want %q, ok=%v", tc.name, got, err, tc.want, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrBadRepo) {
				t.Errorf("error %v does not wrap ErrBadRepo", err)
			}
		})
	}
}

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr bool
	}{
		{"defaults", map[string]string{"HOME": "/u"},
			Config{Endpoint: DefaultEndpoint, CacheDir: "/u/.cache/huggingface/hub", MaxRetries: DefaultMaxRetries, RetryBase: DefaultRetryBase}, false},
		{"all set", map[string]string{"HF_ENDPOINT": "http://127.0.0.1:9/", "HF_TOKEN": "hf_x", "HF_HUB_CACHE": "/c", "HF_HUB_OFFLINE": "1"},
			Config{Endpoint: "http://127.0.0.1:9", Token: "hf_x", CacheDir: "/c", Offline: true, MaxRetries: DefaultMaxRetries, RetryBase: DefaultRetryBase}, false},
		{"legacy token, offline true", map[string]string{"HUGGING_FACE_HUB_TOKEN": "hf_y", "HF_HOME": "/h", "HF_HUB_OFFLINE": "TRUE"},
			Config{Endpoint: DefaultEndpoint, Token: "hf_y", CacheDir: "/h/hub", Offline: true, MaxRetries: DefaultMaxRetries, RetryBase: DefaultRetryBase}, false},
		{"offline 0", map[string]string{"HF_HOME": "/h", "HF_HUB_OFFLINE": "0"},
			Config{Endpoint: DefaultEndpoint, CacheDir: "/h/hub", MaxRetries: DefaultMaxRetries, RetryBase: DefaultRetryBase}, false},
		{"bad endpoint", map[string]string{"HF_HOME": "/h", "HF_ENDPOINT": "huggingface.co"}, Config{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ConfigFromEnv(env(tc.env))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, wantErr %v", err, tc.wantErr)
			}
			tc.want.CacheDir = filepath.FromSlash(tc.want.CacheDir)
			if got.HTTPClient != nil || got.Progress != nil {
				t.Errorf("ConfigFromEnv set HTTPClient or Progress")
			}
			got.HTTPClient, got.Progress = nil, nil
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// handCache lays out a cache the way huggingface_hub writes it, without this package:
// blobs named by ETag, relative symlinks from snapshots/{commit}, refs/main.
func handCache(t *testing.T, cacheDir, repo string, files []string, withRef bool) string {
	t.Helper()
	repoDir := filepath.Join(cacheDir, "models--"+strings.ReplaceAll(repo, "/", "--"))
	snap := filepath.Join(repoDir, "snapshots", testCommit)
	for _, dir := range []string{filepath.Join(repoDir, "blobs"), snap, filepath.Join(repoDir, "refs")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range files {
		b := readFixture(t, f)
		etag := gitBlobSHA1(b)
		if isLFS(f) {
			etag = sha256Of(b)
		}
		if err := os.WriteFile(filepath.Join(repoDir, "blobs", etag), b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("../../blobs/"+etag, filepath.Join(snap, f)); err != nil {
			t.Fatal(err)
		}
	}
	if withRef {
		if err := os.WriteFile(filepath.Join(repoDir, "refs", "main"), []byte(testCommit), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return snap
}

func TestLocalSnapshotHandBuilt(t *testing.T) {
	full := []string{"config.json", "generation_config.json", "model.safetensors"}
	tests := []struct {
		name      string
		folder    string   // repo whose folder is built by hand
		files     []string // files placed in the snapshot
		withRef   bool
		ask, rev  string // LocalSnapshot arguments
		found     bool
		reasonSub string // in the NotCachedError when not found
	}{
		{name: "canonical folder", folder: "openai-community/gpt2", files: full, withRef: true, ask: "gpt2", found: true},
		{name: "legacy models--gpt2", folder: "gpt2", files: full, withRef: true, ask: "gpt2", found: true},
		{name: "legacy folder by full id", folder: "gpt2", files: full, withRef: true, ask: "openai-community/gpt2", found: true},
		{name: "owner/name", folder: "someone/tiny", files: full, withRef: true, ask: "someone/tiny", found: true},
		{name: "commit hash, no ref", folder: "openai-community/gpt2", files: full, ask: "gpt2", rev: testCommit, found: true},
		{name: "bin only", folder: "distilbert/distilgpt2", files: []string{"config.json", "pytorch_model.bin"}, withRef: true, ask: "distilgpt2", found: true},
		{name: "empty cache", ask: "gpt2-xl", reasonSub: "no models--openai-community--gpt2-xl folder"},
		{name: "no ref", folder: "openai-community/gpt2", files: full, ask: "gpt2", reasonSub: "no refs/main"},
		{name: "other branch", folder: "openai-community/gpt2", files: full, withRef: true, ask: "gpt2", rev: "v2", reasonSub: "no refs/v2"},
		{name: "no weights", folder: "openai-community/gpt2", files: []string{"config.json"}, withRef: true, ask: "gpt2", reasonSub: "lacks model.safetensors and pytorch_model.bin"},
		{name: "no config", folder: "openai-community/gpt2", files: []string{"model.safetensors"}, withRef: true, ask: "gpt2", reasonSub: "lacks config.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var snap string
			if tc.folder != "" {
				snap = handCache(t, dir, tc.folder, tc.files, tc.withRef)
			}
			got, err := LocalSnapshot(dir, tc.ask, tc.rev)
			if tc.found {
				if err != nil || got != snap {
					t.Fatalf("LocalSnapshot = %q, %v; want %q", got, err, snap)
				}
				// "loaded": the config and weights read through the links are the fixture's bytes.
				for _, f := range tc.files {
					b, err := os.ReadFile(filepath.Join(got, f))
					if err != nil || string(b) != string(readFixture(t, f)) {
						t.Errorf("%s through the snapshot: %v or content differs", f, err)
					}
				}
				return
			}
			var nc *NotCachedError
			if !errors.As(err, &nc) || !errors.Is(err, ErrNotCached) || errors.Is(err, ErrOffline) {
				t.Fatalf("error %v, want a *NotCachedError", err)
			}
			wantCmd := "gpt2bench download " + tc.ask
			if tc.rev != "" {
				wantCmd += " --revision " + tc.rev
			}
			if !strings.HasSuffix(err.Error(), "download it with: "+wantCmd) || !strings.Contains(err.Error(), tc.reasonSub) {
				t.Errorf("message %q: want reason %q and command %q", err, tc.reasonSub, wantCmd)
			}
		})
	}
}

func TestLocalSnapshotDanglingLink(t *testing.T) {
	dir := t.TempDir()
	snap := handCache(t, dir, "openai-community/gpt2", []string{"config.json", "model.safetensors"}, true)
	target, _ := os.Readlink(filepath.Join(snap, "model.safetensors"))
	os.Remove(filepath.Join(snap, target))
	if _, err := LocalSnapshot(dir, "gpt2", ""); !errors.Is(err, ErrNotCached) {
		t.Errorf("snapshot with a dangling weights link: %v, want ErrNotCached", err)
	}
}

// TestDownloadOverHandBuiltCache: blobs huggingface_hub already holds are not fetched again.
func TestDownloadOverHandBuiltCache(t *testing.T) {
	h := newFakeHub(t)
	cfg := h.config(t)
	snap := handCache(t, cfg.CacheDir, "openai-community/gpt2", []string{"config.json", "generation_config.json", "model.safetensors"}, true)
	got, err := Download(context.Background(), cfg, "gpt2", "", nil)
	if err != nil || got != snap {
		t.Fatalf("Download = %q, %v; want %q", got, err, snap)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.getBytes != 0 {
		t.Errorf("transferred %d bytes over a complete cache, want 0", h.getBytes)
	}
}

func FuzzRepoID(f *testing.F) {
	for _, s := range []string{"gpt2", "openai-community/gpt2", "a/../b", "x--y/z", "a/b/c", "./.", "-a/b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		id, err := RepoID(name)
		if err != nil {
			return
		}
		folder := RepoFolder(id)
		if strings.ContainsAny(folder, `/\`) || strings.Contains(folder, "..") || filepath.Base(folder) != folder {
			t.Errorf("RepoID(%q) = %q gives folder %q outside the cache", name, id, folder)
		}
	})
}

func FuzzContentRange(f *testing.F) {
	for _, s := range []string{"bytes 0-9/10", "bytes 100000-681543/681544", "bytes */10", "", "bytes -5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n := contentRangeStart(s); n < -1 {
			t.Errorf("contentRangeStart(%q) = %d", s, n)
		}
	})
}
