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
// (Q4_0x8, Q8_0x8 or Q4_Kx8) as the avx512vnni table has it (at most 8
// vectors at a time), and variants that take at most 4, 3, 2 or 1
// vectors at a time, and 8 through either 8×8 tile (the one that
// prefetches long rows' weights or not), so that every tile runs; nil
// without VNNI.
func RepackVNNIVariants(t Type) []RepackVNNIVariant {
	if !hasVNNI() {
		return nil
	}
	if t == Q4_Kx8 {
		var vs []RepackVNNIVariant
		for _, maxC := range []int{8, 4, 3, 2, 1} {
			v := *tilesQ4_Kx8VNNI
			v.maxC = maxC
			vs = append(vs, RepackVNNIVariant{"maxC=" + string(rune('0'+maxC)), v.mat})
		}
		for _, far := range []bool{false, true} {
			v := *tilesQ4_Kx8VNNI
			v.farGroup = farVariant(far)
			vs = append(vs, RepackVNNIVariant{fmt.Sprintf("maxC=8 far=%t", far), v.mat})
		}
		return vs
	}
	base := tilesQ4_0x8VNNI
	if t == Q8_0x8 {
		base = tilesQ8_0x8VNNI
	}
	var vs []RepackVNNIVariant
	for _, maxC := range []int{8, 4, 3, 2, 1} {
		v := *base
		v.maxC = maxC
		vs = append(vs, RepackVNNIVariant{"maxC=" + string(rune('0'+maxC)), v.mat})
	}
	for _, far := range []bool{false, true} {
		v := *base
		v.farGroup = farVariant(far)
		vs = append(vs, RepackVNNIVariant{fmt.Sprintf("maxC=8 far=%t", far), v.mat})
	}
	return vs
}

// farVariant is the farGroup of a variant that sends eight vectors of
// any rows through the prefetching 8×8 tile (far) or none.
func farVariant(far bool) int {
	if far {
		return -1
	}
	return maxInt
}

// HasVNNI reports whether the CPU runs the VNNI tiles.
func HasVNNI() bool { return hasVNNI() }
