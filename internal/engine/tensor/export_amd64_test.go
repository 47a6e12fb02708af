//go:build amd64 && !purego

package tensor

import "fmt"

// RepackVNNIVariant is one way of running the VNNI tiles of a repacked
// layout, for the tests.
type RepackVNNIVariant struct {
	Name string
	Mat  MatFunc
}

// RepackVNNIVariants returns the MatFunc of the repacked layout t
// (Q4_0x8, Q5_0x8, Q8_0x8 or Q4_Kx8) as the avx512vnni table has it (at most 8
// vectors at a time), and variants that take at most 4, 3, 2 or 1
// vectors at a time, each with its first vectors through the tiles that
// prefetch the weights (as long rows take them) or not, so that every
// tile runs; nil without VNNI.
func RepackVNNIVariants(t Type) []RepackVNNIVariant {
	if !hasVNNI() {
		return nil
	}
	if t == Q4_Kx8 {
		var vs []RepackVNNIVariant
		for _, maxC := range []int{8, 4, 3, 2, 1} {
			v, f := *tilesQ4_Kx8VNNI, *tilesQ4_Kx8VNNI
			v.maxC, f.maxC, f.farGroup = maxC, maxC, -1
			vs = append(vs, RepackVNNIVariant{"maxC=" + string(rune('0'+maxC)), v.mat}, RepackVNNIVariant{fmt.Sprintf("maxC=%d far", maxC), f.mat})
		}
		return vs
	}
	base := tilesQ4_0x8VNNI
	switch t {
	case Q5_0x8:
		base = tilesQ5_0x8VNNI
	case Q4_1x8:
		base = tilesQ4_1x8VNNI
	case Q5_1x8:
		base = tilesQ5_1x8VNNI
	case Q8_0x8:
		base = tilesQ8_0x8VNNI
	}
	var vs []RepackVNNIVariant
	for _, maxC := range []int{8, 4, 3, 2, 1} {
		v, f := *base, *base
		v.maxC, f.maxC, f.farGroup = maxC, maxC, -1
		vs = append(vs, RepackVNNIVariant{"maxC=" + string(rune('0'+maxC)), v.mat}, RepackVNNIVariant{fmt.Sprintf("maxC=%d far", maxC), f.mat})
	}
	return vs
}

// HasVNNI reports whether the CPU runs the VNNI tiles.
func HasVNNI() bool { return hasVNNI() }
