package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

var fixtures = []string{
	"../../testdata/tiny-gpt2/model.safetensors",
	"../../testdata/tiny-gpt2-f16/model.safetensors",
}

func TestOpenFixtures(t *testing.T) {
	for _, path := range fixtures {
		t.Run(filepath.Base(filepath.Dir(path)), func(t *testing.T) {
			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			ts := f.Tensors()
			if len(ts) != 2+2*12+2 { // wte, wpe, 2 layers of 12 (attn.bias buffers not saved), ln_f
				names := make([]string, len(ts))
				for i, t := range ts {
					names[i] = t.Name
				}
				t.Errorf("%d tensors, want 28: %v", len(ts), names)
			}
			wte, ok := f.Tensor("transformer.wte.weight")
			if !ok {
				t.Fatal("no transformer.wte.weight")
			}
			if got, want := wte.Shape, []int{1024, 64}; !equalInts(got, want) {
				t.Errorf("wte shape %v, want %v", got, want)
			}
			for _, ti := range ts {
				dst := make([]float32, ti.NumElements())
				if err := f.Float32(ti.Name, dst); err != nil {
					t.Fatalf("%s: %v", ti.Name, err)
				}
				for i, v := range dst {
					if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
						t.Fatalf("%s[%d] = %v", ti.Name, i, v)
					}
				}
			}
			if err := f.Float32("transformer.wte.weight", make([]float32, 3)); err == nil {
				t.Error("Float32 into a short slice: no error")
			}
			if err := f.Float32("nope", nil); err == nil {
				t.Error("Float32 of a missing tensor: no error")
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestWriteRoundTrip(t *testing.T) {
	vals := []float32{1, -2.5, 0.333, float32(math.Inf(1)), 65504, 6e-8}
	bf := make([]byte, 2*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint16(bf[2*i:], uint16(math.Float32bits(v)>>16))
	}
	tensors := []Tensor{
		Float32Tensor("a", []int{2, 3}, vals),
		Float16Tensor("b", []int{6}, vals),
		{Name: "c", DType: BF16, Shape: []int{3, 2}, Data: bf},
		Float32Tensor("scalar", []int{}, []float32{7}),
		Float32Tensor("empty", []int{0, 4}, nil),
		{Name: "ids", DType: "I64", Shape: []int{1}, Data: make([]byte, 8)},
	}
	var buf bytes.Buffer
	if err := Write(&buf, tensors, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "x.safetensors")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Metadata()["format"] != "pt" {
		t.Errorf("metadata %v", f.Metadata())
	}
	tests := []struct {
		name string
		want []float32
	}{
		{"a", vals},
		{"b", []float32{1, -2.5, 0.3330078, float32(math.Inf(1)), 65504, 5.9604645e-08}},
		{"c", []float32{1, -2.5, 0.33203125, float32(math.Inf(1)), 65280, 5.9604645e-08}},
		{"scalar", []float32{7}},
		{"empty", []float32{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := make([]float32, len(tc.want))
			if err := f.Float32(tc.name, got); err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("[%d] = %v, want %v", i, got[i], tc.want[i])
				}
			}
		})
	}
	err = f.Float32("ids", make([]float32, 1))
	if !errors.Is(err, ErrUnsupportedDType) || !strings.Contains(err.Error(), `"ids"`) || !strings.Contains(err.Error(), "I64") {
		t.Errorf("I64 tensor: err = %v, want unsupported dtype naming ids and I64", err)
	}
}

func TestWriteRejects(t *testing.T) {
	tests := []struct {
		name    string
		tensors []Tensor
		want    string
	}{
		{"duplicate", []Tensor{Float32Tensor("a", []int{1}, []float32{1}), Float32Tensor("a", []int{1}, []float32{1})}, "duplicate"},
		{"short-data", []Tensor{{Name: "a", DType: F32, Shape: []int{2}, Data: make([]byte, 4)}}, "needs 8"},
		{"unknown-dtype", []Tensor{{Name: "a", DType: "F7", Shape: []int{1}, Data: make([]byte, 4)}}, "unknown dtype"},
		{"negative", []Tensor{{Name: "a", DType: F32, Shape: []int{-1}}}, "negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Write(&bytes.Buffer{}, tc.tensors, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

// withHeader builds a file from a raw JSON header and n data bytes.
func withHeader(js string, n int) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(js)))
	b = append(b, js...)
	return append(b, make([]byte, n)...)
}

func TestParseBadInput(t *testing.T) {
	valid := withHeader(`{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}`, 16)
	hugeLen := append([]byte(nil), valid...)
	binary.LittleEndian.PutUint64(hugeLen, 1<<40)
	tests := []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "truncated"},
		{"short", []byte{1, 2, 3}, "truncated"},
		{"header-longer-than-file", hugeLen, "header length 1099511627776 exceeds"},
		{"truncated-data", valid[:len(valid)-4], `truncated: header says 16 bytes of data (tensor "w" ends there), file has 12`},
		{"not-json", withHeader(`{"w":`, 0), "not a JSON object"},
		{"json-array", withHeader(`[1,2]`, 0), "not a JSON object"},
		{"offsets-outside", withHeader(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[100,108]}}`, 16), `header says 108 bytes of data (tensor "w" ends there)`},
		{"offsets-vs-shape", withHeader(`{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, 16), `tensor "w": data_offsets [0, 8] hold 8 bytes, shape [3] of F32 needs 12`},
		{"offsets-reversed", withHeader(`{"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}`, 16), `tensor "w": bad data_offsets`},
		{"offsets-negative", withHeader(`{"w":{"dtype":"F32","shape":[0],"data_offsets":[-4,-4]}}`, 16), `tensor "w": bad data_offsets`},
		{"offsets-count", withHeader(`{"w":{"dtype":"F32","shape":[0],"data_offsets":[0]}}`, 16), "has 1 values, want 2"},
		{"negative-dim", withHeader(`{"w":{"dtype":"F32","shape":[-2,-2],"data_offsets":[0,16]}}`, 16), `tensor "w": negative dimension`},
		{"huge-dims", withHeader(`{"w":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,16]}}`, 16), "too large"},
		{"float-dim", withHeader(`{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,16]}}`, 16), `tensor "w": bad header entry`},
		{"unknown-dtype", withHeader(`{"w":{"dtype":"F9","shape":[4],"data_offsets":[0,16]}}`, 16), `tensor "w": unknown dtype "F9"`},
		{"missing-field", withHeader(`{"w":{"dtype":"F32","shape":[4]}}`, 16), `needs dtype, shape and data_offsets`},
		{"overlap", withHeader(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}`, 16), `"b" at [8, 16] overlaps tensor "a"`},
		{"bad-metadata", withHeader(`{"__metadata__":{"a":1}}`, 0), "__metadata__"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.file)
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a *FormatError", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("err spans lines: %q", err)
			}
		})
	}
}

func TestParseUnsortedAndGaps(t *testing.T) {
	// JSON order is not file order, and gaps between tensors are tolerated.
	f, err := Parse(withHeader(`{"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 16))
	if err != nil {
		t.Fatal(err)
	}
	if ts := f.Tensors(); ts[0].Name != "a" || ts[1].Name != "b" {
		t.Errorf("order %v", ts)
	}
}

func TestOpenErrorsNamePath(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.safetensors")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(empty); err == nil || !strings.Contains(err.Error(), empty) {
		t.Errorf("empty file: err = %v, want it to name %s", err, empty)
	}
	if _, err := Open(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v, want os.ErrNotExist", err)
	}
}

func FuzzSafetensorsHeader(f *testing.F) {
	for _, path := range fixtures {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		// The header plus a little data keeps the seeds small.
		f.Add(b[:min(len(b), 4096)])
	}
	f.Add(withHeader(`{"w":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,8]},"__metadata__":{"k":"v"}}`, 8))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			return
		}
		for _, ti := range file.Tensors() {
			if ti.End > int64(len(data)) || ti.NumElements()*ti.DType.Size() != int(ti.End-ti.Begin) {
				t.Fatalf("tensor %s escapes validation: %+v", ti.Name, ti)
			}
			_ = file.Float32(ti.Name, make([]float32, ti.NumElements()))
		}
	})
}

func TestParseRefusesDuplicatesAndFloods(t *testing.T) {
	var many strings.Builder
	many.WriteString("{")
	for i := range MaxTensors + 1 {
		if i > 0 {
			many.WriteString(",")
		}
		fmt.Fprintf(&many, `"t%d":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`, i)
	}
	many.WriteString("}")
	tests := []struct {
		name string
		file []byte
		want string
	}{
		{"duplicate", withHeader(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), `header names "w" twice`},
		{"duplicate-metadata", withHeader(`{"__metadata__":{},"__metadata__":{}}`, 0), `header names "__metadata__" twice`},
		{"too-many-tensors", withHeader(many.String(), 0), "more than 65536 tensors"},
		{"trailing-data", withHeader(`{} {}`, 0), "data after its JSON object"},
		{"long-metadata", withHeader(`{"__metadata__":{"k":"`+strings.Repeat("x", MaxStringSize+1)+`"}}`, 0), "header string of 1048577 bytes, more than the 1048576"},
		{"long-name", withHeader(`{"`+strings.Repeat("\\n", MaxStringSize)+`":{}}`, 0), "header string of 2097152 bytes"},
		{"unterminated", withHeader(`{"`+strings.Repeat("x", MaxStringSize+1), 0), "header string of more than"},
		{"long-shape", withHeader(`{"w":{"dtype":"F32","shape":[`+strings.Repeat("1,", MaxArraySize)+`1],"data_offsets":[0,4]}}`, 4), "header array of more than 4096 bytes"},
		{"nested-array", withHeader(`{"w":{"dtype":"F32","shape":[[1]],"data_offsets":[0,4]}}`, 4), "array inside an array"},
		{"deep", withHeader(`{"w":{"dtype":{"a":{}},"shape":[1],"data_offsets":[0,4]}}`, 4), "nests deeper than safetensors"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.file)
			var fe *FormatError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want a *FormatError containing %q", err, tc.want)
			}
		})
	}
	// Strings at the limit, with escaped quotes and brackets inside, are fine.
	name := `a\"[{` + strings.Repeat("x", MaxStringSize-5)
	if _, err := Parse(withHeader(`{"`+name+`":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"__metadata__":{"k":"]}"}}`, 4)); err != nil {
		t.Errorf("a name of %d bytes: %v", len(name), err)
	}
	// Padding with spaces, as writers align the data section, is fine.
	if _, err := Parse(withHeader(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}    `, 4)); err != nil {
		t.Error(err)
	}
}

// TestHugeHeaderTakesLittleMemory: a 16 MiB metadata string is refused
// before anything decodes it (a 100 MiB one took 1.2 GB).
func TestHugeHeaderTakesLittleMemory(t *testing.T) {
	file := withHeader(`{"__metadata__":{"k":"`+strings.Repeat("x", 16<<20)+`"}}`, 0)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Parse(file)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "header string of") {
		t.Fatalf("err = %v", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 64<<10 {
		t.Errorf("refusing a 16 MiB header allocated %d bytes", got)
	}
}

// TestOpenNotRegular: a FIFO would block and /dev/zero read without end.
func TestOpenNotRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.safetensors")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip("mkfifo:", err)
	}
	zero := filepath.Join(dir, "zero.safetensors")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{fifo: "named pipe (FIFO), not a regular file", zero: "character device, not a regular file", dir: "directory, not a regular file"} {
		if _, err := Open(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%s) = %v, want %q", path, err, want)
		}
	}
}

// TestTruncatedWhileMapped: a file cut short under the memory map makes
// Float32 fail instead of killing the process with SIGBUS.
func TestTruncatedWhileMapped(t *testing.T) {
	const n = 1 << 16 // elements: several pages past the header
	file := withHeader(fmt.Sprintf(`{"w":{"dtype":"F32","shape":[%d],"data_offsets":[0,%d]}}`, n, 4*n), 4*n)
	path := filepath.Join(t.TempDir(), "cut.safetensors")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := os.Truncate(path, 64); err != nil {
		t.Fatal(err)
	}
	err = f.Float32("w", make([]float32, n))
	if runtime.GOOS != "windows" && f.unmap != nil && (err == nil || !strings.Contains(err.Error(), "shrank while it was read")) {
		t.Errorf("err = %v, want the file-shrank error", err)
	}
}
