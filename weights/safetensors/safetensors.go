// Package safetensors reads and writes the safetensors checkpoint format:
// an 8-byte little-endian header length N, N bytes of JSON describing each
// tensor (dtype, shape, data_offsets relative to the data section) plus an
// optional "__metadata__" string map, then the raw little-endian tensor data.
//
// Open maps the file into memory (falling back to reading it), validates the
// whole header against the file size, and converts one tensor at a time to
// float32 with (*File).Float32, so loading never holds two copies of the
// weights. The header is decoded as a stream (no second copy of it), at
// most MaxTensors entries with strings and arrays bounded (MaxStringSize,
// MaxArraySize) before anything is decoded, and a name given twice is an
// error. Every
// malformed input is a *FormatError; nothing panics: a file truncated while
// it is mapped makes Float32 return an error instead of killing the process
// with SIGBUS.
package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/gpt2bench/gpt2bench/weights/internal/half"
)

// MaxHeaderSize bounds the JSON header, as the reference implementation does.
const MaxHeaderSize = 100 << 20

// MaxStringSize bounds one JSON string of the header (a tensor name, a
// dtype, a metadata key or value): real ones are a few hundred bytes.
// With MaxArraySize it keeps a header's largest value small, so that
// decoding it takes little memory whatever the header's size (a 100 MiB
// metadata string used to take 1.2 GB).
const MaxStringSize = 1 << 20

// MaxArraySize bounds the bytes of one JSON array (a shape or
// data_offsets) in the header.
const MaxArraySize = 4 << 10

// MaxTensors bounds the tensors of one file (gpt2-xl has under 700): it keeps
// a crafted header of many tiny entries from taking gigabytes.
const MaxTensors = 1 << 16

// DType is a tensor element type, spelled as in the header ("F32").
type DType string

// The element types Float32 converts. Other dtypes of the format (F64, I64,
// I32, I16, I8, U8, BOOL, ...) are listed by Tensors, but Float32 rejects them.
const (
	F32  DType = "F32"
	F16  DType = "F16"
	BF16 DType = "BF16"
)

// dtypeSizes holds the element size in bytes of every dtype the format defines.
var dtypeSizes = map[DType]int{
	"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1,
	"I16": 2, "U16": 2, F16: 2, BF16: 2,
	"I32": 4, "U32": 4, F32: 4,
	"I64": 8, "U64": 8, "F64": 8,
}

// Size returns the element size of d in bytes, or 0 for an unknown dtype.
func (d DType) Size() int { return dtypeSizes[d] }

// FormatError reports malformed safetensors data, with the byte offset in the
// file where the problem lies (debug/elf style).
type FormatError struct {
	Offset int64  // byte offset in the file
	Msg    string // what is wrong, naming the tensor when there is one
}

// Error returns the message and the byte offset.
func (e *FormatError) Error() string {
	return fmt.Sprintf("%s (at byte %d)", e.Msg, e.Offset)
}

// TensorInfo describes one tensor of a file.
type TensorInfo struct {
	Name  string // as in the header, e.g. "transformer.h.0.ln_1.weight"
	DType DType  // element type as stored
	Shape []int  // outermost first; [] for a scalar
	// Begin and End are byte offsets into the data section (after the header).
	Begin, End int64
}

// NumElements returns the product of the shape (1 for a scalar).
func (t TensorInfo) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// File is an opened safetensors file. Its methods are safe for concurrent
// use until Close.
type File struct {
	tensors  []TensorInfo
	byName   map[string]int
	metadata map[string]string
	data     []byte // the data section
	unmap    func() error
}

// Open reads and validates the header of the safetensors file at path and maps
// its data into memory. Call Close to release it.
func Open(path string) (*File, error) {
	buf, unmap, err := mapFile(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	f, err := parseMapped(buf)
	if err != nil {
		unmap()
		return nil, fmt.Errorf("safetensors: %s: %w", path, err)
	}
	f.unmap = unmap
	return f, nil
}

// parseMapped is Parse over a memory map: a page fault (the file was
// truncated under the map) becomes an error.
func parseMapped(buf []byte) (f *File, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, faultError(r)
		}
	}()
	return Parse(buf)
}

// errTruncatedWhileMapped is returned when the mapped file shrank.
var errTruncatedWhileMapped = errors.New("the file shrank while it was read (truncated or replaced by another program); re-download it")

// faultError turns a recovered memory fault into an error and re-panics
// anything else.
func faultError(r any) error {
	// With SetPanicOnFault, a fault panics with a runtime.Error that has
	// the faulting address (debug.SetPanicOnFault's doc).
	if re, ok := r.(interface {
		runtime.Error
		Addr() uintptr
	}); ok && re.Addr() != 0 {
		return fmt.Errorf("safetensors: %w (fault at address %#x)", errTruncatedWhileMapped, re.Addr())
	}
	panic(r)
}

// Parse validates a whole safetensors file held in buf. The File refers to buf
// without copying it.
func Parse(buf []byte) (*File, error) {
	size := int64(len(buf))
	if size < 8 {
		return nil, &FormatError{0, fmt.Sprintf("truncated: file has %d bytes, the header length alone needs 8; re-download the file", size)}
	}
	n := binary.LittleEndian.Uint64(buf)
	if n > uint64(size-8) {
		return nil, &FormatError{0, fmt.Sprintf("truncated or not safetensors: header length %d exceeds the %d bytes after it; re-download the file", n, size-8)}
	}
	if n > MaxHeaderSize {
		return nil, &FormatError{0, fmt.Sprintf("header length %d exceeds the %d-byte limit", n, MaxHeaderSize)}
	}
	header := buf[8 : 8+n]
	data := buf[8+n:]
	if err := scanHeader(header); err != nil {
		return nil, err
	}
	tensors, meta, err := parseHeader(header, int64(len(data)), 8+int64(n))
	if err != nil {
		return nil, err
	}
	f := &File{tensors: tensors, metadata: meta, data: data, byName: make(map[string]int, len(tensors))}
	for i, t := range tensors {
		f.byName[t.Name] = i
	}
	return f, nil
}

// scanHeader bounds the header's values before anything decodes them: no
// string over MaxStringSize, no array over MaxArraySize, no nesting deeper
// than the format's (an object of objects holding arrays). It reads each
// byte once and allocates nothing; the JSON syntax itself is left to the
// decoder.
func scanHeader(header []byte) error {
	depth, arrayAt, inString, stringAt := 0, -1, false, 0
	for i := 0; i < len(header); i++ {
		c := header[i]
		if inString {
			switch c {
			case '\\':
				i++ // the escaped byte cannot end the string
			case '"':
				inString = false
				if i-stringAt-1 > MaxStringSize {
					return &FormatError{8 + int64(stringAt), fmt.Sprintf("header string of %d bytes, more than the %d a name or metadata value may have", i-stringAt-1, MaxStringSize)}
				}
			}
			continue
		}
		switch c {
		case '"':
			inString, stringAt = true, i
		case '{', '[':
			if c == '[' {
				if arrayAt >= 0 {
					return &FormatError{8 + int64(i), "header has an array inside an array; shapes and data_offsets are flat"}
				}
				arrayAt = i
			}
			depth++
			if depth > 3 {
				return &FormatError{8 + int64(i), "header nests deeper than safetensors does (an object of tensor objects holding arrays)"}
			}
		case '}', ']':
			depth--
			if c == ']' && arrayAt >= 0 {
				if i-arrayAt > MaxArraySize {
					return &FormatError{8 + int64(arrayAt), fmt.Sprintf("header array of %d bytes, more than the %d a shape or data_offsets may have", i-arrayAt+1, MaxArraySize)}
				}
				arrayAt = -1
			}
		}
		if arrayAt >= 0 && i-arrayAt > MaxArraySize {
			return &FormatError{8 + int64(arrayAt), fmt.Sprintf("header array of more than %d bytes, the most a shape or data_offsets may have", MaxArraySize)}
		}
	}
	if inString && len(header)-stringAt > MaxStringSize {
		return &FormatError{8 + int64(stringAt), fmt.Sprintf("header string of more than %d bytes, the most a name or metadata value may have", MaxStringSize)}
	}
	return nil
}

type rawTensor struct {
	DType       *string  `json:"dtype"`
	Shape       *[]int64 `json:"shape"`
	DataOffsets *[]int64 `json:"data_offsets"`
}

// parseHeader decodes and validates the JSON header as a stream; dataLen is
// the size of the data section, which starts at file offset dataStart.
func parseHeader(header []byte, dataLen, dataStart int64) ([]TensorInfo, map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(header))
	at := func() int64 { return 8 + dec.InputOffset() }
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, &FormatError{8, fmt.Sprintf("header is not a JSON object (starts with %v, %v)", tok, err)}
	}
	var meta map[string]string
	var tensors []TensorInfo
	seen := map[string]bool{}
	var maxEnd int64
	for dec.More() {
		keyAt := at()
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, &FormatError{keyAt, fmt.Sprintf("header is not a JSON object: %v", err)}
		}
		name, _ := tok.(string) // an object key is always a string
		if seen[name] {
			return nil, nil, &FormatError{keyAt, fmt.Sprintf("header names %q twice; the file is corrupt or crafted: re-download it", name)}
		}
		seen[name] = true
		if name == "__metadata__" {
			if err := dec.Decode(&meta); err != nil {
				return nil, nil, &FormatError{keyAt, fmt.Sprintf("__metadata__ is not a map of strings: %v", err)}
			}
			continue
		}
		if len(tensors) == MaxTensors {
			return nil, nil, &FormatError{keyAt, fmt.Sprintf("header lists more than %d tensors", MaxTensors)}
		}
		var rt rawTensor
		if err := dec.Decode(&rt); err != nil {
			var te *json.UnmarshalTypeError
			if !errors.As(err, &te) {
				return nil, nil, &FormatError{keyAt, fmt.Sprintf("header is not a JSON object: tensor %q: %v", name, err)}
			}
			return nil, nil, &FormatError{keyAt, fmt.Sprintf("tensor %q: bad header entry: %v", name, err)}
		}
		if rt.DType == nil || rt.Shape == nil || rt.DataOffsets == nil {
			return nil, nil, &FormatError{8, fmt.Sprintf("tensor %q: header entry needs dtype, shape and data_offsets", name)}
		}
		t := TensorInfo{Name: name, DType: DType(*rt.DType)}
		es := t.DType.Size()
		if es == 0 {
			return nil, nil, &FormatError{8, fmt.Sprintf("tensor %q: unknown dtype %q", name, *rt.DType)}
		}
		numel := int64(1)
		for _, d := range *rt.Shape {
			if d < 0 {
				return nil, nil, &FormatError{8, fmt.Sprintf("tensor %q: negative dimension in shape %v", name, *rt.Shape)}
			}
			if d != 0 && numel > math.MaxInt32*int64(256)/d { // keeps numel*8 far from overflow
				return nil, nil, &FormatError{8, fmt.Sprintf("tensor %q: shape %v is too large", name, *rt.Shape)}
			}
			numel *= d
			t.Shape = append(t.Shape, int(d))
		}
		if t.Shape == nil {
			t.Shape = []int{}
		}
		off := *rt.DataOffsets
		if len(off) != 2 {
			return nil, nil, &FormatError{8, fmt.Sprintf("tensor %q: data_offsets has %d values, want 2", name, len(off))}
		}
		t.Begin, t.End = off[0], off[1]
		if t.Begin < 0 || t.End < t.Begin {
			return nil, nil, &FormatError{8, fmt.Sprintf("tensor %q: bad data_offsets [%d, %d]", name, t.Begin, t.End)}
		}
		if want := numel * int64(es); t.End-t.Begin != want {
			return nil, nil, &FormatError{dataStart + t.Begin, fmt.Sprintf("tensor %q: data_offsets [%d, %d] hold %d bytes, shape %v of %s needs %d", name, t.Begin, t.End, t.End-t.Begin, t.Shape, t.DType, want)}
		}
		maxEnd = max(maxEnd, t.End)
		tensors = append(tensors, t)
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, nil, &FormatError{at(), fmt.Sprintf("header is not a JSON object: %v", err)}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, &FormatError{at(), "header has data after its JSON object"}
	}
	if tensors == nil {
		tensors = []TensorInfo{}
	}
	if maxEnd > dataLen {
		// Name the tensor that reaches furthest (the first by name among equals).
		last := ""
		for _, t := range tensors {
			if t.End == maxEnd && (last == "" || t.Name < last) {
				last = t.Name
			}
		}
		return nil, nil, &FormatError{dataStart + dataLen, fmt.Sprintf("truncated: header says %d bytes of data (tensor %q ends there), file has %d; re-download the file", maxEnd, last, dataLen)}
	}
	// Order by position in the file; overlapping tensors are an error, gaps
	// are tolerated.
	slices.SortFunc(tensors, func(a, b TensorInfo) int {
		return cmp.Or(cmp.Compare(a.Begin, b.Begin), cmp.Compare(a.End, b.End), strings.Compare(a.Name, b.Name))
	})
	for i := 1; i < len(tensors); i++ {
		p, t := tensors[i-1], tensors[i]
		if t.Begin < p.End {
			return nil, nil, &FormatError{dataStart + t.Begin, fmt.Sprintf("tensor %q at [%d, %d] overlaps tensor %q at [%d, %d]", t.Name, t.Begin, t.End, p.Name, p.Begin, p.End)}
		}
	}
	return tensors, meta, nil
}

// Tensors lists the tensors in file order. The slice is shared: do not modify it.
func (f *File) Tensors() []TensorInfo { return f.tensors }

// Metadata returns the header's "__metadata__" map (nil when absent).
func (f *File) Metadata() map[string]string { return f.metadata }

// Tensor returns the description of the named tensor.
func (f *File) Tensor(name string) (TensorInfo, bool) {
	i, ok := f.byName[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.tensors[i], true
}

// ErrUnsupportedDType is wrapped by Float32 for a dtype it cannot convert.
var ErrUnsupportedDType = errors.New("unsupported dtype")

// Float32 converts the named tensor to float32 into dst, which must hold
// exactly its number of elements. F16 and BF16 are upcast exactly.
func (f *File) Float32(name string, dst []float32) error {
	t, ok := f.Tensor(name)
	if !ok {
		return fmt.Errorf("safetensors: no tensor %q", name)
	}
	if n := t.NumElements(); len(dst) != n {
		return fmt.Errorf("safetensors: tensor %q has %d elements (shape %v), destination holds %d", name, n, t.Shape, len(dst))
	}
	var decode func(dst []float32, src []byte)
	switch t.DType {
	case F32:
		decode = half.DecodeFloat32
	case F16:
		decode = half.DecodeFloat16
	case BF16:
		decode = half.DecodeBFloat16
	default:
		return fmt.Errorf("safetensors: tensor %q has dtype %s: %w (want F32, F16 or BF16)", name, t.DType, ErrUnsupportedDType)
	}
	return decodeMapped(name, dst, f.data[t.Begin:t.End], decode)
}

// decodeMapped runs decode over mapped memory, turning a page fault (the
// file was truncated under the map) into an error.
func decodeMapped(name string, dst []float32, src []byte, decode func([]float32, []byte)) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("tensor %q: %w", name, faultError(r))
		}
	}()
	decode(dst, src)
	return nil
}

// Close releases the mapping. The File must not be used afterwards.
func (f *File) Close() error {
	f.data = nil
	if f.unmap == nil {
		return nil
	}
	err := f.unmap()
	f.unmap = nil
	return err
}

// notRegular is the error for a path that is not a regular file after
// symlinks are resolved: a FIFO would block, a device read without end.
func notRegular(path string, m os.FileMode) error {
	kind := "special file"
	switch {
	case m&os.ModeNamedPipe != 0:
		kind = "named pipe (FIFO)"
	case m&os.ModeCharDevice != 0:
		kind = "character device"
	case m&os.ModeDevice != 0:
		kind = "device"
	case m&os.ModeSocket != 0:
		kind = "socket"
	case m.IsDir():
		kind = "directory"
	}
	return fmt.Errorf("%s is a %s, not a regular file; give the .safetensors file itself", path, kind)
}
