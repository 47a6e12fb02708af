package tensor

// Q5_Kx8 is Q5_K repacked in groups of eight rows: Q4_Kx8's group-block
// (see repackk.go: the rows' d and dmin, their scales and mins in A, B
// and C, and 32 chunks of the low four bits of every value, each byte
// holding a value of sub-block 2(c/8) in its low nibble and one of
// sub-block 2(c/8)+1 in its high one) followed by the values' fifth bits
// as masks, as Q5_0x8 keeps them (repack.go): for chunk c, at
// k5Masks+8c, a 32-bit mask of the low nibbles' fifth bits (bit 4r+k that
// of byte 4r+k of the chunk) and one of the high nibbles'. A group-block
// is the 8·176 = 1408 bytes of the eight rows' block in Q5_K. The
// activations are Q8_K.
const Q5_Kx8 Type = 1<<16 | Q5_K

// Offsets in a Q5_Kx8 group-block: Q4_Kx8's, then the masks.
const (
	k5Masks = k8Quants + 32*32             // the 32 chunks' pairs of masks
	k5Size  = repackRows * sizeQ5_K        // bytes per group-block
	q5kQH   = 16                           // qh and qs in a Q5_K block
	q5kQS   = q5kQH + QK_K/8               //
	_       = uint(k5Size - k5Masks - 256) // the masks end the group-block
)

// repackQ5_K is Repack of Q5_K, whose arguments Repack has checked.
func repackQ5_K(rows, cols int, dst, src []byte) {
	nb, rb := cols/QK_K, cols/QK_K*sizeQ5_K
	for g := 0; g < rows; g += repackRows {
		for b := range nb {
			out := (*[k5Size]byte)(dst[(g*nb+repackRows*b)*sizeQ5_K:])
			var in [repackRows][]byte
			for r := range in {
				in[r] = src[(g+r)*rb+b*sizeQ5_K : (g+r)*rb+(b+1)*sizeQ5_K]
			}
			k8Head(out[:k8Quants], func(r int) []byte { return in[r][:16] })
			var masks [64]uint32 // lo and hi mask of each chunk
			for r, blk := range in {
				qh, qs := blk[q5kQH:q5kQS], blk[q5kQS:]
				for c := range 32 {
					le.PutUint32(out[k8Quants+32*c+4*r:], le.Uint32(qs[4*c:]))
					sh := uint(2 * (c / 8))
					for k := range 4 {
						h := uint32(qh[4*(c%8)+k])
						masks[2*c] |= (h >> sh & 1) << (4*r + k)
						masks[2*c+1] |= (h >> (sh + 1) & 1) << (4*r + k)
					}
				}
			}
			for i, m := range masks {
				le.PutUint32(out[k5Masks+4*i:], m)
			}
		}
	}
}

// unpackRowQ5_K writes row i of the group whose super-blocks are at wg to
// dst, nb super-blocks of Q5_K.
func unpackRowQ5_K(nb int, wg []byte, i int, dst []byte) {
	for b := range nb {
		in := wg[b*k5Size : (b+1)*k5Size]
		out := dst[b*sizeQ5_K : (b+1)*sizeQ5_K]
		k8HeadRow(in, i, out[:16])
		qh, qs := out[q5kQH:q5kQS], out[q5kQS:]
		clear(qh)
		for c := range 32 {
			copy(qs[4*c:4*c+4], in[k8Quants+32*c+4*i:])
			lo, hi := le.Uint32(in[k5Masks+8*c:])>>(4*i), le.Uint32(in[k5Masks+8*c+4:])>>(4*i)
			sh := uint(2 * (c / 8))
			for k := range 4 {
				qh[4*(c%8)+k] |= byte(lo>>k&1)<<sh | byte(hi>>k&1)<<(sh+1)
			}
		}
	}
}

// matQ5_Kx8Go is the pure-Go MatFunc of Q5_Kx8: each row as dotQ5_KQ8_K
// computes it on the row-major matrix. rows must be a multiple of 8 and
// the rows contiguous (wstride the bytes of a row).
func matQ5_Kx8Go(n, rows, nx int, w []byte, wstride int, x []byte, xstride int, y []float32, ystride int) {
	matKx8Go(dotQ5_Kx8, sizeQ5_K, n, rows, nx, w, wstride, x, xstride, y, ystride)
}

// dotQ5_Kx8 is row r of the group wg times x, in dotQ5_KQ8_K's float32
// operations (its integer sums are exact, so their order is free).
func dotQ5_Kx8(nb int, wg []byte, r int, x []byte) float32 {
	var sum float32
	for b := range nb {
		bw := wg[b*k5Size : (b+1)*k5Size]
		dy, qy, bsum := q8K(x[b*sizeQ8_K : (b+1)*sizeQ8_K])
		var sumi, sumMins int32
		for g := range 4 {
			sc1, m1 := k8ScaleMin(bw, 2*g, r)
			sc2, m2 := k8ScaleMin(bw, 2*g+1, r)
			var lo, hi int32
			for c := 8 * g; c < 8*g+8; c++ {
				q := bw[k8Quants+32*c+4*r:][:4]
				mlo, mhi := le.Uint32(bw[k5Masks+8*c:])>>(4*r), le.Uint32(bw[k5Masks+8*c+4:])>>(4*r)
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
