//go:build amd64 && !purego

package vecmath

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestAttendGroupAVX2 checks AttendGroup's path for CPUs with AVX2 but no
// AVX-512 (the per-head AVX2 kernels) on any amd64 CPU with AVX2.
func TestAttendGroupAVX2(t *testing.T) {
	if !useAsm {
		t.Skip("no AVX2")
	}
	defer func(v bool) { useAVX512 = v }(useAVX512)
	useAVX512 = false
	checkAttendGroup(t)
}

// TestAttendGroupF16AVX2 checks AttendGroupF16's path for CPUs with AVX2
// but no AVX-512 (rows widened with F16C into the per-head AVX2 kernels).
func TestAttendGroupF16AVX2(t *testing.T) {
	if !useAsm {
		t.Skip("no AVX2")
	}
	defer func(v bool) { useAVX512 = v }(useAVX512)
	useAVX512 = false
	checkAttendGroupF16(t)
}

// TestAttendGroupF16Go checks AttendGroupF16's pure-Go path against
// AttendGroup's, on amd64 (the purego build runs TestAttendGroupF16 on it
// too).
func TestAttendGroupF16Go(t *testing.T) {
	defer func(a, b bool) { useAsm, useAVX512 = a, b }(useAsm, useAVX512)
	useAsm, useAVX512 = false, false
	checkAttendGroupF16(t)
}

// TestF16Kernels checks each binary16 kernel against its float32 twin on
// the rows widened, bit for bit, including past-the-end guards.
func TestF16Kernels(t *testing.T) {
	if !useAsm {
		t.Skip("no AVX2")
	}
	r := rand.New(rand.NewPCG(25, 26))
	bits := func(x []float32) []uint32 {
		b := make([]uint32, len(x))
		for i, v := range x {
			b[i] = math.Float32bits(v)
		}
		return b
	}
	for _, c := range groupCasesF16 {
		keys := randF16(r, (c.n-1)*c.kstride+c.dk, 2, f16KeySpecials)
		vals := randF16(r, (c.n-1)*c.vstride+c.dv, 2, f16ValSpecials)
		keys32 := make([]float32, len(keys))
		vals32 := make([]float32, len(vals))
		fromF16Go(keys32, keys)
		fromF16Go(vals32, vals)
		scale := float32(1 / math.Sqrt(float64(c.dk)))
		if c.dk%8 == 0 {
			q := randFloats(r, c.dk, 2)
			want := make([]float32, c.n+1)
			got := make([]float32, c.n+1)
			want[c.n], got[c.n] = 42, 42
			dotsAVX2(want[:c.n], q, keys32, c.kstride, scale)
			dotsF16AVX2(got[:c.n], q, keys, c.kstride, scale)
			if d := cmp.Diff(bits(want), bits(got)); d != "" {
				t.Errorf("%+v: dotsF16AVX2 vs dotsAVX2 (-want +got):\n%s", c, d)
			}
		}
		if c.dv%8 == 0 {
			p := randFloats(r, c.n, 1)
			want := randFloats(r, c.dv+1, 1)
			got := append([]float32(nil), want...)
			addWeightedRowsAVX2(want[:c.dv], p, vals32, c.vstride)
			addWeightedRowsF16AVX2(got[:c.dv], p, vals, c.vstride)
			if d := cmp.Diff(bits(want), bits(got)); d != "" {
				t.Errorf("%+v: addWeightedRowsF16AVX2 vs addWeightedRowsAVX2 (-want +got):\n%s", c, d)
			}
		}
		if !useAVX512 || c.dk%8 != 0 || c.dv%16 != 0 {
			continue
		}
		for heads := 1; heads <= 8; heads++ {
			q := randFloats(r, heads*c.dk, 2)
			want := make([]float32, 8*c.n+1)
			got := make([]float32, 8*c.n+1)
			want[8*c.n], got[8*c.n] = 42, 42
			groupDotsAVX512(want[:8*c.n], q, keys32, c.dk, c.kstride, heads, scale)
			groupDotsF16AVX512(got[:8*c.n], q, keys, c.dk, c.kstride, heads, scale)
			if d := cmp.Diff(bits(want), bits(got)); d != "" {
				t.Errorf("%+v heads=%d: groupDotsF16AVX512 vs groupDotsAVX512 (-want +got):\n%s", c, heads, d)
			}
			softmaxLanesAVX2(want[:8*c.n], vals32, c.vstride, c.dv)
			softmaxLanesF16AVX2(got[:8*c.n], vals, c.vstride, c.dv)
			if d := cmp.Diff(bits(want), bits(got)); d != "" {
				t.Errorf("%+v heads=%d: softmaxLanesF16AVX2 vs softmaxLanesAVX2 (-want +got):\n%s", c, heads, d)
			}
			wantO := make([]float32, heads*c.dv+1)
			gotO := make([]float32, heads*c.dv+1)
			wantO[heads*c.dv], gotO[heads*c.dv] = 42, 42
			groupRowsAVX512(wantO[:heads*c.dv], want[:8*c.n], vals32, c.dv, c.vstride, heads)
			groupRowsF16AVX512(gotO[:heads*c.dv], got[:8*c.n], vals, c.dv, c.vstride, heads)
			if d := cmp.Diff(bits(wantO), bits(gotO)); d != "" {
				t.Errorf("%+v heads=%d: groupRowsF16AVX512 vs groupRowsAVX512 (-want +got):\n%s", c, heads, d)
			}
		}
	}
}
