// Package pickle reads PyTorch checkpoints (torch.save of a state dict) in
// both on-disk formats:
//
//   - zip (torch >= 1.6): ARCHIVE/data.pkl holds the pickled object; each
//     tensor storage is the entry ARCHIVE/data/KEY, raw little-endian.
//   - legacy (pre-1.6): one stream of pickles: magic number, protocol
//     version, sys info, the object, the list of storage keys; then, per key
//     in that order, an int64 element count and the raw storage.
//
// The pickles are decoded with github.com/nlpodyssey/gopickle; this package
// supplies its own persistent_load and tensor rebuilding so that storages are
// not read at Open but one tensor at a time by (*File).Float32, straight into
// the caller's buffer. Storage offsets and strided views are honoured.
//
// Before unpickling, every pickle is scanned opcode by opcode: each declared
// length is checked against the bytes that remain, and the whole pickle
// against budgets of opcodes, MARK depth and integer size (see scan.go), so
// that unpickling takes memory and time linear in a pickle of bounded size.
// A panic in the unpickler is recovered and returned as an error. Every
// tensor view must lie inside its storage and address no more elements than
// the storage holds (no stride-0 expansions), and compressed storages may
// inflate to at most twice the bytes the tensors hold (plus 64 MiB): malformed
// or crafted input yields a one-line error, never a panic or a huge
// allocation.
package pickle

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"os"
	"slices"
	"strings"

	gopickle "github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/types"

	"github.com/gpt2bench/gpt2bench/weights/internal/half"
)

// Formats reported by (*File).Format.
const (
	FormatZip    = "pytorch-zip"
	FormatLegacy = "pytorch-legacy"
)

// DType is a tensor element type, named as in torch ("float32").
type DType string

// Element types of the torch storage classes.
const (
	Float32  DType = "float32"
	Float16  DType = "float16"
	BFloat16 DType = "bfloat16"
	Float64  DType = "float64"
	Int64    DType = "int64"
	Int32    DType = "int32"
	Int16    DType = "int16"
	Int8     DType = "int8"
	Uint8    DType = "uint8"
	Bool     DType = "bool"
)

// storageClasses maps torch.<Name>Storage to its dtype and element size.
var storageClasses = map[string]storageClass{
	"FloatStorage":    {"FloatStorage", Float32, 4},
	"HalfStorage":     {"HalfStorage", Float16, 2},
	"BFloat16Storage": {"BFloat16Storage", BFloat16, 2},
	"DoubleStorage":   {"DoubleStorage", Float64, 8},
	"LongStorage":     {"LongStorage", Int64, 8},
	"IntStorage":      {"IntStorage", Int32, 4},
	"ShortStorage":    {"ShortStorage", Int16, 2},
	"CharStorage":     {"CharStorage", Int8, 1},
	"ByteStorage":     {"ByteStorage", Uint8, 1},
	"BoolStorage":     {"BoolStorage", Bool, 1},
}

// Sentinel errors, wrapped by the errors of Open and Float32.
var (
	// ErrNotCheckpoint: the file is not a PyTorch state dict.
	ErrNotCheckpoint = errors.New("not a PyTorch checkpoint")
	// ErrUnknownStorage: a storage class this package does not know.
	ErrUnknownStorage = errors.New("unknown storage type")
	// ErrUnsupportedDType: Float32 cannot convert this element type.
	ErrUnsupportedDType = errors.New("unsupported dtype")
)

// legacyMagic is torch's MAGIC_NUMBER, the first pickle of a legacy file.
const legacyMagic = "1950a86a20f9469cfc6c"

// maxPickleSize bounds data.pkl and each pickle of a legacy file: the
// pickle holds names and shapes, not data (gpt2-xl's is about 100 KB).
const maxPickleSize = 64 << 20

// inflateSlack is what compressed storages may inflate to beyond twice the
// bytes the tensors hold.
const inflateSlack = 64 << 20

// TensorInfo describes one tensor of a checkpoint.
type TensorInfo struct {
	Name  string // state dict key, e.g. "transformer.h.0.ln_1.weight"
	DType DType  // element type of the storage
	Shape []int  // outermost first; [] for a scalar
}

// NumElements returns the product of the shape (1 for a scalar).
func (t TensorInfo) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// File is an opened checkpoint: names, dtypes and shapes are known, tensor
// data is read on demand by Float32.
type File struct {
	format  string
	f       *os.File
	tensors []TensorInfo
	refs    map[string]*tensorRef

	// inflated counts the bytes compressed storages inflated to so far;
	// inflateBudget bounds it (twice the tensors' bytes plus inflateSlack).
	inflated, inflateBudget int64
}

type storageClass struct {
	name  string
	dtype DType
	size  int // element size in bytes
}

// storage is one torch storage: numel elements read through data, or a view
// into root starting at element off (legacy format).
type storage struct {
	key   string
	class storageClass
	numel int64
	root  *storage // nil for a root storage
	off   int64    // first element within root, for a view
	data  io.ReaderAt
	zf    *zip.File // compressed zip entry, read whole on demand
}

// tensorRef is a rebuilt tensor: a strided view of a storage.
type tensorRef struct {
	st     *storage
	offset int64 // storage_offset, in elements
	shape  []int
	stride []int
}

// Open reads the object and storage layout of the checkpoint at path. Call
// Close to release the file.
func Open(path string) (*File, error) { return OpenContext(context.Background(), path) }

// OpenContext is Open that stops unpickling when ctx is done. path must be a
// regular file (or a symlink to one): a FIFO or a device is refused before
// it is opened.
func OpenContext(ctx context.Context, path string) (file *File, err error) {
	if fi, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("pickle: %w", err)
	} else if !fi.Mode().IsRegular() && !fi.IsDir() {
		return nil, fmt.Errorf("pickle: %s is a %s, not a regular file; give the checkpoint file itself", path, fileKind(fi.Mode()))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pickle: %w", err)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed checkpoint (the unpickler panicked: %v); re-download or re-save it", r)
		}
		if err != nil {
			f.Close()
			file = nil
			err = fmt.Errorf("pickle: %s: %w", path, err)
		}
	}()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return open(ctx, f, fi.Size())
}

// fileKind names a non-regular file mode for an error message.
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

func open(ctx context.Context, f *os.File, size int64) (*File, error) {
	var head [264]byte // up to the tar magic at 257
	n, err := f.ReadAt(head[:], 0)
	if err != nil && !errors.Is(err, io.EOF) { // EOF: a file shorter than head
		return nil, fmt.Errorf("read the first bytes: %w", err)
	}
	switch {
	case n >= 4 && string(head[:4]) == "PK\x03\x04":
		return openZip(ctx, f, size)
	case n >= 262 && string(head[257:262]) == "ustar":
		return nil, fmt.Errorf("%w: the tar-based checkpoint format of torch < 0.4 is not supported; re-save it with a recent torch.save", ErrNotCheckpoint)
	case n >= 2 && head[0] == 0x80:
		return openLegacy(ctx, f, size)
	case n == 0:
		return nil, fmt.Errorf("%w: the file is empty; re-download it", ErrNotCheckpoint)
	}
	return nil, fmt.Errorf("%w: neither a zip archive nor a pickle stream (first bytes % x)", ErrNotCheckpoint, head[:min(n, 4)])
}

func openZip(ctx context.Context, f *os.File, size int64) (*File, error) {
	zr, err := zip.NewReader(f, size)
	if err != nil {
		return nil, fmt.Errorf("corrupt zip archive: %w; re-download the file", err)
	}
	var pkl *zip.File
	entries := make(map[string]*zip.File, len(zr.File))
	for _, e := range zr.File {
		entries[e.Name] = e
		base := e.Name[strings.LastIndexByte(e.Name, '/')+1:]
		if base == "constants.pkl" {
			return nil, fmt.Errorf("%w: a TorchScript archive (constants.pkl) is not a state dict; save model.state_dict() instead", ErrNotCheckpoint)
		}
		if base == "data.pkl" && strings.Count(e.Name, "/") == 1 && pkl == nil {
			pkl = e
		}
	}
	if pkl == nil {
		return nil, fmt.Errorf("%w: zip archive has no ARCHIVE/data.pkl", ErrNotCheckpoint)
	}
	prefix := strings.TrimSuffix(pkl.Name, "data.pkl")
	if bo, ok := entries[prefix+"byteorder"]; ok {
		b, err := readEntry(bo, 16)
		if err != nil {
			return nil, err
		}
		if s := strings.TrimSpace(string(b)); s != "little" {
			return nil, fmt.Errorf("byteorder is %q; only little-endian checkpoints are supported", s)
		}
	}
	if pkl.UncompressedSize64 > maxPickleSize {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d-byte limit", pkl.Name, pkl.UncompressedSize64, maxPickleSize)
	}
	data, err := readEntry(pkl, int64(pkl.UncompressedSize64))
	if err != nil {
		return nil, err
	}
	storages := map[string]*storage{}
	persistentLoad := func(id any) (any, error) {
		t, err := storageID(id, 5)
		if err != nil {
			return nil, err
		}
		class, key, numel, err := storageArgs(t)
		if err != nil {
			return nil, err
		}
		if st, ok := storages[key]; ok {
			return st, nil
		}
		e, ok := entries[prefix+"data/"+key]
		if !ok {
			return nil, fmt.Errorf("storage %q: zip entry %sdata/%s is missing; re-download the file", key, prefix, key)
		}
		need := numel * int64(class.size)
		if e.UncompressedSize64 < uint64(need) {
			return nil, fmt.Errorf("storage %q: zip entry holds %d bytes, %d %s elements need %d; re-download the file", key, e.UncompressedSize64, numel, class.dtype, need)
		}
		st := &storage{key: key, class: class, numel: numel}
		if e.Method == zip.Store {
			off, err := e.DataOffset()
			if err != nil {
				return nil, fmt.Errorf("storage %q: %w", key, err)
			}
			if off+need > size {
				return nil, fmt.Errorf("truncated: storage %q ends at byte %d, file has %d; re-download the file", key, off+need, size)
			}
			st.data = io.NewSectionReader(f, off, need)
		} else {
			st.zf = e
		}
		storages[key] = st
		return st, nil
	}
	obj, err := unpickle(ctx, data, int64(len(data)), persistentLoad)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pkl.Name, err)
	}
	return newFile(FormatZip, f, obj)
}

// readEntry reads a whole zip entry (at most limit bytes), verifying its CRC.
func readEntry(e *zip.File, limit int64) ([]byte, error) {
	rc, err := e.Open()
	if err != nil {
		return nil, fmt.Errorf("corrupt zip archive: %s: %w; re-download the file", e.Name, err)
	}
	defer rc.Close()
	// Reading one byte past the limit reaches EOF, where the CRC is checked.
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("corrupt zip archive: %s: %w; re-download the file", e.Name, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("zip entry %s is larger than %d bytes", e.Name, limit)
	}
	return b, nil
}

func openLegacy(ctx context.Context, f *os.File, size int64) (*File, error) {
	var pos int64
	next := func(what string, persistentLoad func(any) (any, error)) (any, error) {
		br := bufio.NewReader(io.NewSectionReader(f, pos, size-pos))
		n, err := scanPickle(br, min(size-pos, maxPickleSize))
		if err != nil {
			return nil, fmt.Errorf("legacy checkpoint: %s at byte %d: %w", what, pos, err)
		}
		buf := make([]byte, n)
		if _, err := f.ReadAt(buf, pos); err != nil {
			return nil, fmt.Errorf("legacy checkpoint: %s: %w", what, err)
		}
		obj, err := unpickle(ctx, buf, n, persistentLoad)
		if err != nil {
			return nil, fmt.Errorf("legacy checkpoint: %s at byte %d: %w", what, pos, err)
		}
		pos += n
		return obj, nil
	}
	magic, err := next("magic number", nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotCheckpoint, err)
	}
	if m, ok := magic.(*big.Int); !ok || m.Text(16) != legacyMagic {
		return nil, fmt.Errorf("%w: a pickle without torch's magic number (the file holds a plain pickle, not torch.save output)", ErrNotCheckpoint)
	}
	proto, err := next("protocol version", nil)
	if err != nil {
		return nil, err
	}
	if p, ok := proto.(int); !ok || p != 1001 {
		return nil, fmt.Errorf("legacy checkpoint: protocol version %v, want 1001", proto)
	}
	sysInfo, err := next("sys info", nil)
	if err != nil {
		return nil, err
	}
	if d, ok := sysInfo.(*types.Dict); ok {
		if le, ok := d.Get("little_endian"); ok && le != true {
			return nil, fmt.Errorf("legacy checkpoint: written on a big-endian machine; only little-endian checkpoints are supported")
		}
	}
	roots := map[string]*storage{}
	views := map[string]*storage{}
	persistentLoad := func(id any) (any, error) {
		t, err := storageID(id, 6)
		if err != nil {
			return nil, err
		}
		class, key, numel, err := storageArgs(t)
		if err != nil {
			return nil, err
		}
		root, ok := roots[key]
		if !ok {
			root = &storage{key: key, class: class, numel: numel}
			roots[key] = root
		} else if root.class != class {
			return nil, fmt.Errorf("storage %q is used as %s and %s", key, root.class.name, class.name)
		}
		switch vm := t.Get(5).(type) {
		case nil:
			return root, nil
		case *types.Tuple:
			if vm.Len() != 3 {
				return nil, fmt.Errorf("storage %q: view metadata has %d fields, want 3", key, vm.Len())
			}
			vkey, ok1 := vm.Get(0).(string)
			voff, ok2 := vm.Get(1).(int)
			vsize, ok3 := vm.Get(2).(int)
			if !ok1 || !ok2 || !ok3 || voff < 0 || vsize < 0 || int64(voff)+int64(vsize) > root.numel {
				return nil, fmt.Errorf("storage %q: bad view metadata %v", key, *vm)
			}
			if v, ok := views[vkey]; ok {
				return v, nil
			}
			v := &storage{key: vkey, class: class, numel: int64(vsize), root: root, off: int64(voff)}
			views[vkey] = v
			return v, nil
		default:
			return nil, fmt.Errorf("storage %q: view metadata is a %s, want a tuple or None", key, typeName(t.Get(5)))
		}
	}
	obj, err := next("state dict", persistentLoad)
	if err != nil {
		return nil, err
	}
	keysObj, err := next("storage keys", nil)
	if err != nil {
		return nil, err
	}
	keys, ok := keysObj.(*types.List)
	if !ok {
		return nil, fmt.Errorf("legacy checkpoint: storage keys are a %s, want a list", typeName(keysObj))
	}
	for _, k := range *keys {
		key, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("legacy checkpoint: storage key is a %s, want a string", typeName(k))
		}
		st, ok := roots[key]
		if !ok {
			return nil, fmt.Errorf("legacy checkpoint: storage %q is listed but never used", key)
		}
		var hdr [8]byte
		if _, err := f.ReadAt(hdr[:], pos); err != nil {
			return nil, fmt.Errorf("truncated: storage %q should start at byte %d, file has %d; re-download the file", key, pos, size)
		}
		numel := int64(binary.LittleEndian.Uint64(hdr[:]))
		if numel != st.numel {
			return nil, fmt.Errorf("legacy checkpoint: storage %q at byte %d has %d elements, the pickle says %d", key, pos, numel, st.numel)
		}
		need := numel * int64(st.class.size)
		if pos+8+need > size {
			return nil, fmt.Errorf("truncated: storage %q ends at byte %d, file has %d; re-download the file", key, pos+8+need, size)
		}
		st.data = io.NewSectionReader(f, pos+8, need)
		pos += 8 + need
	}
	for key, st := range roots {
		if st.data == nil {
			return nil, fmt.Errorf("legacy checkpoint: storage %q has no data (missing from the storage keys)", key)
		}
	}
	return newFile(FormatLegacy, f, obj)
}

// storageID checks a persistent id ('storage', class, key, location, numel, ...).
func storageID(id any, fields int) (*types.Tuple, error) {
	t, ok := id.(*types.Tuple)
	if !ok || t.Len() == 0 {
		return nil, fmt.Errorf("persistent id is a %s, want a tuple", typeName(id))
	}
	if s, _ := t.Get(0).(string); s != "storage" {
		return nil, fmt.Errorf("persistent id of type %v is not supported (want 'storage'); save a state dict, not a module", t.Get(0))
	}
	if t.Len() != fields {
		return nil, fmt.Errorf("storage persistent id has %d fields, want %d", t.Len(), fields)
	}
	return t, nil
}

func storageArgs(t *types.Tuple) (storageClass, string, int64, error) {
	var class storageClass
	switch c := t.Get(1).(type) {
	case storageClass:
		class = c
	case *types.GenericClass:
		return class, "", 0, fmt.Errorf("%w %s.%s (want torch.FloatStorage, HalfStorage, BFloat16Storage, ...)", ErrUnknownStorage, c.Module, c.Name)
	default:
		return class, "", 0, fmt.Errorf("%w: storage class is a %s", ErrUnknownStorage, typeName(t.Get(1)))
	}
	key, ok := t.Get(2).(string)
	if !ok {
		return class, "", 0, fmt.Errorf("storage key is a %s, want a string", typeName(t.Get(2)))
	}
	numel, ok := t.Get(4).(int)
	if !ok || numel < 0 || int64(numel) > math.MaxInt64/8 {
		return class, "", 0, fmt.Errorf("storage %q: bad element count %v", key, t.Get(4))
	}
	return class, key, int64(numel), nil
}

// unpickle decodes one pickle held in buf (whose first n bytes are the scanned
// pickle), with torch's classes and the given persistent_load, until ctx is
// done.
func unpickle(ctx context.Context, buf []byte, n int64, persistentLoad func(any) (any, error)) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, err := scanPickle(bufio.NewReader(bytes.NewReader(buf)), n); err != nil {
		return nil, err
	}
	u := gopickle.NewUnpickler(&ctxReader{ctx: ctx, r: bytes.NewReader(buf[:n])})
	u.FindClass = findClass
	if persistentLoad != nil {
		u.PersistentLoad = persistentLoad
	} else {
		u.PersistentLoad = func(id any) (any, error) {
			return nil, fmt.Errorf("unexpected persistent id %v", id)
		}
	}
	return u.Load()
}

// ctxReader is the unpickler's input: it fails once ctx is done, checked
// every ctxEvery bytes.
type ctxReader struct {
	ctx   context.Context
	r     *bytes.Reader
	count int
}

const ctxEvery = 1 << 12

func (c *ctxReader) tick(n int) error {
	if c.count += n; c.count >= ctxEvery {
		c.count = 0
		return c.ctx.Err()
	}
	return nil
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.tick(len(p)); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func (c *ctxReader) ReadByte() (byte, error) {
	if err := c.tick(1); err != nil {
		return 0, err
	}
	return c.r.ReadByte()
}

// findClass resolves the globals a state dict pickle refers to.
func findClass(module, name string) (any, error) {
	switch module + "." + name {
	case "torch._utils._rebuild_tensor_v2":
		return callable(rebuildTensor(6, 7)), nil
	case "torch._utils._rebuild_tensor":
		return callable(rebuildTensor(4, 4)), nil
	case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
		return callable(rebuildParameter), nil
	}
	if module == "torch" && strings.HasSuffix(name, "Storage") {
		if c, ok := storageClasses[name]; ok {
			return c, nil
		}
	}
	return types.NewGenericClass(module, name), nil
}

type callable func(args ...any) (any, error)

func (c callable) Call(args ...any) (any, error) { return c(args...) }

// rebuildTensor implements torch._utils._rebuild_tensor_v2(storage,
// storage_offset, size, stride, requires_grad, backward_hooks[, metadata]).
func rebuildTensor(minArgs, maxArgs int) func(args ...any) (any, error) {
	return func(args ...any) (any, error) {
		if len(args) < minArgs || len(args) > maxArgs {
			return nil, fmt.Errorf("_rebuild_tensor: %d arguments, want %d to %d", len(args), minArgs, maxArgs)
		}
		st, ok := args[0].(*storage)
		if !ok {
			return nil, fmt.Errorf("_rebuild_tensor: storage is a %s", typeName(args[0]))
		}
		off, ok := args[1].(int)
		if !ok || off < 0 {
			return nil, fmt.Errorf("_rebuild_tensor: bad storage offset %v", args[1])
		}
		shape, err := ints(args[2], "size")
		if err != nil {
			return nil, err
		}
		stride, err := ints(args[3], "stride")
		if err != nil {
			return nil, err
		}
		if len(stride) != len(shape) {
			return nil, fmt.Errorf("_rebuild_tensor: size %v and stride %v differ in length", shape, stride)
		}
		return &tensorRef{st: st, offset: int64(off), shape: shape, stride: stride}, nil
	}
}

// rebuildParameter implements torch._utils._rebuild_parameter(data, ...): a
// Parameter is its data.
func rebuildParameter(args ...any) (any, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("_rebuild_parameter: no arguments")
	}
	t, ok := args[0].(*tensorRef)
	if !ok {
		return nil, fmt.Errorf("_rebuild_parameter: data is a %s, want a tensor", typeName(args[0]))
	}
	return t, nil
}

func ints(v any, what string) ([]int, error) {
	t, ok := v.(*types.Tuple)
	if !ok {
		return nil, fmt.Errorf("_rebuild_tensor: %s is a %s, want a tuple", what, typeName(v))
	}
	out := make([]int, t.Len())
	for i := range out {
		x, ok := t.Get(i).(int)
		if !ok || x < 0 {
			return nil, fmt.Errorf("_rebuild_tensor: %s %v: want non-negative ints", what, *t)
		}
		out[i] = x
	}
	return out, nil
}

// typeName describes a decoded pickle value in Python terms.
func typeName(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case int, *big.Int:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case bool:
		return "bool"
	case []byte:
		return "bytes"
	case *types.List:
		return "list"
	case *types.Tuple:
		return "tuple"
	case *types.Dict:
		return "dict"
	case *types.OrderedDict:
		return "OrderedDict"
	case *types.Set, *types.FrozenSet:
		return "set"
	case *tensorRef:
		return "tensor"
	case *types.GenericObject:
		return v.Class.Module + "." + v.Class.Name
	case *types.GenericClass:
		return "class " + v.Module + "." + v.Name
	}
	return fmt.Sprintf("%T", v)
}

type entry struct {
	key any
	val any
}

// dictEntries lists a dict or OrderedDict in order; ok is false for other values.
func dictEntries(v any) ([]entry, bool) {
	switch d := v.(type) {
	case *types.OrderedDict:
		out := make([]entry, 0, d.Len())
		for e := d.List.Front(); e != nil; e = e.Next() {
			oe := e.Value.(*types.OrderedDictEntry)
			out = append(out, entry{oe.Key, oe.Value})
		}
		return out, true
	case *types.Dict:
		out := make([]entry, 0, len(*d))
		for _, e := range *d {
			out = append(out, entry{e.Key, e.Value})
		}
		return out, true
	}
	return nil, false
}

// stateDict finds the state dict in obj: obj itself, or its "state_dict" or
// "model" entry (training checkpoints).
func stateDict(obj any) ([]entry, error) {
	entries, ok := dictEntries(obj)
	if !ok {
		return nil, fmt.Errorf("%w: the pickle holds a %s, want a state dict (a dict of tensors)", ErrNotCheckpoint, typeName(obj))
	}
	for _, e := range entries {
		if k, _ := e.key.(string); k == "state_dict" || k == "model" {
			if inner, ok := dictEntries(e.val); ok {
				return inner, nil
			}
		}
	}
	return entries, nil
}

func newFile(format string, f *os.File, obj any) (*File, error) {
	entries, err := stateDict(obj)
	if err != nil {
		return nil, err
	}
	file := &File{format: format, f: f, refs: make(map[string]*tensorRef, len(entries))}
	for _, e := range entries {
		t, ok := e.val.(*tensorRef)
		if !ok {
			continue // e.g. an epoch counter next to the weights
		}
		name, ok := e.key.(string)
		if !ok {
			return nil, fmt.Errorf("%w: a tensor is keyed by a %s, want a string", ErrNotCheckpoint, typeName(e.key))
		}
		if err := t.validate(); err != nil {
			return nil, fmt.Errorf("tensor %q: %w", name, err)
		}
		if _, dup := file.refs[name]; dup {
			return nil, fmt.Errorf("tensor %q appears twice", name)
		}
		file.refs[name] = t
		file.tensors = append(file.tensors, TensorInfo{Name: name, DType: t.st.class.dtype, Shape: t.shape})
	}
	if len(file.tensors) == 0 {
		return nil, fmt.Errorf("%w: the %s holds no tensors", ErrNotCheckpoint, typeName(obj))
	}
	var held int64 // bytes the tensors address
	for _, t := range file.refs {
		held += t.numel() * int64(t.st.class.size) // numel <= storage numel: no overflow
	}
	file.inflateBudget = 2*held + inflateSlack
	for _, name := range sortedRefs(file.refs) {
		if zf := file.refs[name].st.rootStorage().zf; zf != nil && zf.UncompressedSize64 > uint64(file.inflateBudget) {
			return nil, file.inflateError(name, zf)
		}
	}
	return file, nil
}

func sortedRefs(m map[string]*tensorRef) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (f *File) inflateError(name string, zf *zip.File) error {
	return fmt.Errorf("tensor %q: compressed zip entry %s inflates to %d bytes, and this checkpoint's compressed storages may inflate to %d bytes in all (twice the %d bytes its tensors hold, plus %d); re-save it with torch.save, which stores storages uncompressed",
		name, zf.Name, zf.UncompressedSize64, f.inflateBudget, (f.inflateBudget-inflateSlack)/2, inflateSlack)
}

// numel returns the number of elements the view addresses.
func (t *tensorRef) numel() int64 {
	n := int64(1)
	for _, d := range t.shape {
		n *= int64(d)
	}
	return n
}

// rootStorage returns the storage that holds st's data.
func (st *storage) rootStorage() *storage {
	if st.root != nil {
		return st.root
	}
	return st
}

// validate checks that every element the view addresses lies in its storage.
func (t *tensorRef) validate() error {
	numel, last := int64(1), t.offset
	for i, d := range t.shape {
		if d == 0 {
			return nil // empty: addresses nothing
		}
		if numel > math.MaxInt64/int64(d) {
			return fmt.Errorf("shape %v is too large", t.shape)
		}
		numel *= int64(d)
		step := int64(d-1) * int64(t.stride[i])
		if t.stride[i] != 0 && step/int64(t.stride[i]) != int64(d-1) || last > math.MaxInt64-step {
			return fmt.Errorf("stride %v of shape %v is too large", t.stride, t.shape)
		}
		last += step
	}
	if last >= t.st.numel {
		return fmt.Errorf("shape %v, stride %v at offset %d reach element %d of storage %q, which holds %d; re-download the file", t.shape, t.stride, t.offset, last, t.st.key, t.st.numel)
	}
	if numel > t.st.numel {
		return fmt.Errorf("shape %v, stride %v address %d elements of storage %q, which holds %d (a stride-0 expansion); save a contiguous copy of the tensor (tensor.contiguous())", t.shape, t.stride, numel, t.st.key, t.st.numel)
	}
	return nil
}

// Format returns FormatZip or FormatLegacy.
func (f *File) Format() string { return f.format }

// Tensors lists the tensors in state dict order. The slice is shared: do
// not modify it.
func (f *File) Tensors() []TensorInfo { return f.tensors }

// Float32 reads the named tensor into dst, which must hold exactly its number
// of elements, converting float16 and bfloat16 exactly. Strided views are
// gathered into row-major order.
func (f *File) Float32(name string, dst []float32) error {
	t, ok := f.refs[name]
	if !ok {
		return fmt.Errorf("pickle: no tensor %q", name)
	}
	numel := 1
	for _, d := range t.shape {
		numel *= d
	}
	if len(dst) != numel {
		return fmt.Errorf("pickle: tensor %q has %d elements (shape %v), destination holds %d", name, numel, t.shape, len(dst))
	}
	class := t.st.class
	var conv func(dst []float32, src []byte)
	switch class.dtype {
	case Float32:
		conv = half.DecodeFloat32
	case Float16:
		conv = half.DecodeFloat16
	case BFloat16:
		conv = half.DecodeBFloat16
	default:
		return fmt.Errorf("pickle: tensor %q has dtype %s: %w (want float32, float16 or bfloat16)", name, class.dtype, ErrUnsupportedDType)
	}
	if numel == 0 {
		return nil
	}
	ra, base, err := f.reader(name, t.st)
	if err != nil {
		return fmt.Errorf("pickle: tensor %q: %w", name, err)
	}
	read := t.readContiguous
	if !t.contiguous() {
		read = t.readStrided
	}
	if err := read(dst, ra, base+t.offset, conv); err != nil {
		return fmt.Errorf("pickle: tensor %q: read: %w", name, err)
	}
	return nil
}

// readContiguous reads len(dst) elements starting at element first of ra,
// in chunks, converting each with conv.
func (t *tensorRef) readContiguous(dst []float32, ra io.ReaderAt, first int64, conv func([]float32, []byte)) error {
	const chunk = 1 << 14 // elements per read
	size := t.st.class.size
	buf := make([]byte, min(len(dst), chunk)*size)
	for i := 0; i < len(dst); i += chunk {
		n := min(chunk, len(dst)-i)
		b := buf[:n*size]
		if _, err := ra.ReadAt(b, (first+int64(i))*int64(size)); err != nil {
			return err
		}
		conv(dst[i:i+n], b)
	}
	return nil
}

// readStrided reads the span of ra the view covers from element first,
// converts it with conv, then gathers the view into dst in row-major order.
func (t *tensorRef) readStrided(dst []float32, ra io.ReaderAt, first int64, conv func([]float32, []byte)) error {
	es := int64(t.st.class.size)
	span := int64(1)
	for i, d := range t.shape {
		span += int64(d-1) * int64(t.stride[i])
	}
	b := make([]byte, span*es)
	if _, err := ra.ReadAt(b, first*es); err != nil {
		return err
	}
	all := make([]float32, span)
	conv(all, b)
	idx := make([]int, len(t.shape)) // the index of dst[i] in the view
	for i := range dst {
		off := 0
		for k, j := range idx {
			off += j * t.stride[k]
		}
		dst[i] = all[off]
		for k := len(idx) - 1; k >= 0; k-- {
			if idx[k]++; idx[k] < t.shape[k] {
				break
			}
			idx[k] = 0
		}
	}
	return nil
}

// contiguous reports whether the view is row-major without gaps.
func (t *tensorRef) contiguous() bool {
	want := 1
	for i := len(t.shape) - 1; i >= 0; i-- {
		if t.shape[i] != 1 && t.stride[i] != want {
			return false
		}
		want *= t.shape[i]
	}
	return true
}

// reader returns the data of the root storage of st, the storage of tensor
// name, and the element offset of st in it. A compressed entry is inflated
// whole, within the File's inflate budget.
func (f *File) reader(name string, st *storage) (io.ReaderAt, int64, error) {
	root, off := st.rootStorage(), int64(0)
	if st.root != nil {
		off = st.off
	}
	if root.data != nil {
		return root.data, off, nil
	}
	if root.zf == nil {
		return nil, 0, fmt.Errorf("storage %q has no data", root.key)
	}
	// A compressed entry (torch writes them stored): read it whole.
	if root.zf.UncompressedSize64 > uint64(f.inflateBudget-f.inflated) {
		return nil, 0, f.inflateError(name, root.zf)
	}
	size := int64(root.zf.UncompressedSize64)
	f.inflated += size
	b, err := readEntry(root.zf, size)
	if err != nil {
		return nil, 0, err
	}
	if int64(len(b)) < root.numel*int64(root.class.size) {
		return nil, 0, fmt.Errorf("storage %q: zip entry is short; re-download the file", root.key)
	}
	return bytes.NewReader(b), off, nil
}

// Close closes the file. The File must not be used afterwards.
func (f *File) Close() error {
	if f.f == nil {
		return nil
	}
	err := f.f.Close()
	f.f = nil
	return err
}
