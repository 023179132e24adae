package model

import (
	"context"
	"fmt"
	"math"

	"github.com/gpt2bench/gpt2bench/internal/sysmem"
	"github.com/gpt2bench/gpt2bench/tensor"
)

// KVBlocks is a paged KV cache: a pool of fixed-size blocks, each holding
// the keys and values of BlockSize positions for every layer. Which blocks
// hold which positions of which sequence is the caller's: each sequence
// brings a block table (SeqStep.Blocks) whose entry i holds its positions
// i*BlockSize .. (i+1)*BlockSize-1. engine/ allocates blocks, shares full
// prefix blocks between sequences and hands the tables to Ragged.Step.
//
// A lockstep Session is the special case of one block per sequence, as
// long as the context (BlockSize = capacity, block b for sequence b).
//
// The cache stores float32 (F32) or IEEE half (F16, --kv-dtype f16):
// half keys and values are rounded once, when a step writes them, and
// widened as attention reads them, so a long-context decode step reads
// half the bytes.
type KVBlocks struct {
	cfg       Config
	dtype     tensor.DType
	blockSize int
	numBlocks int
	k, v      []float32 // [L, numBlocks, blockSize, C] (F32)
	kh, vh    []uint16  // [L, numBlocks, blockSize, C] (F16)
}

// KVBytesPerToken returns the memory one cached position takes in a
// float32 KV cache: keys and values of every layer, 2·L·C·4 bytes.
func KVBytesPerToken(cfg Config) int64 { return KVBytesPerTokenOf(cfg, tensor.F32) }

// KVBytesPerTokenOf returns the memory one cached position takes in a KV
// cache of dt (F32 or F16): 2·L·C·dt.ElemBytes() bytes.
func KVBytesPerTokenOf(cfg Config, dt tensor.DType) int64 {
	return int64(2*cfg.NLayer*cfg.NEmbd) * kvElemBytes(dt)
}

func kvElemBytes(dt tensor.DType) int64 {
	if dt == tensor.F16 {
		return 2
	}
	return 4
}

// CheckKVDType returns an error unless dt is a KV cache dtype (F32, F16).
func CheckKVDType(dt tensor.DType) error {
	if dt != tensor.F32 && dt != tensor.F16 {
		return fmt.Errorf("model: KV cache dtype %v, want f32 or f16", dt)
	}
	return nil
}

// NewKVBlocks allocates numBlocks blocks of blockSize positions each for
// the architecture cfg: 2·L·numBlocks·blockSize·C float32s.
func NewKVBlocks(cfg Config, blockSize, numBlocks int) (*KVBlocks, error) {
	return NewKVBlocksOf(cfg, tensor.F32, blockSize, numBlocks)
}

// NewKVBlocksOf is NewKVBlocks storing dt (F32 or F16): 2·L·numBlocks·
// blockSize·C values of KVBytesPerTokenOf(cfg, dt)/(2·L·C) bytes.
func NewKVBlocksOf(cfg Config, dt tensor.DType, blockSize, numBlocks int) (*KVBlocks, error) {
	if err := CheckKVDType(dt); err != nil {
		return nil, err
	}
	if blockSize < 1 || numBlocks < 1 {
		return nil, fmt.Errorf("model: KV cache of %d blocks of %d positions, want >= 1 of each", numBlocks, blockSize)
	}
	n := int64(cfg.NLayer) * int64(numBlocks) * int64(blockSize) * int64(cfg.NEmbd)
	if n > math.MaxInt32*int64(64) { // 2^37 floats = 512 GiB per tensor: nothing real asks for this
		return nil, fmt.Errorf("model: KV cache of %d blocks of %d positions is %d values per tensor; too large", numBlocks, blockSize, n)
	}
	what := fmt.Sprintf("model: a KV cache of %d block(s) of %d positions (2·n_layer %d·n_embd %d %s values per position)", numBlocks, blockSize, cfg.NLayer, cfg.NEmbd, dt)
	if err := sysmem.Check(what, 2*kvElemBytes(dt)*n); err != nil {
		return nil, fmt.Errorf("%w; ask for fewer positions or sequences", err)
	}
	kv := &KVBlocks{cfg: cfg, dtype: dt, blockSize: blockSize, numBlocks: numBlocks}
	if dt == tensor.F16 {
		kv.kh, kv.vh = make([]uint16, n), make([]uint16, n)
	} else {
		kv.k, kv.v = make([]float32, n), make([]float32, n)
	}
	return kv, nil
}

// DType returns what the cache stores: F32 or F16.
func (kv *KVBlocks) DType() tensor.DType { return kv.dtype }

// BlockSize returns the positions each block holds.
func (kv *KVBlocks) BlockSize() int { return kv.blockSize }

// NumBlocks returns the number of blocks in the pool.
func (kv *KVBlocks) NumBlocks() int { return kv.numBlocks }

// Bytes returns the memory the pool occupies.
func (kv *KVBlocks) Bytes() int64 {
	return int64(4*(len(kv.k)+len(kv.v)) + 2*(len(kv.kh)+len(kv.vh)))
}

// offset returns the index of cache row [l, blk, j, :].
func (kv *KVBlocks) offset(l, blk, j int) int {
	return ((l*kv.numBlocks+blk)*kv.blockSize + j) * kv.cfg.NEmbd
}

// Fill sets every key and value of block blk to x in every layer. Tests
// poison free blocks with NaN this way, so that a step that reads a block
// outside its tables shows up in its logits.
func (kv *KVBlocks) Fill(blk int, x float32) {
	n := kv.blockSize * kv.cfg.NEmbd
	h := tensor.FloatToHalf(x)
	for l := range kv.cfg.NLayer {
		o := kv.offset(l, blk, 0)
		for i := o; i < o+n; i++ {
			if kv.dtype == tensor.F16 {
				kv.kh[i], kv.vh[i] = h, h
			} else {
				kv.k[i], kv.v[i] = x, x
			}
		}
	}
}

// LogitMode says which rows of a sequence's step get next-token logits.
type LogitMode uint8

const (
	// LogitsNone computes no logits for the sequence (a prompt chunk that
	// does not reach the prompt's end).
	LogitsNone LogitMode = iota
	// LogitsLast computes the logits of the last new token only.
	LogitsLast
	// LogitsAll computes the logits of every new token (prompt log-probs).
	LogitsAll
)

// SeqStep is one sequence's share of a ragged step.
type SeqStep struct {
	Tokens []int32   // the new tokens: a chunk of the prompt, or the token sampled last
	Pos    int       // positions already cached; Tokens take positions Pos .. Pos+len(Tokens)-1
	Blocks []int32   // block table: Blocks[i] holds positions i*BlockSize ..; covers Pos+len(Tokens)
	Logits LogitMode // which rows get logits
}

// Ragged runs ragged steps of a Model over a paged KV cache on the CPU:
// every sequence of a step brings its own new tokens, position and block
// table; the linear layers see all rows of the step at once, and each
// row's attention reads its own sequence's blocks. It owns the scratch
// buffers of the forward pass (grown only), so a steady-state step does
// not allocate. A Ragged is used by one goroutine at a time.
type Ragged struct {
	m       *Model
	kv      *KVBlocks
	run     *tensor.Runner
	tracer  Tracer
	labeler LabelTracer
	hidden  HiddenFunc

	// Scratch, sized for N rows on first use and only grown.
	rows int
	x    []float32 // [N, C] residual stream
	xn   []float32 // [N, C] layer-norm output
	qkv  []float32 // [N, 3C]
	y    []float32 // [N, C] attention output before projection
	proj []float32 // [N, C] projection output
	h    []float32 // [N, F] MLP hidden
	last []float32 // [nLogit, C] final-norm rows of LogitsLast sequences

	rowSeq []int32 // [N] the sequence of each row
	rowPos []int32 // [N] the position of each row
	rowAtt []int   // [N+1] offset of each row's scores in att: Σ NH·(pos+1) of the rows before
	logRow []int32 // [N] rows whose logits are wanted, in output order
	att    []float32
	seqs   []SeqStep // the step being run
	attJob raggedAttention

	// The fused attention of sequences with many new rows (prefill).
	rowFused []bool    // [N] the row's attention is fused
	fusedSeq []int32   // sequences whose attention is fused
	fusedRow []int32   // their first row
	flash    []float32 // [len(fusedSeq)·NH, tensor.AttnCausalScratch] scratch per item
	flashJob flashAttention
}

// NewRagged returns a Ragged that runs m over the blocks of kv.
func (m *Model) NewRagged(kv *KVBlocks) (*Ragged, error) {
	if kv.cfg != m.cfg {
		return nil, fmt.Errorf("model: KV blocks were made for another architecture")
	}
	return &Ragged{m: m, kv: kv, run: m.pool.NewRunner()}, nil
}

// SetTracer installs t (nil to remove) to receive every op's boundaries.
func (r *Ragged) SetTracer(t Tracer) {
	r.tracer = t
	r.labeler, _ = t.(LabelTracer)
	r.run.ClearLabels()
}

// SetHidden installs f (nil to remove) to receive the residual stream.
func (r *Ragged) SetHidden(f HiddenFunc) { r.hidden = f }

// SetBatchInvariant makes every row's result independent of the other
// rows of its step, bit for bit (tensor.Runner.SetBatchInvariant): a
// sequence then gets the same logits alone, mixed into any batch, or
// after a prefix-cache hit, at some cost in speed (and without the fused
// attention of prefill). Attention row by row, layer norm and the
// activations are row-invariant already.
func (r *Ragged) SetBatchInvariant(on bool) { r.run.SetBatchInvariant(on) }

// KV returns the blocks the steps read and write.
func (r *Ragged) KV() *KVBlocks { return r.kv }

// Config returns the model's architecture.
func (r *Ragged) Config() Config { return r.m.cfg }

// LogitRowsOf returns how many logit rows seqs ask for: the length of a
// Step's logits buffer is that times V.
func LogitRowsOf(seqs []SeqStep) int {
	n := 0
	for _, s := range seqs {
		switch s.Logits {
		case LogitsLast:
			n++
		case LogitsAll:
			n += len(s.Tokens)
		}
	}
	return n
}

// CheckSeqs validates a ragged step against cfg and a pool of numBlocks
// blocks of blockSize positions: every sequence has tokens inside the
// vocabulary, stays inside the context and has a block table that covers
// its new positions with valid block ids.
func CheckSeqs(cfg Config, blockSize, numBlocks int, seqs []SeqStep) error {
	if len(seqs) == 0 {
		return fmt.Errorf("model: ragged step with no sequences")
	}
	for i, s := range seqs {
		if len(s.Tokens) == 0 {
			return fmt.Errorf("model: sequence %d of the step has no tokens", i)
		}
		if s.Pos < 0 {
			return fmt.Errorf("model: sequence %d at position %d, want >= 0", i, s.Pos)
		}
		end := s.Pos + len(s.Tokens)
		if end > cfg.NPositions {
			return &ContextError{Have: end, Max: cfg.NPositions}
		}
		if need := (end + blockSize - 1) / blockSize; len(s.Blocks) < need {
			return fmt.Errorf("model: sequence %d needs %d blocks for %d positions, its table has %d", i, need, end, len(s.Blocks))
		}
		for _, b := range s.Blocks[:(end+blockSize-1)/blockSize] {
			if b < 0 || int(b) >= numBlocks {
				return fmt.Errorf("model: sequence %d uses block %d, the pool has %d", i, b, numBlocks)
			}
		}
		for t, id := range s.Tokens {
			if id < 0 || int(id) >= cfg.VocabSize {
				return fmt.Errorf("model: token %d at sequence %d position %d is outside the vocabulary [0, %d)", id, i, s.Pos+t, cfg.VocabSize)
			}
		}
		if s.Logits > LogitsAll {
			return fmt.Errorf("model: sequence %d has logit mode %d", i, s.Logits)
		}
	}
	return nil
}

// RaggedStepShape returns the Step a Tracer receives for seqs: B is the
// number of sequences, Rows their new tokens, Pairs the (query, key) pairs
// per head, Cached the positions held after the step, LogitRows the rows
// through the LM head, Decodes the sequences that advance by one token.
func RaggedStepShape(seqs []SeqStep) Step {
	st := Step{B: len(seqs), Ragged: true}
	for _, s := range seqs {
		T, P := len(s.Tokens), s.Pos
		st.Rows += T
		st.Pairs += int64(T*P + T*(T+1)/2)
		st.Cached += P + T
		if T == 1 {
			st.Decodes++
		}
		switch s.Logits {
		case LogitsLast:
			st.LogitRows++
		case LogitsAll:
			st.LogitRows += T
		}
	}
	if st.B > 0 && st.Rows%st.B == 0 {
		st.T = st.Rows / st.B
	}
	return st
}

// Step runs one forward pass over the new tokens of every sequence in
// seqs, storing their keys and values in the sequences' blocks, and writes
// next-token logits [LogitRowsOf(seqs), V], in the order of seqs (every
// row of a LogitsAll sequence, the last row of a LogitsLast one). Blocks
// shared between sequences must only be read: a step never writes
// positions below a sequence's Pos.
func (r *Ragged) Step(ctx context.Context, seqs []SeqStep, logits []float32) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := CheckSeqs(r.m.cfg, r.kv.blockSize, r.kv.numBlocks, seqs); err != nil {
		return err
	}
	if n, want := len(logits), LogitRowsOf(seqs)*r.m.cfg.VocabSize; n != want {
		return fmt.Errorf("model: logits buffer has %d values, the step wants %d (%d rows of %d)", n, want, LogitRowsOf(seqs), r.m.cfg.VocabSize)
	}
	if r.tracer != nil {
		r.tracer.BeginStep(RaggedStepShape(seqs))
	}
	r.forward(seqs, logits)
	if r.tracer != nil {
		r.tracer.EndStep()
	}
	return nil
}

// forward runs a validated step.
func (r *Ragged) forward(seqs []SeqStep, logits []float32) {
	r.seqs = seqs
	N := r.layout(seqs)
	r.embed(N)
	r.observe(0, N)
	for l := range r.m.layers {
		r.block(l, N)
		if l < len(r.m.layers)-1 {
			r.observe(l+1, N)
		}
	}
	r.logits(logits, N)
	r.seqs = nil
}

// layout fills the per-row bookkeeping of a step and sizes the scratch
// buffers; it returns N, the rows of the step. It allocates only when a
// step is larger than every step before it.
func (r *Ragged) layout(seqs []SeqStep) int {
	cfg := r.m.cfg
	N := 0
	for _, s := range seqs {
		N += len(s.Tokens)
	}
	C, F, NH := cfg.NEmbd, cfg.Inner(), cfg.NHead
	if N > r.rows {
		r.rows = N
		r.x = make([]float32, N*C)
		r.xn = make([]float32, N*C)
		r.qkv = make([]float32, N*3*C)
		r.y = make([]float32, N*C)
		r.proj = make([]float32, N*C)
		r.h = make([]float32, N*F)
		r.last = make([]float32, N*C)
		r.rowSeq = make([]int32, N)
		r.rowPos = make([]int32, N)
		r.rowAtt = make([]int, N+1)
		r.logRow = make([]int32, N)
	}
	i, att, nl := 0, 0, 0
	for si, s := range seqs {
		for t := range s.Tokens {
			r.rowSeq[i] = int32(si)
			r.rowPos[i] = int32(s.Pos + t)
			r.rowAtt[i] = att
			att += NH * (s.Pos + t + 1)
			if s.Logits == LogitsAll || (s.Logits == LogitsLast && t == len(s.Tokens)-1) {
				r.logRow[nl] = int32(i)
				nl++
			}
			i++
		}
	}
	r.rowAtt[N] = att
	if att > len(r.att) {
		r.att = make([]float32, att)
	}
	return N
}

func (r *Ragged) begin(l int, op Op) {
	if r.tracer != nil {
		r.tracer.BeginOp(l, op)
		if r.labeler != nil {
			r.run.SetLabels(r.labeler.Labels())
		}
	}
}

func (r *Ragged) end(l int, op Op) {
	if r.tracer != nil {
		r.tracer.EndOp(l, op)
	}
}

func (r *Ragged) observe(i, N int) {
	if r.hidden != nil {
		r.hidden(i, r.x[:N*r.m.cfg.NEmbd])
	}
}

// embed writes x[i] = wte[token of row i] + wpe[position of row i].
func (r *Ragged) embed(N int) {
	r.begin(-1, OpEmbed)
	C := r.m.cfg.NEmbd
	i := 0
	for _, s := range r.seqs {
		for t, id := range s.Tokens {
			xr := r.x[i*C : (i+1)*C]
			r.m.wte.Row(xr, int(id))
			p := s.Pos + t
			tensor.Add(xr, r.m.wpe[p*C:(p+1)*C])
			i++
		}
	}
	r.end(-1, OpEmbed)
}

// block runs transformer block l on the N rows of x:
// x += attn(ln_1(x)); x += mlp(ln_2(x)).
func (r *Ragged) block(l, N int) {
	w := &r.m.layers[l]
	cfg := r.m.cfg
	C, F := cfg.NEmbd, cfg.Inner()
	x, xn := r.x[:N*C], r.xn[:N*C]

	r.begin(l, OpLN1)
	r.run.LayerNorm(xn, x, w.ln1W, w.ln1B, N, C, cfg.LayerNormEps) // rows split across threads when N is large
	r.end(l, OpLN1)

	r.begin(l, OpQKV)
	qkv := r.qkv[:N*3*C]
	r.run.Linear(qkv, xn, w.attnW, w.attnB, N) // [N, 3C]
	r.storeKV(l, N)
	r.end(l, OpQKV)

	r.attention(l, N) // y [N, C]

	r.begin(l, OpAttnProj)
	proj := r.proj[:N*C]
	r.run.Linear(proj, r.y[:N*C], w.projW, w.projB, N)
	r.end(l, OpAttnProj)

	r.begin(l, OpResidual1)
	tensor.Add(x, proj)
	r.end(l, OpResidual1)

	r.begin(l, OpLN2)
	r.run.LayerNorm(xn, x, w.ln2W, w.ln2B, N, C, cfg.LayerNormEps)
	r.end(l, OpLN2)

	r.begin(l, OpMLPUp)
	h := r.h[:N*F]
	r.run.LinearAct(h, xn, w.fcW, w.fcB, N, r.m.act) // [N, F], GELU fused on each thread's columns
	r.end(l, OpMLPUp)

	r.begin(l, OpGELU) // fused into mlp_up above: this op now times ~0
	r.end(l, OpGELU)

	r.begin(l, OpMLPDown)
	r.run.Linear(proj, h, w.fcProjW, w.fcProjB, N) // [N, C]
	r.end(l, OpMLPDown)

	r.begin(l, OpResidual2)
	tensor.Add(x, proj)
	r.end(l, OpResidual2)
}

// storeKV copies the new keys and values of layer l from qkv [N, 3C]
// (q | k | v per row) into each row's block at its position.
func (r *Ragged) storeKV(l, N int) {
	C, bs := r.m.cfg.NEmbd, r.kv.blockSize
	for i := range N {
		row := r.qkv[i*3*C : (i+1)*3*C]
		p := int(r.rowPos[i])
		blk := int(r.seqs[r.rowSeq[i]].Blocks[p/bs])
		off := r.kv.offset(l, blk, p%bs)
		if r.kv.dtype == tensor.F16 { // rounded once, here
			tensor.NarrowF16(r.kv.kh[off:off+C], row[C:2*C])
			tensor.NarrowF16(r.kv.vh[off:off+C], row[2*C:3*C])
			continue
		}
		copy(r.kv.k[off:off+C], row[C:2*C])
		copy(r.kv.v[off:off+C], row[2*C:3*C])
	}
}

// logits applies ln_f and the tied LM head to the rows that want logits:
// logits = ln_f(x)·wteᵀ.
func (r *Ragged) logits(logits []float32, N int) {
	cfg := r.m.cfg
	C := cfg.NEmbd
	n := len(logits) / cfg.VocabSize
	if n == 0 {
		return
	}
	r.begin(-1, OpLNF)
	rows := r.last[:n*C]
	if n == N { // every row: one call, and the residual stream after ln_f for a HiddenFunc
		tensor.LayerNorm(rows, r.x[:N*C], r.m.lnFW, r.m.lnFB, N, C, cfg.LayerNormEps)
		if r.hidden != nil {
			r.hidden(cfg.NLayer, rows)
		}
	} else {
		for j, i := range r.logRow[:n] {
			tensor.LayerNorm(rows[j*C:(j+1)*C], r.x[int(i)*C:(int(i)+1)*C], r.m.lnFW, r.m.lnFB, 1, C, cfg.LayerNormEps)
		}
	}
	r.end(-1, OpLNF)
	r.begin(-1, OpLogits)
	r.run.Linear(logits, rows, r.m.lmHead, nil, n) // [n, V]
	r.end(-1, OpLogits)
}

// attention computes causal self-attention of layer l for every row
// against its own sequence's cached positions, head by head:
//
//	s = q·Kᵀ/√HS   [N, NH, pos+1] (row i sees positions 0..pos_i of its sequence)
//	a = softmax(s)
//	y = a·V        [N, C], heads side by side
//
// Keys and values are read block by block through the sequence's table.
// With a Tracer the three stages run as separate parallel passes so that it
// times each; without one, each (row, head) runs all three in one pass
// (decode's attention at short depths costs less than two more passes'
// start and barrier). Sequences whose new rows take tensor's fused attention
// (tensor.AttnFused: prefill with AVX-512; not under a Probe, which reads
// the scores), one pass per (sequence, head) that reads each block of keys
// once per 16 rows: it runs, and is timed, with the scores stage, and
// their rows skip the three passes.
func (r *Ragged) attention(l, N int) {
	cfg := r.m.cfg
	scale := float32(1 / math.Sqrt(float64(cfg.HeadSize())))
	r.attJob = raggedAttention{r: r, l: l, scale: scale}
	r.flashJob = flashAttention{r: r, l: l, scale: scale}
	nf := r.markFused(N)
	items := N * cfg.NHead // one (row, head) per item
	if r.tracer == nil {
		if nf > 0 {
			r.run.For(nf*cfg.NHead, 1, &r.flashJob)
		}
		r.attJob.first, r.attJob.last = stageScores, stageValues
		r.run.For(items, 1, &r.attJob)
		return
	}
	for _, st := range [...]struct {
		op    Op
		stage int
	}{{OpAttnScores, stageScores}, {OpAttnSoftmax, stageSoftmax}, {OpAttnValues, stageValues}} {
		r.begin(l, st.op)
		if st.stage == stageScores && nf > 0 {
			r.run.For(nf*cfg.NHead, 1, &r.flashJob)
		}
		r.attJob.first, r.attJob.last = st.stage, st.stage
		r.run.For(items, 1, &r.attJob)
		r.end(l, st.op)
	}
}

// markFused marks the rows of the sequences whose attention is fused and
// sizes the fused pass's scratch; it returns how many sequences.
func (r *Ragged) markFused(N int) int {
	HS := r.m.cfg.HeadSize()
	if len(r.rowFused) < N {
		r.rowFused = make([]bool, N)
		r.fusedSeq = make([]int32, N)
		r.fusedRow = make([]int32, N)
	}
	nf, row, longest := 0, 0, 0
	_, probing := r.tracer.(*Probe)
	for si, s := range r.seqs {
		nq := len(s.Tokens)
		// Not in batch-invariant mode: how a prompt is cut into chunks
		// depends on the other requests, and the fused pass sums in
		// another order than the rows' passes. Not under a Probe either:
		// it reads the scores and probabilities the passes keep.
		fused := tensor.AttnFused(nq, HS) && !r.run.BatchInvariant() && !probing
		for i := row; i < row+nq; i++ {
			r.rowFused[i] = fused
		}
		if fused {
			r.fusedSeq[nf], r.fusedRow[nf] = int32(si), int32(row)
			nf++
			longest = max(longest, s.Pos+nq)
		}
		row += nq
	}
	if nf > 0 {
		r.flashJob.scratch = tensor.AttnCausalScratch(longest, HS)
		if r.kv.dtype == tensor.F16 {
			r.flashJob.scratch = tensor.AttnCausalScratchF16(longest, HS)
		}
		if n := nf * r.m.cfg.NHead * r.flashJob.scratch; n > len(r.flash) {
			r.flash = make([]float32, n)
		}
	}
	return nf
}

// flashAttention runs the fused attention of items (fused sequence, head)
// in [lo, hi), item = sequence·NH + head.
type flashAttention struct {
	r       *Ragged
	l       int
	scale   float32
	scratch int // floats of r.flash per item
}

func (a *flashAttention) Run(lo, hi int) {
	r := a.r
	cfg := r.m.cfg
	kv := r.kv
	C, NH, HS := cfg.NEmbd, cfg.NHead, cfg.HeadSize()
	for it := lo; it < hi; it++ {
		f, h := it/NH, it%NH
		s := r.seqs[r.fusedSeq[f]]
		row := int(r.fusedRow[f])
		nq := len(s.Tokens)
		q := r.qkv[row*3*C+h*HS : (row+nq-1)*3*C+(h+1)*HS]
		y := r.y[row*C+h*HS : (row+nq-1)*C+(h+1)*HS]
		if kv.dtype == tensor.F16 {
			tensor.AttnCausalPagedF16(y, C, q, 3*C, kv.kh, kv.vh, C, s.Blocks, kv.blockSize, kv.offset(a.l, 0, 0)+h*HS,
				s.Pos, nq, HS, a.scale, r.flash[it*a.scratch:(it+1)*a.scratch])
			continue
		}
		tensor.AttnCausalPaged(y, C, q, 3*C, kv.k, kv.v, C, s.Blocks, kv.blockSize, kv.offset(a.l, 0, 0)+h*HS,
			s.Pos, nq, HS, a.scale, r.flash[it*a.scratch:(it+1)*a.scratch])
	}
}

const (
	stageScores = iota
	stageSoftmax
	stageValues
)

// raggedAttention runs the stages first..last of attention over items
// (row, head) in [lo, hi), item = row·NH + head.
type raggedAttention struct {
	r           *Ragged
	l           int
	scale       float32
	first, last int // stages
}

// Run implements tensor.Task.
func (a *raggedAttention) Run(lo, hi int) {
	r := a.r
	NH := r.m.cfg.NHead
	for it := lo; it < hi; it++ {
		i, h := it/NH, it%NH
		if r.rowFused[i] {
			continue
		}
		n := int(r.rowPos[i]) + 1 // causal: the row sees positions 0..pos
		scores := r.att[r.rowAtt[i]+h*n : r.rowAtt[i]+(h+1)*n]
		blocks := r.seqs[r.rowSeq[i]].Blocks
		for st := a.first; st <= a.last; st++ {
			a.stage(st, i, h, n, scores, blocks)
		}
	}
}

// stage runs stage st for row i, head h, over a float32 or half cache.
func (a *raggedAttention) stage(st, i, h, n int, scores []float32, blocks []int32) {
	r := a.r
	kv := r.kv
	cfg := r.m.cfg
	C, HS, bs := cfg.NEmbd, cfg.HeadSize(), kv.blockSize
	f16 := kv.dtype == tensor.F16
	switch st {
	case stageScores:
		q := r.qkv[i*3*C+h*HS : i*3*C+(h+1)*HS]
		for p0 := 0; p0 < n; p0 += bs {
			m := min(bs, n-p0)
			head := kv.offset(a.l, int(blocks[p0/bs]), 0) + h*HS
			if f16 {
				tensor.AttnScoresF16(scores[p0:p0+m], q, kv.kh[head:head+(m-1)*C+HS], C, a.scale)
			} else {
				tensor.AttnScores(scores[p0:p0+m], q, kv.k[head:head+(m-1)*C+HS], C, a.scale)
			}
		}
	case stageSoftmax:
		tensor.Softmax(scores)
	case stageValues:
		y := r.y[i*C+h*HS : i*C+(h+1)*HS]
		if f16 {
			clear(y)
		}
		for p0 := 0; p0 < n; p0 += bs {
			m := min(bs, n-p0)
			head := kv.offset(a.l, int(blocks[p0/bs]), 0) + h*HS
			switch {
			case f16:
				tensor.AttnValuesAddF16(y, scores[p0:p0+m], kv.vh[head:head+(m-1)*C+HS], C)
			case p0 == 0: // the first block writes y, later ones add to it
				tensor.AttnValues(y, scores[:m], kv.v[head:head+(m-1)*C+HS], C)
			default:
				tensor.AttnValuesAdd(y, scores[p0:p0+m], kv.v[head:head+(m-1)*C+HS], C)
			}
		}
	}
}
