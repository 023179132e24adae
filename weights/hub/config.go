package hub

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultEndpoint is the hub used when HF_ENDPOINT is unset.
const DefaultEndpoint = "https://huggingface.co"

// Retry defaults, as ConfigFromEnv sets them.
const (
	DefaultMaxRetries = 5               // transient failures retried per request
	DefaultRetryBase  = 1 * time.Second // first back-off; doubled each retry, capped at maxBackoff
	maxBackoff        = 30 * time.Second
	// DefaultLockWait is how long a download waits for another process
	// fetching the same blob.
	DefaultLockWait = 30 * time.Minute
	// DefaultIdleTimeout is how long a transfer may receive nothing.
	DefaultIdleTimeout = 60 * time.Second
)

// ProgressFunc starts the progress display of one transfer: file is the repo path,
// total its size in bytes (-1 if unknown), done the bytes already on disk (a resume).
// The download writes every received chunk to the returned writer and closes it at the
// end of the transfer, whether it succeeded or not.
type ProgressFunc func(file string, total, done int64) io.WriteCloser

// Config holds what Download needs from the environment. ConfigFromEnv fills it;
// the zero value of every field but CacheDir is usable.
type Config struct {
	Endpoint   string        // hub base URL without trailing slash; "" means DefaultEndpoint
	Token      string        // sent as "Authorization: Bearer" to the endpoint's host only
	CacheDir   string        // huggingface_hub cache root, see CacheDir
	Offline    bool          // resolve from the cache only, never touch the network
	HTTPClient *http.Client  // nil means a client with header timeouts
	Progress   ProgressFunc  // nil means no progress display
	MaxRetries int           // retries of a transient failure (5xx, 429, network); <0 none, 0 DefaultMaxRetries
	RetryBase  time.Duration // first back-off, doubled each retry; 0 means DefaultRetryBase
	// IdleTimeout cancels a transfer that receives nothing for this long
	// (before the headers or between body reads), a transient failure
	// that is retried; 0 means DefaultIdleTimeout.
	IdleTimeout time.Duration
	UserAgent   string // "" means "gpt2bench"
	// LockWait bounds the wait for another process (transformers, a second
	// gpt2bench) downloading the same blob under its .locks/ lock; 0
	// means DefaultLockWait.
	LockWait time.Duration
}

// ConfigFromEnv builds a Config from HF_ENDPOINT (default https://huggingface.co), HF_TOKEN
// (or the legacy HUGGING_FACE_HUB_TOKEN), the cache folder of CacheDir, and HF_HUB_OFFLINE
// (1, true, yes or on). getenv is usually os.Getenv.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	cfg := Config{
		Endpoint:   DefaultEndpoint,
		MaxRetries: DefaultMaxRetries,
		RetryBase:  DefaultRetryBase,
	}
	if e := strings.TrimSpace(getenv("HF_ENDPOINT")); e != "" {
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return Config{}, fmt.Errorf("hub: HF_ENDPOINT=%q is not an http(s) URL; set it like https://huggingface.co or unset it", e)
		}
		cfg.Endpoint = strings.TrimRight(e, "/")
	}
	cfg.Token = strings.TrimSpace(getenv("HF_TOKEN"))
	if cfg.Token == "" {
		cfg.Token = strings.TrimSpace(getenv("HUGGING_FACE_HUB_TOKEN"))
	}
	dir, err := CacheDir(getenv)
	if err != nil {
		return Config{}, err
	}
	cfg.CacheDir = dir
	cfg.Offline = OfflineFromEnv(getenv)
	return cfg, nil
}

// isTrue reads a boolean environment variable the way huggingface_hub does.
// OfflineFromEnv reports whether HF_HUB_OFFLINE asks for offline mode (1,
// true, yes or on), as huggingface_hub reads it.
func OfflineFromEnv(getenv func(string) string) bool { return isTrue(getenv("HF_HUB_OFFLINE")) }

func isTrue(v string) bool {
	switch strings.ToUpper(strings.TrimSpace(v)) {
	case "1", "ON", "YES", "TRUE":
		return true
	}
	return false
}

func (c *Config) endpoint() string {
	if c.Endpoint == "" {
		return DefaultEndpoint
	}
	return strings.TrimRight(c.Endpoint, "/")
}

func (c *Config) client() *http.Client {
	if c.HTTPClient != nil {
		return c.HTTPClient
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = 60 * time.Second
	return &http.Client{Transport: t}
}

func (c *Config) idleTimeout() time.Duration {
	if c.IdleTimeout <= 0 {
		return DefaultIdleTimeout
	}
	return c.IdleTimeout
}

func (c *Config) lockWait() time.Duration {
	if c.LockWait > 0 {
		return c.LockWait
	}
	return DefaultLockWait
}

func (c *Config) retries() int {
	switch {
	case c.MaxRetries < 0:
		return 0
	case c.MaxRetries == 0:
		return DefaultMaxRetries
	}
	return c.MaxRetries
}

// backoff is the wait before retry n (0-based): RetryBase·2ⁿ, capped.
func (c *Config) backoff(n int) time.Duration {
	d := c.RetryBase
	if d <= 0 {
		d = DefaultRetryBase
	}
	for i := 0; i < n && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

func (c *Config) userAgent() string {
	if c.UserAgent == "" {
		return "gpt2bench"
	}
	return c.UserAgent
}
