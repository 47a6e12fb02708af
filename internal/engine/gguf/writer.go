package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
)

// Writer builds a GGUF file: metadata in the order it is first set, then
// tensors in the order they are added, each aligned to general.alignment
// (DefaultAlignment if unset).
type Writer struct {
	version uint32
	kv      []KV
	keys    map[string]int
	tensors []wtensor
	names   map[string]int
}

type wtensor struct {
	info TensorInfo
	data []byte
}

// NewWriter returns a Writer for GGUF version 2 or 3 (WriteTo fails for any
// other version).
func NewWriter(version uint32) *Writer {
	return &Writer{
		version: version,
		keys:    make(map[string]int),
		names:   make(map[string]int),
	}
}

// SetKV sets the metadata value of key, replacing an earlier value in place.
// v is one of the Go types uint8, int8, uint16, int16, uint32, int32,
// uint64, int64, int (stored as INT64), float32, float64, bool, string, a
// slice of any of those (an array), or a Value (copied, e.g. from a parsed
// File). general.alignment must be an integer power of two; it is stored as
// UINT32, as ggml requires.
func (w *Writer) SetKV(key string, v any) error {
	val, err := toValue(v)
	if err != nil {
		return fmt.Errorf("gguf: SetKV %q: %w", key, err)
	}
	if key == KeyAlignment {
		a, ok := val.AsUint()
		if !ok || a == 0 || a&(a-1) != 0 || a > 1<<30 {
			return fmt.Errorf("gguf: SetKV %q: alignment %v is not a power of two", key, v)
		}
		val = Value{Type: Uint32, num: a}
	}
	if i, ok := w.keys[key]; ok {
		w.kv[i].Value = val
		return nil
	}
	w.keys[key] = len(w.kv)
	w.kv = append(w.kv, KV{Key: key, Value: val})
	return nil
}

// toValue encodes a Go value as an owned Value.
func toValue(v any) (Value, error) {
	switch x := v.(type) {
	case Value:
		if err := checkValue(x); err != nil {
			return Value{}, err
		}
		return x.clone(), nil
	case uint8:
		return Value{Type: Uint8, num: uint64(x)}, nil
	case int8:
		return Value{Type: Int8, num: uint64(uint8(x))}, nil
	case uint16:
		return Value{Type: Uint16, num: uint64(x)}, nil
	case int16:
		return Value{Type: Int16, num: uint64(uint16(x))}, nil
	case uint32:
		return Value{Type: Uint32, num: uint64(x)}, nil
	case int32:
		return Value{Type: Int32, num: uint64(uint32(x))}, nil
	case uint64:
		return Value{Type: Uint64, num: x}, nil
	case int64:
		return Value{Type: Int64, num: uint64(x)}, nil
	case int:
		return Value{Type: Int64, num: uint64(int64(x))}, nil
	case float32:
		return Value{Type: Float32, num: uint64(math.Float32bits(x))}, nil
	case float64:
		return Value{Type: Float64, num: math.Float64bits(x)}, nil
	case bool:
		var n uint64
		if x {
			n = 1
		}
		return Value{Type: Bool, num: n}, nil
	case string:
		return Value{Type: String, raw: []byte(x)}, nil
	case []string:
		var raw []byte
		for _, s := range x {
			raw = binary.LittleEndian.AppendUint64(raw, uint64(len(s)))
			raw = append(raw, s...)
		}
		return Value{Type: Array, ElemType: String, n: uint64(len(x)), raw: raw}, nil
	case []uint8:
		return arrayOf(Uint8, x, func(b []byte, e uint8) []byte { return append(b, e) }), nil
	case []int8:
		return arrayOf(Int8, x, func(b []byte, e int8) []byte { return append(b, uint8(e)) }), nil
	case []uint16:
		return arrayOf(Uint16, x, binary.LittleEndian.AppendUint16), nil
	case []int16:
		return arrayOf(Int16, x, func(b []byte, e int16) []byte { return binary.LittleEndian.AppendUint16(b, uint16(e)) }), nil
	case []uint32:
		return arrayOf(Uint32, x, binary.LittleEndian.AppendUint32), nil
	case []int32:
		return arrayOf(Int32, x, func(b []byte, e int32) []byte { return binary.LittleEndian.AppendUint32(b, uint32(e)) }), nil
	case []uint64:
		return arrayOf(Uint64, x, binary.LittleEndian.AppendUint64), nil
	case []int64:
		return arrayOf(Int64, x, func(b []byte, e int64) []byte { return binary.LittleEndian.AppendUint64(b, uint64(e)) }), nil
	case []int:
		return arrayOf(Int64, x, func(b []byte, e int) []byte { return binary.LittleEndian.AppendUint64(b, uint64(int64(e))) }), nil
	case []float32:
		return arrayOf(Float32, x, func(b []byte, e float32) []byte { return binary.LittleEndian.AppendUint32(b, math.Float32bits(e)) }), nil
	case []float64:
		return arrayOf(Float64, x, func(b []byte, e float64) []byte { return binary.LittleEndian.AppendUint64(b, math.Float64bits(e)) }), nil
	case []bool:
		return arrayOf(Bool, x, func(b []byte, e bool) []byte {
			if e {
				return append(b, 1)
			}
			return append(b, 0)
		}), nil
	}
	return Value{}, fmt.Errorf("unsupported value type %T", v)
}

func arrayOf[T any](t ValueType, xs []T, put func([]byte, T) []byte) Value {
	raw := make([]byte, 0, len(xs)*t.size())
	for _, x := range xs {
		raw = put(raw, x)
	}
	return Value{Type: Array, ElemType: t, n: uint64(len(xs)), raw: raw}
}

// checkValue rejects a Value that is not well formed (e.g. a zero Value of
// an invalid type, or one built by hand).
func checkValue(v Value) error {
	switch {
	case v.Type == String:
		return nil
	case v.Type == Array:
		if v.ElemType == Array || !v.ElemType.valid() {
			return fmt.Errorf("unsupported array element type %v", v.ElemType)
		}
		if v.ElemType == String {
			d := &decoder{b: v.raw}
			for i := uint64(0); i < v.n; i++ {
				if _, err := d.str("string"); err != nil {
					return err
				}
			}
			if d.left() != 0 {
				return errors.New("malformed string array")
			}
			return nil
		}
		if uint64(len(v.raw)) != v.n*uint64(v.ElemType.size()) {
			return errors.New("malformed array")
		}
		return nil
	case v.Type.valid():
		return nil
	}
	return fmt.Errorf("invalid value type %v", v.Type)
}

// AddTensor adds a tensor of type typ with the given dimensions (innermost
// first) and data, which must be exactly the tensor's size. The data is not
// copied: it must stay unchanged until WriteTo returns.
func (w *Writer) AddTensor(name string, typ tensor.Type, dims []uint64, data []byte) error {
	switch {
	case name == "":
		return errors.New("gguf: AddTensor: empty name")
	case len(name) > MaxNameLen:
		return fmt.Errorf("gguf: AddTensor %q: name longer than %d bytes", name, MaxNameLen)
	case len(dims) == 0 || len(dims) > MaxDims:
		return fmt.Errorf("gguf: AddTensor %q: %d dimensions, want 1 to %d", name, len(dims), MaxDims)
	}
	if _, dup := w.names[name]; dup {
		return fmt.Errorf("gguf: AddTensor %q: duplicate tensor name", name)
	}
	if err := checkShape(name, typ, dims); err != nil {
		return fmt.Errorf("gguf: AddTensor: %w", err)
	}
	ti := TensorInfo{Name: name, Dims: slices.Clone(dims), Type: typ}
	if size := ti.Size(); uint64(len(data)) != size {
		return fmt.Errorf("gguf: AddTensor %q: %v %v needs %d bytes, got %d", name, typ, dims, size, len(data))
	}
	w.names[name] = len(w.tensors)
	w.tensors = append(w.tensors, wtensor{info: ti, data: data})
	return nil
}

// alignment returns the data alignment the written file will declare.
func (w *Writer) alignment() uint64 {
	if i, ok := w.keys[KeyAlignment]; ok {
		a, _ := w.kv[i].Value.AsUint() // validated by SetKV
		return a
	}
	return DefaultAlignment
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// WriteTo writes the file to out and returns the number of bytes written.
func (w *Writer) WriteTo(out io.Writer) (int64, error) {
	if w.version != 2 && w.version != 3 {
		return 0, fmt.Errorf("gguf: cannot write version %d, only 2 and 3", w.version)
	}
	cw := &countingWriter{w: out}
	bw := bufio.NewWriterSize(cw, 1<<16)
	align := w.alignment()
	var hdr []byte
	hdr = append(hdr, Magic...)
	hdr = binary.LittleEndian.AppendUint32(hdr, w.version)
	hdr = binary.LittleEndian.AppendUint64(hdr, uint64(len(w.tensors)))
	hdr = binary.LittleEndian.AppendUint64(hdr, uint64(len(w.kv)))
	for _, kv := range w.kv {
		hdr = appendString(hdr, kv.Key)
		hdr = binary.LittleEndian.AppendUint32(hdr, uint32(kv.Value.Type))
		hdr = appendValue(hdr, kv.Value)
	}
	var off uint64
	for _, t := range w.tensors {
		ti := t.info
		hdr = appendString(hdr, ti.Name)
		hdr = binary.LittleEndian.AppendUint32(hdr, uint32(len(ti.Dims)))
		for _, d := range ti.Dims {
			hdr = binary.LittleEndian.AppendUint64(hdr, d)
		}
		hdr = binary.LittleEndian.AppendUint32(hdr, uint32(ti.Type))
		hdr = binary.LittleEndian.AppendUint64(hdr, off)
		off += pad(uint64(len(t.data)), align)
	}
	hdr = append(hdr, make([]byte, pad(uint64(len(hdr)), align)-uint64(len(hdr)))...)
	if _, err := bw.Write(hdr); err != nil {
		return cw.n, fmt.Errorf("gguf: write: %w", err)
	}
	zeros := make([]byte, align)
	for _, t := range w.tensors {
		if _, err := bw.Write(t.data); err != nil {
			return cw.n, fmt.Errorf("gguf: write: %w", err)
		}
		if _, err := bw.Write(zeros[:pad(uint64(len(t.data)), align)-uint64(len(t.data))]); err != nil {
			return cw.n, fmt.Errorf("gguf: write: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return cw.n, fmt.Errorf("gguf: write: %w", err)
	}
	return cw.n, nil
}

// pad rounds n up to a multiple of align (a power of two).
func pad(n, align uint64) uint64 { return (n + align - 1) &^ (align - 1) }

func appendString(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(len(s)))
	return append(b, s...)
}

// appendValue appends the encoding of v without its type tag.
func appendValue(b []byte, v Value) []byte {
	switch v.Type {
	case String:
		b = binary.LittleEndian.AppendUint64(b, uint64(len(v.raw)))
		return append(b, v.raw...)
	case Array:
		b = binary.LittleEndian.AppendUint32(b, uint32(v.ElemType))
		b = binary.LittleEndian.AppendUint64(b, v.n)
		return append(b, v.raw...)
	}
	switch v.Type.size() {
	case 1:
		return append(b, uint8(v.num))
	case 2:
		return binary.LittleEndian.AppendUint16(b, uint16(v.num))
	case 4:
		return binary.LittleEndian.AppendUint32(b, uint32(v.num))
	}
	return binary.LittleEndian.AppendUint64(b, v.num)
}
