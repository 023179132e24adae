package pickle

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gpt2bench/gpt2bench/weights/internal/half"
)

const (
	zipFixture    = "../../testdata/tiny-gpt2/pytorch_model.bin"
	legacyFixture = "../../testdata/tiny-gpt2/pytorch_model_legacy.bin"
)

func TestOpenFixtures(t *testing.T) {
	tests := []struct {
		path    string
		format  string
		prefix  string
		tensors int
	}{
		{zipFixture, FormatZip, "transformer.", 2 + 2*12 + 2 + 1}, // + lm_head.weight
		{legacyFixture, FormatLegacy, "", 2 + 2*12 + 2},
	}
	for _, tc := range tests {
		t.Run(tc.format, func(t *testing.T) {
			f, err := Open(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Format() != tc.format {
				t.Errorf("format %s, want %s", f.Format(), tc.format)
			}
			// The HF state dict also holds attn.bias buffers (non-persistent
			// in recent transformers): count only parameters.
			n := 0
			for _, ti := range f.Tensors() {
				if !strings.HasSuffix(ti.Name, ".attn.bias") && !strings.HasSuffix(ti.Name, "masked_bias") {
					n++
				}
				if ti.DType != Float32 {
					t.Errorf("%s: dtype %s", ti.Name, ti.DType)
				}
				if err := f.Float32(ti.Name, make([]float32, ti.NumElements())); err != nil {
					t.Error(err)
				}
			}
			if n != tc.tensors {
				t.Errorf("%d parameters, want %d", n, tc.tensors)
			}
			wte := make([]float32, 1024*64)
			if err := f.Float32(tc.prefix+"wte.weight", wte); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// The zip and legacy fixtures hold the same weights.
func TestFixturesAgree(t *testing.T) {
	z, err := Open(zipFixture)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	l, err := Open(legacyFixture)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, ti := range l.Tensors() {
		a := make([]float32, ti.NumElements())
		b := make([]float32, ti.NumElements())
		if err := l.Float32(ti.Name, a); err != nil {
			t.Fatal(err)
		}
		if err := z.Float32("transformer."+ti.Name, b); err != nil {
			t.Fatal(err)
		}
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				t.Fatalf("%s[%d]: legacy %v, zip %v", ti.Name, i, a[i], b[i])
			}
		}
	}
}

// --- a minimal torch.save writer, for checkpoints the fixtures do not cover ---

type ptTensor struct {
	name    string
	storage string // storage class, e.g. "FloatStorage"
	key     string
	data    []byte // the storage
	numel   int    // storage elements
	offset  int
	shape   []int
	stride  []int
}

type pk struct{ bytes.Buffer }

func (p *pk) op(b ...byte)       { p.Write(b) }
func (p *pk) global(m, n string) { p.WriteString("c" + m + "\n" + n + "\n") }
func (p *pk) str(s string) {
	p.op('X')
	p.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(s))))
	p.WriteString(s)
}
func (p *pk) int(v int) { p.op('J'); p.Write(binary.LittleEndian.AppendUint32(nil, uint32(v))) }
func (p *pk) ints(v []int) {
	p.op('(')
	for _, x := range v {
		p.int(x)
	}
	p.op('t')
}

// statePickle pickles an OrderedDict of tensors; legacy adds the view field.
func statePickle(ts []ptTensor, legacy bool) []byte {
	var p pk
	p.op(0x80, 2)
	p.global("collections", "OrderedDict")
	p.op(')', 'R', '(')
	for _, t := range ts {
		p.str(t.name)
		p.global("torch._utils", "_rebuild_tensor_v2")
		p.op('(', '(')
		p.str("storage")
		p.global("torch", t.storage)
		p.str(t.key)
		p.str("cpu")
		p.int(t.numel)
		if legacy {
			p.op('N')
		}
		p.op('t', 'Q')
		p.int(t.offset)
		p.ints(t.shape)
		p.ints(t.stride)
		p.op(0x89, '}', 't', 'R')
	}
	p.op('u', '.')
	return p.Bytes()
}

func writeZip(t testing.TB, ts []ptTensor, pkl []byte) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, b []byte) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	if pkl == nil {
		pkl = statePickle(ts, false)
	}
	add("archive/data.pkl", pkl)
	add("archive/byteorder", []byte("little"))
	seen := map[string]bool{}
	for _, tt := range ts {
		if !seen[tt.key] {
			add("archive/data/"+tt.key, tt.data)
			seen[tt.key] = true
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return writeTemp(t, "model.bin", buf.Bytes())
}

func legacyBytes(ts []ptTensor, pkl []byte) []byte {
	var p pk
	p.op(0x80, 2, 0x8a, 10) // LONG1: the magic number, little-endian
	magic := []byte{0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19}
	p.Write(magic)
	p.op('.', 0x80, 2, 'M', 0xe9, 0x03, '.') // 1001
	p.op(0x80, 2, '}', '.')                  // sys info: {}
	if pkl == nil {
		pkl = statePickle(ts, true)
	}
	p.Write(pkl)
	var keys []string
	seen := map[string]bool{}
	for _, tt := range ts {
		if !seen[tt.key] {
			keys = append(keys, tt.key)
			seen[tt.key] = true
		}
	}
	p.op(0x80, 2, '(')
	for _, k := range keys {
		p.str(k)
	}
	p.op('l', '.')
	for _, k := range keys {
		for _, tt := range ts {
			if tt.key == k {
				p.Write(binary.LittleEndian.AppendUint64(nil, uint64(tt.numel)))
				p.Write(tt.data)
				break
			}
		}
	}
	return p.Bytes()
}

func writeTemp(t testing.TB, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func f32bytes(v ...float32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

func TestViewsAndDTypes(t *testing.T) {
	s6 := f32bytes(0, 1, 2, 3, 4, 5)
	var f16, bf16 []byte
	for _, x := range []float32{0.5, -2, 65504, 1e-7} {
		f16 = binary.LittleEndian.AppendUint16(f16, half.Float32ToFloat16(x))
		bf16 = binary.LittleEndian.AppendUint16(bf16, uint16(math.Float32bits(x)>>16))
	}
	tensors := []ptTensor{
		{name: "plain", storage: "FloatStorage", key: "0", data: s6, numel: 6, shape: []int{2, 3}, stride: []int{3, 1}},
		{name: "transposed", storage: "FloatStorage", key: "0", data: s6, numel: 6, shape: []int{3, 2}, stride: []int{1, 3}},
		{name: "offset", storage: "FloatStorage", key: "0", data: s6, numel: 6, offset: 4, shape: []int{2}, stride: []int{1}},
		{name: "broadcast", storage: "FloatStorage", key: "0", data: s6, numel: 6, offset: 1, shape: []int{2, 2}, stride: []int{0, 2}},
		{name: "scalar", storage: "FloatStorage", key: "0", data: s6, numel: 6, offset: 5, shape: []int{}, stride: []int{}},
		{name: "half", storage: "HalfStorage", key: "1", data: f16, numel: 4, shape: []int{4}, stride: []int{1}},
		{name: "bf16", storage: "BFloat16Storage", key: "2", data: bf16, numel: 4, shape: []int{2, 2}, stride: []int{2, 1}},
		{name: "ids", storage: "LongStorage", key: "3", data: make([]byte, 16), numel: 2, shape: []int{2}, stride: []int{1}},
	}
	want := map[string][]float32{
		"plain":      {0, 1, 2, 3, 4, 5},
		"transposed": {0, 3, 1, 4, 2, 5},
		"offset":     {4, 5},
		"broadcast":  {1, 3, 1, 3},
		"scalar":     {5},
		"half":       {0.5, -2, 65504, half.Float16ToFloat32(half.Float32ToFloat16(1e-7))},
		"bf16":       {0.5, -2, 65280, math.Float32frombits(math.Float32bits(1e-7) &^ 0xffff)},
	}
	for _, format := range []string{FormatZip, FormatLegacy} {
		t.Run(format, func(t *testing.T) {
			path := writeZip(t, tensors, nil)
			if format == FormatLegacy {
				path = writeTemp(t, "legacy.bin", legacyBytes(tensors, nil))
			}
			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Format() != format {
				t.Errorf("format %s", f.Format())
			}
			for name, w := range want {
				t.Run(name, func(t *testing.T) {
					got := make([]float32, len(w))
					if err := f.Float32(name, got); err != nil {
						t.Fatal(err)
					}
					for i := range w {
						if got[i] != w[i] {
							t.Errorf("[%d] = %v, want %v (got %v)", i, got[i], w[i], got)
						}
					}
				})
			}
			err = f.Float32("ids", make([]float32, 2))
			if !errors.Is(err, ErrUnsupportedDType) || !strings.Contains(err.Error(), `"ids"`) {
				t.Errorf("int64 tensor: err = %v, want unsupported dtype naming it", err)
			}
		})
	}
}

func TestNestedStateDict(t *testing.T) {
	ts := []ptTensor{{name: "w", storage: "FloatStorage", key: "0", data: f32bytes(1, 2), numel: 2, shape: []int{2}, stride: []int{1}}}
	inner := statePickle(ts, false)
	// {"epoch": 3, "state_dict": OrderedDict(...)}
	var p pk
	p.op(0x80, 2, '}', '(')
	p.str("epoch")
	p.int(3)
	p.str("state_dict")
	p.Write(inner[2 : len(inner)-1]) // the OrderedDict without PROTO and STOP
	p.op('u', '.')
	f, err := Open(writeZip(t, ts, p.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if ts := f.Tensors(); len(ts) != 1 || ts[0].Name != "w" {
		t.Errorf("tensors %v, want [w]", ts)
	}
}

func TestBadInput(t *testing.T) {
	good := []ptTensor{{name: "w", storage: "FloatStorage", key: "0", data: f32bytes(1, 2, 3, 4), numel: 4, shape: []int{2, 2}, stride: []int{2, 1}}}
	zipBytes, err := os.ReadFile(zipFixture)
	if err != nil {
		t.Fatal(err)
	}
	legacy, err := os.ReadFile(legacyFixture)
	if err != nil {
		t.Fatal(err)
	}
	corrupt := bytes.Clone(zipBytes)
	copy(corrupt[len(corrupt)-22:], "garbage garbage garbage") // end-of-central-directory record
	crc := bytes.Clone(zipBytes)
	crc[300] ^= 0xff // inside data.pkl: its CRC no longer matches
	withKind := func(kind string) []ptTensor {
		ts := bytes.Clone(good[0].data)
		return []ptTensor{{name: "w", storage: kind, key: "0", data: ts, numel: 4, shape: []int{2, 2}, stride: []int{2, 1}}}
	}
	outside := []ptTensor{{name: "w", storage: "FloatStorage", key: "0", data: f32bytes(1, 2, 3, 4), numel: 4, offset: 2, shape: []int{2, 2}, stride: []int{2, 1}}}
	listPickle := []byte{0x80, 2, ']', 'K', 1, 'a', '.'}
	intPickle := []byte{0x80, 2, 'K', 7, '.'}
	hugeBytes := append([]byte{0x80, 2, 0x8e}, binary.LittleEndian.AppendUint64(nil, 1<<60)...)
	tests := []struct {
		name string
		file func(t *testing.T) string
		want string
		is   error
	}{
		{"empty", func(t *testing.T) string { return writeTemp(t, "x.bin", nil) }, "file is empty", ErrNotCheckpoint},
		{"text", func(t *testing.T) string { return writeTemp(t, "x.bin", []byte("hello world")) }, "neither a zip archive nor a pickle", ErrNotCheckpoint},
		{"corrupt-zip", func(t *testing.T) string { return writeTemp(t, "x.bin", corrupt) }, "corrupt zip archive", nil},
		{"zip-crc", func(t *testing.T) string { return writeTemp(t, "x.bin", crc) }, "corrupt zip archive", nil},
		{"truncated-zip", func(t *testing.T) string { return writeTemp(t, "x.bin", zipBytes[:len(zipBytes)/2]) }, "corrupt zip archive", nil},
		{"truncated-legacy", func(t *testing.T) string { return writeTemp(t, "x.bin", legacy[:len(legacy)-100]) }, "truncated: storage", nil},
		{"truncated-legacy-pickle", func(t *testing.T) string { return writeTemp(t, "x.bin", legacy[:1000]) }, "remain", nil},
		{"pickled-list", func(t *testing.T) string { return writeTemp(t, "x.bin", listPickle) }, "without torch's magic number", ErrNotCheckpoint},
		{"zip-int", func(t *testing.T) string { return writeZip(t, nil, intPickle) }, "the pickle holds a int, want a state dict", ErrNotCheckpoint},
		{"zip-list", func(t *testing.T) string { return writeZip(t, nil, listPickle) }, "the pickle holds a list", ErrNotCheckpoint},
		{"legacy-list", func(t *testing.T) string { return writeTemp(t, "x.bin", legacyBytes(nil, listPickle)) }, "the pickle holds a list", ErrNotCheckpoint},
		{"no-tensors", func(t *testing.T) string { return writeZip(t, nil, []byte{0x80, 2, '}', '.'}) }, "holds no tensors", ErrNotCheckpoint},
		{"unknown-storage", func(t *testing.T) string { return writeZip(t, withKind("QUInt4x2Storage"), nil) }, "unknown storage type torch.QUInt4x2Storage", ErrUnknownStorage},
		{"unknown-storage-legacy", func(t *testing.T) string { return writeTemp(t, "x.bin", legacyBytes(withKind("FunkyStorage"), nil)) }, "unknown storage type torch.FunkyStorage", ErrUnknownStorage},
		{"view-outside-storage", func(t *testing.T) string { return writeZip(t, outside, nil) }, `tensor "w": shape [2 2], stride [2 1] at offset 2 reach element 5 of storage "0", which holds 4`, nil},
		{"storage-entry-short", func(t *testing.T) string {
			ts := withKind("DoubleStorage") // 4 elements of 8 bytes, entry holds 16
			return writeZip(t, ts, nil)
		}, `storage "0": zip entry holds 16 bytes`, nil},
		{"huge-length", func(t *testing.T) string { return writeZip(t, nil, hugeBytes) }, "declares 1152921504606846976 bytes", nil},
		{"bad-opcode", func(t *testing.T) string { return writeZip(t, nil, []byte{0x80, 2, 0xff, '.'}) }, "unknown pickle opcode 0xff", nil},
		{"torchscript", func(t *testing.T) string {
			var buf bytes.Buffer
			zw := zip.NewWriter(&buf)
			w, _ := zw.Create("m/constants.pkl")
			w.Write(intPickle)
			zw.Close()
			return writeTemp(t, "x.pt", buf.Bytes())
		}, "TorchScript", ErrNotCheckpoint},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.file(t)
			f, err := Open(path)
			if err == nil {
				f.Close()
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) {
				t.Errorf("err = %q, want it to contain %q", msg, tc.want)
			}
			if !strings.Contains(msg, path) {
				t.Errorf("err = %q does not name the file", msg)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("err spans lines: %q", msg)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("err = %v, want errors.Is %v", err, tc.is)
			}
		})
	}
}

func FuzzPickle(f *testing.F) {
	legacy, err := os.ReadFile(legacyFixture)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(legacy[:4096])
	f.Add(legacyBytes([]ptTensor{{name: "w", storage: "HalfStorage", key: "0", data: make([]byte, 8), numel: 4, shape: []int{2, 2}, stride: []int{1, 2}}}, nil))
	zr, err := zip.OpenReader(zipFixture)
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range zr.File {
		if strings.HasSuffix(e.Name, "data.pkl") {
			b, err := readEntry(e, 1<<20)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	zr.Close()
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		// data is both a legacy file and the data.pkl of a zip checkpoint.
		files := map[string][]byte{"legacy.bin": data}
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: "a/data.pkl", Method: zip.Store})
		w.Write(data)
		for i := range 4 {
			w, _ := zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("a/data/%d", i), Method: zip.Store})
			w.Write(make([]byte, 64))
		}
		zw.Close()
		files["zip.bin"] = buf.Bytes()
		for name, b := range files {
			path := filepath.Join(dir, name)
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			file, err := Open(path)
			if err != nil {
				continue
			}
			for _, ti := range file.Tensors() {
				if n := ti.NumElements(); n < 1<<20 {
					_ = file.Float32(ti.Name, make([]float32, n))
				}
			}
			file.Close()
		}
	})
}

// TestOpenDirectory checks that a read error is reported as such, not as an
// empty file.
func TestOpenDirectory(t *testing.T) {
	_, err := Open(t.TempDir())
	if err == nil || strings.Contains(err.Error(), "empty") || !strings.Contains(err.Error(), "read the first bytes") {
		t.Errorf("Open(directory) = %v, want a read error", err)
	}
}

// TestBudgets checks that crafted pickles and views fail fast with the
// budget they exceed named (issue 16's crashers, made small).
func TestBudgets(t *testing.T) {
	pickle := func(body ...[]byte) []byte {
		b := []byte{0x80, 2}
		for _, x := range body {
			b = append(b, x...)
		}
		return append(b, '.')
	}
	long4 := append([]byte{0x8b}, binary.LittleEndian.AppendUint32(nil, maxIntBytes+1)...)
	long4 = append(long4, bytes.Repeat([]byte{0x7f}, maxIntBytes+1)...)
	stride0 := []ptTensor{{name: "w", storage: "FloatStorage", key: "0", data: f32bytes(1), numel: 1, shape: []int{1000, 1000}, stride: []int{0, 0}}}
	tests := []struct {
		name string
		pkl  []byte
		ts   []ptTensor
		want string
	}{
		{"mark-run", pickle(bytes.Repeat([]byte{'('}, maxMarkDepth+1)), nil, "nests more than 256 MARKs"},
		{"long4", pickle(long4), nil, "pickle integer of 65 bytes"},
		{"decimal-long", pickle([]byte("L" + strings.Repeat("9", 1000) + "L\n")), nil, "line longer than 256 bytes"},
		{"decimal-int", pickle([]byte("I" + strings.Repeat("9", 1000) + "\n")), nil, "line longer than 256 bytes"},
		{"opcodes", pickle(bytes.Repeat([]byte{'N'}, maxOpcodes+1)), nil, "more than 1048576 opcodes"},
		{"stride-0", nil, stride0, `address 1000000 elements of storage "0", which holds 1 (a stride-0 expansion)`},
	}
	for _, tc := range tests {
		for _, format := range []string{FormatZip, FormatLegacy} {
			t.Run(tc.name+"/"+format, func(t *testing.T) {
				var path string
				if format == FormatZip {
					path = writeZip(t, tc.ts, tc.pkl)
				} else {
					path = writeTemp(t, "legacy.bin", legacyBytes(tc.ts, tc.pkl))
				}
				f, err := Open(path)
				if err == nil {
					f.Close()
					t.Fatal("no error")
				}
				if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
					t.Errorf("err = %q, want one line containing %q", err, tc.want)
				}
			})
		}
	}
}

// TestInflateBudget: a compressed storage entry larger than the budget (twice
// the tensors' bytes plus inflateSlack) is refused at Open, before it is
// inflated.
func TestInflateBudget(t *testing.T) {
	const numel = (inflateSlack + 1<<20) / 4
	ts := []ptTensor{{name: "w", storage: "FloatStorage", key: "0", numel: numel, shape: []int{4}, stride: []int{1}}}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: "a/data.pkl", Method: zip.Store})
	w.Write(statePickle(ts, false))
	w, _ = zw.CreateHeader(&zip.FileHeader{Name: "a/data/0", Method: zip.Deflate})
	zeros := make([]byte, 1<<20)
	for range numel * 4 / len(zeros) {
		w.Write(zeros)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	path := writeTemp(t, "bomb.bin", buf.Bytes())
	f, err := Open(path)
	if err == nil {
		f.Close()
		t.Fatal("no error")
	}
	if want := "compressed zip entry a/data/0 inflates to 68157440 bytes"; !strings.Contains(err.Error(), want) {
		t.Errorf("err = %q, want it to contain %q", err, want)
	}

	// Within the budget, a compressed storage reads, and every read counts.
	ts = []ptTensor{{name: "w", storage: "FloatStorage", key: "0", numel: 4, shape: []int{4}, stride: []int{1}}}
	buf.Reset()
	zw = zip.NewWriter(&buf)
	w, _ = zw.CreateHeader(&zip.FileHeader{Name: "a/data.pkl", Method: zip.Store})
	w.Write(statePickle(ts, false))
	w, _ = zw.CreateHeader(&zip.FileHeader{Name: "a/data/0", Method: zip.Deflate})
	w.Write(f32bytes(1, 2, 3, 4))
	zw.Close()
	f, err = Open(writeTemp(t, "ok.bin", buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := make([]float32, 4)
	if err := f.Float32("w", got); err != nil || got[3] != 4 {
		t.Fatalf("Float32 = %v, %v", got, err)
	}
	if f.inflated != 16 || f.inflateBudget != 2*16+inflateSlack {
		t.Errorf("inflated %d of budget %d, want 16 of %d", f.inflated, f.inflateBudget, 2*16+inflateSlack)
	}
}

// TestOpenNotRegular: a FIFO or a device is refused before it is opened
// (opening a FIFO would block; /dev/zero reads without end).
func TestOpenNotRegular(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo.bin")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip("mkfifo:", err)
	}
	link := filepath.Join(t.TempDir(), "zero.bin")
	if err := os.Symlink("/dev/zero", link); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{fifo: "is a named pipe (FIFO), not a regular file", link: "is a character device, not a regular file"} {
		if _, err := Open(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%s) = %v, want %q", path, err, want)
		}
	}
}

// TestOpenCanceled: unpickling stops when the context is done.
func TestOpenCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := OpenContext(ctx, zipFixture); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}
