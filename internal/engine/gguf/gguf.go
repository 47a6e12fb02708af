// Package gguf reads and writes GGUF files, the model container format of
// ggml and llama.cpp (versions 2 and 3, little-endian).
//
// A GGUF file is a header (magic, version, counts), typed key/value
// metadata, tensor descriptions, and an aligned data section holding the
// tensors' bytes. Open memory-maps a file and Parse reads an in-memory image;
// neither copies tensor data: Tensor returns slices of the image.
//
// Every count, length and offset in a file is checked against the bytes that
// are actually there before it is used, so a corrupt, truncated or hostile
// file gives an error, never a panic or an allocation larger than the file.
package gguf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"

	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
)

// Magic is the four bytes every GGUF file starts with.
const Magic = "GGUF"

// DefaultAlignment is the data alignment used when general.alignment is
// absent.
const DefaultAlignment = 32

// KeyAlignment is the metadata key that sets the data alignment.
const KeyAlignment = "general.alignment"

// MaxDims is the largest number of dimensions a tensor may have (ggml's
// GGML_MAX_DIMS).
const MaxDims = 4

// MaxNameLen is the longest tensor name ggml accepts, in bytes (its
// GGML_MAX_NAME minus the terminating NUL).
const MaxNameLen = 63

// ErrFormat is wrapped by every error that reports a malformed file.
var ErrFormat = errors.New("gguf: malformed file")

// KV is one metadata entry.
type KV struct {
	Key   string
	Value Value
}

// TensorInfo describes one tensor of a file.
type TensorInfo struct {
	Name string
	// Dims are the sizes of the dimensions, innermost (contiguous) first,
	// as the file lists them: a matrix of R rows of C values is [C, R].
	Dims []uint64
	Type tensor.Type
	// Offset is the position of the tensor's first byte, relative to the
	// start of the data section.
	Offset uint64
}

// NumElements returns the product of the dimensions (1 for no dimensions).
// For a TensorInfo from a parsed File it cannot overflow.
func (t TensorInfo) NumElements() uint64 {
	n := uint64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// Size returns the number of bytes of the tensor's data, or 0 if the
// dimensions do not form whole blocks of the type (impossible for a parsed
// File).
func (t TensorInfo) Size() uint64 {
	n, err := t.Type.Bytes(t.NumElements())
	if err != nil {
		return 0
	}
	return n
}

// File is a parsed GGUF file.
type File struct {
	// Version is the format version, 2 or 3.
	Version uint32
	// Alignment is the alignment of the data section and of every tensor
	// within it, in bytes.
	Alignment int
	// KV holds the metadata in file order.
	KV []KV
	// Tensors describes the tensors in file order.
	Tensors []TensorInfo

	data      []byte // the data section
	dataStart int64  // file offset of the data section
	keys      map[string]int
	names     map[string]int
	closer    func() error
	mapping   []byte // the file's memory mapping, if Open mapped it
}

// Parse parses a GGUF image held in memory. The File, its Values and the
// tensor bytes it returns refer to data without copying it, so data must not
// be changed while they are in use.
func Parse(data []byte) (*File, error) {
	f, err := parseHeader(data)
	if err != nil {
		return nil, err
	}
	if err := f.layout(data); err != nil {
		return nil, err
	}
	return f, nil
}

// Close releases the file mapping made by Open. Tensor bytes obtained before
// must not be used afterwards; metadata stays readable. Close on a File from
// Parse only forgets the tensor data.
func (f *File) Close() error {
	f.data = nil
	if f.closer == nil {
		return nil
	}
	c := f.closer
	f.closer = nil
	return c()
}

// DataOffset returns the file offset at which the data section starts.
func (f *File) DataOffset() int64 { return f.dataStart }

// Get returns the metadata value of key.
func (f *File) Get(key string) (Value, bool) {
	i, ok := f.keys[key]
	if !ok {
		return Value{}, false
	}
	return f.KV[i].Value, true
}

// String returns the String value of key.
func (f *File) String(key string) (string, bool) {
	v, ok := f.Get(key)
	if !ok {
		return "", false
	}
	return v.AsString()
}

// Uint returns the value of key if it is an integer of any type that is not
// negative.
func (f *File) Uint(key string) (uint64, bool) {
	v, ok := f.Get(key)
	if !ok {
		return 0, false
	}
	return v.AsUint()
}

// Int returns the value of key if it is an integer of any type that fits in
// an int64.
func (f *File) Int(key string) (int64, bool) {
	v, ok := f.Get(key)
	if !ok {
		return 0, false
	}
	return v.AsInt()
}

// Float returns the value of key if it is a Float32, Float64 or integer.
func (f *File) Float(key string) (float64, bool) {
	v, ok := f.Get(key)
	if !ok {
		return 0, false
	}
	return v.AsFloat()
}

// Bool returns the Bool value of key.
func (f *File) Bool(key string) (bool, bool) {
	v, ok := f.Get(key)
	if !ok {
		return false, false
	}
	return v.AsBool()
}

// Strings returns the value of key if it is an array of strings.
func (f *File) Strings(key string) ([]string, bool) {
	v, ok := f.Get(key)
	if !ok {
		return nil, false
	}
	return v.AsStrings()
}

// Float32s returns the value of key if it is an array of Float32 (or
// Float64).
func (f *File) Float32s(key string) ([]float32, bool) {
	v, ok := f.Get(key)
	if !ok {
		return nil, false
	}
	return v.AsFloat32s()
}

// Int32s returns the value of key if it is an array of Int32 or Uint32 (or
// narrower integers); see Value.AsInt32s.
func (f *File) Int32s(key string) ([]int32, bool) {
	v, ok := f.Get(key)
	if !ok {
		return nil, false
	}
	return v.AsInt32s()
}

// Architecture returns general.architecture, or "" if it is absent.
func (f *File) Architecture() string {
	s, _ := f.String("general.architecture")
	return s
}

// TensorInfo returns the description of the named tensor.
func (f *File) TensorInfo(name string) (TensorInfo, bool) {
	i, ok := f.names[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.Tensors[i], true
}

// Tensor returns the description and the bytes of the named tensor. The
// bytes are a view of the file (capacity limited to the tensor), valid until
// Close; ok is false if there is no such tensor or the File is closed.
func (f *File) Tensor(name string) (TensorInfo, []byte, bool) {
	ti, ok := f.TensorInfo(name)
	if !ok || f.data == nil {
		return TensorInfo{}, nil, false
	}
	off, n := ti.Offset, ti.Size()
	if n == 0 {
		return ti, []byte{}, true
	}
	return ti, f.data[off : off+n : off+n], true
}

// decoder reads little-endian fields from b, checking every length against
// what is left.
type decoder struct {
	b   []byte
	off int
}

func (d *decoder) left() uint64 { return uint64(len(d.b) - d.off) }

func (d *decoder) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: at offset %d: %s", ErrFormat, d.off, fmt.Sprintf(format, args...))
}

// take returns the next n bytes.
func (d *decoder) take(n uint64, what string) ([]byte, error) {
	if n > d.left() {
		return nil, d.errorf("truncated %s: need %d bytes, %d left", what, n, d.left())
	}
	b := d.b[d.off : d.off+int(n) : d.off+int(n)]
	d.off += int(n)
	return b, nil
}

func (d *decoder) u32(what string) (uint32, error) {
	b, err := d.take(4, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (d *decoder) u64(what string) (uint64, error) {
	b, err := d.take(8, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// str reads a length-prefixed string.
func (d *decoder) str(what string) ([]byte, error) {
	n, err := d.u64(what + " length")
	if err != nil {
		return nil, err
	}
	return d.take(n, what)
}

// Minimum encoded sizes, used to bound counts before allocating.
const (
	minKVSize     = 8 + 4 + 1     // empty key, type, 1-byte value
	minTensorSize = 8 + 4 + 4 + 8 // empty name, n_dims, type, offset
)

// parseHeader parses everything up to the end of the tensor descriptions.
func parseHeader(b []byte) (*File, error) {
	d := &decoder{b: b}
	magic, err := d.take(4, "magic")
	if err != nil {
		return nil, err
	}
	if string(magic) != Magic {
		return nil, fmt.Errorf("%w: bad magic %q, not a GGUF file", ErrFormat, magic)
	}
	f := &File{}
	if f.Version, err = d.u32("version"); err != nil {
		return nil, err
	}
	switch {
	case f.Version == 2 || f.Version == 3:
	case f.Version == 1:
		return nil, fmt.Errorf("%w: GGUF version 1 is not supported", ErrFormat)
	case f.Version&0xffff == 0 && bits.ReverseBytes32(f.Version) <= 3:
		return nil, fmt.Errorf("%w: big-endian GGUF (version %d) is not supported", ErrFormat, bits.ReverseBytes32(f.Version))
	default:
		return nil, fmt.Errorf("%w: unsupported GGUF version %d", ErrFormat, f.Version)
	}
	nTensors, err := d.u64("tensor count")
	if err != nil {
		return nil, err
	}
	nKV, err := d.u64("metadata count")
	if err != nil {
		return nil, err
	}
	if nKV > d.left()/minKVSize {
		return nil, d.errorf("metadata count %d exceeds what the file can hold", nKV)
	}
	if nTensors > d.left()/minTensorSize {
		return nil, d.errorf("tensor count %d exceeds what the file can hold", nTensors)
	}

	f.KV = make([]KV, 0, nKV)
	f.keys = make(map[string]int, nKV)
	for i := uint64(0); i < nKV; i++ {
		key, err := d.str("metadata key")
		if err != nil {
			return nil, err
		}
		t, err := d.u32("value type")
		if err != nil {
			return nil, err
		}
		v, err := d.value(ValueType(t))
		if err != nil {
			return nil, fmt.Errorf("metadata %q: %w", key, err)
		}
		k := string(key)
		if _, dup := f.keys[k]; dup {
			return nil, fmt.Errorf("%w: duplicate metadata key %q", ErrFormat, k)
		}
		f.keys[k] = len(f.KV)
		f.KV = append(f.KV, KV{Key: k, Value: v})
	}

	f.Alignment = DefaultAlignment
	if v, ok := f.Get(KeyAlignment); ok {
		a, ok := v.AsUint()
		if !ok || a == 0 || a&(a-1) != 0 || a > 1<<30 {
			return nil, fmt.Errorf("%w: %s = %v is not a power of two", ErrFormat, KeyAlignment, v)
		}
		f.Alignment = int(a)
	}

	if nTensors > d.left()/minTensorSize {
		return nil, d.errorf("tensor count %d exceeds what the file can hold", nTensors)
	}
	f.Tensors = make([]TensorInfo, 0, nTensors)
	f.names = make(map[string]int, nTensors)
	for i := uint64(0); i < nTensors; i++ {
		ti, err := d.tensorInfo()
		if err != nil {
			return nil, fmt.Errorf("tensor %d: %w", i, err)
		}
		if _, dup := f.names[ti.Name]; dup {
			return nil, fmt.Errorf("%w: duplicate tensor name %q", ErrFormat, ti.Name)
		}
		f.names[ti.Name] = len(f.Tensors)
		f.Tensors = append(f.Tensors, ti)
	}
	f.dataStart = int64(d.off)
	return f, nil
}

// value reads a value of type t.
func (d *decoder) value(t ValueType) (Value, error) {
	switch {
	case t == String:
		s, err := d.str("string")
		if err != nil {
			return Value{}, err
		}
		return Value{Type: String, raw: s}, nil
	case t == Array:
		return d.array()
	case t.valid():
		b, err := d.take(uint64(t.size()), t.String())
		if err != nil {
			return Value{}, err
		}
		return Value{Type: t, num: scalar(t, b)}, nil
	}
	return Value{}, d.errorf("unknown value type %d", uint32(t))
}

// array reads an array value: element type, count, elements.
func (d *decoder) array() (Value, error) {
	et, err := d.u32("array type")
	if err != nil {
		return Value{}, err
	}
	t := ValueType(et)
	n, err := d.u64("array length")
	if err != nil {
		return Value{}, err
	}
	v := Value{Type: Array, ElemType: t, n: n}
	switch {
	case t == Array:
		return Value{}, d.errorf("nested arrays are not supported")
	case t == String:
		if n > d.left()/8 {
			return Value{}, d.errorf("array of %d strings exceeds what the file can hold", n)
		}
		start := d.off
		for i := uint64(0); i < n; i++ {
			if _, err := d.str("string"); err != nil {
				return Value{}, err
			}
		}
		v.raw = d.b[start:d.off:d.off]
		return v, nil
	case t.valid():
		sz := uint64(t.size())
		if n > d.left()/sz {
			return Value{}, d.errorf("array of %d %v exceeds what the file can hold", n, t)
		}
		v.raw, err = d.take(n*sz, "array")
		return v, err
	}
	return Value{}, d.errorf("unknown array element type %d", et)
}

// tensorInfo reads one tensor description and checks it on its own.
func (d *decoder) tensorInfo() (TensorInfo, error) {
	name, err := d.str("tensor name")
	if err != nil {
		return TensorInfo{}, err
	}
	if len(name) > MaxNameLen {
		return TensorInfo{}, d.errorf("tensor name of %d bytes is longer than %d", len(name), MaxNameLen)
	}
	ti := TensorInfo{Name: string(name)}
	nd, err := d.u32("dimension count")
	if err != nil {
		return TensorInfo{}, err
	}
	if nd > MaxDims {
		return TensorInfo{}, d.errorf("tensor %q has %d dimensions, at most %d allowed", ti.Name, nd, MaxDims)
	}
	ti.Dims = make([]uint64, nd)
	for i := range ti.Dims {
		if ti.Dims[i], err = d.u64("dimension"); err != nil {
			return TensorInfo{}, err
		}
	}
	typ, err := d.u32("tensor type")
	if err != nil {
		return TensorInfo{}, err
	}
	ti.Type = tensor.Type(typ)
	if ti.Offset, err = d.u64("tensor offset"); err != nil {
		return TensorInfo{}, err
	}
	if err := checkShape(ti.Name, ti.Type, ti.Dims); err != nil {
		return TensorInfo{}, err
	}
	return ti, nil
}

// checkShape checks that dims and typ describe a tensor ggml could hold:
// a known type, an element count and byte size that fit in an int64, and
// rows of whole blocks.
func checkShape(name string, typ tensor.Type, dims []uint64) error {
	if !typ.Valid() {
		return fmt.Errorf("%w: tensor %q has unknown type %d", ErrFormat, name, uint32(typ))
	}
	n := uint64(1)
	for _, x := range dims {
		if x > math.MaxInt64 {
			return fmt.Errorf("%w: tensor %q has dimension %d out of range", ErrFormat, name, x)
		}
		hi, lo := bits.Mul64(n, x)
		if hi != 0 || lo > math.MaxInt64 {
			return fmt.Errorf("%w: tensor %q has too many elements %v", ErrFormat, name, dims)
		}
		n = lo
	}
	if len(dims) > 0 && dims[0]%uint64(typ.BlockSize()) != 0 {
		return fmt.Errorf("%w: tensor %q: row of %d is not a multiple of the %v block size %d", ErrFormat, name, dims[0], typ, typ.BlockSize())
	}
	size, err := typ.Bytes(n)
	if err != nil || size > math.MaxInt64 {
		return fmt.Errorf("%w: tensor %q %v: size out of range", ErrFormat, name, dims)
	}
	return nil
}

// layout locates the data section in b and checks every tensor against it:
// aligned, inside the file, not overlapping another.
func (f *File) layout(b []byte) error {
	align := uint64(f.Alignment)
	start := uint64(f.dataStart)
	start = (start + align - 1) &^ (align - 1) // cannot overflow: start < 2^63, align <= 2^30
	f.dataStart = int64(start)
	var data []byte
	if start <= uint64(len(b)) {
		data = b[start:len(b):len(b)]
	}
	type span struct{ off, end uint64 }
	spans := make([]span, 0, len(f.Tensors))
	for _, ti := range f.Tensors {
		size := ti.Size()
		if ti.Offset%align != 0 {
			return fmt.Errorf("%w: tensor %q: offset %d is not a multiple of the alignment %d", ErrFormat, ti.Name, ti.Offset, align)
		}
		if ti.Offset > uint64(len(data)) || size > uint64(len(data))-ti.Offset {
			return fmt.Errorf("%w: tensor %q: bytes [%d, %d+%d) lie outside the data section of %d bytes (truncated file?)", ErrFormat, ti.Name, ti.Offset, ti.Offset, size, len(data))
		}
		if size > 0 {
			spans = append(spans, span{ti.Offset, ti.Offset + size})
		}
	}
	slices.SortFunc(spans, func(a, b span) int {
		switch {
		case a.off < b.off:
			return -1
		case a.off > b.off:
			return 1
		}
		return 0
	})
	for i := 1; i < len(spans); i++ {
		if spans[i].off < spans[i-1].end {
			return fmt.Errorf("%w: tensors overlap at data offset %d", ErrFormat, spans[i].off)
		}
	}
	f.data = data
	if f.data == nil {
		f.data = []byte{}
	}
	return nil
}

// cloneMeta makes f's metadata independent of the parsed image: every
// Value's bytes are copied into one new buffer.
func (f *File) cloneMeta() {
	total := 0
	for _, kv := range f.KV {
		total += len(kv.Value.raw)
	}
	buf := make([]byte, 0, total)
	for i := range f.KV {
		v := &f.KV[i].Value
		if v.raw == nil {
			continue
		}
		start := len(buf)
		buf = append(buf, v.raw...)
		v.raw = buf[start:len(buf):len(buf)]
	}
}
