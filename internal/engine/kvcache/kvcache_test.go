package kvcache

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
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
		{"f16", Spec{Layers: 1, KeyDim: 8, ValueDim: 8, Capacity: 4, DType: F32 + 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.spec, nil); err == nil {
				t.Errorf("New(%+v) succeeded, want an error", tc.spec)
			}
		})
	}
}

func TestReserveCommitTruncate(t *testing.T) {
	spec := Spec{Layers: 2, KeyDim: 3, ValueDim: 2, Capacity: 40}
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
					c.Keys(l)[p*spec.KeyDim+i] = float32(100*l + 10*p + i)
				}
				for i := range spec.ValueDim {
					c.Values(l)[p*spec.ValueDim+i] = -float32(100*l + 10*p + i)
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
	if diff := cmp.Diff(wantK, c.Keys(1)[4*3:5*3]); diff != "" {
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
	spec := Spec{Layers: 1, KeyDim: 4, ValueDim: 4, Capacity: 100}
	per := spec.BytesPerPosition() // 32 bytes
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
	spec := Spec{Layers: 2, KeyDim: 3, ValueDim: 2, Capacity: 40}
	src, err := New(spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Reserve(10); err != nil {
		t.Fatal(err)
	}
	for l := range spec.Layers {
		for i := range 10 * spec.KeyDim {
			src.Keys(l)[i] = float32(100*l + i)
		}
		for i := range 10 * spec.ValueDim {
			src.Values(l)[i] = -float32(100*l + i)
		}
	}
	if err := src.Commit(10); err != nil {
		t.Fatal(err)
	}
	small := spec
	small.Capacity = 6
	other := spec
	other.KeyDim = 4
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
				if diff := cmp.Diff(src.Keys(l)[:tc.n*spec.KeyDim], dst.Keys(l)[:tc.n*spec.KeyDim], cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("layer %d keys (-src +dst):\n%s", l, diff)
				}
				if diff := cmp.Diff(src.Values(l)[:tc.n*spec.ValueDim], dst.Values(l)[:tc.n*spec.ValueDim], cmpopts.EquateEmpty()); diff != "" {
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
