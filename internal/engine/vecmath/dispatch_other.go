//go:build !amd64 || purego

package vecmath

// useAsm is false: there is no assembly for this platform, or the purego
// build tag asks for none. The stubs below are never called; they let the
// dispatching code compile.
const useAsm = false

// useAVX512 is false for the same reasons.
const useAVX512 = false

func expAVX2(dst, src []float32)                                 { expGo(dst, src) }
func swigluAVX2(g, u []float32)                                  { swigluGo(g, u) }
func expSumAVX2(x []float32, m float32) float64                  { return expSumGo(x, m) }
func maxAVX2(x []float32) float32                                { return Max(x) }
func scaleAVX2(x []float32, s float32)                           { Scale(x, s) }
func dotsAVX2(dst, q, rows []float32, stride int, scale float32) { dotsGo(dst, q, rows, stride, scale) }
func addWeightedRowsAVX2(out, p, rows []float32, stride int)     { addWeightedRowsGo(out, p, rows, stride) }
func groupDotsAVX512(s, q, rows []float32, d, stride, heads int, scale float32) {
	panic("vecmath: no assembly")
}
func softmaxLanesAVX2(s, next []float32, stride, width int, stats []float32) {
	panic("vecmath: no assembly")
}
func groupRowsAVX512(out, p, rows []float32, dv, stride, heads int) { panic("vecmath: no assembly") }
func softmaxLanesF16AVX2(s []float32, next []uint16, stride, width int, stats []float32) {
	panic("vecmath: no assembly")
}
func groupDotsF16AVX512(s, q []float32, rows []uint16, d, stride, heads int, scale float32) {
	panic("vecmath: no assembly")
}
func groupRowsF16AVX512(out, p []float32, rows []uint16, dv, stride, heads int) {
	panic("vecmath: no assembly")
}
func fromF16AVX2(dst []float32, src []uint16) { fromF16Go(dst, src) }
func toF16AVX2(dst []uint16, src []float32)   { toF16Go(dst, src) }
func dotsF16AVX2(dst, q []float32, rows []uint16, stride int, scale float32) {
	panic("vecmath: no assembly")
}
func addWeightedRowsF16AVX2(out, p []float32, rows []uint16, stride int) {
	panic("vecmath: no assembly")
}
