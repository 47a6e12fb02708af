package kvcache

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
)

func TestNewRejectsBadSpecs(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec Spec
	}{
		{"no layers", Spec{Layers: 0, KeyDim: 8, ValueDim: 8, Capacity: 4}},
		{"no key dim", Spec{Layers: 1, KeyDim: 0, ValueDim: 8, Capacity: 4}},
		{"no capacity", Spec{Layers: 1, KeyDim: 8, ValueDim: 8, Capacity: 0}},
		{"huge", Spec{Layers: 1, KeyDim: 1 << 20, ValueDim: 8, Capacity: 1 << 30}},
		{"unknown type", Spec{Layers: 1, KeyDim: 8, ValueDim: 8, Capacity: 4, DType: F16 + 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.spec, nil); err == nil {
				t.Errorf("New(%+v) succeeded, want an error", tc.spec)
			}
		})
	}
}

// dtypes are the storage types every test runs with.
var dtypes = []DType{F32, F16}

// set stores v (exactly representable in binary16) at element i of
// layer's keys (or values) of c, whatever its storage type.
func set(c *Cache, layer int, keys bool, i int, v float32) {
	switch {
	case c.spec.DType == F16 && keys:
		c.KeysF16(layer)[i] = tensor.FP32ToFP16(v)
	case c.spec.DType == F16:
		c.ValuesF16(layer)[i] = tensor.FP32ToFP16(v)
	case keys:
		c.Keys(layer)[i] = v
	default:
		c.Values(layer)[i] = v
	}
}

// rows returns elements [lo, hi) of layer's keys (or values) of c as
// float32, whatever its storage type.
func rows(c *Cache, layer int, keys bool, lo, hi int) []float32 {
	if c.spec.DType == F32 {
		if keys {
			return c.Keys(layer)[lo:hi]
		}
		return c.Values(layer)[lo:hi]
	}
	h := c.ValuesF16(layer)
	if keys {
		h = c.KeysF16(layer)
	}
	out := make([]float32, 0, hi-lo)
	for _, x := range h[lo:hi] {
		out = append(out, tensor.FP16ToFP32(x))
	}
	return out
}

func TestReserveCommitTruncate(t *testing.T) {
	for _, dt := range dtypes {
		t.Run(dt.String(), func(t *testing.T) { testReserveCommitTruncate(t, dt) })
	}
}

func testReserveCommitTruncate(t *testing.T, dt DType) {
	spec := Spec{Layers: 2, KeyDim: 3, ValueDim: 2, Capacity: 40, DType: dt}
	c, err := New(spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Bytes(), int64(0); got != want {
		t.Errorf("Bytes() before use = %d, want %d", got, want)
	}
	// Write positions 0..19 with recognisable values, in two steps.
	write := func(from, n int) {
		t.Helper()
		if err := c.Reserve(n); err != nil {
			t.Fatal(err)
		}
		for l := range spec.Layers {
			for p := from; p < from+n; p++ {
				for i := range spec.KeyDim {
					set(c, l, true, p*spec.KeyDim+i, float32(100*l+10*p+i))
				}
				for i := range spec.ValueDim {
					set(c, l, false, p*spec.ValueDim+i, -float32(100*l+10*p+i))
				}
			}
		}
		if err := c.Commit(n); err != nil {
			t.Fatal(err)
		}
	}
	write(0, 5)
	write(5, 15) // forces a reallocation that must keep positions 0..4
	if got, want := c.Len(), 20; got != want {
		t.Fatalf("Len() = %d, want %d", got, want)
	}
	wantK := []float32{100 + 40 + 0, 100 + 40 + 1, 100 + 40 + 2}
	if diff := cmp.Diff(wantK, rows(c, 1, true, 4*3, 5*3)); diff != "" {
		t.Errorf("keys of layer 1 position 4 (-want +got):\n%s", diff)
	}
	if got, want := c.Bytes(), int64(c.alloc)*spec.BytesPerPosition(); got != want || c.alloc < 20 || c.alloc > 40 {
		t.Errorf("Bytes() = %d with %d positions allocated", got, c.alloc)
	}
	if err := c.Truncate(7); err != nil {
		t.Fatal(err)
	}
	if got, want := c.Len(), 7; got != want {
		t.Errorf("Len() after Truncate = %d, want %d", got, want)
	}
	if err := c.Truncate(8); err == nil {
		t.Error("Truncate beyond Len succeeded")
	}
	if err := c.Reserve(34); !errors.Is(err, ErrCapacity) {
		t.Errorf("Reserve past capacity: err = %v, want ErrCapacity", err)
	}
	if err := c.Commit(c.alloc); !errors.Is(err, ErrCapacity) {
		t.Errorf("Commit of unreserved positions: err = %v, want ErrCapacity", err)
	}
	c.Free()
	if c.Len() != 0 || c.Bytes() != 0 {
		t.Errorf("after Free: Len %d, Bytes %d, want 0, 0", c.Len(), c.Bytes())
	}
}

func TestBudget(t *testing.T) {
	for _, dt := range dtypes {
		t.Run(dt.String(), func(t *testing.T) { testBudget(t, dt) })
	}
}

func testBudget(t *testing.T, dt DType) {
	spec := Spec{Layers: 1, KeyDim: 4, ValueDim: 4, Capacity: 100, DType: dt}
	per := spec.BytesPerPosition()
	if want := int64(8 * dt.Size()); per != want {
		t.Errorf("BytesPerPosition() = %d, want %d", per, want)
	}
	b := NewBudget(40 * per)
	a, _ := New(spec, b)
	c, _ := New(spec, b)
	if err := a.Reserve(30); err != nil {
		t.Fatal(err)
	}
	if got, want := b.Used(), a.Bytes(); got != want {
		t.Errorf("budget used %d, cache holds %d", got, want)
	}
	if err := c.Reserve(20); !errors.Is(err, ErrBudget) {
		t.Errorf("Reserve over budget: err = %v, want ErrBudget", err)
	}
	if err := c.Reserve(10); err != nil {
		t.Errorf("Reserve within budget: %v", err)
	}
	a.Free()
	c.Free()
	if got := b.Used(); got != 0 {
		t.Errorf("budget used after Free = %d, want 0", got)
	}
}

func TestCopyPrefix(t *testing.T) {
	for _, dt := range dtypes {
		t.Run(dt.String(), func(t *testing.T) { testCopyPrefix(t, dt) })
	}
}

func testCopyPrefix(t *testing.T, dt DType) {
	spec := Spec{Layers: 2, KeyDim: 3, ValueDim: 2, Capacity: 40, DType: dt}
	src, err := New(spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Reserve(10); err != nil {
		t.Fatal(err)
	}
	for l := range spec.Layers {
		for i := range 10 * spec.KeyDim {
			set(src, l, true, i, float32(100*l+i))
		}
		for i := range 10 * spec.ValueDim {
			set(src, l, false, i, -float32(100*l+i))
		}
	}
	if err := src.Commit(10); err != nil {
		t.Fatal(err)
	}
	small := spec
	small.Capacity = 6
	other := spec
	other.KeyDim = 4
	otherType := spec
	otherType.DType = F32 + F16 - dt
	for _, tc := range []struct {
		name    string
		spec    Spec
		budget  int64 // 0: none
		n       int
		wantErr error // nil: success; errAny: some error
	}{
		{name: "whole", spec: spec, n: 10},
		{name: "prefix", spec: spec, n: 4},
		{name: "empty", spec: spec, n: 0},
		{name: "more than src", spec: spec, n: 11, wantErr: errAny},
		{name: "beyond capacity", spec: small, n: 7, wantErr: ErrCapacity},
		{name: "fits smaller capacity", spec: small, n: 6},
		{name: "other geometry", spec: other, n: 2, wantErr: errAny},
		{name: "other type", spec: otherType, n: 2, wantErr: errAny},
		{name: "budget", spec: spec, budget: 3 * spec.BytesPerPosition(), n: 4, wantErr: ErrBudget},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b *Budget
			if tc.budget > 0 {
				b = NewBudget(tc.budget)
			}
			dst, err := New(tc.spec, b)
			if err != nil {
				t.Fatal(err)
			}
			err = dst.CopyPrefix(src, tc.n)
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("CopyPrefix: %v", err)
			case tc.wantErr == errAny && err == nil, tc.wantErr != nil && tc.wantErr != errAny && !errors.Is(err, tc.wantErr):
				t.Fatalf("CopyPrefix: %v, want %v", err, tc.wantErr)
			case err != nil:
				if dst.Len() != 0 {
					t.Errorf("Len() after a failed copy = %d", dst.Len())
				}
				return
			}
			if dst.Len() != tc.n {
				t.Errorf("Len() = %d, want %d", dst.Len(), tc.n)
			}
			for l := range spec.Layers {
				if diff := cmp.Diff(rows(src, l, true, 0, tc.n*spec.KeyDim), rows(dst, l, true, 0, tc.n*spec.KeyDim), cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("layer %d keys (-src +dst):\n%s", l, diff)
				}
				if diff := cmp.Diff(rows(src, l, false, 0, tc.n*spec.ValueDim), rows(dst, l, false, 0, tc.n*spec.ValueDim), cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("layer %d values (-src +dst):\n%s", l, diff)
				}
			}
			if err := dst.CopyPrefix(src, 1); tc.n > 0 && err == nil {
				t.Error("CopyPrefix into a non-empty cache succeeded")
			}
		})
	}
}

// errAny stands for any error in table tests.
var errAny = errors.New("any error")

// TestReserveGrowth checks the positions allocated after each Reserve:
// doubling from 16 while that stays within half the capacity, then the
// whole capacity at once.
func TestReserveGrowth(t *testing.T) {
	for _, tc := range []struct {
		capacity int
		reserves []int // each after committing the previous one
		allocs   []int
	}{
		{576, []int{512, 1, 63}, []int{576, 576, 576}},
		{80, []int{16, 1, 16, 1}, []int{16, 32, 80, 80}},
		{1000, []int{1, 16, 20, 100, 400}, []int{16, 32, 64, 137, 1000}},
		{10, []int{1}, []int{10}},
	} {
		c, err := New(Spec{Layers: 2, KeyDim: 4, ValueDim: 4, Capacity: tc.capacity}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []int
		for _, n := range tc.reserves {
			if err := c.Reserve(n); err != nil {
				t.Fatal(err)
			}
			if err := c.Commit(n); err != nil {
				t.Fatal(err)
			}
			got = append(got, c.alloc)
		}
		if diff := cmp.Diff(tc.allocs, got); diff != "" {
			t.Errorf("capacity %d, reserves %v: allocated positions (-want +got):\n%s", tc.capacity, tc.reserves, diff)
		}
	}
}

func TestParseDType(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    DType
		wantErr bool
	}{
		{"f32", F32, false}, {"F16", F16, false}, {"f16", F16, false},
		{"", 0, true}, {"q8_0", 0, true}, {"fp16", 0, true},
	} {
		got, err := ParseDType(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseDType(%q) = %v, %v; want %v, error %t", tc.in, got, err, tc.want, tc.wantErr)
		}
		if err == nil {
			if back, _ := ParseDType(got.String()); back != got {
				t.Errorf("ParseDType(%v.String()) = %v", got, back)
			}
		}
	}
}

// TestStorageType checks that a cache exposes only its own type's storage
// and that F16 positions take half the bytes.
func TestStorageType(t *testing.T) {
	for _, dt := range dtypes {
		c, err := New(Spec{Layers: 2, KeyDim: 4, ValueDim: 6, Capacity: 8, DType: dt}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Reserve(8); err != nil {
			t.Fatal(err)
		}
		f32 := dt == F32
		if got := [4]bool{c.Keys(1) != nil, c.Values(1) != nil, c.KeysF16(1) == nil, c.ValuesF16(1) == nil}; got != [4]bool{f32, f32, f32, f32} {
			t.Errorf("%v: storage present (Keys, Values, no KeysF16, no ValuesF16) = %v", dt, got)
		}
		if got, want := c.Bytes(), int64(8*2*10*dt.Size()); got != want {
			t.Errorf("%v: Bytes() = %d, want %d", dt, got, want)
		}
		if n := len(c.KeysF16(0)) + len(c.Keys(0)); n != 8*4 {
			t.Errorf("%v: layer 0 holds %d keys, want %d", dt, n, 8*4)
		}
	}
}
