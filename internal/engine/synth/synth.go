// Package synth writes synthetic models: GGUF files with the layout,
// hyperparameters and tokenizer of a real model (SmolLM2, Qwen2.5, Llama
// 3.2, or a tiny test shape) and seeded random weights. They let the engine
// be tested and benchmarked at real sizes without downloading a trained
// model. Their text output is gibberish; every file says so in
// general.description.
//
// The weights follow the scheme of the llama.cpp reference models in
// ../shared/testdata/models/synthetic: with z a standard normal,
// token_embd = 0.15·z, every norm = 1 + 0.1·z, each projection
// (attn_q/k/v/output, ffn_gate/up/down) = (2/√fan_in)·z, q/k/v biases =
// 0.1·z, and an untied output = (4/√n_embd)·z. For models deeper than two
// layers the two projections that feed the residual stream (attn_output and
// ffn_down) are further scaled by √(2/n_layer), so the residual stream grows
// like that of a two-layer model however deep the stack is, and activations
// stay finite.
//
// The same Options give a byte-identical file on every platform: the random
// numbers come from a generator written here (xoshiro256**, normals by the
// polar method with a portable logarithm), and each tensor has its own
// stream derived from the seed and the tensor's name.
//
// Files are written as a stream: the header and every tensor offset are
// computed first (DryRun), then each tensor is generated a few rows at a
// time, quantized and written, so memory stays at a few megabytes even for
// the 1B shape.
package synth

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/cerulean-ai/cerulean/internal/engine/gguf"
	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
)

// Description is the general.description of every synthetic model.
const Description = "random weights (synthetic) — not a trained model"

// Options says what model to make.
type Options struct {
	// Arch is "llama" or "qwen2"; empty means the shape's own.
	Arch string
	// Shape is a name from ShapeNames, e.g. "tiny".
	Shape string
	// Type is the type of the 2-D weight matrices (F32, F16, BF16, Q8_0,
	// Q4_0, Q5_0, Q4_K, Q5_K, Q6_K). Norms and biases are always F32. A matrix whose
	// rows are not a whole number of the type's blocks falls back per
	// tensor; see TensorType.
	Type tensor.Type
	// Mixture, with Type Q4_K or Q5_K, makes llama.cpp's Q4_K_M or Q5_K_M
	// mixture instead of a pure file: see MixtureType.
	Mixture bool
	// Vocab is a GGUF file whose tokenizer.* metadata is copied key for key;
	// its token count is the model's vocabulary size. Vocab-only files such
	// as ../shared/testdata/tokenizer/ggml-vocab-*.gguf are meant for this.
	Vocab *gguf.File
	// Seed picks the weights.
	Seed int64
	// Name is general.name; empty gives "SHAPE (random weights, seed N)".
	Name string
}

// Plan is the layout of a model file, computed without generating weights.
type Plan struct {
	Arch      string
	Shape     Shape
	Type      tensor.Type
	Mixture   bool // Q4_K_M or Q5_K_M, see MixtureType
	VocabSize int
	// Metadata is every key/value pair, in file order.
	Metadata []KV
	// Tensors describes every tensor in file order; Offset is relative to
	// DataOffset.
	Tensors []gguf.TensorInfo
	// DataOffset is where the data section starts (the header's length,
	// padded).
	DataOffset int64
	// Size is the length of the whole file in bytes.
	Size int64
	// Params is the number of weights (the sum of the tensors' elements).
	Params uint64

	seed   int64
	header []byte
	fills  []fill // one per tensor
}

// fill says how a tensor's values are made: mean + std·z, or fixed values.
type fill struct {
	mean, std float64
	fixed     []float32
}

// FileType returns the general.file_type (llama.cpp's llama_ftype) of a
// model whose matrices are of type t. Q4_K and Q5_K give the _M presets (15
// and 17), as llama-quantize writes them.
func FileType(t tensor.Type) (uint32, error) {
	switch t {
	case tensor.F32:
		return 0, nil
	case tensor.F16:
		return 1, nil
	case tensor.Q4_0:
		return 2, nil
	case tensor.Q4_1:
		return 3, nil
	case tensor.Q8_0:
		return 7, nil
	case tensor.Q5_0:
		return 8, nil
	case tensor.Q5_1:
		return 9, nil
	case tensor.Q4_K:
		return 15, nil
	case tensor.Q5_K:
		return 17, nil
	case tensor.Q6_K:
		return 18, nil
	case tensor.BF16:
		return 32, nil
	}
	return 0, fmt.Errorf("synth: no file type for %v", t)
}

// TensorType returns the type a matrix with rows of cols values gets when
// the model's type is want. Like llama.cpp's llama_tensor_get_type, a row
// that is not a whole number of want's blocks falls back: Q6_K → Q8_0,
// Q5_K → Q5_1, Q4_K → Q5_0, and Q2_K/Q3_K → IQ4_NL; where package tensor
// cannot quantize the type llama.cpp would pick, Q8_0 is used (for
// IQ4_NL). If that does not fit either, the matrix is F16. In the known
// shapes this matters for the K-quants of smollm2-135m (n_embd 576) and
// qwen2.5-0.5b (896): every matrix with rows of n_embd becomes Q5_0 for
// Q4_K, Q5_1 for Q5_K and Q8_0 for Q6_K, as in llama.cpp's files of these
// models; ffn_down keeps the K-quant.
func TensorType(want tensor.Type, cols uint64) tensor.Type {
	fits := func(t tensor.Type) bool { return cols%uint64(t.BlockSize()) == 0 }
	if fits(want) {
		return want
	}
	var next tensor.Type
	switch want {
	case tensor.Q6_K:
		next = tensor.Q8_0
	case tensor.Q5_K:
		next = tensor.Q5_1
	case tensor.Q4_K:
		next = tensor.Q5_0
	case tensor.Q2_K, tensor.Q3_K:
		next = tensor.IQ4_NL
	default:
		return tensor.F16
	}
	if !tensor.CanQuantize(next) {
		next = tensor.Q8_0
	}
	if fits(next) && tensor.CanQuantize(next) {
		return next
	}
	return tensor.F16
}

// MixtureType is the type llama.cpp's Q4_K_M preset (base Q4_K) or
// Q5_K_M preset (base Q5_K) gives the matrix name (of layer i of n; tied:
// no output matrix) before the fallback of TensorType, following
// llama_tensor_get_type: output.weight, or token_embd.weight when the
// embeddings are tied, Q6_K; attn_v.weight and ffn_down.weight Q6_K in
// the layers use_more_bits picks (the first and last eighth and every
// third between); everything else base.
func MixtureType(base tensor.Type, name string, i, n int, tied bool) tensor.Type {
	moreBits := i < n/8 || i >= 7*n/8 || (i-n/8)%3 == 2
	switch {
	case name == "output.weight", tied && name == "token_embd.weight":
		return tensor.Q6_K
	case strings.HasSuffix(name, ".attn_v.weight") && moreBits, strings.HasSuffix(name, ".ffn_down.weight") && moreBits:
		return tensor.Q6_K
	}
	return base
}

// DryRun lays out the model o describes, checking o, without generating
// any weight.
func DryRun(o Options) (*Plan, error) {
	shape, err := LookupShape(o.Arch, o.Shape)
	if err != nil {
		return nil, err
	}
	if !tensor.CanQuantize(o.Type) {
		return nil, fmt.Errorf("synth: cannot write %v weights", o.Type)
	}
	ftype, err := FileType(o.Type)
	if err != nil {
		return nil, err
	}
	if o.Vocab == nil {
		return nil, errors.New("synth: a vocabulary GGUF (Options.Vocab) is required")
	}
	tokens, ok := o.Vocab.Strings("tokenizer.ggml.tokens")
	if !ok || len(tokens) == 0 {
		return nil, errors.New("synth: the vocabulary GGUF has no tokenizer.ggml.tokens")
	}
	if o.Mixture && o.Type != tensor.Q4_K && o.Type != tensor.Q5_K {
		return nil, fmt.Errorf("synth: the mixtures are Q4_K_M's and Q5_K_M's, not %v's", o.Type)
	}
	p := &Plan{Arch: shape.Arch, Shape: shape, Type: o.Type, Mixture: o.Mixture, VocabSize: len(tokens), seed: o.Seed}
	p.Metadata = metadata(shape, o, len(tokens), ftype)
	p.addTensors()

	var off uint64
	for i := range p.Tensors {
		t := &p.Tensors[i]
		t.Offset = off
		size := t.Size()
		if size == 0 {
			return nil, fmt.Errorf("synth: tensor %s %v does not fit type %v", t.Name, t.Dims, t.Type)
		}
		off += size + padding(size)
		p.Params += t.NumElements()
	}
	if p.header, err = encodeHeader(p.Metadata, p.Tensors); err != nil {
		return nil, err
	}
	p.DataOffset = int64(len(p.header))
	p.Size = p.DataOffset + int64(off)
	return p, nil
}

// metadata lists the file's key/value pairs in llama.cpp's order.
func metadata(s Shape, o Options, nVocab int, ftype uint32) []KV {
	name := o.Name
	if name == "" {
		name = fmt.Sprintf("%s (random weights, seed %d)", s.Name, o.Seed)
	}
	a := s.Arch + "."
	kvs := []KV{
		{"general.architecture", s.Arch},
		{"general.name", name},
		{"general.description", Description},
		{a + "context_length", uint32(s.ContextLength)},
		{a + "embedding_length", uint32(s.EmbeddingLength)},
		{a + "block_count", uint32(s.BlockCount)},
		{a + "feed_forward_length", uint32(s.FeedForwardLength)},
		{a + "attention.head_count", uint32(s.HeadCount)},
		{a + "attention.head_count_kv", uint32(s.HeadCountKV)},
		{a + "rope.freq_base", s.RopeFreqBase},
		{a + "rope.dimension_count", uint32(s.HeadDim())},
		{a + "attention.layer_norm_rms_epsilon", s.RMSNormEps},
		{a + "vocab_size", uint32(nVocab)},
	}
	for _, kv := range o.Vocab.KV {
		if strings.HasPrefix(kv.Key, "tokenizer.") {
			kvs = append(kvs, KV{kv.Key, kv.Value.Interface()})
		}
	}
	if o.Type.IsQuantized() {
		kvs = append(kvs, KV{"general.quantization_version", uint32(2)})
	}
	return append(kvs, KV{"general.file_type", ftype})
}

// addTensors lists the tensors in the order the reference models draw them:
// token_embd; per layer attn_norm, attn_q, attn_k, attn_v, (qwen2: the
// q/k/v biases), attn_output, ffn_norm, ffn_gate, ffn_up, ffn_down; then
// output_norm and, untied, output. rope_freqs, if any, comes first.
func (p *Plan) addTensors() {
	s := p.Shape
	embd, ff, hd := uint64(s.EmbeddingLength), uint64(s.FeedForwardLength), uint64(s.HeadDim())
	q, kv := uint64(s.HeadCount)*hd, uint64(s.HeadCountKV)*hd
	vocab := uint64(p.VocabSize)
	proj := func(fanIn uint64) fill { return fill{std: 2 / math.Sqrt(float64(fanIn))} }
	resid := func(fanIn uint64) fill {
		f := proj(fanIn)
		if s.BlockCount > 2 {
			f.std *= math.Sqrt(2 / float64(s.BlockCount))
		}
		return f
	}
	norm := fill{mean: 1, std: 0.1}
	bias := fill{std: 0.1}
	vector := func(name string, n uint64, f fill) {
		p.Tensors = append(p.Tensors, gguf.TensorInfo{Name: name, Dims: []uint64{n}, Type: tensor.F32})
		p.fills = append(p.fills, f)
	}
	layer := 0 // of the matrix being added
	matrix := func(name string, cols, rows uint64, f fill) {
		typ := p.Type
		if p.Mixture {
			typ = MixtureType(p.Type, name, layer, s.BlockCount, s.Tied)
		}
		p.Tensors = append(p.Tensors, gguf.TensorInfo{Name: name, Dims: []uint64{cols, rows}, Type: TensorType(typ, cols)})
		p.fills = append(p.fills, f)
	}

	if s.RopeScaling != nil {
		vector("rope_freqs.weight", hd/2, fill{fixed: ropeFactors(float64(s.RopeFreqBase), int(hd), *s.RopeScaling)})
	}
	matrix("token_embd.weight", embd, vocab, fill{std: 0.15})
	for i := 0; i < s.BlockCount; i++ {
		layer = i
		b := fmt.Sprintf("blk.%d.", i)
		vector(b+"attn_norm.weight", embd, norm)
		matrix(b+"attn_q.weight", embd, q, proj(embd))
		matrix(b+"attn_k.weight", embd, kv, proj(embd))
		matrix(b+"attn_v.weight", embd, kv, proj(embd))
		if p.Arch == "qwen2" {
			vector(b+"attn_q.bias", q, bias)
			vector(b+"attn_k.bias", kv, bias)
			vector(b+"attn_v.bias", kv, bias)
		}
		matrix(b+"attn_output.weight", q, embd, resid(q))
		vector(b+"ffn_norm.weight", embd, norm)
		matrix(b+"ffn_gate.weight", embd, ff, proj(embd))
		matrix(b+"ffn_up.weight", embd, ff, proj(embd))
		matrix(b+"ffn_down.weight", ff, embd, resid(ff))
	}
	vector("output_norm.weight", embd, norm)
	if !s.Tied {
		matrix("output.weight", embd, vocab, fill{std: 4 / math.Sqrt(float64(embd))})
	}
}

// chunkValues bounds how many float32 values are generated before they are
// quantized and written.
const chunkValues = 1 << 20

// WriteTo generates the weights and writes the file to w, one tensor and a
// few rows at a time. It returns the number of bytes written.
func (p *Plan) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	bw := bufio.NewWriterSize(cw, 1<<20)
	if _, err := bw.Write(p.header); err != nil {
		return cw.n, fmt.Errorf("synth: write: %w", err)
	}
	var vals []float32
	var out []byte
	zeros := make([]byte, alignment)
	for i, t := range p.Tensors {
		f := p.fills[i]
		cols := int(t.Dims[0])
		rows := 1
		if len(t.Dims) > 1 {
			rows = int(t.Dims[1])
		}
		chunk := max(1, chunkValues/cols)
		rowBytes, err := t.Type.RowBytes(cols)
		if err != nil {
			return cw.n, fmt.Errorf("synth: tensor %s: %w", t.Name, err)
		}
		r := newRNG(tensorSeed(p.seed, t.Name))
		for row := 0; row < rows; row += chunk {
			n := min(chunk, rows-row)
			if cap(vals) < n*cols {
				vals = make([]float32, n*cols)
			}
			if cap(out) < n*rowBytes { // the types of a mixture differ in bytes per value
				out = make([]byte, n*rowBytes)
			}
			v, o := vals[:n*cols], out[:n*rowBytes]
			if f.fixed != nil {
				copy(v, f.fixed[row*cols:])
			} else {
				for j := range v {
					v[j] = float32(f.mean + float64(f.std*r.normal()))
				}
			}
			if err := tensor.Quantize(t.Type, v, o); err != nil {
				return cw.n, fmt.Errorf("synth: tensor %s: %w", t.Name, err)
			}
			if _, err := bw.Write(o); err != nil {
				return cw.n, fmt.Errorf("synth: write: %w", err)
			}
		}
		if _, err := bw.Write(zeros[:padding(t.Size())]); err != nil {
			return cw.n, fmt.Errorf("synth: write: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return cw.n, fmt.Errorf("synth: write: %w", err)
	}
	if cw.n != p.Size {
		return cw.n, fmt.Errorf("synth: wrote %d bytes, planned %d", cw.n, p.Size)
	}
	return cw.n, nil
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// Write writes the model o describes to w.
func Write(w io.Writer, o Options) error {
	p, err := DryRun(o)
	if err != nil {
		return err
	}
	_, err = p.WriteTo(w)
	return err
}

// WriteFile writes the model o describes to path. It writes a temporary
// file in the same folder and renames it, so path is either the whole model
// or untouched.
func WriteFile(path string, o Options) error {
	p, err := DryRun(o)
	if err != nil {
		return err
	}
	return p.WriteFile(path)
}

// WriteFile writes the planned model to path through a temporary file in
// the same folder, renamed into place when complete.
func (p *Plan) WriteFile(path string) error {
	return p.writeFile(path, func(w io.Writer) io.Writer { return w })
}

// WriteFileVia is WriteFile with wrap applied to the file's writer, e.g. to
// stop on cancellation or count progress.
func (p *Plan) WriteFileVia(path string, wrap func(io.Writer) io.Writer) error {
	return p.writeFile(path, wrap)
}

func (p *Plan) writeFile(path string, wrap func(io.Writer) io.Writer) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = p.WriteTo(wrap(f)); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	return nil
}
