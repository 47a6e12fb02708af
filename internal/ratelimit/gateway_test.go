package ratelimit_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/internal/catalog"
	"github.com/cerulean-ai/cerulean/internal/deployment"
	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/gateway"
	"github.com/cerulean-ai/cerulean/internal/inference"
	"github.com/cerulean-ai/cerulean/internal/ratelimit"
)

const apiKey = "test-key"

// directory knows one key of project "p" and its deployments by name.
type directory struct{ targets map[string]inference.Target }

func (d directory) Authenticate(_ context.Context, key string) (gateway.Caller, error) {
	if key != apiKey {
		return gateway.Caller{}, fault.New(fault.Unauthorized, "invalid_api_key", "unknown key")
	}
	return gateway.Caller{Project: "p", KeyID: "k1"}, nil
}

func (d directory) Resolve(_ context.Context, project, name string) (inference.Target, error) {
	t, ok := d.targets[name]
	if !ok || project != "p" {
		return inference.Target{}, fault.New(fault.NotFound, "DeploymentNotFound", "no deployment %s", name)
	}
	return t, nil
}

func (d directory) Deployments(context.Context, string) ([]deployment.Deployment, error) {
	return nil, nil
}

// backend answers every chat with a 20-token prompt and a completion as
// long as max_tokens allows.
type backend struct{}

func (backend) Chat(_ context.Context, _ inference.Target, req *inference.ChatRequest) (*inference.ChatCompletion, error) {
	n := req.MaxOutputTokens()
	return &inference.ChatCompletion{ID: "chatcmpl-1", Object: "chat.completion", Model: "m",
		Choices: []inference.ChatChoice{{FinishReason: "length", Message: inference.Message{Role: "assistant", Content: inference.TextContent("hi")}}},
		Usage:   &inference.Usage{PromptTokens: 20, CompletionTokens: n, TotalTokens: 20 + n}}, nil
}

func (backend) ChatStream(context.Context, inference.Target, *inference.ChatRequest, func(*inference.ChatChunk) error) (*inference.Usage, error) {
	return nil, fault.New(fault.Invalid, "unsupported", "not in this test")
}

func (backend) Complete(context.Context, inference.Target, *inference.CompletionRequest) (*inference.Completion, error) {
	return nil, fault.New(fault.Invalid, "unsupported", "not in this test")
}

func (backend) CompleteStream(context.Context, inference.Target, *inference.CompletionRequest, func(*inference.Completion) error) (*inference.Usage, error) {
	return nil, fault.New(fault.Invalid, "unsupported", "not in this test")
}

func (backend) Embed(context.Context, inference.Target, *inference.EmbeddingRequest) (*inference.EmbeddingList, error) {
	return nil, fault.New(fault.Invalid, "unsupported", "not in this test")
}

// clock is a settable clock shared by the gateway and the admitter.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// reply is what a client sees of one response.
type reply struct {
	Status  int
	Headers map[string]string
	Code    string
	Message string
}

var shown = []string{"retry-after", "retry-after-ms", "x-ratelimit-remaining-requests", "x-ratelimit-remaining-tokens", "azure-openai-deployment-utilization"}

func post(t *testing.T, url, deploymentName string, maxTokens int) reply {
	t.Helper()
	body := `{"messages":[{"role":"user","content":"hello there, how are you?"}],"max_tokens":` + strconv.Itoa(maxTokens) + `}`
	req, err := http.NewRequest(http.MethodPost, url+"/openai/deployments/"+deploymentName+"/chat/completions?api-version=2024-10-21", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("api-key", apiKey)
	req.Header.Set("content-type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := reply{Status: resp.StatusCode, Headers: map[string]string{}}
	for _, h := range shown {
		if v := resp.Header.Get(h); v != "" {
			r.Headers[h] = v
		}
	}
	if resp.StatusCode != http.StatusOK {
		var env struct {
			Error struct{ Code, Message string }
		}
		if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
			t.Fatal(err)
		}
		r.Code, r.Message = env.Error.Code, env.Error.Message
	}
	return r
}

func TestThroughGateway(t *testing.T) {
	version := catalog.Version{Version: "1", ContextLength: 4096, Capabilities: catalog.Capabilities{Chat: true},
		PTU: &catalog.PTUSpec{Minimum: 1, Step: 1, InputTPMPerPTU: 1000, OutputTokenWeight: 4}}
	dir := directory{targets: map[string]inference.Target{
		"std": {Project: "p", Deployment: "std", SKU: "Standard", Model: "m", Version: version, Capacity: 1},
		"ptu": {Project: "p", Deployment: "ptu", SKU: "ProvisionedManaged", Model: "m", Version: version, Capacity: 1},
		"mc":  {Project: "p", Deployment: "mc", SKU: "ManagedCompute", Model: "m", Version: version, Capacity: 1},
	}}
	c := &clock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	adm := ratelimit.New(ratelimit.Config{Now: c.Now})
	g := gateway.New(gateway.Deps{Directory: dir, Now: c.Now, Admit: adm,
		Backend: func(inference.Target) (gateway.Backend, error) {
			return backend{}, nil
		}})
	mux := http.NewServeMux()
	g.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	callLimit := "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded call rate limit of your current OpenAI S0 pricing tier. Please retry after 10 seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit."
	tokenLimit := "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after 30 seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit."
	ptuLimit := "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded the provisioned throughput of this deployment (utilization 164.0%). Please retry after 39 seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the provisioned throughput."
	type call struct {
		after      time.Duration
		deployment string
		maxTokens  int
		want       reply
	}
	h := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	ms := time.Millisecond
	// Standard capacity 1: 1 request per 10 s and 1,000 tokens per minute.
	// The gateway estimates the prompt at 11 tokens; the backend uses 20
	// plus max_tokens.
	calls := []call{
		{0, "std", 800, reply{Status: 200, Headers: h("x-ratelimit-remaining-requests", "0", "x-ratelimit-remaining-tokens", "189")}},
		{1000 * ms, "std", 800, reply{Status: 429, Code: "429", Message: callLimit,
			Headers: h("retry-after", "10", "retry-after-ms", "9100", "x-ratelimit-remaining-requests", "0", "x-ratelimit-remaining-tokens", "180")}},
		{9100 * ms, "std", 100, reply{Status: 200, Headers: h("x-ratelimit-remaining-requests", "0", "x-ratelimit-remaining-tokens", "69")}},
		{10100 * ms, "std", 100, reply{Status: 200, Headers: h("x-ratelimit-remaining-requests", "0", "x-ratelimit-remaining-tokens", "0")}},
		// 1,060 tokens used in the minute: wait until the first 820 leave it
		{10100 * ms, "std", 10, reply{Status: 429, Code: "429", Message: tokenLimit,
			Headers: h("retry-after", "30", "retry-after-ms", "29950", "x-ratelimit-remaining-requests", "1", "x-ratelimit-remaining-tokens", "0")}},
		{29950 * ms, "std", 10, reply{Status: 200, Headers: h("x-ratelimit-remaining-requests", "0", "x-ratelimit-remaining-tokens", "739")}},
		// 1 PTU = 1,000 tokens per minute; an output token weighs 4.
		{0, "ptu", 200, reply{Status: 200, Headers: h("azure-openai-deployment-utilization", "81.1%")}},
		{0, "ptu", 200, reply{Status: 200, Headers: h("azure-openai-deployment-utilization", "163.1%")}},
		{0, "ptu", 200, reply{Status: 429, Code: "429", Message: ptuLimit,
			Headers: h("retry-after", "39", "retry-after-ms", "38400", "azure-openai-deployment-utilization", "164.0%")}},
		{38400 * ms, "ptu", 10, reply{Status: 200, Headers: h("azure-openai-deployment-utilization", "105.1%")}},
		{0, "mc", 100000, reply{Status: 200, Headers: h()}},
	}
	for i, cl := range calls {
		c.Add(cl.after)
		got := post(t, srv.URL, cl.deployment, cl.maxTokens)
		if diff := cmp.Diff(cl.want, got); diff != "" {
			t.Errorf("call %d to %s (-want +got):\n%s", i, cl.deployment, diff)
		}
	}
}
