package hub

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// checkSnapshot asserts snap holds exactly want (file -> content) as relative symlinks into
// blobs/, each blob named by its ETag, as huggingface_hub lays them out.
func checkSnapshot(t *testing.T, snap string, want map[string][]byte) {
	t.Helper()
	repoDir := filepath.Dir(filepath.Dir(snap))
	got := map[string]bool{}
	filepath.WalkDir(snap, func(p string, de os.DirEntry, err error) error {
		if err == nil && !de.IsDir() {
			rel, _ := filepath.Rel(snap, p)
			got[filepath.ToSlash(rel)] = true
		}
		return err
	})
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("snapshot has unexpected %s", name)
		}
	}
	for name, body := range want {
		link := filepath.Join(snap, filepath.FromSlash(name))
		target, err := os.Readlink(link)
		if err != nil {
			t.Errorf("%s: not a symlink: %v", name, err)
			continue
		}
		depth := strings.Count(name, "/") + 2
		etag := sha256Of(body)
		if !isLFS(name) {
			etag = gitBlobSHA1(body)
		}
		if wantTarget := strings.Repeat("../", depth) + "blobs/" + etag; target != wantTarget {
			t.Errorf("%s -> %s, want %s", name, target, wantTarget)
		}
		b, err := os.ReadFile(link)
		if err != nil || !bytes.Equal(b, body) {
			t.Errorf("%s: content differs from the served file (err %v)", name, err)
		}
		if _, err := os.Stat(filepath.Join(repoDir, "blobs", etag)); err != nil {
			t.Errorf("%s: blob: %v", name, err)
		}
	}
	if inc, _ := filepath.Glob(filepath.Join(repoDir, "blobs", "*.incomplete")); len(inc) > 0 {
		t.Errorf("left behind: %v", inc)
	}
}

func readRef(t *testing.T, cacheDir, repo, rev string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(cacheDir, RepoFolder(repo), "refs", rev))
	if err != nil {
		t.Fatalf("refs/%s: %v", rev, err)
	}
	return string(b)
}

func TestDownload(t *testing.T) {
	h := newFakeHub(t)
	h.repos["test/tiny-gpt2"]["sub/dir/note.txt"] = []byte("nested\n")
	cfgJSON, gen := readFixture(t, "config.json"), readFixture(t, "generation_config.json")
	st, bin := readFixture(t, "model.safetensors"), readFixture(t, "pytorch_model.bin")
	tests := []struct {
		name, repo, rev string
		include         []string
		token           string
		fail5xx         int
		folder          string // owner/name of the cache folder
		want            map[string][]byte
	}{
		{name: "clean", repo: "test/tiny-gpt2", folder: "test/tiny-gpt2",
			want: map[string][]byte{"config.json": cfgJSON, "generation_config.json": gen, "model.safetensors": st}},
		{name: "short name", repo: "gpt2", folder: "openai-community/gpt2",
			want: map[string][]byte{"config.json": cfgJSON, "generation_config.json": gen, "model.safetensors": st}},
		{name: "bin fallback", repo: "test/tiny-bin", folder: "test/tiny-bin",
			want: map[string][]byte{"config.json": cfgJSON, "pytorch_model.bin": bin}},
		{name: "renamed repo", repo: "old/tiny-gpt2", folder: "old/tiny-gpt2",
			want: map[string][]byte{"config.json": cfgJSON, "generation_config.json": gen, "model.safetensors": st}},
		{name: "commit revision", repo: "test/tiny-gpt2", rev: testCommit, folder: "test/tiny-gpt2",
			want: map[string][]byte{"config.json": cfgJSON, "generation_config.json": gen, "model.safetensors": st}},
		{name: "private with token", repo: "test/private", token: "hf_secret", folder: "test/private",
			want: map[string][]byte{"config.json": cfgJSON, "model.safetensors": st}},
		{name: "include", repo: "test/tiny-gpt2", include: []string{"sub/*/*", "*.bin"}, folder: "test/tiny-gpt2",
			want: map[string][]byte{"config.json": cfgJSON, "sub/dir/note.txt": []byte("nested\n"), "pytorch_model.bin": bin}},
		{name: "retry 503", repo: "test/tiny-gpt2", fail5xx: 2, folder: "test/tiny-gpt2",
			want: map[string][]byte{"config.json": cfgJSON, "generation_config.json": gen, "model.safetensors": st}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := h.config(t)
			cfg.Token = tc.token
			h.mu.Lock()
			h.fail5xx, h.cdnAuth = tc.fail5xx, nil
			h.mu.Unlock()
			snap, err := Download(context.Background(), cfg, tc.repo, tc.rev, tc.include)
			if err != nil {
				t.Fatalf("Download: %v", err)
			}
			wantSnap := filepath.Join(cfg.CacheDir, RepoFolder(tc.folder), "snapshots", testCommit)
			if snap != wantSnap {
				t.Fatalf("snapshot %s, want %s", snap, wantSnap)
			}
			checkSnapshot(t, snap, tc.want)
			if tc.rev == "" {
				if ref := readRef(t, cfg.CacheDir, tc.folder, "main"); ref != testCommit {
					t.Errorf("refs/main = %q, want %q", ref, testCommit)
				}
				got, err := LocalSnapshot(cfg.CacheDir, tc.repo, "")
				if err != nil || got != snap {
					t.Errorf("LocalSnapshot = %s, %v; want %s", got, err, snap)
				}
			} else if refs, _ := os.ReadDir(filepath.Join(cfg.CacheDir, RepoFolder(tc.folder), "refs")); len(refs) > 0 {
				t.Errorf("a commit revision wrote refs: %v", refs)
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			for _, a := range h.cdnAuth {
				if a != "" {
					t.Errorf("the token was sent to the CDN host: %q", a)
				}
			}
		})
	}
}

func TestDownloadErrors(t *testing.T) {
	h := newFakeHub(t)
	tests := []struct {
		name, repo, rev, token string
		fail5xx                int
		want                   error
		msg                    []string // substrings of the message
	}{
		{name: "private without token", repo: "test/private", want: ErrUnauthorized, msg: []string{"test/private", "config.json", "401", "HF_TOKEN"}},
		{name: "private bad token", repo: "test/private", token: "nope", want: ErrUnauthorized, msg: []string{"test/private", "HF_TOKEN has access"}},
		{name: "absent repo", repo: "test/absent", want: ErrUnauthorized, msg: []string{"test/absent", "RepoNotFound"}},
		{name: "absent revision", repo: "test/tiny-gpt2", rev: "v9", want: ErrNotFound, msg: []string{"test/tiny-gpt2", "config.json", "v9", "404"}},
		{name: "bad name", repo: "gpt3", want: ErrBadRepo, msg: []string{"gpt3", "gpt2-medium"}},
		{name: "bad revision", repo: "gpt2", rev: "../../etc", msg: []string{"revision"}},
		{name: "hub down", repo: "test/tiny-gpt2", fail5xx: 100, msg: []string{"503", "gave up after 4 tries"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := h.config(t)
			cfg.Token = tc.token
			h.mu.Lock()
			h.fail5xx = tc.fail5xx
			h.mu.Unlock()
			_, err := Download(context.Background(), cfg, tc.repo, tc.rev, nil)
			h.mu.Lock()
			h.fail5xx = 0
			h.mu.Unlock()
			if err == nil {
				t.Fatal("Download succeeded, want an error")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %v, want errors.Is %v", err, tc.want)
			}
			for _, s := range tc.msg {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
			if snaps, _ := filepath.Glob(filepath.Join(cfg.CacheDir, "*", "snapshots", "*", "*")); len(snaps) > 0 {
				t.Errorf("failed download left %v", snaps)
			}
		})
	}
}

func TestDownloadBinMissingToo(t *testing.T) {
	h := newFakeHub(t)
	h.repos["test/config-only"] = map[string][]byte{"config.json": readFixture(t, "config.json")}
	cfg := h.config(t)
	_, err := Download(context.Background(), cfg, "test/config-only", "", nil)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "neither model.safetensors nor pytorch_model.bin") {
		t.Fatalf("error %v, want ErrNotFound naming both weight files", err)
	}
	if _, err := LocalSnapshot(cfg.CacheDir, "test/config-only", ""); !errors.Is(err, ErrNotCached) {
		t.Errorf("LocalSnapshot after failed download: %v, want ErrNotCached", err)
	}
}

// TestResume cuts the weights mid-body: the first download fails with the partial file in
// blobs/*.incomplete and nothing in the snapshot; the second asks for the rest with Range.
func TestResume(t *testing.T) {
	const cutAt = 100_000
	st := readFixture(t, "model.safetensors")
	for _, tc := range []struct {
		name    string
		noRange bool // the CDN answers 200 to Range: restart from 0
	}{{"range", false}, {"server ignores range", true}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newFakeHub(t)
			h.noRange = tc.noRange
			h.cut["model.safetensors"] = cutAt
			cfg := h.config(t)
			cfg.MaxRetries = -1
			_, err := Download(context.Background(), cfg, "test/tiny-gpt2", "", nil)
			if err == nil || !strings.Contains(err.Error(), "model.safetensors") {
				t.Fatalf("cut download: err %v, want a failure naming model.safetensors", err)
			}
			repoDir := filepath.Join(cfg.CacheDir, RepoFolder("test/tiny-gpt2"))
			inc := filepath.Join(repoDir, "blobs", sha256Of(st)+".incomplete")
			if fi, err := os.Stat(inc); err != nil || fi.Size() != cutAt {
				t.Fatalf("partial file: %v, size %d; want %d bytes", err, sizeOf(fi), cutAt)
			}
			if _, err := os.Lstat(filepath.Join(repoDir, "snapshots", testCommit, "model.safetensors")); err == nil {
				t.Fatal("snapshot links the partial weights")
			}
			if _, err := LocalSnapshot(cfg.CacheDir, "test/tiny-gpt2", ""); !errors.Is(err, ErrNotCached) {
				t.Fatalf("LocalSnapshot after a cut: %v, want ErrNotCached", err)
			}

			h.mu.Lock()
			h.ranges, h.getBytes = nil, 0
			h.mu.Unlock()
			snap, err := Download(context.Background(), cfg, "test/tiny-gpt2", "", nil)
			if err != nil {
				t.Fatalf("resumed download: %v", err)
			}
			checkSnapshot(t, snap, map[string][]byte{"config.json": readFixture(t, "config.json"),
				"generation_config.json": readFixture(t, "generation_config.json"), "model.safetensors": st})
			h.mu.Lock()
			defer h.mu.Unlock()
			if len(h.ranges) != 1 || h.ranges[0] != "bytes=100000-" {
				t.Errorf("Range headers %q, want one bytes=100000-", h.ranges)
			}
			wantBytes := int64(len(st) - cutAt)
			if tc.noRange {
				wantBytes = int64(len(st))
			}
			if h.getBytes != wantBytes {
				t.Errorf("resume transferred %d bytes, want %d", h.getBytes, wantBytes)
			}
		})
	}
}

func sizeOf(fi os.FileInfo) int64 {
	if fi == nil {
		return -1
	}
	return fi.Size()
}

// TestResumeWithinRetries: with retries on, one Download call survives the cut.
func TestResumeWithinRetries(t *testing.T) {
	h := newFakeHub(t)
	h.cut["model.safetensors"] = 12345
	cfg := h.config(t)
	var mu sync.Mutex
	var starts []int64
	cfg.Progress = func(file string, total, done int64) io.WriteCloser {
		mu.Lock()
		defer mu.Unlock()
		if file == "model.safetensors" {
			starts = append(starts, done)
		}
		return nopWriteCloser{}
	}
	snap, err := Download(context.Background(), cfg, "test/tiny-gpt2", "", nil)
	if err != nil {
		t.Fatalf("Download: %v", err)
	}
	if _, err := os.Stat(filepath.Join(snap, "model.safetensors")); err != nil {
		t.Fatal(err)
	}
	if len(starts) != 2 || starts[0] != 0 || starts[1] != 12345 {
		t.Errorf("progress starts %v, want [0 12345]", starts)
	}
}

type nopWriteCloser struct{}

func (nopWriteCloser) Write(p []byte) (int, error) { return len(p), nil }
func (nopWriteCloser) Close() error                { return nil }

func TestChecksumMismatch(t *testing.T) {
	h := newFakeHub(t)
	h.corrupt["model.safetensors"] = true
	cfg := h.config(t)
	_, err := Download(context.Background(), cfg, "test/tiny-gpt2", "", nil)
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "model.safetensors") {
		t.Fatalf("error %v, want ErrChecksum naming model.safetensors", err)
	}
	repoDir := filepath.Join(cfg.CacheDir, RepoFolder("test/tiny-gpt2"))
	if _, err := os.Lstat(filepath.Join(repoDir, "snapshots", testCommit, "model.safetensors")); err == nil {
		t.Error("corrupt weights linked into snapshots/")
	}
	blobs, _ := filepath.Glob(filepath.Join(repoDir, "blobs", sha256Of(readFixture(t, "model.safetensors"))+"*"))
	if len(blobs) > 0 {
		t.Errorf("corrupt blob kept: %v", blobs)
	}
	if _, err := os.Stat(filepath.Join(repoDir, "refs", "main")); err == nil {
		t.Error("refs/main written for a failed download")
	}
}

func TestSecondDownloadTransfersNothing(t *testing.T) {
	h := newFakeHub(t)
	cfg := h.config(t)
	first, err := Download(context.Background(), cfg, "gpt2", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	h.getBytes, h.gets = 0, map[string]int{}
	h.mu.Unlock()
	second, err := Download(context.Background(), cfg, "gpt2", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if first != second {
		t.Errorf("snapshots differ: %s, %s", first, second)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.getBytes != 0 || len(h.gets) != 0 {
		t.Errorf("second download made GETs %v (%d bytes), want none", h.gets, h.getBytes)
	}
}

func TestOffline(t *testing.T) {
	h := newFakeHub(t)
	cfg := h.config(t)
	cfg.Offline = true
	_, err := Download(context.Background(), cfg, "gpt2", "", nil)
	if !errors.Is(err, ErrOffline) || !errors.Is(err, ErrNotCached) {
		t.Fatalf("offline, empty cache: %v, want ErrOffline and ErrNotCached", err)
	}
	if !strings.Contains(err.Error(), "gpt2bench download gpt2") || !strings.Contains(err.Error(), "HF_HUB_OFFLINE") {
		t.Errorf("message %q should name HF_HUB_OFFLINE and the command", err)
	}

	cfg.Offline = false
	online, err := Download(context.Background(), cfg, "gpt2", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	h.hub.Close() // offline must not need the network
	h.cdn.Close()
	cfg.Offline = true
	got, err := Download(context.Background(), cfg, "gpt2", "", nil)
	if err != nil || got != online {
		t.Errorf("offline after download: %s, %v; want %s", got, err, online)
	}
}

func TestCancel(t *testing.T) {
	h := newFakeHub(t)
	cfg := h.config(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Download(ctx, cfg, "gpt2", "", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled download: %v, want context.Canceled", err)
	}
}

// hubLayoutFind is what huggingface_hub's try_to_load_from_cache does, written out:
// refs/{revision} -> commit, snapshots/{commit}/{file}; the blob named by its hash.
func hubLayoutFind(t *testing.T, cacheDir, repo, file string) []byte {
	t.Helper()
	repoDir := filepath.Join(cacheDir, "models--"+strings.ReplaceAll(repo, "/", "--"))
	commit, err := os.ReadFile(filepath.Join(repoDir, "refs", "main"))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(repoDir, "snapshots", string(commit), file)
	target, err := os.Readlink(p)
	if err != nil || filepath.IsAbs(target) {
		t.Fatalf("%s: want a relative symlink, got %q, %v", file, target, err)
	}
	blob := filepath.Clean(filepath.Join(filepath.Dir(p), target))
	if filepath.Dir(blob) != filepath.Join(repoDir, "blobs") {
		t.Fatalf("%s links outside blobs/: %s", file, blob)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if name := filepath.Base(blob); name != sha256Of(b) && name != gitBlobSHA1(b) {
		t.Errorf("%s: blob %s is not named by the content's hash", file, name)
	}
	return b
}

func TestCacheReadableByHubLayout(t *testing.T) {
	h := newFakeHub(t)
	cfg := h.config(t)
	if _, err := Download(context.Background(), cfg, "gpt2", "", nil); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"config.json", "generation_config.json", "model.safetensors"} {
		t.Run(f, func(t *testing.T) {
			if got := hubLayoutFind(t, cfg.CacheDir, "openai-community/gpt2", f); !bytes.Equal(got, readFixture(t, f)) {
				t.Error("content differs from the fixture")
			}
		})
	}
}

func TestTerminalProgress(t *testing.T) {
	var buf bytes.Buffer
	p := TerminalProgress(&buf)("model.safetensors", 1000, 200)
	p.Write(make([]byte, 800))
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "model.safetensors") || !strings.Contains(buf.String(), "100%") {
		t.Errorf("progress output %q lacks the file name or 100%%", buf.String())
	}
}
