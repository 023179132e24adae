package hub

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gpt2bench/gpt2bench/internal/atomicfile"
)

// optionalFiles are fetched when present (skipped on 404) unless --include replaces them;
// config.json and the weights are always fetched.
var optionalFiles = []string{
	"generation_config.json",
	"tokenizer.json", "vocab.json", "merges.txt", "tokenizer_config.json",
}

var (
	sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`) // an LFS ETag: the content's SHA-256
)

// Download fetches repo (a short name or owner/name, see RepoID) at revision ("" means main)
// into cfg.CacheDir and returns the snapshot folder. It fetches config.json, then the
// optional files (generation_config.json and the tokenizer files; with include, the repo
// files matching any path.Match pattern instead), then model.safetensors, or
// pytorch_model.bin when the repo has no model.safetensors. Blobs already in the cache are
// not transferred again. With cfg.Offline it only looks in the cache.
func Download(ctx context.Context, cfg Config, repo, revision string, include []string) (string, error) {
	revision, err := checkRevision(revision)
	if err != nil {
		return "", err
	}
	id, err := RepoID(repo)
	if err != nil {
		return "", err
	}
	for _, p := range include {
		if _, err := path.Match(p, ""); err != nil {
			return "", fmt.Errorf("hub: --include pattern %q: %w; use path.Match syntax like '*.json'", p, err)
		}
	}
	if cfg.CacheDir == "" {
		return "", errors.New("hub: no cache folder; set Config.CacheDir (see CacheDir)")
	}
	if cfg.Offline {
		dir, err := LocalSnapshot(cfg.CacheDir, repo, revision)
		var nc *NotCachedError
		if errors.As(err, &nc) {
			nc.Offline = true
		}
		return dir, err
	}
	d := &downloader{cfg: cfg, client: originAuth(cfg.client(), cfg.endpoint()), repo: id, repoDir: filepath.Join(cfg.CacheDir, RepoFolder(id))}
	return d.run(ctx, revision, include)
}

// downloader fetches the files of one repo.
type downloader struct {
	cfg     Config
	client  *http.Client
	repo    string // owner/name
	repoDir string // {cache}/models--owner--name
}

// fileMeta is what a HEAD on resolve/{revision}/{file} tells, as huggingface_hub's HfFileMetadata.
type fileMeta struct {
	Commit   string // X-Repo-Commit
	ETag     string // X-Linked-Etag, else ETag; normalized
	Size     int64  // X-Linked-Size, else Content-Length; -1 unknown
	Location string // where to GET the content: the redirect target, or the resolve URL
}

func (d *downloader) run(ctx context.Context, revision string, include []string) (string, error) {
	// config.json pins the commit; every other file is then fetched at that commit, so
	// a push to the branch in the middle cannot mix two versions in one snapshot.
	meta, err := d.head(ctx, revision, "config.json")
	if err != nil {
		return "", err
	}
	commit := meta.Commit
	if err := d.fetch(ctx, commit, "config.json", meta); err != nil {
		return "", err
	}
	done := map[string]bool{"config.json": true}

	optional := optionalFiles
	if include != nil {
		if optional, err = d.matching(ctx, commit, include); err != nil {
			return "", err
		}
	}
	for _, f := range optional {
		if done[f] {
			continue
		}
		done[f] = true
		if err := d.headFetch(ctx, commit, f); err != nil && !errors.Is(err, ErrNotFound) {
			return "", err
		}
	}
	if !done["model.safetensors"] && !done["pytorch_model.bin"] {
		err := d.headFetch(ctx, commit, "model.safetensors")
		if errors.Is(err, ErrNotFound) {
			err = d.headFetch(ctx, commit, "pytorch_model.bin")
			if errors.Is(err, ErrNotFound) {
				err = fmt.Errorf("hub: %s at %s has neither model.safetensors nor pytorch_model.bin; is it a GPT-2 checkpoint?: %w", d.repo, revision, ErrNotFound)
			}
		}
		if err != nil {
			return "", err
		}
	}
	snap := filepath.Join(d.repoDir, "snapshots", commit)
	if miss := missingFiles(snap); miss != "" {
		return "", fmt.Errorf("hub: %s at %s: snapshot lacks %s after download: %w", d.repo, revision, miss, ErrNotFound)
	}
	// refs last: only now does LocalSnapshot(revision) see the new snapshot.
	if revision != commit {
		ref := filepath.Join(d.repoDir, "refs", filepath.FromSlash(revision))
		if err := writeFileAtomic(ref, []byte(commit)); err != nil {
			return "", fmt.Errorf("hub: write refs/%s: %w", revision, err)
		}
	}
	return snap, nil
}

func (d *downloader) headFetch(ctx context.Context, commit, file string) error {
	if !validRelPath(file) {
		return fmt.Errorf("hub: %s: file name %q would leave the snapshot folder; skip it", d.repo, file)
	}
	// huggingface_hub's marker of a file the hub said does not exist at a commit.
	noExist := filepath.Join(d.repoDir, ".no_exist", commit, filepath.FromSlash(file))
	if _, err := os.Stat(noExist); err == nil {
		return fmt.Errorf("hub: %s: %s at %s: %w (cached: .no_exist)", d.repo, file, commit, ErrNotFound)
	}
	meta, err := d.head(ctx, commit, file)
	if errors.Is(err, ErrNotFound) {
		_ = writeFileAtomic(noExist, nil) // best effort, as huggingface_hub
	}
	if err != nil {
		return err
	}
	return d.fetch(ctx, commit, file, meta)
}

// resolveURL is {endpoint}/{repo}/resolve/{revision}/{file}, as huggingface_hub's hf_hub_url.
func (d *downloader) resolveURL(revision, file string) string {
	parts := strings.Split(file, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return d.cfg.endpoint() + "/" + d.repo + "/resolve/" + url.PathEscape(revision) + "/" + strings.Join(parts, "/")
}

// newRequest adds the headers huggingface_hub sends; the token goes only to the
// endpoint's exact origin (scheme, host and port).
func (d *downloader) newRequest(ctx context.Context, method, u string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, fmt.Errorf("hub: %s %s: %w", method, u, err)
	}
	req.Header.Set("User-Agent", d.cfg.userAgent())
	req.Header.Set("Accept-Encoding", "identity") // sizes and hashes are of the raw bytes
	if d.cfg.Token != "" && sameOrigin(req.URL, d.cfg.endpoint()) {
		req.Header.Set("Authorization", "Bearer "+d.cfg.Token)
	}
	return req, nil
}

// sameOrigin reports whether u has the scheme, host and port of endpoint
// (a missing port is the scheme's default).
func sameOrigin(u *url.URL, endpoint string) bool {
	e, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	origin := func(u *url.URL) string {
		port := u.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[strings.ToLower(u.Scheme)]
		}
		return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Hostname()) + ":" + port
	}
	return origin(u) == origin(e)
}

// originAuth returns a copy of c that drops the Authorization header on a
// redirect away from endpoint's exact origin: net/http keeps it for the
// same host on another port, or a subdomain.
func originAuth(c *http.Client, endpoint string) *http.Client {
	cc := *c
	next := c.CheckRedirect
	cc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if !sameOrigin(req.URL, endpoint) {
			req.Header.Del("Authorization")
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return &cc
}

// head reads a file's metadata. Like huggingface_hub's get_hf_file_metadata it follows
// relative redirects (a renamed repo on the same hub) but not absolute ones (the CDN):
// the hub's 302 to the CDN carries X-Linked-Etag, X-Linked-Size and X-Repo-Commit itself.
func (d *downloader) head(ctx context.Context, revision, file string) (fileMeta, error) {
	noFollow := *d.client
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	u := d.resolveURL(revision, file)
	var resp *http.Response
	err := d.retry(ctx, file, func() error {
		idle := newIdleTimer(ctx, d.cfg.idleTimeout())
		defer idle.stop()
		cur := u
		for range 10 {
			req, err := d.newRequest(idle.ctx, http.MethodHead, cur)
			if err != nil {
				return err
			}
			resp, err = noFollow.Do(req)
			if err != nil {
				if idle.fired() {
					return transient{fmt.Errorf("hub: HEAD %s: no response for %s (idle timeout)", cur, d.cfg.idleTimeout())}
				}
				return netError("HEAD "+cur, err)
			}
			resp.Body.Close()
			if resp.StatusCode < 300 || resp.StatusCode > 399 {
				return d.statusError(resp, revision, file)
			}
			loc, err := url.Parse(resp.Header.Get("Location"))
			if err != nil || resp.Header.Get("Location") == "" {
				return fmt.Errorf("hub: HEAD %s: %d redirect with bad Location %q", cur, resp.StatusCode, resp.Header.Get("Location"))
			}
			if loc.Host != "" { // absolute: the CDN; its URL is where the GET goes
				return nil
			}
			base, _ := url.Parse(cur)
			cur = base.ResolveReference(loc).String()
		}
		return fmt.Errorf("hub: HEAD %s: too many redirects", u)
	})
	if err != nil {
		return fileMeta{}, err
	}
	h := resp.Header
	m := fileMeta{
		Commit:   h.Get("X-Repo-Commit"),
		ETag:     normalizeETag(h.Get("X-Linked-Etag")),
		Size:     -1,
		Location: resp.Request.URL.String(),
	}
	if m.ETag == "" {
		m.ETag = normalizeETag(h.Get("ETag"))
	}
	if loc := h.Get("Location"); loc != "" {
		m.Location = loc
	}
	size := h.Get("X-Linked-Size")
	if size == "" && (resp.StatusCode < 300 || resp.StatusCode > 399) {
		size = h.Get("Content-Length")
	}
	if n, err := strconv.ParseInt(size, 10, 64); err == nil && n >= 0 {
		m.Size = n
	}
	linked := h.Get("X-Linked-Etag") != ""
	switch {
	case !commitHash.MatchString(m.Commit):
		return fileMeta{}, fmt.Errorf("hub: %s: %s: the server sent no commit (X-Repo-Commit %q); is %s a Hugging Face hub? check HF_ENDPOINT", d.repo, file, m.Commit, d.cfg.endpoint())
	case linked && !sha256Hex.MatchString(m.ETag):
		return fileMeta{}, fmt.Errorf("hub: %s: %s: the server's X-Linked-Etag %q is not the SHA-256 of an LFS file, so the content cannot be checked; check HF_ENDPOINT", d.repo, file, m.ETag)
	case !sha256Hex.MatchString(m.ETag) && !commitHash.MatchString(m.ETag):
		return fileMeta{}, fmt.Errorf("hub: %s: %s: the server's ETag %q is neither a SHA-256 (LFS) nor a git blob id, so the content cannot be checked; check HF_ENDPOINT", d.repo, file, m.ETag)
	}
	return m, nil
}

// normalizeETag strips the weak prefix and the quotes: W/"abc" -> abc.
func normalizeETag(e string) string {
	return strings.Trim(strings.TrimPrefix(strings.TrimSpace(e), "W/"), `"`)
}

// statusError maps a final HTTP status to nil (2xx) or an error naming the repo and file.
func (d *downloader) statusError(resp *http.Response, revision, file string) error {
	code := resp.StatusCode
	if code >= 200 && code <= 299 {
		return nil
	}
	what := fmt.Sprintf("hub: %s: %s at revision %s: %s", d.repo, file, revision, resp.Status)
	if ec := resp.Header.Get("X-Error-Code"); ec != "" {
		what += " (" + ec
		if msg := resp.Header.Get("X-Error-Message"); msg != "" {
			what += ": " + msg
		}
		what += ")"
	}
	switch {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		hint := "check the repo name; if it is private or gated, set HF_TOKEN to a token with access"
		if d.cfg.Token != "" {
			hint = "check the repo name, and that HF_TOKEN has access to it (accept the terms of a gated repo on its page)"
		}
		return fmt.Errorf("%s; %s: %w", what, hint, ErrUnauthorized)
	case code == http.StatusNotFound:
		return fmt.Errorf("%s; check the repo name, revision and file name: %w", what, ErrNotFound)
	case code == http.StatusTooManyRequests || code >= 500:
		return transient{fmt.Errorf("%s; the hub is busy or failing, try again later", what)}
	}
	return errors.New(what)
}

// ErrNoHost: the hub's host name does not resolve (no network, no DNS, or
// a wrong HF_ENDPOINT). Not retried: a name that does not resolve now will
// not a second later.
var ErrNoHost = errors.New("host name does not resolve")

// netError classifies a failed request: a host name that does not resolve
// fails at once (ErrNoHost, naming offline mode); anything else (refused,
// reset, a DNS server timing out) is transient.
func netError(what string, err error) error {
	var dns *net.DNSError
	if errors.As(err, &dns) && dns.IsNotFound {
		return fmt.Errorf("hub: %s: %v: %w; no route to the hub? check the network or HF_ENDPOINT; models already in the cache load without it (HF_HUB_OFFLINE=1 never tries)", what, err, ErrNoHost)
	}
	return transient{fmt.Errorf("hub: %s: %w", what, err)}
}

// transient marks an error worth retrying.
type transient struct{ err error }

func (t transient) Error() string { return t.err.Error() }
func (t transient) Unwrap() error { return t.err }

// retry runs op until it succeeds, fails for good, or the retries are spent, sleeping
// the back-off between tries. Only transient errors are retried.
func (d *downloader) retry(ctx context.Context, file string, op func() error) error {
	n := d.cfg.retries()
	for try := 0; ; try++ {
		err := op()
		var t transient
		if err == nil || !errors.As(err, &t) || ctx.Err() != nil {
			if ctx.Err() != nil && err != nil {
				return fmt.Errorf("hub: %s: %s: %w", d.repo, file, ctx.Err())
			}
			return err
		}
		if try >= n {
			return fmt.Errorf("%w (gave up after %d tries)", t.err, try+1)
		}
		timer := time.NewTimer(d.cfg.backoff(try))
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("hub: %s: %s: %w", d.repo, file, ctx.Err())
		case <-timer.C:
		}
	}
}

// fetch places file in the snapshot of commit: the blob if absent, then the symlink.
// The blob is written under huggingface_hub's lock, {cache}/.locks/{repo folder}/{etag}.lock
// (flock), so a transformers process fetching the same blob waits for us and we for it.
func (d *downloader) fetch(ctx context.Context, commit, file string, m fileMeta) error {
	blob := filepath.Join(d.repoDir, "blobs", m.ETag)
	have := func() bool {
		fi, err := os.Stat(blob)
		return err == nil && (m.Size < 0 || fi.Size() == m.Size)
	}
	if !have() {
		lockPath := filepath.Join(d.cfg.CacheDir, ".locks", filepath.Base(d.repoDir), m.ETag+".lock")
		unlock, err := lockFile(ctx, lockPath, d.cfg.lockWait())
		if err != nil {
			return fmt.Errorf("hub: %s: %s: %w", d.repo, file, err)
		}
		if !have() { // another process may have finished it while we waited
			err = d.transfer(ctx, file, m, blob)
		}
		unlock()
		if err != nil {
			return err
		}
	}
	link := filepath.Join(d.repoDir, "snapshots", commit, filepath.FromSlash(file))
	if err := symlinkAtomic(blob, link); err != nil {
		return fmt.Errorf("hub: link %s: %w", link, err)
	}
	return nil
}

// transfer downloads m into blob through blob.incomplete, resuming what an earlier
// try left there, verifies it and renames it into place.
func (d *downloader) transfer(ctx context.Context, file string, m fileMeta, blob string) error {
	if err := os.MkdirAll(filepath.Dir(blob), 0o755); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	inc := blob + ".incomplete"
	if err := d.retry(ctx, file, func() error { return d.getOnce(ctx, file, m, inc) }); err != nil {
		return err
	}
	if err := verify(inc, m); err != nil {
		os.Remove(inc) // a bad body must not be resumed
		return fmt.Errorf("hub: %s: %s: %w; run the download again", d.repo, file, err)
	}
	if err := os.Rename(inc, blob); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	return nil
}

// getOnce makes one GET of the content, appending to inc from its current size.
// A server that ignores Range (200) restarts the file. Cut bodies are transient errors.
func (d *downloader) getOnce(ctx context.Context, file string, m fileMeta, inc string) (err error) {
	f, err := os.OpenFile(inc, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("hub: %w", cerr)
		}
	}()
	off, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	if m.Size >= 0 && off > m.Size {
		off = 0 // longer than the file: not ours to resume
	}
	if m.Size >= 0 && off == m.Size {
		return nil // complete from an earlier try; verify decides
	}
	idle := newIdleTimer(ctx, d.cfg.idleTimeout())
	defer idle.stop()
	req, err := d.newRequest(idle.ctx, http.MethodGet, m.Location)
	if err != nil {
		return err
	}
	if off > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", off))
	}
	resp, err := d.client.Do(req)
	if err != nil {
		if idle.fired() {
			return transient{fmt.Errorf("hub: GET %s: no response for %s (idle timeout)", file, d.cfg.idleTimeout())}
		}
		return netError("GET "+file, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusPartialContent:
		if start := contentRangeStart(resp.Header.Get("Content-Range")); start != off {
			return transient{fmt.Errorf("hub: GET %s: asked bytes from %d, got Content-Range %q", file, off, resp.Header.Get("Content-Range"))}
		}
	case http.StatusOK:
		off = 0 // Range ignored: start over
	case http.StatusRequestedRangeNotSatisfiable:
		if err := f.Truncate(0); err != nil {
			return fmt.Errorf("hub: %w", err)
		}
		return transient{fmt.Errorf("hub: GET %s: range from %d refused; restarting", file, off)}
	default:
		return d.statusError(resp, m.Commit, file)
	}
	if err := f.Truncate(off); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	var w io.Writer = f
	if d.cfg.Progress != nil {
		p := d.cfg.Progress(file, m.Size, off)
		defer p.Close()
		w = io.MultiWriter(f, p)
	}
	// Never more than announced: one byte past it tells a server that sends
	// too much from one that sends exactly enough.
	limit := int64(maxUnannouncedSize)
	if m.Size >= 0 {
		limit = m.Size - off
	}
	n, err := io.Copy(w, io.LimitReader(idle.reader(resp.Body), limit+1))
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var pe *os.PathError
		if errors.As(err, &pe) { // disk full, not the network
			return fmt.Errorf("hub: write %s: %w", inc, err)
		}
		if idle.fired() {
			return transient{fmt.Errorf("hub: GET %s: no data for %s after %d bytes (idle timeout)", file, d.cfg.idleTimeout(), off+n)}
		}
		return transient{fmt.Errorf("hub: GET %s: cut after %d bytes: %w", file, off+n, err)}
	}
	if n > limit {
		f.Truncate(0) // not ours to resume
		if m.Size >= 0 {
			return fmt.Errorf("hub: %s: %s: the server sent more than the %d bytes it announced; check HF_ENDPOINT", d.repo, file, m.Size)
		}
		return fmt.Errorf("hub: %s: %s: the server announced no size and sent more than %d bytes; check HF_ENDPOINT", d.repo, file, maxUnannouncedSize)
	}
	if m.Size >= 0 && off+n < m.Size {
		return transient{fmt.Errorf("hub: GET %s: body ended at %d of %d bytes", file, off+n, m.Size)}
	}
	return nil
}

// maxUnannouncedSize bounds a body whose size the server did not announce
// (the hub announces every size: Content-Length, or X-Linked-Size for LFS).
const maxUnannouncedSize = 64 << 20

// errIdle is the cause of a request cancelled by its idle timer.
var errIdle = errors.New("idle timeout")

// idleTimer cancels a request when no byte arrives for a while: before the
// response headers, and between reads of the body.
type idleTimer struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	t      *time.Timer
	d      time.Duration
}

// newIdleTimer returns a context for one request, cancelled after d
// without progress, and the timer to stop when the request is done.
func newIdleTimer(ctx context.Context, d time.Duration) *idleTimer {
	it := &idleTimer{d: d}
	it.ctx, it.cancel = context.WithCancelCause(ctx)
	it.t = time.AfterFunc(d, func() { it.cancel(errIdle) })
	return it
}

func (it *idleTimer) stop() { it.t.Stop(); it.cancel(nil) }

// fired reports whether the timer cancelled the request.
func (it *idleTimer) fired() bool { return errors.Is(context.Cause(it.ctx), errIdle) }

// reader returns r whose every read that brings bytes restarts the timer.
func (it *idleTimer) reader(r io.Reader) io.Reader { return idleReader{r, it} }

type idleReader struct {
	r  io.Reader
	it *idleTimer
}

func (r idleReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.it.t.Reset(r.it.d)
	}
	return n, err
}

// contentRangeStart reads the first byte of "bytes START-END/TOTAL"; -1 if malformed.
func contentRangeStart(cr string) int64 {
	s, ok := strings.CutPrefix(cr, "bytes ")
	if !ok {
		return -1
	}
	s, _, ok = strings.Cut(s, "-")
	n, err := strconv.ParseInt(s, 10, 64)
	if !ok || err != nil {
		return -1
	}
	return n
}

// verify checks the size, then the content against the ETag: an LFS ETag (64 hex) is the
// file's SHA-256; a 40-hex one is its git blob id, sha1("blob {size}\x00" + content).
func verify(p string, m fileMeta) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if m.Size >= 0 && fi.Size() != m.Size {
		return fmt.Errorf("size %d, want %d: %w", fi.Size(), m.Size, ErrChecksum)
	}
	var h hash.Hash
	switch {
	case sha256Hex.MatchString(m.ETag):
		h = sha256.New()
	case commitHash.MatchString(m.ETag):
		h = sha1.New()
		fmt.Fprintf(h, "blob %d\x00", fi.Size())
	default:
		return nil // an ETag we cannot check against
	}
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != m.ETag {
		return fmt.Errorf("content hash %s, want %s (ETag): %w", got, m.ETag, ErrChecksum)
	}
	return nil
}

// symlinkAtomic points link at target with a relative path, as huggingface_hub does
// (../../blobs/{etag}, one more ../ per folder in the file's path), replacing any old link.
func symlinkAtomic(target, link string) error {
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		return err
	}
	rel, err := filepath.Rel(filepath.Dir(link), target)
	if err != nil {
		return err
	}
	if cur, err := os.Readlink(link); err == nil && cur == rel {
		return nil
	}
	tmp := link + ".tmp-link"
	os.Remove(tmp)
	if err := os.Symlink(rel, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// writeFileAtomic writes data to p through a temporary file and a rename,
// creating p's directory.
func writeFileAtomic(p string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteBytes(p, data)
}

// matching lists the repo's files at commit (the hub's /api/models/{repo}/revision/{commit},
// as snapshot_download reads it) that match any pattern.
func (d *downloader) matching(ctx context.Context, commit string, patterns []string) ([]string, error) {
	u := d.cfg.endpoint() + "/api/models/" + d.repo + "/revision/" + url.PathEscape(commit)
	var info struct {
		Siblings []struct {
			RFilename string `json:"rfilename"`
		} `json:"siblings"`
	}
	err := d.retry(ctx, "file list", func() error {
		idle := newIdleTimer(ctx, d.cfg.idleTimeout())
		defer idle.stop()
		req, err := d.newRequest(idle.ctx, http.MethodGet, u)
		if err != nil {
			return err
		}
		resp, err := d.client.Do(req)
		if err != nil {
			return transient{fmt.Errorf("hub: GET %s: %w", u, err)}
		}
		defer resp.Body.Close()
		if err := d.statusError(resp, commit, "file list"); err != nil {
			return err
		}
		if err := json.NewDecoder(io.LimitReader(idle.reader(resp.Body), 64<<20)).Decode(&info); err != nil {
			return transient{fmt.Errorf("hub: %s: file list: %w", d.repo, err)}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range info.Siblings {
		// A name with "..", an empty or absolute part or a backslash would
		// place the file outside the snapshot (hub file names are
		// slash-separated paths inside the repo).
		if !fs.ValidPath(s.RFilename) || s.RFilename == "." || strings.Contains(s.RFilename, `\`) {
			return nil, fmt.Errorf("hub: %s: the file list names %q, which is not a path inside the repo; refusing the download (check HF_ENDPOINT)", d.repo, s.RFilename)
		}
		for _, p := range patterns {
			if ok, _ := path.Match(p, s.RFilename); ok {
				out = append(out, s.RFilename)
				break
			}
		}
	}
	return out, nil
}
