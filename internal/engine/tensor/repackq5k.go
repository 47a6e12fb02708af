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
// operations.
func dotQ5_Kx8(nb int, wg []byte, r int, x []byte) float32 { return dotK8(nb, wg, r, x, true) }
