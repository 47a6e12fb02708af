package gateway

import (
	"net/http"
	"regexp"
	"slices"
	"time"

	"github.com/cerulean-ai/cerulean/internal/fault"
)

// GAVersions are the generally-available api-version values of the
// deployment routes, oldest first.
var GAVersions = []string{"2022-12-01", "2023-05-15", "2024-02-01", "2024-06-01", "2024-10-21"}

// v1Versions are the api-version values of the /openai/v1 routes; absent
// means latest.
var v1Versions = []string{"latest", "preview"}

var previewRE = regexp.MustCompile(`^(\d{4}-\d{2}-\d{2})-preview$`)

// firstPreview is the oldest preview date accepted.
var firstPreview = time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)

const supportedVersions = "Supported versions: 2022-12-01, 2023-05-15, 2024-02-01, 2024-06-01, 2024-10-21, previews YYYY-MM-DD-preview from 2023-01-01 to today (e.g. 2025-04-01-preview), and on /openai/v1 routes 'latest' (the default) or 'preview'."

// apiVersion checks the api-version query parameter. Deployment routes
// need a GA version or a dated preview; /openai/v1 routes take latest or
// preview and default to latest.
//
// Azure itself answers a missing api-version with 404 Resource not found;
// Cerulean answers 400 naming the parameter, which says what to fix.
func (g *Gateway) apiVersion(r *http.Request, v1 bool) (string, error) {
	v := r.URL.Query().Get("api-version")
	if v1 {
		if v == "" {
			return "latest", nil
		}
		if slices.Contains(v1Versions, v) {
			return v, nil
		}
		return "", fault.Param("api-version", "BadRequest", "API version not supported: api-version '%.40s' is not supported on /openai/v1 routes. %s", v, supportedVersions)
	}
	if v == "" {
		return "", fault.Param("api-version", "missing_required_parameter", "Missing required query parameter 'api-version'. %s", supportedVersions)
	}
	if slices.Contains(GAVersions, v) || g.validPreview(v) {
		return v, nil
	}
	return "", fault.Param("api-version", "BadRequest", "API version not supported: api-version '%.40s' is not supported. %s", v, supportedVersions)
}

// validPreview accepts YYYY-MM-DD-preview dated from 2023 to today.
func (g *Gateway) validPreview(v string) bool {
	m := previewRE.FindStringSubmatch(v)
	if m == nil {
		return false
	}
	d, err := time.Parse(time.DateOnly, m[1])
	if err != nil {
		return false
	}
	return !d.Before(firstPreview) && !d.After(g.now().UTC())
}
