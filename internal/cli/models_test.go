package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/api"
)

func TestModelsAdd(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
		golden     string
		want       *api.Model // what the server holds afterwards
	}{
		{
			name: "every flag",
			args: []string{"--name", "qwen", "--description", "Qwen on vLLM", "--upstream", "http://gpu1:8000/v1/",
				"--upstream-model", "Qwen/Qwen2.5-7B-Instruct", "--upstream-key", "sk-up", "--version", "2024-09",
				"--capabilities", "chat, tools,json_schema", "--context-length", "32768", "--input-price", "0.2",
				"--output-price", "0.6", "--lifecycle", "preview", "--skus", "Standard,ProvisionedManaged"},
			golden: "models_add",
			want: &api.Model{
				Name: "qwen", Description: "Qwen on vLLM", DefaultVersion: "2024-09", CreatedAt: t0, UpdatedAt: t0,
				Versions: []api.ModelVersion{{
					Version: "2024-09", Format: "upstream",
					Upstream:      &api.Upstream{BaseURL: "http://gpu1:8000/v1", Model: "Qwen/Qwen2.5-7B-Instruct", HasAPIKey: true},
					Capabilities:  api.Capabilities{Chat: true, Tools: true, JSONSchema: true},
					ContextLength: 32768, Lifecycle: "preview",
					Prices: api.Prices{InputPer1K: 0.2, OutputPer1K: 0.6}, SKUs: []string{"Standard", "ProvisionedManaged"},
				}},
			},
		},
		{
			name:   "defaults",
			args:   []string{"--name", "tiny", "--upstream", "https://api.example.com/v1", "--upstream-model", "tiny-1"},
			golden: "models_add_defaults",
			want: &api.Model{
				Name: "tiny", DefaultVersion: "1", CreatedAt: t0, UpdatedAt: t0,
				Versions: []api.ModelVersion{{
					Version: "1", Format: "upstream",
					Upstream:     &api.Upstream{BaseURL: "https://api.example.com/v1", Model: "tiny-1"},
					Capabilities: api.Capabilities{Chat: true, Completion: true},
				}},
			},
		},
		{
			name:       "exists",
			args:       []string{"--name", "llama3", "--upstream", "http://h/v1", "--upstream-model", "m"},
			wantCode:   1,
			wantStderr: "Error: A model named 'llama3' already exists. (ModelAlreadyExists)\n",
		},
		{
			name:       "no name",
			args:       []string{"--upstream", "http://h/v1", "--upstream-model", "m"},
			wantCode:   2,
			wantStderr: "Error: required flag(s) \"name\" not set\nRun 'cerulean models add --help' for usage.\n",
		},
		{
			name:       "no upstream",
			args:       []string{"--name", "x"},
			wantCode:   2,
			wantStderr: "Error: --upstream and --upstream-model are required\nRun 'cerulean models add --help' for usage.\n",
		},
		{
			name:       "upstream not a URL",
			args:       []string{"--name", "x", "--upstream", "gpu1:8000", "--upstream-model", "m"},
			wantCode:   2,
			wantStderr: "Error: --upstream \"gpu1:8000\": want an http(s) URL such as http://127.0.0.1:8000/v1\nRun 'cerulean models add --help' for usage.\n",
		},
		{
			name:     "unknown capability",
			args:     []string{"--name", "x", "--upstream", "http://h/v1", "--upstream-model", "m", "--capabilities", "chat,vision"},
			wantCode: 2,
			wantStderr: "Error: --capabilities: unknown \"vision\": want a comma-separated list of chat, completion, embeddings, json_schema, tools, fine-tune\n" +
				"Run 'cerulean models add --help' for usage.\n",
		},
		{
			name:       "bad lifecycle",
			args:       []string{"--name", "x", "--upstream", "http://h/v1", "--upstream-model", "m", "--lifecycle", "beta"},
			wantCode:   2,
			wantStderr: "Error: --lifecycle \"beta\": want preview or generally-available\nRun 'cerulean models add --help' for usage.\n",
		},
		{
			name:       "bad number",
			args:       []string{"--name", "x", "--upstream", "http://h/v1", "--upstream-model", "m", "--context-length", "lots"},
			wantCode:   2,
			wantStderr: "Error: invalid argument \"lots\" for \"--context-length\" flag: strconv.ParseInt: parsing \"lots\": invalid syntax\nRun 'cerulean models add --help' for usage.\n",
		},
		{
			name:     "a file and an upstream",
			args:     []string{"model.gguf", "--upstream", "http://h/v1", "--upstream-model", "m"},
			wantCode: 2,
			wantStderr: "Error: give either FILE.gguf or --upstream, not both\n" +
				"Run 'cerulean models add --help' for usage.\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeServer(t)
			got := run(t, f.URL, "", append([]string{"models", "add"}, tt.args...)...)
			check(t, got, tt.wantCode, tt.wantStderr, tt.golden)
			models := f.state().models
			if tt.want == nil {
				if len(models) != 2 {
					t.Errorf("the catalog has %d models, want the 2 it had", len(models))
				}
				return
			}
			if diff := cmp.Diff(*tt.want, models[len(models)-1]); diff != "" {
				t.Errorf("stored model (-want +got):\n%s", diff)
			}
		})
	}
}

func TestModelsAddFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "stories260K.gguf")
	if err := os.WriteFile(path, []byte("GGUF"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := newFakeServer(t)
	got := run(t, f.URL, "", "models", "add", "-o", "json", path)
	check(t, got, 0, "", "")
	models := f.state().models
	m := models[len(models)-1]
	want := api.ModelVersion{Version: "1", Format: "gguf", File: path}
	if m.Name != "stories260K" || len(m.Versions) != 1 || !cmp.Equal(m.Versions[0], want) {
		t.Errorf("server holds %+v; want name stories260K and version %+v", m, want)
	}

	got = run(t, f.URL, "", "models", "add", filepath.Join(dir, "missing.gguf"))
	if got.code != 1 || !strings.Contains(got.stderr, "missing.gguf") {
		t.Errorf("missing file: exit %d, stderr %q", got.code, got.stderr)
	}
}

func TestModelsAddJSON(t *testing.T) {
	f := newFakeServer(t)
	got := run(t, f.URL, "", "models", "add", "-o", "json", "--name", "tiny", "--upstream", "http://h/v1", "--upstream-model", "m")
	check(t, got, 0, "", "")
	models := f.state().models
	if diff := cmp.Diff(models[len(models)-1], decodeJSON[api.Model](t, got.stdout)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestModelsDelete(t *testing.T) {
	f := newFakeServer(t)
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
		wantLeft   []string
	}{
		{
			name: "in use", args: []string{"llama3"}, wantCode: 1,
			wantStderr: "Error: The model 'llama3' is deployed; delete its deployments first. (ModelInUse)\n",
			wantLeft:   []string{"llama3", "minilm"},
		},
		{name: "deleted", args: []string{"minilm"}, wantStdout: "Deleted model minilm.\n", wantLeft: []string{"llama3"}},
		{name: "json prints nothing", args: []string{"-o", "json", "minilm"}, wantCode: 1,
			wantStderr: "Error: The model 'minilm' does not exist. (ModelNotFound)\n", wantLeft: []string{"llama3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, f.URL, "", append([]string{"models", "delete"}, tt.args...)...)
			check(t, got, tt.wantCode, tt.wantStderr, "")
			if got.stdout != tt.wantStdout {
				t.Errorf("stdout = %q, want %q", got.stdout, tt.wantStdout)
			}
			var left []string
			for _, m := range f.state().models {
				left = append(left, m.Name)
			}
			if diff := cmp.Diff(tt.wantLeft, left); diff != "" {
				t.Errorf("catalog (-want +got):\n%s", diff)
			}
		})
	}
}
