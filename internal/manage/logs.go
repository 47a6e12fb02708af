package manage

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cerulean-ai/cerulean/api"
	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/store"
)

// LogStore is what the request-log routes need of store.Store.
type LogStore interface {
	GetLogCapture(ctx context.Context, projectName, deploymentName string) (store.LogCapture, error)
	PutLogCapture(ctx context.Context, c store.LogCapture) error
	ListRequestLogs(ctx context.Context, q store.LogQuery) ([]store.RequestLog, error)
}

// getLogging returns a deployment's request-log capture settings; one that
// was never set shows capture off with the default retention.
func (a *API) getLogging(r *http.Request) (reply, error) {
	c, err := a.store.GetLogCapture(r.Context(), r.PathValue("project"), r.PathValue("deployment"))
	if err != nil {
		return reply{}, fmt.Errorf("get log capture: %w", err)
	}
	return reply{status: http.StatusOK, body: logSettingsToAPI(c)}, nil
}

// putLogging switches a deployment's request-log capture on or off.
func (a *API) putLogging(r *http.Request) (reply, error) {
	var in api.LogSettings
	if err := decode(r, &in); err != nil {
		return reply{}, err
	}
	days := in.RetentionDays
	if days == 0 {
		days = store.DefaultRetentionDays
	}
	if days < 1 || days > store.MaxRetentionDays {
		return reply{}, fault.Param("retentionDays", codeInvalidPayload,
			"retentionDays must be 1 to %d, got %d", store.MaxRetentionDays, in.RetentionDays)
	}
	c := store.LogCapture{Project: r.PathValue("project"), Deployment: r.PathValue("deployment"),
		Enabled: in.Enabled, RetentionDays: days, UpdatedAt: a.now().UTC()}
	if err := a.store.PutLogCapture(r.Context(), c); err != nil {
		return reply{}, fmt.Errorf("put log capture: %w", err)
	}
	a.changed()
	return reply{status: http.StatusOK, body: logSettingsToAPI(c)}, nil
}

// listLogs returns a page of a project's captured requests, oldest first:
// ?deployment= filters, since= (RFC 3339, or a duration such as 1h before
// now) bounds the time, after= is the cursor of the last entry seen,
// limit= (1..1000, default 100) the page size.
func (a *API) listLogs(r *http.Request) (reply, error) {
	q := r.URL.Query()
	lq := store.LogQuery{Project: r.PathValue("project"), Deployment: q.Get("deployment"), Limit: store.DefaultLogLimit}
	if s := q.Get("since"); s != "" {
		t, err := parseSince(s, a.now())
		if err != nil {
			return reply{}, err
		}
		lq.Since = t
	}
	after := q.Get("after")
	if after != "" {
		n, err := strconv.ParseInt(after, 10, 64)
		if err != nil || n < 0 {
			return reply{}, fault.Param("after", codeInvalidPayload, "after must be the id of a log entry, got %q", after)
		}
		lq.After = n
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > store.MaxLogLimit {
			return reply{}, fault.Param("limit", codeInvalidPayload, "limit must be 1 to %d, got %q", store.MaxLogLimit, s)
		}
		lq.Limit = n
	}
	p, err := a.mustProject(r)
	if err != nil {
		return reply{}, err
	}
	lq.Project = p.Name
	limit := lq.Limit
	lq.Limit++ // one more tells whether there are more
	logs, err := a.store.ListRequestLogs(r.Context(), lq)
	if err != nil {
		return reply{}, fmt.Errorf("list request logs of project %s: %w", p.Name, err)
	}
	page := api.LogPage{Value: make([]api.RequestLog, 0, min(len(logs), limit)), Next: after}
	if len(logs) > limit {
		logs, page.HasMore = logs[:limit], true
	}
	for _, l := range logs {
		page.Value = append(page.Value, requestLogToAPI(l))
	}
	if len(logs) > 0 {
		page.Next = strconv.FormatInt(logs[len(logs)-1].ID, 10)
	}
	return reply{status: http.StatusOK, body: page}, nil
}

// parseSince reads an RFC 3339 time, or a duration before now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 && !strings.HasPrefix(s, "-") {
		return now.Add(-d), nil
	}
	return time.Time{}, fault.Param("since", codeInvalidPayload,
		"since must be an RFC 3339 time (2025-01-02T15:04:05Z) or a duration before now (1h, 30m), got %q", s)
}

func logSettingsToAPI(c store.LogCapture) api.LogSettings {
	days := c.RetentionDays
	if days == 0 {
		days = store.DefaultRetentionDays
	}
	return api.LogSettings{Enabled: c.Enabled, RetentionDays: days, UpdatedAt: c.UpdatedAt}
}

func requestLogToAPI(l store.RequestLog) api.RequestLog {
	return api.RequestLog{
		ID: strconv.FormatInt(l.ID, 10), RequestID: l.RequestID, Time: l.Time, Deployment: l.Deployment,
		Model: l.Model, Operation: l.Operation, Stream: l.Stream, Status: l.Status, ErrorCode: l.ErrorCode,
		PromptTokens: l.PromptTokens, CompletionTokens: l.CompletionTokens,
		LatencyMS: float64(l.Latency.Microseconds()) / 1000, Request: l.Request, Response: l.Response,
	}
}
