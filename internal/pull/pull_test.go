package pull

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/internal/engine/gguf"
	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
)

// model returns a small GGUF file: a llama with 256×512 + 256 weights.
func model(t *testing.T) []byte {
	t.Helper()
	w := gguf.NewWriter(3)
	if err := w.SetKV("general.architecture", "llama"); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 256*512*4)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := w.AddTensor("token_embd.weight", tensor.F32, []uint64{256, 512}, data); err != nil {
		t.Fatal(err)
	}
	if err := w.AddTensor("output_norm.weight", tensor.F32, []uint64{256}, data[:1024]); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// hub is a fake Hugging Face: /owner/name/resolve/main/model.gguf
// redirects to /cdn/model (as the real one redirects to its CDN), which
// serves body.
type hub struct {
	body     []byte
	etag     string // X-Linked-ETag on the redirect, quoted; "" for none
	noRange  bool   // ignore Range headers
	redirect bool
	status   int // answer /resolve/ with this status instead

	mu       sync.Mutex
	ranges   []string // the Range header of each CDN request
	auth     []string // the Authorization header of each resolve request
	midway   func()   // called after the first half of the body is sent, when set
	blockEnd bool     // after midway, wait for the client to go away
}

func (h *hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/owner/name/resolve/main/"):
		h.mu.Lock()
		h.auth = append(h.auth, r.Header.Get("Authorization"))
		h.mu.Unlock()
		if h.status != 0 {
			http.Error(w, "Entry not found", h.status)
			return
		}
		if h.etag != "" {
			w.Header().Set("X-Linked-Etag", h.etag)
		}
		if h.redirect {
			http.Redirect(w, r, "/cdn/model", http.StatusFound)
			return
		}
		h.serve(w, r)
	case r.URL.Path == "/cdn/model":
		h.serve(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (h *hub) serve(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.ranges = append(h.ranges, r.Header.Get("Range"))
	midway, block := h.midway, h.blockEnd
	h.mu.Unlock()
	if midway != nil {
		w.Header().Set("Content-Length", itoa(len(h.body)))
		half := len(h.body) / 2
		w.Write(h.body[:half])
		w.(http.Flusher).Flush()
		midway()
		if block {
			<-r.Context().Done()
			return
		}
		w.Write(h.body[half:])
		return
	}
	if h.noRange {
		w.Header().Set("Content-Length", itoa(len(h.body)))
		w.Write(h.body)
		return
	}
	http.ServeContent(w, r, "model.gguf", time.Time{}, bytes.NewReader(h.body))
}

func itoa(n int) string { return strconv.Itoa(n) }

func options(t *testing.T, srv *httptest.Server) Options {
	return Options{
		Endpoint: srv.URL, Repo: "owner/name", File: "model.gguf", Dir: t.TempDir(),
		Client: srv.Client(),
	}
}

func TestPull(t *testing.T) {
	body := model(t)
	sum := sha(body)
	tests := []struct {
		name        string
		hub         *hub
		partial     []byte // left by an earlier download
		sha256      string
		token       string
		want        Result // Path is checked separately
		wantRanges  []string
		wantAuth    string
		wantErr     string
		wantErrIs   error
		wantPartial bool // the .partial remains after an error
	}{
		{
			name: "redirect with checksum header", hub: &hub{body: body, etag: `"` + sum + `"`, redirect: true},
			want:       Result{Size: int64(len(body)), SHA256: sum, Architecture: "llama", Parameters: 256*512 + 256},
			wantRanges: []string{""},
		},
		{
			name: "direct, token, --sha256 in capitals", hub: &hub{body: body}, token: "hf_x", sha256: strings.ToUpper(sum),
			want:       Result{Size: int64(len(body)), SHA256: sum, Architecture: "llama", Parameters: 256*512 + 256},
			wantRanges: []string{""}, wantAuth: "Bearer hf_x",
		},
		{
			name: "resume with Range", hub: &hub{body: body, etag: `"` + sum + `"`, redirect: true}, partial: body[:1000],
			want:       Result{Size: int64(len(body)), SHA256: sum, Architecture: "llama", Parameters: 256*512 + 256, Resumed: 1000},
			wantRanges: []string{"bytes=1000-"},
		},
		{
			name: "partial already complete", hub: &hub{body: body, etag: `"` + sum + `"`}, partial: body,
			want:       Result{Size: int64(len(body)), SHA256: sum, Architecture: "llama", Parameters: 256*512 + 256, Resumed: int64(len(body))},
			wantRanges: []string{"bytes=" + itoa(len(body)) + "-"},
		},
		{
			name: "server without ranges starts over", hub: &hub{body: body, noRange: true, etag: `"` + sum + `"`},
			partial:    []byte("stale bytes of another file"),
			want:       Result{Size: int64(len(body)), SHA256: sum, Architecture: "llama", Parameters: 256*512 + 256},
			wantRanges: []string{"bytes=27-"},
		},
		{
			name: "header checksum mismatch", hub: &hub{body: body, etag: `"` + strings.Repeat("ab", 32) + `"`, redirect: true},
			wantErr: "pull: owner/name/model.gguf: SHA-256 is " + sum + ", want " + strings.Repeat("ab", 32) +
				" (from the server's X-Linked-ETag); the download was deleted: checksum mismatch",
			wantErrIs: ErrChecksum, wantRanges: []string{""},
		},
		{
			name: "--sha256 mismatch", hub: &hub{body: body}, sha256: strings.Repeat("0", 64),
			wantErr: "pull: owner/name/model.gguf: SHA-256 is " + sum + ", want " + strings.Repeat("0", 64) +
				" (from --sha256); the download was deleted: checksum mismatch",
			wantErrIs: ErrChecksum, wantRanges: []string{""},
		},
		{
			name: "git etag is not a checksum", hub: &hub{body: body, etag: `"0123456789abcdef0123456789abcdef01234567"`},
			want:       Result{Size: int64(len(body)), SHA256: sum, Architecture: "llama", Parameters: 256*512 + 256},
			wantRanges: []string{""},
		},
		{
			name: "not found", hub: &hub{body: body, status: http.StatusNotFound},
			wantErr: `pull: owner/name/model.gguf not found: no file "model.gguf" in repository "owner/name" at revision "main" (HTTP 404 from HOST)`,
		},
		{
			name: "gated", hub: &hub{body: body, status: http.StatusUnauthorized},
			wantErr: "pull: owner/name/model.gguf: access denied (HTTP 401); the repository may be gated or private: " +
				"set HF_TOKEN to a token that can read it: Entry not found",
		},
		{
			name: "not GGUF", hub: &hub{body: []byte("<html>hello</html>")},
			wantErr:    "pull: DIR/owner__name/model.gguf is not a usable GGUF file: gguf: DIR/owner__name/model.gguf: gguf: malformed file: bad magic \"<htm\", not a GGUF file; the file was deleted",
			wantRanges: []string{""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.hub
			srv := httptest.NewServer(h)
			defer srv.Close()
			o := options(t, srv)
			o.SHA256, o.Token = tt.sha256, tt.token
			var prog bytes.Buffer
			o.Progress = &prog
			path, err := o.Path()
			if err != nil {
				t.Fatal(err)
			}
			if tt.partial != nil {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path+".partial", tt.partial, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := Pull(context.Background(), o)
			if diff := cmp.Diff(tt.wantRanges, h.ranges); diff != "" {
				t.Errorf("Range headers (-want +got):\n%s", diff)
			}
			if tt.wantAuth != "" && (len(h.auth) == 0 || h.auth[0] != tt.wantAuth) {
				t.Errorf("Authorization = %q, want %q", h.auth, tt.wantAuth)
			}
			_, perr := os.Stat(path + ".partial")
			if tt.wantErr != "" {
				host := strings.TrimPrefix(srv.URL, "http://")
				want := strings.NewReplacer("DIR", o.Dir, "HOST", host).Replace(tt.wantErr)
				if err == nil || err.Error() != want {
					t.Fatalf("error = %v\nwant    %s", err, want)
				}
				if tt.wantErrIs != nil && !errors.Is(err, tt.wantErrIs) {
					t.Errorf("error is not %v", tt.wantErrIs)
				}
				if (perr == nil) != tt.wantPartial {
					t.Errorf(".partial exists = %v, want %v", perr == nil, tt.wantPartial)
				}
				if _, err := os.Stat(path); err == nil {
					t.Errorf("%s exists after a failed pull", path)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Path = path
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if b, err := os.ReadFile(path); err != nil || !bytes.Equal(b, body) {
				t.Errorf("the saved file differs from the served one (%v)", err)
			}
			if perr == nil {
				t.Error("the .partial is still there")
			}
			if !strings.Contains(prog.String(), "100%") {
				t.Errorf("progress has no final 100%%:\n%s", prog.String())
			}

			again, err := Pull(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if !again.Existing || again.Size != got.Size || again.Parameters != got.Parameters {
				t.Errorf("second pull = %+v, want the existing file described", again)
			}
		})
	}
}

// TestCancelAndResume interrupts a download midway, then resumes it.
func TestCancelAndResume(t *testing.T) {
	body := model(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The server sends half the file and waits; the client cancels once it
	// has written some of it (a clock of 10 s steps draws on every read).
	h := &hub{body: body, etag: `"` + sha(body) + `"`, midway: func() {}, blockEnd: true}
	srv := httptest.NewServer(h)
	defer srv.Close()
	o := options(t, srv)
	path, _ := o.Path()
	o.now = (&clock{step: 10 * time.Second}).now
	o.Progress = writerFunc(func(b []byte) (int, error) {
		cancel()
		return len(b), nil
	})

	_, err := Pull(ctx, o)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want one wrapping context.Canceled", err)
	}
	if !strings.Contains(err.Error(), "run the same command to resume") {
		t.Errorf("error %q does not say how to resume", err)
	}
	st, err := os.Stat(path + ".partial")
	if err != nil {
		t.Fatalf("no partial left for resuming: %v", err)
	}
	if st.Size() == 0 || st.Size() > int64(len(body)/2) {
		t.Errorf("partial of %d bytes, more than the %d sent", st.Size(), len(body)/2)
	}

	h.mu.Lock()
	h.midway = nil
	h.mu.Unlock()
	o.Progress = nil
	res, err := Pull(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Resumed != st.Size() || res.Size != int64(len(body)) {
		t.Errorf("resumed %d of %d bytes, want %d of %d", res.Resumed, res.Size, st.Size(), len(body))
	}
	if want := "bytes=" + itoa(int(st.Size())) + "-"; h.ranges[len(h.ranges)-1] != want {
		t.Errorf("Range = %q, want %q", h.ranges[len(h.ranges)-1], want)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

func TestOptions(t *testing.T) {
	tests := []struct {
		o        Options
		wantURL  string
		wantPath string
		wantErr  string
	}{
		{
			o:        Options{Repo: "Qwen/Qwen2.5-0.5B-Instruct-GGUF", File: "qwen2.5-0.5b-instruct-q8_0.gguf", Dir: "/d"},
			wantURL:  "https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/main/qwen2.5-0.5b-instruct-q8_0.gguf",
			wantPath: "/d/Qwen__Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q8_0.gguf",
		},
		{
			o:        Options{Endpoint: "http://mirror/", Repo: "a/b", File: "sub dir/m#1.gguf", Revision: "v1.0", Dir: "/d"},
			wantURL:  "http://mirror/a/b/resolve/v1.0/sub%20dir/m%231.gguf",
			wantPath: "/d/a__b/sub dir/m#1.gguf",
		},
		{o: Options{Repo: "a", File: "m.gguf"}, wantErr: `pull: repository "a": want OWNER/NAME`},
		{o: Options{Repo: "a/b/c", File: "m.gguf"}, wantErr: `pull: repository "a/b/c": want OWNER/NAME`},
		{o: Options{Repo: "a/b", File: "../m.gguf"}, wantErr: `pull: file "../m.gguf": want a path inside the repository`},
		{o: Options{Repo: "a/b", File: "/m.gguf"}, wantErr: `pull: file "/m.gguf": want a path inside the repository`},
	}
	for _, tt := range tests {
		path, err := tt.o.Path()
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("Path(%+v) error = %v, want %s", tt.o, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if path != filepath.FromSlash(tt.wantPath) {
			t.Errorf("Path = %s, want %s", path, tt.wantPath)
		}
		if got := tt.o.URL(); got != tt.wantURL {
			t.Errorf("URL = %s, want %s", got, tt.wantURL)
		}
	}
}

func TestContentRange(t *testing.T) {
	tests := []struct {
		in           string
		start, total int64
		ok           bool
	}{
		{"bytes 100-199/1000", 100, 1000, true},
		{"bytes 0-0/*", 0, -1, true},
		{"bytes */1000", 0, 1000, true},
		{"items 1-2/3", 0, 0, false},
		{"bytes x-1/2", 0, 0, false},
		{"", 0, 0, false},
	}
	for _, tt := range tests {
		start, total, ok := contentRange(tt.in)
		if start != tt.start || total != tt.total || ok != tt.ok {
			t.Errorf("contentRange(%q) = %d, %d, %v, want %d, %d, %v", tt.in, start, total, ok, tt.start, tt.total, tt.ok)
		}
	}
}
