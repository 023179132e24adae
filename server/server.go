package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/netutil"

	"github.com/gpt2bench/gpt2bench/engine"
	"github.com/gpt2bench/gpt2bench/model"
	"github.com/gpt2bench/gpt2bench/tokenizer"
)

// Defaults of Options.
const (
	DefaultMaxBodyBytes      = 4 << 20
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 60 * time.Second
	DefaultWriteTimeout      = 60 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultMaxConnections    = 1024
	DefaultMaxN              = 16
	DefaultMaxChoices        = 64
)

// Options configure a Server. Zero values take the defaults above.
type Options struct {
	// ModelName is the model's id in the API ("gpt2"); requests naming
	// another model get 404. Empty means "gpt2".
	ModelName string
	// APIKey, if set, is the bearer token every /v1 request must carry (401 otherwise).
	APIKey string
	// MaxBodyBytes caps a request body (413 past it).
	MaxBodyBytes int64
	// MaxHeaderBytes caps a request's headers (431 past it).
	MaxHeaderBytes int
	// ReadHeaderTimeout bounds reading a request's headers, ReadTimeout
	// its headers and body: a client that trickles them is cut off.
	ReadHeaderTimeout, ReadTimeout time.Duration
	// WriteTimeout bounds each write of a response (each SSE event): a
	// client that stops reading is cut off and its request cancelled.
	// Generation itself may take longer.
	WriteTimeout time.Duration
	// IdleTimeout closes keep-alive connections idle this long.
	IdleTimeout time.Duration
	// MaxConnections caps the connections served at once; more wait in
	// the listen backlog.
	MaxConnections int
	// MaxN caps n, and MaxChoices the choices of one request (prompts × n).
	MaxN, MaxChoices int
	// Logger receives the access log (one record per request) and
	// server events; nil discards them.
	Logger *slog.Logger
	// Tokenizer encodes text prompts and decodes tokens; nil loads GPT-2's.
	Tokenizer *tokenizer.Tokenizer
}

func (o Options) withDefaults() (Options, error) {
	if o.ModelName == "" {
		o.ModelName = "gpt2"
	}
	def := func(v *int64, d int64) {
		if *v == 0 {
			*v = d
		}
	}
	defInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.MaxBodyBytes, DefaultMaxBodyBytes)
	defInt(&o.MaxHeaderBytes, DefaultMaxHeaderBytes)
	defInt(&o.MaxConnections, DefaultMaxConnections)
	defInt(&o.MaxN, DefaultMaxN)
	defInt(&o.MaxChoices, DefaultMaxChoices)
	defDur(&o.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	defDur(&o.ReadTimeout, DefaultReadTimeout)
	defDur(&o.WriteTimeout, DefaultWriteTimeout)
	defDur(&o.IdleTimeout, DefaultIdleTimeout)
	switch {
	case o.MaxBodyBytes < 1:
		return o, fmt.Errorf("server: max body bytes %d, want >= 1", o.MaxBodyBytes)
	case o.MaxHeaderBytes < 1:
		return o, fmt.Errorf("server: max header bytes %d, want >= 1", o.MaxHeaderBytes)
	case o.MaxConnections < 1:
		return o, fmt.Errorf("server: max connections %d, want >= 1", o.MaxConnections)
	case o.MaxN < 1 || o.MaxChoices < 1:
		return o, fmt.Errorf("server: max n %d and max choices %d, want >= 1", o.MaxN, o.MaxChoices)
	case o.ReadHeaderTimeout < 0 || o.ReadTimeout < 0 || o.WriteTimeout < 0 || o.IdleTimeout < 0:
		return o, errors.New("server: timeouts must be >= 0")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Tokenizer == nil {
		t, err := tokenizer.New()
		if err != nil {
			return o, fmt.Errorf("server: %w", err)
		}
		o.Tokenizer = t
	}
	return o, nil
}

// Server states, in the order a server goes through them.
const (
	stateLoading  int32 = iota // no engine yet: /health 503, the API 503
	stateReady                 // serving
	stateDraining              // shutting down: /health 503, new requests 503
)

// Server is gpt2bench's OpenAI-compatible HTTP API over one engine. Make
// it with New (it answers 503 while loading), attach the engine with
// Start, serve with Serve, stop with Shutdown.
type Server struct {
	opts    Options
	tok     *tokenizer.Tokenizer
	metrics *metrics
	handler http.Handler
	created int64 // unix seconds, for /v1/models

	state atomic.Int32
	mu    sync.Mutex
	eng   *engine.Engine // nil while loading
	mcfg  model.Config
	hs    *http.Server
	name  atomic.Pointer[string] // the model's id in the API
	seq   atomic.Uint64          // request numbers for ids
	idTag string                 // random per server, so ids of two runs differ
}

// New returns a Server in the loading state.
func New(opts Options) (*Server, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	var tag [4]byte
	rand.Read(tag[:])
	s := &Server{opts: opts, tok: opts.Tokenizer, created: time.Now().Unix(), idTag: hex.EncodeToString(tag[:])}
	s.name.Store(&opts.ModelName)
	s.metrics = newMetrics(s)
	s.handler = s.routes()
	s.hs = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: opts.ReadHeaderTimeout,
		ReadTimeout:       opts.ReadTimeout,
		IdleTimeout:       opts.IdleTimeout,
		MaxHeaderBytes:    opts.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// Start builds the engine on m with cfg (its OnStep also feeds the
// server's metrics) and makes the server ready.
func (s *Server) Start(m *model.Model, cfg engine.Config) error {
	user := cfg.OnStep
	cfg.OnStep = func(st engine.StepStats) {
		s.metrics.observeStep(st)
		if user != nil {
			user(st)
		}
	}
	e, err := engine.New(m, cfg)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.eng, s.mcfg = e, m.Config()
	s.mu.Unlock()
	if !s.state.CompareAndSwap(stateLoading, stateReady) {
		e.Close()
		return errors.New("server: shut down before the engine started")
	}
	return nil
}

// ModelName returns the model's id in the API.
func (s *Server) ModelName() string { return *s.name.Load() }

// SetModelName changes the model's id in the API (before Start, once the
// model's name is known).
func (s *Server) SetModelName(name string) { s.name.Store(&name) }

// Engine returns the server's engine (nil while loading).
func (s *Server) Engine() *engine.Engine {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.eng
}

// Handler returns the server's HTTP handler (every route, with the access
// log, authentication and HTTP metrics).
func (s *Server) Handler() http.Handler { return s.handler }

// Serve accepts connections on ln (at most Options.MaxConnections at
// once) until Shutdown; it returns nil after a Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	err := s.hs.Serve(netutil.LimitListener(ln, s.opts.MaxConnections))
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown drains the server: /health and new requests answer 503, the
// listener closes, requests in flight finish until ctx ends, and the ones
// left are cancelled (streams get a final error event). It closes the
// engine and returns once every handler has returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.state.Store(stateDraining)
	httpDone := make(chan error, 1)
	go func() { httpDone <- s.hs.Shutdown(context.Background()) }()
	var derr error
	if e := s.Engine(); e != nil {
		derr = e.Drain(ctx)
		if derr != nil {
			derr = fmt.Errorf("server: drain: requests still running were cancelled: %w", derr)
		}
	}
	// The engine is closed: handlers return within a write timeout.
	grace := time.NewTimer(s.opts.WriteTimeout + time.Second)
	defer grace.Stop()
	select {
	case err := <-httpDone:
		return errors.Join(derr, err)
	case <-grace.C:
		return errors.Join(derr, s.hs.Close())
	}
}

// errLoading is the answer of the API while the model loads.
func errLoading() *apiError {
	return errorf(http.StatusServiceUnavailable, typeUnavailable, "loading", "the model is still loading; retry shortly")
}

// ready returns the engine, or an error while loading or draining.
func (s *Server) ready() (*engine.Engine, *apiError) {
	switch s.state.Load() {
	case stateLoading:
		return nil, errLoading()
	case stateDraining:
		return nil, errorf(http.StatusServiceUnavailable, typeUnavailable, "draining", "the server is shutting down and takes no new requests")
	}
	return s.Engine(), nil
}

// routes builds the mux.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	api := func(pattern, method string, h http.HandlerFunc, auth bool) {
		var hh http.Handler = h
		if auth {
			hh = s.auth(hh)
		}
		mux.Handle(pattern, s.instrument(pattern, method, hh))
	}
	api("/v1/completions", http.MethodPost, s.handleCompletions, true)
	api("/v1/chat/completions", http.MethodPost, s.handleChat, true)
	api("/v1/models", http.MethodGet, s.handleModels, true)
	api("/tokenize", http.MethodPost, s.handleTokenize, false)
	api("/detokenize", http.MethodPost, s.handleDetokenize, false)
	api("/health", http.MethodGet, s.handleHealth, false)
	api("/metrics", http.MethodGet, s.metrics.handler().ServeHTTP, false)
	api("/", "", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errorf(http.StatusNotFound, typeInvalid, "not_found", "no route %s %s; the API is under /v1 (completions, chat/completions, models), plus /tokenize, /detokenize, /health, /metrics", r.Method, r.URL.Path))
	}, false)
	return mux
}

// auth checks the bearer token when Options.APIKey is set.
func (s *Server) auth(h http.Handler) http.Handler {
	if s.opts.APIKey == "" {
		return h
	}
	want := []byte("Bearer " + s.opts.APIKey)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			writeError(w, errorf(http.StatusUnauthorized, typeAuth, "invalid_api_key", "missing or wrong API key; send the header 'Authorization: Bearer KEY' with the server's --api-key"))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// reqInfo is what a handler tells the access log about its request.
type reqInfo struct {
	id     string
	attrs  []slog.Attr
	status int
	bytes  int64
}

type infoKey struct{}

// info returns the request's reqInfo (set by instrument).
func info(r *http.Request) *reqInfo {
	if ri, ok := r.Context().Value(infoKey{}).(*reqInfo); ok {
		return ri
	}
	return &reqInfo{}
}

// recorder captures the status and size of a response; Unwrap lets
// http.ResponseController reach the connection (Flush, deadlines).
type recorder struct {
	http.ResponseWriter
	ri *reqInfo
}

func (w *recorder) WriteHeader(code int) {
	if w.ri.status == 0 {
		w.ri.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.ri.status == 0 {
		w.ri.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.ri.bytes += int64(n)
	return n, err
}

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// instrument gives a request its id (X-Request-Id, echoed), checks the
// method, counts the response in the HTTP metrics and writes the access log.
func (s *Server) instrument(route, method string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 128 || strings.ContainsFunc(id, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
			id = fmt.Sprintf("%s-%d", s.idTag, s.seq.Add(1))
		}
		ri := &reqInfo{id: id}
		w.Header().Set("X-Request-Id", id)
		rec := &recorder{ResponseWriter: w, ri: ri}
		r = r.WithContext(context.WithValue(r.Context(), infoKey{}, ri))
		if method != "" && r.Method != method {
			rec.Header().Set("Allow", method)
			writeError(rec, errorf(http.StatusMethodNotAllowed, typeInvalid, "method_not_allowed", "%s %s: use %s", r.Method, r.URL.Path, method))
		} else {
			h.ServeHTTP(rec, r)
		}
		if ri.status == 0 {
			ri.status = http.StatusOK
		}
		s.metrics.http.WithLabelValues(route, fmt.Sprint(ri.status)).Inc()
		if route == "/metrics" || route == "/health" {
			return // polled: not worth a log line each
		}
		attrs := append([]slog.Attr{
			slog.String("id", id), slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", ri.status), slog.Int64("bytes", ri.bytes), slog.String("remote", r.RemoteAddr),
			slog.Float64("duration_ms", ms(time.Since(t0))),
		}, ri.attrs...)
		s.opts.Logger.LogAttrs(context.Background(), slog.LevelInfo, "request", attrs...)
	})
}

// ms converts a duration to float milliseconds.
func ms(d time.Duration) float64 { return float64(d) / 1e6 }
