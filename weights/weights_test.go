package weights

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gpt2bench/gpt2bench/model"
	"github.com/gpt2bench/gpt2bench/weights/hub"
	"github.com/gpt2bench/gpt2bench/weights/safetensors"
)

const (
	tinyDir    = "../testdata/tiny-gpt2"
	tinyF16Dir = "../testdata/tiny-gpt2-f16"
)

var tinyConfig = model.Config{VocabSize: 1024, NPositions: 64, NEmbd: 64, NLayer: 2, NHead: 4, LayerNormEps: 1e-5, Activation: "gelu_new"}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// equalParams reports the first tensor whose bits differ.
func equalParams(t *testing.T, cfg model.Config, got, want *model.Params) {
	t.Helper()
	gs, ws := got.Shapes(cfg), want.Shapes(cfg)
	for i := range gs {
		g, w := *gs[i].Ptr, *ws[i].Ptr
		if len(g) != len(w) {
			t.Fatalf("%s: %d values, want %d", gs[i].Name, len(g), len(w))
		}
		for j := range g {
			if math.Float32bits(g[j]) != math.Float32bits(w[j]) {
				t.Fatalf("%s[%d] = %v, want %v", gs[i].Name, j, g[j], w[j])
			}
		}
	}
}

// hfTensors reads every tensor of a safetensors file as float32, by name.
func hfTensors(t *testing.T, path string) map[string][]float32 {
	t.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]float32{}
	for _, ti := range f.Tensors() {
		v := make([]float32, ti.NumElements())
		if err := f.Float32(ti.Name, v); err != nil {
			t.Fatal(err)
		}
		out[strings.TrimPrefix(ti.Name, "transformer.")] = v
	}
	return out
}

// wantParams builds the Params a loader must produce from HF tensors: the
// same values, Conv1D weights transposed.
func wantParams(t *testing.T, cfg model.Config, hf map[string][]float32) *model.Params {
	t.Helper()
	p := &model.Params{}
	for _, s := range p.Shapes(cfg) {
		v := hf[s.Name]
		if isTransposed(s.Name) {
			out, in := s.Shape[0], s.Shape[1]
			w := make([]float32, len(v))
			for i := range in {
				for o := range out {
					w[o*in+i] = v[i*out+o]
				}
			}
			v = w
		}
		*s.Ptr = v
	}
	return p
}

func TestLoadFixtures(t *testing.T) {
	ctx := context.Background()
	want32 := wantParams(t, tinyConfig, hfTensors(t, filepath.Join(tinyDir, "model.safetensors")))
	want16 := wantParams(t, tinyConfig, hfTensors(t, filepath.Join(tinyF16Dir, "model.safetensors")))
	tests := []struct {
		name   string
		spec   func(t *testing.T) string
		opts   Options
		format string
		dtype  string
		want   *model.Params
	}{
		{"dir-safetensors", func(*testing.T) string { return tinyDir }, Options{}, "safetensors", "float32", want32},
		{"dir-zip-bin", func(t *testing.T) string {
			dir := t.TempDir()
			copyFile(t, filepath.Join(tinyDir, "pytorch_model.bin"), filepath.Join(dir, "pytorch_model.bin"))
			copyFile(t, filepath.Join(tinyDir, "config.json"), filepath.Join(dir, "config.json"))
			return dir
		}, Options{}, "pytorch-zip", "float32", want32},
		{"legacy-bin-with-config", func(*testing.T) string { return filepath.Join(tinyDir, "pytorch_model_legacy.bin") },
			Options{ConfigPath: filepath.Join(tinyDir, "config.json")}, "pytorch-legacy", "float32", want32},
		{"zip-bin-with-config", func(*testing.T) string { return filepath.Join(tinyDir, "pytorch_model.bin") },
			Options{ConfigPath: filepath.Join(tinyDir, "config.json")}, "pytorch-zip", "float32", want32},
		{"safetensors-with-config", func(*testing.T) string { return filepath.Join(tinyDir, "model.safetensors") },
			Options{ConfigPath: filepath.Join(tinyDir, "config.json")}, "safetensors", "float32", want32},
		{"dir-f16-safetensors", func(*testing.T) string { return tinyF16Dir }, Options{}, "safetensors", "float16", want16},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.spec(t)
			m, err := Load(ctx, spec, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if m.Config != tinyConfig {
				t.Errorf("config %+v, want %+v", m.Config, tinyConfig)
			}
			if m.Format != tc.format || m.StoredDType != tc.dtype || m.Random || m.Name != spec || m.Path == "" {
				t.Errorf("got format %s, dtype %s, random %v, name %q, path %q; want %s, %s, false, %q", m.Format, m.StoredDType, m.Random, m.Name, m.Path, tc.format, tc.dtype, spec)
			}
			if len(m.Notes) != 0 {
				t.Errorf("notes %q, want none (config was given)", m.Notes)
			}
			if err := m.Params.Validate(m.Config); err != nil {
				t.Fatal(err)
			}
			equalParams(t, m.Config, m.Params, tc.want)
		})
	}
}

// hfCheckpoint writes p as a Hugging Face checkpoint would hold it: Conv1D
// weights [in, out], optional "transformer." prefix, extra tensors appended.
func hfCheckpoint(t *testing.T, cfg model.Config, p *model.Params, prefix string, edit func([]safetensors.Tensor) []safetensors.Tensor) string {
	t.Helper()
	ts := CheckpointTensors(cfg, p, prefix)
	if edit != nil {
		ts = edit(ts)
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, ts, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "model.safetensors")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadOtherShapes(t *testing.T) {
	tests := []struct {
		name      string
		cfg       model.Config
		prefix    string
		extra     bool // lm_head.weight and attn.bias buffers
		inferable bool
	}{
		{"L=3/NH=2/C=32/V=77/T=20", model.Config{VocabSize: 77, NPositions: 20, NEmbd: 32, NLayer: 3, NHead: 2, LayerNormEps: 1e-5, Activation: "gelu_new"}, "", false, false},
		{"prefixed/with-buffers", model.Config{VocabSize: 77, NPositions: 20, NEmbd: 32, NLayer: 3, NHead: 2, LayerNormEps: 1e-5, Activation: "gelu_new"}, "transformer.", true, false},
		{"L=1/NH=2/C=128/n_inner=96", model.Config{VocabSize: 50, NPositions: 8, NEmbd: 128, NLayer: 1, NHead: 2, NInner: 96, LayerNormEps: 1e-5, Activation: "gelu_new"}, "", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want, err := model.RandomParams(tc.cfg, 7)
			if err != nil {
				t.Fatal(err)
			}
			path := hfCheckpoint(t, tc.cfg, want, tc.prefix, func(ts []safetensors.Tensor) []safetensors.Tensor {
				if !tc.extra {
					return ts
				}
				C, V := tc.cfg.NEmbd, tc.cfg.VocabSize
				ts = append(ts, safetensors.Float32Tensor("lm_head.weight", []int{V, C}, want.WTE)) // tied: equal to wte
				for l := range tc.cfg.NLayer {
					h := tc.prefix + "h." + strconv.Itoa(l) + ".attn."
					ts = append(ts, safetensors.Float32Tensor(h+"bias", []int{1, 1, 4, 4}, make([]float32, 16)),
						safetensors.Float32Tensor(h+"masked_bias", []int{}, []float32{-1e4}))
				}
				return ts
			})
			cfgPath := filepath.Join(filepath.Dir(path), "config.json")
			js := []byte(`{"model_type":"gpt2","vocab_size":` + itoa(tc.cfg.VocabSize) + `,"n_positions":` + itoa(tc.cfg.NPositions) +
				`,"n_embd":` + itoa(tc.cfg.NEmbd) + `,"n_layer":` + itoa(tc.cfg.NLayer) + `,"n_head":` + itoa(tc.cfg.NHead) +
				`,"n_inner":` + map[bool]string{true: itoa(tc.cfg.NInner), false: "null"}[tc.cfg.NInner > 0] + `}`)
			if err := os.WriteFile(cfgPath, js, 0o644); err != nil {
				t.Fatal(err)
			}
			m, err := Load(context.Background(), filepath.Dir(path), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if m.Config != tc.cfg {
				t.Errorf("config %+v, want %+v", m.Config, tc.cfg)
			}
			equalParams(t, tc.cfg, m.Params, want)

			// The bare file: the config is inferred (n_head only for C a multiple of 64).
			m, err = Load(context.Background(), path, Options{})
			if !tc.inferable {
				if err == nil || !strings.Contains(err.Error(), "cannot infer n_head for n_embd 32") || !strings.Contains(err.Error(), "--config") {
					t.Errorf("bare file: err = %v, want a cannot-infer error naming --config", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Config != tc.cfg || len(m.Notes) != 1 || !strings.Contains(m.Notes[0], "n_head 2 assumed") {
				t.Errorf("inferred config %+v, notes %q; want %+v and a note on n_head", m.Config, m.Notes, tc.cfg)
			}
			equalParams(t, tc.cfg, m.Params, want)
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestInferConfigFromFixture(t *testing.T) {
	m, err := Load(context.Background(), filepath.Join(tinyDir, "model.safetensors"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := tinyConfig
	want.NHead = 1 // n_head is not in the shapes: 64/64
	if m.Config != want {
		t.Errorf("config %+v, want %+v", m.Config, want)
	}
	if len(m.Notes) != 1 || !strings.Contains(m.Notes[0], "--config") {
		t.Errorf("notes %q, want one naming --config", m.Notes)
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name string
		json string
		want model.Config
		err  string
	}{
		{"fixture", `{"model_type":"gpt2","vocab_size":1024,"n_positions":64,"n_embd":64,"n_layer":2,"n_head":4,"n_inner":null,"layer_norm_epsilon":1e-05,"activation_function":"gelu_new"}`, tinyConfig, ""},
		{"old-gpt2", `{"vocab_size":50257,"n_ctx":1024,"n_embd":768,"n_layer":12,"n_head":12}`, model.GPT2(), ""},
		{"n_positions-wins", `{"n_ctx":512,"n_positions":1024}`, model.GPT2(), ""},
		{"empty", `{}`, model.GPT2(), ""},
		{"n_inner", `{"n_inner":100}`, func() model.Config { c := model.GPT2(); c.NInner = 100; return c }(), ""},
		{"gelu", `{"activation_function":"gelu"}`, func() model.Config { c := model.GPT2(); c.Activation = "gelu"; return c }(), ""},
		{"not-json", `{"n_embd":`, model.Config{}, "not valid JSON"},
		{"string-field", `{"n_embd":"768"}`, model.Config{}, "not valid JSON"},
		{"bert", `{"model_type":"bert"}`, model.Config{}, `model_type is "bert"`},
		{"heads", `{"n_head":5}`, model.Config{}, "n_embd 768 is not a multiple of n_head 5"},
		{"relu", `{"activation_function":"relu"}`, model.Config{}, `activation_function "relu" is not supported`},
		{"inverse-layer-idx", `{"scale_attn_by_inverse_layer_idx":true}`, model.Config{}, "scale_attn_by_inverse_layer_idx"},
		{"untied", `{"tie_word_embeddings":false}`, func() model.Config { c := model.GPT2(); c.UntiedLMHead = true; return c }(), ""},
		{"eps-overflows-float32", `{"layer_norm_epsilon":1e300}`, model.Config{}, "layer_norm_epsilon is 1e+300, want > 0 and <= 1"},
		{"eps-underflows-float32", `{"layer_norm_epsilon":1e-300}`, model.Config{}, "layer_norm_epsilon is 0, want > 0 and <= 1"},
		{"eps-negative", `{"layer_norm_epsilon":-1e-5}`, model.Config{}, "layer_norm_epsilon is -1e-05, want > 0"},
		{"n_positions-huge", `{"n_positions":1073741824}`, model.Config{}, "n_positions is 1073741824, want 1..4194304"},
		{"vocab-huge", `{"vocab_size":9007199254740993}`, model.Config{}, "vocab_size is 9007199254740993, want 1..4194304"},
		{"n_embd-huge", `{"n_embd":1048576,"n_head":1}`, model.Config{}, "n_embd is 1048576, want 1..65536"},
		{"n_inner-huge", `{"n_inner":1073741824}`, model.Config{}, "n_inner is 1073741824, want 0..262144"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseConfig([]byte(tc.json))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("err = %v, want it to contain %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// fakeCache lays out a Hugging Face cache by hand: blobs, a snapshot of
// relative symlinks, refs/main.
func fakeCache(t *testing.T, folder string, files map[string]string) string {
	t.Helper()
	cache := t.TempDir()
	const commit = "0123456789abcdef0123456789abcdef01234567"
	repo := filepath.Join(cache, folder)
	for _, d := range []string{"blobs", "refs", "snapshots/" + commit} {
		if err := os.MkdirAll(filepath.Join(repo, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	i := 0
	for name, src := range files {
		blob := "blob" + string(rune('a'+i))
		i++
		copyFile(t, src, filepath.Join(repo, "blobs", blob))
		if err := os.Symlink(filepath.Join("..", "..", "blobs", blob), filepath.Join(repo, "snapshots", commit, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(repo, "refs", "main"), []byte(commit), 0o644); err != nil {
		t.Fatal(err)
	}
	return cache
}

func TestLoadHubName(t *testing.T) {
	files := map[string]string{
		"config.json":       filepath.Join(tinyDir, "config.json"),
		"model.safetensors": filepath.Join(tinyDir, "model.safetensors"),
	}
	want := wantParams(t, tinyConfig, hfTensors(t, filepath.Join(tinyDir, "model.safetensors")))
	tests := []struct {
		name   string
		folder string
		spec   string
	}{
		{"short-name", "models--openai-community--gpt2", "gpt2"},
		{"full-name", "models--openai-community--gpt2", "openai-community/gpt2"},
		{"owner-name", "models--someone--tiny", "someone/tiny"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cache := fakeCache(t, tc.folder, files)
			m, err := Load(context.Background(), tc.spec, Options{CacheDir: cache})
			if err != nil {
				t.Fatal(err)
			}
			if m.Name != tc.spec || !strings.HasPrefix(m.Path, cache) || m.Config != tinyConfig {
				t.Errorf("name %q, path %q, config %+v", m.Name, m.Path, m.Config)
			}
			equalParams(t, m.Config, m.Params, want)
		})
	}
	t.Run("not-cached", func(t *testing.T) {
		_, err := Load(context.Background(), "gpt2-medium", Options{CacheDir: t.TempDir()})
		if !errors.Is(err, hub.ErrNotCached) || !strings.Contains(err.Error(), "download") {
			t.Errorf("err = %v, want hub.ErrNotCached naming the download command", err)
		}
	})
	t.Run("bad-name", func(t *testing.T) {
		_, err := Load(context.Background(), "no such model", Options{CacheDir: t.TempDir()})
		if err == nil || !strings.Contains(err.Error(), "neither a file nor a hub name") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestLoadDefault(t *testing.T) {
	start := time.Now()
	m, err := Load(context.Background(), "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("default gpt2 124M random weights built in %v", time.Since(start))
	if !m.Random || m.Name != "default" || m.Format != "embedded" || m.Path != "" || m.Config != model.GPT2() {
		t.Errorf("got %+v", m)
	}
	if err := m.Params.Validate(m.Config); err != nil {
		t.Fatal(err)
	}
	want, err := model.RandomParams(model.GPT2(), DefaultSeed)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.Params.WTE[:100], want.WTE[:100]) || !slices.Equal(m.Params.Layers[11].FcProjW[:100], want.Layers[11].FcProjW[:100]) {
		t.Error("default weights differ from RandomParams(gpt2, DefaultSeed)")
	}
}

func TestLoadCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Load(ctx, tinyDir, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestLoadBadInput(t *testing.T) {
	good, err := os.ReadFile(filepath.Join(tinyDir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	zipBin, err := os.ReadFile(filepath.Join(tinyDir, "pytorch_model.bin"))
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(tinyDir, "config.json")
	tiny, err := model.RandomParams(tinyConfig, 1)
	if err != nil {
		t.Fatal(err)
	}
	write := func(t *testing.T, name string, b []byte) string {
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	edited := func(edit func([]safetensors.Tensor) []safetensors.Tensor) func(t *testing.T) string {
		return func(t *testing.T) string { return hfCheckpoint(t, tinyConfig, tiny, "transformer.", edit) }
	}
	replace := func(name string, nt safetensors.Tensor) func([]safetensors.Tensor) []safetensors.Tensor {
		return func(ts []safetensors.Tensor) []safetensors.Tensor {
			for i := range ts {
				if ts[i].Name == name {
					ts[i] = nt
				}
			}
			return ts
		}
	}
	hugeHeader := bytes.Clone(good)
	binary.LittleEndian.PutUint64(hugeHeader, 1<<30)
	corruptZip := bytes.Clone(zipBin)
	copy(corruptZip[len(corruptZip)-22:], "not an end of directory")
	raw := func(js string, n int) []byte {
		b := binary.LittleEndian.AppendUint64(nil, uint64(len(js)))
		return append(append(b, js...), make([]byte, n)...)
	}
	outside := raw(`{"wte.weight":{"dtype":"F32","shape":[2],"data_offsets":[64,72]}}`, 16)
	tests := []struct {
		name string
		file func(t *testing.T) string
		want string
	}{
		{"truncated-safetensors", func(t *testing.T) string { return write(t, "model.safetensors", good[:len(good)/2]) }, "truncated: header says"},
		{"header-larger-than-file", func(t *testing.T) string { return write(t, "model.safetensors", hugeHeader) }, "header length 1073741824 exceeds"},
		{"offsets-outside-data", func(t *testing.T) string { return write(t, "model.safetensors", outside) }, `truncated: header says 72 bytes of data (tensor "wte.weight" ends there), file has 16`},
		{"wrong-shape", edited(replace("transformer.ln_f.weight", safetensors.Float32Tensor("transformer.ln_f.weight", []int{63}, make([]float32, 63)))), "transformer.ln_f.weight: shape [63], want [64]"},
		{"wrong-shape-untransposed", edited(replace("transformer.h.1.mlp.c_fc.weight", safetensors.Float32Tensor("transformer.h.1.mlp.c_fc.weight", []int{256, 64}, make([]float32, 256*64)))), "transformer.h.1.mlp.c_fc.weight: shape [256 64], want [64 256]"},
		{"missing-tensor", edited(func(ts []safetensors.Tensor) []safetensors.Tensor {
			return slices.DeleteFunc(ts, func(x safetensors.Tensor) bool { return x.Name == "transformer.h.1.ln_2.bias" })
		}), "missing tensor h.1.ln_2.bias (want shape [64])"},
		{"unexpected-tensor", edited(func(ts []safetensors.Tensor) []safetensors.Tensor {
			return append(ts, safetensors.Float32Tensor("transformer.h.2.ln_1.weight", []int{64}, make([]float32, 64)))
		}), "unexpected tensor transformer.h.2.ln_1.weight, shape [64]"},
		{"lm-head-shape", edited(func(ts []safetensors.Tensor) []safetensors.Tensor {
			return append(ts, safetensors.Float32Tensor("lm_head.weight", []int{64, 1024}, make([]float32, 64*1024)))
		}), "lm_head.weight: shape [64 1024], want [1024 64] (tied to wte)"},
		{"unsupported-dtype", edited(replace("transformer.ln_f.bias", safetensors.Tensor{Name: "transformer.ln_f.bias", DType: "I32", Shape: []int{64}, Data: make([]byte, 256)})), "transformer.ln_f.bias: unsupported dtype I32"},
		{"unknown-dtype", func(t *testing.T) string {
			return write(t, "model.safetensors", raw(`{"wte.weight":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}}`, 8))
		}, `unknown dtype "Q4"`},
		{"corrupt-zip", func(t *testing.T) string { return write(t, "pytorch_model.bin", corruptZip) }, "corrupt zip archive"},
		{"non-checkpoint-pickle", func(t *testing.T) string {
			return write(t, "pytorch_model.bin", []byte{0x80, 2, ']', 'K', 1, 'a', '.'})
		}, "not a PyTorch checkpoint"},
		{"not-a-weights-file", func(t *testing.T) string { return write(t, "weights.bin", []byte("hello, world")) }, "not a PyTorch checkpoint"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.file(t)
			_, err := Load(context.Background(), path, Options{ConfigPath: cfgPath})
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.Contains(msg, tc.want) || !strings.Contains(msg, path) || !strings.HasPrefix(msg, "weights: ") {
				t.Errorf("err = %q, want it to start with \"weights: \", name %s and contain %q", msg, path, tc.want)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("err spans lines: %q", msg)
			}
		})
	}
}

// Several problems come back in one error, one per line, each named.
func TestLoadListsEveryProblem(t *testing.T) {
	p, err := model.RandomParams(tinyConfig, 1)
	if err != nil {
		t.Fatal(err)
	}
	path := hfCheckpoint(t, tinyConfig, p, "", nil)
	cfg := filepath.Join(t.TempDir(), "config.json")
	// A config with 3 layers and 4x wider vocab than the checkpoint.
	if err := os.WriteFile(cfg, []byte(`{"vocab_size":4096,"n_positions":64,"n_embd":64,"n_layer":3,"n_head":4}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(context.Background(), path, Options{ConfigPath: cfg})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"wte.weight: shape [1024 64], want [4096 64]", "missing tensor h.2.ln_1.weight", "missing tensor h.2.mlp.c_proj.bias"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err does not contain %q:\n%v", want, err)
		}
	}
}

func TestLoadPathNotFound(t *testing.T) {
	for _, spec := range []string{"./nope.safetensors", "/nonexistent/dir/model", "nope.bin"} {
		_, err := Load(context.Background(), spec, Options{CacheDir: t.TempDir()})
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: err = %v, want os.ErrNotExist", spec, err)
		}
	}
}

// TestSaveLoadRoundTrip saves a model of unusual shape as a Hugging Face
// directory and loads it back bit for bit; a second Save refuses to
// overwrite.
func TestSaveLoadRoundTrip(t *testing.T) {
	cfg := model.Config{VocabSize: 77, NPositions: 20, NEmbd: 48, NLayer: 3, NHead: 6, NInner: 80, LayerNormEps: 1e-5, Activation: "gelu"}
	p, err := model.RandomParams(cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "odd")
	if err := Save(context.Background(), dir, cfg, p); err != nil {
		t.Fatal(err)
	}
	m, err := Load(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Config != cfg {
		t.Fatalf("config %+v, want %+v", m.Config, cfg)
	}
	equalParams(t, cfg, m.Params, p)
	if err := Save(context.Background(), dir, cfg, p); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("second Save: %v, want a refusal to overwrite", err)
	}
}
