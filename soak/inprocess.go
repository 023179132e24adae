package soak

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"golang.org/x/net/netutil"

	"github.com/gpt2bench/gpt2bench/engine"
	"github.com/gpt2bench/gpt2bench/model"
	"github.com/gpt2bench/gpt2bench/server"
	"github.com/gpt2bench/gpt2bench/tokenizer"
)

// InProcess is gpt2bench's OpenAI-compatible server (package server over a
// continuous-batching engine) serving on a loopback port inside this
// process, so that a soak drives it over real HTTP, reads its resources
// from the runtime, and can drain and restart it.
type InProcess struct {
	m     *model.Model
	ecfg  engine.Config
	sopts server.Options
	addr  string // host:port, kept across restarts

	mu   sync.Mutex
	srv  *server.Server
	hs   *http.Server
	done chan error // Serve's result

	// onRequest, when set, runs at the start of every POST /v1/completions
	// (tests: a deliberately leaking server).
	onRequest func()
}

// StartInProcess starts a server for m with engine configuration ecfg and
// server options sopts on 127.0.0.1 at a free port.
func StartInProcess(m *model.Model, ecfg engine.Config, sopts server.Options) (*InProcess, error) {
	if sopts.Tokenizer == nil { // one for every restart: a new server would load its own
		tok, err := tokenizer.New()
		if err != nil {
			return nil, fmt.Errorf("soak: %w", err)
		}
		sopts.Tokenizer = tok
	}
	p := &InProcess{m: m, ecfg: ecfg, sopts: sopts, addr: "127.0.0.1:0"}
	if err := p.start(); err != nil {
		return nil, err
	}
	return p, nil
}

// start listens on p.addr and serves a new server and engine.
func (p *InProcess) start() error {
	srv, err := server.New(p.sopts)
	if err != nil {
		return err
	}
	if err := srv.Start(p.m, p.ecfg); err != nil {
		return fmt.Errorf("soak: start the engine: %w", err)
	}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		srv.Engine().Close()
		return fmt.Errorf("soak: listen on %s: %w", p.addr, err)
	}
	h := srv.Handler()
	if p.onRequest != nil {
		inner := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && r.URL.Path == "/v1/completions" {
				p.onRequest()
			}
			inner.ServeHTTP(w, r)
		})
	}
	// the settings of server.Server's own http.Server (its Handler is served here so a test can wrap it)
	hs := &http.Server{Handler: h, ReadHeaderTimeout: server.DefaultReadHeaderTimeout, ReadTimeout: server.DefaultReadTimeout,
		IdleTimeout: server.DefaultIdleTimeout, MaxHeaderBytes: server.DefaultMaxHeaderBytes}
	if p.sopts.ReadTimeout > 0 {
		hs.ReadTimeout = p.sopts.ReadTimeout
	}
	maxConns := p.sopts.MaxConnections
	if maxConns == 0 {
		maxConns = server.DefaultMaxConnections
	}
	done := make(chan error, 1)
	go func() {
		err := hs.Serve(netutil.LimitListener(ln, maxConns))
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		done <- err
	}()
	p.mu.Lock()
	p.srv, p.hs, p.done, p.addr = srv, hs, done, ln.Addr().String()
	p.mu.Unlock()
	return nil
}

// BaseURL returns the API root, http://127.0.0.1:PORT/v1.
func (p *InProcess) BaseURL() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return "http://" + p.addr + "/v1"
}

// ModelName returns the model's id in the API.
func (p *InProcess) ModelName() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.srv.ModelName()
}

// PID returns this process's id: the server runs in it.
func (p *InProcess) PID() int { return os.Getpid() }

// Engine returns the engine serving now (the old one while a restart drains).
func (p *InProcess) Engine() *engine.Engine {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.srv.Engine()
}

// shutdown drains the current server for at most drain: /health and new
// requests answer 503, requests in flight finish (the rest are cancelled
// with an error event), then the listener and connections close.
func (p *InProcess) shutdown(drain time.Duration) error {
	p.mu.Lock()
	srv, hs, done := p.srv, p.hs, p.done
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	derr := srv.Shutdown(ctx) // engine drained and closed; its own http.Server never served
	if errors.Is(derr, context.DeadlineExceeded) {
		derr = fmt.Errorf("soak: drain took longer than %v; the requests left were cancelled", drain)
	}
	hctx, hcancel := context.WithTimeout(context.Background(), server.DefaultWriteTimeout+time.Second)
	defer hcancel()
	herr := hs.Shutdown(hctx)
	if herr != nil {
		herr = errors.Join(herr, hs.Close())
	}
	return errors.Join(derr, herr, <-done)
}

// Restart drains the server (for at most drain) and starts a new one, with
// a new engine, on the same port. Requests sent meanwhile get 503 or a
// refused connection.
func (p *InProcess) Restart(drain time.Duration) error {
	serr := p.shutdown(drain)
	if err := p.start(); err != nil {
		return errors.Join(serr, err)
	}
	return serr
}

// Close drains the server for at most drain and stops it.
func (p *InProcess) Close(drain time.Duration) error { return p.shutdown(drain) }
