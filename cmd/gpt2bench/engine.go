package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"github.com/spf13/pflag"

	"github.com/gpt2bench/gpt2bench/model"
	"github.com/gpt2bench/gpt2bench/tensor"
	"github.com/gpt2bench/gpt2bench/weights"
	"github.com/gpt2bench/gpt2bench/weights/hub"
)

// modelFlags are the flags of every subcommand that runs a model.
type modelFlags struct {
	model    string // --model: "" or "default", a directory, a file, a hub name
	config   string // --config: config.json for a bare weights file
	revision string // --revision of a hub model in the cache
	dtype    string // --dtype: f32, f16, int8, q4
	kvDtype  string // --kv-dtype: auto, f32, f16
	threads  int    // --threads: cores per op
	backend  string // --backend: cpu, gonum, reference or cuda
}

func (f *modelFlags) register(fs *pflag.FlagSet) {
	fs.StringVarP(&f.model, "model", "m", "", "model: a Hugging Face directory, a .safetensors/.bin file, a hub name in the HF cache (gpt2, gpt2-medium, ...), or empty for the embedded default (random weights)")
	fs.StringVar(&f.config, "config", "", "config.json to use with a bare weights `file`")
	fs.StringVar(&f.revision, "revision", "main", "revision of a hub model in the cache")
	fs.StringVar(&f.dtype, "dtype", "f32", "weight storage: f32, f16, int8 or q4 (converted once at load)")
	fs.StringVar(&f.kvDtype, "kv-dtype", "auto", "KV cache storage of the cpu backend: f32, f16 (half the bytes per cached position, rounded once when stored) or auto (f16 with --dtype f16/int8/q4, whose verify tolerances it stays within; f32 with f32 weights)")
	fs.IntVar(&f.threads, "threads", 0, "cores each op is split across (0 = all)")
	fs.StringVar(&f.backend, "backend", "cpu", "backend: cpu (gpt2bench's kernels), gonum (float32, gonum's BLAS), reference (float64 gonum/mat, for reading), or cuda (binaries built with -tags cuda)")
}

// maxThreadsPerCore bounds --threads: more workers than this per core only
// queue behind each other.
const maxThreadsPerCore = 4

// validate checks the flags before any work.
func (f *modelFlags) validate() error {
	if _, err := tensor.ParseDType(f.dtype); err != nil {
		return usagef("--dtype: %v", err)
	}
	kvdt, err := f.kvDType()
	if err != nil {
		return usagef("--kv-dtype: %v", err)
	}
	if kvdt != tensor.F32 && f.backend != "cpu" {
		return usagef("--kv-dtype %s: the %s backend keeps its own cache; a half KV cache is the cpu backend's", f.kvDtype, f.backend)
	}
	if maxT := maxThreadsPerCore * runtime.NumCPU(); f.threads < 0 || f.threads > maxT {
		return usagef("--threads %d: want 0..%d (0 = all %d cores; at most %d threads per core)", f.threads, maxT, runtime.NumCPU(), maxThreadsPerCore)
	}
	switch f.backend {
	case "cpu", "cuda":
	case "gonum", "reference":
		if dt, _ := tensor.ParseDType(f.dtype); dt != tensor.F32 {
			return usagef("--backend %s runs float32 weights only (the reference widens them to float64); drop --dtype %s or use --backend cpu", f.backend, f.dtype)
		}
		if f.threads != 0 {
			return usagef("--threads sets the cpu backend's worker pool; --backend %s runs gonum's GEMM on GOMAXPROCS goroutines (set GOMAXPROCS=%d instead)", f.backend, f.threads)
		}
	default:
		return usagef("--backend %q: want cpu, gonum, reference or cuda", f.backend)
	}
	if err := hub.CheckRevision(f.revision); err != nil {
		return usagef("--revision: %v", err)
	}
	return nil
}

// kvDType resolves --kv-dtype: auto is f16 for reduced-precision weights
// (a half cache moves logits by less than their verify tolerance) and f32
// for float32 weights (whose tolerance, 1e-3 against transformers, is
// tighter than a half cache's rounding) or any backend but cpu.
func (f *modelFlags) kvDType() (tensor.DType, error) {
	switch f.kvDtype {
	case "auto", "":
		if dt, err := tensor.ParseDType(f.dtype); err == nil && dt != tensor.F32 && f.backend == "cpu" {
			return tensor.F16, nil
		}
		return tensor.F32, nil
	case "f32", "float32", "fp32":
		return tensor.F32, nil
	case "f16", "float16", "fp16", "half":
		return tensor.F16, nil
	}
	return 0, fmt.Errorf("%q: want auto, f32 or f16", f.kvDtype)
}

// engine is a loaded model ready to run on the chosen backend.
type engine struct {
	W     *weights.Model // the checkpoint as loaded
	DType tensor.DType
	cpu   *model.Model      // the CPU model (backend cpu)
	gonum *model.GonumModel // float32 through gonum's BLAS (backend gonum)
	ref   *model.RefModel   // float64 gonum/mat (backend reference)
	gpu   gpuModel          // the CUDA model (backend cuda)
	flags modelFlags
}

// gpuModel is what backend_cuda.go provides; nil in a build without cuda.
type gpuModel interface {
	NewSession(batch, capacity int) (model.Backend, error)
	Info() map[string]string
	Close() error
}

// open loads the model named by the flags and prepares the backend.
func (f *modelFlags) open(ctx context.Context) (*engine, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	dt, _ := tensor.ParseDType(f.dtype)
	w, err := weights.Load(ctx, f.model, weights.Options{ConfigPath: f.config, Revision: f.revision})
	if err != nil {
		return nil, err
	}
	e := &engine{W: w, DType: dt, flags: *f}
	switch f.backend {
	case "cuda":
		if e.gpu, err = openCUDA(w, dt); err != nil {
			return nil, err
		}
	case "gonum":
		if e.gonum, err = model.NewGonum(w.Config, w.Params); err != nil {
			return nil, fmt.Errorf("load %s: %w", w.Name, err)
		}
	case "reference":
		if e.ref, err = model.NewRef(w.Config, w.Params); err != nil {
			return nil, fmt.Errorf("load %s: %w", w.Name, err)
		}
	default:
		// The float32 source is dropped as it is converted or packed, so
		// both are never in memory at once (float32Params reloads it).
		kvdt, _ := f.kvDType()
		if e.cpu, err = model.New(w.Config, w.Params, model.Options{DType: dt, KVDType: kvdt, Threads: f.threads, ConsumeSource: true}); err != nil {
			return nil, fmt.Errorf("load %s: %w", w.Name, err)
		}
	}
	return e, nil
}

// float32Params returns the checkpoint's float32 weights: e.W.Params, or
// the checkpoint loaded again when building the cpu model consumed them
// (converted or packed, model.Options.ConsumeSource).
func (e *engine) float32Params(ctx context.Context) (*weights.Model, error) {
	if e.W.Params.WTE != nil {
		return e.W, nil
	}
	w, err := weights.Load(ctx, e.flags.model, weights.Options{ConfigPath: e.flags.config, Revision: e.flags.revision})
	if err != nil {
		return nil, fmt.Errorf("reload the float32 weights: %w", err)
	}
	return w, nil
}

// float32Model returns e's model in float32, the reference of a reduced
// dtype: e itself for f32, else the checkpoint loaded again (the source
// of the conversion was released). Close the result when it is not e's.
func (e *engine) float32Model(ctx context.Context) (*model.Model, error) {
	if e.DType == tensor.F32 && e.cpu != nil {
		return e.cpu, nil
	}
	w, err := e.float32Params(ctx)
	if err != nil {
		return nil, err
	}
	return model.New(w.Config, w.Params, model.Options{Threads: e.flags.threads})
}

// NewSession returns a backend for batch sequences of up to capacity
// positions (0 = n_positions).
func (e *engine) NewSession(batch, capacity int) (model.Backend, error) {
	switch {
	case e.gpu != nil:
		return e.gpu.NewSession(batch, capacity)
	case e.gonum != nil:
		return e.gonum.NewSession(batch, capacity)
	case e.ref != nil:
		return e.ref.NewSession(batch, capacity)
	}
	return e.cpu.NewSession(batch, capacity)
}

// Threads returns the goroutines a CPU backend splits an op across: the
// cpu backend's pool, or GOMAXPROCS for gonum's GEMM (gonum and reference).
func (e *engine) Threads() int {
	if e.cpu != nil {
		return e.cpu.Threads()
	}
	return runtime.GOMAXPROCS(0)
}

// dtypeName is the weights' storage as Describe and reports name it.
func (e *engine) dtypeName() string {
	if e.ref != nil {
		return "f32 (as float64)"
	}
	return e.DType.String()
}

// Config returns the architecture.
func (e *engine) Config() model.Config { return e.W.Config }

// Describe is the one-line description printed before work, saying when
// the weights are random.
func (e *engine) Describe() string {
	c := e.W.Config
	s := fmt.Sprintf("model %s: %d layers, %d heads, n_embd %d, vocab %d, context %d, %.1fM params, %s weights on %s",
		e.W.Name, c.NLayer, c.NHead, c.NEmbd, c.VocabSize, c.NPositions, float64(c.NumParams())/1e6, e.dtypeName(), e.flags.backend)
	switch {
	case e.W.Random && e.W.Format == "embedded":
		s += " (RANDOM weights: the embedded default; output text is gibberish, speed is real)"
	case e.W.Random:
		s += " (RANDOM weights, as marked by gpt2bench export; output text is gibberish, speed is real)"
	}
	if e.cpu != nil && e.cpu.KVDType() != tensor.F32 {
		s += ", " + e.cpu.KVDType().String() + " KV cache"
	}
	for _, n := range e.W.Notes {
		s += "\n  note: " + n
	}
	return s
}

// Close releases the model.
func (e *engine) Close() error {
	var errs []error
	if e.cpu != nil {
		e.cpu.Close()
	}
	if e.gpu != nil {
		errs = append(errs, e.gpu.Close())
	}
	return errors.Join(errs...)
}
