// Package model runs decoder-only transformer models stored in GGUF files
// (architectures llama and qwen2) on the CPU, computing what llama.cpp's CPU
// backend computes.
//
// Weights are used in place: every matrix is a view of the memory-mapped
// file in its stored type, except that Q4_0 and Q8_0 matrices are copied
// into an interleaved layout on load where the kernels have one
// (Options.NoRepack). Matrix products go through the dot-product kernels
// of package tensor, with the activations quantized per block to 8
// bits first (Q8_0, Q8_1 or Q8_K, as ggml does), or rounded to F16/BF16 for
// half-precision weights.
//
// Forward runs a batch of one or more sequences, each with its own
// kvcache.Cache, and writes the logits of the positions asked for into
// caller-provided buffers. The matrix products are split across rows over a
// fixed pool of goroutines (Options.Threads).
package model

import (
	"context"
	"fmt"
	"runtime"
	"sync"

	"github.com/cerulean-ai/cerulean/internal/engine/gguf"
	"github.com/cerulean-ai/cerulean/internal/engine/kvcache"
	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
	"github.com/cerulean-ai/cerulean/internal/engine/tokenizer"
)

// Options tune how a model runs. The zero value is the default.
type Options struct {
	// Threads is the number of goroutines matrix products and attention
	// are split across (default runtime.NumCPU()).
	Threads int
	// Kernels are the dot-product kernels (default
	// tensor.DefaultKernels(): AVX2/FMA assembly, with AVX-512 VNNI tiles,
	// where the CPU has them, the pure-Go reference elsewhere and under the
	// purego build tag).
	Kernels *tensor.Kernels
	// PassTokens is the most tokens one pass through the layers computes
	// at once (default DefaultPassTokens); see Model.Forward.
	PassTokens int
	// NoRepack keeps every weight in the memory-mapped file. By default
	// the matrices whose type the kernels multiply faster in a repacked
	// layout (Q4_0 and Q8_0 on the avx512vnni table; see tensor.Repack)
	// are copied into it on load (Model.RepackedBytes).
	NoRepack bool
	// CacheType is the storage of the keys and values in the caches of
	// NewCache: kvcache.F32 (the zero value) or kvcache.F16, which halves
	// their memory and the bytes attention reads, for keys and values
	// rounded to binary16 as llama.cpp's default cache rounds them.
	CacheType kvcache.DType
}

// Model is a loaded model. Forward and Embed may be called concurrently
// (with different caches); Close must not overlap them.
type Model struct {
	cfg  Config
	tok  *tokenizer.Tokenizer
	file *gguf.File
	own  bool // Close closes file
	kern *tensor.Kernels
	pool *pool

	passTokens int           // most tokens per pass through the layers
	cacheType  kvcache.DType // storage of NewCache's caches

	// repackedBytes are the weights repack copied into arena.
	repackedBytes int64
	arena         *arena
	// embdRepacked: the embeddings are tied and repacked as the output,
	// so rows are looked up there (and in outTail), not in the file.
	embdRepacked bool

	embd    matrix // token_embd: rows are looked up, and it is the output when tied
	outNorm []float32
	output  matrix
	// outTail holds the last rows of the output matrix when repacking
	// took a whole number of groups of 8 rows into output; else 0 rows.
	outTail   matrix
	ropeFreqs []float32 // nil, or RopeDims/2 frequency divisors
	layers    []layer

	mu     sync.RWMutex // Close takes it exclusively, Forward shared
	closed bool

	// states are idle forward-pass buffers for reuse (see getState);
	// scores keeps attention score buffers (*[]float32).
	statesMu sync.Mutex
	states   []*state
	scores   sync.Pool

	// noSegmentItems turns attention by segments off (benchmarks compare
	// the two; see state.attention).
	noSegmentItems bool
}

// layer holds one transformer block's weights.
type layer struct {
	attnNorm, ffnNorm []float32
	wq, wk, wv, wo    matrix
	bq, bk, bv        []float32 // nil without biases
	gate, up, down    matrix
}

// matrix is a 2-D weight in its stored type: rows rows of cols values,
// rowBytes bytes each, viewed in the file's memory.
type matrix struct {
	name       string
	typ        tensor.Type
	xType      tensor.Type // type the activations must be encoded in
	rows, cols int
	rowBytes   int
	data       []byte
	dot        tensor.DotFunc
}

// Load opens the GGUF file at path and loads its model with default
// Options. Close releases the file.
func Load(path string) (*Model, error) { return Options{}.Load(path) }

// FromFile loads the model of an open GGUF file with default Options. The
// Model uses the file's memory: the file must stay open until the Model is
// closed, and closing the Model does not close the file.
func FromFile(f *gguf.File) (*Model, error) { return Options{}.FromFile(f) }

// Load opens the GGUF file at path and loads its model.
func (o Options) Load(path string) (*Model, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	m, err := o.FromFile(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("model: %s: %w", path, err)
	}
	m.own = true
	return m, nil
}

// FromFile loads the model of an open GGUF file; see the function FromFile.
func (o Options) FromFile(f *gguf.File) (*Model, error) {
	if o.CacheType.Size() == 0 {
		return nil, fmt.Errorf("model: unknown KV cache type %v", o.CacheType)
	}
	cfg, err := readConfig(f)
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	m := &Model{cfg: cfg, tok: tok, file: f, kern: o.Kernels, cacheType: o.CacheType}
	if m.kern == nil {
		m.kern = tensor.DefaultKernels()
	}
	if err := m.loadTensors(); err != nil {
		return nil, err
	}
	m.cfg.BOS, m.cfg.EOS = tok.BOS(), tok.EOS()
	threads := o.Threads
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	if !o.NoRepack {
		if err := m.repack(threads); err != nil {
			m.free()
			return nil, err
		}
	}
	m.pool = newPool(threads)
	m.passTokens = o.PassTokens
	if m.passTokens <= 0 {
		m.passTokens = DefaultPassTokens
	}
	return m, nil
}

// loadTensors finds and checks every tensor the architecture needs.
func (m *Model) loadTensors() error {
	c := &m.cfg
	l := loader{f: m.file, kern: m.kern}
	info, ok := m.file.TensorInfo("token_embd.weight")
	if !ok {
		return fmt.Errorf("%w: missing tensor token_embd.weight", ErrInvalid)
	}
	if len(info.Dims) < 2 || info.Dims[1] == 0 || info.Dims[1] > 1<<24 {
		return fmt.Errorf("%w: token_embd.weight has dims %v", ErrInvalid, info.Dims)
	}
	c.VocabSize = int(info.Dims[1])
	if n := m.tok.Len(); n > c.VocabSize {
		return fmt.Errorf("%w: %d tokens in the vocabulary but token_embd.weight has %d rows", ErrInvalid, n, c.VocabSize)
	}
	var err error
	if m.embd, err = l.matrix("token_embd.weight", c.Embedding, c.VocabSize, false); err != nil {
		return err
	}
	if !tensor.CanDequantize(m.embd.typ) {
		return fmt.Errorf("%w: token_embd.weight of type %v", ErrUnsupported, m.embd.typ)
	}
	if m.outNorm, err = l.vector("output_norm.weight", c.Embedding, true); err != nil {
		return err
	}
	if _, ok := m.file.TensorInfo("output.weight"); ok {
		if m.output, err = l.matrix("output.weight", c.Embedding, c.VocabSize, true); err != nil {
			return err
		}
	} else {
		c.TiedEmbeddings = true
		if m.embd.dot == nil {
			return fmt.Errorf("%w: token_embd.weight of type %v as the output matrix", ErrUnsupported, m.embd.typ)
		}
		m.output = m.embd
	}
	if _, ok := m.file.TensorInfo("rope_freqs.weight"); ok {
		if m.ropeFreqs, err = l.vector("rope_freqs.weight", c.RopeDims/2, true); err != nil {
			return err
		}
		c.RopeFreqs = true
	}
	qDim, kvDim, vDim := c.Heads*c.KeyLength, c.KVDim(), c.VDim()
	m.layers = make([]layer, c.Layers)
	for i := range m.layers {
		ly := &m.layers[i]
		p := fmt.Sprintf("blk.%d.", i)
		mats := []struct {
			dst        *matrix
			name       string
			cols, rows int
		}{
			{&ly.wq, "attn_q", c.Embedding, qDim},
			{&ly.wk, "attn_k", c.Embedding, kvDim},
			{&ly.wv, "attn_v", c.Embedding, vDim},
			{&ly.wo, "attn_output", c.Heads * c.ValueLength, c.Embedding},
			{&ly.gate, "ffn_gate", c.Embedding, c.FeedForward},
			{&ly.up, "ffn_up", c.Embedding, c.FeedForward},
			{&ly.down, "ffn_down", c.FeedForward, c.Embedding},
		}
		for _, t := range mats {
			if *t.dst, err = l.matrix(p+t.name+".weight", t.cols, t.rows, true); err != nil {
				return err
			}
		}
		vecs := []struct {
			dst      *[]float32
			name     string
			n        int
			required bool
		}{
			{&ly.attnNorm, "attn_norm.weight", c.Embedding, true},
			{&ly.ffnNorm, "ffn_norm.weight", c.Embedding, true},
			{&ly.bq, "attn_q.bias", qDim, c.QKVBias},
			{&ly.bk, "attn_k.bias", kvDim, c.QKVBias},
			{&ly.bv, "attn_v.bias", vDim, c.QKVBias},
		}
		for _, t := range vecs {
			if *t.dst, err = l.vector(p+t.name, t.n, t.required); err != nil {
				return err
			}
		}
	}
	return nil
}

// loader reads and checks tensors.
type loader struct {
	f    *gguf.File
	kern *tensor.Kernels
}

// matrix returns the named matrix of rows rows of cols values. With
// needDot the type must have a kernel; token_embd only needs to be
// dequantizable unless it doubles as the output.
func (l loader) matrix(name string, cols, rows int, needDot bool) (matrix, error) {
	info, data, ok := l.f.Tensor(name)
	if !ok {
		return matrix{}, fmt.Errorf("%w: missing tensor %s", ErrInvalid, name)
	}
	if err := checkDims(info, cols, rows); err != nil {
		return matrix{}, err
	}
	m := matrix{name: name, typ: info.Type, rows: rows, cols: cols, data: data}
	rb, err := info.Type.RowBytes(cols)
	if err != nil || rb*rows != len(data) {
		return matrix{}, fmt.Errorf("%w: tensor %s: %d bytes of %v for %d×%d (%v)", ErrInvalid, name, len(data), info.Type, rows, cols, err)
	}
	m.rowBytes = rb
	if xt, ok := tensor.VecDotType(info.Type); ok && l.kern.Func(info.Type) != nil {
		if _, err := xt.RowBytes(cols); err == nil {
			m.xType, m.dot = xt, l.kern.Func(info.Type)
		}
	}
	if needDot && m.dot == nil {
		return matrix{}, fmt.Errorf("%w: tensor %s has type %v, which has no %s kernel", ErrUnsupported, name, info.Type, l.kern.Name)
	}
	return m, nil
}

// vector returns the named 1-D tensor of n values as float32 (copied), or
// nil if it is absent and not required.
func (l loader) vector(name string, n int, required bool) ([]float32, error) {
	info, data, ok := l.f.Tensor(name)
	if !ok {
		if required {
			return nil, fmt.Errorf("%w: missing tensor %s", ErrInvalid, name)
		}
		return nil, nil
	}
	if err := checkDims(info, n, 1); err != nil {
		return nil, err
	}
	if !tensor.CanDequantize(info.Type) {
		return nil, fmt.Errorf("%w: tensor %s has type %v", ErrUnsupported, name, info.Type)
	}
	out := make([]float32, n)
	if err := tensor.Dequantize(info.Type, data, out); err != nil {
		return nil, fmt.Errorf("%w: tensor %s: %w", ErrInvalid, name, err)
	}
	return out, nil
}

// checkDims checks that a tensor is cols × rows (trailing dimensions 1).
func checkDims(info gguf.TensorInfo, cols, rows int) error {
	want := []uint64{uint64(cols), uint64(rows), 1, 1}
	ok := len(info.Dims) >= 1
	for i, d := range info.Dims {
		if i >= len(want) || d != want[i] {
			ok = false
		}
	}
	if len(info.Dims) < 2 && rows != 1 {
		ok = false
	}
	if !ok {
		return fmt.Errorf("%w: tensor %s has dims %v, want [%d %d]", ErrInvalid, info.Name, info.Dims, cols, rows)
	}
	return nil
}

// WeightsBytes returns the bytes of the file's tensors that one token's
// forward pass reads: all of them but token_embd, of which it reads one
// row, unless token_embd doubles as the output matrix.
func (m *Model) WeightsBytes() int64 {
	var n int64
	for _, t := range m.file.Tensors {
		if t.Name == "token_embd.weight" && !m.cfg.TiedEmbeddings {
			continue
		}
		n += int64(t.Size())
	}
	return n
}

// Config returns the model's hyperparameters.
func (m *Model) Config() Config { return m.cfg }

// Tokenizer returns the model's tokenizer.
func (m *Model) Tokenizer() *tokenizer.Tokenizer { return m.tok }

// NewCache returns an empty KV cache for one sequence of up to capacity
// positions (the context length if capacity ≤ 0), charged to budget if it
// is not nil.
func (m *Model) NewCache(capacity int, budget *kvcache.Budget) (*kvcache.Cache, error) {
	if capacity <= 0 {
		capacity = m.cfg.ContextLength
	}
	c, err := kvcache.New(m.cacheSpec(capacity), budget)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	return c, nil
}

func (m *Model) cacheSpec(capacity int) kvcache.Spec {
	return kvcache.Spec{Layers: m.cfg.Layers, KeyDim: m.cfg.KVDim(), ValueDim: m.cfg.VDim(), Capacity: capacity, DType: m.cacheType}
}

// Close stops the model's goroutines and, for a model from Load, unmaps
// the file. The model cannot be used afterwards.
func (m *Model) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	m.pool.close()
	m.free()
	if m.own {
		return m.file.Close()
	}
	return nil
}

// free frees the repacked weights, if any.
func (m *Model) free() {
	if m.arena != nil {
		_ = m.arena.free() // only fails for a range that was never mapped
		m.arena = nil
	}
}

// acquire read-locks the model for a forward pass; on success the caller
// must call m.mu.RUnlock when done. (Returning the unlock as a func value
// would cost an allocation per call.)
func (m *Model) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.RLock()
	if m.closed {
		m.mu.RUnlock()
		return fmt.Errorf("model: closed")
	}
	return nil
}
