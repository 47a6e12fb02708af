package cli

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cerulean-ai/cerulean/api"
)

// modelsCmd is `cerulean models`: the model catalog.
func (a *app) modelsCmd() *cobra.Command {
	return group("models", "Manage the model catalog", []string{"model"},
		a.modelsListCmd(),
		a.modelsShowCmd(),
		a.modelsAddCmd(),
		a.modelsDeleteCmd(),
		a.modelsSynthCmd(),
		a.modelsPullCmd(),
	)
}

func (a *app) modelsListCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the catalog",
		Args:    cobra.NoArgs,
		RunE: a.run(func(ctx context.Context, c *api.Client, _ []string) error {
			ms, err := c.ListModels(ctx)
			if err != nil {
				return fmt.Errorf("list models: %w", err)
			}
			if ms == nil {
				ms = []api.Model{}
			}
			return a.print(ms, func(w io.Writer) {
				row(w, "NAME", "VERSION", "FORMAT", "CAPABILITIES", "CONTEXT", "LIFECYCLE", "SKUS")
				for _, m := range ms {
					v, ok := defaultVersion(m)
					if !ok {
						row(w, m.Name, orDash(m.DefaultVersion), "-", "-", "-", "-", "-")
						continue
					}
					row(w, m.Name, v.Version, v.Format, capabilityList(v.Capabilities), contextCell(v.ContextLength),
						orDash(v.Lifecycle), orDash(strings.Join(v.SKUs, ",")))
				}
			})
		}),
	}
}

// defaultVersion is the model's default version, else its first.
func defaultVersion(m api.Model) (api.ModelVersion, bool) {
	for _, v := range m.Versions {
		if v.Version == m.DefaultVersion {
			return v, true
		}
	}
	if len(m.Versions) > 0 {
		return m.Versions[0], true
	}
	return api.ModelVersion{}, false
}

func contextCell(n int) string {
	if n == 0 {
		return "-"
	}
	return itoa(n)
}

func (a *app) modelsShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME",
		Short: "Show a model and its versions",
		Args:  cobra.ExactArgs(1),
		RunE: a.run(func(ctx context.Context, c *api.Client, args []string) error {
			m, err := c.GetModel(ctx, args[0])
			if err != nil {
				return fmt.Errorf("show model %s: %w", args[0], err)
			}
			return a.print(m, func(w io.Writer) { modelDetail(w, m) })
		}),
	}
}

func modelDetail(w io.Writer, m api.Model) {
	field(w, "Name", m.Name)
	field(w, "Description", m.Description)
	field(w, "Default version", m.DefaultVersion)
	field(w, "Created", timeCell(m.CreatedAt))
	for _, v := range m.Versions {
		fmt.Fprintf(w, "\nVersion %s:\n", v.Version)
		field(w, "  Format", v.Format)
		if v.Upstream != nil {
			key := "none"
			if v.Upstream.HasAPIKey || v.Upstream.APIKey != "" {
				key = "set"
			}
			field(w, "  Upstream", v.Upstream.BaseURL)
			field(w, "  Upstream model", v.Upstream.Model)
			field(w, "  Upstream key", key)
		}
		if v.File != "" {
			field(w, "  File", v.File)
		}
		field(w, "  Capabilities", capabilityList(v.Capabilities))
		field(w, "  Context length", contextCell(v.ContextLength))
		field(w, "  Lifecycle", v.Lifecycle)
		if v.DeprecationAt != nil {
			field(w, "  Deprecation", timeCell(*v.DeprecationAt))
		}
		if v.RetirementAt != nil {
			field(w, "  Retirement", timeCell(*v.RetirementAt))
		}
		field(w, "  Price per 1K in/out", price(v.Prices.InputPer1K)+" / "+price(v.Prices.OutputPer1K))
		if v.Prices.PTUHour != 0 {
			field(w, "  Price per PTU-hour", price(v.Prices.PTUHour))
		}
		field(w, "  SKUs", strings.Join(v.SKUs, ","))
	}
}

// capabilityNames are the names --capabilities takes, in display order.
func capabilityNames() []string {
	return []string{"chat", "completion", "embeddings", "json_schema", "tools", "fine-tune"}
}

// capabilityFlag returns the field of c that a --capabilities name sets.
func capabilityFlag(c *api.Capabilities, name string) *bool {
	switch name {
	case "chat":
		return &c.Chat
	case "completion":
		return &c.Completion
	case "embeddings":
		return &c.Embeddings
	case "json_schema":
		return &c.JSONSchema
	case "tools":
		return &c.Tools
	case "fine-tune":
		return &c.FineTune
	}
	return nil
}

func parseCapabilities(s string) (api.Capabilities, error) {
	var c api.Capabilities
	for _, name := range splitList(s) {
		p := capabilityFlag(&c, strings.ToLower(name))
		if p == nil {
			return c, usagef("--capabilities: unknown %q: want a comma-separated list of %s", name, strings.Join(capabilityNames(), ", "))
		}
		*p = true
	}
	return c, nil
}

func capabilityList(c api.Capabilities) string {
	var names []string
	for _, name := range capabilityNames() {
		if *capabilityFlag(&c, name) {
			names = append(names, name)
		}
	}
	return orDash(strings.Join(names, ","))
}

// modelAddOptions are the flags of `models add`. Each source of weights
// (today an upstream server) fills in a version; the rest is common.
type modelAddOptions struct {
	name          string
	description   string
	version       string
	upstream      api.Upstream
	capabilities  string
	contextLength int
	prices        api.Prices
	lifecycle     string
	skus          string
}

func (a *app) modelsAddCmd() *cobra.Command {
	var o modelAddOptions
	cmd := &cobra.Command{
		Use:   "add [FILE.gguf] [--name N] [--upstream URL --upstream-model NAME] [flags]",
		Short: "Add a model to the catalog: a GGUF file or an OpenAI-compatible server",
		Long: `Add a model to the catalog.

With FILE.gguf, the built-in engine serves the file (it must be readable by
the server); its name defaults to the file's base name without .gguf, and its
capabilities and context length are read from the file unless given.

Otherwise it is served by an OpenAI-compatible server (vLLM, llama.cpp
server, Ollama, OpenAI, ...): --upstream is that server's base URL including
/v1, --upstream-model the model name it knows.`,
		Example: `  cerulean models add ./qwen2.5-0.5b-instruct-q8_0.gguf
  cerulean models add --name llama3 --upstream http://127.0.0.1:11434/v1 --upstream-model llama3.2:1b`,
		Args: cobra.MaximumNArgs(1),
		RunE: a.run(func(ctx context.Context, c *api.Client, args []string) error {
			m, err := o.model(args)
			if err != nil {
				return err
			}
			created, err := c.CreateModel(ctx, m)
			if err != nil {
				return fmt.Errorf("add model %s: %w", m.Name, err)
			}
			return a.print(created, func(w io.Writer) { modelDetail(w, created) })
		}),
	}
	f := cmd.Flags()
	f.StringVar(&o.name, "name", "", "catalog name of the model (required)")
	f.StringVar(&o.description, "description", "", "description")
	f.StringVar(&o.version, "version", "1", "version")
	f.StringVar(&o.upstream.BaseURL, "upstream", "", "base URL of the OpenAI-compatible server, including /v1")
	f.StringVar(&o.upstream.Model, "upstream-model", "", "model name on the upstream server")
	f.StringVar(&o.upstream.APIKey, "upstream-key", "", "API key of the upstream server")
	f.StringVar(&o.capabilities, "capabilities", "", "comma-separated: "+strings.Join(capabilityNames(), ", ")+" (default chat,completion; for a GGUF file, read from the file)")
	f.IntVar(&o.contextLength, "context-length", 0, "context length in tokens")
	f.Float64Var(&o.prices.InputPer1K, "input-price", 0, "price per 1,000 prompt tokens")
	f.Float64Var(&o.prices.OutputPer1K, "output-price", 0, "price per 1,000 completion tokens")
	f.StringVar(&o.lifecycle, "lifecycle", "", "preview or generally-available")
	f.StringVar(&o.skus, "skus", "", "comma-separated deployment types it allows, e.g. Standard,GlobalStandard")
	return cmd
}

// model validates the flags and builds the catalog entry. The weights come
// from the upstream flags; a positional FILE is reserved for local files.
func (o *modelAddOptions) model(args []string) (api.Model, error) {
	var v api.ModelVersion
	var err error
	switch {
	case len(args) > 0:
		if v, err = o.fileVersion(args[0]); err != nil {
			return api.Model{}, err
		}
	default:
		if o.name == "" {
			return api.Model{}, usagef(`required flag(s) "name" not set`)
		}
		if v, err = o.upstreamVersion(); err != nil {
			return api.Model{}, err
		}
		if o.capabilities == "" {
			o.capabilities = "chat,completion"
		}
	}
	if o.capabilities != "" {
		if v.Capabilities, err = parseCapabilities(o.capabilities); err != nil {
			return api.Model{}, err
		}
	}
	switch o.lifecycle {
	case "", "preview", "generally-available":
	default:
		return api.Model{}, usagef("--lifecycle %q: want preview or generally-available", o.lifecycle)
	}
	if o.contextLength < 0 {
		return api.Model{}, usagef("--context-length %d: want a positive number", o.contextLength)
	}
	if o.prices.InputPer1K < 0 || o.prices.OutputPer1K < 0 {
		return api.Model{}, usagef("prices cannot be negative")
	}
	if o.version == "" {
		return api.Model{}, usagef("--version is empty")
	}
	v.Version = o.version
	v.ContextLength = o.contextLength
	v.Lifecycle = o.lifecycle
	v.Prices = o.prices
	v.SKUs = splitList(o.skus)
	return api.Model{
		Name:           o.name,
		Description:    o.description,
		DefaultVersion: o.version,
		Versions:       []api.ModelVersion{v},
	}, nil
}

// fileVersion is a version served by the built-in engine from a GGUF file.
// The server reads the file, so the path is made absolute here.
func (o *modelAddOptions) fileVersion(file string) (api.ModelVersion, error) {
	if o.upstream.BaseURL != "" || o.upstream.Model != "" {
		return api.ModelVersion{}, usagef("give either FILE.gguf or --upstream, not both")
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return api.ModelVersion{}, fmt.Errorf("models add %s: %w", file, err)
	}
	if _, err := os.Stat(abs); err != nil {
		return api.ModelVersion{}, fmt.Errorf("models add: %w", err)
	}
	if o.name == "" {
		o.name = strings.TrimSuffix(filepath.Base(abs), ".gguf")
	}
	return api.ModelVersion{Format: "gguf", File: abs}, nil
}

// upstreamVersion is a version served by an OpenAI-compatible server.
func (o *modelAddOptions) upstreamVersion() (api.ModelVersion, error) {
	if o.upstream.BaseURL == "" || o.upstream.Model == "" {
		return api.ModelVersion{}, usagef("--upstream and --upstream-model are required")
	}
	u, err := url.Parse(o.upstream.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return api.ModelVersion{}, usagef("--upstream %q: want an http(s) URL such as http://127.0.0.1:8000/v1", o.upstream.BaseURL)
	}
	up := o.upstream
	up.BaseURL = strings.TrimRight(up.BaseURL, "/")
	return api.ModelVersion{Format: "upstream", Upstream: &up}, nil
}

func (a *app) modelsDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Remove a model from the catalog",
		Args:  cobra.ExactArgs(1),
		RunE: a.run(func(ctx context.Context, c *api.Client, args []string) error {
			if err := c.DeleteModel(ctx, args[0]); err != nil {
				return fmt.Errorf("delete model %s: %w", args[0], err)
			}
			a.done("Deleted model %s.", args[0])
			return nil
		}),
	}
}
