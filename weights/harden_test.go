package weights

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/gpt2bench/gpt2bench/model"
	"github.com/gpt2bench/gpt2bench/weights/internal/pttest"
	"github.com/gpt2bench/gpt2bench/weights/safetensors"
)

// microConfig is the smallest GPT-2 the loaders accept: checkpoints of it
// are a few KB, small enough for fuzz seeds.
var microConfig = model.Config{VocabSize: 4, NPositions: 2, NEmbd: 4, NLayer: 1, NHead: 1, LayerNormEps: 1e-5, Activation: "gelu_new"}

const microConfigJSON = `{"model_type":"gpt2","vocab_size":4,"n_positions":2,"n_embd":4,"n_layer":1,"n_head":1}`

var updateSeeds = flag.Bool("update-seeds", false, "rewrite the crasher seeds in testdata/fuzz")

// microCheckpoint returns cfg and p as a safetensors, zip and legacy file.
func microCheckpoint(t testing.TB, cfg model.Config, p *model.Params) map[string][]byte {
	t.Helper()
	ts := CheckpointTensors(cfg, p, "")
	var st bytes.Buffer
	if err := safetensors.Write(&st, ts, nil); err != nil {
		t.Fatal(err)
	}
	var pt []pttest.Tensor
	for i, x := range ts {
		v := make([]float32, len(x.Data)/4)
		for j := range v {
			v[j] = math.Float32frombits(binary.LittleEndian.Uint32(x.Data[4*j:]))
		}
		pt = append(pt, pttest.Contiguous(x.Name, strconv.Itoa(i), x.Shape, v))
	}
	return map[string][]byte{"model.safetensors": st.Bytes(), "zip.bin": pttest.Zip(pt, nil), "legacy.bin": pttest.Legacy(pt, nil)}
}

func microParams(t testing.TB) *model.Params {
	t.Helper()
	p, err := model.RandomParams(microConfig, 3)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// crashers are the inputs of issue 16 that crashed the loader, took
// gigabytes or minutes, or loaded wrong weights, made small. They are
// checked in as seeds of FuzzLoadFile (go test runs them) and each must fail
// with the message given.
func crashers(t testing.TB) map[string]struct {
	data []byte
	want string
} {
	// Stride-0 views of a one-float storage, shaped as the micro model.
	var views []pttest.Tensor
	for _, s := range (&model.Params{}).Shapes(microConfig) {
		shape := hfShape(s)
		views = append(views, pttest.Tensor{Name: s.Name, Storage: "FloatStorage", Key: "0", Data: pttest.F32(1), Numel: 1, Shape: shape, Stride: make([]int, len(shape))})
	}
	deflated := func(pkl []byte) []byte {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: "archive/data.pkl", Method: zip.Deflate})
		w.Write(pkl)
		zw.Close()
		return buf.Bytes()
	}
	proto := []byte{0x80, 2}
	long4 := append(append(slices.Clone(proto), 0x8b), binary.LittleEndian.AppendUint32(nil, 1<<16)...)
	long4 = append(append(long4, bytes.Repeat([]byte{0x7f}, 1<<16)...), '.')
	nan := microParams(t)
	nan.Layers[0].FcW[2*4+1] = float32(math.NaN()) // FcW [F, C]: row 2, col 1; HF [C, F]: [1 2]
	dup := `{"wte.weight":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"wte.weight":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`
	return map[string]struct {
		data []byte
		want string
	}{
		"stride0-zip":      {pttest.Zip(views, nil), `address 16 elements of storage "0", which holds 1 (a stride-0 expansion)`},
		"stride0-legacy":   {pttest.Legacy(views, nil), `address 16 elements of storage "0", which holds 1 (a stride-0 expansion)`},
		"mark-run":         {deflated(append(append(slices.Clone(proto), bytes.Repeat([]byte{'('}, 1<<16)...), '.')), "nests more than 256 MARKs"},
		"long4":            {deflated(long4), "pickle integer of 65536 bytes"},
		"decimal-long":     {deflated([]byte("L" + strings.Repeat("9", 1<<16) + "\n.")), "line longer than 256 bytes"},
		"opcode-flood":     {deflated(append(append(slices.Clone(proto), bytes.Repeat([]byte{'N'}, 1<<20+1)...), '.')), "more than 1048576 opcodes"},
		"nan-weight":       {microCheckpoint(t, microConfig, nan)["model.safetensors"], "h.0.mlp.c_fc.weight holds NaN at index [1 2] (element 18)"},
		"duplicate-header": {append(append(binary.LittleEndian.AppendUint64(nil, uint64(len(dup))), dup...), make([]byte, 8)...), `header names "wte.weight" twice`},
	}
}

// seedPath is where the crasher named name lies in FuzzLoadFile's corpus.
func seedPath(name string) string { return filepath.Join("testdata", "fuzz", "FuzzLoadFile", name) }

// TestCrashers loads every crasher as both file kinds: each fails with its
// one-line error, none panics or allocates beyond its budget. With
// -update-seeds it rewrites the checked-in seeds.
func TestCrashers(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfgPath, []byte(microConfigJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, c := range crashers(t) {
		t.Run(name, func(t *testing.T) {
			if *updateSeeds {
				os.MkdirAll(filepath.Dir(seedPath(name)), 0o755)
				seed := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", c.data)
				if err := os.WriteFile(seedPath(name), []byte(seed), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := os.Stat(seedPath(name)); err != nil {
				t.Errorf("crasher %s is not checked in as a seed (run go test ./weights -run TestCrashers -update-seeds): %v", name, err)
			}
			ext := ".bin"
			if strings.HasPrefix(string(c.data[8:9]), "{") {
				ext = ".safetensors"
			}
			path := filepath.Join(dir, name+ext)
			if err := os.WriteFile(path, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			for _, opts := range []Options{{ConfigPath: cfgPath}, {}} {
				if opts.ConfigPath == "" && name == "nan-weight" {
					continue // the micro config cannot be inferred
				}
				_, err := Load(context.Background(), path, opts)
				if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
					t.Errorf("Load(%s, config %q) = %v, want one line containing %q", name, opts.ConfigPath, err, c.want)
				}
			}
		})
	}
}

// FuzzLoadFile runs file bytes through the whole path to Params: as a
// .safetensors and as a PyTorch .bin (zip or legacy), with the micro
// config.json and with the config inferred from the shapes. Whatever loads
// must be valid, finite Params.
//
// Fuzz for real (seeds are a few KB, so minimising stays quick):
//
//	go test ./weights -run '^$' -fuzz FuzzLoadFile -fuzztime 10m -fuzzminimizetime 1000x
func FuzzLoadFile(f *testing.F) {
	for _, b := range microCheckpoint(f, microConfig, microParams(f)) {
		f.Add(b)
	}
	dir := f.TempDir()
	cfgPath := filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfgPath, []byte(microConfigJSON), 0o644); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, name := range []string{"model.safetensors", "model.bin"} {
			path := filepath.Join(dir, name)
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			for _, opts := range []Options{{ConfigPath: cfgPath}, {}} {
				m, err := Load(context.Background(), path, opts)
				if err != nil {
					continue
				}
				if err := m.Params.Validate(m.Config); err != nil {
					t.Fatalf("loaded invalid params: %v", err)
				}
				for _, s := range m.Params.Shapes(m.Config) {
					if err := finite(s.Name, *s.Ptr, s.Shape); err != nil {
						t.Fatalf("loaded: %v", err)
					}
				}
			}
		}
	})
}

// FuzzParseConfig: whatever config.json parses is a Config the forward pass
// can size without overflow.
//
//	go test ./weights -run '^$' -fuzz FuzzParseConfig -fuzztime 5m
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(microConfigJSON))
	f.Add([]byte(`{"layer_norm_epsilon":1e300}`))
	f.Add([]byte(`{"n_positions":1048576,"n_embd":8,"n_head":1,"tie_word_embeddings":false}`))
	f.Add([]byte(`{"n_ctx":2,"n_inner":null,"vocab_size":1e3}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data)
		if err != nil {
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("parsed an invalid config: %v", err)
		}
		if n := cfg.NumParams(); n <= 0 || n > 1<<50 {
			t.Fatalf("config %+v has %d parameters", cfg, n)
		}
		if eps := float64(cfg.LayerNormEps); math.IsInf(eps, 0) || !(eps > 0) {
			t.Fatalf("eps %g", eps)
		}
	})
}

// TestUntiedLMHead: tie_word_embeddings false loads the checkpoint's own
// lm_head.weight and the model uses it; a tied config refuses an lm_head
// that differs from wte.
func TestUntiedLMHead(t *testing.T) {
	cfg := microConfig
	cfg.UntiedLMHead = true
	p, err := model.RandomParams(cfg, 5)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range microCheckpoint(t, cfg, p) {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, name)
			os.WriteFile(path, b, 0o644)
			untied := filepath.Join(dir, "untied.json")
			os.WriteFile(untied, []byte(strings.TrimSuffix(microConfigJSON, "}")+`,"tie_word_embeddings":false}`), 0o644)
			m, err := Load(context.Background(), path, Options{ConfigPath: untied})
			if err != nil {
				t.Fatal(err)
			}
			if !m.Config.UntiedLMHead || !slices.Equal(m.Params.LMHead, p.LMHead) || slices.Equal(m.Params.LMHead, m.Params.WTE) {
				t.Fatalf("untied head not loaded: %v", m.Params.LMHead)
			}
			tied := filepath.Join(dir, "tied.json")
			os.WriteFile(tied, []byte(microConfigJSON), 0o644)
			_, err = Load(context.Background(), path, Options{ConfigPath: tied})
			if err == nil || !strings.Contains(err.Error(), "lm_head.weight differs from wte.weight") || !strings.Contains(err.Error(), "tie_word_embeddings false") {
				t.Errorf("tied config, own head: err = %v", err)
			}
		})
	}
	// The model computes logits with the untied head: the same as the
	// float64 reference, and not what wte gives.
	mod, err := model.New(cfg, p, model.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close()
	s, err := mod.NewSession(1, 2)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]float32, cfg.VocabSize)
	if err := s.Forward(context.Background(), [][]int32{{1}}, got); err != nil {
		t.Fatal(err)
	}
	want, _, err := model.Reference(cfg, p, []int32{1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if d := math.Abs(float64(got[i]) - want.At(0, i)); d > 1e-5 {
			t.Fatalf("logit %d: got %g, reference %g", i, got[i], want.At(0, i))
		}
	}
	// Save writes the head and tie_word_embeddings false; it loads back.
	dir := filepath.Join(t.TempDir(), "out")
	if err := Save(context.Background(), dir, cfg, p); err != nil {
		t.Fatal(err)
	}
	m, err := Load(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Config.UntiedLMHead || !slices.Equal(m.Params.LMHead, p.LMHead) {
		t.Error("untied head lost in Save")
	}
}

// TestLoadNotRegular: FIFOs and devices, directly or through a symlink (as
// the hub cache has them), are refused for weights and config alike.
func TestLoadNotRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip("mkfifo:", err)
	}
	cfgPath := filepath.Join(dir, "config.json")
	os.WriteFile(cfgPath, []byte(microConfigJSON), 0o644)
	good := filepath.Join(dir, "good.safetensors")
	os.WriteFile(good, microCheckpoint(t, microConfig, microParams(t))["model.safetensors"], 0o644)
	for _, ext := range []string{".safetensors", ".bin"} {
		for target, kind := range map[string]string{fifo: "named pipe (FIFO)", "/dev/zero": "character device"} {
			link := filepath.Join(dir, fmt.Sprintf("%s%s", filepath.Base(target), ext))
			os.Remove(link)
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			_, err := Load(context.Background(), link, Options{ConfigPath: cfgPath})
			if err == nil || !strings.Contains(err.Error(), kind+", not a regular file") {
				t.Errorf("weights %s -> %s: err = %v", link, target, err)
			}
			_, err = Load(context.Background(), good, Options{ConfigPath: link})
			if err == nil || !strings.Contains(err.Error(), kind+", not a regular file") {
				t.Errorf("config %s -> %s: err = %v", link, target, err)
			}
		}
	}
	big := filepath.Join(dir, "big.json")
	os.WriteFile(big, bytes.Repeat([]byte(" "), maxConfigSize+1), 0o644)
	if _, err := Load(context.Background(), good, Options{ConfigPath: big}); err == nil || !strings.Contains(err.Error(), "larger than 1048576 bytes") {
		t.Errorf("huge config: err = %v", err)
	}
}

// TestSaveCanceled: Ctrl-C while Save writes leaves neither file (the
// temporary file goes too).
func TestSaveCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := filepath.Join(t.TempDir(), "out")
	err := Save(ctx, dir, microConfig, microParams(t))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a canceled Save left %v", entries)
	}
}

// TestRandomLabelSurvivesExport: a model of random weights written by
// SaveModel reloads with Random set, read from the safetensors metadata or
// from config.json alone (a .bin beside it); real weights stay unmarked.
func TestRandomLabelSurvivesExport(t *testing.T) {
	for _, random := range []bool{true, false} {
		t.Run(fmt.Sprintf("random=%v", random), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			m := &Model{Name: "default", Config: microConfig, Params: microParams(t), Random: random}
			if err := SaveModel(context.Background(), dir, m); err != nil {
				t.Fatal(err)
			}
			st, err := safetensors.Open(filepath.Join(dir, "model.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			meta := st.Metadata()
			st.Close()
			conf, _ := os.ReadFile(filepath.Join(dir, "config.json"))
			if got := meta[RandomWeightsKey] == "true"; got != random {
				t.Errorf("safetensors metadata %v, want marked %v", meta, random)
			}
			if got := strings.Contains(string(conf), `"`+RandomWeightsKey+`": true`); got != random {
				t.Errorf("config.json marked %v, want %v:\n%s", got, random, conf)
			}
			loaded, err := Load(context.Background(), dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if loaded.Random != random {
				t.Errorf("reloaded Random = %v, want %v", loaded.Random, random)
			}
			// Through the metadata alone (an unmarked config) and through
			// config.json alone (a pickle carries no metadata).
			plain := filepath.Join(t.TempDir(), "config.json")
			os.WriteFile(plain, []byte(microConfigJSON), 0o644)
			bare, err := Load(context.Background(), filepath.Join(dir, "model.safetensors"), Options{ConfigPath: plain})
			if err != nil {
				t.Fatal(err)
			}
			bin := filepath.Join(t.TempDir(), "model.bin")
			os.WriteFile(bin, microCheckpoint(t, microConfig, m.Params)["zip.bin"], 0o644)
			viaConfig, err := Load(context.Background(), bin, Options{ConfigPath: filepath.Join(dir, "config.json")})
			if err != nil {
				t.Fatal(err)
			}
			if bare.Random != random || viaConfig.Random != random {
				t.Errorf("metadata alone: Random %v, config.json alone: %v; want %v", bare.Random, viaConfig.Random, random)
			}
		})
	}
	// The marker must be a JSON true: anything else is not random.
	for _, conf := range []string{`{"gpt2bench_random_weights": "true"}`, `{"gpt2bench_random_weights": false}`, `{}`, `not json`} {
		if markedRandom([]byte(conf)) {
			t.Errorf("markedRandom(%s) = true", conf)
		}
	}
}
