package hub

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// DefaultRevision is the branch used when no revision is given, as in huggingface_hub.
const DefaultRevision = "main"

// Sentinel errors; callers branch with errors.Is.
var (
	// ErrNotCached: the model (or a file of it) is not in the local cache.
	ErrNotCached = errors.New("not cached")
	// ErrNotFound: the hub answered 404 (repo, revision or file absent); not a network failure.
	ErrNotFound = errors.New("not found on the hub")
	// ErrUnauthorized: the hub answered 401 or 403 (private, gated, or missing repo; bad token).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrChecksum: a downloaded file's SHA-256 or size disagrees with its ETag or declared size.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrOffline: HF_HUB_OFFLINE is set and the request needs the network.
	ErrOffline = errors.New("offline mode")
	// ErrBadRepo: the model name is neither a known short name nor owner/name.
	ErrBadRepo = errors.New("bad repo name")
)

// shortNames maps the legacy GPT-2 model names to their current hub repositories.
var shortNames = map[string]string{
	"gpt2":        "openai-community/gpt2",
	"gpt2-medium": "openai-community/gpt2-medium",
	"gpt2-large":  "openai-community/gpt2-large",
	"gpt2-xl":     "openai-community/gpt2-xl",
	"distilgpt2":  "distilbert/distilgpt2",
}

// repoPart is one side of owner/name, as the hub accepts it.
var repoPart = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$`)

// commitHash matches a full git commit id.
var commitHash = regexp.MustCompile(`^[0-9a-f]{40}$`)

// CacheDir returns the huggingface_hub cache folder: $HF_HUB_CACHE, else $HF_HOME/hub,
// else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub. A leading ~ is
// expanded, as huggingface_hub does. getenv is usually os.Getenv.
func CacheDir(getenv func(string) string) (string, error) {
	if d := getenv("HF_HUB_CACHE"); d != "" {
		return expandHome(getenv, d)
	}
	if d := getenv("HUGGINGFACE_HUB_CACHE"); d != "" { // legacy name, still read by huggingface_hub
		return expandHome(getenv, d)
	}
	if d := getenv("HF_HOME"); d != "" {
		d, err := expandHome(getenv, d)
		return filepath.Join(d, "hub"), err
	}
	if d := getenv("XDG_CACHE_HOME"); d != "" {
		d, err := expandHome(getenv, d)
		return filepath.Join(d, "huggingface", "hub"), err
	}
	home, err := homeDir(getenv)
	if err != nil {
		return "", fmt.Errorf("hub: find the cache folder: %w; set HF_HUB_CACHE or HF_HOME", err)
	}
	return filepath.Join(home, ".cache", "huggingface", "hub"), nil
}

func homeDir(getenv func(string) string) (string, error) {
	if h := getenv("HOME"); h != "" {
		return h, nil
	}
	return os.UserHomeDir()
}

func expandHome(getenv func(string) string, p string) (string, error) {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p, nil
	}
	home, err := homeDir(getenv)
	if err != nil {
		return "", fmt.Errorf("hub: expand %s: %w", p, err)
	}
	return filepath.Join(home, p[1:]), nil
}

// RepoID maps a model name to its hub repository: gpt2, gpt2-medium, gpt2-large and
// gpt2-xl to openai-community/..., distilgpt2 to distilbert/distilgpt2; owner/name passes
// through. Anything else is an error wrapping ErrBadRepo.
func RepoID(name string) (string, error) {
	if id, ok := shortNames[name]; ok {
		return id, nil
	}
	owner, repo, ok := strings.Cut(name, "/")
	if !ok {
		return "", fmt.Errorf("hub: model %q: %w; want one of gpt2, gpt2-medium, gpt2-large, gpt2-xl, distilgpt2 or an owner/name hub repo", name, ErrBadRepo)
	}
	if !validPart(owner) || !validPart(repo) {
		return "", fmt.Errorf("hub: repo %q: %w; want owner/name with letters, digits, '-', '_' or '.' (no '--' or '..')", name, ErrBadRepo)
	}
	return name, nil
}

func validPart(s string) bool {
	return repoPart.MatchString(s) && !strings.Contains(s, "--") && !strings.Contains(s, "..") &&
		!strings.HasSuffix(s, ".") && !strings.HasSuffix(s, "-")
}

// RepoFolder is the cache folder name huggingface_hub uses for a model repo:
// "openai-community/gpt2" -> "models--openai-community--gpt2", "gpt2" -> "models--gpt2".
func RepoFolder(repo string) string {
	return "models--" + strings.ReplaceAll(repo, "/", "--")
}

// candidateRepos lists the repo folders a name may be cached under, canonical first:
// gpt2 -> openai-community/gpt2, gpt2 (the name before the hub renamed it), and back.
func candidateRepos(name string) ([]string, error) {
	id, err := RepoID(name)
	if err != nil {
		return nil, err
	}
	out := []string{id}
	if name != id {
		out = append(out, name)
	}
	for short, long := range shortNames {
		if long == id && short != name {
			out = append(out, short)
		}
	}
	return out, nil
}

// checkRevision returns rev, DefaultRevision for "", or an error for a
// revision that would escape refs/ or snapshots/.
func checkRevision(rev string) (string, error) {
	if rev == "" {
		return DefaultRevision, nil
	}
	if !validRelPath(rev) {
		return "", fmt.Errorf("hub: revision %q: want a branch, tag or commit hash", rev)
	}
	return rev, nil
}

// CheckRevision returns an error when rev (a branch, tag or commit) could
// not name a revision in the cache: one that would escape refs/ or
// snapshots/. The empty revision is DefaultRevision.
func CheckRevision(rev string) error {
	_, err := checkRevision(rev)
	return err
}

// validRelPath accepts a relative slash-separated path with no empty, . or ..
// parts: a revision or repo file name that stays inside its folder.
func validRelPath(p string) bool {
	if p == "" || strings.HasPrefix(p, "/") || strings.Contains(p, `\`) {
		return false
	}
	for _, part := range strings.Split(p, "/") {
		if part == "" || part == "." || part == ".." {
			return false
		}
	}
	return true
}

// NotCachedError says a model is absent from the cache and which command downloads it.
// It matches ErrNotCached with errors.Is, and ErrOffline too when Offline is set.
type NotCachedError struct {
	Name     string // the model name as the user gave it: gpt2, owner/name
	Revision string // branch, tag or commit
	CacheDir string // the cache searched
	Reason   string // what is missing, e.g. "no refs/main", "snapshot lacks config.json"
	Offline  bool   // HF_HUB_OFFLINE was set, so nothing was fetched
}

// Command is the exact command that downloads the missing model.
func (e *NotCachedError) Command() string {
	cmd := "gpt2bench download " + e.Name
	if e.Revision != "" && e.Revision != DefaultRevision {
		cmd += " --revision " + e.Revision
	}
	return cmd
}

// Error says what is missing, where, and the command that fetches it.
func (e *NotCachedError) Error() string {
	msg := fmt.Sprintf("hub: %s (revision %s) is not in the cache %s (%s); ", e.Name, e.Revision, e.CacheDir, e.Reason)
	if e.Offline {
		return msg + "offline mode (HF_HUB_OFFLINE is set), so nothing is downloaded; where the hub is reachable, run: " + e.Command() + " (with HF_HUB_OFFLINE unset)"
	}
	return msg + "download it with: " + e.Command()
}

// Is makes errors.Is(err, ErrNotCached) true, and errors.Is(err, ErrOffline) in offline mode.
func (e *NotCachedError) Is(target error) bool {
	return target == ErrNotCached || (e.Offline && target == ErrOffline)
}

// weightFiles are the checkpoints the loader reads, preferred first; a usable snapshot
// holds config.json and at least one of them.
var weightFiles = []string{"model.safetensors", "pytorch_model.bin"}

// LocalSnapshot finds the cached snapshot folder of repo at revision under cacheDir,
// without the network. revision is a branch or tag (read from refs/{revision}) or a
// commit hash; "" means main. repo may be a short name (gpt2) or owner/name; both the
// folder of the name as given and that of its canonical RepoID are tried, canonical first.
// A snapshot counts only if it holds config.json and model.safetensors or pytorch_model.bin.
// When absent it returns a *NotCachedError (errors.Is ErrNotCached) naming the command to run.
func LocalSnapshot(cacheDir, repo, revision string) (string, error) {
	revision, err := checkRevision(revision)
	if err != nil {
		return "", err
	}
	repos, err := candidateRepos(repo)
	if err != nil {
		return "", err
	}
	reason := "no " + RepoFolder(repos[0]) + " folder"
	for _, r := range repos {
		dir, why := snapshotIn(filepath.Join(cacheDir, RepoFolder(r)), revision)
		if why == "" {
			return dir, nil
		}
		if r == repos[0] || !strings.HasPrefix(why, "no ") {
			reason = why
		}
	}
	return "", &NotCachedError{Name: repo, Revision: revision, CacheDir: cacheDir, Reason: reason}
}

// snapshotIn returns the complete snapshot of revision in one repo folder, or why there is none.
func snapshotIn(repoDir, revision string) (dir, why string) {
	if _, err := os.Stat(repoDir); err != nil {
		return "", "no " + filepath.Base(repoDir) + " folder"
	}
	commit, err := resolveRef(repoDir, revision)
	if err != nil {
		return "", err.Error()
	}
	dir = filepath.Join(repoDir, "snapshots", commit)
	if missing := missingFiles(dir); missing != "" {
		return "", fmt.Sprintf("snapshot %s lacks %s", commit, missing)
	}
	return dir, ""
}

// resolveRef maps a revision to a commit: a commit hash is itself, else refs/{revision}.
func resolveRef(repoDir, revision string) (string, error) {
	if commitHash.MatchString(revision) {
		return revision, nil
	}
	b, err := os.ReadFile(filepath.Join(repoDir, "refs", filepath.FromSlash(revision)))
	if err != nil {
		return "", fmt.Errorf("no refs/%s in %s", revision, filepath.Base(repoDir))
	}
	commit := strings.TrimSpace(string(b))
	if !commitHash.MatchString(commit) {
		return "", fmt.Errorf("refs/%s in %s holds %q, not a commit hash", revision, filepath.Base(repoDir), commit)
	}
	return commit, nil
}

// missingFiles names what a snapshot folder lacks for the loader, or "" if it is usable.
// os.Stat follows the symlinks, so a link to a missing blob counts as missing.
func missingFiles(dir string) string {
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
		return "config.json"
	}
	for _, f := range weightFiles {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return ""
		}
	}
	return strings.Join(weightFiles, " and ")
}
