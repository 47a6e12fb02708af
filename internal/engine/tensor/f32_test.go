package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestF32SliceKernels checks DotF32s and AxpyF32 against float64 sums for
// every length up to 80 and unaligned starts, so that every loop of the
// assembly (32, 8 and 1 at a time) runs.
func TestF32SliceKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]float32, 3*100)
	for i := range buf {
		buf[i] = rng.Float32()*2 - 1
	}
	for n := range 81 {
		for _, off := range []int{0, 1, 3} {
			a, b := buf[off:off+n], buf[100+off:100+off+n+1]
			var want float64
			for i := range a {
				want += float64(a[i]) * float64(b[i])
			}
			if got := DotF32s(a, b); math.Abs(float64(got)-want) > 1e-5*float64(n+1) {
				t.Errorf("DotF32s n=%d off=%d = %v, want %v", n, off, got, want)
			}
			y := append([]float32(nil), buf[200+off:200+off+n]...)
			orig := append([]float32(nil), y...)
			AxpyF32(y, 0.75, a)
			for i := range y {
				if w := float64(orig[i]) + 0.75*float64(a[i]); math.Abs(float64(y[i])-w) > 1e-6 {
					t.Fatalf("AxpyF32 n=%d off=%d: y[%d] = %v, want %v", n, off, i, y[i], w)
				}
			}
		}
	}
	// AxpyF32 must not write past len(y) even when x is longer.
	y := make([]float32, 10, 20)
	AxpyF32(y, 1, buf[:20])
	if y[:20][10] != 0 {
		t.Error("AxpyF32 wrote past len(y)")
	}
}
