//go:build amd64 && linux && !purego

package tensor_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
	"unsafe"

	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
)

// BenchmarkStreamVsProbe is the ceiling of decoding on this machine: the
// default table's one-vector product over about 256 MB of each repacked
// layout on huge pages (copies of one matrix, back to back, multiplied as
// one matrix so that each goroutine streams one contiguous half, as the
// bandwidth probe does), at two goroutines, each pass alternated with a
// pass of the bandwidth probe (BandwidthProbe, two goroutines, the
// --bandwidth of cerulean bench). It reports each layout's weight GB/s,
// the probe's over the same iterations and their ratio (type/probe):
// what a decode step of that type can reach of the bound before any of
// its other work.
//
//	go test -run '^$' -bench StreamVsProbe -benchtime 10x -count 3 ./internal/engine/tensor/
func BenchmarkStreamVsProbe(b *testing.B) {
	k := tensor.DefaultKernels()
	r := rand.New(rand.NewPCG(81, 82))
	type stream struct {
		name       string
		t          tensor.Type
		rows, cols int
		w, x       []byte
		y          []float32
		took       time.Duration
		probe      time.Duration // the probe passes just before this type's
		probeBytes float64
	}
	var ss []*stream
	for _, c := range []struct {
		t          tensor.Type
		rows, cols int
	}{{tensor.Q4_0, 4864, 896}, {tensor.Q5_0, 4864, 896}, {tensor.Q8_0, 4864, 896}, {tensor.Q4_K, 896, 4864}, {tensor.Q5_K, 896, 4864}, {tensor.Q6_K, 896, 4864}} {
		rt, ok := tensor.Repacked(c.t)
		if !ok || k.MatFunc(rt) == nil {
			continue
		}
		one := randomMatrix(r, c.t, c.rows, c.cols, scaleRandom)
		rone := make([]byte, len(one))
		if err := tensor.Repack(c.t, c.rows, c.cols, rone, one); err != nil {
			b.Fatal(err)
		}
		count := 256e6 / len(one)
		ws, _ := hugeCopies(b, rone, count)
		w := unsafe.Slice(unsafe.SliceData(ws[0]), count*len(rone)) // the copies are back to back
		xt, _ := tensor.VecDotType(c.t)
		ss = append(ss, &stream{name: c.t.String(), t: rt, rows: count * c.rows, cols: c.cols, w: w,
			x: randomActs(r, xt, c.cols, scaleRandom, false), y: make([]float32, count*c.rows)})
	}
	if len(ss) == 0 {
		b.Skip("no repacked layout in the " + k.Name + " table")
	}
	p := tensor.NewBandwidthProbe(2)
	defer p.Close()
	g := tensor.Goroutines(2)
	var probe time.Duration
	var probeBytes float64
	for b.Loop() {
		for _, s := range ss {
			d := p.Pass()
			probe, s.probe = probe+d, s.probe+d
			probeBytes, s.probeBytes = probeBytes+float64(p.Bytes()), s.probeBytes+float64(p.Bytes())
			start := time.Now()
			if err := k.MatMul(g, s.t, s.cols, s.w, s.x, 1, s.y); err != nil {
				b.Fatal(err)
			}
			s.took += time.Since(start)
		}
	}
	b.ReportMetric(probeBytes/probe.Seconds()/1e9, "probe-GB/s")
	for _, s := range ss {
		gbs := float64(len(s.w)) * float64(b.N) / s.took.Seconds() / 1e9
		b.ReportMetric(gbs, s.name+"-GB/s")
		b.ReportMetric(gbs/(s.probeBytes/s.probe.Seconds()/1e9), fmt.Sprintf("%s/probe", s.name))
	}
}
