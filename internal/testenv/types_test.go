package testenv_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"

	"github.com/cerulean-ai/cerulean/api"
	"github.com/cerulean-ai/cerulean/internal/testenv"
)

// TestManagedCompute: a ManagedCompute deployment of the demo model runs
// as dedicated worker processes; it answers through the gateway, reports
// its replicas in /metrics, scales to 0 (503 with a clear message) and
// back.
func TestManagedCompute(t *testing.T) {
	e := testenv.New(t)
	ctx := context.Background()
	if _, err := e.Admin.CreateDeployment(ctx, "default", api.Deployment{Name: "dedicated", Model: api.DeploymentModel{Name: "demo"},
		SKU: api.SKU{Name: "ManagedCompute", Capacity: 1}, InstanceType: "cpu-2"}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	d, err := e.Admin.WaitDeployment(wctx, "default", "dedicated")
	if err != nil || d.ProvisioningState != "Succeeded" {
		t.Fatalf("deployment %+v, %v", d, err)
	}
	c := clients(e, e.Key1)["openai"]
	chat := func() error {
		_, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "dedicated", MaxTokens: openai.Int(3),
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
		return err
	}
	if err := chat(); err != nil {
		t.Fatalf("chat on a replica: %v", err)
	}
	if m := scrape(t, e); !strings.Contains(m, `cerulean_replicas{deployment="dedicated"`) || !strings.Contains(m, `state="ready"} 1`) {
		t.Errorf("/metrics lacks one ready replica of dedicated")
	}

	if _, err := e.Admin.UpdateDeployment(ctx, "default", "dedicated", api.DeploymentUpdate{Capacity: ptr(0)}); err != nil {
		t.Fatal(err)
	}
	var apiErr *openai.Error
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := chat()
		if errors.As(err, &apiErr) && apiErr.StatusCode == 503 && strings.Contains(apiErr.Message, "scaled to 0 replicas") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("at capacity 0: %v, want 503 naming the scale", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, err := e.Admin.UpdateDeployment(ctx, "default", "dedicated", api.DeploymentUpdate{Capacity: ptr(1)}); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(60 * time.Second)
	for err := chat(); err != nil; err = chat() {
		if time.Now().After(deadline) {
			t.Fatalf("after scaling back to 1: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestProvisionedUtilizationHeader: a ProvisionedManaged deployment reports
// its utilization on every response.
func TestProvisionedUtilizationHeader(t *testing.T) {
	e := testenv.New(t)
	e.Deploy(t, "chat")
	ctx := context.Background()
	if _, err := e.Admin.CreateDeployment(ctx, "default", api.Deployment{Name: "ptu", Model: api.DeploymentModel{Name: "fake-chat"},
		SKU: api.SKU{Name: "ProvisionedManaged", Capacity: 50}}); err != nil {
		t.Fatal(err)
	}
	if d, err := e.Admin.WaitDeployment(ctx, "default", "ptu"); err != nil || d.ProvisioningState != "Succeeded" {
		t.Fatalf("deployment %+v, %v", d, err)
	}
	req, _ := http.NewRequest("POST", e.URL+"/openai/deployments/ptu/chat/completions?api-version=2024-10-21",
		strings.NewReader(`{"messages":[{"role":"user","content":"hi"}],"max_tokens":5}`))
	req.Header.Set("api-key", e.Key1)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasSuffix(resp.Header.Get("azure-openai-deployment-utilization"), "%") {
		t.Errorf("status %d, utilization header %q", resp.StatusCode, resp.Header.Get("azure-openai-deployment-utilization"))
	}
	if m := scrape(t, e); !strings.Contains(m, `cerulean_ptu_utilization_ratio{deployment="ptu"`) {
		t.Errorf("/metrics lacks the PTU utilization of ptu")
	}
}

func scrape(t *testing.T, e *testenv.Env) string {
	t.Helper()
	resp, err := http.Get(e.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
