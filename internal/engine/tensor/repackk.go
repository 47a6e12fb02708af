package tensor

// Q4_Kx8 is Q4_K repacked in groups of eight rows, like Q4_0x8 (see
// repack.go): one super-block of 256 values of the eight rows of group g
// (rows 8g..8g+7) takes the 8·144 = 1152 bytes at (g·blocks + b)·1152 for
// super-block b, the bytes of the eight rows' block b in Q4_K:
//
//   - 16 bytes: the rows' fp16 d, row 0 first; 16 bytes: their fp16 dmin;
//   - 96 bytes: the 64 6-bit scales sc(j, r) and 64 6-bit mins m(j, r) of
//     sub-block j (32 values) of row r, repacked from the rows' 12 packed
//     bytes into three 32-byte arrays A, B, C that whole-vector operations
//     unpack to one byte per scale and per min:
//     SC[8j+r] = sc(j, r) and MN[16(j/2)+2r+j%2] = m(j, r), then
//     A[i] = SC[i] | SC[i+32]>>4<<6, B[i] = MN[i] | MN[i+32]>>4<<6 and
//     C[i] = SC[i+32]&15 | (MN[i+32]&15)<<4 for i < 32 (the Q4_K packing
//     itself, with the 64 scales in place of 8). SC holds the eight rows'
//     scales of sub-block j in bytes 8j..8j+7 (one int32 lane per row once
//     zero-extended); MN the mins of sub-blocks 2i and 2i+1 of row r as
//     the int16 pair at word 8i+r once zero-extended (for VPDPWSSD with a
//     pair of activation block sums);
//   - 1024 bytes: 32 chunks of 32 bytes; byte 4r+k of chunk c is byte 4c+k
//     of row r's 128 quant bytes, so its low nibble is the row's value
//     64(c/8)+4(c%8)+k (sub-block 2(c/8)) and its high nibble that plus 32
//     (sub-block 2(c/8)+1), exactly as in Q4_K.
//
// The packing of the scales is a bijection (96 bits either way), so
// UnpackRow gives back the rows' bytes exactly. The activations are Q8_K.
const Q4_Kx8 Type = 1<<16 | Q4_K

// Offsets in a Q4_Kx8 group-block.
const (
	k8Dmin   = 2 * repackRows        // the eight dmin
	k8A      = 4 * repackRows        // A, B, C: the scales and mins
	k8Quants = k8A + 3*32            // the 32 chunks of nibbles
	k8Size   = repackRows * sizeQ4_K // bytes per group-block
)

// k8ScaleIndex returns the indexes of sub-block j of row r in SC and MN.
func k8ScaleIndex(j, r int) (sc, mn int) { return 8*j + r, 16*(j/2) + 2*r + j%2 }

// repackQ4_K is Repack of Q4_K, whose arguments Repack has checked.
func repackQ4_K(rows, cols int, dst, src []byte) {
	nb, rb := cols/QK_K, cols/QK_K*sizeQ4_K
	for g := 0; g < rows; g += repackRows {
		for b := range nb {
			out := (*[k8Size]byte)(dst[(g*nb+repackRows*b)*sizeQ4_K:])
			in := func(r int) []byte { return src[(g+r)*rb+b*sizeQ4_K : (g+r)*rb+(b+1)*sizeQ4_K] }
			k8Head(out[:k8Quants], in)
			for r := range repackRows {
				for c := range 32 {
					le.PutUint32(out[k8Quants+32*c+4*r:], le.Uint32(in(r)[16+4*c:]))
				}
			}
		}
	}
}

// k8Head writes the first k8Quants bytes of a Q4_Kx8 (or Q5_Kx8)
// group-block to out: the d, dmin, scales and mins of the eight rows'
// blocks, whose first 16 bytes (d, dmin and the 12 bytes of scales and
// mins, as Q4_K and Q5_K both start) block(r) returns for row r.
func k8Head(out []byte, block func(r int) []byte) {
	var sc, mn [64]byte
	for r := range repackRows {
		in := block(r)
		out[2*r], out[2*r+1] = in[0], in[1]
		out[k8Dmin+2*r], out[k8Dmin+2*r+1] = in[2], in[3]
		for j := range 8 {
			s, m := scaleMinK4(j, in[4:16])
			is, im := k8ScaleIndex(j, r)
			sc[is], mn[im] = s, m
		}
	}
	for i := range 32 {
		out[k8A+i] = sc[i] | sc[i+32]>>4<<6
		out[k8A+32+i] = mn[i] | mn[i+32]>>4<<6
		out[k8A+64+i] = sc[i+32]&15 | mn[i+32]&15<<4
	}
}

// k8ScaleMin returns the 6-bit scale and min of sub-block j of row r of
// the Q4_Kx8 group-block blk.
func k8ScaleMin(blk []byte, j, r int) (sc, m uint8) {
	is, im := k8ScaleIndex(j, r)
	a, bb, c := blk[k8A:k8A+32], blk[k8A+32:k8A+64], blk[k8A+64:k8A+96]
	if is < 32 {
		sc = a[is] & 63
	} else {
		sc = c[is-32]&15 | a[is-32]>>6<<4
	}
	if im < 32 {
		m = bb[im] & 63
	} else {
		m = c[im-32]>>4 | bb[im-32]>>6<<4
	}
	return sc, m
}

// unpackRowQ4_K writes row i of the group whose super-blocks are at wg to
// dst, nb super-blocks of Q4_K.
func unpackRowQ4_K(nb int, wg []byte, i int, dst []byte) {
	for b := range nb {
		in := wg[b*k8Size : (b+1)*k8Size]
		out := dst[b*sizeQ4_K : (b+1)*sizeQ4_K]
		k8HeadRow(in, i, out[:16])
		for c := range 32 {
			copy(out[16+4*c:16+4*c+4], in[k8Quants+32*c+4*i:])
		}
	}
}

// k8HeadRow writes row i's d, dmin and 12 bytes of scales and mins from
// the group-block in (Q4_Kx8 or Q5_Kx8) to out, as its block starts in
// Q4_K and Q5_K.
func k8HeadRow(in []byte, i int, out []byte) {
	out[0], out[1] = in[2*i], in[2*i+1]
	out[2], out[3] = in[k8Dmin+2*i], in[k8Dmin+2*i+1]
	var sc, m [8]uint8
	for j := range 8 {
		sc[j], m[j] = k8ScaleMin(in, j, i)
	}
	s := out[4:16]
	for j := range 4 {
		s[j] = sc[j] | sc[j+4]>>4<<6
		s[j+4] = m[j] | m[j+4]>>4<<6
		s[j+8] = sc[j+4]&15 | m[j+4]&15<<4
	}
}

// matQ4_Kx8Go is the pure-Go MatFunc of Q4_Kx8: each row as dotQ4_KQ8_K
// computes it on the row-major matrix. rows must be a multiple of 8 and
// the rows contiguous (wstride the bytes of a row).
func matQ4_Kx8Go(n, rows, nx int, w []byte, wstride int, x []byte, xstride int, y []float32, ystride int) {
	matKx8Go(dotQ4_Kx8, sizeQ4_K, n, rows, nx, w, wstride, x, xstride, y, ystride)
}

// matKx8Go is the pure-Go MatFunc of a repacked k-quant (Q4_Kx8, Q6_Kx8)
// whose row-major blocks take size bytes: dot(nb, wg, r, x) is row r of the
// group at wg times x.
func matKx8Go(dot func(nb int, wg []byte, r int, x []byte) float32, size, n, rows, nx int, w []byte, wstride int, x []byte, xstride int, y []float32, ystride int) {
	nb := checkKx8(n, rows, nx, w, wstride, x, xstride, y, ystride, size)
	for g := 0; g < rows; g += repackRows {
		wg := w[g*wstride : (g+repackRows)*wstride]
		for i := range nx {
			xi := x[i*xstride : i*xstride+nb*sizeQ8_K]
			for r := range repackRows {
				y[i*ystride+g+r] = dot(nb, wg, r, xi)
			}
		}
	}
}

// checkKx8 checks the arguments of a Q4_Kx8 or Q6_Kx8 MatFunc (size: the
// bytes of the row-major type's block) and returns the number of
// super-blocks of a row.
func checkKx8(n, rows, nx int, w []byte, wstride int, x []byte, xstride int, y []float32, ystride int, size int) int {
	if n%QK_K != 0 || rows%repackRows != 0 {
		panic("tensor: repacked matrix kernel size is not whole blocks and groups")
	}
	nb := n / QK_K
	checkMat(rows, nx, w, wstride, nb*size, x, xstride, nb*sizeQ8_K, y, ystride)
	if rows > 0 && wstride != nb*size {
		panic("tensor: repacked matrix rows must be contiguous")
	}
	return nb
}

// dotQ4_Kx8 is row r of the group wg times x, in dotQ4_KQ8_K's float32
// operations (its integer sums are exact, so their order is free).
func dotQ4_Kx8(nb int, wg []byte, r int, x []byte) float32 { return dotK8(nb, wg, r, x, false) }

// dotK8 is dotQ4_Kx8, or with fifth dotQ5_Kx8 (Q5_Kx8: the same
// group-block and the fifth bits' masks after it).
func dotK8(nb int, wg []byte, r int, x []byte, fifth bool) float32 {
	size := k8Size
	if fifth {
		size = k5Size
	}
	var sum float32
	for b := range nb {
		bw := wg[b*size : (b+1)*size]
		dy, qy, bsum := q8K(x[b*sizeQ8_K : (b+1)*sizeQ8_K])
		var sumi, sumMins int32
		for g := range 4 {
			sc1, m1 := k8ScaleMin(bw, 2*g, r)
			sc2, m2 := k8ScaleMin(bw, 2*g+1, r)
			var lo, hi int32
			for c := 8 * g; c < 8*g+8; c++ {
				q := bw[k8Quants+32*c+4*r:][:4]
				var mlo, mhi uint32 // the fifth bits of the low and high nibbles
				if fifth {
					mlo, mhi = le.Uint32(bw[k5Masks+8*c:])>>(4*r), le.Uint32(bw[k5Masks+8*c+4:])>>(4*r)
				}
				y := qy[64*g+4*(c%8):]
				for k, v := range q {
					lo += int32(v&0x0f|byte(mlo>>k&1)<<4) * int32(int8(y[k]))
					hi += int32(v>>4|byte(mhi>>k&1)<<4) * int32(int8(y[32+k]))
				}
			}
			sumi += int32(sc1)*lo + int32(sc2)*hi
			sumMins += int32(m1)*(bsum(4*g)+bsum(4*g+1)) + int32(m2)*(bsum(4*g+2)+bsum(4*g+3))
		}
		sum += float32(float32(dy*half(bw[2*r:]))*float32(sumi)) - float32(float32(dy*half(bw[k8Dmin+2*r:]))*float32(sumMins))
	}
	return sum
}
