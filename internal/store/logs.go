package store

import (
	"context"
	"time"
)

// Bounds of log capture settings and queries.
const (
	// DefaultRetentionDays is the retention of a deployment's captured
	// requests when its settings give none.
	DefaultRetentionDays = 7
	// MaxRetentionDays bounds LogCapture.RetentionDays.
	MaxRetentionDays = 365
	// DefaultLogLimit is how many request logs ListRequestLogs returns
	// when LogQuery.Limit is 0; MaxLogLimit bounds Limit.
	DefaultLogLimit = 100
	MaxLogLimit     = 1000
)

// LogCapture is a deployment's request-body capture setting. Capture is off
// for a deployment that has none.
type LogCapture struct {
	Project       string
	Deployment    string
	Enabled       bool
	RetentionDays int // 1..MaxRetentionDays; 0 in a read means "never set"
	UpdatedAt     time.Time
}

// RequestLog is one captured request: what it was, how it ended, and its
// bodies (secrets scrubbed and capped by the writer: the store keeps what
// it is given).
type RequestLog struct {
	// ID orders the logs of a store: a later insert has a larger ID. It is
	// assigned by AddRequestLogs and is the cursor of ListRequestLogs.
	ID               int64
	RequestID        string
	Time             time.Time // when the request arrived
	Project          string
	Deployment       string
	Model            string
	Operation        string // chat, completion, embedding
	Stream           bool
	Status           int
	ErrorCode        string
	PromptTokens     int
	CompletionTokens int
	Latency          time.Duration
	Request          string // the request body as the client sent it, scrubbed
	Response         string // the response body; for a stream, the assembled response
}

// LogQuery selects request logs of one project.
type LogQuery struct {
	Project    string
	Deployment string    // "" means every deployment of the project
	Since      time.Time // zero means no lower bound on Time
	After      int64     // only logs with a larger ID
	Limit      int       // 0 means DefaultLogLimit; capped at MaxLogLimit
}

// LogStore is request logs captured per deployment (bodies, with retention).
type LogStore interface {
	// PutLogCapture creates or replaces a deployment's capture setting; the
	// deployment must exist (DeploymentNotFound otherwise). Deleting the
	// deployment deletes its setting.
	PutLogCapture(ctx context.Context, c LogCapture) error
	// GetLogCapture returns a deployment's setting: Enabled false and
	// RetentionDays 0 when none was ever put; DeploymentNotFound when the
	// deployment does not exist.
	GetLogCapture(ctx context.Context, projectName, deploymentName string) (LogCapture, error)
	// ListLogCaptures returns every stored setting, enabled or not.
	ListLogCaptures(ctx context.Context) ([]LogCapture, error)

	// AddRequestLogs stores logs in one transaction (their ID is ignored).
	AddRequestLogs(ctx context.Context, logs []RequestLog) error
	// ListRequestLogs returns the logs q selects, oldest (smallest ID)
	// first.
	ListRequestLogs(ctx context.Context, q LogQuery) ([]RequestLog, error)
	// PruneRequestLogs deletes the logs older, at now, than their
	// deployment's retention; logs of a deployment without a setting (never
	// set, or deleted with its deployment or project) are kept for fallback.
	// It returns how many it deleted.
	PruneRequestLogs(ctx context.Context, now time.Time, fallback time.Duration) (int64, error)
}
