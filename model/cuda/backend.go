//go:build cuda

package cuda

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
	"unsafe"

	"gorgonia.org/cu"

	"github.com/gpt2bench/gpt2bench/model"
	"github.com/gpt2bench/gpt2bench/tensor"
)

//go:embed kernels.ptx
var kernelsPTX string

// PTXEnv names an environment variable that, when set, is the path of a
// PTX file loaded instead of the embedded kernels.ptx (to try kernels
// compiled on the GPU machine without rebuilding).
const PTXEnv = "GPT2BENCH_CUDA_PTX"

// ErrNoDevice is returned by Open when the driver reports no CUDA device.
var ErrNoDevice = errors.New("cuda: no CUDA device found; run on a machine with an NVIDIA GPU and driver, or use --backend cpu")

var errClosed = errors.New("cuda: model is closed")

// wkey names one weight buffer: a per-layer buf with its layer, or a
// model-wide buf with layer -1.
type wkey struct {
	b     buf
	layer int
}

// Model is GPT-2's weights on the GPU, uploaded once, plus the CUDA
// context and the loaded kernels. Sessions share it; its methods lock the
// calling goroutine to its OS thread while they make driver calls.
type Model struct {
	cfg    model.Config
	dt     tensor.DType
	dev    cu.Device
	ctx    cu.CUContext
	fns    map[string]cu.Function
	w      map[wkey]cu.DevicePtr
	wbytes int64
	closed bool
}

// Open uploads p to the first CUDA device, with the linear weights and the
// tied LM head stored as dt (tensor.F32 or tensor.F16) and every other
// tensor as float32.
func Open(cfg model.Config, p *model.Params, dt tensor.DType) (*Model, error) {
	if err := checkConfig(cfg, dt); err != nil {
		return nil, err
	}
	if err := p.Validate(cfg); err != nil {
		return nil, err
	}
	if cfg.UntiedLMHead {
		return nil, errors.New("cuda: a checkpoint with an untied lm_head (tie_word_embeddings false) runs on --backend cpu only")
	}
	n, err := cu.NumDevices()
	if err != nil {
		return nil, fmt.Errorf("cuda: count devices: %w", err)
	}
	if n == 0 {
		return nil, ErrNoDevice
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	dev, err := cu.GetDevice(0)
	if err != nil {
		return nil, fmt.Errorf("cuda: device 0: %w", err)
	}
	ctx, err := dev.MakeContext(cu.SchedAuto)
	if err != nil {
		return nil, fmt.Errorf("cuda: create context: %w", err)
	}
	m := &Model{cfg: cfg, dt: dt, dev: dev, ctx: ctx, fns: map[string]cu.Function{}, w: map[wkey]cu.DevicePtr{}}
	if err := m.load(p); err != nil {
		m.ctx.Destroy()
		return nil, err
	}
	return m, nil
}

// load compiles the kernels and uploads the weights; the context is current.
func (m *Model) load(p *model.Params) error {
	ptx := kernelsPTX
	if path := os.Getenv(PTXEnv); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("cuda: %s: %w", PTXEnv, err)
		}
		ptx = string(b)
	}
	mod, err := cu.LoadData(ptx)
	if err != nil {
		return fmt.Errorf("cuda: load kernels (PTX JIT): %w", err)
	}
	for _, name := range kernelNames() {
		fn, err := mod.Function(name)
		if err != nil {
			return fmt.Errorf("cuda: kernel %s: %w", name, err)
		}
		m.fns[name] = fn
	}
	cfg := m.cfg
	C, F, V := cfg.NEmbd, cfg.Inner(), cfg.VocabSize
	type upload struct {
		k    wkey
		v    []float32
		rows int // > 0: a matrix [rows, len/rows] stored as dtype
	}
	ups := []upload{{wkey{bufWTE, -1}, p.WTE, V}, {wkey{bufWPE, -1}, p.WPE, 0}, {wkey{bufLnFW, -1}, p.LnFW, 0}, {wkey{bufLnFB, -1}, p.LnFB, 0}}
	for l, lp := range p.Layers {
		ups = append(ups,
			upload{wkey{bufLn1W, l}, lp.Ln1W, 0}, upload{wkey{bufLn1B, l}, lp.Ln1B, 0},
			upload{wkey{bufAttnW, l}, lp.AttnW, 3 * C}, upload{wkey{bufAttnB, l}, lp.AttnB, 0},
			upload{wkey{bufProjW, l}, lp.AttnProjW, C}, upload{wkey{bufProjB, l}, lp.AttnProjB, 0},
			upload{wkey{bufLn2W, l}, lp.Ln2W, 0}, upload{wkey{bufLn2B, l}, lp.Ln2B, 0},
			upload{wkey{bufFcW, l}, lp.FcW, F}, upload{wkey{bufFcB, l}, lp.FcB, 0},
			upload{wkey{bufFcPW, l}, lp.FcProjW, C}, upload{wkey{bufFcPB, l}, lp.FcProjB, 0},
		)
	}
	for _, u := range ups {
		var src unsafe.Pointer
		var size int64
		if u.rows > 0 && isF16(m.dt) {
			h, err := tensor.NewMat(u.v, u.rows, len(u.v)/u.rows).Convert(tensor.F16)
			if err != nil {
				return fmt.Errorf("cuda: convert weights to f16: %w", err)
			}
			src, size = unsafe.Pointer(&h.F16[0]), 2*int64(len(h.F16))
			if err := m.upload(u.k, src, size); err != nil {
				return err
			}
			runtime.KeepAlive(h)
			continue
		}
		src, size = unsafe.Pointer(&u.v[0]), 4*int64(len(u.v))
		if err := m.upload(u.k, src, size); err != nil {
			return err
		}
	}
	if err := cu.Synchronize(); err != nil { // pageable uploads may still be in flight
		return fmt.Errorf("cuda: upload weights: %w", err)
	}
	return nil
}

func (m *Model) upload(k wkey, src unsafe.Pointer, size int64) error {
	d, err := cu.MemAlloc(size)
	if err != nil {
		return fmt.Errorf("cuda: allocate %d bytes for weights: %w", size, err)
	}
	m.w[k] = d
	m.wbytes += size
	if err := cu.MemcpyHtoD(d, src, size); err != nil {
		return fmt.Errorf("cuda: upload weights: %w", err)
	}
	return nil
}

// enter locks the goroutine to its thread and makes the context current;
// call the returned function when done.
func (m *Model) enter() (func(), error) {
	runtime.LockOSThread()
	if m.closed {
		runtime.UnlockOSThread()
		return nil, errClosed
	}
	if err := cu.SetCurrentContext(m.ctx); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("cuda: set context: %w", err)
	}
	return runtime.UnlockOSThread, nil
}

// Config returns the architecture.
func (m *Model) Config() model.Config { return m.cfg }

// DType returns the storage type of the weight matrices.
func (m *Model) DType() tensor.DType { return m.dt }

// WeightBytes returns the device memory the weights occupy.
func (m *Model) WeightBytes() int64 { return m.wbytes }

// Info describes the device for reports: device name, compute capability,
// multiprocessors, driver and CUDA header versions, memory total and free
// (cuMemGetInfo), the weights' dtype and bytes, and the nominal memory
// bandwidth and float32 peak from the device's clocks
// (memory_bandwidth_gb_per_s, fp32_peak_gflop_per_s) where it reports them.
func (m *Model) Info() map[string]string {
	info := map[string]string{"backend": "cuda", "weights_dtype": m.dt.String(), "weights_bytes": strconv.FormatInt(m.wbytes, 10),
		"cuda_header_version": cudaVersion(headerVersion()), "driver_cuda_version": cudaVersion(cu.Version())}
	exit, err := m.enter()
	if err != nil {
		info["error"] = err.Error()
		return info
	}
	defer exit()
	if name, err := m.dev.Name(); err == nil {
		info["device"] = name
	}
	if maj, min, err := m.dev.ComputeCapability(); err == nil {
		info["compute_capability"] = fmt.Sprintf("%d.%d", maj, min)
	}
	attr := func(a cu.DeviceAttribute) int {
		v, err := m.dev.Attribute(a)
		if err != nil {
			return 0
		}
		return v
	}
	sm := attr(cu.MultiprocessorCount)
	if sm > 0 {
		info["multiprocessors"] = strconv.Itoa(sm)
	}
	// Nominal limits for the profile's roofline; drivers that no longer
	// report the clocks leave them out.
	if mem, bus := attr(cu.MemoryClockRate), attr(cu.GlobalMemoryBusWidth); mem > 0 && bus > 0 {
		info["memory_bandwidth_gb_per_s"] = strconv.FormatFloat(nominalBandwidth(mem, bus), 'f', 1, 64)
	}
	if maj, mnr, err := m.dev.ComputeCapability(); err == nil {
		if pk := nominalFP32Peak(sm, attr(cu.ClockRate), maj, mnr); pk > 0 {
			info["fp32_peak_gflop_per_s"] = strconv.FormatFloat(pk, 'f', 1, 64)
		}
	}
	if free, total, err := cu.MemInfo(); err == nil {
		info["memory_total_bytes"] = strconv.FormatInt(total, 10)
		info["memory_free_bytes"] = strconv.FormatInt(free, 10)
	}
	return info
}

// cudaVersion formats a CUDA version number (13000 → "13.0").
func cudaVersion(v int) string {
	if v <= 0 {
		return "unknown"
	}
	return fmt.Sprintf("%d.%d", v/1000, v%1000/10)
}

// Close destroys the context, freeing every device buffer of the Model and
// its Sessions. Sessions must not run after Close.
func (m *Model) Close() error {
	if m.closed {
		return nil
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	m.closed = true
	if err := m.ctx.Destroy(); err != nil {
		return fmt.Errorf("cuda: destroy context: %w", err)
	}
	return nil
}

// compiled is a plan with its arguments resolved to device pointers and
// scalars, ready to launch.
type compiled struct {
	ls   []launch
	fns  []cu.Function
	vals [][]uint64 // [launch][arg], as launchKernel passes them
	tm   timing     // op spans and event positions, for a DeviceTracer
}

// Session is one batch of sequences on the GPU: the KV cache, the scratch
// buffers and the position counter in device memory, a stream, the
// compiled plans and the captured graphs. It implements
// model.Backend. Not safe for concurrent use.
type Session struct {
	m       *Model
	B, cap  int
	pos     int // host mirror of bufPos
	stream  cu.Stream
	bufs    map[buf]cu.DevicePtr
	rows    int // B*T the scratch buffers hold
	lrows   int // logits rows the logits buffer holds
	plans   map[shape]*compiled
	graphs  map[graphKey]*graph // captured steps, replayed
	noGraph bool                // launch kernel by kernel (SetGraphs(false))
	unfused bool                // layer norms as kernels of their own (SetFusedNorm(false))
	kernels Kernels             // kernel set of decode-sized steps (SetKernels)
	tracer  model.Tracer
	events  []cu.Event // per-op timing; only grows (captured graphs record them)
	marks   []float32  // event times after the first, ms
	hostTok []int32    // [N] staging for uploads
	hostIDs []int32    // [B] ids read back
	// fedBack is set while bufTok[:B] holds hostIDs, the ids the last
	// step chose: a next step of exactly those tokens needs no upload.
	fedBack bool
	// rngSeed is the seed bufRNG was started from, when rngSet (cleared
	// by Reset: a new generation starts the random stream again).
	rngSeed uint64
	rngSet  bool
	hostRNG []uint64 // [B][2] staging for seedRNG
	closed  bool
}

// NewSession returns a Session for batch sequences of up to capacity
// positions each (0 means n_positions).
func (m *Model) NewSession(batch, capacity int) (*Session, error) {
	if capacity == 0 {
		capacity = m.cfg.NPositions
	}
	if err := checkShape(m.cfg, shape{B: batch, T: 1, Cap: capacity}); err != nil {
		return nil, err
	}
	exit, err := m.enter()
	if err != nil {
		return nil, err
	}
	defer exit()
	s := &Session{m: m, B: batch, cap: capacity, bufs: map[buf]cu.DevicePtr{}, plans: map[shape]*compiled{},
		graphs: map[graphKey]*graph{}, hostIDs: make([]int32, batch)}
	if s.stream, err = cu.MakeStream(cu.NonBlocking); err != nil {
		return nil, fmt.Errorf("cuda: create stream: %w", err)
	}
	sizes := sessionSizes(m.cfg, batch, capacity, batch, batch)
	for _, b := range []buf{bufK, bufV, bufPos, bufWork, bufRNG, bufProbs} {
		if s.bufs[b], err = cu.MemAlloc(sizes[b]); err != nil {
			s.free()
			return nil, fmt.Errorf("cuda: allocate %d bytes for the KV cache (batch %d, capacity %d): %w; lower the batch or the capacity", sizes[b], batch, capacity, err)
		}
	}
	if err := s.grow(batch, batch); err != nil {
		s.free()
		return nil, err
	}
	if err := cu.MemsetD32Async(s.bufs[bufPos], 0, 1, s.stream); err != nil {
		s.free()
		return nil, fmt.Errorf("cuda: clear position: %w", err)
	}
	return s, nil
}

// grow sizes the scratch buffers for rows = B*T and lrows logits rows,
// reallocating only when a step is larger than every step before; that
// drops the compiled plans and the graphs, which hold old pointers.
func (s *Session) grow(rows, lrows int) error {
	if rows <= s.rows && lrows <= s.lrows {
		return nil
	}
	rows, lrows = max(rows, s.rows), max(lrows, s.lrows)
	if err := s.stream.Synchronize(); err != nil { // in-flight work may use the old buffers
		return fmt.Errorf("cuda: %w", err)
	}
	sizes := sessionSizes(s.m.cfg, s.B, s.cap, rows, lrows)
	for _, b := range []buf{bufX, bufXN, bufQKV, bufY, bufH, bufLogits, bufTok} {
		if old, ok := s.bufs[b]; ok {
			cu.MemFree(old)
			delete(s.bufs, b)
		}
		d, err := cu.MemAlloc(sizes[b])
		if err != nil {
			return fmt.Errorf("cuda: allocate %d bytes of scratch for %d rows: %w; lower the batch or the prompt length", sizes[b], rows, err)
		}
		s.bufs[b] = d
	}
	s.rows, s.lrows = rows, lrows
	s.fedBack = false // bufTok is new
	clear(s.plans)
	s.dropGraphs()
	return nil
}

// dropGraphs destroys the captured graphs (context current).
func (s *Session) dropGraphs() {
	for sh, g := range s.graphs {
		g.destroy()
		delete(s.graphs, sh)
	}
}

// free releases the session's device memory, stream and graph (context current).
func (s *Session) free() {
	s.stream.Synchronize() // nothing in flight may use what is freed
	s.dropGraphs()
	for i := range s.events {
		cu.DestroyEvent(&s.events[i])
	}
	s.events = nil
	for b, d := range s.bufs {
		cu.MemFree(d)
		delete(s.bufs, b)
	}
	s.stream.Destroy()
}

// Name implements model.Backend.
func (s *Session) Name() string { return "cuda" }

// Batch returns B.
func (s *Session) Batch() int { return s.B }

// Pos returns the positions cached per sequence.
func (s *Session) Pos() int { return s.pos }

// Capacity returns the positions the cache holds per sequence.
func (s *Session) Capacity() int { return s.cap }

// Config returns the architecture.
func (s *Session) Config() model.Config { return s.m.cfg }

// KVBytes returns the device memory of the KV cache.
func (s *Session) KVBytes() int64 {
	return 2 * sessionSizes(s.m.cfg, s.B, s.cap, 0, 0)[bufK]
}

// SetTracer installs t (nil to remove). A model.DeviceTracer (as
// profile.Tracer) gets every op's GPU time from CUDA events recorded
// between the ops inside the step's graph, read once the step is done:
// the step runs as it does untraced, plus one event per op (see
// DeviceOp). Any other Tracer gets BeginOp/EndOp around each op with the
// stream synchronized at every op boundary and no graph, so its own
// timestamps bracket the GPU work (plus one launch and one
// synchronization each, about 10 µs). The GPU fuses some ops: attention's
// scores, softmax and values are one kernel (reported as attn_scores), the
// residual adds run in the attn_proj and mlp_down epilogues, GELU in
// mlp_up's, the layer norms of decode steps in qkv, mlp_up and logits (see
// SetFusedNorm), and argmax is reported as sample.
func (s *Session) SetTracer(t model.Tracer) { s.tracer = t }

// SetGraphs turns CUDA graphs on (the default) or off. With graphs, each
// step shape (B, T, all logits) is captured on first use and replayed: one
// launch per step instead of one per kernel.
func (s *Session) SetGraphs(on bool) { s.noGraph = !on }

// SetFusedNorm turns on (the default) or off computing the layer norms of
// decode steps (N <= 16 rows) inside the GEMVs that read them.
func (s *Session) SetFusedNorm(on bool) { s.unfused = !on }

// SetKernels selects the kernel set of later steps (KernelsV1, the
// default, or KernelsV2). Plans and graphs are keyed by the step's shape,
// which includes the set, so nothing compiled needs dropping.
func (s *Session) SetKernels(k Kernels) { s.kernels = k }

// Reset empties the KV cache.
func (s *Session) Reset() {
	s.pos = 0
	s.fedBack = false
	s.rngSet = false
	exit, err := s.m.enter()
	if err != nil {
		return
	}
	defer exit()
	cu.MemsetD32Async(s.bufs[bufPos], 0, 1, s.stream)
}

// Close releases the session's device memory.
func (s *Session) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	exit, err := s.m.enter()
	if err != nil {
		if errors.Is(err, errClosed) {
			return nil // the context took everything with it
		}
		return err
	}
	defer exit()
	s.free()
	return nil
}

// check validates a Forward call as model.Session does and returns T and
// whether logits are wanted at every position. logits may be nil (no copy).
func (s *Session) check(tokens [][]int32, logits []float32) (T int, all bool, err error) {
	cfg := s.m.cfg
	if s.closed {
		return 0, false, errors.New("cuda: session is closed")
	}
	if T, err = model.CheckTokens(cfg, s.B, s.pos, s.cap, tokens); err != nil {
		return 0, false, err
	}
	if len(logits) > 0 { // nil: no copy back
		if all, err = model.LogitRows(cfg, s.B, T, len(logits)); err != nil {
			return 0, false, err
		}
	}
	if T == 1 {
		all = false // the same step
	}
	return T, all, nil
}

// Forward implements model.Backend: it appends tokens to every sequence
// and copies the logits to the host (nil logits: no copy and no wait).
// Without a tracer the step replays a CUDA graph (see SetGraphs).
func (s *Session) Forward(ctx context.Context, tokens [][]int32, logits []float32) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	T, all, err := s.check(tokens, logits)
	if err != nil {
		return err
	}
	exit, err := s.m.enter()
	if err != nil {
		return err
	}
	defer exit()
	sh := shape{B: s.B, T: T, Cap: s.cap, All: all, NoSample: true}
	if err := s.grow(sh.rows(), sh.logitRows()); err != nil {
		return err
	}
	if err := s.uploadTokens(tokens, T); err != nil {
		return err
	}
	if err := s.step(sh); err != nil {
		return err
	}
	s.pos += T
	if len(logits) > 0 {
		if err := cu.MemcpyDtoHAsync(unsafe.Pointer(&logits[0]), s.bufs[bufLogits], 4*int64(len(logits)), s.stream); err != nil {
			return fmt.Errorf("cuda: copy logits: %w", err)
		}
		if err := s.stream.Synchronize(); err != nil {
			return fmt.Errorf("cuda: forward: %w", err)
		}
	}
	return nil
}

// SamplesOnDevice implements model.DeviceSampler: the GPU chooses tokens
// for every valid option: argmax when greedy, else the sample kernel.
func (s *Session) SamplesOnDevice(o model.SampleOptions) bool { return o.Validate() == nil }

// ForwardSample implements model.DeviceSampler: it appends tokens to every
// sequence and writes each sequence's next token, chosen with opts, to ids
// [B]: argmax when greedy, else the sample kernel, which draws as
// model.Sampler does with sequence b's stream seeded with opts.Seed+b (as
// model.Generate seeds its samplers), started after Reset or when the seed
// changes. The choice runs in the step's graph and only the B ids come
// back; when tokens are the ids the previous step chose, they are not
// uploaded either (they are where the step reads them).
func (s *Session) ForwardSample(ctx context.Context, tokens [][]int32, opts model.SampleOptions, ids []int32) error {
	if err := opts.Validate(); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	if len(ids) != s.B {
		return fmt.Errorf("cuda: %d ids for a batch of %d", len(ids), s.B)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	T, _, err := s.check(tokens, nil)
	if err != nil {
		return err
	}
	exit, err := s.m.enter()
	if err != nil {
		return err
	}
	defer exit()
	sh := shape{B: s.B, T: T, Cap: s.cap, Sampling: samplingOf(opts)}
	if err := s.grow(sh.rows(), sh.logitRows()); err != nil {
		return err
	}
	if opts.Temperature > 0 && (!s.rngSet || s.rngSeed != opts.Seed) {
		if err := s.seedRNG(opts.Seed); err != nil {
			return err
		}
	}
	if !s.isFedBack(tokens) {
		if err := s.uploadTokens(tokens, T); err != nil {
			return err
		}
	}
	s.fedBack = false // the step overwrites bufTok; set again once hostIDs holds its ids
	if err := s.step(sh); err != nil {
		return err
	}
	s.pos += T
	if err := cu.MemcpyDtoHAsync(unsafe.Pointer(&s.hostIDs[0]), s.bufs[bufTok], 4*int64(s.B), s.stream); err != nil {
		return fmt.Errorf("cuda: copy ids: %w", err)
	}
	if err := s.stream.Synchronize(); err != nil {
		return fmt.Errorf("cuda: forward: %w", err)
	}
	copy(ids, s.hostIDs)
	s.fedBack = true
	return nil
}

// seedRNG starts sequence b's random stream at seed+b, as model.Generate
// seeds its Samplers: math/rand/v2's NewPCG(seed+b, (seed+b)^PCGStream)
// (context current).
func (s *Session) seedRNG(seed uint64) error {
	if len(s.hostRNG) != 2*s.B {
		s.hostRNG = make([]uint64, 2*s.B)
	}
	st := s.hostRNG
	for b := range s.B {
		sb := seed + uint64(b)
		st[2*b], st[2*b+1] = sb, sb^model.PCGStream
	}
	if err := cu.MemcpyHtoDAsync(s.bufs[bufRNG], unsafe.Pointer(&st[0]), 8*int64(len(st)), s.stream); err != nil {
		return fmt.Errorf("cuda: seed the sampler: %w", err)
	}
	s.rngSeed, s.rngSet = seed, true
	return nil
}

// isFedBack reports whether tokens are one position per sequence equal
// to the ids the last step chose, which bufTok still holds.
func (s *Session) isFedBack(tokens [][]int32) bool {
	if !s.fedBack {
		return false
	}
	for b, seq := range tokens {
		if len(seq) != 1 || seq[0] != s.hostIDs[b] {
			return false
		}
	}
	return true
}

// uploadTokens copies tokens [B][T] to bufTok [B*T] (context current;
// the buffers already grown for the step, which would drop the tokens).
func (s *Session) uploadTokens(tokens [][]int32, T int) error {
	s.fedBack = false
	N := s.B * T
	if cap(s.hostTok) < N {
		s.hostTok = make([]int32, N)
	}
	h := s.hostTok[:N]
	for b, seq := range tokens {
		copy(h[b*T:(b+1)*T], seq)
	}
	if err := cu.MemcpyHtoDAsync(s.bufs[bufTok], unsafe.Pointer(&h[0]), 4*int64(N), s.stream); err != nil {
		return fmt.Errorf("cuda: upload tokens: %w", err)
	}
	return nil
}

// step runs one forward step of shape sh (context current): its captured
// graph (captured now on first use), or with a tracer or graphs off the
// launches one by one.
func (s *Session) step(sh shape) error {
	sh.Unfused = s.unfused
	sh.Kernels = s.kernels
	if err := s.grow(sh.rows(), sh.logitRows()); err != nil {
		return err
	}
	c, err := s.compile(sh)
	if err != nil {
		return err
	}
	if dt, ok := s.tracer.(model.DeviceTracer); ok {
		return s.launchTimed(c, sh, dt)
	}
	switch {
	case s.tracer != nil:
		return s.launchTraced(c, sh)
	case s.noGraph:
		return s.launchAll(c)
	}
	g, err := s.captured(graphKey{sh, false}, c)
	if err != nil {
		return err
	}
	return g.launch(s.stream)
}

// graphKey names a captured graph: a step shape, with or without the
// per-op timing events.
type graphKey struct {
	shape
	timed bool
}

// captured returns the graph of key k, capturing c's launches (with the
// timing events when k.timed) on first use.
func (s *Session) captured(k graphKey, c *compiled) (*graph, error) {
	if g, ok := s.graphs[k]; ok {
		return g, nil
	}
	if err := beginCapture(s.stream); err != nil {
		return nil, err
	}
	run := s.launchAll
	if k.timed {
		run = func(c *compiled) error { return s.launchWithEvents(c, true) }
	}
	if err := run(c); err != nil {
		abortCapture(s.stream)
		return nil, err
	}
	g, err := endCapture(s.stream, len(c.ls))
	if err != nil {
		return nil, err
	}
	s.graphs[k] = g
	return g, nil
}

// compile returns the resolved plan for sh, building it once.
func (s *Session) compile(sh shape) (*compiled, error) {
	if c, ok := s.plans[sh]; ok {
		return c, nil
	}
	ls, err := plan(s.m.cfg, s.m.dt, sh)
	if err != nil {
		return nil, err
	}
	c, err := s.m.compileLaunches(ls, s.resolve)
	if err != nil {
		return nil, err
	}
	s.plans[sh] = c
	return c, nil
}

// compileLaunches resolves the arguments of ls (pointers through resolve,
// plus their element offsets) and looks up their kernels.
func (m *Model) compileLaunches(ls []launch, resolve func(arg) (cu.DevicePtr, error)) (*compiled, error) {
	c := &compiled{ls: ls, tm: planTiming(ls), fns: make([]cu.Function, len(ls)), vals: make([][]uint64, len(ls))}
	for i, l := range ls {
		fn, ok := m.fns[l.kernel]
		if !ok {
			return nil, fmt.Errorf("cuda: kernel %s is not loaded", l.kernel)
		}
		c.fns[i] = fn
		vals := make([]uint64, len(l.args))
		for j, a := range l.args {
			switch a.kind {
			case argPtr:
				d, err := resolve(a)
				if err != nil {
					return nil, fmt.Errorf("cuda: %s argument %d: %w", l.kernel, j, err)
				}
				vals[j] = uint64(d) + 4*uint64(a.off)
			case argNull:
				vals[j] = 0
			default:
				vals[j] = a.scalar()
			}
		}
		c.vals[i] = vals
	}
	return c, nil
}

// resolve returns the device address of a pointer argument.
func (s *Session) resolve(a arg) (cu.DevicePtr, error) {
	if a.buf <= bufLnFB { // weights: per layer, or model-wide with layer -1
		d, ok := s.m.w[wkey{a.buf, a.layer}]
		if !ok {
			return 0, fmt.Errorf("no weight buffer %d for layer %d", a.buf, a.layer)
		}
		return d, nil
	}
	d, ok := s.bufs[a.buf]
	if !ok {
		return 0, fmt.Errorf("no session buffer %d", a.buf)
	}
	if (a.buf == bufK || a.buf == bufV) && a.layer >= 0 {
		d += cu.DevicePtr(kvLayerOffset(s.m.cfg, s.B, s.cap, a.layer))
	}
	return d, nil
}

func (s *Session) launch1(c *compiled, i int) error { return c.launch(i, s.stream) }

// launch launches c's launch i on stream.
func (c *compiled) launch(i int, stream cu.Stream) error {
	l := &c.ls[i]
	if err := launchKernel(c.fns[i], l.grid[0], l.grid[1], l.grid[2], l.block, l.shared, stream, c.vals[i]); err != nil {
		return fmt.Errorf("cuda: launch %s: %w", l.kernel, err)
	}
	return nil
}

func (s *Session) launchAll(c *compiled) error {
	for i := range c.ls {
		if err := s.launch1(c, i); err != nil {
			return err
		}
	}
	return nil
}

// launchTimed runs step c with a CUDA event between its ops (in the
// step's graph unless graphs are off), waits for it, and reports each op's
// GPU time to t between BeginStep and EndStep.
func (s *Session) launchTimed(c *compiled, sh shape, t model.DeviceTracer) error {
	n := c.tm.events()
	if err := s.ensureEvents(n); err != nil {
		return err
	}
	var g *graph
	if !s.noGraph {
		// Captured before the step begins: capture and instantiation are
		// not the step's time.
		var err error
		if g, err = s.captured(graphKey{sh, true}, c); err != nil {
			return err
		}
	}
	t.BeginStep(model.Step{B: sh.B, T: sh.T, Pos: s.pos, AllLogits: sh.All})
	if g == nil {
		if err := s.launchWithEvents(c, false); err != nil {
			return err
		}
	} else if err := g.launch(s.stream); err != nil {
		return err
	}
	if err := s.stream.Synchronize(); err != nil {
		return fmt.Errorf("cuda: timed step: %w", err)
	}
	s.marks = s.marks[:0]
	for j := range n {
		ms, err := s.events[0].Elapsed(s.events[j])
		if err != nil {
			return fmt.Errorf("cuda: read timing event %d of %d: %w", j, n, err)
		}
		s.marks = append(s.marks, float32(ms))
	}
	c.tm.report(t, s.marks)
	t.EndStep()
	return nil
}

// ensureEvents creates timing events until there are n (context current).
// Events are never destroyed before the session: captured graphs record
// them.
func (s *Session) ensureEvents(n int) error {
	for len(s.events) < n {
		ev, err := cu.MakeEvent(cu.DefaultEvent)
		if err != nil {
			return fmt.Errorf("cuda: create timing event: %w", err)
		}
		s.events = append(s.events, ev)
	}
	return nil
}

// launchWithEvents launches c with event c.tm.at[i] recorded before
// launch i and the last event after the last timed launch. capturing
// records them as graph nodes (CU_EVENT_RECORD_EXTERNAL), as stream
// capture requires for an event to be recorded on every replay.
func (s *Session) launchWithEvents(c *compiled, capturing bool) error {
	record := func(j int) error {
		if capturing {
			return recordExternal(s.events[j], s.stream)
		}
		if err := s.events[j].Record(s.stream); err != nil {
			return fmt.Errorf("cuda: record timing event: %w", err)
		}
		return nil
	}
	for i := range c.ls {
		if j := c.tm.at[i]; j >= 0 {
			if err := record(j); err != nil {
				return err
			}
		}
		if err := s.launch1(c, i); err != nil {
			return err
		}
		if i+1 == c.tm.end {
			if err := record(len(c.tm.spans)); err != nil {
				return err
			}
		}
	}
	return nil
}

// launchTraced launches c op by op, synchronizing at each op boundary so
// the tracer's timestamps bracket the GPU work.
func (s *Session) launchTraced(c *compiled, sh shape) error {
	t := s.tracer
	t.BeginStep(model.Step{B: sh.B, T: sh.T, Pos: s.pos, AllLogits: sh.All})
	open := false
	var cur launch
	closeOp := func() error {
		if !open {
			return nil
		}
		open = false
		if err := s.stream.Synchronize(); err != nil {
			return fmt.Errorf("cuda: %s: %w", cur.kernel, err)
		}
		t.EndOp(cur.layer, cur.op)
		return nil
	}
	for i, l := range c.ls {
		if !open || l.op != cur.op || l.layer != cur.layer {
			if err := closeOp(); err != nil {
				return err
			}
			if l.op != model.NumOps {
				t.BeginOp(l.layer, l.op)
				open, cur = true, l
			}
		}
		if err := s.launch1(c, i); err != nil {
			return err
		}
	}
	if err := closeOp(); err != nil {
		return err
	}
	t.EndStep()
	return nil
}

// GreedyStats are the timings of GenerateGreedy.
type GreedyStats struct {
	PromptTokens int           // T per sequence
	NewTokens    int           // tokens generated per sequence
	TTFT         time.Duration // prompt upload through the first new ids on the host
	Decode       time.Duration // the other NewTokens-1 steps, one graph launch and one id copy each
}

// DecodeTokensPerSecond returns the decode throughput over all sequences.
func (g GreedyStats) DecodeTokensPerSecond(batch int) float64 {
	if g.NewTokens < 2 || g.Decode <= 0 {
		return 0
	}
	return float64(batch*(g.NewTokens-1)) / g.Decode.Seconds()
}

// GenerateGreedy resets the session, runs the prompts (one per sequence,
// equal lengths) and appends n greedy tokens to each, entirely on the GPU:
// argmax writes each step's ids where the next step's embedding reads
// them, and only the B ids come back to the host per step.
func (s *Session) GenerateGreedy(ctx context.Context, prompts [][]int32, n int) ([][]int32, GreedyStats, error) {
	var st GreedyStats
	if n < 1 {
		return nil, st, fmt.Errorf("cuda: %d new tokens, want >= 1", n)
	}
	s.Reset()
	T, _, err := s.check(prompts, nil)
	if err != nil {
		return nil, st, err
	}
	if need := T + n - 1; need > s.cap {
		return nil, st, &model.ContextError{Have: need, Max: s.cap}
	}
	st.PromptTokens = T
	exit, err := s.m.enter()
	if err != nil {
		return nil, st, err
	}
	defer exit()
	out := make([][]int32, s.B)
	for b := range out {
		out[b] = make([]int32, 0, n)
	}
	sh := shape{B: s.B, T: T, Cap: s.cap}
	if err := s.grow(sh.rows(), sh.logitRows()); err != nil {
		return nil, st, err
	}
	t0 := time.Now()
	if err := s.uploadTokens(prompts, T); err != nil {
		return nil, st, err
	}
	for i := range n {
		if i > 0 {
			if err := ctx.Err(); err != nil {
				return out, st, err
			}
			sh.T = 1
		}
		if err := s.step(sh); err != nil {
			return out, st, err
		}
		s.pos += sh.T
		if err := cu.MemcpyDtoHAsync(unsafe.Pointer(&s.hostIDs[0]), s.bufs[bufTok], 4*int64(s.B), s.stream); err != nil {
			return out, st, fmt.Errorf("cuda: copy ids: %w", err)
		}
		if err := s.stream.Synchronize(); err != nil {
			return out, st, fmt.Errorf("cuda: step %d: %w", i, err)
		}
		for b := range out {
			out[b] = append(out[b], s.hostIDs[b])
		}
		if i == 0 {
			st.TTFT = time.Since(t0)
			t0 = time.Now()
		}
	}
	st.NewTokens = n
	st.Decode = time.Since(t0)
	return out, st, nil
}

var (
	_ model.Backend       = (*Session)(nil)
	_ model.DeviceSampler = (*Session)(nil)
)
