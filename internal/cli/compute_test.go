package cli

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/cerulean-ai/cerulean/api"
)

// computeServer is a fake of the instance-type routes of one hub.
func computeServer(t *testing.T) *httptest.Server {
	var mu sync.Mutex
	its := []api.InstanceType{{Name: "cpu-2", Threads: 2, MemoryMB: 4096, PricePerHour: 0.1}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/hubs/default/instance-types", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		json.NewEncoder(w).Encode(api.List[api.InstanceType]{Value: its})
	})
	mux.HandleFunc("PUT /api/v1/hubs/default/instance-types/{name}", func(w http.ResponseWriter, r *http.Request) {
		var it api.InstanceType
		json.NewDecoder(r.Body).Decode(&it)
		it.Name = r.PathValue("name")
		mu.Lock()
		its = append(its, it)
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(it)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestHubInstanceTypes(t *testing.T) {
	srv := computeServer(t)
	tests := []struct {
		name     string
		args     []string
		code     int
		contains []string
	}{
		{"list", []string{"hub", "instance-types", "default"}, 0, []string{"NAME", "cpu-2", "4096", "0.1"}},
		{"set", []string{"hub", "instance-types", "default", "--set", "cpu-8", "--threads", "8", "--memory-mb", "16384", "--price", "0.4"}, 0, []string{"cpu-8", "16384", "0.4"}},
		{"listed after set", []string{"hub", "instance-types", "default", "-o", "json"}, 0, []string{`"name": "cpu-8"`, `"threads": 8`}},
		{"set needs sizes", []string{"hub", "instance-types", "default", "--set", "x"}, 2, []string{"--set x needs --threads and --memory-mb"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, srv.URL, "", tt.args...)
			out := res.stdout + res.stderr
			if res.code != tt.code {
				t.Fatalf("exit %d, want %d; output:\n%s", res.code, tt.code, out)
			}
			for _, want := range tt.contains {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}
