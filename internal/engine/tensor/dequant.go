package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Dequantize converts len(dst) values stored as type t in src to float32.
// len(dst) must be a whole number of t's blocks and src must hold exactly
// those blocks. The results are bit-identical to ggml's reference C
// (dequantize_row_* and the F16/BF16 conversions).
//
// Supported types: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K,
// Q6_K.
//
// Every product that feeds an addition is rounded explicitly (float32(a*b))
// so that the compiler cannot fuse it into an FMA (it does on arm64 and with
// GOAMD64=v3), which would change the results.
func Dequantize(t Type, src []byte, dst []float32) error {
	fn, err := dequantizer(t)
	if err != nil {
		return err
	}
	want, err := t.RowBytes(len(dst))
	if err != nil {
		return fmt.Errorf("dequantize: %w", err)
	}
	if len(src) != want {
		return fmt.Errorf("dequantize: %w: %d values of %v need %d bytes, have %d", ErrBadLength, len(dst), t, want, len(src))
	}
	fn(src, dst)
	return nil
}

// CanDequantize reports whether Dequantize supports t.
func CanDequantize(t Type) bool {
	_, err := dequantizer(t)
	return err == nil
}

// dequantizer returns the block loop for t. Each function assumes that src
// and dst have been checked to hold the same whole number of blocks.
func dequantizer(t Type) (func(src []byte, dst []float32), error) {
	switch t {
	case F32:
		return dequantF32, nil
	case F16:
		return dequantF16, nil
	case BF16:
		return dequantBF16, nil
	case Q4_0:
		return dequantQ4_0, nil
	case Q4_1:
		return dequantQ4_1, nil
	case Q5_0:
		return dequantQ5_0, nil
	case Q5_1:
		return dequantQ5_1, nil
	case Q8_0:
		return dequantQ8_0, nil
	case Q4_K:
		return dequantQ4_K, nil
	case Q5_K:
		return dequantQ5_K, nil
	case Q6_K:
		return dequantQ6_K, nil
	}
	if !t.Valid() {
		return nil, fmt.Errorf("dequantize: %w: %v", ErrUnknownType, t)
	}
	return nil, fmt.Errorf("dequantize: %w: %v", ErrUnsupported, t)
}

func le16(b []byte) uint16 { return binary.LittleEndian.Uint16(b) }

// half reads a little-endian binary16 and widens it.
func half(b []byte) float32 { return FP16ToFP32(le16(b)) }

func dequantF32(src []byte, dst []float32) {
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
	}
}

func dequantF16(src []byte, dst []float32) {
	for i := range dst {
		dst[i] = FP16ToFP32(le16(src[2*i:]))
	}
}

func dequantBF16(src []byte, dst []float32) {
	for i := range dst {
		dst[i] = BF16ToFP32(le16(src[2*i:]))
	}
}

// Q4_0: d (f16), then 16 bytes holding 32 4-bit values; the low nibbles are
// values 0..15 and the high nibbles values 16..31. value = (q-8)*d.
func dequantQ4_0(src []byte, dst []float32) {
	for len(dst) > 0 {
		b := src[:sizeQ4_0]
		y := dst[:qk4_0]
		d := half(b)
		qs := b[2:18]
		for j, q := range qs {
			y[j] = float32(int32(q&0x0f)-8) * d
			y[j+16] = float32(int32(q>>4)-8) * d
		}
		src, dst = src[sizeQ4_0:], dst[qk4_0:]
	}
}

// Q4_1: d, m (f16), then 32 4-bit values as in Q4_0. value = q*d + m.
func dequantQ4_1(src []byte, dst []float32) {
	for len(dst) > 0 {
		b := src[:sizeQ4_1]
		y := dst[:qk4_1]
		d, m := half(b), half(b[2:])
		qs := b[4:20]
		for j, q := range qs {
			y[j] = float32(float32(q&0x0f)*d) + m
			y[j+16] = float32(float32(q>>4)*d) + m
		}
		src, dst = src[sizeQ4_1:], dst[qk4_1:]
	}
}

// Q5_0: d (f16), qh (32 high bits, little-endian), then 32 low nibbles as in
// Q4_0. value = (q-16)*d with q = nibble | high bit << 4.
func dequantQ5_0(src []byte, dst []float32) {
	for len(dst) > 0 {
		b := src[:sizeQ5_0]
		y := dst[:qk5_0]
		d := half(b)
		qh := binary.LittleEndian.Uint32(b[2:])
		qs := b[6:22]
		for j, q := range qs {
			h0 := (qh >> j << 4) & 0x10
			h1 := (qh >> (j + 12)) & 0x10
			y[j] = float32(int32(uint32(q&0x0f)|h0)-16) * d
			y[j+16] = float32(int32(uint32(q>>4)|h1)-16) * d
		}
		src, dst = src[sizeQ5_0:], dst[qk5_0:]
	}
}

// Q5_1: d, m (f16), qh, then the low nibbles. value = q*d + m.
func dequantQ5_1(src []byte, dst []float32) {
	for len(dst) > 0 {
		b := src[:sizeQ5_1]
		y := dst[:qk5_1]
		d, m := half(b), half(b[2:])
		qh := binary.LittleEndian.Uint32(b[4:])
		qs := b[8:24]
		for j, q := range qs {
			h0 := (qh >> j << 4) & 0x10
			h1 := (qh >> (j + 12)) & 0x10
			y[j] = float32(float32(uint32(q&0x0f)|h0)*d) + m
			y[j+16] = float32(float32(uint32(q>>4)|h1)*d) + m
		}
		src, dst = src[sizeQ5_1:], dst[qk5_1:]
	}
}

// Q8_0: d (f16), then 32 int8 values. value = q*d.
func dequantQ8_0(src []byte, dst []float32) {
	for len(dst) > 0 {
		b := src[:sizeQ8_0]
		y := dst[:qk8_0]
		d := half(b)
		for j, q := range b[2:34] {
			y[j] = float32(int8(q)) * d
		}
		src, dst = src[sizeQ8_0:], dst[qk8_0:]
	}
}

// scaleMinK4 unpacks the j-th 6-bit scale and min of a Q4_K/Q5_K block from
// its 12 packed bytes: 8 scale/min pairs, the low 4 pairs stored whole in
// bytes 0..7 (low 6 bits), the high 4 pairs split between bytes 8..11 (low
// 4 bits) and the top 2 bits of bytes 0..7.
func scaleMinK4(j int, q []byte) (sc, m uint8) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	sc = q[j+4]&0x0f | (q[j-4]>>6)<<4
	m = q[j+4]>>4 | (q[j]>>6)<<4
	return sc, m
}

// Q4_K: super-blocks of 256 values in 8 sub-blocks of 32. d, dmin (f16),
// 12 bytes of packed 6-bit scales and mins, 128 bytes of nibbles: each group
// of 32 bytes holds sub-block 2i in its low nibbles and 2i+1 in its high
// nibbles. value = d*sc*q - dmin*m.
func dequantQ4_K(src []byte, dst []float32) {
	for len(dst) > 0 {
		b := src[:sizeQ4_K]
		y := dst[:QK_K]
		d, dmin := half(b), half(b[2:])
		scales := b[4:16]
		qs := b[16:144]
		for g := range 4 {
			q := qs[32*g : 32*g+32]
			sc, m := scaleMinK4(2*g, scales)
			d1, m1 := d*float32(sc), float32(dmin*float32(m))
			sc, m = scaleMinK4(2*g+1, scales)
			d2, m2 := d*float32(sc), float32(dmin*float32(m))
			lo := y[64*g : 64*g+32]
			hi := y[64*g+32 : 64*g+64]
			for l, v := range q {
				lo[l] = float32(d1*float32(v&0x0f)) - m1
				hi[l] = float32(d2*float32(v>>4)) - m2
			}
		}
		src, dst = src[sizeQ4_K:], dst[QK_K:]
	}
}

// Q5_K: as Q4_K, plus 32 bytes qh after the scales; bit 2i of qh[l] is the
// fifth bit of value l of sub-block 2i, bit 2i+1 that of sub-block 2i+1.
func dequantQ5_K(src []byte, dst []float32) {
	for len(dst) > 0 {
		b := src[:sizeQ5_K]
		y := dst[:QK_K]
		d, dmin := half(b), half(b[2:])
		scales := b[4:16]
		qh := b[16:48]
		qs := b[48:176]
		for g := range 4 {
			q := qs[32*g : 32*g+32]
			sc, m := scaleMinK4(2*g, scales)
			d1, m1 := d*float32(sc), float32(dmin*float32(m))
			sc, m = scaleMinK4(2*g+1, scales)
			d2, m2 := d*float32(sc), float32(dmin*float32(m))
			lo := y[64*g : 64*g+32]
			hi := y[64*g+32 : 64*g+64]
			s1, s2 := uint(2*g), uint(2*g+1)
			for l, v := range q {
				h := qh[l]
				lo[l] = float32(d1*float32(v&0x0f|(h>>s1&1)<<4)) - m1
				hi[l] = float32(d2*float32(v>>4|(h>>s2&1)<<4)) - m2
			}
		}
		src, dst = src[sizeQ5_K:], dst[QK_K:]
	}
}

// Q6_K: 128 bytes ql (low 4 bits), 64 bytes qh (high 2 bits), 16 int8
// scales (one per 16 values), d (f16). value = d*scale*(q-32). Each half of
// the super-block (128 values) uses 64 bytes of ql and 32 of qh.
func dequantQ6_K(src []byte, dst []float32) {
	for len(dst) > 0 {
		b := src[:sizeQ6_K]
		y := dst[:QK_K]
		d := half(b[208:])
		for n := range 2 {
			ql := b[64*n : 64*n+64]
			qh := b[128+32*n : 128+32*n+32]
			sc := b[192+8*n : 192+8*n+8]
			yy := y[128*n : 128*n+128]
			for l := range 32 {
				is := l / 16
				h := qh[l]
				q1 := int32(ql[l]&0x0f|(h&3)<<4) - 32
				q2 := int32(ql[l+32]&0x0f|(h>>2&3)<<4) - 32
				q3 := int32(ql[l]>>4|(h>>4&3)<<4) - 32
				q4 := int32(ql[l+32]>>4|(h>>6&3)<<4) - 32
				yy[l] = float32(d*float32(int8(sc[is]))) * float32(q1)
				yy[l+32] = float32(d*float32(int8(sc[is+2]))) * float32(q2)
				yy[l+64] = float32(d*float32(int8(sc[is+4]))) * float32(q3)
				yy[l+96] = float32(d*float32(int8(sc[is+6]))) * float32(q4)
			}
		}
		src, dst = src[sizeQ6_K:], dst[QK_K:]
	}
}
