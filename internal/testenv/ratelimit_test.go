package testenv_test

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/cerulean-ai/cerulean/api"
	"github.com/cerulean-ai/cerulean/internal/testenv"
)

// TestStandardRateLimit: a Standard deployment of capacity 1 takes one
// request per 10 s; the next gets Azure's 429 with retry-after headers.
func TestStandardRateLimit(t *testing.T) {
	e := testenv.New(t)
	e.Deploy(t, "chat")
	ctx := context.Background()
	if _, err := e.Admin.UpdateDeployment(ctx, "default", "chat", api.DeploymentUpdate{Capacity: ptr(1)}); err != nil {
		t.Fatal(err)
	}
	call := func() *http.Response {
		req, _ := http.NewRequest("POST", e.URL+"/openai/deployments/chat/chat/completions?api-version=2024-10-21",
			strings.NewReader(`{"messages":[{"role":"user","content":"hi"}],"max_tokens":5}`))
		req.Header.Set("api-key", e.Key1)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	first := call()
	io.Copy(io.Discard, first.Body)
	first.Body.Close()
	if first.StatusCode != 200 || first.Header.Get("x-ratelimit-remaining-requests") != "0" || first.Header.Get("x-ratelimit-remaining-tokens") == "" {
		t.Fatalf("first: %d, remaining requests %q tokens %q", first.StatusCode, first.Header.Get("x-ratelimit-remaining-requests"), first.Header.Get("x-ratelimit-remaining-tokens"))
	}
	second := call()
	body, _ := io.ReadAll(second.Body)
	second.Body.Close()
	if second.StatusCode != 429 {
		t.Fatalf("second: %d %s, want 429", second.StatusCode, body)
	}
	if !strings.Contains(string(body), "exceeded call rate limit") || !strings.Contains(string(body), "2024-10-21") {
		t.Errorf("429 body %s", body)
	}
	secs, err := strconv.Atoi(second.Header.Get("retry-after"))
	if err != nil || secs < 1 || secs > 11 || second.Header.Get("retry-after-ms") == "" {
		t.Errorf("retry-after %q retry-after-ms %q", second.Header.Get("retry-after"), second.Header.Get("retry-after-ms"))
	}
}
