package builtin

import (
	"context"
	"math"

	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/inference"
)

// Embed answers an embeddings request with the model's pooled, normalized
// final hidden states (model.Embed), one input at a time. dimensions
// truncates the vectors and normalizes them again.
func (b *Backend) Embed(ctx context.Context, t inference.Target, req *inference.EmbeddingRequest) (*inference.EmbeddingList, error) {
	lm, err := b.acquire(ctx, t.Version.File)
	if err != nil {
		return nil, err
	}
	defer b.release(lm)
	dims := deref(req.Dimensions)
	if dims > lm.embd {
		return nil, fault.Param("dimensions", inference.CodeIntegerAboveMax,
			"Invalid 'dimensions': this model's embeddings have %d dimensions, so %d is too many.", lm.embd, dims)
	}
	var inputs [][]int32
	switch {
	case req.Input.Tokens != nil:
		for i, ids := range req.Input.Tokens {
			in := make([]int32, len(ids))
			for k, id := range ids {
				if id < 0 || id >= lm.vocab {
					return nil, fault.Param("input", inference.CodeInvalidValue,
						"Invalid token in input %d: %d is outside this model's vocabulary of %d tokens.", i, id, lm.vocab)
				}
				in[k] = int32(id)
			}
			inputs = append(inputs, in)
		}
	default:
		for _, text := range req.Input.Texts {
			inputs = append(inputs, lm.encode(text))
		}
	}
	limit := lm.m.Config().ContextLength
	for i, in := range inputs {
		switch {
		case len(in) == 0:
			return nil, fault.Param("input", inference.CodeInvalidValue, "Input %d is empty.", i)
		case len(in) > limit:
			return nil, fault.Param("input", "context_length_exceeded",
				"This model's maximum context length is %d tokens, however you requested %d tokens in input %d. Please reduce your input.", limit, len(in), i)
		}
	}
	resp := &inference.EmbeddingList{Object: "list", Model: lm.name, Usage: &inference.Usage{}}
	for i, in := range inputs {
		v, err := lm.m.Embed(ctx, in)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, &fault.Error{Kind: fault.Internal, Code: "EngineError", Message: "the built-in engine failed to embed the input", Err: err}
		}
		if dims > 0 && dims < len(v) {
			v = normalize(v[:dims])
		}
		resp.Data = append(resp.Data, inference.Embedding{Object: "embedding", Index: i, Embedding: v})
		resp.Usage.PromptTokens += len(in)
	}
	resp.Usage.TotalTokens = resp.Usage.PromptTokens
	return resp, nil
}

// normalize scales v to unit L2 length in place (a zero vector stays zero).
func normalize(v []float32) []float32 {
	var sum float64
	for _, x := range v {
		sum += float64(x) * float64(x)
	}
	if sum == 0 {
		return v
	}
	inv := 1 / math.Sqrt(sum)
	for i, x := range v {
		v[i] = float32(float64(x) * inv)
	}
	return v
}
