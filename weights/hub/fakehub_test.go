package hub

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
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

// fixtureDir holds the HF-written tiny checkpoint the fake hub serves (read only).
const fixtureDir = "../../testdata/tiny-gpt2"

// testCommit is the commit every fake repo is at.
const testCommit = "0123456789abcdef0123456789abcdef01234567"

// fakeHub behaves like huggingface.co for resolve URLs: HEAD and GET on
// /{owner}/{name}/resolve/{rev}/{file}, a 302 to a second server (the CDN) for LFS files
// with X-Linked-Etag and X-Linked-Size, ETag (git blob sha1) for the others,
// X-Repo-Commit, Range on the CDN, 404 with X-Error-Code for absent files, 401 for
// absent or private repos, a relative 307 for a renamed repo, and the file-list API.
type fakeHub struct {
	t   *testing.T
	hub *httptest.Server
	cdn *httptest.Server

	mu       sync.Mutex
	repos    map[string]map[string][]byte // repo -> file -> content
	private  map[string]string            // repo -> required token
	renamed  map[string]string            // old repo -> new repo
	cut      map[string]int               // file -> bytes served before the connection drops (once)
	corrupt  map[string]bool              // file -> CDN flips a byte
	noRange  bool                         // CDN ignores Range and answers 200
	fail5xx  int                          // the next N hub requests answer 503
	gets     map[string]int               // file -> GET count at the CDN or hub
	heads    int
	misses   int      // requests for files the repo does not have (404)
	cdnAuth  []string // Authorization headers the CDN saw
	ranges   []string // Range headers the CDN saw
	getBytes int64    // body bytes sent by GETs
}

func newFakeHub(t *testing.T) *fakeHub {
	t.Helper()
	f := &fakeHub{
		t:       t,
		repos:   map[string]map[string][]byte{},
		private: map[string]string{},
		renamed: map[string]string{},
		cut:     map[string]int{},
		corrupt: map[string]bool{},
		gets:    map[string]int{},
	}
	full := map[string][]byte{}
	for _, name := range []string{"config.json", "generation_config.json", "model.safetensors", "pytorch_model.bin"} {
		full[name] = readFixture(t, name)
	}
	f.repos["test/tiny-gpt2"] = full
	f.repos["openai-community/gpt2"] = full
	f.repos["test/tiny-bin"] = map[string][]byte{"config.json": full["config.json"], "pytorch_model.bin": full["pytorch_model.bin"]}
	f.repos["test/private"] = map[string][]byte{"config.json": full["config.json"], "model.safetensors": full["model.safetensors"]}
	f.private["test/private"] = "hf_secret"
	f.renamed["old/tiny-gpt2"] = "test/tiny-gpt2"
	f.hub = httptest.NewServer(http.HandlerFunc(f.serveHub))
	f.cdn = httptest.NewServer(http.HandlerFunc(f.serveCDN))
	t.Cleanup(f.hub.Close)
	t.Cleanup(f.cdn.Close)
	return f
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, name))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	return b
}

// isLFS says which files the fake stores in LFS: the weights, as the real hub does.
func isLFS(name string) bool {
	return strings.HasSuffix(name, ".safetensors") || strings.HasSuffix(name, ".bin")
}

func sha256Of(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func gitBlobSHA1(b []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(b))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// config builds a Config that talks to this fake hub and caches in a fresh folder.
func (f *fakeHub) config(t *testing.T) Config {
	return Config{
		Endpoint:   f.hub.URL,
		CacheDir:   t.TempDir(),
		HTTPClient: &http.Client{Timeout: 10 * time.Second},
		MaxRetries: 3,
		RetryBase:  time.Millisecond,
	}
}

func (f *fakeHub) serveHub(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail5xx > 0 {
		f.fail5xx--
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	if repo, ok := strings.CutPrefix(r.URL.Path, "/api/models/"); ok {
		f.serveList(w, repo)
		return
	}
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 5)
	if len(parts) != 5 || parts[2] != "resolve" {
		http.NotFound(w, r)
		return
	}
	repo, rev, file := parts[0]+"/"+parts[1], parts[3], parts[4]
	if to, ok := f.renamed[repo]; ok {
		w.Header().Set("Location", "/"+to+"/resolve/"+rev+"/"+file) // relative, as the hub does
		w.WriteHeader(http.StatusTemporaryRedirect)
		return
	}
	files, ok := f.repos[repo]
	if tok := f.private[repo]; ok && tok != "" && r.Header.Get("Authorization") != "Bearer "+tok {
		ok = false
	}
	if !ok {
		w.Header().Set("X-Error-Code", "RepoNotFound")
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if rev != "main" && rev != testCommit {
		w.Header().Set("X-Error-Code", "RevisionNotFound")
		w.WriteHeader(http.StatusNotFound)
		return
	}
	body, ok := files[file]
	if !ok {
		f.misses++
		w.Header().Set("X-Error-Code", "EntryNotFound")
		w.Header().Set("X-Repo-Commit", testCommit)
		w.WriteHeader(http.StatusNotFound)
		return
	}
	w.Header().Set("X-Repo-Commit", testCommit)
	if r.Method == http.MethodHead {
		f.heads++
	}
	if isLFS(file) {
		sum := sha256Of(body)
		w.Header().Set("ETag", `W/"`+gitBlobSHA1([]byte("pointer "+sum))+`"`) // the pointer's, not the content's
		w.Header().Set("X-Linked-Etag", `"`+sum+`"`)
		w.Header().Set("X-Linked-Size", strconv.Itoa(len(body)))
		w.Header().Set("Location", f.cdn.URL+"/cdn/"+sum+"?file="+file)
		w.WriteHeader(http.StatusFound)
		return
	}
	w.Header().Set("ETag", `"`+gitBlobSHA1(body)+`"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		f.gets[file]++
		f.getBytes += int64(len(body))
		w.Write(body)
	}
}

func (f *fakeHub) serveList(w http.ResponseWriter, rest string) {
	repo, _, _ := strings.Cut(rest, "/revision/")
	files, ok := f.repos[repo]
	if !ok || f.private[repo] != "" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	type sib struct {
		RFilename string `json:"rfilename"`
	}
	var sibs []sib
	for name := range files {
		sibs = append(sibs, sib{name})
	}
	json.NewEncoder(w).Encode(map[string]any{"sha": testCommit, "siblings": sibs})
}

// serveCDN serves LFS content by sha256 with Range support, and the failure modes.
func (f *fakeHub) serveCDN(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	file := r.URL.Query().Get("file")
	sum := strings.TrimPrefix(r.URL.Path, "/cdn/")
	var body []byte
	for _, files := range f.repos {
		if b, ok := files[file]; ok && sha256Of(b) == sum {
			body = b
		}
	}
	f.cdnAuth = append(f.cdnAuth, r.Header.Get("Authorization"))
	if r.Method == http.MethodGet {
		f.gets[file]++
		f.ranges = append(f.ranges, r.Header.Get("Range"))
	}
	cut, cutOK := f.cut[file]
	delete(f.cut, file)
	corrupt, noRange := f.corrupt[file], f.noRange
	f.mu.Unlock()
	if body == nil {
		http.NotFound(w, r)
		return
	}
	if corrupt {
		body = bytes.Clone(body)
		body[len(body)/2] ^= 0xff
	}
	if r.Method == http.MethodGet && cutOK {
		// Send the headers of the full body and cut bytes of it, then drop the connection.
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		f.addBytes(int64(cut)) // counted before sending, so the client never sees it uncounted
		w.Write(body[:cut])
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			f.t.Errorf("hijack: %v", err)
			return
		}
		conn.Close()
		return
	}
	if noRange {
		r.Header.Del("Range")
	}
	http.ServeContent(&countingWriter{ResponseWriter: w, f: f}, r, "", time.Time{}, bytes.NewReader(body))
}

func (f *fakeHub) addBytes(n int64) {
	f.mu.Lock()
	f.getBytes += n
	f.mu.Unlock()
}

// countingWriter counts body bytes before sending them, so a test never reads a
// count that lags the bytes its client already received.
type countingWriter struct {
	http.ResponseWriter
	f *fakeHub
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.f.addBytes(int64(len(p)))
	return c.ResponseWriter.Write(p)
}
