package replica_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cerulean-ai/cerulean/internal/backend/replica"
	"github.com/cerulean-ai/cerulean/internal/engine/synth"
	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
)

// The test binary doubles as the worker the supervisor starts: with
// workerModeEnv set, TestMain runs a worker instead of the tests.
const (
	workerModeEnv = "REPLICA_TEST_WORKER" // "engine", "fake" or "fail"
	delayEnv      = "REPLICA_TEST_DELAY"  // fake: time each chat request takes
	healthFileEnv = "REPLICA_TEST_SICK"   // fake: /healthz fails while this file exists
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(workerModeEnv); mode != "" {
		os.Exit(runTestWorker(mode, os.Args[1:]))
	}
	os.Exit(m.Run())
}

// runTestWorker is a worker process: the real one ("engine"), a fake that
// answers chat requests with its pid ("fake"), or one that fails to start
// ("fail").
func runTestWorker(mode string, args []string) int {
	if len(args) == 0 || args[0] != "worker" {
		fmt.Fprintf(os.Stderr, "test worker: want args starting with worker, got %q\n", args)
		return 2
	}
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	model := fs.String("model", "", "")
	addr := fs.String("addr", "127.0.0.1:0", "")
	threads := fs.Int("threads", 0, "")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	key := os.Getenv(replica.KeyEnv)
	switch mode {
	case "engine":
		w := replica.NewWorker(replica.WorkerOptions{Model: *model, Addr: *addr, Threads: *threads, Key: key,
			Out: os.Stdout, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
		if err := w.Run(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "Error:", err)
			return 1
		}
		return 0
	case "fail":
		fmt.Fprintln(os.Stderr, "Error: worker: load /nowhere.gguf: no such file")
		return 1
	case "fake":
		return fakeWorker(ctx, *addr, key)
	}
	return 2
}

// fakeWorker serves /healthz and a chat completion that names its pid.
func fakeWorker(ctx context.Context, addr, key string) int {
	delay, _ := time.ParseDuration(os.Getenv(delayEnv))
	sick := os.Getenv(healthFileEnv)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if sick != "" {
			if _, err := os.Stat(sick); err == nil {
				http.Error(w, "sick", http.StatusInternalServerError)
				return
			}
		}
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+key {
			http.Error(w, `{"error":{"message":"bad key","type":"invalid_request_error","code":"invalid_api_key"}}`, http.StatusUnauthorized)
			return
		}
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("content-type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "model",
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
				"message": map[string]any{"role": "assistant", "content": fmt.Sprintf("pid=%d", os.Getpid())}}},
			"usage": map[string]any{"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
		})
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		return 1
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	fmt.Printf("%shttp://%s\n", replica.ListeningPrefix, ln.Addr())
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	return 0
}

// tinyModel writes a tiny random-weight model with the byte vocabulary.
func tinyModel(t testing.TB) string {
	t.Helper()
	vocab, err := synth.ByteVocab()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := synth.WriteFile(path, synth.Options{Arch: "llama", Shape: "tiny", Type: tensor.Q8_0, Vocab: vocab, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	return path
}

// eventually polls cond until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testLogger logs to the test.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
