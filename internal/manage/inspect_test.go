package manage_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cerulean-ai/cerulean/api"
	"github.com/cerulean-ai/cerulean/internal/catalog"
	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/manage"
)

// TestInspectFillsGGUFVersions: the engine's reading of a GGUF file fills
// what the client left out, and its refusal reaches the client.
func TestInspectFillsGGUFVersions(t *testing.T) {
	var seen []string
	a := manage.New(manage.Deps{Store: newFakeStore(), AdminToken: adminToken,
		Inspect: func(ctx context.Context, v *catalog.Version) error {
			seen = append(seen, v.File)
			if v.File == "/bad.gguf" {
				return fault.Param("file", "invalidPayload", "/bad.gguf is not a GGUF file")
			}
			v.Capabilities = catalog.Capabilities{Chat: true, Completion: true, Embeddings: true}
			v.ContextLength = 2048
			return nil
		}})
	mux := http.NewServeMux()
	a.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := api.New(srv.URL, adminToken)
	ctx := context.Background()

	m, err := c.CreateModel(ctx, api.Model{Name: "tiny", Versions: []api.ModelVersion{{Format: "gguf", File: "/m.gguf"}}})
	if err != nil {
		t.Fatal(err)
	}
	v := m.Versions[0]
	if !v.Capabilities.Chat || !v.Capabilities.Embeddings || v.ContextLength != 2048 {
		t.Errorf("version = %+v, want capabilities and context length from the file", v)
	}
	_, err = c.CreateModel(ctx, api.Model{Name: "bad", Versions: []api.ModelVersion{{Format: "gguf", File: "/bad.gguf"}}})
	var apiErr *api.Error
	if !errors.As(err, &apiErr) || apiErr.Status != 400 || apiErr.Target != "file" {
		t.Errorf("bad file: %v, want a 400 on file", err)
	}
	if _, err := c.CreateModel(ctx, api.Model{Name: "up", Versions: []api.ModelVersion{{Format: "upstream",
		Upstream: &api.Upstream{BaseURL: "http://h/v1", Model: "m"}, Capabilities: api.Capabilities{Chat: true}}}}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 {
		t.Errorf("Inspect saw %v; want only the two GGUF versions", seen)
	}
}
