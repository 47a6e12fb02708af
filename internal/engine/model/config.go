package model

import (
	"errors"
	"fmt"
	"math"

	"github.com/cerulean-ai/cerulean/internal/engine/gguf"
)

// ErrUnsupported is wrapped by errors about models this package cannot run
// (architecture, tensor type, RoPE scaling).
var ErrUnsupported = errors.New("model: unsupported")

// ErrInvalid is wrapped by errors about files whose metadata or tensors are
// missing, inconsistent or out of range.
var ErrInvalid = errors.New("model: invalid model file")

// RopeStyle says which pairs of a head's values RoPE rotates together.
type RopeStyle int

const (
	// RopeNormal rotates adjacent pairs (x[2i], x[2i+1]) (llama.cpp's
	// LLAMA_ROPE_TYPE_NORM, used for the llama architecture).
	RopeNormal RopeStyle = iota
	// RopeNeox rotates (x[i], x[i+n/2]) (LLAMA_ROPE_TYPE_NEOX, used for
	// qwen2).
	RopeNeox
)

// String names the style.
func (s RopeStyle) String() string {
	if s == RopeNeox {
		return "neox"
	}
	return "normal"
}

// Config holds a model's hyperparameters, read from GGUF metadata.
type Config struct {
	Architecture  string // general.architecture: "llama" or "qwen2"
	Name          string // general.name, informative
	VocabSize     int    // tokens in the vocabulary (rows of token_embd)
	ContextLength int    // {arch}.context_length: positions the model was trained for
	Embedding     int    // {arch}.embedding_length (n_embd)
	Layers        int    // {arch}.block_count
	FeedForward   int    // {arch}.feed_forward_length (n_ff)
	Heads         int    // {arch}.attention.head_count
	KVHeads       int    // {arch}.attention.head_count_kv (defaults to Heads)
	KeyLength     int    // {arch}.attention.key_length: size of one head's keys and queries
	ValueLength   int    // {arch}.attention.value_length: size of one head's values
	NormEpsilon   float32

	RopeStyle     RopeStyle
	RopeDims      int     // {arch}.rope.dimension_count: leading values of each head that rotate
	RopeFreqBase  float32 // {arch}.rope.freq_base
	RopeFreqScale float32 // 1 / linear scaling factor (1 without scaling)
	RopeAttnScale float32 // rope.scaling.attn_factor: scales cos and sin (1 normally)
	RopeFreqs     bool    // the file has a rope_freqs.weight tensor (Llama 3.1 style)

	TiedEmbeddings bool  // no output.weight: logits use token_embd
	QKVBias        bool  // attn_q/k/v carry biases
	BOS, EOS       int32 // from the tokenizer, -1 when absent
}

// KVDim returns the floats per position of one layer's keys.
func (c Config) KVDim() int { return c.KVHeads * c.KeyLength }

// VDim returns the floats per position of one layer's values.
func (c Config) VDim() int { return c.KVHeads * c.ValueLength }

// meta reads integer and float keys of an architecture.
type meta struct {
	f    *gguf.File
	arch string
}

func (m meta) int(key string, def int, required bool) (int, error) {
	full := m.arch + "." + key
	if _, ok := m.f.Get(full); !ok {
		if required {
			return 0, fmt.Errorf("%w: missing metadata %s", ErrInvalid, full)
		}
		return def, nil
	}
	v, ok := m.f.Uint(full)
	if !ok || v > 1<<30 {
		return 0, fmt.Errorf("%w: metadata %s is not a sensible count", ErrInvalid, full)
	}
	return int(v), nil
}

func (m meta) float(key string, def float64) (float32, error) {
	full := m.arch + "." + key
	if _, ok := m.f.Get(full); !ok {
		return float32(def), nil
	}
	v, ok := m.f.Float(full)
	if !ok || math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > math.MaxFloat32 {
		return 0, fmt.Errorf("%w: metadata %s is not a finite number", ErrInvalid, full)
	}
	return float32(v), nil
}

// readConfig reads the hyperparameters of f's architecture (but not the
// vocabulary, BOS/EOS or the tensor-dependent fields).
func readConfig(f *gguf.File) (Config, error) {
	arch := f.Architecture()
	var c Config
	c.Architecture = arch
	c.Name, _ = f.String("general.name")
	switch arch {
	case "llama":
		c.RopeStyle = RopeNormal
	case "qwen2":
		c.RopeStyle, c.QKVBias = RopeNeox, true
	case "":
		return c, fmt.Errorf("%w: no general.architecture", ErrInvalid)
	default:
		return c, fmt.Errorf("%w: architecture %q (want llama or qwen2)", ErrUnsupported, arch)
	}
	m := meta{f, arch}
	var err error
	ints := []struct {
		dst      *int
		key      string
		def      int
		required bool
	}{
		{&c.ContextLength, "context_length", 0, true},
		{&c.Embedding, "embedding_length", 0, true},
		{&c.Layers, "block_count", 0, true},
		{&c.FeedForward, "feed_forward_length", 0, true},
		{&c.Heads, "attention.head_count", 0, true},
	}
	for _, k := range ints {
		if *k.dst, err = m.int(k.key, k.def, k.required); err != nil {
			return c, err
		}
		if *k.dst <= 0 {
			return c, fmt.Errorf("%w: %s.%s = %d", ErrInvalid, arch, k.key, *k.dst)
		}
	}
	if c.Embedding%c.Heads != 0 {
		return c, fmt.Errorf("%w: embedding_length %d is not a multiple of head_count %d", ErrInvalid, c.Embedding, c.Heads)
	}
	head := c.Embedding / c.Heads
	if c.KVHeads, err = m.int("attention.head_count_kv", c.Heads, false); err != nil {
		return c, err
	}
	if c.KeyLength, err = m.int("attention.key_length", head, false); err != nil {
		return c, err
	}
	if c.ValueLength, err = m.int("attention.value_length", head, false); err != nil {
		return c, err
	}
	if c.RopeDims, err = m.int("rope.dimension_count", c.KeyLength, false); err != nil {
		return c, err
	}
	switch {
	case c.KVHeads <= 0 || c.Heads%c.KVHeads != 0:
		return c, fmt.Errorf("%w: head_count %d is not a multiple of head_count_kv %d", ErrInvalid, c.Heads, c.KVHeads)
	case c.KeyLength <= 0 || c.ValueLength <= 0 || c.KeyLength > 1<<14 || c.ValueLength > 1<<14:
		return c, fmt.Errorf("%w: key/value length %d/%d", ErrInvalid, c.KeyLength, c.ValueLength)
	case c.RopeDims <= 0 || c.RopeDims > c.KeyLength || c.RopeDims%2 != 0:
		return c, fmt.Errorf("%w: rope.dimension_count %d for heads of %d", ErrInvalid, c.RopeDims, c.KeyLength)
	case c.Layers > 1<<12 || c.Heads > 1<<12:
		return c, fmt.Errorf("%w: %d layers, %d heads", ErrInvalid, c.Layers, c.Heads)
	}
	if c.NormEpsilon, err = m.float("attention.layer_norm_rms_epsilon", 1e-5); err != nil {
		return c, err
	}
	if c.RopeFreqBase, err = m.float("rope.freq_base", 10000); err != nil {
		return c, err
	}
	if c.NormEpsilon < 0 || c.RopeFreqBase <= 0 {
		return c, fmt.Errorf("%w: rms epsilon %g, rope freq_base %g", ErrInvalid, c.NormEpsilon, c.RopeFreqBase)
	}
	if err := readRopeScaling(m, &c); err != nil {
		return c, err
	}
	return c, nil
}

// readRopeScaling reads rope.scaling.*: none and linear are supported (and
// the older rope.scale_linear key); YaRN and LongRoPE are refused rather
// than run wrongly.
func readRopeScaling(m meta, c *Config) error {
	c.RopeFreqScale, c.RopeAttnScale = 1, 1
	typ, _ := m.f.String(m.arch + ".rope.scaling.type")
	factor, err := m.float("rope.scaling.factor", 0)
	if err != nil {
		return err
	}
	if factor == 0 {
		if factor, err = m.float("rope.scale_linear", 0); err != nil {
			return err
		}
		if factor != 0 && typ == "" {
			typ = "linear"
		}
	}
	switch typ {
	case "", "none":
	case "linear":
		if factor < 0 {
			return fmt.Errorf("%w: rope scaling factor %g", ErrInvalid, factor)
		}
		if factor > 0 {
			c.RopeFreqScale = 1 / factor
		}
	default:
		return fmt.Errorf("%w: rope scaling %q", ErrUnsupported, typ)
	}
	if c.RopeAttnScale, err = m.float("rope.scaling.attn_factor", 1); err != nil {
		return err
	}
	if c.RopeAttnScale <= 0 {
		return fmt.Errorf("%w: rope.scaling.attn_factor %g", ErrInvalid, c.RopeAttnScale)
	}
	return nil
}
