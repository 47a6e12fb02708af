// Package kvcache holds the attention keys and values of one sequence, layer
// by layer, for the built-in engine.
//
// A Cache is sized to a capacity (normally the model's context length) but
// allocates storage only as positions are reserved, growing geometrically up
// to that capacity, so many short sequences do not each pay for a full
// context. Its memory is accounted in bytes and may be charged against a
// shared Budget, so a scheduler can bound the total memory of all caches.
//
// Positions are appended in order: Reserve makes room for more positions,
// the model writes their keys and values past Len, and Commit makes them
// part of the cache. Truncate drops a suffix, which lets a prefix cache keep
// a shared prompt and discard the rest, and CopyPrefix starts a cache from
// the first positions of another one, so a request can reuse the keys and
// values of a prefix it shares with an earlier sequence.
//
// Storage is float32 (F32) or IEEE binary16 (F16, as llama.cpp keeps its
// cache by default): an F16 cache takes half the memory, and attention
// reads half the bytes, for keys and values rounded to 11 significant bits.
package kvcache

import (
	"errors"
	"fmt"
	"strings"
	"sync"
)

// ErrCapacity is wrapped by errors about reserving more positions than the
// cache's capacity.
var ErrCapacity = errors.New("kvcache: capacity exceeded")

// ErrBudget is wrapped by errors about growing a cache beyond its Budget.
var ErrBudget = errors.New("kvcache: memory budget exceeded")

// DType is the element type of the stored keys and values.
type DType int

// The storage types.
const (
	F32 DType = iota // float32
	F16              // IEEE 754 binary16, stored as its bit pattern
)

// Size returns the bytes of one element, or 0 for an unknown type.
func (d DType) Size() int {
	switch d {
	case F32:
		return 4
	case F16:
		return 2
	}
	return 0
}

// String returns the type's name as ParseDType accepts it.
func (d DType) String() string {
	switch d {
	case F32:
		return "f32"
	case F16:
		return "f16"
	}
	return fmt.Sprintf("DType(%d)", int(d))
}

// Set parses s as ParseDType does into d, so that a DType is a command-line
// flag value.
func (d *DType) Set(s string) error {
	v, err := ParseDType(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Type names the flag value's type in help texts.
func (d *DType) Type() string { return "f16|f32" }

// ParseDType returns the storage type named s: "f32" or "f16" (any case).
func ParseDType(s string) (DType, error) {
	switch strings.ToLower(s) {
	case "f32":
		return F32, nil
	case "f16":
		return F16, nil
	}
	return 0, fmt.Errorf("kvcache: unknown storage type %q (want f32 or f16)", s)
}

// Spec is the geometry of a cache.
type Spec struct {
	Layers   int   // number of transformer layers
	KeyDim   int   // values per position and layer for keys (KV heads × key head size)
	ValueDim int   // values per position and layer for values (KV heads × value head size)
	Capacity int   // largest number of positions
	DType    DType // storage type (F32 or F16)
}

// maxElems bounds the values of one layer so that sizes cannot overflow.
const maxElems = 1 << 40

func (s Spec) validate() error {
	switch {
	case s.Layers <= 0 || s.Layers > 1<<16:
		return fmt.Errorf("kvcache: invalid layer count %d", s.Layers)
	case s.KeyDim <= 0 || s.ValueDim <= 0 || s.KeyDim > 1<<20 || s.ValueDim > 1<<20:
		return fmt.Errorf("kvcache: invalid key/value size %d/%d", s.KeyDim, s.ValueDim)
	case s.Capacity <= 0 || int64(s.Capacity)*int64(max(s.KeyDim, s.ValueDim)) > maxElems:
		return fmt.Errorf("kvcache: invalid capacity %d", s.Capacity)
	case s.DType.Size() == 0:
		return fmt.Errorf("kvcache: unsupported storage type %d", s.DType)
	}
	return nil
}

// BytesPerPosition returns the bytes one position occupies over all layers.
func (s Spec) BytesPerPosition() int64 {
	return int64(s.Layers) * int64(s.KeyDim+s.ValueDim) * int64(s.DType.Size())
}

// MaxBytes returns the bytes a cache of this Spec occupies when full.
func (s Spec) MaxBytes() int64 { return int64(s.Capacity) * s.BytesPerPosition() }

// Budget is a memory limit shared by several caches. It is safe for
// concurrent use.
type Budget struct {
	mu    sync.Mutex
	limit int64
	used  int64
}

// NewBudget returns a Budget of limit bytes.
func NewBudget(limit int64) *Budget { return &Budget{limit: limit} }

// Used returns the bytes currently charged to the budget.
func (b *Budget) Used() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// Limit returns the budget's limit in bytes.
func (b *Budget) Limit() int64 { return b.limit }

func (b *Budget) charge(n int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > 0 && b.used+n > b.limit {
		return fmt.Errorf("%w: need %d more bytes, %d of %d in use", ErrBudget, n, b.used, b.limit)
	}
	b.used += n
	return nil
}

// Cache holds the keys and values of one sequence. It is not safe for
// concurrent use.
type Cache struct {
	spec   Spec
	budget *Budget
	n      int         // committed positions
	alloc  int         // allocated positions
	k, v   [][]float32 // F32: per layer, alloc × KeyDim / ValueDim
	kh, vh [][]uint16  // F16: the same, as binary16
}

// New returns an empty cache. budget may be nil for no shared limit; the
// cache charges it as it grows and Free returns the memory.
func New(spec Spec, budget *Budget) (*Cache, error) {
	if err := spec.validate(); err != nil {
		return nil, err
	}
	c := &Cache{spec: spec, budget: budget}
	if spec.DType == F16 {
		c.kh, c.vh = make([][]uint16, spec.Layers), make([][]uint16, spec.Layers)
	} else {
		c.k, c.v = make([][]float32, spec.Layers), make([][]float32, spec.Layers)
	}
	return c, nil
}

// Spec returns the cache's geometry.
func (c *Cache) Spec() Spec { return c.spec }

// Len returns the number of committed positions.
func (c *Cache) Len() int { return c.n }

// Cap returns the largest number of positions the cache can hold.
func (c *Cache) Cap() int { return c.spec.Capacity }

// Bytes returns the memory the cache currently holds for its storage.
func (c *Cache) Bytes() int64 { return int64(c.alloc) * c.spec.BytesPerPosition() }

// Reserve makes room for n positions after Len, allocating storage if
// needed. It fails if Len()+n exceeds the capacity or the budget.
func (c *Cache) Reserve(n int) error {
	if n < 0 || n > c.spec.Capacity-c.n {
		return fmt.Errorf("%w: %d positions + %d new > capacity %d", ErrCapacity, c.n, n, c.spec.Capacity)
	}
	need := c.n + n
	if need <= c.alloc {
		return nil
	}
	grow := min(c.spec.Capacity, max(need, 2*c.alloc, 16))
	if grow > c.spec.Capacity/2 {
		// The next doubling would reach the capacity anyway: take it now
		// rather than copying everything once more later, which leaves
		// the old storage to the garbage collector. The storage is still
		// at most twice what is needed.
		grow = c.spec.Capacity
	}
	if c.budget != nil {
		if err := c.budget.charge(int64(grow-c.alloc) * c.spec.BytesPerPosition()); err != nil {
			// Retry with exactly what is needed before giving up.
			grow = need
			if err := c.budget.charge(int64(grow-c.alloc) * c.spec.BytesPerPosition()); err != nil {
				return err
			}
		}
	}
	regrow(c.k, grow*c.spec.KeyDim, c.n*c.spec.KeyDim)
	regrow(c.v, grow*c.spec.ValueDim, c.n*c.spec.ValueDim)
	regrow(c.kh, grow*c.spec.KeyDim, c.n*c.spec.KeyDim)
	regrow(c.vh, grow*c.spec.ValueDim, c.n*c.spec.ValueDim)
	c.alloc = grow
	return nil
}

// regrow replaces each layer's storage by a new one of n elements that
// starts with the first keep elements of the old.
func regrow[T float32 | uint16](layers [][]T, n, keep int) {
	for l := range layers {
		s := make([]T, n)
		copy(s, layers[l][:keep])
		layers[l] = s
	}
}

// Keys returns the key storage of layer of an F32 cache (nil for F16):
// position p occupies [p*KeyDim, (p+1)*KeyDim). Positions below Len are
// committed; reserved positions after Len may be written before Commit.
func (c *Cache) Keys(layer int) []float32 {
	if c.k == nil {
		return nil
	}
	return c.k[layer]
}

// Values returns the value storage of layer of an F32 cache (nil for
// F16), laid out like Keys.
func (c *Cache) Values(layer int) []float32 {
	if c.v == nil {
		return nil
	}
	return c.v[layer]
}

// KeysF16 returns the key storage of layer of an F16 cache (nil for F32),
// as binary16 bit patterns laid out like Keys.
func (c *Cache) KeysF16(layer int) []uint16 {
	if c.kh == nil {
		return nil
	}
	return c.kh[layer]
}

// ValuesF16 returns the value storage of layer of an F16 cache (nil for
// F32), laid out like Keys.
func (c *Cache) ValuesF16(layer int) []uint16 {
	if c.vh == nil {
		return nil
	}
	return c.vh[layer]
}

// Commit appends n reserved positions, whose keys and values have been
// written, to the cache.
func (c *Cache) Commit(n int) error {
	if n < 0 || c.n+n > c.alloc {
		return fmt.Errorf("%w: commit of %d positions after %d, only %d reserved", ErrCapacity, n, c.n, c.alloc)
	}
	c.n += n
	return nil
}

// Truncate keeps the first n positions and drops the rest; the storage is
// kept for reuse.
func (c *Cache) Truncate(n int) error {
	if n < 0 || n > c.n {
		return fmt.Errorf("kvcache: truncate to %d positions, have %d", n, c.n)
	}
	c.n = n
	return nil
}

// CopyPrefix fills c, which must be empty, with the first n positions of
// src, whose geometry must match c's (the capacities may differ). It
// reserves room for them first, so it fails like Reserve when they exceed
// c's capacity or budget, and then leaves c empty.
func (c *Cache) CopyPrefix(src *Cache, n int) error {
	switch {
	case c.n != 0:
		return fmt.Errorf("kvcache: copy of a prefix into a cache of %d positions, want an empty one", c.n)
	case n < 0 || n > src.n:
		return fmt.Errorf("kvcache: copy of %d positions from a cache of %d", n, src.n)
	case src.spec.Layers != c.spec.Layers || src.spec.KeyDim != c.spec.KeyDim ||
		src.spec.ValueDim != c.spec.ValueDim || src.spec.DType != c.spec.DType:
		return fmt.Errorf("kvcache: copy between caches of different geometry (%+v, %+v)", src.spec, c.spec)
	}
	if err := c.Reserve(n); err != nil {
		return err
	}
	kd, vd := c.spec.KeyDim, c.spec.ValueDim
	for l := range c.k {
		copy(c.k[l][:n*kd], src.k[l][:n*kd])
		copy(c.v[l][:n*vd], src.v[l][:n*vd])
	}
	for l := range c.kh {
		copy(c.kh[l][:n*kd], src.kh[l][:n*kd])
		copy(c.vh[l][:n*vd], src.vh[l][:n*vd])
	}
	c.n = n
	return nil
}

// Free drops every position and releases the storage (returning it to the
// budget). The cache can be used again afterwards.
func (c *Cache) Free() {
	if c.budget != nil && c.alloc > 0 {
		_ = c.budget.charge(-c.Bytes())
	}
	clear(c.k)
	clear(c.v)
	clear(c.kh)
	clear(c.vh)
	c.n, c.alloc = 0, 0
}
