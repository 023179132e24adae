// Package pttest writes small PyTorch checkpoints (torch.save of a state
// dict, zip and legacy formats) byte for byte as torch does, for tests and
// fuzz seeds of the loaders; crafted views (offsets, strides) included.
package pttest

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"math"
)

// Tensor is one state dict entry: a view of a storage.
type Tensor struct {
	Name    string
	Storage string // storage class, e.g. "FloatStorage"
	Key     string // storage key; tensors with the same key share it
	Data    []byte // the storage's bytes (taken from the first tensor of a key)
	Numel   int    // storage elements
	Offset  int    // storage_offset
	Shape   []int
	Stride  []int
}

// Contiguous returns a float32 tensor that owns its storage.
func Contiguous(name, key string, shape []int, v []float32) Tensor {
	stride := make([]int, len(shape))
	s := 1
	for i := len(shape) - 1; i >= 0; i-- {
		stride[i] = s
		s *= shape[i]
	}
	return Tensor{Name: name, Storage: "FloatStorage", Key: key, Data: F32(v...), Numel: len(v), Shape: shape, Stride: stride}
}

// F32 encodes v little-endian.
func F32(v ...float32) []byte {
	b := make([]byte, 0, 4*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

type pk struct{ bytes.Buffer }

func (p *pk) op(b ...byte)       { p.Write(b) }
func (p *pk) global(m, n string) { p.WriteString("c" + m + "\n" + n + "\n") }
func (p *pk) str(s string) {
	p.op('X')
	p.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(s))))
	p.WriteString(s)
}
func (p *pk) int(v int) {
	if v >= 0 && v < 1<<31 {
		p.op('J')
		p.Write(binary.LittleEndian.AppendUint32(nil, uint32(v)))
		return
	}
	p.op(0x8a, 8) // LONG1
	p.Write(binary.LittleEndian.AppendUint64(nil, uint64(v)))
}
func (p *pk) ints(v []int) {
	p.op('(')
	for _, x := range v {
		p.int(x)
	}
	p.op('t')
}

// Pickle pickles an OrderedDict of ts as torch does (protocol 2); legacy
// adds the view field of the legacy format's persistent ids.
func Pickle(ts []Tensor, legacy bool) []byte {
	var p pk
	p.op(0x80, 2)
	p.global("collections", "OrderedDict")
	p.op(')', 'R', '(')
	for _, t := range ts {
		p.str(t.Name)
		p.global("torch._utils", "_rebuild_tensor_v2")
		p.op('(', '(')
		p.str("storage")
		p.global("torch", t.Storage)
		p.str(t.Key)
		p.str("cpu")
		p.int(t.Numel)
		if legacy {
			p.op('N')
		}
		p.op('t', 'Q')
		p.int(t.Offset)
		p.ints(t.Shape)
		p.ints(t.Stride)
		p.op(0x89, '}', 't', 'R')
	}
	p.op('u', '.')
	return p.Bytes()
}

// keys lists the storage keys of ts in first-use order.
func keys(ts []Tensor) []Tensor {
	var out []Tensor
	seen := map[string]bool{}
	for _, t := range ts {
		if !seen[t.Key] {
			seen[t.Key] = true
			out = append(out, t)
		}
	}
	return out
}

// Zip returns a zip checkpoint (torch >= 1.6) of ts; pkl replaces the
// pickle when not nil.
func Zip(ts []Tensor, pkl []byte) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, b []byte) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			panic(err) // only for names zip rejects, which we never write
		}
		w.Write(b)
	}
	if pkl == nil {
		pkl = Pickle(ts, false)
	}
	add("archive/data.pkl", pkl)
	add("archive/byteorder", []byte("little"))
	for _, t := range keys(ts) {
		add("archive/data/"+t.Key, t.Data)
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// Legacy returns a legacy (pre-1.6) checkpoint of ts; pkl replaces the
// state dict pickle when not nil.
func Legacy(ts []Tensor, pkl []byte) []byte {
	var p pk
	p.op(0x80, 2, 0x8a, 10) // LONG1: the magic number, little-endian
	p.Write([]byte{0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19})
	p.op('.', 0x80, 2, 'M', 0xe9, 0x03, '.') // protocol version 1001
	p.op(0x80, 2, '}', '.')                  // sys info: {}
	if pkl == nil {
		pkl = Pickle(ts, true)
	}
	p.Write(pkl)
	p.op(0x80, 2, '(')
	for _, t := range keys(ts) {
		p.str(t.Key)
	}
	p.op('l', '.')
	for _, t := range keys(ts) {
		p.Write(binary.LittleEndian.AppendUint64(nil, uint64(t.Numel)))
		p.Write(t.Data)
	}
	return p.Bytes()
}
