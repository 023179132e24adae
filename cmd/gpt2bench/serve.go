package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	sched "github.com/gpt2bench/gpt2bench/engine"
	"github.com/gpt2bench/gpt2bench/server"
	"github.com/gpt2bench/gpt2bench/weights"
)

// serveFlags are gpt2bench serve's flags besides the model's.
type serveFlags struct {
	host            string
	port            int
	servedName      string
	apiKey          string
	maxQueue        int
	shutdownTimeout time.Duration
	logFormat       string
	maxBody         string
	maxConns        int
	readTimeout     time.Duration
	writeTimeout    time.Duration
}

func newServeCmd(a *app) *cobra.Command {
	var (
		mf modelFlags
		ef engineFlags
		f  serveFlags
	)
	cmd := &cobra.Command{
		Use:   "serve [flags]",
		Short: "Serve the model over OpenAI's HTTP API (completions, SSE streaming, Prometheus metrics)",
		Long: `serve runs the continuous-batching engine behind an OpenAI-compatible HTTP
API, the one vLLM, llama.cpp's server, TGI and Ollama speak, so that any
OpenAI client or benchmark drives it. It listens on loopback by default and
prints one line on stderr once ready:

  serving gpt2 at http://127.0.0.1:8000/v1

Routes: POST /v1/completions (prompt as text, texts, token ids or lists of
them; max_tokens, temperature, top_p, top_k, seed, stop, n, logprobs, echo,
stream with stream_options.include_usage, and vLLM's ignore_eos, min_tokens,
stop_token_ids, include_stop_str_in_output, return_tokens_as_token_ids),
GET /v1/models, POST /tokenize and /detokenize (vLLM's shapes), GET /health
and GET /metrics (Prometheus). /v1/chat/completions answers 400: GPT-2 has
no chat template. Every completion carries the engine's timings of the
request in "server_timing" and a Server-Timing header (trailer when
streaming).

SIGINT or SIGTERM drains: no new requests, the ones in flight finish for up
to --shutdown-timeout, the rest end with an error event; then it exits 0.`,
		Example: `  gpt2bench serve --model gpt2 --port 8000
  curl -s http://127.0.0.1:8000/v1/completions -H 'Content-Type: application/json' \
    -d '{"model": "gpt2", "prompt": "Hello, I am", "max_tokens": 8, "temperature": 0}'
  gpt2bench serve --port 0 --max-num-seqs 32 --kv-cache-memory 512MiB --api-key secret`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), a, &mf, &ef, &f)
		},
	}
	mf.register(cmd.Flags())
	ef.register(cmd.Flags())
	fs := cmd.Flags()
	fs.StringVar(&f.host, "host", "127.0.0.1", "address to listen on (loopback by default; 0.0.0.0 for every interface)")
	fs.IntVar(&f.port, "port", 8000, "port to listen on (0 picks a free one)")
	fs.StringVar(&f.servedName, "served-model-name", "", "the model's id in the API (default: gpt2, a directory's base name, or gpt2-random for the embedded default)")
	fs.StringVar(&f.apiKey, "api-key", "", "require 'Authorization: Bearer KEY' on /v1 routes")
	fs.IntVar(&f.maxQueue, "max-queue", sched.DefaultMaxQueue, "requests waiting at most; past it, 429")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 30*time.Second, "on SIGINT/SIGTERM, how long requests in flight may finish")
	fs.StringVar(&f.logFormat, "log-format", "text", "access log on stderr: text, json or off")
	fs.StringVar(&f.maxBody, "max-body-bytes", humanize.IBytes(server.DefaultMaxBodyBytes), "largest request body (`SIZE`); 413 past it")
	fs.IntVar(&f.maxConns, "max-connections", server.DefaultMaxConnections, "connections served at once")
	fs.DurationVar(&f.readTimeout, "read-timeout", server.DefaultReadTimeout, "time to read a request's headers and body")
	fs.DurationVar(&f.writeTimeout, "write-timeout", server.DefaultWriteTimeout, "time for each write of a response (each streamed event)")
	return cmd
}

// parseSize reads a byte size such as 512MiB or 2GB.
func parseSize(flag, s string) (int64, error) {
	n, err := humanize.ParseBytes(s)
	if err != nil || n == 0 || n > 1<<50 {
		return 0, usagef("--%s %q: want a size such as 512MiB or 2GB", flag, s)
	}
	return int64(n), nil
}

// servedName is the model's id in the API: gpt2-random for the embedded
// default, a directory's (or a file's directory's) base name, else the
// name given (a hub name).
func servedName(spec string, w *weights.Model) string {
	if w.Random && w.Format == "embedded" {
		return "gpt2-random"
	}
	if fi, err := os.Stat(spec); err == nil {
		p, _ := filepath.Abs(spec)
		if !fi.IsDir() {
			p = filepath.Dir(p)
		}
		return filepath.Base(p)
	}
	return spec
}

func runServe(ctx context.Context, a *app, mf *modelFlags, ef *engineFlags, f *serveFlags) error {
	// Validate every flag before any work.
	if err := mf.validate(); err != nil {
		return err
	}
	if mf.backend != "cpu" {
		return usagef("--backend %s: serve runs the engine's ragged steps on --backend cpu only", mf.backend)
	}
	if f.port < 0 || f.port > 65535 {
		return usagef("--port %d: want 0..65535 (0 picks a free port)", f.port)
	}
	if f.shutdownTimeout < 0 || f.readTimeout <= 0 || f.writeTimeout <= 0 {
		return usagef("--shutdown-timeout, --read-timeout and --write-timeout must be positive")
	}
	if f.maxConns < 1 || f.maxQueue < 1 {
		return usagef("--max-connections %d and --max-queue %d: want >= 1", f.maxConns, f.maxQueue)
	}
	ecfg, err := ef.config()
	if err != nil {
		return err
	}
	ecfg.MaxQueue = f.maxQueue
	maxBody, err := parseSize("max-body-bytes", f.maxBody)
	if err != nil {
		return err
	}
	var logger *slog.Logger
	switch f.logFormat {
	case "text":
		logger = slog.New(slog.NewTextHandler(a.stderr, nil))
	case "json":
		logger = slog.New(slog.NewJSONHandler(a.stderr, nil))
	case "off":
	default:
		return usagef("--log-format %q: want text, json or off", f.logFormat)
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", net.JoinHostPort(f.host, strconv.Itoa(f.port)))
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	opts := server.Options{ModelName: f.servedName, APIKey: f.apiKey, MaxBodyBytes: maxBody, MaxConnections: f.maxConns,
		ReadTimeout: f.readTimeout, WriteTimeout: f.writeTimeout, Logger: logger}
	if opts.ModelName == "" {
		opts.ModelName = "loading" // set below, once the model is known
	}
	srv, err := server.New(opts)
	if err != nil {
		ln.Close()
		return err
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }() // /health answers 503 while the model loads
	shutdown := func() error {
		sctx, cancel := context.WithTimeout(context.Background(), f.shutdownTimeout)
		defer cancel()
		err := srv.Shutdown(sctx)
		if errors.Is(err, context.DeadlineExceeded) {
			fmt.Fprintf(a.stderr, "gpt2bench: serve: --shutdown-timeout %v passed; the requests still running were cancelled\n", f.shutdownTimeout)
			return nil
		}
		return err
	}

	e, err := mf.open(ctx)
	if err != nil {
		shutdown()
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer e.Close()
	fmt.Fprintln(a.stderr, e.Describe())
	fmt.Fprintln(a.stderr, describeEngine(ecfg))
	if f.servedName == "" {
		srv.SetModelName(servedName(mf.model, e.W))
	}
	if err := srv.Start(e.cpu, ecfg); err != nil {
		shutdown()
		return err
	}
	fmt.Fprintf(a.stderr, "serving %s at http://%s/v1\n", srv.ModelName(), ln.Addr())
	select {
	case <-ctx.Done():
		fmt.Fprintln(a.stderr, "gpt2bench: serve: draining (no new requests; in-flight ones finish)")
		if err := shutdown(); err != nil {
			return fmt.Errorf("serve: shutdown: %w", err)
		}
		return nil
	case err := <-serveErr:
		shutdown()
		return fmt.Errorf("serve: %w", err)
	}
}
