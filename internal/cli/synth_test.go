package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/internal/engine/gguf"
	"github.com/cerulean-ai/cerulean/internal/engine/synth"
)

// synthVocab returns a vocabulary GGUF: stories260K's (512 tokens) from
// ../shared when it is there, else a small one made with the gguf Writer.
func synthVocab(t *testing.T) (path string, tokens int) {
	t.Helper()
	if dir := sharedTestdata(); dir != "" {
		return filepath.Join(dir, "models", "stories260K.gguf"), 512
	}
	t.Log("../shared/testdata not found: using a generated 100-token vocabulary")
	w := gguf.NewWriter(3)
	toks := make([]string, 100)
	for i := range toks {
		toks[i] = string(rune('a'+i%26)) + strings.Repeat("x", i/26)
	}
	for k, v := range map[string]any{"tokenizer.ggml.model": "llama", "tokenizer.ggml.tokens": toks} {
		if err := w.SetKV(k, v); err != nil {
			t.Fatal(err)
		}
	}
	path = filepath.Join(t.TempDir(), "vocab.gguf")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := w.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	return path, len(toks)
}

// sharedTestdata is ../shared/testdata beside the directory holding go.mod,
// or "" when absent.
func sharedTestdata() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
	td := filepath.Join(dir, "..", "shared", "testdata")
	if _, err := os.Stat(td); err != nil {
		return ""
	}
	return td
}

func TestModelsSynth(t *testing.T) {
	vocab, ntok := synthVocab(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "tiny.gguf")
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string // with DIR for the temp dir and N for the token count
		wantStderr string
	}{
		{
			name: "tiny qwen2 q8_0",
			args: []string{"--arch", "qwen2", "--type", "Q8_0", "--vocab", vocab, "--seed", "5", "-o", out},
			wantStdout: "Wrote DIR/tiny.gguf (SIZE): tiny qwen2 Q8_0, PARAMS parameters, N tokens\n" +
				"The weights are random (seed 5): this model writes gibberish; use it for testing only.\n",
		},
		{
			name:       "no vocab",
			args:       []string{"-o", out},
			wantCode:   2,
			wantStderr: "Error: required flag(s) \"vocab\" not set\nRun 'cerulean models synth --help' for usage.\n",
		},
		{
			name:       "bad type",
			args:       []string{"--vocab", vocab, "--type", "q5_1", "-o", out},
			wantCode:   2,
			wantStderr: "Error: --type \"q5_1\": want one of f32, f16, bf16, q8_0, q4_0, q5_0, q4_k, q5_k, q6_k, q4_k_m, q5_k_m\nRun 'cerulean models synth --help' for usage.\n",
		},
		{
			name:       "wrong arch",
			args:       []string{"--vocab", vocab, "--shape", "qwen2.5-0.5b", "--arch", "llama", "-o", out},
			wantCode:   2,
			wantStderr: "Error: synth: shape \"qwen2.5-0.5b\" is a qwen2 model, not llama\nRun 'cerulean models synth --help' for usage.\n",
		},
		{
			name:       "vocab missing",
			args:       []string{"--vocab", filepath.Join(dir, "none.gguf"), "-o", out},
			wantCode:   1,
			wantStderr: "Error: --vocab: gguf: open " + filepath.Join(dir, "none.gguf") + ": open " + filepath.Join(dir, "none.gguf") + ": no such file or directory\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := runRecorded(t, env(nil), "", append([]string{"models", "synth"}, tt.args...)...)
			if got.code != tt.wantCode {
				t.Errorf("exit code = %d, want %d (stderr %q)", got.code, tt.wantCode, got.stderr)
			}
			if diff := cmp.Diff(tt.wantStderr, got.stderr); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
			if tt.wantCode != 0 {
				return
			}
			f, err := gguf.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var params uint64
			for _, ti := range f.Tensors {
				params += ti.NumElements()
			}
			st, err := os.Stat(out)
			if err != nil {
				t.Fatal(err)
			}
			r := strings.NewReplacer("DIR", dir, "SIZE", byteSize(st.Size()), "PARAMS", paramCount(params), "N", itoa(ntok))
			if diff := cmp.Diff(r.Replace(tt.wantStdout), got.stdout); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			if desc, _ := f.String("general.description"); desc != synth.Description {
				t.Errorf("general.description = %q", desc)
			}
			if n, _ := f.Uint("qwen2.vocab_size"); n != uint64(ntok) {
				t.Errorf("qwen2.vocab_size = %d, want %d", n, ntok)
			}
		})
	}
}

func TestByteSizeAndParams(t *testing.T) {
	tests := []struct {
		n         int64
		wantSize  string
		wantParam string
	}{
		{0, "0 B", "0"},
		{1023, "1023 B", "1K"},
		{1536, "1.5 KiB", "2K"},
		{134515008, "128.3 MiB", "134.5M"},
		{1235814432, "1.2 GiB", "1.24B"},
	}
	for _, tt := range tests {
		if got := byteSize(tt.n); got != tt.wantSize {
			t.Errorf("byteSize(%d) = %q, want %q", tt.n, got, tt.wantSize)
		}
		if got := paramCount(uint64(tt.n)); got != tt.wantParam {
			t.Errorf("paramCount(%d) = %q, want %q", tt.n, got, tt.wantParam)
		}
	}
}
