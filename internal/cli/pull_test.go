package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/internal/engine/gguf"
	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
	"github.com/cerulean-ai/cerulean/internal/pull"
)

// pullHub serves one small GGUF file the way Hugging Face does: a redirect
// carrying X-Linked-ETag, then the bytes (with Range support).
func pullHub(t *testing.T) (srv *httptest.Server, body []byte, auth *[]string) {
	t.Helper()
	w := gguf.NewWriter(3)
	if err := w.SetKV("general.architecture", "qwen2"); err != nil {
		t.Fatal(err)
	}
	if err := w.AddTensor("token_embd.weight", tensor.F32, []uint64{32, 10}, make([]byte, 32*10*4)); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	body = buf.Bytes()
	sum := sha256.Sum256(body)
	var seen []string
	mux := http.NewServeMux()
	mux.HandleFunc("/Org/Repo-GGUF/resolve/main/model-q8_0.gguf", func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Header.Get("Authorization"))
		w.Header().Set("X-Linked-Etag", `"`+hex.EncodeToString(sum[:])+`"`)
		http.Redirect(w, r, "/cdn/blob", http.StatusFound)
	})
	mux.HandleFunc("/cdn/blob", func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	})
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, body, &seen
}

func TestModelsPull(t *testing.T) {
	srv, body, auth := pullHub(t)
	sum := sha256.Sum256(body)
	data := t.TempDir()
	getenv := env(map[string]string{"CERULEAN_DATA": data, "HF_TOKEN": "hf_secret"})
	path := filepath.Join(data, "models", "Org__Repo-GGUF", "model-q8_0.gguf")

	got, _ := runRecorded(t, getenv, "", "models", "pull", "Org/Repo-GGUF/model-q8_0.gguf", "--endpoint", srv.URL)
	if got.code != 0 {
		t.Fatalf("exit code %d, stderr %q", got.code, got.stderr)
	}
	wantStdout := "Path:          " + path + "\n" +
		"Size:          " + byteSize(int64(len(body))) + " (" + itoa(len(body)) + " bytes)\n" +
		"Architecture:  qwen2\n" +
		"Parameters:    320 (320)\n" +
		"SHA-256:       " + hex.EncodeToString(sum[:]) + "\n" +
		"\nAdd it to the catalog with: cerulean models add " + path + "\n"
	if diff := cmp.Diff(wantStdout, got.stdout); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(got.stderr, "Pulling Org/Repo-GGUF/model-q8_0.gguf (revision main) into "+filepath.Dir(path)+"\n") ||
		!strings.Contains(got.stderr, "100%") {
		t.Errorf("stderr lacks the start line or a final 100%%:\n%s", got.stderr)
	}
	if diff := cmp.Diff([]string{"Bearer hf_secret"}, *auth); diff != "" {
		t.Errorf("Authorization (-want +got):\n%s", diff)
	}

	// Again, as JSON: the file is there, so nothing is downloaded.
	got, _ = runRecorded(t, getenv, "", "models", "pull", "-o", "json", "--endpoint", srv.URL,
		srv.URL+"/Org/Repo-GGUF/blob/main/model-q8_0.gguf")
	if got.code != 0 {
		t.Fatalf("exit code %d, stderr %q", got.code, got.stderr)
	}
	want := pullOutput{Repo: "Org/Repo-GGUF", File: "model-q8_0.gguf", Revision: "main",
		Result: pull.Result{Path: path, Size: int64(len(body)), Architecture: "qwen2", Parameters: 320, Existing: true}}
	if diff := cmp.Diff(want, decodeJSON[pullOutput](t, got.stdout)); diff != "" {
		t.Errorf("JSON (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff("Already downloaded: "+path+"\n", got.stderr); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}
}

func TestModelsPullErrors(t *testing.T) {
	srv, _, _ := pullHub(t)
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantCode   int
		wantStderr string // DIR is the data folder's models folder
	}{
		{
			name: "not found", args: []string{"Org/Repo-GGUF/missing.gguf", "--endpoint", srv.URL}, wantCode: 1,
			wantStderr: "Pulling Org/Repo-GGUF/missing.gguf (revision main) into DIR/Org__Repo-GGUF\n" +
				`Error: pull: Org/Repo-GGUF/missing.gguf not found: no file "missing.gguf" in repository "Org/Repo-GGUF" at revision "main" (HTTP 404 from HOST)` + "\n",
		},
		{
			name: "HF_ENDPOINT and --revision", args: []string{"Org/Repo-GGUF/model-q8_0.gguf", "--revision", "v2"},
			env: map[string]string{"HF_ENDPOINT": srv.URL}, wantCode: 1,
			wantStderr: "Pulling Org/Repo-GGUF/model-q8_0.gguf (revision v2) into DIR/Org__Repo-GGUF\n" +
				`Error: pull: Org/Repo-GGUF/model-q8_0.gguf not found: no file "model-q8_0.gguf" in repository "Org/Repo-GGUF" at revision "v2" (HTTP 404 from HOST)` + "\n",
		},
		{
			name: "bad checksum flag", args: []string{"Org/Repo-GGUF/model-q8_0.gguf", "--endpoint", srv.URL, "--sha256", "abc"}, wantCode: 2,
			wantStderr: "Error: --sha256 \"abc\": want 64 hex digits\nRun 'cerulean models pull --help' for usage.\n",
		},
		{
			name: "no file", args: []string{"Org/Repo-GGUF"}, wantCode: 2,
			wantStderr: "Error: \"Org/Repo-GGUF\": want OWNER/REPO/FILE.gguf, e.g. Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q8_0.gguf\n" +
				"Run 'cerulean models pull --help' for usage.\n",
		},
		{
			name: "escaping path", args: []string{"Org/Repo/../../x.gguf"}, wantCode: 2,
			wantStderr: "Error: pull: file \"../../x.gguf\": want a path inside the repository\nRun 'cerulean models pull --help' for usage.\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := t.TempDir()
			vars := map[string]string{"CERULEAN_DATA": data}
			for k, v := range tt.env {
				vars[k] = v
			}
			got, _ := runRecorded(t, env(vars), "", append([]string{"models", "pull"}, tt.args...)...)
			if got.code != tt.wantCode {
				t.Errorf("exit code = %d, want %d", got.code, tt.wantCode)
			}
			r := strings.NewReplacer("DIR", filepath.Join(data, "models"), "HOST", strings.TrimPrefix(srv.URL, "http://"))
			if diff := cmp.Diff(r.Replace(tt.wantStderr), got.stderr); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParsePullRef(t *testing.T) {
	tests := []struct {
		in      string
		want    pullRef
		wantErr bool
	}{
		{in: "a/b/c.gguf", want: pullRef{repo: "a/b", file: "c.gguf"}},
		{in: "a/b/sub/c.gguf", want: pullRef{repo: "a/b", file: "sub/c.gguf"}},
		{in: "https://huggingface.co/a/b/resolve/v1/c.gguf?download=true", want: pullRef{repo: "a/b", file: "c.gguf", revision: "v1", endpoint: "https://huggingface.co"}},
		{in: "https://hf-mirror.com/a/b/blob/main/d/c.gguf", want: pullRef{repo: "a/b", file: "d/c.gguf", revision: "main", endpoint: "https://hf-mirror.com"}},
		{in: "https://huggingface.co/a/b", wantErr: true},
		{in: "a/b", wantErr: true},
		{in: "a//c.gguf", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parsePullRef(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("parsePullRef(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(pullRef{})); diff != "" {
			t.Errorf("parsePullRef(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}
