package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signalContext()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr) // 0 ok, 1 failure, 2 usage, 128+n signal n
	stop()
	os.Exit(code)
}

// signalContext returns a context cancelled, with a *signalError cause, by
// the first SIGINT (Ctrl-C) or SIGTERM (timeout, kill, a CI runner): both
// stop the work the same way, and bench still writes its report. A second
// signal gets the default action (the process ends at once).
func signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			signal.Reset(os.Interrupt, syscall.SIGTERM)
			cancel(&signalError{s})
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel(nil)
	}
}
