package weights

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gpt2bench/gpt2bench/model"
	"github.com/gpt2bench/gpt2bench/weights/hub"
)

// DefaultSeed seeds the embedded default's random weights.
const DefaultSeed = 1234

// Model is a loaded checkpoint.
type Model struct {
	Name        string        // what the user asked for, or "default"
	Config      model.Config  // from config.json, Options.ConfigPath, or inferred (see Notes)
	Params      *model.Params // float32, Conv1D weights already transposed to [out, in]
	Random      bool          // random weights: the embedded default, or a checkpoint SaveModel wrote from random weights (RandomWeightsKey)
	Path        string        // the weights file read; "" for the default
	Format      string        // "safetensors", "pytorch-zip", "pytorch-legacy", "embedded"
	StoredDType string        // "float32", "float16", "bfloat16" (as stored on disk; "+"-joined if mixed)
	Notes       []string      // how the config was obtained when it was not read from a config.json
}

// Options tune Load.
type Options struct {
	ConfigPath string // --config: config.json to use with a bare weights file (or instead of a directory's)
	CacheDir   string // HF hub cache; "" = hub.CacheDir(os.Getenv)
	Revision   string // "" = "main"
	Seed       uint64 // seed of the embedded default; 0 = DefaultSeed
}

// Weights file names in a model directory, in order of preference.
const (
	safetensorsName = "model.safetensors"
	pytorchName     = "pytorch_model.bin"
	configName      = "config.json"
)

// Load opens spec and returns the model it names:
//   - "" or "default": the embedded default, model.GPT2() with
//     model.RandomParams(cfg, opts.Seed);
//   - a directory: its config.json (or opts.ConfigPath), then
//     model.safetensors if present, else pytorch_model.bin;
//   - a .safetensors or PyTorch .bin file: the config from opts.ConfigPath,
//     else inferred from the tensor shapes (Model.Notes says so);
//   - a hub name (gpt2, openai-community/gpt2, owner/name): its snapshot in
//     the local Hugging Face cache; an uncached model is an error wrapping
//     hub.ErrNotCached that names the download command.
func Load(ctx context.Context, spec string, opts Options) (*Model, error) {
	if spec == "" || spec == "default" {
		return loadDefault(opts)
	}
	if fi, err := os.Stat(spec); err == nil {
		if fi.IsDir() {
			return loadDir(ctx, spec, spec, opts)
		}
		return loadFile(ctx, spec, spec, opts)
	} else if looksLikePath(spec) {
		return nil, fmt.Errorf("weights: %w; give a model directory, a .safetensors or .bin file, or a hub name such as gpt2", err)
	}
	_, err := hub.RepoID(spec)
	if err != nil {
		return nil, fmt.Errorf("weights: %q is neither a file nor a hub name: %w", spec, err)
	}
	cacheDir := opts.CacheDir
	if cacheDir == "" {
		if cacheDir, err = hub.CacheDir(os.Getenv); err != nil {
			return nil, fmt.Errorf("weights: %w", err)
		}
	}
	dir, err := hub.LocalSnapshot(cacheDir, spec, opts.Revision) // "" is main; the name as given, for the error
	if err != nil {
		var nc *hub.NotCachedError
		if errors.As(err, &nc) {
			nc.Offline = hub.OfflineFromEnv(os.Getenv) // say so rather than only "download it"
		}
		return nil, fmt.Errorf("weights: %w", err)
	}
	return loadDir(ctx, spec, dir, opts)
}

// looksLikePath tells a file path from a hub name ("owner/name"): an
// absolute or dot- or tilde-relative path, a path of three or more parts,
// or a name with a checkpoint or config extension.
func looksLikePath(spec string) bool {
	switch {
	case filepath.IsAbs(spec), strings.HasPrefix(spec, "."), strings.HasPrefix(spec, "~"):
		return true
	case strings.ContainsRune(spec, os.PathSeparator) && strings.Count(spec, "/") > 1:
		return true
	}
	switch strings.ToLower(filepath.Ext(spec)) {
	case ".safetensors", ".bin", ".pt", ".pth", ".json":
		return true
	}
	return false
}

func loadDefault(opts Options) (*Model, error) {
	seed := opts.Seed
	if seed == 0 {
		seed = DefaultSeed
	}
	cfg := model.GPT2()
	p, err := model.RandomParams(cfg, seed)
	if err != nil {
		return nil, fmt.Errorf("weights: default model: %w", err)
	}
	return &Model{Name: "default", Config: cfg, Params: p, Random: true, Format: "embedded", StoredDType: "float32"}, nil
}

func loadDir(ctx context.Context, name, dir string, opts Options) (*Model, error) {
	path := filepath.Join(dir, safetensorsName)
	if _, err := os.Stat(path); err != nil {
		path = filepath.Join(dir, pytorchName)
		if _, err := os.Stat(path); err != nil {
			hint := ""
			if _, err := os.Stat(filepath.Join(dir, safetensorsName+".index.json")); err == nil {
				hint = " (sharded checkpoints are not supported)"
			}
			return nil, fmt.Errorf("weights: %s: no %s or %s%s; download the model again (gpt2bench download) or point at the weights file", dir, safetensorsName, pytorchName, hint)
		}
	}
	if opts.ConfigPath == "" {
		if c := filepath.Join(dir, configName); fileExists(c) {
			opts.ConfigPath = c
		}
	}
	return loadFile(ctx, name, path, opts)
}

func fileExists(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir()
}

func loadFile(ctx context.Context, name, path string, opts Options) (*Model, error) {
	src, err := openSource(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	defer src.Close()
	m := &Model{Name: name, Path: path, Format: src.format()}
	if opts.ConfigPath != "" {
		data, err := readConfig(opts.ConfigPath)
		if err != nil {
			return nil, fmt.Errorf("weights: read config: %w", err)
		}
		if m.Config, err = ParseConfig(data); err != nil {
			return nil, fmt.Errorf("weights: %s: %w", opts.ConfigPath, err)
		}
		m.Random = markedRandom(data)
	} else {
		cfg, note, err := inferConfig(src.tensors())
		if err != nil {
			return nil, fmt.Errorf("weights: %s: %w", path, err)
		}
		m.Config = cfg
		m.Notes = append(m.Notes, note)
	}
	if st, ok := src.(safetensorsSource); ok && st.f.Metadata()[RandomWeightsKey] == "true" {
		m.Random = true
	}
	m.Params, m.StoredDType, err = buildParams(ctx, src, m.Config)
	if err != nil {
		return nil, fmt.Errorf("weights: %s: %w", path, err)
	}
	return m, nil
}

// maxConfigSize bounds config.json (GPT-2's is under 1 KB).
const maxConfigSize = 1 << 20

// readConfig reads a config.json: a regular file of at most maxConfigSize
// bytes.
func readConfig(path string) ([]byte, error) {
	if err := regularFile(path); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxConfigSize {
		return nil, fmt.Errorf("%s is larger than %d bytes; a config.json is a few hundred", path, maxConfigSize)
	}
	return data, nil
}

// markedRandom reports whether config.json data carries RandomWeightsKey
// true (SaveModel of random weights).
func markedRandom(data []byte) bool {
	var c map[string]json.RawMessage
	if json.Unmarshal(data, &c) != nil {
		return false
	}
	var random bool
	return json.Unmarshal(c[RandomWeightsKey], &random) == nil && random
}
