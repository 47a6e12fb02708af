package server

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync/atomic"

	"github.com/cerulean-ai/cerulean/internal/gateway"
	"github.com/cerulean-ai/cerulean/internal/manage"
	"github.com/cerulean-ai/cerulean/internal/studio"
)

// routes mounts every face of the server on one mux. The gateway and the
// management API list their own routes in their routes.go.
func routes(log *slog.Logger, gw *gateway.Gateway, mg *manage.API, ui *studio.Studio, metrics http.Handler, ready *atomic.Bool) http.Handler {
	mux := http.NewServeMux()
	gw.Register(mux)
	mg.Register(mux)
	ui.Register(mux)
	mux.Handle("GET /metrics", metrics)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "draining"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": map[string]string{
			"code": "404", "message": "Resource not found: " + r.Method + " " + r.URL.Path +
				". Inference is under /openai/deployments/{deployment}/..., /openai/v1/... and /v1/...; management under /api/v1/."}})
	})
	return recoverPanics(log, drain(ready, mux))
}

// drain answers 503 to new requests once shutdown has begun (on
// connections that were already open), except the health probes.
func drain(ready *atomic.Bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() && r.URL.Path != "/healthz" && r.URL.Path != "/readyz" && r.URL.Path != "/metrics" {
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Connection", "close")
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": map[string]string{
				"code": "serviceUnavailable", "message": "The server is shutting down; retry on another replica or after it restarts."}})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// recoverPanics turns a panic that escaped a handler into a 500.
func recoverPanics(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("panic", "path", r.URL.Path, "value", v, "stack", string(debug.Stack()))
				writeJSON(w, http.StatusInternalServerError, map[string]any{"error": map[string]string{
					"code": "internalFailure", "message": "The server had an error while processing your request."}})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
