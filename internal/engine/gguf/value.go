package gguf

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
)

// ValueType is the type tag of a GGUF metadata value.
type ValueType uint32

// The GGUF metadata value types, numbered as in the file format.
const (
	Uint8   ValueType = 0
	Int8    ValueType = 1
	Uint16  ValueType = 2
	Int16   ValueType = 3
	Uint32  ValueType = 4
	Int32   ValueType = 5
	Float32 ValueType = 6
	Bool    ValueType = 7
	String  ValueType = 8
	Array   ValueType = 9
	Uint64  ValueType = 10
	Int64   ValueType = 11
	Float64 ValueType = 12
)

// String returns the type's name as the GGUF specification spells it
// (UINT8, FLOAT32, ...).
func (t ValueType) String() string {
	switch t {
	case Uint8:
		return "UINT8"
	case Int8:
		return "INT8"
	case Uint16:
		return "UINT16"
	case Int16:
		return "INT16"
	case Uint32:
		return "UINT32"
	case Int32:
		return "INT32"
	case Float32:
		return "FLOAT32"
	case Bool:
		return "BOOL"
	case String:
		return "STRING"
	case Array:
		return "ARRAY"
	case Uint64:
		return "UINT64"
	case Int64:
		return "INT64"
	case Float64:
		return "FLOAT64"
	}
	return fmt.Sprintf("ValueType(%d)", uint32(t))
}

// valid reports whether t is one of the defined value types.
func (t ValueType) valid() bool { return t <= Float64 }

// size returns the encoded size of a scalar of type t, or 0 for String,
// Array and invalid types.
func (t ValueType) size() int {
	switch t {
	case Uint8, Int8, Bool:
		return 1
	case Uint16, Int16:
		return 2
	case Uint32, Int32, Float32:
		return 4
	case Uint64, Int64, Float64:
		return 8
	}
	return 0
}

func (t ValueType) isInteger() bool {
	switch t {
	case Uint8, Int8, Uint16, Int16, Uint32, Int32, Uint64, Int64:
		return true
	}
	return false
}

// Value is one metadata value. Type says what it holds; for arrays ElemType
// is the element type (arrays of arrays are not supported). Read it with
// the As* methods.
//
// A Value returned by Parse refers to the parsed image without copying, so it
// is valid as long as that memory is. Values of a File from Open are copied
// out of the mapping and stay valid after Close.
type Value struct {
	Type     ValueType
	ElemType ValueType // only for Type == Array

	num uint64 // scalar payload: the raw little-endian bits, zero-extended
	raw []byte // String: the bytes; Array: the encoded elements
	n   uint64 // Array: element count
}

// scalar decodes the payload of a fixed-size value of type t from b, which
// holds at least t.size() bytes.
func scalar(t ValueType, b []byte) uint64 {
	switch t.size() {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.LittleEndian.Uint16(b))
	case 4:
		return uint64(binary.LittleEndian.Uint32(b))
	case 8:
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

// asInt64 interprets the raw bits of an integer of type t as a signed value
// when the type is signed. ok is false for non-integer types.
func intBits(t ValueType, bits uint64) (u uint64, s int64, signed, ok bool) {
	switch t {
	case Uint8, Uint16, Uint32, Uint64:
		return bits, 0, false, true
	case Int8:
		return 0, int64(int8(bits)), true, true
	case Int16:
		return 0, int64(int16(bits)), true, true
	case Int32:
		return 0, int64(int32(bits)), true, true
	case Int64:
		return 0, int64(bits), true, true
	}
	return 0, 0, false, false
}

// AsUint returns an integer value that is not negative.
func (v Value) AsUint() (uint64, bool) {
	u, s, signed, ok := intBits(v.Type, v.num)
	switch {
	case !ok:
		return 0, false
	case signed:
		if s < 0 {
			return 0, false
		}
		return uint64(s), true
	}
	return u, true
}

// AsInt returns an integer value that fits in an int64.
func (v Value) AsInt() (int64, bool) {
	u, s, signed, ok := intBits(v.Type, v.num)
	switch {
	case !ok:
		return 0, false
	case signed:
		return s, true
	case u > math.MaxInt64:
		return 0, false
	}
	return int64(u), true
}

// AsFloat returns a Float32 or Float64 value, or an integer converted to
// float64.
func (v Value) AsFloat() (float64, bool) {
	switch v.Type {
	case Float32:
		return float64(math.Float32frombits(uint32(v.num))), true
	case Float64:
		return math.Float64frombits(v.num), true
	}
	u, s, signed, ok := intBits(v.Type, v.num)
	switch {
	case !ok:
		return 0, false
	case signed:
		return float64(s), true
	}
	return float64(u), true
}

// AsBool returns a Bool value (any non-zero byte is true).
func (v Value) AsBool() (bool, bool) {
	if v.Type != Bool {
		return false, false
	}
	return v.num != 0, true
}

// AsString returns a String value.
func (v Value) AsString() (string, bool) {
	if v.Type != String {
		return "", false
	}
	return string(v.raw), true
}

// Len returns the number of elements of an array, and 0 for other values.
func (v Value) Len() int {
	if v.Type != Array {
		return 0
	}
	return int(v.n) // bounded by the bytes of the image at parse time
}

// eachString calls fn for every element of an array of strings, whose
// encoding has been validated.
func (v Value) eachString(fn func(i int, s []byte)) {
	b := v.raw
	for i := 0; i < int(v.n); i++ {
		l := binary.LittleEndian.Uint64(b)
		fn(i, b[8:8+l])
		b = b[8+l:]
	}
}

// AsStrings returns an array of strings.
func (v Value) AsStrings() ([]string, bool) {
	if v.Type != Array || v.ElemType != String {
		return nil, false
	}
	out := make([]string, v.n)
	v.eachString(func(i int, s []byte) { out[i] = string(s) })
	return out, true
}

// elem returns the raw bits of element i of a fixed-size array.
func (v Value) elem(i int) uint64 {
	sz := v.ElemType.size()
	return scalar(v.ElemType, v.raw[i*sz:])
}

// AsFloat32s returns an array of Float32 (or Float64, narrowed) values.
func (v Value) AsFloat32s() ([]float32, bool) {
	if v.Type != Array || (v.ElemType != Float32 && v.ElemType != Float64) {
		return nil, false
	}
	out := make([]float32, v.n)
	for i := range out {
		if v.ElemType == Float32 {
			out[i] = math.Float32frombits(uint32(v.elem(i)))
		} else {
			out[i] = float32(math.Float64frombits(v.elem(i)))
		}
	}
	return out, true
}

// AsInt32s returns an array of Int32 or Uint32 values (a Uint32 above
// math.MaxInt32 keeps its bits, so 0xFFFFFFFF reads as -1), or of narrower
// integers, widened.
func (v Value) AsInt32s() ([]int32, bool) {
	if v.Type != Array {
		return nil, false
	}
	switch v.ElemType {
	case Uint8, Int8, Uint16, Int16, Uint32, Int32:
	default:
		return nil, false
	}
	out := make([]int32, v.n)
	for i := range out {
		_, s, signed, _ := intBits(v.ElemType, v.elem(i))
		if signed {
			out[i] = int32(s)
		} else {
			out[i] = int32(uint32(v.elem(i)))
		}
	}
	return out, true
}

// AsInt64s returns an array of any integer type as int64 values. Uint64
// elements above math.MaxInt64 make it fail.
func (v Value) AsInt64s() ([]int64, bool) {
	if v.Type != Array || !v.ElemType.isInteger() {
		return nil, false
	}
	out := make([]int64, v.n)
	for i := range out {
		e := Value{Type: v.ElemType, num: v.elem(i)}
		x, ok := e.AsInt()
		if !ok {
			return nil, false
		}
		out[i] = x
	}
	return out, true
}

// Interface returns the value as the matching Go type: uint8 ... float64,
// bool, string, or for arrays a slice of those ([]string, []float32, ...).
// It is the inverse of what Writer.SetKV accepts.
func (v Value) Interface() any {
	switch v.Type {
	case Uint8:
		return uint8(v.num)
	case Int8:
		return int8(v.num)
	case Uint16:
		return uint16(v.num)
	case Int16:
		return int16(v.num)
	case Uint32:
		return uint32(v.num)
	case Int32:
		return int32(v.num)
	case Uint64:
		return v.num
	case Int64:
		return int64(v.num)
	case Float32:
		return math.Float32frombits(uint32(v.num))
	case Float64:
		return math.Float64frombits(v.num)
	case Bool:
		return v.num != 0
	case String:
		return string(v.raw)
	case Array:
		return v.arrayInterface()
	}
	return nil
}

func (v Value) arrayInterface() any {
	n := int(v.n)
	switch v.ElemType {
	case String:
		s, _ := v.AsStrings()
		return s
	case Uint8:
		return fill(n, func(i int) uint8 { return uint8(v.elem(i)) })
	case Int8:
		return fill(n, func(i int) int8 { return int8(v.elem(i)) })
	case Uint16:
		return fill(n, func(i int) uint16 { return uint16(v.elem(i)) })
	case Int16:
		return fill(n, func(i int) int16 { return int16(v.elem(i)) })
	case Uint32:
		return fill(n, func(i int) uint32 { return uint32(v.elem(i)) })
	case Int32:
		return fill(n, func(i int) int32 { return int32(v.elem(i)) })
	case Uint64:
		return fill(n, func(i int) uint64 { return v.elem(i) })
	case Int64:
		return fill(n, func(i int) int64 { return int64(v.elem(i)) })
	case Float32:
		return fill(n, func(i int) float32 { return math.Float32frombits(uint32(v.elem(i))) })
	case Float64:
		return fill(n, func(i int) float64 { return math.Float64frombits(v.elem(i)) })
	case Bool:
		return fill(n, func(i int) bool { return v.elem(i) != 0 })
	}
	return nil
}

func fill[T any](n int, f func(int) T) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

// Equal reports whether v and u have the same type and encoded contents
// (so that go-cmp compares Values by content).
func (v Value) Equal(u Value) bool {
	if v.Type != u.Type || v.num != u.num || v.n != u.n {
		return false
	}
	if v.Type == Array && v.ElemType != u.ElemType {
		return false
	}
	return bytes.Equal(v.raw, u.raw)
}

// clone returns a copy of v that shares no memory with it.
func (v Value) clone() Value {
	if v.raw != nil {
		v.raw = bytes.Clone(v.raw)
	}
	return v
}

// String formats the value for people, eliding long arrays.
func (v Value) String() string {
	if v.Type != Array {
		if v.Type == String {
			return fmt.Sprintf("%q", v.raw)
		}
		return fmt.Sprint(v.Interface())
	}
	const show = 8
	var sb strings.Builder
	fmt.Fprintf(&sb, "[%d]%v{", v.n, v.ElemType)
	k := min(int(v.n), show)
	head := Value{Type: Array, ElemType: v.ElemType, n: uint64(k), raw: v.raw}
	if v.ElemType != String {
		head.raw = v.raw[:k*v.ElemType.size()]
	}
	i := 0
	if v.ElemType == String {
		head.eachString(func(j int, s []byte) {
			if j < k {
				if j > 0 {
					sb.WriteString(", ")
				}
				fmt.Fprintf(&sb, "%q", s)
			}
		})
		i = k
	}
	for ; i < k; i++ {
		if i > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprint(&sb, Value{Type: v.ElemType, num: head.elem(i)}.Interface())
	}
	if int(v.n) > k {
		sb.WriteString(", ...")
	}
	sb.WriteString("}")
	return sb.String()
}
