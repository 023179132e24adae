package weights

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gpt2bench/gpt2bench/weights/pickle"
	"github.com/gpt2bench/gpt2bench/weights/safetensors"
)

// tensorInfo is a checkpoint tensor as either parser describes it.
type tensorInfo struct {
	name  string // as stored, e.g. "transformer.h.0.ln_1.weight"
	dtype string // "float32", "float16", "bfloat16", or the file's own name for others
	shape []int  // as stored (HF layout)
}

// source is an opened checkpoint file: the two parsers behind one interface.
type source interface {
	tensors() []tensorInfo
	float32(name string, dst []float32) error
	format() string
	Close() error
}

type safetensorsSource struct{ f *safetensors.File }

func (s safetensorsSource) tensors() []tensorInfo {
	var out []tensorInfo
	for _, t := range s.f.Tensors() {
		dt := string(t.DType)
		switch t.DType {
		case safetensors.F32:
			dt = "float32"
		case safetensors.F16:
			dt = "float16"
		case safetensors.BF16:
			dt = "bfloat16"
		}
		out = append(out, tensorInfo{t.Name, dt, t.Shape})
	}
	return out
}
func (s safetensorsSource) float32(name string, dst []float32) error { return s.f.Float32(name, dst) }
func (s safetensorsSource) format() string                           { return "safetensors" }
func (s safetensorsSource) Close() error                             { return s.f.Close() }

type pickleSource struct{ f *pickle.File }

func (s pickleSource) tensors() []tensorInfo {
	var out []tensorInfo
	for _, t := range s.f.Tensors() {
		out = append(out, tensorInfo{t.Name, string(t.DType), t.Shape})
	}
	return out
}
func (s pickleSource) float32(name string, dst []float32) error { return s.f.Float32(name, dst) }
func (s pickleSource) format() string                           { return s.f.Format() }
func (s pickleSource) Close() error                             { return s.f.Close() }

// openSource opens a weights file, choosing the parser by extension and,
// failing that, by the first bytes. path must be a regular file, or a
// symlink to one (the hub cache's snapshots are symlinks): a FIFO would
// block the open, a device read without end.
func openSource(ctx context.Context, path string) (source, error) {
	if err := regularFile(path); err != nil {
		return nil, err
	}
	isSafetensors := strings.EqualFold(filepath.Ext(path), ".safetensors")
	if !isSafetensors {
		// safetensors: an 8-byte header length, then the JSON header.
		var head [9]byte
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		n, _ := io.ReadFull(f, head[:]) // a short file is simply not safetensors
		f.Close()
		isSafetensors = n == len(head) && head[8] == '{'
	}
	if isSafetensors {
		f, err := safetensors.Open(path)
		if err != nil {
			return nil, err
		}
		return safetensorsSource{f}, nil
	}
	f, err := pickle.OpenContext(ctx, path)
	if errors.Is(err, pickle.ErrNotCheckpoint) {
		return nil, fmt.Errorf("%w; want a .safetensors file or a PyTorch state dict (.bin)", err)
	}
	if err != nil {
		return nil, err
	}
	return pickleSource{f}, nil
}

// regularFile returns an error naming what path is when it is not a regular
// file after symlinks are resolved.
func regularFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is a %s, not a regular file; give the checkpoint or config file itself", path, fileKind(fi.Mode()))
	}
	return nil
}

// fileKind names a non-regular file mode.
func fileKind(m os.FileMode) string {
	switch {
	case m&os.ModeNamedPipe != 0:
		return "named pipe (FIFO)"
	case m&os.ModeCharDevice != 0:
		return "character device"
	case m&os.ModeDevice != 0:
		return "device"
	case m&os.ModeSocket != 0:
		return "socket"
	case m.IsDir():
		return "directory"
	}
	return "special file"
}
