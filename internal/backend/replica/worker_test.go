package replica_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cerulean-ai/cerulean/internal/backend/replica"
)

// startWorker runs a Worker in this process and returns its base URL and
// a function that stops it and returns Run's error.
func startWorker(t *testing.T, model string) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	w := replica.NewWorker(replica.WorkerOptions{Model: model, Threads: 1, Key: "secret", Out: pw, Logger: testLogger(t)})
	done := make(chan error, 1)
	go func() {
		err := w.Run(ctx)
		pw.Close()
		done <- err
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("worker printed no line: %v (Run: %v)", err, <-done)
	}
	go io.Copy(io.Discard, pr)
	if !strings.HasPrefix(line, replica.ListeningPrefix+"http://127.0.0.1:") {
		t.Fatalf("worker printed %q", line)
	}
	url := strings.TrimSpace(strings.TrimPrefix(line, replica.ListeningPrefix))
	stop := func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			t.Fatal("worker did not stop")
			return nil
		}
	}
	return url, stop
}

func post(t *testing.T, url, key, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("content-type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestWorkerRoutes(t *testing.T) {
	testWorker(t, tinyModel(t))
}

func TestWorkerStories260K(t *testing.T) {
	const path = "../../../../shared/testdata/models/stories260K.gguf"
	if _, err := os.Stat(path); err != nil {
		t.Skipf("stories260K is absent (%v): the test data folder ../shared/testdata is not here", err)
	}
	testWorker(t, path)
}

func testWorker(t *testing.T, model string) {
	url, stop := startWorker(t, model)
	tests := []struct {
		name, path, key, body string
		status                int
		want                  string
	}{
		{"chat", "/v1/chat/completions", "secret", `{"model":"model","messages":[{"role":"user","content":"Hello"}],"max_tokens":4}`, 200, `"chat.completion"`},
		{"any model name", "/v1/chat/completions", "secret", `{"model":"whatever","messages":[{"role":"user","content":"Hello"}],"max_tokens":2}`, 200, `"chat.completion"`},
		{"stream", "/v1/chat/completions", "secret", `{"model":"model","messages":[{"role":"user","content":"Hi"}],"max_tokens":3,"stream":true}`, 200, "data: [DONE]"},
		{"completions", "/v1/completions", "secret", `{"model":"model","prompt":"Once upon","max_tokens":3}`, 200, `"text_completion"`},
		{"embeddings", "/v1/embeddings", "secret", `{"model":"model","input":"hello"}`, 200, `"embedding"`},
		{"wrong key", "/v1/chat/completions", "nope", `{"model":"model","messages":[{"role":"user","content":"Hello"}]}`, 401, "invalid_api_key"},
		{"no key", "/v1/chat/completions", "", `{"model":"model","messages":[{"role":"user","content":"Hello"}]}`, 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := post(t, url+tt.path, tt.key, tt.body)
			if status != tt.status || !strings.Contains(body, tt.want) {
				t.Errorf("POST %s = %d %s, want %d with %s", tt.path, status, body, tt.status, tt.want)
			}
		})
	}
	req, _ := http.NewRequest(http.MethodGet, url+"/v1/models", nil)
	req.Header.Set("Authorization", "Bearer secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var models struct {
		Data []struct{ ID string } `json:"data"`
	}
	json.NewDecoder(resp.Body).Decode(&models)
	resp.Body.Close()
	if len(models.Data) != 1 || models.Data[0].ID != replica.Model {
		t.Errorf("/v1/models = %+v, want [%s]", models.Data, replica.Model)
	}
	hresp, err := http.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	hresp.Body.Close()
	if hresp.StatusCode != http.StatusOK {
		t.Errorf("/healthz = %d", hresp.StatusCode)
	}
	if err := stop(); err != nil {
		t.Errorf("Run after drain = %v, want nil", err)
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Error("the worker still answers after it stopped")
	}
}

func TestWorkerRefusesToStart(t *testing.T) {
	tests := []struct {
		name string
		o    replica.WorkerOptions
		want string
	}{
		{"no model", replica.WorkerOptions{Key: "k"}, "no model"},
		{"no key", replica.WorkerOptions{Model: "x.gguf"}, replica.KeyEnv},
		{"missing file", replica.WorkerOptions{Model: "/nowhere/x.gguf", Key: "k"}, "/nowhere/x.gguf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := replica.NewWorker(tt.o).Run(t.Context())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run = %v, want an error naming %q", err, tt.want)
			}
		})
	}
}
