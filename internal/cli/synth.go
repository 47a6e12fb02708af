package cli

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cerulean-ai/cerulean/internal/engine/gguf"
	"github.com/cerulean-ai/cerulean/internal/engine/synth"
	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
)

// synthTypes are the weight types `models synth --type` takes.
func synthTypes() []tensor.Type {
	return []tensor.Type{tensor.F32, tensor.F16, tensor.BF16, tensor.Q8_0, tensor.Q4_0, tensor.Q5_0, tensor.Q4_K, tensor.Q5_K, tensor.Q6_K}
}

// parseSynthType parses --type: a type of synthTypes, or q4_k_m or
// q5_k_m for llama.cpp's Q4_K_M and Q5_K_M mixtures (Q4_K or Q5_K with
// mixture set).
func parseSynthType(s string) (t tensor.Type, mixture bool, err error) {
	switch {
	case strings.EqualFold(s, "q4_k_m"):
		return tensor.Q4_K, true, nil
	case strings.EqualFold(s, "q5_k_m"):
		return tensor.Q5_K, true, nil
	}
	var names []string
	for _, t := range synthTypes() {
		name := strings.ToLower(t.String())
		if strings.EqualFold(s, name) {
			return t, false, nil
		}
		names = append(names, name)
	}
	names = append(names, "q4_k_m", "q5_k_m")
	return 0, false, usagef("--type %q: want one of %s", s, strings.Join(names, ", "))
}

// modelsSynthCmd is `cerulean models synth`: write a random-weight model
// locally, without a server.
func (a *app) modelsSynthCmd() *cobra.Command {
	var (
		arch, shape, typ, vocab, out string
		seed                         int64
	)
	cmd := &cobra.Command{
		Use:   "synth --vocab FILE.gguf -o OUT.gguf [--shape NAME] [--arch llama|qwen2] [--type TYPE] [--seed N]",
		Short: "Write a model with random weights and a real tokenizer, for testing",
		Long: `Write a GGUF model with the shape of a real one (hyperparameters, tensor
names and sizes) and seeded random weights, with the tokenizer copied from a
vocabulary GGUF (any GGUF with tokenizer.* metadata, e.g. llama.cpp's
ggml-vocab-*.gguf). The same flags always give the same file.

The model's text is gibberish: it exists to test and benchmark the engine at
real sizes. This command runs locally; it needs no server.

Shapes: ` + strings.Join(synth.ShapeNames(), ", ") + `. "tiny" exists in both
architectures; the others only in their own, which --arch defaults to.
In this command -o/--output names the file to write.`,
		Example: `  cerulean models synth --shape smollm2-135m --type q8_0 --vocab ggml-vocab-gpt-2.gguf -o smollm2-random.gguf`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, mixture, err := parseSynthType(typ)
			if err != nil {
				return err
			}
			if _, err := synth.LookupShape(arch, shape); err != nil {
				return usageError{err}
			}
			v, err := gguf.Open(vocab)
			if err != nil {
				return fmt.Errorf("--vocab: %w", err)
			}
			defer v.Close()
			p, err := synth.DryRun(synth.Options{Arch: arch, Shape: shape, Type: t, Mixture: mixture, Vocab: v, Seed: seed})
			if err != nil {
				return err
			}
			if p.Size > 64<<20 {
				a.progress("Writing %s (%s)...", out, byteSize(p.Size))
			}
			ctx := cmd.Context()
			err = p.WriteFileVia(out, func(w io.Writer) io.Writer { return ctxWriter{ctx, w} })
			if err != nil {
				return fmt.Errorf("models synth: %w", err)
			}
			path, err := filepath.Abs(out)
			if err != nil {
				path = out
			}
			typeName := p.Type.String()
			if p.Mixture {
				typeName += "_M"
			}
			fmt.Fprintf(a.env.Stdout, "Wrote %s (%s): %s %s %s, %s parameters, %d tokens\n",
				path, byteSize(p.Size), p.Shape.Name, p.Arch, typeName, paramCount(p.Params), p.VocabSize)
			fmt.Fprintf(a.env.Stdout, "The weights are random (seed %d): this model writes gibberish; use it for testing only.\n", seed)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&shape, "shape", "tiny", "model shape: "+strings.Join(synth.ShapeNames(), ", "))
	f.StringVar(&arch, "arch", "", "architecture: llama or qwen2 (default: the shape's own)")
	f.StringVar(&typ, "type", "q8_0", "type of the weight matrices: f32, f16, bf16, q8_0, q4_0, q5_0, q4_k, q5_k, q6_k, or q4_k_m or q5_k_m (llama.cpp's Q4_K_M and Q5_K_M mixtures)")
	f.StringVar(&vocab, "vocab", "", "GGUF file to copy the tokenizer from")
	f.Int64Var(&seed, "seed", 1, "random seed")
	// Shadows the global -o/--output (table|json) for this command only.
	f.StringVarP(&out, "output", "o", "", "file to write")
	_ = cmd.MarkFlagRequired("vocab")
	_ = cmd.MarkFlagRequired("output")
	return cmd
}

// ctxWriter fails writes once ctx is done, so a long write stops on Ctrl-C.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(b)
}

// byteSize formats n bytes with a binary unit: "812 B", "1.4 MiB".
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// paramCount formats a parameter count the way model names do: "135.2M",
// "1.24B", "532K".
func paramCount(n uint64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.0fK", float64(n)/1e3)
	}
	return fmt.Sprintf("%d", n)
}
