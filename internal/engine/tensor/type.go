// Package tensor defines ggml's tensor element types, their block layouts,
// and bit-exact conversions between those layouts and float32.
//
// Every quantized type stores its values in fixed-size blocks. A row of n
// values of type t occupies n/t.BlockSize() blocks of t.TypeSize() bytes
// each; n must be a multiple of the block size. The numbering of Type and
// every block layout follow ggml exactly, so tensors read from a GGUF file
// can be used in place.
package tensor

import (
	"errors"
	"fmt"
)

// Type is a ggml tensor element type. Its numeric values are ggml's
// (enum ggml_type) and are what GGUF files store.
type Type uint32

// The ggml tensor types. Gaps in the numbering are types ggml has removed.
const (
	F32     Type = 0
	F16     Type = 1
	Q4_0    Type = 2
	Q4_1    Type = 3
	Q5_0    Type = 6
	Q5_1    Type = 7
	Q8_0    Type = 8
	Q8_1    Type = 9
	Q2_K    Type = 10
	Q3_K    Type = 11
	Q4_K    Type = 12
	Q5_K    Type = 13
	Q6_K    Type = 14
	Q8_K    Type = 15
	IQ2_XXS Type = 16
	IQ2_XS  Type = 17
	IQ3_XXS Type = 18
	IQ1_S   Type = 19
	IQ4_NL  Type = 20
	IQ3_S   Type = 21
	IQ2_S   Type = 22
	IQ4_XS  Type = 23
	I8      Type = 24
	I16     Type = 25
	I32     Type = 26
	I64     Type = 27
	F64     Type = 28
	IQ1_M   Type = 29
	BF16    Type = 30
	TQ1_0   Type = 34
	TQ2_0   Type = 35
	MXFP4   Type = 39
)

// QK_K is the number of values in a k-quant super-block (Q2_K..Q8_K).
const QK_K = 256

// Block sizes of the 32-value quantized types.
const (
	qk4_0 = 32
	qk4_1 = 32
	qk5_0 = 32
	qk5_1 = 32
	qk8_0 = 32
	qk8_1 = 32
)

// Bytes per block of the types this package converts.
const (
	sizeQ4_0 = 2 + qk4_0/2                   // d, qs
	sizeQ4_1 = 2 + 2 + qk4_1/2               // d, m, qs
	sizeQ5_0 = 2 + 4 + qk5_0/2               // d, qh, qs
	sizeQ5_1 = 2 + 2 + 4 + qk5_1/2           // d, m, qh, qs
	sizeQ8_0 = 2 + qk8_0                     // d, qs
	sizeQ8_1 = 2 + 2 + qk8_1                 // d, s, qs
	sizeQ2_K = QK_K/16 + QK_K/4 + 4          // scales, qs, d, dmin
	sizeQ3_K = QK_K/8 + QK_K/4 + 12 + 2      // hmask, qs, scales, d
	sizeQ4_K = 4 + 12 + QK_K/2               // d, dmin, scales, qs
	sizeQ5_K = 4 + 12 + QK_K/8 + QK_K/2      // d, dmin, scales, qh, qs
	sizeQ6_K = QK_K/2 + QK_K/4 + QK_K/16 + 2 // ql, qh, scales, d
	sizeQ8_K = 4 + QK_K + QK_K/16*2          // d (float32), qs, bsums (int16)
)

// traits describes one type's block layout.
type traits struct {
	name      string
	blockSize int // values per block
	typeSize  int // bytes per block
}

// traitsOf returns the layout of t, and false for an unknown or removed
// type. The repacked layouts (repack.go) have their row-major type's block
// size and bytes per row, though a row is not contiguous.
func traitsOf(t Type) (traits, bool) {
	switch t {
	case F32:
		return traits{"F32", 1, 4}, true
	case F16:
		return traits{"F16", 1, 2}, true
	case Q4_0:
		return traits{"Q4_0", qk4_0, sizeQ4_0}, true
	case Q4_1:
		return traits{"Q4_1", qk4_1, sizeQ4_1}, true
	case Q5_0:
		return traits{"Q5_0", qk5_0, sizeQ5_0}, true
	case Q5_1:
		return traits{"Q5_1", qk5_1, sizeQ5_1}, true
	case Q8_0:
		return traits{"Q8_0", qk8_0, sizeQ8_0}, true
	case Q8_1:
		return traits{"Q8_1", qk8_1, sizeQ8_1}, true
	case Q2_K:
		return traits{"Q2_K", QK_K, sizeQ2_K}, true
	case Q3_K:
		return traits{"Q3_K", QK_K, sizeQ3_K}, true
	case Q4_K:
		return traits{"Q4_K", QK_K, sizeQ4_K}, true
	case Q5_K:
		return traits{"Q5_K", QK_K, sizeQ5_K}, true
	case Q6_K:
		return traits{"Q6_K", QK_K, sizeQ6_K}, true
	case Q8_K:
		return traits{"Q8_K", QK_K, sizeQ8_K}, true
	case IQ2_XXS:
		return traits{"IQ2_XXS", QK_K, 2 + QK_K/4}, true
	case IQ2_XS:
		return traits{"IQ2_XS", QK_K, 2 + QK_K/4 + QK_K/32}, true
	case IQ3_XXS:
		return traits{"IQ3_XXS", QK_K, 2 + 3*QK_K/8}, true
	case IQ1_S:
		return traits{"IQ1_S", QK_K, 2 + QK_K/8 + QK_K/16}, true
	case IQ4_NL:
		return traits{"IQ4_NL", 32, 2 + 16}, true
	case IQ3_S:
		return traits{"IQ3_S", QK_K, 2 + QK_K/4 + QK_K/32 + QK_K/8 + QK_K/64}, true
	case IQ2_S:
		return traits{"IQ2_S", QK_K, 2 + QK_K/4 + QK_K/32 + QK_K/32}, true
	case IQ4_XS:
		return traits{"IQ4_XS", QK_K, 2 + 2 + QK_K/64 + QK_K/2}, true
	case I8:
		return traits{"I8", 1, 1}, true
	case I16:
		return traits{"I16", 1, 2}, true
	case I32:
		return traits{"I32", 1, 4}, true
	case I64:
		return traits{"I64", 1, 8}, true
	case F64:
		return traits{"F64", 1, 8}, true
	case IQ1_M:
		return traits{"IQ1_M", QK_K, QK_K/8 + QK_K/16 + QK_K/32}, true
	case BF16:
		return traits{"BF16", 1, 2}, true
	case TQ1_0:
		return traits{"TQ1_0", QK_K, (QK_K-4*QK_K/64)/5 + QK_K/64 + 2}, true
	case TQ2_0:
		return traits{"TQ2_0", QK_K, QK_K/4 + 2}, true
	case MXFP4:
		return traits{"MXFP4", 32, 1 + 16}, true
	case Q4_0x8:
		return traits{"Q4_0x8", qk4_0, sizeQ4_0}, true
	case Q5_0x8:
		return traits{"Q5_0x8", qk5_0, sizeQ5_0}, true
	case Q4_1x8:
		return traits{"Q4_1x8", qk4_1, sizeQ4_1}, true
	case Q5_1x8:
		return traits{"Q5_1x8", qk5_1, sizeQ5_1}, true
	case Q8_0x8:
		return traits{"Q8_0x8", qk8_0, sizeQ8_0}, true
	case Q4_Kx8:
		return traits{"Q4_Kx8", QK_K, sizeQ4_K}, true
	case Q5_Kx8:
		return traits{"Q5_Kx8", QK_K, sizeQ5_K}, true
	case Q6_Kx8:
		return traits{"Q6_Kx8", QK_K, sizeQ6_K}, true
	}
	return traits{}, false
}

// Valid reports whether t is a type ggml currently defines (not one of
// this package's repacked layouts, which no file holds).
func (t Type) Valid() bool {
	_, ok := traitsOf(t)
	return ok && !t.isRepacked()
}

// String returns ggml's name for t, such as "Q4_K", or "Type(N)" for an
// unknown type.
func (t Type) String() string {
	if tr, ok := traitsOf(t); ok {
		return tr.name
	}
	return fmt.Sprintf("Type(%d)", uint32(t))
}

// BlockSize returns the number of values in one block of t (1 for the
// unquantized types), or 0 for an unknown type.
func (t Type) BlockSize() int {
	tr, _ := traitsOf(t)
	return tr.blockSize
}

// TypeSize returns the number of bytes in one block of t, or 0 for an
// unknown type.
func (t Type) TypeSize() int {
	tr, _ := traitsOf(t)
	return tr.typeSize
}

// IsQuantized reports whether t stores values in multi-value blocks.
func (t Type) IsQuantized() bool {
	return t.BlockSize() > 1
}

// ErrUnknownType is returned (wrapped) for a type this package does not know.
var ErrUnknownType = errors.New("tensor: unknown type")

// ErrUnsupported is returned (wrapped) when a conversion is not implemented
// for a known type.
var ErrUnsupported = errors.New("tensor: conversion not supported")

// ErrBadLength is returned (wrapped) when a value count is not a whole number
// of blocks or a buffer has the wrong size.
var ErrBadLength = errors.New("tensor: bad length")

// RowBytes returns the number of bytes that n values of type t occupy. n must
// be non-negative and a multiple of t.BlockSize(); the result must fit in an
// int.
func (t Type) RowBytes(n int) (int, error) {
	tr, ok := traitsOf(t)
	if !ok {
		return 0, fmt.Errorf("%w: %v", ErrUnknownType, t)
	}
	if n < 0 {
		return 0, fmt.Errorf("%w: %d values of %v", ErrBadLength, n, t)
	}
	if n%tr.blockSize != 0 {
		return 0, fmt.Errorf("%w: %d values is not a multiple of the %v block size %d", ErrBadLength, n, t, tr.blockSize)
	}
	blocks := n / tr.blockSize
	if blocks > maxInt/tr.typeSize {
		return 0, fmt.Errorf("%w: %d values of %v overflow int", ErrBadLength, n, t)
	}
	return blocks * tr.typeSize, nil
}

// Bytes is RowBytes for a uint64 element count, as found in file headers.
// It reports an error if n is not a whole number of blocks or the byte size
// does not fit in a uint64.
func (t Type) Bytes(n uint64) (uint64, error) {
	tr, ok := traitsOf(t)
	if !ok {
		return 0, fmt.Errorf("%w: %v", ErrUnknownType, t)
	}
	bs, ts := uint64(tr.blockSize), uint64(tr.typeSize)
	if n%bs != 0 {
		return 0, fmt.Errorf("%w: %d values is not a multiple of the %v block size %d", ErrBadLength, n, t, bs)
	}
	blocks := n / bs
	if blocks > ^uint64(0)/ts {
		return 0, fmt.Errorf("%w: %d values of %v overflow uint64", ErrBadLength, n, t)
	}
	return blocks * ts, nil
}

const maxInt = int(^uint(0) >> 1)
