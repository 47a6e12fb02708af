package model

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/cerulean-ai/cerulean/internal/engine/enginetest"
)

// modelsDir returns ../shared/testdata/models beside the repository, or
// skips the test.
func modelsDir(tb testing.TB) string {
	tb.Helper()
	return enginetest.SharedFile(tb, "models")
}

// loadShared loads a model of the shared folder with options o, closing
// it at the end of the test.
func loadShared(tb testing.TB, rel string, o Options) *Model {
	tb.Helper()
	m, err := o.Load(filepath.Join(modelsDir(tb), rel))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { m.Close() })
	return m
}

// readF32s reads a little-endian float32 file.
func readF32s(tb testing.TB, path string) []float32 {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	if len(b)%4 != 0 {
		tb.Fatalf("%s: %d bytes is not a whole number of float32", path, len(b))
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// readJSON decodes a JSON file into v.
func readJSON(tb testing.TB, path string, v any) {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
}

// idLogit is one [token id, logit] pair of a reference file.
type idLogit [2]float64

// forcedRun is what teacher-forcing a reference run measured.
type forcedRun struct {
	maxDiff    float64   // largest |Δlogit| over the reference ids of every step
	worstStep  int       // step of maxDiff
	top1       int       // steps whose argmax is the reference greedy id
	firstMiss  int       // first step whose argmax differs, -1 if none
	missMargin float64   // reference top-1 margin at firstMiss
	bigMisses  []int     // steps that disagree although the margin exceeds the tolerance's limit
	logits0    []float32 // full logits of step 0
}

// teacherForce feeds prompt and then greedy[0..len-2], one token per
// Forward call, comparing each step's logits with top[k] (reference
// [id, logit] pairs, best first). Steps whose reference margin exceeds
// marginLimit must agree on the argmax.
func teacherForce(t *testing.T, m *Model, prompt, greedy []int32, top [][]idLogit, marginLimit float64) forcedRun {
	t.Helper()
	ctx := context.Background()
	cache, err := m.NewCache(0, nil)
	if err != nil {
		t.Fatal(err)
	}
	vocab := m.Config().VocabSize
	logits := make([]float32, vocab)
	res := forcedRun{firstMiss: -1}
	feed := prompt
	for k := range greedy {
		if err := m.Forward(ctx, &Batch{Seqs: []Sequence{{Tokens: feed, Cache: cache, Logits: logits}}}); err != nil {
			t.Fatalf("step %d: %v", k, err)
		}
		if k == 0 {
			res.logits0 = append([]float32(nil), logits...)
		}
		for _, p := range top[k] {
			if d := math.Abs(float64(logits[int(p[0])]) - p[1]); d > res.maxDiff {
				res.maxDiff, res.worstStep = d, k
			}
		}
		if argmax(logits) == int(greedy[k]) {
			res.top1++
		} else {
			margin := top[k][0][1] - top[k][1][1]
			if res.firstMiss < 0 {
				res.firstMiss, res.missMargin = k, margin
			}
			if margin > marginLimit {
				res.bigMisses = append(res.bigMisses, k)
			}
		}
		feed = greedy[k : k+1]
	}
	return res
}

// argmax returns the index of the largest value, the lowest on ties (as
// the reference runs break them).
func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// maxAbsDiff returns max |a[i]-b[i]|.
func maxAbsDiff(a, b []float32) float64 {
	var d float64
	for i := range a {
		d = max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}
