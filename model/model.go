package model

import (
	"fmt"
	"runtime"

	"github.com/gpt2bench/gpt2bench/tensor"
)

// Options choose how a Model runs.
type Options struct {
	DType   tensor.DType // storage of the linear weights and LM head; F32 by default
	Threads int          // cores an op is split across; 0 means GOMAXPROCS, at most MaxThreads
	// KVDType is what the KV caches of the Model's Sessions store: F32
	// (the zero value) or F16, half the bytes per cached position, rounded
	// once when written (--kv-dtype f16).
	KVDType tensor.DType
	// ConsumeSource lets New drop each float32 matrix of p (setting its
	// field to nil) once converted or packed, collecting garbage as it
	// goes, so that the source and the Model's weights are never all in
	// memory at once. The caller must not use p's matrices afterwards.
	// Matrices the Model shares (F32 without AVX-512) are kept.
	ConsumeSource bool
}

// MaxThreads bounds Options.Threads: each worker is a goroutine with a job
// queue, and no machine splits one op usefully across more.
const MaxThreads = 1 << 12

// Model is GPT-2's weights laid out for the forward pass, plus the worker
// pool its ops run on. It is read-only after New, so any number of
// Sessions (one per goroutine) can share it.
type Model struct {
	cfg    Config
	opts   Options
	pool   *tensor.Pool
	wte    *tensor.Mat // [V, C] embeddings
	lmHead *tensor.Mat // [V, C] the LM head: wte when tied
	wpe    []float32   // [maxT, C]
	layers []layer
	lnFW   []float32  // [C]
	lnFB   []float32  // [C]
	act    tensor.Act // the MLP's GELU, fused into mlp_up
}

// layer is one block's weights; matrices are [out, in].
type layer struct {
	ln1W, ln1B []float32   // [C]
	attnW      *tensor.Mat // [3C, C]
	attnB      []float32   // [3C]
	projW      *tensor.Mat // [C, C]
	projB      []float32   // [C]
	ln2W, ln2B []float32   // [C]
	fcW        *tensor.Mat // [F, C]
	fcB        []float32   // [F]
	fcProjW    *tensor.Mat // [C, F]
	fcProjB    []float32   // [C]
}

// New validates p against cfg and builds a Model. Other dtypes than F32
// convert each matrix once; float32 and float16 weights are then cut into
// strips for the AVX-512 kernels (tensor.PackForLinear). Float32 weights
// without AVX-512 are shared with p (no copy).
// Close the Model to stop its worker pool.
func New(cfg Config, p *Params, opts Options) (*Model, error) {
	if err := p.Validate(cfg); err != nil {
		return nil, err
	}
	if err := CheckKVDType(opts.KVDType); err != nil {
		return nil, err
	}
	if opts.Threads < 0 || opts.Threads > MaxThreads {
		return nil, fmt.Errorf("model: %d threads, want 0..%d (0 = GOMAXPROCS)", opts.Threads, MaxThreads)
	}
	C, F, V := cfg.NEmbd, cfg.Inner(), cfg.VocabSize
	conv := func(data []float32, rows, cols int) (*tensor.Mat, error) {
		m := tensor.NewMat(data, rows, cols)
		if opts.DType != tensor.F32 {
			var err error
			if m, err = m.Convert(opts.DType); err != nil {
				return nil, err
			}
		}
		return tensor.PackForLinear(m), nil
	}
	m := &Model{cfg: cfg, opts: opts, wpe: p.WPE, lnFW: p.LnFW, lnFB: p.LnFB}
	m.act = tensor.ActGELUTanh // gelu_new, gelu_pytorch_tanh, gelu_fast
	if cfg.Activation == "gelu" {
		m.act = tensor.ActGELUErf
	}
	// release drops a converted or packed source matrix and collects it,
	// so the next conversion reuses its memory instead of growing the heap.
	release := func(src *[]float32, dst *tensor.Mat) {
		if opts.ConsumeSource && (opts.DType != tensor.F32 || dst.Panels) {
			*src = nil
			runtime.GC()
		}
	}
	var err error
	if m.wte, err = conv(p.WTE, V, C); err != nil {
		return nil, fmt.Errorf("model: convert wte: %w", err)
	}
	release(&p.WTE, m.wte)
	m.lmHead = m.wte
	if cfg.UntiedLMHead {
		if m.lmHead, err = conv(p.LMHead, V, C); err != nil {
			return nil, fmt.Errorf("model: convert lm_head: %w", err)
		}
		release(&p.LMHead, m.lmHead)
	}
	m.layers = make([]layer, cfg.NLayer)
	for i := range p.Layers {
		lp := &p.Layers[i]
		l := &m.layers[i]
		l.ln1W, l.ln1B, l.ln2W, l.ln2B = lp.Ln1W, lp.Ln1B, lp.Ln2W, lp.Ln2B
		l.attnB, l.projB, l.fcB, l.fcProjB = lp.AttnB, lp.AttnProjB, lp.FcB, lp.FcProjB
		mats := []struct {
			dst        **tensor.Mat
			data       *[]float32
			rows, cols int
		}{{&l.attnW, &lp.AttnW, 3 * C, C}, {&l.projW, &lp.AttnProjW, C, C}, {&l.fcW, &lp.FcW, F, C}, {&l.fcProjW, &lp.FcProjW, C, F}}
		for _, mt := range mats {
			if *mt.dst, err = conv(*mt.data, mt.rows, mt.cols); err != nil {
				return nil, fmt.Errorf("model: convert layer %d: %w", i, err)
			}
			release(mt.data, *mt.dst)
		}
	}
	m.pool = tensor.NewPool(opts.Threads)
	return m, nil
}

// Config returns the architecture.
func (m *Model) Config() Config { return m.cfg }

// DType returns the storage type of the weight matrices.
func (m *Model) DType() tensor.DType { return m.opts.DType }

// KVDType returns what the KV caches of the Model's Sessions store.
func (m *Model) KVDType() tensor.DType { return m.opts.KVDType }

// Threads returns the number of cores each op is split across.
func (m *Model) Threads() int { return m.pool.Threads() }

// WeightBytes returns the memory the weights occupy as the Model holds them.
func (m *Model) WeightBytes() int64 {
	n := m.wte.Bytes() + 4*int64(len(m.wpe)+len(m.lnFW)+len(m.lnFB))
	if m.lmHead != m.wte {
		n += m.lmHead.Bytes()
	}
	for _, l := range m.layers {
		n += l.attnW.Bytes() + l.projW.Bytes() + l.fcW.Bytes() + l.fcProjW.Bytes()
		n += 4 * int64(len(l.ln1W)+len(l.ln1B)+len(l.ln2W)+len(l.ln2B)+len(l.attnB)+len(l.projB)+len(l.fcB)+len(l.fcProjB))
	}
	return n
}

// Close stops the worker pool. Sessions must not run after Close.
func (m *Model) Close() { m.pool.Close() }
