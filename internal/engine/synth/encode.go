package synth

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/cerulean-ai/cerulean/internal/engine/gguf"
)

// This file is a small streaming GGUF writer. gguf.Writer keeps every
// tensor's bytes until WriteTo, which a 1B-parameter model cannot afford, so
// synth lays the file out first (the header, with every tensor's offset)
// and then writes each tensor's bytes as they are generated. It encodes the
// same format as gguf.Writer, with gguf's exported constants and types, and
// the tests check its output with gguf.Parse and gguf.Open.

// version is the GGUF version written.
const version = 3

// alignment is the data alignment written (general.alignment is not set).
const alignment = gguf.DefaultAlignment

// KV is one metadata entry as a Go value: uint8 ... float64, bool, string,
// or a slice of one of those, the types gguf.Value.Interface returns.
type KV struct {
	Key   string
	Value any
}

// encodeHeader encodes the whole header: magic, version, counts, metadata,
// tensor descriptions (whose Offsets must be set) and the padding up to the
// data section.
func encodeHeader(kvs []KV, tensors []gguf.TensorInfo) ([]byte, error) {
	var b []byte
	b = append(b, gguf.Magic...)
	b = binary.LittleEndian.AppendUint32(b, version)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(tensors)))
	b = binary.LittleEndian.AppendUint64(b, uint64(len(kvs)))
	for _, kv := range kvs {
		b = appendString(b, kv.Key)
		var err error
		if b, err = appendValue(b, kv.Value); err != nil {
			return nil, fmt.Errorf("synth: metadata %q: %w", kv.Key, err)
		}
	}
	for _, t := range tensors {
		if len(t.Name) > gguf.MaxNameLen {
			return nil, fmt.Errorf("synth: tensor name %q is longer than %d bytes", t.Name, gguf.MaxNameLen)
		}
		b = appendString(b, t.Name)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(t.Dims)))
		for _, d := range t.Dims {
			b = binary.LittleEndian.AppendUint64(b, d)
		}
		b = binary.LittleEndian.AppendUint32(b, uint32(t.Type))
		b = binary.LittleEndian.AppendUint64(b, t.Offset)
	}
	return append(b, make([]byte, padding(uint64(len(b))))...), nil
}

// padding is the number of zero bytes that follow n bytes to reach the
// alignment.
func padding(n uint64) uint64 {
	return (alignment - n%alignment) % alignment
}

func appendString(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(len(s)))
	return append(b, s...)
}

// appendValue appends the type tag and the encoding of v.
func appendValue(b []byte, v any) ([]byte, error) {
	tag := func(t gguf.ValueType) { b = binary.LittleEndian.AppendUint32(b, uint32(t)) }
	switch x := v.(type) {
	case uint8:
		tag(gguf.Uint8)
		return append(b, x), nil
	case int8:
		tag(gguf.Int8)
		return append(b, uint8(x)), nil
	case uint16:
		tag(gguf.Uint16)
		return binary.LittleEndian.AppendUint16(b, x), nil
	case int16:
		tag(gguf.Int16)
		return binary.LittleEndian.AppendUint16(b, uint16(x)), nil
	case uint32:
		tag(gguf.Uint32)
		return binary.LittleEndian.AppendUint32(b, x), nil
	case int32:
		tag(gguf.Int32)
		return binary.LittleEndian.AppendUint32(b, uint32(x)), nil
	case uint64:
		tag(gguf.Uint64)
		return binary.LittleEndian.AppendUint64(b, x), nil
	case int64:
		tag(gguf.Int64)
		return binary.LittleEndian.AppendUint64(b, uint64(x)), nil
	case float32:
		tag(gguf.Float32)
		return binary.LittleEndian.AppendUint32(b, math.Float32bits(x)), nil
	case float64:
		tag(gguf.Float64)
		return binary.LittleEndian.AppendUint64(b, math.Float64bits(x)), nil
	case bool:
		tag(gguf.Bool)
		if x {
			return append(b, 1), nil
		}
		return append(b, 0), nil
	case string:
		tag(gguf.String)
		return appendString(b, x), nil
	case []string:
		b = appendArrayHeader(b, gguf.String, len(x))
		for _, s := range x {
			b = appendString(b, s)
		}
		return b, nil
	case []uint8:
		return append(appendArrayHeader(b, gguf.Uint8, len(x)), x...), nil
	case []int8:
		return appendArray(b, gguf.Int8, x, func(b []byte, e int8) []byte { return append(b, uint8(e)) }), nil
	case []uint16:
		return appendArray(b, gguf.Uint16, x, binary.LittleEndian.AppendUint16), nil
	case []int16:
		return appendArray(b, gguf.Int16, x, func(b []byte, e int16) []byte { return binary.LittleEndian.AppendUint16(b, uint16(e)) }), nil
	case []uint32:
		return appendArray(b, gguf.Uint32, x, binary.LittleEndian.AppendUint32), nil
	case []int32:
		return appendArray(b, gguf.Int32, x, func(b []byte, e int32) []byte { return binary.LittleEndian.AppendUint32(b, uint32(e)) }), nil
	case []uint64:
		return appendArray(b, gguf.Uint64, x, binary.LittleEndian.AppendUint64), nil
	case []int64:
		return appendArray(b, gguf.Int64, x, func(b []byte, e int64) []byte { return binary.LittleEndian.AppendUint64(b, uint64(e)) }), nil
	case []float32:
		return appendArray(b, gguf.Float32, x, func(b []byte, e float32) []byte { return binary.LittleEndian.AppendUint32(b, math.Float32bits(e)) }), nil
	case []float64:
		return appendArray(b, gguf.Float64, x, func(b []byte, e float64) []byte { return binary.LittleEndian.AppendUint64(b, math.Float64bits(e)) }), nil
	case []bool:
		return appendArray(b, gguf.Bool, x, func(b []byte, e bool) []byte {
			if e {
				return append(b, 1)
			}
			return append(b, 0)
		}), nil
	}
	return nil, fmt.Errorf("unsupported value type %T", v)
}

func appendArrayHeader(b []byte, elem gguf.ValueType, n int) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(gguf.Array))
	b = binary.LittleEndian.AppendUint32(b, uint32(elem))
	return binary.LittleEndian.AppendUint64(b, uint64(n))
}

func appendArray[T any](b []byte, elem gguf.ValueType, xs []T, put func([]byte, T) []byte) []byte {
	b = appendArrayHeader(b, elem, len(xs))
	for _, x := range xs {
		b = put(b, x)
	}
	return b
}
