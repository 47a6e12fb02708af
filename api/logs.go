package api

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// LogSettings is a deployment's request-log capture: when Enabled, the
// bodies of its requests and responses are kept (secrets scrubbed, capped)
// for RetentionDays days. Capture is off by default.
type LogSettings struct {
	Enabled       bool      `json:"enabled"`
	RetentionDays int       `json:"retentionDays,omitempty"` // 1..365; 0 in a PUT means 7
	UpdatedAt     time.Time `json:"updatedAt,omitzero"`
}

// RequestLog is one captured request.
type RequestLog struct {
	// ID is the entry's cursor: pass it as LogQuery.After to list only
	// later entries.
	ID               string    `json:"id"`
	RequestID        string    `json:"requestId"`
	Time             time.Time `json:"time"`
	Deployment       string    `json:"deployment"`
	Model            string    `json:"model,omitempty"`
	Operation        string    `json:"operation,omitempty"`
	Stream           bool      `json:"stream,omitempty"`
	Status           int       `json:"status"`
	ErrorCode        string    `json:"errorCode,omitempty"`
	PromptTokens     int       `json:"promptTokens"`
	CompletionTokens int       `json:"completionTokens"`
	LatencyMS        float64   `json:"latencyMs"`
	Request          string    `json:"request,omitempty"`  // the request body, secrets scrubbed
	Response         string    `json:"response,omitempty"` // the response body; a stream's assembled
}

// LogQuery selects a project's request logs. Entries come oldest first.
type LogQuery struct {
	Deployment string    // "" means every deployment
	Since      time.Time // zero means from the oldest kept
	After      string    // a cursor: only entries after this one
	Limit      int       // 0 means the server's default (100); at most 1000
}

// LogPage is one page of request logs. Next is the cursor to ask for the
// entries after this page (also when it is empty, so that a follower can
// keep polling with it); HasMore says whether more are there now.
type LogPage struct {
	Value   []RequestLog `json:"value"`
	Next    string       `json:"next,omitempty"`
	HasMore bool         `json:"hasMore"`
}

// GetLogSettings returns a deployment's request-log capture settings.
func (c *Client) GetLogSettings(ctx context.Context, project, deployment string) (LogSettings, error) {
	var s LogSettings
	err := c.do(ctx, http.MethodGet, apiPath("projects", project, "deployments", deployment, "logging"), nil, &s)
	return s, err
}

// SetLogSettings switches a deployment's request-log capture on or off.
func (c *Client) SetLogSettings(ctx context.Context, project, deployment string, s LogSettings) (LogSettings, error) {
	var out LogSettings
	err := c.do(ctx, http.MethodPut, apiPath("projects", project, "deployments", deployment, "logging"), s, &out)
	return out, err
}

// ListLogs returns one page of a project's captured request logs.
func (c *Client) ListLogs(ctx context.Context, project string, q LogQuery) (LogPage, error) {
	v := url.Values{}
	if q.Deployment != "" {
		v.Set("deployment", q.Deployment)
	}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	if q.After != "" {
		v.Set("after", q.After)
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	p := apiPath("projects", project, "logs")
	if len(v) > 0 {
		p += "?" + v.Encode()
	}
	var page LogPage
	err := c.do(ctx, http.MethodGet, p, nil, &page)
	if page.Value == nil {
		page.Value = []RequestLog{}
	}
	return page, err
}
