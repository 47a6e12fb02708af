package tensor

import (
	"encoding/binary"
	"fmt"
)

// Repacked layouts. Q4_0 and Q8_0 matrices can be copied at load time into
// a layout that interleaves eight rows (as ggml's CPU "repack" buffers do),
// so that one 32-byte vector holds four consecutive weights of each of the
// eight rows and an instruction that sums four byte products per 32-bit
// lane (VPDPBUSD) yields one int32 partial dot product per row: no
// horizontal sums, and the scales of eight rows are applied with one
// vector multiply. The row-major kernels spend most of their instructions
// on exactly those per-row reductions and scale products.
//
// A repacked matrix has a multiple of 8 rows. Rows 8g..8g+7 form group g;
// for each block b of the rows (32 values) the group stores, at byte
// (g·blocks + b)·8·blockBytes (blockBytes: 18 for Q4_0, 22 for Q5_0, 34
// for Q8_0):
//
//   - 16 bytes: the eight rows' fp16 scales d, row 0 first;
//   - Q4_0x8: 4 chunks of 32 bytes; byte 4r+k of chunk j (j < 4) is byte
//     4j+k of row r's 16 quant bytes, so its low nibble is the row's value
//     4j+k and its high nibble value 16+4j+k (each stored as q, weight
//     q-8), exactly as in Q4_0;
//   - Q8_0x8: 8 chunks of 32 bytes; byte 4r+k of chunk j (j < 8) is row
//     r's value 4j+k plus 128 as an unsigned byte (int8 XOR 0x80), the
//     operand VPDPBUSD multiplies as unsigned;
//   - Q5_0x8: the fifth bits first, 8 bytes per chunk j (j < 4): a 32-bit
//     mask whose bit 4r+k is the fifth bit of row r's value 4j+k, then one
//     whose bit 4r+k is that of value 16+4j+k (so that a mask register
//     adds 16 to exactly the bytes of a chunk's nibbles that have it);
//     then 4 chunks of 32 bytes laid out as Q4_0x8's (each value stored
//     as q, weight q-16, exactly as in Q5_0);
//   - Q4_1x8 and Q5_1x8 (blockBytes 20 and 24): Q4_0x8 and Q5_0x8 with
//     the eight rows' fp16 mins m after their scales (16 bytes more); the
//     values are q, weight d·q + m, as in Q4_1 and Q5_1.
//
// A group of rows takes exactly the bytes of its eight rows in the
// row-major type, so a row range that starts and ends on a multiple of 8
// is the same byte range in both layouts. The activations are Q8_0 (Q8_1
// for Q4_1x8 and Q5_1x8), and every product is computed as the pure-Go
// kernels compute it (per row, block by block, the same float32 operations in the same
// order), so results are bit-identical to ReferenceKernels' on the
// row-major matrix.
const (
	// Q4_0x8 is Q4_0 repacked in groups of eight rows (see above). It is
	// not a ggml type and never appears in a file.
	Q4_0x8 Type = 1<<16 | Q4_0
	// Q5_0x8 is Q5_0 repacked in groups of eight rows.
	Q5_0x8 Type = 1<<16 | Q5_0
	// Q4_1x8 is Q4_1 repacked in groups of eight rows.
	Q4_1x8 Type = 1<<16 | Q4_1
	// Q5_1x8 is Q5_1 repacked in groups of eight rows.
	Q5_1x8 Type = 1<<16 | Q5_1
	// Q8_0x8 is Q8_0 repacked in groups of eight rows.
	Q8_0x8 Type = 1<<16 | Q8_0
)

// repackRows is the number of rows a repacked group interleaves.
const repackRows = 8

// Repacked returns the repacked layout of t (Q4_0x8 for Q4_0, Q5_0x8 for
// Q5_0, Q8_0x8 for Q8_0, Q4_Kx8 for Q4_K: repackk.go, Q5_Kx8 for Q5_K:
// repackq5k.go, Q6_Kx8 for Q6_K: repackq6.go), and false if t has none.
func Repacked(t Type) (Type, bool) {
	switch t {
	case Q4_0:
		return Q4_0x8, true
	case Q5_0:
		return Q5_0x8, true
	case Q4_1:
		return Q4_1x8, true
	case Q5_1:
		return Q5_1x8, true
	case Q8_0:
		return Q8_0x8, true
	case Q4_K:
		return Q4_Kx8, true
	case Q5_K:
		return Q5_Kx8, true
	case Q6_K:
		return Q6_Kx8, true
	}
	return 0, false
}

// RepackRows is the number of rows a repacked type's groups hold (8): a
// repacked matrix's row count, and the row ranges a MatFunc of it is given,
// are multiples of it.
func RepackRows(t Type) int {
	if t.isRepacked() {
		return repackRows
	}
	return 1
}

// isRepacked reports whether t is one of the repacked layouts.
func (t Type) isRepacked() bool {
	switch t {
	case Q4_0x8, Q5_0x8, Q4_1x8, Q5_1x8, Q8_0x8, Q4_Kx8, Q5_Kx8, Q6_Kx8:
		return true
	}
	return false
}

// base returns the row-major type of a repacked one, or t itself.
func (t Type) base() Type {
	if t.isRepacked() {
		return t &^ (1 << 16)
	}
	return t
}

// Repack writes the rows of src, rows × cols values of type t (Q4_0, Q5_0,
// Q4_1, Q5_1, Q8_0, Q4_K, Q5_K or Q6_K, row-major), to dst in t's repacked layout. rows must be a
// multiple of 8 and dst the size of src. Groups are independent: callers
// may repack a large matrix in parallel, a range of whole groups at a time
// (a group's bytes are the same range in src and dst).
func Repack(t Type, rows, cols int, dst, src []byte) error {
	rt, ok := Repacked(t)
	if !ok {
		return fmt.Errorf("repack: %w: %v has no repacked layout", ErrUnsupported, t)
	}
	rb, err := t.RowBytes(cols)
	if err != nil {
		return fmt.Errorf("repack: %w", err)
	}
	if rows < 0 || rows%repackRows != 0 {
		return fmt.Errorf("repack: %w: %d rows of %v are not a multiple of %d", ErrBadLength, rows, rt, repackRows)
	}
	if rows > 0 && rb > maxInt/rows || len(src) != rb*rows || len(dst) != len(src) {
		return fmt.Errorf("repack: %w: %d and %d bytes for %d rows of %d %v", ErrBadLength, len(src), len(dst), rows, cols, t)
	}
	switch t {
	case Q4_K:
		repackQ4_K(rows, cols, dst, src)
		return nil
	case Q5_K:
		repackQ5_K(rows, cols, dst, src)
		return nil
	case Q6_K:
		repackQ6_K(rows, cols, dst, src)
		return nil
	}
	nb := cols / 32
	// Each row-block's scale goes to bytes 2r of its group-block, word j of
	// its quants to chunk j at 4r (fixed-size arrays: few bounds checks).
	for g := 0; g < rows; g += repackRows {
		for b := range nb {
			if t == Q8_0 {
				out := (*[repackRows * sizeQ8_0]byte)(dst[(g*nb+repackRows*b)*sizeQ8_0:])
				for r := range repackRows {
					in := (*[sizeQ8_0]byte)(src[(g+r)*rb+b*sizeQ8_0:])
					out[2*r], out[2*r+1] = in[0], in[1]
					for j := range 8 {
						le.PutUint32(out[2*repackRows+32*j+4*r:], le.Uint32(in[2+4*j:])^0x80808080)
					}
				}
				continue
			}
			if t == Q5_0 {
				repackQ5_0Block((*[repackRows * sizeQ5_0]byte)(dst[(g*nb+repackRows*b)*sizeQ5_0:]), src[g*rb+b*sizeQ5_0:], rb)
				continue
			}
			if t == Q4_1 || t == Q5_1 {
				bs := t.TypeSize()
				repackQ1Block(t, dst[(g*nb+repackRows*b)*bs:(g*nb+repackRows*(b+1))*bs], src[g*rb+b*bs:], rb)
				continue
			}
			out := (*[repackRows * sizeQ4_0]byte)(dst[(g*nb+repackRows*b)*sizeQ4_0:])
			for r := range repackRows {
				in := (*[sizeQ4_0]byte)(src[(g+r)*rb+b*sizeQ4_0:])
				out[2*r], out[2*r+1] = in[0], in[1]
				for j := range 4 {
					le.PutUint32(out[2*repackRows+32*j+4*r:], le.Uint32(in[2+4*j:]))
				}
			}
		}
	}
	return nil
}

// repackQ5_0Block writes the group-block of eight Q5_0 row-blocks, the
// first at src and the others rb bytes apart, to out.
func repackQ5_0Block(out *[repackRows * sizeQ5_0]byte, src []byte, rb int) {
	var masks fifthMasks
	for r := range repackRows {
		in := (*[sizeQ5_0]byte)(src[r*rb:])
		out[2*r], out[2*r+1] = in[0], in[1]
		masks.add(le.Uint32(in[2:]), r)
		for j := range 4 {
			le.PutUint32(out[q5Quants+32*j+4*r:], le.Uint32(in[6+4*j:]))
		}
	}
	masks.put(out[2*repackRows:])
}

// fifthMasks are the masks of a Q5_0x8 or Q5_1x8 group-block: the low and
// the high nibbles' fifth bits of chunks 0..3, bit 4r+k of a mask that of
// byte 4r+k of the chunk.
type fifthMasks [8]uint32

// add adds row r's fifth bits, qh of its row-block (bit j of value j).
func (m *fifthMasks) add(qh uint32, r int) {
	for j := range 4 {
		m[2*j] |= (qh >> (4 * j) & 0xf) << (4 * r)
		m[2*j+1] |= (qh >> (16 + 4*j) & 0xf) << (4 * r)
	}
}

// put writes the masks to their 32 bytes of a group-block.
func (m *fifthMasks) put(dst []byte) {
	for i, v := range m {
		le.PutUint32(dst[4*i:], v)
	}
}

// rowFifthBits returns row i's qh from the 32 bytes of masks of a
// group-block: the inverse of fifthMasks.add.
func rowFifthBits(masks []byte, i int) uint32 {
	var qh uint32
	for j := range 4 {
		qh |= (le.Uint32(masks[8*j:]) >> (4 * i) & 0xf) << (4 * j)
		qh |= (le.Uint32(masks[8*j+4:]) >> (4 * i) & 0xf) << (16 + 4*j)
	}
	return qh
}

// q5Quants is where a Q5_0x8 group-block's chunks of nibbles start:
// after the scales and the fifth bits' masks.
const q5Quants = 2*repackRows + 32

// q1Masks is where a Q5_1x8 group-block's masks start, after the scales
// and the mins; q1Quants returns where the chunks of t (Q4_1 or Q5_1)
// start.
const q1Masks = 4 * repackRows

func q1Quants(t Type) int {
	if t == Q5_1 {
		return q1Masks + 32
	}
	return q1Masks
}

// repackQ1Block writes the group-block of eight Q4_1 or Q5_1 row-blocks,
// the first at src and the others rb bytes apart, to out.
func repackQ1Block(t Type, out, src []byte, rb int) {
	quants, q := q1Quants(t), 4 // q: the row-block's quants
	if t == Q5_1 {
		q = 8
	}
	var masks fifthMasks // Q5_1
	for r := range repackRows {
		in := src[r*rb : r*rb+t.TypeSize()]
		out[2*r], out[2*r+1] = in[0], in[1]
		out[2*repackRows+2*r], out[2*repackRows+2*r+1] = in[2], in[3]
		if t == Q5_1 {
			masks.add(le.Uint32(in[4:]), r)
		}
		for j := range 4 {
			le.PutUint32(out[quants+32*j+4*r:], le.Uint32(in[q+4*j:]))
		}
	}
	if t == Q5_1 {
		masks.put(out[q1Masks:])
	}
}

// le is the byte order of every layout here.
var le = binary.LittleEndian

// UnpackRow writes row r of the repacked matrix w (a repacked type t, rows
// of cols values) to dst in the row-major type, e.g. to look up an
// embedding row of a matrix repacked for the output product.
func UnpackRow(t Type, cols int, w []byte, r int, dst []byte) error {
	if !t.isRepacked() {
		return fmt.Errorf("unpack: %w: %v is not a repacked layout", ErrUnsupported, t)
	}
	bt := t.base()
	rb, err := bt.RowBytes(cols)
	if err != nil {
		return fmt.Errorf("unpack: %w", err)
	}
	g := r / repackRows * repackRows
	if r < 0 || len(dst) != rb || rb > 0 && g > (len(w)-repackRows*rb)/rb {
		return fmt.Errorf("unpack: %w: row %d of %d bytes of %v", ErrBadLength, r, len(w), t)
	}
	switch bt {
	case Q4_K:
		unpackRowQ4_K(cols/QK_K, w[g*rb:(g+repackRows)*rb], r-g, dst)
		return nil
	case Q5_K:
		unpackRowQ5_K(cols/QK_K, w[g*rb:(g+repackRows)*rb], r-g, dst)
		return nil
	case Q6_K:
		unpackRowQ6_K(cols/QK_K, w[g*rb:(g+repackRows)*rb], r-g, dst)
		return nil
	}
	bsize, nb, i := bt.TypeSize(), cols/32, r-g
	for b := range nb {
		in := w[(g*nb+repackRows*b)*bsize : (g*nb+repackRows*(b+1))*bsize]
		out := dst[b*bsize : (b+1)*bsize]
		out[0], out[1] = in[2*i], in[2*i+1]
		if bt == Q4_1 || bt == Q5_1 {
			out[2], out[3] = in[2*repackRows+2*i], in[2*repackRows+2*i+1]
			q := 4 // the row-block's quants
			if bt == Q5_1 {
				le.PutUint32(out[4:], rowFifthBits(in[q1Masks:], i))
				q = 8
			}
			for j := range 4 {
				copy(out[q+4*j:q+4*j+4], in[q1Quants(bt)+32*j+4*i:])
			}
			continue
		}
		if bt == Q5_0 {
			le.PutUint32(out[2:], rowFifthBits(in[2*repackRows:], i))
			for j := range 4 {
				copy(out[6+4*j:6+4*j+4], in[q5Quants+32*j+4*i:])
			}
			continue
		}
		for j := 0; j < bsize-2; j += 4 {
			o := 2*repackRows + 8*j + 4*i
			for k := range 4 {
				v := in[o+k]
				if bt == Q8_0 {
					v ^= 0x80
				}
				out[2+j+k] = v
			}
		}
	}
	return nil
}

// matRepackedGo is the pure-Go MatFunc of the repacked types: each row as
// dotQ4_0Q8_0, dotQ5_0Q8_0, dotQ4_1Q8_1, dotQ5_1Q8_1 or dotQ8_0Q8_0
// computes it on the row-major matrix. rows must be a multiple of 8; row
// r's group starts at w[r/8·8·wstride:].
func matRepackedGo(t Type) MatFunc {
	bsize := t.base().TypeSize()
	xt, _ := VecDotType(t)
	xsize := xt.TypeSize()
	return func(n, rows, nx int, w []byte, wstride int, x []byte, xstride int, y []float32, ystride int) {
		if n%32 != 0 || rows%repackRows != 0 {
			panic("tensor: repacked matrix kernel size is not whole blocks and groups")
		}
		nb := n / 32
		checkMat(rows, nx, w, wstride, nb*bsize, x, xstride, nb*xsize, y, ystride)
		if rows > 0 && wstride != nb*bsize {
			panic("tensor: repacked matrix rows must be contiguous")
		}
		for g := 0; g < rows; g += repackRows {
			wg := w[g*wstride : (g+repackRows)*wstride]
			for i := range nx {
				xi := x[i*xstride : i*xstride+nb*xsize]
				for r := range repackRows {
					y[i*ystride+g+r] = dotRepacked(t, nb, wg, r, xi)
				}
			}
		}
	}
}

// dotRepacked is row r of the group wg times x, in dotQ4_0Q8_0's,
// dotQ5_0Q8_0's, dotQ4_1Q8_1's, dotQ5_1Q8_1's or dotQ8_0Q8_0's float32
// operations.
func dotRepacked(t Type, nb int, wg []byte, r int, x []byte) float32 {
	if t == Q4_1x8 || t == Q5_1x8 {
		return dotRepackedQ1(t, nb, wg, r, x)
	}
	var sum float32
	for b := range nb {
		bw, bx := wg[b*repackRows*t.base().TypeSize():], x[b*sizeQ8_0:(b+1)*sizeQ8_0]
		qx := bx[2:34]
		var sumi int32
		switch t {
		case Q5_0x8:
			for j := range 4 {
				q := bw[q5Quants+32*j+4*r:][:4]
				mlo, mhi := le.Uint32(bw[2*repackRows+8*j:])>>(4*r), le.Uint32(bw[2*repackRows+8*j+4:])>>(4*r)
				for k, v := range q {
					h0, h1 := int32(mlo>>k&1)<<4, int32(mhi>>k&1)<<4
					sumi += (int32(v&0x0f) | h0 - 16) * int32(int8(qx[4*j+k]))
					sumi += (int32(v>>4) | h1 - 16) * int32(int8(qx[16+4*j+k]))
				}
			}
		case Q4_0x8:
			for j := range 4 {
				q := bw[2*repackRows+32*j+4*r:][:4]
				for k, v := range q {
					sumi += (int32(v&0x0f) - 8) * int32(int8(qx[4*j+k]))
					sumi += (int32(v>>4) - 8) * int32(int8(qx[16+4*j+k]))
				}
			}
		default:
			for j := range 8 {
				q := bw[2*repackRows+32*j+4*r:][:4]
				for k, v := range q {
					sumi += int32(int8(v^0x80)) * int32(int8(qx[4*j+k]))
				}
			}
		}
		sum += float32(float32(sumi) * (half(bw[2*r:]) * half(bx)))
	}
	return sum
}

// dotRepackedQ1 is dotRepacked of Q4_1x8 and Q5_1x8, in dotQ4_1Q8_1's and
// dotQ5_1Q8_1's float32 operations.
func dotRepackedQ1(t Type, nb int, wg []byte, r int, x []byte) float32 {
	bt := t.base()
	quants := q1Quants(bt)
	var sum float32
	for b := range nb {
		bw, bx := wg[b*repackRows*bt.TypeSize():], x[b*sizeQ8_1:(b+1)*sizeQ8_1]
		qx := bx[4:36]
		var sumi int32
		for j := range 4 {
			q := bw[quants+32*j+4*r:][:4]
			var mlo, mhi uint32
			if bt == Q5_1 {
				mlo, mhi = le.Uint32(bw[q1Masks+8*j:])>>(4*r), le.Uint32(bw[q1Masks+8*j+4:])>>(4*r)
			}
			for k, v := range q {
				h0, h1 := int32(mlo>>k&1)<<4, int32(mhi>>k&1)<<4
				sumi += (int32(v&0x0f) | h0) * int32(int8(qx[4*j+k]))
				sumi += (int32(v>>4) | h1) * int32(int8(qx[16+4*j+k]))
			}
		}
		sum += float32(float32(sumi)*(half(bw[2*r:])*half(bx))) + float32(half(bw[2*repackRows+2*r:])*half(bx[2:]))
	}
	return sum
}
