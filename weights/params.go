package weights

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gpt2bench/gpt2bench/internal/sysmem"
	"github.com/gpt2bench/gpt2bench/model"
)

// transposed lists the Conv1D weights that Hugging Face stores [in, out] and
// Params holds [out, in] (nanoGPT's list): they are transposed once, here.
var transposed = []string{"attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight"}

func isTransposed(name string) bool {
	for _, s := range transposed {
		if strings.HasSuffix(name, "."+s) {
			return true
		}
	}
	return false
}

// ignored reports tensors a checkpoint may hold that the engine does not use:
// the causal-mask buffers of older transformers versions.
func ignored(name string) bool {
	return strings.HasSuffix(name, ".attn.bias") || strings.HasSuffix(name, ".attn.masked_bias")
}

// maxListed bounds how many tensor problems one error lists.
const maxListed = 20

// index maps names without the "transformer." prefix to the stored tensors.
func index(ts []tensorInfo) (map[string]tensorInfo, error) {
	m := make(map[string]tensorInfo, len(ts))
	for _, t := range ts {
		name := strings.TrimPrefix(t.name, "transformer.")
		if prev, dup := m[name]; dup {
			return nil, fmt.Errorf("tensors %s and %s are the same parameter; keep one", prev.name, t.name)
		}
		m[name] = t
	}
	return m, nil
}

// hfShape returns the shape a checkpoint stores for s: Params' shape, reversed
// for a transposed Conv1D weight.
func hfShape(s model.ParamShape) []int {
	if isTransposed(s.Name) {
		return []int{s.Shape[1], s.Shape[0]}
	}
	return s.Shape
}

// buildParams checks every tensor of src against cfg (checkTensors) and the
// memory they need against what is available, then converts them to
// float32 Params, checking every value is finite. It returns the stored
// dtypes, e.g. "float16". A tied config with an lm_head.weight of its own
// is checked to equal wte: the head is never silently dropped.
func buildParams(ctx context.Context, src source, cfg model.Config) (*model.Params, string, error) {
	byName, err := index(src.tensors())
	if err != nil {
		return nil, "", err
	}
	p := &model.Params{}
	shapes := p.Shapes(cfg)
	dtypes, err := checkTensors(byName, shapes, cfg)
	if err != nil {
		return nil, "", err
	}
	scratch := 0 // the largest transposed weight: read into tmp, then transposed
	for _, s := range shapes {
		if isTransposed(s.Name) {
			scratch = max(scratch, s.Shape[0]*s.Shape[1])
		}
	}
	head, tiedHead := byName["lm_head.weight"]
	tiedHead = tiedHead && !cfg.UntiedLMHead
	if tiedHead {
		scratch = max(scratch, cfg.VocabSize*cfg.NEmbd)
	}
	need := 4 * (cfg.NumParams() + int64(scratch))
	what := fmt.Sprintf("the float32 weights of this config (%.1fM parameters, n_layer %d, n_embd %d, vocab_size %d, n_positions %d)",
		float64(cfg.NumParams())/1e6, cfg.NLayer, cfg.NEmbd, cfg.VocabSize, cfg.NPositions)
	if err := sysmem.Check(what, need); err != nil {
		return nil, "", err
	}
	tmp := make([]float32, scratch)
	for _, s := range shapes {
		if err := ctx.Err(); err != nil {
			return nil, "", err
		}
		name := byName[s.Name].name
		n := 1
		for _, d := range s.Shape {
			n *= d
		}
		dst := make([]float32, n)
		if !isTransposed(s.Name) {
			if err := src.float32(name, dst); err != nil {
				return nil, "", err
			}
			if err := finite(name, dst, s.Shape); err != nil {
				return nil, "", err
			}
			*s.Ptr = dst
			continue
		}
		// HF Conv1D [in, out] -> Params [out, in].
		out, in := s.Shape[0], s.Shape[1]
		buf := tmp[:n]
		if err := src.float32(name, buf); err != nil {
			return nil, "", err
		}
		if err := finite(name, buf, []int{in, out}); err != nil {
			return nil, "", err
		}
		transpose(dst, buf, in, out)
		*s.Ptr = dst
	}
	if tiedHead {
		buf := tmp[:len(p.WTE)]
		if err := src.float32(head.name, buf); err != nil {
			return nil, "", err
		}
		for i, v := range buf {
			if math.Float32bits(v) != math.Float32bits(p.WTE[i]) {
				return nil, "", fmt.Errorf("%s differs from wte.weight (first at element %d: %g vs %g) but the config ties them (tie_word_embeddings true); set tie_word_embeddings false in config.json to use the checkpoint's own LM head",
					head.name, i, v, p.WTE[i])
			}
		}
	}
	return p, dtypes, nil
}

// finite returns an error naming tensor name (HF shape) and the index of
// its first NaN or Inf, if any.
func finite(name string, v []float32, shape []int) error {
	for i, x := range v {
		if b := math.Float32bits(x); b&0x7f800000 == 0x7f800000 { // exponent all ones: Inf or NaN
			idx := make([]int, len(shape))
			for k, r := len(shape)-1, i; k >= 0; k-- {
				idx[k], r = r%shape[k], r/shape[k]
			}
			return fmt.Errorf("%s holds %v at index %v (element %d): the checkpoint is corrupt; re-download it or re-save it from a model without NaN or Inf weights", name, x, idx, i)
		}
	}
	return nil
}

// checkTensors checks the indexed tensors against the Params shapes of cfg,
// naming every missing, unexpected, mis-shaped and unsupported tensor in one
// error. It returns the stored dtypes, "+"-joined in a fixed order.
func checkTensors(byName map[string]tensorInfo, shapes []model.ParamShape, cfg model.Config) (string, error) {
	var errs []error
	want := make(map[string]bool, len(shapes))
	dtypes := map[string]bool{}
	for _, s := range shapes {
		want[s.Name] = true
		hf := hfShape(s)
		t, ok := byName[s.Name]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("missing tensor %s (want shape %v)", s.Name, hf))
			continue
		case !slices.Equal(t.shape, hf):
			errs = append(errs, fmt.Errorf("%s: shape %v, want %v", t.name, t.shape, hf))
		}
		switch t.dtype {
		case "float32", "float16", "bfloat16":
			dtypes[t.dtype] = true
		default:
			errs = append(errs, fmt.Errorf("%s: unsupported dtype %s (want float32, float16 or bfloat16)", t.name, t.dtype))
		}
	}
	V, C := cfg.VocabSize, cfg.NEmbd
	for _, name := range sortedKeys(byName) {
		t := byName[name]
		switch {
		case want[name] || ignored(name):
		case name == "lm_head.weight": // tied to wte: only the shape is checked
			if !slices.Equal(t.shape, []int{V, C}) {
				errs = append(errs, fmt.Errorf("%s: shape %v, want %v (tied to wte)", t.name, t.shape, []int{V, C}))
			}
		default:
			errs = append(errs, fmt.Errorf("unexpected tensor %s, shape %v", t.name, t.shape))
		}
	}
	if len(errs) > 0 {
		if len(errs) > maxListed {
			errs = append(errs[:maxListed], fmt.Errorf("... and %d more", len(errs)-maxListed))
		}
		// One problem stays on one line; several are listed one per line.
		sep := " "
		if len(errs) > 1 {
			sep = "\n"
		}
		return "", fmt.Errorf("checkpoint does not match the config (n_layer %d, n_head %d, n_embd %d, vocab_size %d, n_positions %d; pass the config.json that belongs to it with --config, or re-download):%s%w",
			cfg.NLayer, cfg.NHead, cfg.NEmbd, cfg.VocabSize, cfg.NPositions, sep, errors.Join(errs...))
	}
	var dts []string
	for _, d := range []string{"float32", "float16", "bfloat16"} {
		if dtypes[d] {
			dts = append(dts, d)
		}
	}
	return strings.Join(dts, "+"), nil
}

// transpose writes dst [cols, rows] = srcᵀ for src [rows, cols], in blocks so
// both sides stay in cache.
func transpose(dst, src []float32, rows, cols int) {
	const bs = 32
	for r0 := 0; r0 < rows; r0 += bs {
		r1 := min(r0+bs, rows)
		for c0 := 0; c0 < cols; c0 += bs {
			c1 := min(c0+bs, cols)
			for r := r0; r < r1; r++ {
				row := src[r*cols : (r+1)*cols]
				for c := c0; c < c1; c++ {
					dst[c*rows+r] = row[c]
				}
			}
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// headsByWidth holds n_head of the released GPT-2 sizes, by n_embd.
var headsByWidth = map[int]int{768: 12, 1024: 16, 1280: 20, 1600: 25}

// inferConfig derives a config from tensor shapes: V and C from wte, maxT
// from wpe, L from the h.N blocks, the MLP width from h.0.mlp.c_fc. n_head
// is not in the shapes: it is taken from the released model of the same
// width, else C/64 (the GPT-2 head size); the note says which.
func inferConfig(ts []tensorInfo) (model.Config, string, error) {
	byName, err := index(ts)
	if err != nil {
		return model.Config{}, "", err
	}
	wte, ok1 := byName["wte.weight"]
	wpe, ok2 := byName["wpe.weight"]
	if !ok1 || !ok2 || len(wte.shape) != 2 || len(wpe.shape) != 2 {
		return model.Config{}, "", fmt.Errorf("cannot infer the config: need 2-D wte.weight and wpe.weight tensors; pass --config with the model's config.json")
	}
	V, C, T := wte.shape[0], wte.shape[1], wpe.shape[0]
	L := 0
	for name := range byName {
		rest, ok := strings.CutPrefix(name, "h.")
		if !ok {
			continue
		}
		i, err := strconv.Atoi(rest[:max(strings.IndexByte(rest, '.'), 0)])
		if err == nil && i >= 0 && i < 1<<16 {
			L = max(L, i+1)
		}
	}
	inner := 0
	if fc, ok := byName["h.0.mlp.c_fc.weight"]; ok && len(fc.shape) == 2 && fc.shape[1] != 4*C {
		inner = fc.shape[1]
	}
	nh, note := headsByWidth[C], ""
	switch {
	case nh > 0:
		note = fmt.Sprintf("config inferred from the tensor shapes; n_head %d assumed from n_embd %d (the released GPT-2 of that width); pass --config if that is wrong", nh, C)
	case C >= 64 && C%64 == 0:
		nh = C / 64
		note = fmt.Sprintf("config inferred from the tensor shapes; n_head %d assumed from n_embd %d / head size 64; pass --config if that is wrong", nh, C)
	default:
		return model.Config{}, "", fmt.Errorf("cannot infer n_head for n_embd %d (not a released GPT-2 width nor a multiple of 64); pass --config with the model's config.json", C)
	}
	cfg := model.Config{VocabSize: V, NPositions: T, NEmbd: C, NLayer: L, NHead: nh, NInner: inner, LayerNormEps: 1e-5, Activation: "gelu_new"}
	if err := cfg.Validate(); err != nil {
		return model.Config{}, "", fmt.Errorf("cannot infer the config: %w; pass --config with the model's config.json", err)
	}
	return cfg, note, nil
}
