package server

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"

	"github.com/cerulean-ai/cerulean/internal/catalog"
	"github.com/cerulean-ai/cerulean/internal/engine/gguf"
	"github.com/cerulean-ai/cerulean/internal/fault"
)

// architectures the built-in engine runs.
var architectures = map[string]bool{"llama": true, "qwen2": true}

// inspectGGUF reads a GGUF version's file header and fills in what the
// version leaves unset: the capabilities the engine serves for it and its
// context length. A file the engine cannot serve is refused with a reason.
func inspectGGUF(_ context.Context, v *catalog.Version) error {
	if !filepath.IsAbs(v.File) {
		return fault.Param("file", "invalidPayload", "file %q must be an absolute path on the server", v.File)
	}
	f, err := gguf.Open(v.File)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fault.Param("file", "invalidPayload", "file %s does not exist on the server", v.File)
		}
		return &fault.Error{Kind: fault.Invalid, Code: "invalidPayload", Param: "file", Err: err,
			Message: "file " + v.File + " is not a GGUF model the engine can read: " + err.Error()}
	}
	defer f.Close()
	arch := f.Architecture()
	if !architectures[arch] {
		return fault.Param("file", "invalidPayload", "file %s has architecture %q; the built-in engine runs llama and qwen2", v.File, arch)
	}
	if len(f.Tensors) == 0 {
		return fault.Param("file", "invalidPayload", "file %s holds no tensors (a vocabulary-only file?)", v.File)
	}
	if v.ContextLength == 0 {
		if n, ok := f.Uint(arch + ".context_length"); ok {
			v.ContextLength = int(n)
		}
	}
	c := v.Capabilities
	if !c.Chat && !c.Completion && !c.Embeddings {
		v.Capabilities = catalog.Capabilities{Chat: true, Completion: true, Embeddings: true}
	}
	return nil
}
