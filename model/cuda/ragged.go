//go:build cuda

package cuda

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"unsafe"

	"gorgonia.org/cu"

	"github.com/gpt2bench/gpt2bench/model"
)

// Ragged runs ragged steps, the continuous-batching engine's forward pass
// (model.Ragged on the CPU), on the GPU over a paged KV cache held in
// device memory: a pool of NumBlocks blocks of BlockSize positions,
// [L, numBlocks, blockSize, C] float32 for keys and for values. Every
// sequence of a step brings its own new tokens (a prompt chunk or one
// decode token), position and block table; the linear layers see all rows
// of the step at once, and each row's attention reads its own sequence's
// blocks (attention_paged). Per step the host uploads one int32 buffer
// (tokens, positions, sequences, logit rows, block tables) and copies back
// the requested logits. Not safe for concurrent use.
type Ragged struct {
	m      *Model
	g      raggedGeom
	stream cu.Stream
	bufs   map[buf]cu.DevicePtr
	rows   int // N the scratch buffers hold
	lrows  int // logit rows bufLogits holds
	metaN  int // int32s bufMeta holds
	plans  map[raggedShape]*compiled
	graphs map[raggedShape]*graph // captured bucketed steps, replayed
	// noGraph launches kernel by kernel, unpadded (SetGraphs(false)).
	noGraph bool
	meta    []int32 // host staging of bufMeta
	pcgBuf  [20]byte
	closed  bool
}

// NewRagged returns a Ragged with a device pool of numBlocks blocks of
// blockSize positions (2·L·numBlocks·blockSize·C float32s).
func (m *Model) NewRagged(blockSize, numBlocks int) (*Ragged, error) {
	if blockSize < 1 || numBlocks < 1 {
		return nil, fmt.Errorf("cuda: KV cache of %d blocks of %d positions, want >= 1 of each", numBlocks, blockSize)
	}
	cfg := m.cfg
	kv := 4 * int64(cfg.NLayer) * int64(numBlocks+1) * int64(blockSize) * int64(cfg.NEmbd) // + the padding rows' block
	if kv > 1<<40 {
		return nil, fmt.Errorf("cuda: KV cache of %d blocks of %d positions is %d bytes per tensor; too large", numBlocks, blockSize, kv)
	}
	exit, err := m.enter()
	if err != nil {
		return nil, err
	}
	defer exit()
	r := &Ragged{m: m, g: raggedGeometry(cfg, blockSize, numBlocks), bufs: map[buf]cu.DevicePtr{}, plans: map[raggedShape]*compiled{},
		graphs: map[raggedShape]*graph{}}
	if r.stream, err = cu.MakeStream(cu.NonBlocking); err != nil {
		return nil, fmt.Errorf("cuda: create stream: %w", err)
	}
	for _, b := range []buf{bufKP, bufVP} {
		if r.bufs[b], err = cu.MemAlloc(kv); err != nil {
			r.free()
			return nil, fmt.Errorf("cuda: allocate %d bytes for the KV cache (%d blocks of %d positions): %w; ask for fewer blocks", kv, numBlocks, blockSize, err)
		}
	}
	if r.bufs[bufWork], err = cu.MemAlloc(4 * workFloats); err != nil {
		r.free()
		return nil, fmt.Errorf("cuda: allocate split-K scratch: %w", err)
	}
	return r, nil
}

// BlockSize returns the positions each block holds.
func (r *Ragged) BlockSize() int { return r.g.BlockSize }

// NumBlocks returns the number of blocks in the pool.
func (r *Ragged) NumBlocks() int { return r.g.NumBlocks }

// Config returns the model's architecture.
func (r *Ragged) Config() model.Config { return r.m.cfg }

// KVBytes returns the device memory of the KV pool (NumBlocks blocks and
// the one that padding rows write).
func (r *Ragged) KVBytes() int64 {
	cfg := r.m.cfg
	return 2 * 4 * int64(cfg.NLayer) * int64(r.g.NumBlocks+1) * int64(r.g.BlockSize) * int64(cfg.NEmbd)
}

// maxRaggedGraphs bounds the captured step buckets; steps of further
// buckets launch kernel by kernel.
const maxRaggedGraphs = 64

// SetGraphs turns CUDA graphs on (the default) or off. With graphs, a
// step runs the bucket of its shape (rows and logit rows rounded up by
// raggedBucket, the padding rows computed into a block of their own and
// thrown away), captured on first use and replayed: one launch per step
// instead of one per kernel, and one graph for every step of the bucket
// whatever its sequences, positions, tables and sampling options (they
// travel in the step's upload).
func (r *Ragged) SetGraphs(on bool) { r.noGraph = !on }

// Step runs one forward pass over the new tokens of every sequence in
// seqs, as model.Ragged.Step does: it stores their keys and values in the
// sequences' blocks on the device and writes next-token logits
// [model.LogitRowsOf(seqs), V], in the order of seqs.
func (r *Ragged) Step(ctx context.Context, seqs []model.SeqStep, logits []float32) error {
	NL := model.LogitRowsOf(seqs)
	if n, want := len(logits), NL*r.m.cfg.VocabSize; n != want {
		return fmt.Errorf("cuda: logits buffer has %d values, the step wants %d (%d rows of %d)", n, want, NL, r.m.cfg.VocabSize)
	}
	return r.run(ctx, seqs, raggedShape{}, nil, unsafe.Pointer(unsafe.SliceData(logits)), 4*int64(len(logits)))
}

// StepGreedy is Step with the next token of every logit row chosen on the
// device (argmax, the first on ties): it writes ids
// [model.LogitRowsOf(seqs)], and only the ids come back to the host.
func (r *Ragged) StepGreedy(ctx context.Context, seqs []model.SeqStep, ids []int32) error {
	if n, want := len(ids), model.LogitRowsOf(seqs); n != want {
		return fmt.Errorf("cuda: %d ids for a step with %d logit rows", n, want)
	}
	return r.run(ctx, seqs, raggedShape{Greedy: true}, nil, unsafe.Pointer(unsafe.SliceData(ids)), 4*int64(len(ids)))
}

// SampleRow is how StepSample chooses one logit row's token: the
// request's options and its random stream.
type SampleRow struct {
	Opts model.SampleOptions
	// PCG is the request's stream, started as model.NewSampler starts
	// it (rand.NewPCG(seed, seed^model.PCGStream)); StepSample uploads its
	// state and advances it by the one draw the device makes, so the
	// request draws model.Sampler's tokens. Unused (may be nil) when
	// Opts is greedy.
	PCG *rand.PCG
}

// StepSample is Step with the next token of every logit row chosen on the
// device with that row's own options (rows [model.LogitRowsOf(seqs)], in
// the order of the logit rows): argmax when greedy, else drawn as
// model.Sampler draws. The options and the streams' states travel in the
// step's upload; only the ids [model.LogitRowsOf(seqs)] come back.
func (r *Ragged) StepSample(ctx context.Context, seqs []model.SeqStep, rows []SampleRow, ids []int32) error {
	NL := model.LogitRowsOf(seqs)
	if len(ids) != NL || len(rows) != NL {
		return fmt.Errorf("cuda: %d ids and %d sampling rows for a step with %d logit rows", len(ids), len(rows), NL)
	}
	for j, row := range rows {
		if err := row.Opts.Validate(); err != nil {
			return fmt.Errorf("cuda: logit row %d: %w", j, err)
		}
		if row.Opts.Greedy() {
			continue
		}
		if row.PCG == nil {
			return fmt.Errorf("cuda: logit row %d samples at temperature %g without a random stream", j, row.Opts.Temperature)
		}
		for i := range j { // each draw advances its stream once: no stream twice in a step
			if rows[i].PCG == row.PCG && !rows[i].Opts.Greedy() {
				return fmt.Errorf("cuda: logit rows %d and %d draw from the same random stream in one step; sample one row per request (model.LogitsLast)", i, j)
			}
		}
	}
	if err := r.run(ctx, seqs, raggedShape{Sample: true}, rows, unsafe.Pointer(unsafe.SliceData(ids)), 4*int64(len(ids))); err != nil {
		return err
	}
	for _, row := range rows {
		if !row.Opts.Greedy() {
			row.PCG.Uint64() // the device's one draw
		}
	}
	return nil
}

// run validates and runs a step of kind k (Greedy, Sample or neither),
// then copies size bytes of its logits (bufLogits) or, when it chooses
// the tokens, its ids (bufTok) to out.
func (r *Ragged) run(ctx context.Context, seqs []model.SeqStep, k raggedShape, rows []SampleRow, out unsafe.Pointer, size int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if r.closed {
		return errors.New("cuda: ragged step on a closed Ragged")
	}
	cfg := r.m.cfg
	if err := model.CheckSeqs(cfg, r.g.BlockSize, r.g.NumBlocks, seqs); err != nil {
		return err
	}
	rs := raggedShape{NL: model.LogitRowsOf(seqs)}
	for _, s := range seqs {
		rs.N += len(s.Tokens)
	}
	rs.Greedy, rs.Sample = k.Greedy && rs.NL > 0, k.Sample && rs.NL > 0
	ps := rs // the shape that runs
	if !r.noGraph {
		ps = rs.bucketed()
	}
	n := r.layout(seqs, rs, ps, rows)
	exit, err := r.m.enter()
	if err != nil {
		return err
	}
	defer exit()
	if err := r.grow(ps.N, ps.NL, n); err != nil {
		return err
	}
	c, err := r.compile(ps)
	if err != nil {
		return err
	}
	if err := cu.MemcpyHtoDAsync(r.bufs[bufMeta], unsafe.Pointer(&r.meta[0]), 4*int64(n), r.stream); err != nil {
		return fmt.Errorf("cuda: upload the step's rows and block tables: %w", err)
	}
	if err := r.launch(ps, c); err != nil {
		return err
	}
	if size > 0 {
		src := r.bufs[bufLogits]
		if rs.Greedy || rs.Sample {
			src = r.bufs[bufTok]
		}
		if err := cu.MemcpyDtoHAsync(out, src, size, r.stream); err != nil {
			return fmt.Errorf("cuda: copy the step's results: %w", err)
		}
	}
	if err := r.stream.Synchronize(); err != nil {
		return fmt.Errorf("cuda: ragged step: %w", err)
	}
	return nil
}

// launch runs step c of shape ps: its graph (captured now on first use)
// unless graphs are off or maxRaggedGraphs are held (context current).
func (r *Ragged) launch(ps raggedShape, c *compiled) error {
	g, ok := r.graphs[ps]
	if !ok && !r.noGraph && len(r.graphs) < maxRaggedGraphs {
		if err := beginCapture(r.stream); err != nil {
			return err
		}
		for i := range c.ls {
			if err := c.launch(i, r.stream); err != nil {
				abortCapture(r.stream)
				return err
			}
		}
		var err error
		if g, err = endCapture(r.stream, len(c.ls)); err != nil {
			return err
		}
		r.graphs[ps] = g
	}
	if g != nil {
		return g.launch(r.stream)
	}
	for i := range c.ls {
		if err := c.launch(i, r.stream); err != nil {
			return err
		}
	}
	return nil
}

// dropGraphs destroys the captured graphs (context current).
func (r *Ragged) dropGraphs() {
	for k, g := range r.graphs {
		g.destroy()
		delete(r.graphs, k)
	}
}

// layout fills the host staging of bufMeta for the validated step rs of
// seqs (rs.N and rs.NL their rows and logit rows), run as shape ps (rs
// padded: its extra rows embed token 0 at position 0 of a sequence whose
// table is all the padding block, its extra logit rows repeat row 0 and
// choose greedily), and returns the int32s to upload. With rs.Sample,
// rows holds each logit row's sampling.
func (r *Ragged) layout(seqs []model.SeqStep, rs, ps raggedShape, rows []SampleRow) int {
	S := len(seqs)
	if ps.N > rs.N {
		S++ // the padding rows' sequence
	}
	ml, n := ps.layout(r.g, S)
	if cap(r.meta) < n {
		r.meta = make([]int32, n)
	}
	m := r.meta[:n]
	i, nl := 0, 0
	for si, s := range seqs {
		for t, id := range s.Tokens {
			m[ml.Tok+i], m[ml.Pos+i], m[ml.Seq+i] = id, int32(s.Pos+t), int32(si)
			if s.Logits == model.LogitsAll || (s.Logits == model.LogitsLast && t == len(s.Tokens)-1) {
				m[ml.LogRow+nl] = int32(i)
				nl++
			}
			i++
		}
		tab := m[ml.Tables+si*r.g.Stride : ml.Tables+(si+1)*r.g.Stride]
		used := (s.Pos + len(s.Tokens) + r.g.BlockSize - 1) / r.g.BlockSize // <= Stride: CheckSeqs bounds the positions
		copy(tab, s.Blocks[:used])
		clear(tab[used:])
	}
	for i := rs.N; i < ps.N; i++ {
		m[ml.Tok+i], m[ml.Pos+i], m[ml.Seq+i] = 0, 0, int32(len(seqs))
	}
	if ps.N > rs.N {
		tab := m[ml.Tables+len(seqs)*r.g.Stride : ml.Tables+(len(seqs)+1)*r.g.Stride]
		for j := range tab {
			tab[j] = int32(r.g.NumBlocks)
		}
	}
	for j := rs.NL; j < ps.NL; j++ {
		m[ml.LogRow+j] = 0
	}
	if ps.Sample {
		clear(m[ml.Opts+3*rs.NL : ml.Opts+3*ps.NL]) // temperature 0: argmax
		clear(m[ml.RNG+4*rs.NL : ml.RNG+4*ps.NL])
	}
	if rs.Sample {
		for j, row := range rows {
			o := row.Opts.Normalized()
			m[ml.Opts+3*j], m[ml.Opts+3*j+1], m[ml.Opts+3*j+2] = int32(math.Float32bits(o.Temperature)), int32(o.TopK), int32(math.Float32bits(o.TopP))
			var hi, lo uint64
			if !o.Greedy() {
				hi, lo = pcgState(row.PCG, &r.pcgBuf)
			}
			w := m[ml.RNG+4*j : ml.RNG+4*j+4] // little-endian uint64s
			w[0], w[1], w[2], w[3] = int32(uint32(hi)), int32(uint32(hi>>32)), int32(uint32(lo)), int32(uint32(lo>>32))
		}
	}
	return n
}

// pcgState returns p's state (hi, lo) as math/rand/v2 marshals it: "pcg:"
// then hi and lo, big-endian (into buf, so nothing is allocated).
func pcgState(p *rand.PCG, buf *[20]byte) (hi, lo uint64) {
	b, err := p.AppendBinary(buf[:0])
	if err != nil || len(b) != 20 {
		panic(fmt.Sprintf("cuda: math/rand/v2 PCG state of %d bytes (%v), want \"pcg:\" and 16 bytes", len(b), err))
	}
	return binary.BigEndian.Uint64(b[4:12]), binary.BigEndian.Uint64(b[12:20])
}

// grow sizes the scratch buffers for N rows, NL logit rows and n int32s
// of meta data, reallocating only what a step outgrows; that drops the
// compiled plans, which hold old pointers (context current).
func (r *Ragged) grow(N, NL, n int) error {
	if N <= r.rows && NL <= r.lrows && n <= r.metaN {
		return nil
	}
	if err := r.stream.Synchronize(); err != nil { // in-flight work may use the old buffers
		return fmt.Errorf("cuda: %w", err)
	}
	rows, lrows, metaN := max(N, r.rows), max(NL, r.lrows, 1), max(n, r.metaN)
	r.dropGraphs() // they hold the old pointers
	sizes := sessionSizes(r.m.cfg, 1, 1, rows, lrows)
	sizes[bufProbs] = 4 * int64(lrows) * int64(r.m.cfg.VocabSize) // sample_rows' scratch, [NL, V]
	sizes[bufMeta] = 4 * int64(metaN)
	for _, b := range []buf{bufX, bufXN, bufQKV, bufY, bufH, bufLogits, bufTok, bufProbs, bufMeta} {
		if old, ok := r.bufs[b]; ok {
			cu.MemFree(old)
			delete(r.bufs, b)
		}
		d, err := cu.MemAlloc(sizes[b])
		if err != nil {
			r.rows, r.lrows, r.metaN = 0, 0, 0
			return fmt.Errorf("cuda: allocate %d bytes of scratch for a ragged step of %d rows: %w; lower the engine's token budget", sizes[b], rows, err)
		}
		r.bufs[b] = d
	}
	r.rows, r.lrows, r.metaN = rows, lrows, metaN
	clear(r.plans)
	return nil
}

// compile returns the resolved plan for rs, building it once.
func (r *Ragged) compile(rs raggedShape) (*compiled, error) {
	if c, ok := r.plans[rs]; ok {
		return c, nil
	}
	ls, err := raggedPlan(r.m.cfg, r.m.dt, r.g, rs)
	if err != nil {
		return nil, err
	}
	c, err := r.m.compileLaunches(ls, r.resolve)
	if err != nil {
		return nil, err
	}
	r.plans[rs] = c
	return c, nil
}

// resolve returns the device address of a pointer argument.
func (r *Ragged) resolve(a arg) (cu.DevicePtr, error) {
	if a.buf <= bufLnFB {
		d, ok := r.m.w[wkey{a.buf, a.layer}]
		if !ok {
			return 0, fmt.Errorf("no weight buffer %d for layer %d", a.buf, a.layer)
		}
		return d, nil
	}
	d, ok := r.bufs[a.buf]
	if !ok {
		return 0, fmt.Errorf("no ragged buffer %d", a.buf)
	}
	if (a.buf == bufKP || a.buf == bufVP) && a.layer >= 0 {
		cfg := r.m.cfg
		d += cu.DevicePtr(4 * int64(a.layer) * int64(r.g.NumBlocks+1) * int64(r.g.BlockSize) * int64(cfg.NEmbd))
	}
	return d, nil
}

// Close releases the pool and the scratch buffers.
func (r *Ragged) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	exit, err := r.m.enter()
	if err != nil {
		if errors.Is(err, errClosed) {
			return nil // the context took everything with it
		}
		return err
	}
	defer exit()
	r.free()
	return nil
}

// free releases the device memory and the stream (context current).
func (r *Ragged) free() {
	r.stream.Synchronize()
	r.dropGraphs()
	for b, d := range r.bufs {
		cu.MemFree(d)
		delete(r.bufs, b)
	}
	r.stream.Destroy()
}
