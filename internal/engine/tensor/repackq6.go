package tensor

// Q6_Kx8 is Q6_K repacked in groups of eight rows, like Q4_Kx8 (see
// repackk.go): super-block b of the rows of group g takes the 8·210 =
// 1680 bytes at (g·blocks + b)·1680, the bytes of the eight rows' block b
// in Q6_K:
//
//   - 16 bytes: the rows' fp16 d, row 0 first;
//   - 128 bytes: the int8 scales, byte 8j+r that of sub-block j (16
//     values) of row r, so that one sign extension of 8 bytes gives the
//     eight rows' scales of a sub-block, one int32 lane per row;
//   - 1536 bytes: 32 chunks of 32 bytes of low nibbles, in which byte
//     4r+k of chunk c is byte 4c+k of row r's ql, and 16 of high bit
//     pairs, byte 4r+k of chunk c byte 4c+k of row r's qh, in the order
//     the tiles read them: four quarters of 384 bytes, quarter 2h+i (half
//     h of the block, i = 0, 1) holding ql chunks 16h+4i..16h+4i+3, then
//     16h+8+4i..16h+8+4i+3, then qh chunks 8h+4i..8h+4i+3 (the values
//     of sub-blocks 8h+i, 8h+i+2, 8h+i+4 and 8h+i+6). Chunks in the order
//     of ql and qh streamed from DRAM at half the speed (the tiles then
//     jump back and forth by up to 1 KB within a block).
//
// Each value is then put together from the chunks as Q6_K puts it
// together from ql and qh (see dotQ6_KQ8_K), weight q-32. The activations
// are Q8_K.
const Q6_Kx8 Type = 1<<16 | Q6_K

// Offsets in a Q6_Kx8 group-block.
const (
	k6Scales = 2 * repackRows            // the 16 sub-blocks' eight scales
	k6Chunks = k6Scales + 16*repackRows  // the four quarters of chunks
	k6Size   = repackRows * sizeQ6_K     // bytes per group-block
	q6QL     = 0                         // ql, qh, scales and d in a Q6_K block
	q6QH     = QK_K / 2                  //
	q6Scales = QK_K/2 + QK_K/4           //
	q6D      = QK_K/2 + QK_K/4 + QK_K/16 //
)

// k6QL and k6QH return the offsets of ql chunk c (c < 32) and qh chunk c
// (c < 16) in a Q6_Kx8 group-block.
func k6QL(c int) int {
	h, m := c/16, c%16
	b := 0
	if m >= 8 {
		b, m = 128, m-8
	}
	return k6Chunks + 384*(2*h+m/4) + b + 32*(m%4)
}

func k6QH(c int) int {
	h, m := c/8, c%8
	return k6Chunks + 384*(2*h+m/4) + 256 + 32*(m%4)
}

// repackQ6_K is Repack of Q6_K, whose arguments Repack has checked.
func repackQ6_K(rows, cols int, dst, src []byte) {
	nb, rb := cols/QK_K, cols/QK_K*sizeQ6_K
	for g := 0; g < rows; g += repackRows {
		for b := range nb {
			out := (*[k6Size]byte)(dst[(g*nb+repackRows*b)*sizeQ6_K:])
			for r := range repackRows {
				in := (*[sizeQ6_K]byte)(src[(g+r)*rb+b*sizeQ6_K:])
				out[2*r], out[2*r+1] = in[q6D], in[q6D+1]
				for j := range 16 {
					out[k6Scales+8*j+r] = in[q6Scales+j]
				}
				for c := range 32 {
					le.PutUint32(out[k6QL(c)+4*r:], le.Uint32(in[q6QL+4*c:]))
				}
				for c := range 16 {
					le.PutUint32(out[k6QH(c)+4*r:], le.Uint32(in[q6QH+4*c:]))
				}
			}
		}
	}
}

// unpackRowQ6_K writes row i of the group whose super-blocks are at wg to
// dst, nb super-blocks of Q6_K.
func unpackRowQ6_K(nb int, wg []byte, i int, dst []byte) {
	for b := range nb {
		in := wg[b*k6Size : (b+1)*k6Size]
		out := dst[b*sizeQ6_K : (b+1)*sizeQ6_K]
		out[q6D], out[q6D+1] = in[2*i], in[2*i+1]
		for j := range 16 {
			out[q6Scales+j] = in[k6Scales+8*j+i]
		}
		for c := range 32 {
			copy(out[q6QL+4*c:q6QL+4*c+4], in[k6QL(c)+4*i:])
		}
		for c := range 16 {
			copy(out[q6QH+4*c:q6QH+4*c+4], in[k6QH(c)+4*i:])
		}
	}
}

// matQ6_Kx8Go is the pure-Go MatFunc of Q6_Kx8: each row as dotQ6_KQ8_K
// computes it on the row-major matrix. rows must be a multiple of 8 and
// the rows contiguous (wstride the bytes of a row).
func matQ6_Kx8Go(n, rows, nx int, w []byte, wstride int, x []byte, xstride int, y []float32, ystride int) {
	matKx8Go(dotQ6_Kx8, sizeQ6_K, n, rows, nx, w, wstride, x, xstride, y, ystride)
}

// dotQ6_Kx8 is row r of the group wg times x, in dotQ6_KQ8_K's float32
// operations (its integer sums are exact, so their order is free).
func dotQ6_Kx8(nb int, wg []byte, r int, x []byte) float32 {
	var sum float32
	for b := range nb {
		bw := wg[b*k6Size : (b+1)*k6Size]
		dy, qy, _ := q8K(x[b*sizeQ8_K : (b+1)*sizeQ8_K])
		var sumi int32
		for h := range 2 {
			for l := range 32 {
				// ql[64h+l] and ql[64h+32+l], qh[32h+l] of row r.
				ql0 := bw[k6QL(16*h+l/4)+4*r+l%4]
				ql1 := bw[k6QL(16*h+8+l/4)+4*r+l%4]
				hb := bw[k6QH(8*h+l/4)+4*r+l%4]
				y := qy[128*h:]
				is := 8*h + l/16
				for t, q := range [4]int32{
					int32(ql0&0x0f | (hb&3)<<4), int32(ql1&0x0f | (hb>>2&3)<<4),
					int32(ql0>>4 | (hb>>4&3)<<4), int32(ql1>>4 | (hb>>6&3)<<4),
				} {
					sumi += int32(int8(bw[k6Scales+8*(is+2*t)+r])) * (q - 32) * int32(int8(y[32*t+l]))
				}
			}
		}
		sum += float32(float32(half(bw[2*r:])*dy) * float32(sumi))
	}
	return sum
}
