//go:build amd64 && !purego

package tensor

import "fmt"

// RepackAVX2Variants returns the AVX2 tiles' MatFunc of the repacked
// layout t (Q4_0x8, Q5_0x8 or Q8_0x8), taking at most 4, 3, 2 or 1 vectors at a
// time, each with its first vectors through the tiles that prefetch the
// weights (as long rows take them) or not, so that every tile runs; nil
// without AVX2, FMA and F16C.
func RepackAVX2Variants(t Type) []RepackVNNIVariant {
	if !hasAVX2FMA() {
		return nil
	}
	base := tilesQ4_0x8AVX2
	switch t {
	case Q5_0x8:
		base = tilesQ5_0x8AVX2
	case Q4_1x8:
		base = tilesQ4_1x8AVX2
	case Q5_1x8:
		base = tilesQ5_1x8AVX2
	case Q8_0x8:
		base = tilesQ8_0x8AVX2
	}
	var vs []RepackVNNIVariant
	for _, maxC := range []int{4, 3, 2, 1} {
		v, f := *base, *base
		v.maxC, f.maxC, f.farGroup = maxC, maxC, -1
		vs = append(vs, RepackVNNIVariant{"avx2 maxC=" + string(rune('0'+maxC)), v.mat}, RepackVNNIVariant{fmt.Sprintf("avx2 maxC=%d far", maxC), f.mat})
	}
	return vs
}

// HasAVX2FMA reports whether the CPU runs the AVX2 kernels.
func HasAVX2FMA() bool { return hasAVX2FMA() }

// AVX2RepackedKernels returns the avx2 table with the AVX2 tiles of
// Q4_0x8, Q5_0x8, Q4_1x8, Q5_1x8, Q8_0x8, Q4_Kx8, Q5_Kx8 and Q6_Kx8, whether or not the table itself has them,
// for the benchmarks; nil without AVX2, FMA and F16C.
func AVX2RepackedKernels() *Kernels {
	if !hasAVX2FMA() {
		return nil
	}
	k := avx2Kernels()
	k.Q4_0x8Mat = tilesQ4_0x8AVX2.mat
	k.Q5_0x8Mat = tilesQ5_0x8AVX2.mat
	k.Q4_1x8Mat = tilesQ4_1x8AVX2.mat
	k.Q5_1x8Mat = tilesQ5_1x8AVX2.mat
	k.Q8_0x8Mat = tilesQ8_0x8AVX2.mat
	k.Q4_Kx8Mat = matQ4_Kx8AVX2
	k.Q5_Kx8Mat = matQ5_Kx8AVX2
	k.Q6_Kx8Mat = matQ6_Kx8AVX2
	return k
}
