package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// Exit codes.
const (
	exitOK      = 0 // success
	exitFailure = 1 // runtime error, verify mismatch, targets missed
	exitUsage   = 2 // unknown subcommand, bad flag or value
	// exitInterrupted follows Ctrl-C (128 + SIGINT, as shells report it);
	// bench still writes its report, marked incomplete.
	exitInterrupted = 130
)

// app is what every subcommand writes to and reads from; tests build one
// around buffers.
type app struct {
	stdout, stderr io.Writer
	// stderrTTY is true when stderr is a terminal: progress bars only then.
	stderrTTY bool
	getenv    func(string) string
	args      []string // the full command line, for reports

	// Go-native profiling of the whole command (every subcommand).
	cpuProfile, memProfile, traceFile string
	profiles                          profileFiles
}

// usageError marks an error as the user's: a bad flag, value or argument.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns a usageError with a formatted message.
func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// run is main without the process: it parses args, runs one subcommand and
// returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a := &app{stdout: stdout, stderr: stderr, getenv: os.Getenv, args: append([]string{"gpt2bench"}, args...)}
	if f, ok := stderr.(*os.File); ok {
		a.stderrTTY = term.IsTerminal(int(f.Fd()))
	}
	root := newRootCmd(a)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if perr := a.stopProfiles(); err == nil {
		err = perr
	}
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "gpt2bench: %v\n", err)
	var ue usageError
	var code interface{ ExitCode() int }
	switch {
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "run 'gpt2bench --help' for usage")
		return exitUsage
	case errors.As(err, &code):
		return code.ExitCode()
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return exitInterrupted // Ctrl-C
	}
	return exitFailure
}

func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "gpt2bench",
		Short: "A pure-Go GPT-2 inference engine with built-in profiling and benchmarking",
		Long: `gpt2bench runs GPT-2 (gpt2, gpt2-medium, -large, -xl, distilgpt2) in pure Go
and measures it: latency, memory and throughput phases, per-op profiles
against the machine's limits, and reports that compare across runs.

With no subcommand it runs a quick benchmark of every phase on the model it
finds (else the embedded default: gpt2's architecture with random weights).`,
		Example: `  gpt2bench                                   # quick benchmark, all phases
  gpt2bench generate --model gpt2 --prompt "Hello, I'm a language model," -n 40
  gpt2bench verify --model testdata/tiny-gpt2 --reference testdata/tiny-gpt2/reference.json
  gpt2bench bench --phases latency --input-lengths 128,512 --output-len 64
  gpt2bench download gpt2`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q for gpt2bench", args[0])
			}
			return nil
		},
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return a.startProfiles()
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDefault(cmd.Context(), a)
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&a.cpuProfile, "cpuprofile", "", "write a CPU profile (pprof) of the command to `FILE`")
	pf.StringVar(&a.memProfile, "memprofile", "", "write a heap profile (pprof) at the end of the command to `FILE`")
	pf.StringVar(&a.traceFile, "trace", "", "write a runtime/trace execution trace of the command to `FILE`")
	root.AddCommand(
		newBenchCmd(a),
		newProfileCmd(a),
		newCalibrateCmd(a),
		newGenerateCmd(a),
		newTokenizeCmd(a),
		newDetokenizeCmd(a),
		newVerifyCmd(a),
		newInspectCmd(a),
		newPerplexityCmd(a),
		newDownloadCmd(a),
		newExportCmd(a),
		newReportCmd(a),
		newCompareCmd(a),
		newVersionCmd(a),
	)
	for _, c := range root.Commands() {
		c.SilenceUsage, c.SilenceErrors = true, true
		c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	}
	return root
}

// profileFiles are the open outputs of --cpuprofile and --trace.
type profileFiles struct {
	cpu, tr *os.File
}

func (a *app) startProfiles() error {
	if a.cpuProfile != "" {
		f, err := os.Create(a.cpuProfile)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		a.profiles.cpu = f
	}
	if a.traceFile != "" {
		f, err := os.Create(a.traceFile)
		if err != nil {
			return fmt.Errorf("--trace: %w", err)
		}
		if err := trace.Start(f); err != nil {
			f.Close()
			return fmt.Errorf("--trace: %w", err)
		}
		a.profiles.tr = f
	}
	return nil
}

func (a *app) stopProfiles() error {
	var errs []error
	if a.profiles.cpu != nil {
		pprof.StopCPUProfile()
		errs = append(errs, a.profiles.cpu.Close())
		a.profiles.cpu = nil
	}
	if a.profiles.tr != nil {
		trace.Stop()
		errs = append(errs, a.profiles.tr.Close())
		a.profiles.tr = nil
	}
	if a.memProfile != "" {
		f, err := os.Create(a.memProfile)
		if err != nil {
			errs = append(errs, fmt.Errorf("--memprofile: %w", err))
		} else {
			runtime.GC() // up-to-date statistics
			errs = append(errs, pprof.WriteHeapProfile(f), f.Close())
		}
	}
	return errors.Join(errs...)
}
