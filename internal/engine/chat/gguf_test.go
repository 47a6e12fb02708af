package chat

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cerulean-ai/cerulean/internal/engine/gguf"
)

// sharedTestdata is the shared test corpus beside the repository.
const sharedTestdata = "../../../../shared/testdata"

// TestSharedGGUFTemplates renders the chat template of every shared GGUF
// file that carries one, and checks files without one fall back to plain.
func TestSharedGGUFTemplates(t *testing.T) {
	if _, err := os.Stat(sharedTestdata); err != nil {
		t.Skipf("shared test data not available (%v)", err)
	}
	var files []string
	for _, pattern := range []string{"models/*.gguf", "models/synthetic/*.gguf", "tokenizer/*.gguf"} {
		m, _ := filepath.Glob(filepath.Join(sharedTestdata, pattern))
		files = append(files, m...)
	}
	msgs := []Message{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Hi"},
		{Role: "assistant", Content: "Hello."}, {Role: "user", Content: "Bye"}}
	withTemplate := 0
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, err := gguf.Open(path)
			if err != nil {
				t.Skipf("open: %v", err)
			}
			defer f.Close()
			src, ok := f.String("tokenizer.chat_template")
			m := ForModel(src)
			res, err := m.RenderResult(t.Context(), msgs, nil, Options{AddGenerationPrompt: true})
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			if !ok {
				if !res.FellBack || m.Family() != FamilyPlain {
					t.Errorf("no template: FellBack=%v family=%v, want plain fallback", res.FellBack, m.Family())
				}
				return
			}
			withTemplate++
			if res.FellBack {
				t.Errorf("template of %s fell back: %v", filepath.Base(path), res.Cause)
			}
			if res.Prompt == "" {
				t.Error("empty prompt")
			}
			t.Logf("family %v, prompt %q", m.Family(), res.Prompt)
		})
	}
	t.Logf("%d of %d files carry a chat template", withTemplate, len(files))
}
