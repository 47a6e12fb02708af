package testenv_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/azure"
	"github.com/openai/openai-go/v3/option"

	"github.com/cerulean-ai/cerulean/api"
	"github.com/cerulean-ai/cerulean/internal/fakeopenai"
	"github.com/cerulean-ai/cerulean/internal/testenv"
)

// clients are the three ways a user points an official SDK at Cerulean.
func clients(e *testenv.Env, key string) map[string]openai.Client {
	return map[string]openai.Client{
		"azure": openai.NewClient(azure.WithEndpoint(e.URL, "2024-10-21"), azure.WithAPIKey(key),
			azure.WithUnsafeAllowHTTP(), option.WithMaxRetries(0)),
		"openai": openai.NewClient(option.WithBaseURL(e.URL+"/v1"), option.WithAPIKey(key), option.WithMaxRetries(0)),
		"azure-v1": openai.NewClient(option.WithBaseURL(e.URL+"/openai/v1"), option.WithAPIKey(key),
			option.WithMaxRetries(0)),
	}
}

func TestOfficialSDK(t *testing.T) {
	e := testenv.New(t)
	e.Deploy(t, "chat")
	ctx := context.Background()
	for name, c := range clients(e, e.Key1) {
		t.Run(name, func(t *testing.T) {
			t.Run("chat", func(t *testing.T) {
				r, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
					Model:    "chat",
					Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("Hello there")},
				})
				if err != nil {
					t.Fatal(err)
				}
				if got, want := r.Choices[0].Message.Content, "You said: Hello there"; got != want {
					t.Errorf("content = %q, want %q", got, want)
				}
				if r.Choices[0].FinishReason != "stop" || r.Usage.CompletionTokens != 4 || r.Usage.TotalTokens != r.Usage.PromptTokens+4 {
					t.Errorf("finish %q usage %+v", r.Choices[0].FinishReason, r.Usage)
				}
				if r.Model != "upstream-chat" {
					t.Errorf("model = %q, want the upstream model's name", r.Model)
				}
			})
			t.Run("stream", func(t *testing.T) {
				s := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
					Model:         "chat",
					Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("one two three")},
					StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
				})
				var text strings.Builder
				var usage openai.CompletionUsage
				chunks := 0
				for s.Next() {
					ch := s.Current()
					chunks++
					if len(ch.Choices) > 0 {
						text.WriteString(ch.Choices[0].Delta.Content)
					}
					if ch.Usage.TotalTokens > 0 {
						usage = ch.Usage
					}
				}
				if err := s.Err(); err != nil {
					t.Fatal(err)
				}
				if got, want := text.String(), "You said: one two three"; got != want {
					t.Errorf("streamed text = %q, want %q", got, want)
				}
				if usage.CompletionTokens != 5 || usage.PromptTokens != 3 {
					t.Errorf("usage = %+v, want 3 prompt and 5 completion tokens", usage)
				}
				if chunks < 5 {
					t.Errorf("%d chunks: the answer was not streamed word by word", chunks)
				}
			})
			t.Run("completions", func(t *testing.T) {
				r, err := c.Completions.New(ctx, openai.CompletionNewParams{
					Model:     "chat",
					Prompt:    openai.CompletionNewParamsPromptUnion{OfString: openai.String("Once upon")},
					MaxTokens: openai.Int(2),
				})
				if err != nil {
					t.Fatal(err)
				}
				if got := r.Choices[0].Text; got != "You said:" || r.Choices[0].FinishReason != "length" {
					t.Errorf("text %q finish %q, want \"You said:\" cut by length", got, r.Choices[0].FinishReason)
				}
			})
			t.Run("embeddings", func(t *testing.T) {
				r, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{
					Model: "chat",
					Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a b", "c"}},
				})
				if err != nil {
					t.Fatal(err)
				}
				if len(r.Data) != 2 || len(r.Data[0].Embedding) != fakeopenai.DefaultDimensions || r.Usage.PromptTokens != 3 {
					t.Errorf("got %d vectors of %d, usage %+v", len(r.Data), len(r.Data[0].Embedding), r.Usage)
				}
			})
			t.Run("bad key", func(t *testing.T) {
				bad := clients(e, strings.Repeat("0", 64))[name]
				_, err := bad.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat",
					Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
				var apiErr *openai.Error
				if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized {
					t.Fatalf("err = %v, want a 401", err)
				}
			})
			t.Run("unknown deployment", func(t *testing.T) {
				_, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "nope",
					Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
				var apiErr *openai.Error
				if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound || apiErr.Code != "DeploymentNotFound" {
					t.Fatalf("err = %v, want 404 DeploymentNotFound", err)
				}
			})
		})
	}
}

// TestUpstreamSeesDeploymentModel checks that the upstream gets its own
// model name and that the gateway asks it for usage on streams.
func TestUpstreamSeesDeploymentModel(t *testing.T) {
	e := testenv.New(t)
	e.Deploy(t, "chat")
	c := clients(e, e.Key2)["openai"]
	s := c.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{Model: "chat",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	for s.Next() {
		if ch := s.Current(); ch.Usage.TotalTokens != 0 {
			t.Errorf("got a usage chunk the client did not ask for: %+v", ch.Usage)
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	req, ok := e.Upstream.LastRequest()
	if !ok {
		t.Fatal("the upstream saw no request")
	}
	if req.Body["model"] != "upstream-chat" {
		t.Errorf("upstream model = %v, want upstream-chat", req.Body["model"])
	}
	so, _ := req.Body["stream_options"].(map[string]any)
	if so["include_usage"] != true {
		t.Errorf("stream_options = %v, want include_usage true", req.Body["stream_options"])
	}
}

func TestKeyRotation(t *testing.T) {
	e := testenv.New(t)
	e.Deploy(t, "chat")
	ctx := context.Background()
	call := func(key string) error {
		c := clients(e, key)["azure"]
		_, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
		return err
	}
	if err := call(e.Key1); err != nil {
		t.Fatalf("key1 before rotation: %v", err)
	}
	keys, err := e.Admin.RegenerateKey(ctx, "default", "key1")
	if err != nil {
		t.Fatal(err)
	}
	if keys.Key1 == e.Key1 || keys.Key2 != e.Key2 {
		t.Fatalf("after regenerating key1: key1 changed %v, key2 kept %v", keys.Key1 != e.Key1, keys.Key2 == e.Key2)
	}
	var apiErr *openai.Error
	if err := call(e.Key1); !errors.As(err, &apiErr) || apiErr.StatusCode != 401 {
		t.Errorf("old key1 after rotation: %v, want 401", err)
	}
	if err := call(e.Key2); err != nil {
		t.Errorf("key2 after rotating key1: %v", err)
	}
	if err := call(keys.Key1); err != nil {
		t.Errorf("new key1: %v", err)
	}
}

// TestKeysReachOnlyTheirProject: a second project's key cannot call the
// first project's deployment.
func TestKeysReachOnlyTheirProject(t *testing.T) {
	e := testenv.New(t)
	e.Deploy(t, "chat")
	ctx := context.Background()
	if _, err := e.Admin.CreateProject(ctx, api.CreateProject{Name: "other"}); err != nil {
		t.Fatal(err)
	}
	keys, err := e.Admin.ListKeys(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	c := clients(e, keys.Key1)["azure"]
	_, err = c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Code != "DeploymentNotFound" {
		t.Errorf("other project's key: %v, want 404 DeploymentNotFound", err)
	}
}

func TestQuotaAcrossCreateUpdateDelete(t *testing.T) {
	e := testenv.New(t)
	ctx := context.Background()
	if _, err := e.Admin.CreateHub(ctx, api.Hub{Name: "small", Quotas: []api.QuotaLimit{{Model: "*", SKU: "Standard", Limit: 30}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Admin.CreateProject(ctx, api.CreateProject{Name: "p1", Hub: "small"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Admin.CreateModel(ctx, api.Model{Name: "m", Versions: []api.ModelVersion{{Format: "upstream",
		Upstream: &api.Upstream{BaseURL: e.Upstream.URL(), Model: "x"}, Capabilities: api.Capabilities{Chat: true}}}}); err != nil {
		t.Fatal(err)
	}
	create := func(name string, capacity int) error {
		_, err := e.Admin.CreateDeployment(ctx, "p1", api.Deployment{Name: name, Model: api.DeploymentModel{Name: "m"}, SKU: api.SKU{Name: "Standard", Capacity: capacity}})
		return err
	}
	if err := create("dep-a", 20); err != nil {
		t.Fatal(err)
	}
	err := create("dep-b", 11)
	var apiErr *api.Error
	if !errors.As(err, &apiErr) || apiErr.Code != "InsufficientQuota" || !strings.Contains(apiErr.Message, "'11'") || !strings.Contains(apiErr.Message, "'10'") {
		t.Fatalf("over quota: %v, want InsufficientQuota naming 11 requested and 10 available", err)
	}
	if err := create("dep-b", 10); err != nil {
		t.Fatalf("exactly the rest: %v", err)
	}
	if _, err := e.Admin.UpdateDeployment(ctx, "p1", "dep-a", api.DeploymentUpdate{Capacity: ptr(21)}); err == nil {
		t.Error("growing beyond the quota succeeded")
	}
	if err := e.Admin.DeleteDeployment(ctx, "p1", "dep-b"); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := e.Admin.WaitDeployment(wctx, "p1", "dep-b"); !api.IsNotFound(err) {
		t.Fatalf("after delete: %v, want not found", err)
	}
	if _, err := e.Admin.UpdateDeployment(ctx, "p1", "dep-a", api.DeploymentUpdate{Capacity: ptr(30)}); err != nil {
		t.Errorf("growing into the released quota: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

// TestShutdownFinishesOpenStream: SIGTERM (context cancel) while a stream
// is open lets it finish, then the server exits cleanly.
func TestShutdownFinishesOpenStream(t *testing.T) {
	e := testenv.NewWith(t, testenv.Options{Upstream: fakeopenai.Options{Behavior: fakeopenai.Behavior{ChunkDelay: 150 * time.Millisecond}}})
	e.Deploy(t, "chat")
	body := `{"messages":[{"role":"user","content":"a b c d e"}],"stream":true}`
	req, _ := http.NewRequest("POST", e.URL+"/openai/deployments/chat/chat/completions?api-version=2024-10-21", strings.NewReader(body))
	req.Header.Set("api-key", e.Key1)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	if _, err := r.ReadString('\n'); err != nil { // the first event is out
		t.Fatal(err)
	}
	stopped := make(chan int, 1)
	go func() { stopped <- e.Stop() }()
	rest, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("stream cut during shutdown: %v", err)
	}
	if !strings.HasSuffix(string(rest), "data: [DONE]\n\n") {
		t.Errorf("stream did not finish with [DONE]: %q", rest)
	}
	var text strings.Builder
	for _, line := range strings.Split(string(rest), "\n") {
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		var ch struct {
			Choices []struct{ Delta struct{ Content string } }
		}
		json.Unmarshal([]byte(data), &ch)
		if len(ch.Choices) > 0 {
			text.WriteString(ch.Choices[0].Delta.Content)
		}
	}
	if !strings.Contains(text.String(), "a b c d e") {
		t.Errorf("streamed text %q is incomplete", text.String())
	}
	if code := <-stopped; code != 0 {
		t.Errorf("exit code %d", code)
	}
	if _, err := http.Get(e.URL + "/healthz"); err == nil {
		t.Error("the server still accepts connections after shutdown")
	}
}

// TestCLIWalkthrough is the README's walkthrough through the CLI.
func TestCLIWalkthrough(t *testing.T) {
	e := testenv.New(t)
	run := func(args ...string) string {
		t.Helper()
		out, errOut, code := e.CLI(t, "", args...)
		if code != 0 {
			t.Fatalf("cerulean %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}
	run("models", "add", "--name", "llama3", "--upstream", e.Upstream.URL(), "--upstream-model", "llama3.2")
	run("deployment", "create", "--project", "default", "--name", "chat", "--model", "llama3", "--sku", "Standard", "--capacity", "10")
	if out := run("chat", "--project", "default", "--deployment", "chat", "Write a haiku"); !strings.Contains(out, "You said: Write a haiku") {
		t.Errorf("chat printed %q", out)
	}
	var keys struct{ Key1, Key2 string }
	if err := json.Unmarshal([]byte(run("keys", "list", "--project", "default", "-o", "json")), &keys); err != nil || keys.Key1 != e.Key1 || keys.Key2 != e.Key2 {
		t.Errorf("keys list -o json = %+v, %v", keys, err)
	}
	_, errOut, code := e.CLI(t, "", "deployment", "create", "--project", "default", "--name", "huge", "--model", "llama3", "--capacity", "100000")
	if code == 0 || !strings.Contains(errOut, "InsufficientQuota") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("over-quota create: exit %d, stderr %q; want one line naming InsufficientQuota", code, errOut)
	}
}
