package gateway

import (
	"context"
	"net/http"
	"strings"

	"github.com/cerulean-ai/cerulean/internal/fault"
)

// maxKeyLen bounds a presented key before it is hashed.
const maxKeyLen = 512

// presentedKey is the key of a request: the api-key header (any case), or
// an Authorization: Bearer token.
func presentedKey(r *http.Request) string {
	if k := strings.TrimSpace(r.Header.Get("Api-Key")); k != "" {
		return k
	}
	auth := strings.TrimSpace(r.Header.Get("Authorization"))
	if len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
		return strings.TrimSpace(auth[7:])
	}
	return ""
}

// authenticate returns the caller of the request's key, or an
// Unauthorized error (rendered per dialect by renderError).
func (g *Gateway) authenticate(ctx context.Context, w *responseWriter, r *http.Request) (Caller, error) {
	key := presentedKey(r)
	if key == "" {
		return Caller{}, fault.New(fault.Unauthorized, codeMissingKey, "no API key")
	}
	if len(key) > maxKeyLen {
		return Caller{}, fault.New(fault.Unauthorized, "invalid_api_key", "invalid API key")
	}
	caller, err := g.dir.Authenticate(ctx, key)
	if err != nil {
		return Caller{}, err
	}
	if caller.Region != "" {
		w.Header().Set("X-Ms-Region", caller.Region)
	}
	return caller, nil
}
