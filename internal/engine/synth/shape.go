package synth

import (
	"fmt"
	"math"
	"strings"
)

// Shape is the set of hyperparameters of a model: the numbers a real model's
// config.json gives, as llama.cpp's converter writes them into GGUF.
type Shape struct {
	// Name is what --shape takes, e.g. "smollm2-135m".
	Name string
	// Arch is the architecture the real model has ("llama" or "qwen2").
	Arch              string
	ContextLength     int
	EmbeddingLength   int // n_embd
	FeedForwardLength int // n_ff
	BlockCount        int // n_layer
	HeadCount         int // n_head
	HeadCountKV       int // n_head_kv
	RopeFreqBase      float32
	RMSNormEps        float32
	// Tied means the model has no output.weight: logits use token_embd.
	Tied bool
	// RopeScaling, when set, adds the rope_freqs.weight tensor of Llama 3.1+
	// ("llama3" rope scaling), as llama.cpp's converter does.
	RopeScaling *Llama3RopeScaling
}

// Llama3RopeScaling is the "llama3" rope_scaling block of a Hugging Face
// config.
type Llama3RopeScaling struct {
	Factor                float64
	LowFreqFactor         float64
	HighFreqFactor        float64
	OriginalContextLength int
}

// HeadDim is the size of one attention head (n_embd / n_head), which is
// also the number of rotated dimensions.
func (s Shape) HeadDim() int { return s.EmbeddingLength / s.HeadCount }

// Shapes returns the known shapes. "tiny" appears once per architecture: its
// llama form is the synthetic llama-tiny reference model (untied, rope base
// 1e4, eps 1e-5) and its qwen2 form is qwen2-tiny (tied, 1e6, 1e-6).
func Shapes() []Shape {
	return []Shape{
		{Name: "tiny", Arch: "llama", ContextLength: 512, EmbeddingLength: 256, FeedForwardLength: 768,
			BlockCount: 2, HeadCount: 4, HeadCountKV: 2, RopeFreqBase: 10000, RMSNormEps: 1e-5},
		{Name: "tiny", Arch: "qwen2", ContextLength: 512, EmbeddingLength: 256, FeedForwardLength: 768,
			BlockCount: 2, HeadCount: 4, HeadCountKV: 2, RopeFreqBase: 1e6, RMSNormEps: 1e-6, Tied: true},
		// HuggingFaceTB/SmolLM2-135M.
		{Name: "smollm2-135m", Arch: "llama", ContextLength: 8192, EmbeddingLength: 576, FeedForwardLength: 1536,
			BlockCount: 30, HeadCount: 9, HeadCountKV: 3, RopeFreqBase: 100000, RMSNormEps: 1e-5, Tied: true},
		// Qwen/Qwen2.5-0.5B.
		{Name: "qwen2.5-0.5b", Arch: "qwen2", ContextLength: 32768, EmbeddingLength: 896, FeedForwardLength: 4864,
			BlockCount: 24, HeadCount: 14, HeadCountKV: 2, RopeFreqBase: 1e6, RMSNormEps: 1e-6, Tied: true},
		// meta-llama/Llama-3.2-1B.
		{Name: "llama-3.2-1b", Arch: "llama", ContextLength: 131072, EmbeddingLength: 2048, FeedForwardLength: 8192,
			BlockCount: 16, HeadCount: 32, HeadCountKV: 8, RopeFreqBase: 500000, RMSNormEps: 1e-5, Tied: true,
			RopeScaling: &Llama3RopeScaling{Factor: 32, LowFreqFactor: 1, HighFreqFactor: 4, OriginalContextLength: 8192}},
	}
}

// ShapeNames returns the distinct shape names, in the order of Shapes.
func ShapeNames() []string {
	var names []string
	for _, s := range Shapes() {
		if len(names) == 0 || names[len(names)-1] != s.Name {
			names = append(names, s.Name)
		}
	}
	return names
}

// LookupShape returns the shape called name for the architecture arch. An
// empty arch means the shape's own. A real model's shape exists only in its
// own architecture; "tiny" exists in both.
func LookupShape(arch, name string) (Shape, error) {
	var found []Shape
	for _, s := range Shapes() {
		if s.Name == name {
			found = append(found, s)
		}
	}
	if len(found) == 0 {
		return Shape{}, fmt.Errorf("synth: unknown shape %q (known: %s)", name, strings.Join(ShapeNames(), ", "))
	}
	if arch == "" {
		return found[0], nil
	}
	for _, s := range found {
		if s.Arch == arch {
			return s, nil
		}
	}
	if arch != "llama" && arch != "qwen2" {
		return Shape{}, fmt.Errorf("synth: unknown architecture %q (known: llama, qwen2)", arch)
	}
	return Shape{}, fmt.Errorf("synth: shape %q is a %s model, not %s", name, found[0].Arch, arch)
}

// ropeFactors computes the rope_freqs.weight values of llama3 rope scaling
// the way llama.cpp's convert_hf_to_gguf.py does: one factor per rotated
// pair, 1 for high frequencies, Factor for low ones, smoothly in between.
func ropeFactors(base float64, dim int, sc Llama3RopeScaling) []float32 {
	lowWavelen := float64(sc.OriginalContextLength) / sc.LowFreqFactor
	highWavelen := float64(sc.OriginalContextLength) / sc.HighFreqFactor
	out := make([]float32, 0, dim/2)
	for i := 0; i < dim; i += 2 {
		freq := 1 / math.Pow(base, float64(i)/float64(dim))
		wavelen := 2 * math.Pi / freq
		switch {
		case wavelen < highWavelen:
			out = append(out, 1)
		case wavelen > lowWavelen:
			out = append(out, float32(sc.Factor))
		default:
			smooth := (float64(sc.OriginalContextLength)/wavelen - sc.LowFreqFactor) / (sc.HighFreqFactor - sc.LowFreqFactor)
			out = append(out, float32(1/((1-smooth)/sc.Factor+smooth)))
		}
	}
	return out
}
