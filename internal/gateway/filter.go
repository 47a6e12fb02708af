package gateway

import "github.com/cerulean-ai/cerulean/internal/inference"

// safeResults are the per-choice content-filter results of Azure's default
// policy for content that passed: every severity category safe.
func safeResults() *inference.ContentFilterResults {
	safe := func() *inference.FilterSeverity { return &inference.FilterSeverity{Filtered: false, Severity: "safe"} }
	return &inference.ContentFilterResults{Hate: safe(), SelfHarm: safe(), Sexual: safe(), Violence: safe()}
}

// promptFilterResults are the prompt annotations of n prompts that passed
// the default policy, jailbreak detection included.
func promptFilterResults(n int) []inference.PromptFilterResult {
	out := make([]inference.PromptFilterResult, n)
	for i := range out {
		r := safeResults()
		r.Jailbreak = &inference.FilterDetected{Filtered: false, Detected: false}
		out[i] = inference.PromptFilterResult{PromptIndex: i, ContentFilterResults: *r}
	}
	return out
}

// promptFilter is promptFilterResults(n), shared for the usual single
// prompt: the gateway's values are built once and only read (marshalled).
func (g *Gateway) promptFilter(n int) []inference.PromptFilterResult {
	if n == 1 {
		return g.prompt1
	}
	return promptFilterResults(n)
}
