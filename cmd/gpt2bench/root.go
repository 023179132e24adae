package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// Exit codes.
const (
	exitOK      = 0 // success
	exitFailure = 1 // runtime error, verify mismatch, targets missed
	exitUsage   = 2 // unknown subcommand, bad flag or value
	// exitInterrupted follows Ctrl-C (128 + SIGINT, as shells report it);
	// bench still writes its report, marked incomplete. SIGTERM stops the
	// work the same way and exits 143 (128 + SIGTERM).
	exitInterrupted = 130
)

// signalError is the cause of a context cancelled by a signal.
type signalError struct{ sig os.Signal }

func (e *signalError) Error() string { return "interrupted by " + signalName(e.sig) }

// ExitCode is 128 + the signal's number, as shells report it.
func (e *signalError) ExitCode() int {
	if s, ok := e.sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return exitInterrupted
}

// signalName names SIGINT as the key that sends it.
func signalName(s os.Signal) string {
	if s == os.Interrupt {
		return "Ctrl-C (SIGINT)"
	}
	if s == syscall.SIGTERM {
		return "SIGTERM"
	}
	return s.String()
}

// interruptCode is the exit code of work stopped because ctx was
// cancelled: 128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM).
func interruptCode(ctx context.Context) int {
	var se *signalError
	if errors.As(context.Cause(ctx), &se) {
		return se.ExitCode()
	}
	return exitInterrupted
}

// app is what every subcommand writes to and reads from; tests build one
// around buffers.
type app struct {
	stdin          io.Reader // tokenize and detokenize read it when given no argument or "-"
	stdinTTY       bool      // stdin is a terminal: never wait on it
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
// returns the exit code. Standard input is the process's.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runIO(ctx, args, os.Stdin, stdout, stderr)
}

// runIO is run with standard input given.
func runIO(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv, args: append([]string{"gpt2bench"}, args...)}
	if f, ok := stderr.(*os.File); ok {
		a.stderrTTY = term.IsTerminal(int(f.Fd()))
	}
	if f, ok := stdin.(*os.File); ok {
		a.stdinTTY = term.IsTerminal(int(f.Fd()))
	}
	root := newRootCmd(a)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := execute(ctx, root)
	if perr := a.stopProfiles(); err == nil {
		err = perr
	}
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "gpt2bench: %v\n", err)
	var ue usageError
	var code interface{ ExitCode() int }
	var pe *panicError
	switch {
	case errors.As(err, &pe):
		fmt.Fprintf(stderr, "%s\nthis is a bug in gpt2bench; please report it with the lines above\n", pe.stack)
		return exitFailure
	case errors.As(err, &ue):
		name := "gpt2bench"
		if c, _, ferr := root.Find(args); ferr == nil && c != root {
			name = c.CommandPath()
		}
		fmt.Fprintf(stderr, "run '%s --help' for usage\n", name)
		return exitUsage
	case errors.As(err, &code):
		return code.ExitCode()
	case ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.Cause(ctx))):
		return interruptCode(ctx) // Ctrl-C or SIGTERM
	}
	return exitFailure
}

// panicError is a panic of the command's goroutine, recovered so that it
// exits 1 (a failure) rather than 2, which means a usage error here.
type panicError struct {
	v     any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprintf("internal error: %v", e.v) }

// execute runs root, turning a panic into a *panicError.
func execute(ctx context.Context, root *cobra.Command) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &panicError{v: v, stack: debug.Stack()}
		}
	}()
	return root.ExecuteContext(ctx)
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
  gpt2bench bench --phases latency --input-len 128,512 --output-len 64
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
			if a.memProfile != "" {
				if err := checkWritable(a.memProfile); err != nil {
					return usagef("--memprofile: %w; pass a writable path", err)
				}
			}
			return a.startProfiles()
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDefault(cmd.Context(), a)
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.Version = versionLine()
	root.SetVersionTemplate("{{.Version}}\n")
	pf := root.PersistentFlags()
	pf.StringVar(&a.cpuProfile, "cpuprofile", "", "write a CPU profile (pprof) of the command to `FILE`")
	pf.StringVar(&a.memProfile, "memprofile", "", "write a heap profile (pprof) at the end of the command to `FILE`")
	pf.StringVar(&a.traceFile, "trace", "", "write a runtime/trace execution trace of the command to `FILE`")
	root.AddCommand(
		newBenchCmd(a),
		newLoadCmd(a),
		newProfileCmd(a),
		newCalibrateCmd(a),
		newGenerateCmd(a),
		newTokenizeCmd(a),
		newDetokenizeCmd(a),
		newVerifyCmd(a),
		newServeCmd(a),
		newSoakCmd(a),
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
		if args := c.Args; args != nil { // a wrong argument count is a usage error
			c.Args = func(cmd *cobra.Command, a []string) error {
				if err := args(cmd, a); err != nil {
					return usageError{err}
				}
				return nil
			}
		}
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
			return usagef("--cpuprofile: %w; pass a writable path", err)
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
			return usagef("--trace: %w; pass a writable path", err)
		}
		if err := trace.Start(f); err != nil {
			f.Close()
			return fmt.Errorf("--trace: %w", err)
		}
		a.profiles.tr = f
	}
	return nil
}

// aliasFlags makes each old flag name in aliases (old -> new) an alias of
// its new name: accepted on the command line, absent from the help. One
// idea has one flag name, type and meaning across the commands; the old
// names keep scripts working.
func aliasFlags(fs *pflag.FlagSet, aliases map[string]string) {
	prev := fs.GetNormalizeFunc()
	fs.SetNormalizeFunc(func(f *pflag.FlagSet, name string) pflag.NormalizedName {
		if n, ok := aliases[name]; ok {
			name = n
		}
		return prev(f, name)
	})
}

// checkWritable checks a file can be created at path (it is not left behind
// when it did not exist).
func checkWritable(path string) error {
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	f.Close()
	if errors.Is(statErr, os.ErrNotExist) {
		os.Remove(path)
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

// intList is a comma-separated int-list flag that, unlike pflag's
// IntSlice, takes an empty value or "none" for the empty list, so that
// `--continuous=` or `--continuous none` turns a default list off. As with
// IntSlice, the first value replaces the default and later ones append.
type intList struct {
	p   *[]int
	set bool
}

// newIntList returns an intList that stores into p, which starts as def.
func newIntList(p *[]int, def []int) *intList {
	*p = slices.Clone(def)
	return &intList{p: p}
}

// Set implements pflag.Value.
func (l *intList) Set(s string) error {
	var v []int
	if s = strings.TrimSpace(s); s != "" && s != "none" {
		for f := range strings.SplitSeq(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				return fmt.Errorf("%q is not an integer: give a comma-separated list, or none", f)
			}
			v = append(v, n)
		}
	}
	if l.set {
		*l.p = append(*l.p, v...)
	} else {
		*l.p, l.set = v, true
	}
	return nil
}

// String implements pflag.Value.
func (l *intList) String() string { return "[" + joinInts(*l.p) + "]" }

// Type implements pflag.Value: an int slice, as pflag's IntSlice.
func (l *intList) Type() string { return "intSlice" }
