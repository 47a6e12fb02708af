package inference

import (
	"fmt"
)

// Validate checks a legacy completions request. max_tokens may be 0 here
// (with echo it scores the prompt), unlike in chat.
func (r *CompletionRequest) Validate() error {
	if err := checkPrompt("prompt", r.Prompt, MaxPrompts, true); err != nil {
		return err
	}
	if err := checkSampling(r.Temperature, r.TopP, r.PresencePenalty, r.FrequencyPenalty, r.MinP, r.N, r.TopK); err != nil {
		return err
	}
	if err := checkStop(r.Stop); err != nil {
		return err
	}
	if err := checkInt("max_tokens", r.MaxTokens, 0, MaxTokensLimit); err != nil {
		return err
	}
	if err := checkInt("logprobs", r.Logprobs, 0, MaxLegacyLogprobs); err != nil {
		return err
	}
	if err := checkInt("best_of", r.BestOf, 0, MaxBestOf); err != nil {
		return err
	}
	if r.BestOf != nil {
		if n := r.Choices(); *r.BestOf < n {
			return invalid("best_of", CodeInvalidValue, "Invalid 'best_of': best_of (%d) must be greater than or equal to n (%d).", *r.BestOf, n)
		}
		if r.Stream && *r.BestOf > 1 {
			return invalid("best_of", CodeInvalidValue, "Invalid 'best_of': best_of greater than 1 cannot be used with stream.")
		}
	}
	if err := checkLogitBias(r.LogitBias); err != nil {
		return err
	}
	if r.StreamOptions != nil && !r.Stream {
		return invalid("stream_options", CodeInvalidValue, "The 'stream_options' parameter is only allowed when 'stream' is enabled.")
	}
	return nil
}

// Choices is n, or 1 when not given.
func (r *CompletionRequest) Choices() int {
	if r.N == nil {
		return 1
	}
	return *r.N
}

// Validate checks an embeddings request.
func (r *EmbeddingRequest) Validate() error {
	if err := checkPrompt("input", r.Input, MaxEmbeddingInputs, false); err != nil {
		return err
	}
	if r.EncodingFormat != "" {
		if err := oneOf("encoding_format", r.EncodingFormat, "float", "base64"); err != nil {
			return err
		}
	}
	return checkInt("dimensions", r.Dimensions, 1, MaxDimensions)
}

// checkPrompt checks a prompt or an embeddings input: present, 1..most
// items, token ids in range; empty strings only when allowEmpty.
func checkPrompt(param string, p Prompt, most int, allowEmpty bool) error {
	if p.Texts == nil && p.Tokens == nil {
		return missing(param)
	}
	if err := checkLen(param, p.Len(), 1, most); err != nil {
		return err
	}
	at := func(i int) string {
		if p.Len() == 1 {
			return param
		}
		return fmt.Sprintf("%s[%d]", param, i)
	}
	for i, s := range p.Texts {
		if s == "" && !allowEmpty {
			return invalid(at(i), CodeEmptyString, "Invalid '%s': empty string. Expected a non-empty string.", at(i))
		}
	}
	for i, ids := range p.Tokens {
		if len(ids) == 0 && !allowEmpty {
			return invalid(at(i), CodeEmptyArray, "Invalid '%s': empty array. Expected at least one token id.", at(i))
		}
		for _, id := range ids {
			if id < 0 || id > MaxTokenID {
				return invalid(at(i), CodeInvalidValue, "Invalid '%s': token id %d is out of range.", at(i), id)
			}
		}
	}
	return nil
}
