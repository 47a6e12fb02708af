// Package api is the public Go client of Cerulean's management API and its
// JSON types. It imports nothing of Cerulean's internals, so other programs
// can use it.
package api

import "time"

// List is the envelope of every list response, as ARM's {"value": [...]}.
type List[T any] struct {
	Value []T `json:"value"`
}

// ErrorBody is the envelope of every management error.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is a management error: a stable code, a message and the field
// or resource it concerns.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Target  string `json:"target,omitempty"`
}

// Hub owns model quota and projects.
type Hub struct {
	Name        string       `json:"name"`
	Description string       `json:"description,omitempty"`
	Quotas      []QuotaLimit `json:"quotas"`
	CreatedAt   time.Time    `json:"createdAt"`
}

// QuotaLimit is a hub's limit for one model ("*" for any) and deployment type.
type QuotaLimit struct {
	Model string `json:"model"`
	SKU   string `json:"sku"`
	Limit int    `json:"limit"`
}

// QuotaUsage is a hub's limit and current use for one model and type.
type QuotaUsage struct {
	Model     string `json:"model"`
	SKU       string `json:"sku"`
	UsageName string `json:"usageName"`
	Limit     int    `json:"limit"`
	Used      int    `json:"used"`
	Unit      string `json:"unit"` // "K-TPM", "PTU" or "replicas"
}

// Project is one endpoint with its keys and deployments.
type Project struct {
	Name        string    `json:"name"`
	Hub         string    `json:"hub"`
	Region      string    `json:"region,omitempty"`
	Description string    `json:"description,omitempty"`
	Endpoint    string    `json:"endpoint"` // base URL for the Azure SDKs
	CreatedAt   time.Time `json:"createdAt"`
}

// CreateProject is the body of a project creation.
type CreateProject struct {
	Name        string `json:"name"`
	Hub         string `json:"hub,omitempty"` // default "default"
	Region      string `json:"region,omitempty"`
	Description string `json:"description,omitempty"`
}

// Keys are a project's two keys.
type Keys struct {
	Key1 string `json:"key1"`
	Key2 string `json:"key2"`
}

// RegenerateKey names the key to replace: "key1" or "key2".
type RegenerateKey struct {
	KeyName string `json:"keyName"`
}

// Model is a catalog entry.
type Model struct {
	Name           string         `json:"name"`
	Description    string         `json:"description,omitempty"`
	DefaultVersion string         `json:"defaultVersion"`
	Versions       []ModelVersion `json:"versions"`
	CreatedAt      time.Time      `json:"createdAt,omitzero"`
	UpdatedAt      time.Time      `json:"updatedAt,omitzero"`
}

// ModelVersion is one deployable version.
type ModelVersion struct {
	Version       string       `json:"version"`
	Format        string       `json:"format"` // "upstream" or "gguf"
	Upstream      *Upstream    `json:"upstream,omitempty"`
	File          string       `json:"file,omitempty"`
	Capabilities  Capabilities `json:"capabilities"`
	ContextLength int          `json:"contextLength,omitempty"`
	Lifecycle     string       `json:"lifecycleStatus,omitempty"` // preview, generally-available, deprecated
	DeprecationAt *time.Time   `json:"deprecationAt,omitempty"`
	RetirementAt  *time.Time   `json:"retirementAt,omitempty"`
	Prices        Prices       `json:"prices"`
	SKUs          []string     `json:"skus,omitempty"`
	PTU           *PTUSpec     `json:"ptu,omitempty"`
}

// PTUSpec is what one provisioned throughput unit buys and how PTUs are
// sold: capacities are minimum, minimum+step, ...; outputTokenWeight is how
// many input tokens an output token counts as (0 means 1).
type PTUSpec struct {
	Minimum           int     `json:"minimum"`
	Step              int     `json:"step"`
	InputTPMPerPTU    int     `json:"inputTpmPerPtu"`
	OutputTokenWeight float64 `json:"outputTokenWeight,omitempty"`
}

// Upstream is an OpenAI-compatible server. APIKey is write-only: responses
// leave it empty and say HasAPIKey instead.
type Upstream struct {
	BaseURL   string `json:"baseURL"`
	Model     string `json:"model"`
	APIKey    string `json:"apiKey,omitempty"`
	HasAPIKey bool   `json:"hasApiKey,omitempty"`
}

// Capabilities says which APIs a version serves.
type Capabilities struct {
	Chat       bool `json:"chatCompletion"`
	Completion bool `json:"completion"`
	Embeddings bool `json:"embeddings"`
	JSONSchema bool `json:"jsonSchemaResponse"`
	Tools      bool `json:"tools"`
	FineTune   bool `json:"fineTune"`
}

// Prices are per 1,000 tokens and per PTU-hour.
type Prices struct {
	InputPer1K       float64 `json:"inputPer1K"`
	OutputPer1K      float64 `json:"outputPer1K"`
	CachedInputPer1K float64 `json:"cachedInputPer1K,omitempty"`
	PTUHour          float64 `json:"ptuHour,omitempty"`
}

// ModelUpdate changes a model: nil fields stay as they are; Versions, when
// given, replaces the list.
type ModelUpdate struct {
	Description    *string         `json:"description,omitempty"`
	DefaultVersion *string         `json:"defaultVersion,omitempty"`
	Versions       *[]ModelVersion `json:"versions,omitempty"`
}

// SKU is a deployment type and capacity.
type SKU struct {
	Name     string `json:"name"`
	Capacity int    `json:"capacity"`
}

// DeploymentModel names the model version a deployment serves.
type DeploymentModel struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	Format  string `json:"format,omitempty"`
}

// RateLimit is a derived limit: Count per RenewalPeriod seconds.
type RateLimit struct {
	Key           string `json:"key"`
	RenewalPeriod int    `json:"renewalPeriod"`
	Count         int    `json:"count"`
}

// Deployment is a callable instance of a model version in a project.
type Deployment struct {
	Name                 string          `json:"name"`
	Project              string          `json:"project"`
	Model                DeploymentModel `json:"model"`
	SKU                  SKU             `json:"sku"`
	VersionUpgradeOption string          `json:"versionUpgradeOption,omitempty"`
	RAIPolicyName        string          `json:"raiPolicyName,omitempty"`
	ProvisioningState    string          `json:"provisioningState,omitempty"` // Creating, Succeeded, Failed, Deleting
	Reason               string          `json:"reason,omitempty"`            // why Failed
	RateLimits           []RateLimit     `json:"rateLimits,omitempty"`
	Capabilities         *Capabilities   `json:"capabilities,omitempty"`
	CreatedAt            time.Time       `json:"createdAt,omitzero"`
	UpdatedAt            time.Time       `json:"updatedAt,omitzero"`

	// InstanceType is the instance type of a ManagedCompute deployment's
	// replicas (default: the hub's first); SKU.Capacity is their count.
	InstanceType string `json:"instanceType,omitempty"`
	// ScaleToZero lets a ManagedCompute deployment at 0 replicas start
	// one on its first request instead of answering 503.
	ScaleToZero bool `json:"scaleToZero,omitempty"`
}

// DeploymentUpdate changes a deployment: nil fields stay as they are.
type DeploymentUpdate struct {
	Capacity             *int    `json:"capacity,omitempty"`
	Version              *string `json:"version,omitempty"`
	VersionUpgradeOption *string `json:"versionUpgradeOption,omitempty"`
	RAIPolicyName        *string `json:"raiPolicyName,omitempty"`
	InstanceType         *string `json:"instanceType,omitempty"` // ManagedCompute only
	ScaleToZero          *bool   `json:"scaleToZero,omitempty"`  // ManagedCompute only
}
