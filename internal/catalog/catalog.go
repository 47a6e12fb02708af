// Package catalog holds the models a hub can deploy: each a name with one or
// more versions, and per version where it is served from, what it can do,
// its lifecycle and its prices.
package catalog

import (
	"net/url"
	"regexp"
	"slices"
	"time"

	"github.com/cerulean-ai/cerulean/internal/fault"
)

// Formats of a model version.
const (
	FormatUpstream = "upstream" // served by an OpenAI-compatible server
	FormatGGUF     = "gguf"     // served by the built-in engine
)

// Lifecycle states, as Azure names them.
const (
	Preview            = "preview"
	GenerallyAvailable = "generally-available"
	Deprecated         = "deprecated"
)

// SKUs are the deployment types a model may allow.
var SKUs = []string{"Standard", "GlobalStandard", "DataZoneStandard", "ProvisionedManaged",
	"GlobalProvisionedManaged", "DataZoneProvisionedManaged", "ManagedCompute", "GlobalBatch", "DataZoneBatch", "Developer"}

// Model is a catalog entry.
type Model struct {
	Name           string
	Description    string
	DefaultVersion string
	Versions       []Version
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Version is one deployable version of a model.
type Version struct {
	Version       string
	Format        string
	Upstream      *Upstream `json:",omitempty"`
	File          string    `json:",omitempty"` // GGUF path, for FormatGGUF
	Capabilities  Capabilities
	ContextLength int
	Lifecycle     string
	DeprecationAt *time.Time `json:",omitempty"` // end of new deployments
	RetirementAt  *time.Time `json:",omitempty"` // end of inference
	Prices        Prices
	SKUs          []string // allowed deployment types; empty means all
	// PTU gives the provisioned-throughput figures of the version; nil
	// means no minimum or step and the rate limiter's default throughput.
	PTU *PTUSpec `json:",omitempty"`
}

// PTUSpec is what one provisioned throughput unit buys and how PTUs are
// sold for a version (Azure's per-model table: e.g. gpt-4o global 15/5,
// 2,500 input TPM per PTU, 1 output token = 3 input tokens).
type PTUSpec struct {
	Minimum int // smallest PTU capacity of a deployment
	Step    int // PTU capacity grows by this much above Minimum
	// InputTPMPerPTU is the input tokens per minute one PTU serves.
	InputTPMPerPTU int
	// OutputTokenWeight is how many input tokens one output token counts
	// as against the throughput (e.g. 4 for gpt-4.1); 0 means 1.
	OutputTokenWeight float64 `json:",omitempty"`
}

// Upstream is an OpenAI-compatible server.
type Upstream struct {
	BaseURL string // the OpenAI base URL, including /v1
	Model   string // the model name the upstream knows
	APIKey  string `json:",omitempty"`
}

// Capabilities says which APIs a version serves.
type Capabilities struct {
	Chat       bool
	Completion bool
	Embeddings bool
	JSONSchema bool
	Tools      bool
	FineTune   bool
}

// Prices are per 1,000 tokens, per PTU-hour and per replica-hour, in the
// hub's currency.
type Prices struct {
	InputPer1K       float64
	OutputPer1K      float64
	CachedInputPer1K float64
	PTUHour          float64
}

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.:-]{0,127}$`)

// Version returns version v, or the default when v is "".
func (m *Model) Version(v string) (Version, bool) {
	if v == "" {
		v = m.DefaultVersion
	}
	for _, x := range m.Versions {
		if x.Version == v {
			return x, true
		}
	}
	return Version{}, false
}

// Validate checks a model and fills defaults (default version, lifecycle).
func (m *Model) Validate() error {
	if !nameRE.MatchString(m.Name) {
		return fault.Param("name", "invalidPayload", "model name %q is invalid: use 1 to 128 letters, digits, '_', '.', ':' or '-'", m.Name)
	}
	if len(m.Versions) == 0 {
		return fault.Param("versions", "invalidPayload", "model %q needs at least one version", m.Name)
	}
	seen := map[string]bool{}
	for i := range m.Versions {
		v := &m.Versions[i]
		if v.Version == "" {
			v.Version = "1"
		}
		if seen[v.Version] {
			return fault.Param("versions", "invalidPayload", "version %q appears twice", v.Version)
		}
		seen[v.Version] = true
		if err := v.validate(); err != nil {
			return err
		}
	}
	if m.DefaultVersion == "" {
		m.DefaultVersion = m.Versions[len(m.Versions)-1].Version
	}
	if !seen[m.DefaultVersion] {
		return fault.Param("defaultVersion", "invalidPayload", "default version %q is not one of the model's versions", m.DefaultVersion)
	}
	return nil
}

func (v *Version) validate() error {
	switch v.Format {
	case FormatUpstream:
		if v.Upstream == nil {
			return fault.Param("upstream", "invalidPayload", "version %q: an upstream model needs upstream.baseURL and upstream.model", v.Version)
		}
		u, err := url.Parse(v.Upstream.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fault.Param("upstream.baseURL", "invalidPayload", "version %q: upstream base URL %q must be an absolute http or https URL, such as http://127.0.0.1:8000/v1", v.Version, v.Upstream.BaseURL)
		}
		if v.Upstream.Model == "" {
			return fault.Param("upstream.model", "invalidPayload", "version %q: upstream.model is required", v.Version)
		}
	case FormatGGUF:
		if v.File == "" {
			return fault.Param("file", "invalidPayload", "version %q: a gguf model needs a file", v.Version)
		}
	default:
		return fault.Param("format", "invalidPayload", "version %q: format %q is unknown: want %q or %q", v.Version, v.Format, FormatUpstream, FormatGGUF)
	}
	switch v.Lifecycle {
	case "":
		v.Lifecycle = GenerallyAvailable
	case Preview, GenerallyAvailable, Deprecated:
	default:
		return fault.Param("lifecycle", "invalidPayload", "version %q: lifecycle %q is unknown: want preview, generally-available or deprecated", v.Version, v.Lifecycle)
	}
	if v.ContextLength < 0 {
		return fault.Param("contextLength", "invalidPayload", "version %q: contextLength must not be negative", v.Version)
	}
	for _, p := range []float64{v.Prices.InputPer1K, v.Prices.OutputPer1K, v.Prices.CachedInputPer1K, v.Prices.PTUHour} {
		if p < 0 {
			return fault.Param("prices", "invalidPayload", "version %q: prices must not be negative", v.Version)
		}
	}
	for _, s := range v.SKUs {
		if !slices.Contains(SKUs, s) {
			return fault.Param("skus", "invalidPayload", "version %q: deployment type %q is unknown", v.Version, s)
		}
	}
	if err := v.PTU.validate(v.Version); err != nil {
		return err
	}
	if !v.Capabilities.Chat && !v.Capabilities.Completion && !v.Capabilities.Embeddings {
		return fault.Param("capabilities", "invalidPayload", "version %q: give at least one of chat, completion or embeddings", v.Version)
	}
	return nil
}

// maxOutputTokenWeight bounds PTUSpec.OutputTokenWeight.
const maxOutputTokenWeight = 1000

// validate checks the PTU figures of version; a nil spec is valid.
func (p *PTUSpec) validate(version string) error {
	switch {
	case p == nil:
		return nil
	case p.Minimum < 1 || p.Step < 1:
		return fault.Param("ptu", "invalidPayload", "version %q: ptu.minimum and ptu.step must be 1 or more, got %d and %d", version, p.Minimum, p.Step)
	case p.InputTPMPerPTU < 1:
		return fault.Param("ptu.inputTpmPerPtu", "invalidPayload", "version %q: ptu.inputTpmPerPtu must be 1 or more, got %d", version, p.InputTPMPerPTU)
	case !(p.OutputTokenWeight >= 0 && p.OutputTokenWeight <= maxOutputTokenWeight): // also refuses NaN
		return fault.Param("ptu.outputTokenWeight", "invalidPayload", "version %q: ptu.outputTokenWeight must be between 0 (meaning 1) and %d, got %g", version, maxOutputTokenWeight, p.OutputTokenWeight)
	}
	return nil
}

// Allows reports whether the version may be deployed as sku.
func (v *Version) Allows(sku string) bool {
	return len(v.SKUs) == 0 || slices.Contains(v.SKUs, sku)
}

// Retired reports whether inference has ended at t.
func (v *Version) Retired(t time.Time) bool {
	return v.RetirementAt != nil && !t.Before(*v.RetirementAt)
}
