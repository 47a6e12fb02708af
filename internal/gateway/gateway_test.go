package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/inference"
)

func TestChatAzureAnnotations(t *testing.T) {
	h := newHarness(t, nil)
	resp := h.do(t, "POST", azChat, nil, chatBody(""))
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var got struct {
		Model               string                         `json:"model"`
		PromptFilterResults []inference.PromptFilterResult `json:"prompt_filter_results"`
		Choices             []struct {
			Message              struct{ Content string }       `json:"message"`
			ContentFilterResults inference.ContentFilterResults `json:"content_filter_results"`
		} `json:"choices"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	safe := &inference.FilterSeverity{Severity: "safe"}
	wantChoice := inference.ContentFilterResults{Hate: safe, SelfHarm: safe, Sexual: safe, Violence: safe}
	wantPrompt := wantChoice
	wantPrompt.Jailbreak = &inference.FilterDetected{}
	if got.Model != "tiny-chat-2025-01-01" {
		t.Errorf("model %q: the backend's model must be kept", got.Model)
	}
	if diff := cmp.Diff([]inference.PromptFilterResult{{ContentFilterResults: wantPrompt}}, got.PromptFilterResults); diff != "" {
		t.Errorf("prompt_filter_results (-want +got):\n%s", diff)
	}
	if len(got.Choices) != 1 || got.Choices[0].Message.Content != "Hello!" {
		t.Fatalf("choices %+v", got.Choices)
	}
	if diff := cmp.Diff(wantChoice, got.Choices[0].ContentFilterResults); diff != "" {
		t.Errorf("content_filter_results (-want +got):\n%s", diff)
	}
	if got := resp.Header.Get("x-ms-region"); got != "westeurope" {
		t.Errorf("x-ms-region %q", got)
	}

	// The OpenAI dialect has no annotations.
	plain := readAll(t, h.do(t, "POST", oaChat, nil, chatBody("")))
	if strings.Contains(plain, "filter") {
		t.Errorf("OpenAI dialect answer has filter results: %s", plain)
	}
}

func TestRequestID(t *testing.T) {
	h := newHarness(t, nil)
	cases := []struct {
		name   string
		header map[string]string
		want   string // "" means a generated UUID
	}{
		{"x-request-id echoed", map[string]string{"api-key": keyA, "x-request-id": "my-req-42"}, "my-req-42"},
		{"x-ms-client-request-id echoed", map[string]string{"api-key": keyA, "x-ms-client-request-id": "abc.123:z"}, "abc.123:z"},
		{"invalid id replaced", map[string]string{"api-key": keyA, "x-request-id": "bad id\twith spaces"}, ""},
		{"none given", nil, ""},
		{"on errors too", map[string]string{"x-request-id": "err-1"}, "err-1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := h.do(t, "POST", azChat, tc.header, chatBody(""))
			readAll(t, resp)
			got := resp.Header.Get("x-request-id")
			if tc.want == "" {
				if len(got) != 36 || got[14] != '4' {
					t.Errorf("x-request-id %q is not a UUID v4", got)
				}
			} else if got != tc.want {
				t.Errorf("x-request-id %q, want %q", got, tc.want)
			}
			if apim := resp.Header.Get("apim-request-id"); apim != got {
				t.Errorf("apim-request-id %q, want %q", apim, got)
			}
			if resp.Header.Get("x-content-type-options") != "nosniff" {
				t.Error("no nosniff")
			}
		})
	}
}

func TestEmbeddings(t *testing.T) {
	h := newHarness(t, nil)
	cases := []struct {
		name, path, body string
	}{
		{"float", oaEmbed, `{"model":"embed-dep","input":["a","b"]}`},
		{"base64", oaEmbed, `{"model":"embed-dep","input":["a","b"],"encoding_format":"base64"}`},
		{"base64 Azure", azEmbed, `{"input":["a","b"],"encoding_format":"base64"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := h.do(t, "POST", tc.path, nil, tc.body)
			body := readAll(t, resp)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			var raw struct {
				Object string `json:"object"`
				Model  string `json:"model"`
				Data   []struct {
					Embedding json.RawMessage `json:"embedding"`
				} `json:"data"`
			}
			if err := json.Unmarshal([]byte(body), &raw); err != nil {
				t.Fatal(err)
			}
			var got inference.EmbeddingList
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatal(err)
			}
			isString := raw.Data[0].Embedding[0] == '"'
			if want := strings.Contains(tc.name, "base64"); isString != want {
				t.Errorf("embedding sent as string: %v, want %v", isString, want)
			}
			var vecs [][]float32
			for _, e := range got.Data {
				vecs = append(vecs, e.Embedding)
			}
			if diff := cmp.Diff([][]float32{embedVector(0), embedVector(1)}, vecs); diff != "" {
				t.Errorf("vectors (-want +got):\n%s", diff)
			}
			if raw.Object != "list" || raw.Model != "tiny-embed-v2" {
				t.Errorf("object %q model %q", raw.Object, raw.Model)
			}
		})
	}
	// The exact bytes: 1.0 is 0x3f800000, little-endian 00 00 80 3f.
	if got := inference.EncodeFloat32s([]float32{1, -2}); got != "AACAPwAAAMA=" {
		t.Errorf("EncodeFloat32s = %q", got)
	}
}

func TestModels(t *testing.T) {
	h := newHarness(t, nil)
	decode := func(body string) []string {
		var l struct {
			Object string `json:"object"`
			Data   []struct {
				ID      string `json:"id"`
				Object  string `json:"object"`
				OwnedBy string `json:"owned_by"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(body), &l); err != nil || l.Object != "list" {
			t.Fatalf("list %q: %v", body, err)
		}
		var ids []string
		for _, d := range l.Data {
			ids = append(ids, d.ID+"/"+d.Object+"/"+d.OwnedBy)
		}
		return ids
	}
	for _, path := range []string{"/v1/models", "/openai/v1/models"} {
		got := decode(readAll(t, h.do(t, "GET", path, nil, "")))
		if diff := cmp.Diff([]string{"chat-dep/model/cerulean", "embed-dep/model/cerulean"}, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", path, diff)
		}
	}
	resp := h.do(t, "GET", "/v1/models/chat-dep", nil, "")
	if body := readAll(t, resp); resp.StatusCode != 200 || !strings.Contains(body, `"id":"chat-dep"`) {
		t.Errorf("GET model: %d %s", resp.StatusCode, body)
	}
	got, _ := parseError(t, h.do(t, "GET", "/v1/models/b-dep", nil, ""))
	if diff := cmp.Diff(errorOf{404, "model_not_found", "model"}, got); diff != "" {
		t.Errorf("other project's model: %s", diff)
	}
	resp = h.do(t, "GET", "/openai/deployments?api-version=2022-12-01", nil, "")
	if body := readAll(t, resp); resp.StatusCode != 200 || !strings.Contains(body, `"id":"embed-dep"`) {
		t.Errorf("GET deployments: %d %s", resp.StatusCode, body)
	}
	resp = h.do(t, "GET", "/openai/models?api-version=2024-10-21", nil, "")
	if body := readAll(t, resp); resp.StatusCode != 200 || !strings.Contains(body, `"id":"tiny-chat-1"`) {
		t.Errorf("GET models: %d %s", resp.StatusCode, body)
	}
}

// rateLimited is a 429 that knows when to retry.
type rateLimited struct{ after time.Duration }

func (r rateLimited) Error() string             { return "rate limited" }
func (r rateLimited) RetryAfter() time.Duration { return r.after }

// fakeAdmitter refuses when refuse is set and counts settlements.
type fakeAdmitter struct {
	refuse  bool
	est     []Estimate
	settled []inference.Usage
}

func (a *fakeAdmitter) Admit(_ context.Context, e Estimate) (func(inference.Usage), error) {
	a.est = append(a.est, e)
	if a.refuse {
		return nil, &fault.Error{Kind: fault.RateLimited, Code: "429",
			Message: "Requests to the ChatCompletions_Create Operation have exceeded token rate limit. Please retry after 2 seconds.",
			Err:     rateLimited{1500 * time.Millisecond}}
	}
	e.Header.Set("x-ratelimit-remaining-requests", "9")
	return func(u inference.Usage) { a.settled = append(a.settled, u) }, nil
}

func TestAdmissionAndMetering(t *testing.T) {
	adm := &fakeAdmitter{}
	h := newHarness(t, func(d *Deps) { d.Admit = adm })
	resp := h.do(t, "POST", azChat, map[string]string{"api-key": keyA, "x-request-id": "r1"}, chatBody(`"max_tokens":50,"n":2`))
	readAll(t, resp)
	if resp.StatusCode != 200 || resp.Header.Get("x-ratelimit-remaining-requests") != "9" {
		t.Fatalf("status %d, headers %v", resp.StatusCode, resp.Header)
	}
	if len(adm.est) != 1 || adm.est[0].MaxTokens != 100 || adm.est[0].PromptTokens == 0 || adm.est[0].Target.Deployment != "chat-dep" {
		t.Errorf("estimate %+v", adm.est)
	}
	if diff := cmp.Diff([]inference.Usage{usage}, adm.settled); diff != "" {
		t.Errorf("settled (-want +got):\n%s", diff)
	}

	adm.refuse = true
	resp = h.do(t, "POST", azChat, map[string]string{"api-key": keyA, "x-request-id": "r2"}, chatBody(""))
	got, _ := parseError(t, resp)
	if diff := cmp.Diff(errorOf{429, "429", ""}, got); diff != "" {
		t.Error(diff)
	}
	if resp.Header.Get("retry-after") != "2" || resp.Header.Get("retry-after-ms") != "1500" {
		t.Errorf("retry headers %q %q", resp.Header.Get("retry-after"), resp.Header.Get("retry-after-ms"))
	}

	want := []Record{
		{RequestID: "r1", Project: "proj-a", KeyID: "aaaa0001", Deployment: "chat-dep", Model: "tiny-chat", Version: "1", SKU: "Standard",
			Operation: "chat", Usage: usage, Status: 200, Time: testNow},
		{RequestID: "r2", Project: "proj-a", KeyID: "aaaa0001", Deployment: "chat-dep", Model: "tiny-chat", Version: "1", SKU: "Standard",
			Operation: "chat", Status: 429, Time: testNow, ErrorCode: "429"},
	}
	if diff := cmp.Diff(want, h.meter.all()); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

func TestInternalErrors(t *testing.T) {
	cases := []struct {
		name  string
		setup func(*fakeBackend)
	}{
		{"panic", func(b *fakeBackend) { b.panicMsg = "secret panic detail" }},
		{"plain error", func(b *fakeBackend) { b.err = errors.New("secret database password wrong") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			tc.setup(h.backend)
			resp := h.do(t, "POST", oaChat, map[string]string{"api-key": keyA, "x-request-id": "boom-1"}, chatBody(""))
			got, env := parseError(t, resp)
			if got.Status != 500 {
				t.Errorf("status %d", got.Status)
			}
			msg, _ := env["message"].(string)
			if strings.Contains(msg, "secret") || !strings.Contains(msg, "boom-1") {
				t.Errorf("message %q leaks or lacks the request id", msg)
			}
			if env["type"] != "server_error" {
				t.Errorf("type %v", env["type"])
			}
			// The server survives.
			h.backend.panicMsg, h.backend.err = "", nil
			if ok := h.do(t, "POST", oaChat, nil, chatBody("")); ok.StatusCode != 200 {
				t.Errorf("after %s: %d", tc.name, ok.StatusCode)
			}
		})
	}
}

func TestBothMaxTokens(t *testing.T) {
	h := newHarness(t, nil)
	resp := h.do(t, "POST", oaChat, nil, chatBody(`"max_tokens":10,"max_completion_tokens":20`))
	readAll(t, resp)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	h.backend.mu.Lock()
	defer h.backend.mu.Unlock()
	if got := h.backend.chatReqs[0].MaxOutputTokens(); got != 20 {
		t.Errorf("MaxOutputTokens = %d, want max_completion_tokens", got)
	}
}
