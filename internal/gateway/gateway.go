// Package gateway is Cerulean's inference API: the Azure OpenAI dialect
// (/openai/deployments/{name}/..., /openai/v1/...) and the OpenAI dialect
// (/v1/...). It reads and validates a request, authenticates its key,
// resolves the deployment, asks an Admitter, calls a Backend, writes JSON
// or server-sent events, and hands one Record per request to a Meter.
// Errors of every hop are rendered in one place (errors.go), in the
// envelope of the dialect the client spoke.
package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/cerulean-ai/cerulean/internal/deployment"
	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/inference"
)

// DefaultMaxBodyBytes bounds a request body when Deps.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 16 << 20

// Caller is who a key belongs to.
type Caller struct {
	Project string
	KeyID   string // apikey.Hash.ID of the key: safe to log
	Region  string // the project's region label, shown as x-ms-region; may be ""
}

// Directory resolves keys and deployments. Implementations return
// *fault.Error values: Unauthorized for an unknown key, NotFound with code
// DeploymentNotFound for a deployment the project cannot call.
type Directory interface {
	// Authenticate returns the caller of a presented key.
	Authenticate(ctx context.Context, key string) (Caller, error)
	// Resolve returns where requests to project's deployment go; the
	// deployment must exist and be in state Succeeded.
	Resolve(ctx context.Context, project, deployment string) (inference.Target, error)
	// Deployments lists a project's deployments.
	Deployments(ctx context.Context, project string) ([]deployment.Deployment, error)
}

// Estimate is what the gateway tells an Admitter before it calls the
// backend.
type Estimate struct {
	RequestID string
	Caller    Caller
	Target    inference.Target
	Operation string // chat, completion, embedding
	// APIVersion is the request's api-version ("latest" on /openai/v1,
	// "" on the OpenAI dialect's /v1 routes).
	APIVersion string
	// PromptTokens is a rough count of the prompt's tokens (bytes/4).
	PromptTokens int
	// MaxTokens is the completion limit the client asked for (for all
	// choices), 0 when none was given.
	MaxTokens int
	// Header holds the response headers; the admitter may add its own
	// (x-ratelimit-remaining-requests, x-ratelimit-remaining-tokens,
	// azure-openai-deployment-utilization).
	Header http.Header
}

// Admitter decides whether a request may run now. It returns a settle
// function that the gateway calls exactly once with the actual usage when
// the request ends (zero usage when it failed), or an error: a *fault.Error
// of kind RateLimited to refuse. When an error in the chain has a method
// RetryAfter() time.Duration, the gateway sends retry-after and
// retry-after-ms headers.
type Admitter interface {
	Admit(ctx context.Context, e Estimate) (settle func(actual inference.Usage), err error)
}

// Record is one request's usage, handed to the Meter once per request that
// reached admission.
type Record struct {
	RequestID  string
	Project    string
	KeyID      string
	Deployment string
	Model      string // catalog model name
	Version    string
	SKU        string
	Operation  string // chat, completion, embedding
	Usage      inference.Usage
	Status     int // HTTP status sent (200 for a stream that started)
	Stream     bool
	Latency    time.Duration // until the response ended
	// TimeToFirstToken is the time until the first streamed chunk; for a
	// non-streamed response it equals Latency.
	TimeToFirstToken time.Duration
	Time             time.Time // when the request arrived
	// ErrorCode is the code of the error the client was shown (also one
	// sent as a stream's last event), "" when the request succeeded.
	ErrorCode string
}

// Meter receives usage records. Record must not block for long; it is
// called with a context that is not cancelled when the client goes away.
type Meter interface {
	Record(ctx context.Context, r Record)
}

// Deps are the gateway's collaborators.
type Deps struct {
	Logger    *slog.Logger
	Directory Directory
	// Backend returns the backend that serves a target.
	Backend      func(t inference.Target) (Backend, error)
	MaxBodyBytes int64            // 0 means DefaultMaxBodyBytes
	Now          func() time.Time // nil means time.Now
	Admit        Admitter         // nil admits everything
	Meter        Meter            // nil records nothing
	Capture      Capturer         // nil captures no bodies
}

// Gateway serves the inference API.
type Gateway struct {
	log      *slog.Logger
	dir      Directory
	backend  func(t inference.Target) (Backend, error)
	maxBody  int64
	now      func() time.Time
	admitter Admitter
	meter    Meter
	capture  Capturer

	// Azure's content-filter annotations of content that passed, built
	// once and shared read-only by every response: safeResults() and
	// promptFilterResults(1).
	safe    *inference.ContentFilterResults
	prompt1 []inference.PromptFilterResult
}

// New returns a gateway over d.
func New(d Deps) *Gateway {
	g := &Gateway{
		log:      d.Logger,
		dir:      d.Directory,
		backend:  d.Backend,
		maxBody:  d.MaxBodyBytes,
		now:      d.Now,
		admitter: d.Admit,
		meter:    d.Meter,
		capture:  d.Capture,
		safe:     safeResults(),
		prompt1:  promptFilterResults(1),
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if g.maxBody <= 0 {
		g.maxBody = DefaultMaxBodyBytes
	}
	if g.now == nil {
		g.now = time.Now
	}
	if g.backend == nil {
		g.backend = func(inference.Target) (Backend, error) {
			return nil, fault.New(fault.Unavailable, "no_backend", "No inference backend is configured on this server.")
		}
	}
	return g
}
