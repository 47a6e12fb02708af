//go:build amd64 && !purego

package vecmath

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
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
	for _, c := range groupCasesF16 {
		keys, vals, keys32, vals32 := randCache(r, c)
		scale := float32(1 / math.Sqrt(float64(c.dk)))
		if c.dk%8 == 0 {
			q := randFloats(r, c.dk, 2)
			want := make([]float32, c.n+1)
			got := make([]float32, c.n+1)
			want[c.n], got[c.n] = 42, 42
			dotsAVX2(want[:c.n], q, keys32, c.kstride, scale)
			dotsF16AVX2(got[:c.n], q, keys, c.kstride, scale)
			if d := cmp.Diff(float32Bits(want), float32Bits(got)); d != "" {
				t.Errorf("%+v: dotsF16AVX2 vs dotsAVX2 (-want +got):\n%s", c, d)
			}
		}
		if c.dv%8 == 0 {
			p := randFloats(r, c.n, 1)
			want := randFloats(r, c.dv+1, 1)
			got := append([]float32(nil), want...)
			addWeightedRowsAVX2(want[:c.dv], p, vals32, c.vstride)
			addWeightedRowsF16AVX2(got[:c.dv], p, vals, c.vstride)
			if d := cmp.Diff(float32Bits(want), float32Bits(got)); d != "" {
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
			if d := cmp.Diff(float32Bits(want), float32Bits(got)); d != "" {
				t.Errorf("%+v heads=%d: groupDotsF16AVX512 vs groupDotsAVX512 (-want +got):\n%s", c, heads, d)
			}
			wantS, gotS := make([]float32, 17), make([]float32, 17)
			wantS[16], gotS[16] = 42, 42
			softmaxLanesAVX2(want[:8*c.n], vals32, c.vstride, c.dv, wantS[:16])
			softmaxLanesF16AVX2(got[:8*c.n], vals, c.vstride, c.dv, gotS[:16])
			if d := cmp.Diff(float32Bits(want), float32Bits(got)); d != "" {
				t.Errorf("%+v heads=%d: softmaxLanesF16AVX2 vs softmaxLanesAVX2 (-want +got):\n%s", c, heads, d)
			}
			if d := cmp.Diff(float32Bits(wantS), float32Bits(gotS)); d != "" {
				t.Errorf("%+v heads=%d: softmaxLanesF16AVX2 vs softmaxLanesAVX2 stats (-want +got):\n%s", c, heads, d)
			}
			wantO := make([]float32, heads*c.dv+1)
			gotO := make([]float32, heads*c.dv+1)
			wantO[heads*c.dv], gotO[heads*c.dv] = 42, 42
			groupRowsAVX512(wantO[:heads*c.dv], want[:8*c.n], vals32, c.dv, c.vstride, heads)
			groupRowsF16AVX512(gotO[:heads*c.dv], got[:8*c.n], vals, c.dv, c.vstride, heads)
			if d := cmp.Diff(float32Bits(wantO), float32Bits(gotO)); d != "" {
				t.Errorf("%+v heads=%d: groupRowsF16AVX512 vs groupRowsAVX512 (-want +got):\n%s", c, heads, d)
			}
		}
	}
}

// TestGroupKernels checks AttendGroup's three AVX-512 kernels against the
// per-head kernels: the scores bit for bit against dotsAVX2's blocks of
// eight and four rows, the softmax against Softmax's pure-Go path, and
// the weighted sums bit for bit against addWeightedRowsGo.
func TestGroupKernels(t *testing.T) {
	if !useAVX512 {
		t.Skip("no AVX-512")
	}
	r := rand.New(rand.NewPCG(13, 14))
	for _, c := range groupCases {
		if c.dk%8 != 0 || c.dv%16 != 0 {
			continue
		}
		for heads := 1; heads <= 8; heads++ {
			q := randFloats(r, heads*c.dk, 2)
			keys := randFloats(r, (c.n-1)*c.kstride+c.dk, 2)
			vals := randFloats(r, (c.n-1)*c.vstride+c.dv, 2)
			scale := float32(1 / math.Sqrt(float64(c.dk)))
			s := make([]float32, 8*c.n+1)
			s[8*c.n] = 42
			groupDotsAVX512(s[:8*c.n], q, keys, c.dk, c.kstride, heads, scale)
			if s[8*c.n] != 42 {
				t.Errorf("%+v heads=%d: groupDots wrote past the end", c, heads)
			}
			lane := make([]float32, c.n)
			want := make([]float32, c.n)
			blocks := c.n &^ 3 // rows in dotsAVX2's blocks of 8 and 4
			for h := range 8 {
				for j := range lane {
					lane[j] = s[8*j+h]
				}
				if h >= heads {
					clear(want)
				} else {
					dotsAVX2(want, q[h*c.dk:(h+1)*c.dk], keys, c.kstride, scale)
					if blocks < c.n {
						dotsGo(want[blocks:], q[h*c.dk:(h+1)*c.dk], keys[blocks*c.kstride:], c.kstride, scale)
					}
				}
				if d := cmp.Diff(want[:blocks], lane[:blocks]); d != "" {
					t.Errorf("%+v heads=%d: groupDots lane %d vs dotsAVX2 (-want +got):\n%s", c, heads, h, d)
				}
				if d := cmp.Diff(want[blocks:], lane[blocks:], cmpopts.EquateApprox(0, 4e-6)); d != "" {
					t.Errorf("%+v heads=%d: groupDots lane %d, last rows (-want +got):\n%s", c, heads, h, d)
				}
			}

			p := s[:8*c.n]
			for i := range p {
				p[i] *= 4 // larger scores: a peakier softmax
			}
			if c.n > 4 {
				p[8*(c.n/2)+1] = float32(math.Inf(-1)) // a masked position
			}
			wantP := append([]float32(nil), p...)
			stats := make([]float32, 17)
			stats[16] = 42
			softmaxLanesAVX2(p, vals, c.vstride, c.dv, stats[:16])
			wantS := make([]float32, 17)
			wantS[16] = 42
			for h := range 8 {
				for j := range lane {
					lane[j] = wantP[8*j+h]
				}
				wantS[h], wantS[8+h] = softmaxGo(lane)
				for j := range lane {
					wantP[8*j+h] = lane[j]
				}
			}
			if d := cmp.Diff(wantP, p, cmpopts.EquateApprox(2.4e-7, 0)); d != "" {
				t.Errorf("%+v heads=%d: softmaxLanes vs pure Go (-want +got):\n%s", c, heads, d)
			}
			// The maxima exactly, the sums as the pure-Go path's.
			if d := cmp.Diff(wantS[:8], stats[:8]); d != "" {
				t.Errorf("%+v heads=%d: softmaxLanes maxima (-want +got):\n%s", c, heads, d)
			}
			if d := cmp.Diff(wantS[8:], stats[8:], cmpopts.EquateApprox(2.4e-7, 0)); d != "" {
				t.Errorf("%+v heads=%d: softmaxLanes sums (-want +got):\n%s", c, heads, d)
			}

			out := randFloats(r, heads*c.dv+1, 1)
			out[heads*c.dv] = 42
			groupRowsAVX512(out[:heads*c.dv], p, vals, c.dv, c.vstride, heads)
			wantO := make([]float32, heads*c.dv+1)
			wantO[heads*c.dv] = 42
			for h := range heads {
				for j := range lane {
					lane[j] = p[8*j+h]
				}
				addWeightedRowsGo(wantO[h*c.dv:(h+1)*c.dv], lane, vals, c.vstride)
			}
			if d := cmp.Diff(wantO, out); d != "" {
				t.Errorf("%+v heads=%d: groupRows vs addWeightedRowsGo (-want +got):\n%s", c, heads, d)
			}
		}
	}
}
