package replica_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cerulean-ai/cerulean/internal/backend/replica"
	"github.com/cerulean-ai/cerulean/internal/catalog"
	"github.com/cerulean-ai/cerulean/internal/deployment"
	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/inference"
)

var cpu1 = replica.InstanceType{Name: "cpu-1", Threads: 1, MemoryMB: 1024}

// newSupervisor returns a supervisor whose workers are this test binary
// in the given mode, with short intervals.
func newSupervisor(t *testing.T, mode string, env ...string) *replica.Supervisor {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	s, err := replica.New(replica.Options{
		Command:        exe,
		Env:            append([]string{"REPLICA_TEST_WORKER=" + mode}, env...),
		HealthInterval: 50 * time.Millisecond,
		HealthTimeout:  time.Second,
		RestartAfter:   3,
		StartTimeout:   30 * time.Second,
		StopTimeout:    5 * time.Second,
		BackoffMin:     100 * time.Millisecond,
		BackoffMax:     400 * time.Millisecond,
		ReadyWait:      2 * time.Second,
		IdleTimeout:    time.Hour,
		Logger:         testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func managed(name string, capacity int) deployment.Deployment {
	return deployment.Deployment{Project: "p", Name: name, Model: "m", Version: "1", SKU: deployment.ManagedCompute,
		Capacity: capacity, InstanceType: cpu1.Name, State: deployment.Succeeded}
}

func targetOf(d deployment.Deployment) inference.Target {
	return inference.Target{Project: d.Project, Deployment: d.Name, SKU: d.SKU, Model: d.Model, Capacity: d.Capacity,
		Version: catalog.Version{Version: "1", Format: catalog.FormatGGUF, File: "/unused.gguf",
			Capabilities: catalog.Capabilities{Chat: true, Completion: true, Embeddings: true}}}
}

func chatReq(text string) *inference.ChatRequest {
	return &inference.ChatRequest{Model: "x", Messages: []inference.Message{{Role: "user", Content: inference.TextContent(text)}}}
}

// chat sends one chat request and returns the reply's text.
func chat(ctx context.Context, b *replica.Backend, d deployment.Deployment) (string, error) {
	resp, err := b.Chat(ctx, targetOf(d), chatReq("hi"))
	if err != nil {
		return "", err
	}
	return resp.Choices[0].Message.Content.Text, nil
}

func states(rs []replica.ReplicaStatus) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.State)
	}
	return out
}

func allReady(s *replica.Supervisor, d deployment.Deployment, n int) func() bool {
	return func() bool {
		rs := s.Replicas(d.Project, d.Name)
		if len(rs) != n {
			return false
		}
		for _, r := range rs {
			if r.State != replica.Ready {
				return false
			}
		}
		return true
	}
}

func TestEngineReplica(t *testing.T) {
	ctx := t.Context()
	s := newSupervisor(t, "engine")
	d := managed("engine", 1)
	if err := s.Ensure(ctx, d, tinyModel(t), cpu1); err != nil {
		t.Fatal(err)
	}
	rs := s.Replicas("p", "engine")
	if len(rs) != 1 || rs[0].State != replica.Ready || rs[0].PID == 0 || !strings.HasPrefix(rs[0].URL, "http://127.0.0.1:") {
		t.Fatalf("replicas = %+v, want one Ready on 127.0.0.1", rs)
	}
	b := s.Backend()
	max := 4
	resp, err := b.Chat(ctx, targetOf(d), &inference.ChatRequest{Messages: []inference.Message{{Role: "user", Content: inference.TextContent("Hello")}}, MaxTokens: &max})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Usage == nil || resp.Usage.CompletionTokens == 0 || len(resp.Choices) != 1 {
		t.Errorf("chat = %+v, want one choice with usage", resp)
	}
	var chunks int
	if _, err := b.ChatStream(ctx, targetOf(d), &inference.ChatRequest{Messages: []inference.Message{{Role: "user", Content: inference.TextContent("Hi")}}, MaxTokens: &max},
		func(*inference.ChatChunk) error { chunks++; return nil }); err != nil {
		t.Fatal(err)
	}
	if chunks == 0 {
		t.Error("stream sent no chunks")
	}
	emb, err := b.Embed(ctx, targetOf(d), &inference.EmbeddingRequest{Input: inference.Prompt{Texts: []string{"hello"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(emb.Data) != 1 {
		t.Errorf("embeddings = %d vectors, want 1", len(emb.Data))
	}
	if got := s.ReadyCounts(); len(got) != 1 || got[0].Ready != 1 || got[0].Desired != 1 {
		t.Errorf("ReadyCounts = %+v", got)
	}
}

func TestFirstStartFails(t *testing.T) {
	s := newSupervisor(t, "fail")
	err := s.Ensure(t.Context(), managed("broken", 1), "/nowhere.gguf", cpu1)
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("Ensure = %v, want the worker's reason", err)
	}
	if rs := s.Replicas("p", "broken"); len(rs) != 0 {
		t.Errorf("replicas after a failed start = %+v, want none", rs)
	}
}

func TestCrashRestart(t *testing.T) {
	ctx := t.Context()
	s := newSupervisor(t, "fake")
	d := managed("crash", 2)
	if err := s.Ensure(ctx, d, "/m.gguf", cpu1); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "2 Ready replicas", allReady(s, d, 2))
	victim := s.Replicas("p", "crash")[0]
	if err := syscall.Kill(victim.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Requests keep working on the other replica meanwhile.
	sawRestarting := false
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := chat(ctx, s.Backend(), d); err != nil {
			t.Fatalf("chat while a replica restarts: %v", err)
		}
		r := s.Replicas("p", "crash")[0]
		if r.State == replica.Restarting {
			sawRestarting = true
			if !strings.Contains(r.LastError, "killed") {
				t.Errorf("LastError = %q, want the signal", r.LastError)
			}
		}
		if r.State == replica.Ready && r.Restarts == 1 {
			if r.PID == victim.PID {
				t.Errorf("restarted replica has the old pid %d", r.PID)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica not restarted: %+v", r)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !sawRestarting {
		t.Log("did not observe Restarting (the backoff was short)")
	}
}

func TestScaleToZeroAndBack(t *testing.T) {
	ctx := t.Context()
	s := newSupervisor(t, "fake")
	b := s.Backend()
	d := managed("scale", 1)
	if err := s.Ensure(ctx, d, "/m.gguf", cpu1); err != nil {
		t.Fatal(err)
	}
	if _, err := chat(ctx, b, d); err != nil {
		t.Fatal(err)
	}
	d.Capacity = 0
	if err := s.Ensure(ctx, d, "/m.gguf", cpu1); err != nil {
		t.Fatal(err)
	}
	_, err := chat(ctx, b, d)
	f, ok := fault.As(err)
	if !ok || f.Kind != fault.Unavailable || !strings.Contains(f.Message, "scaled to 0 replicas") ||
		!strings.Contains(f.Message, "cerulean deployment update --capacity N") {
		t.Fatalf("chat at 0 replicas = %v, want 503 saying how to scale up", err)
	}
	d.Capacity = 2
	if err := s.Ensure(ctx, d, "/m.gguf", cpu1); err != nil {
		t.Fatal(err)
	}
	if _, err := chat(ctx, b, d); err != nil {
		t.Fatalf("chat after scaling up: %v", err)
	}
	if rs := s.Replicas("p", "scale"); len(rs) != 2 {
		t.Errorf("replicas = %v, want 2", states(rs))
	}
	d.Capacity = 1
	if err := s.Ensure(ctx, d, "/m.gguf", cpu1); err != nil {
		t.Fatal(err)
	}
	if rs := s.Replicas("p", "scale"); len(rs) != 1 {
		t.Errorf("replicas after scaling down = %v, want 1", states(rs))
	}
	pid := s.Replicas("p", "scale")[0].PID
	if err := s.Release(ctx, d); err != nil {
		t.Fatal(err)
	}
	if rs := s.Replicas("p", "scale"); len(rs) != 0 {
		t.Errorf("replicas after Release = %v", states(rs))
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("worker %d still runs after Release", pid)
	}
}

func TestColdStart(t *testing.T) {
	ctx := t.Context()
	s := newSupervisor(t, "fake")
	d := managed("cold", 0)
	d.ScaleToZero = true
	if err := s.Ensure(ctx, d, "/m.gguf", cpu1); err != nil {
		t.Fatal(err)
	}
	if rs := s.Replicas("p", "cold"); len(rs) != 0 {
		t.Fatalf("replicas before the first request = %v", states(rs))
	}
	reqCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := chat(reqCtx, s.Backend(), d); err != nil {
		t.Fatalf("cold start: %v", err)
	}
	rs := s.Replicas("p", "cold")
	if len(rs) != 1 || !rs[0].Cold || rs[0].State != replica.Ready {
		t.Fatalf("replicas after a cold start = %+v, want one cold Ready", rs)
	}
	// Setting a capacity makes the cold replica part of it.
	d.Capacity = 1
	if err := s.Ensure(ctx, d, "/m.gguf", cpu1); err != nil {
		t.Fatal(err)
	}
	if rs := s.Replicas("p", "cold"); len(rs) != 1 || rs[0].Cold {
		t.Errorf("replicas = %+v, want the cold one adopted", rs)
	}
}

func TestColdReplicaStopsWhenIdle(t *testing.T) {
	exe, _ := os.Executable()
	s, err := replica.New(replica.Options{Command: exe, Env: []string{"REPLICA_TEST_WORKER=fake"},
		HealthInterval: 30 * time.Millisecond, IdleTimeout: 200 * time.Millisecond, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d := managed("idle", 0)
	d.ScaleToZero = true
	if err := s.Ensure(t.Context(), d, "/m.gguf", cpu1); err != nil {
		t.Fatal(err)
	}
	if _, err := chat(t.Context(), s.Backend(), d); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the idle cold replica to stop", func() bool { return len(s.Replicas("p", "idle")) == 0 })
}

func TestLeastLoaded(t *testing.T) {
	ctx := t.Context()
	s := newSupervisor(t, "fake", "REPLICA_TEST_DELAY=300ms")
	d := managed("balance", 2)
	if err := s.Ensure(ctx, d, "/m.gguf", cpu1); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "2 Ready replicas", allReady(s, d, 2))
	var mu sync.Mutex
	served := map[string]int{}
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			text, err := chat(ctx, s.Backend(), d)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			served[text]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(served) != 2 {
		t.Fatalf("served by %v, want both replicas", served)
	}
	for who, n := range served {
		if n != 3 {
			t.Errorf("%s served %d of 6 concurrent requests, want 3 (least loaded)", who, n)
		}
	}
}

func TestHealthStates(t *testing.T) {
	ctx := t.Context()
	sick := filepath.Join(t.TempDir(), "sick")
	exe, _ := os.Executable()
	s, err := replica.New(replica.Options{Command: exe, Env: []string{"REPLICA_TEST_WORKER=fake", "REPLICA_TEST_SICK=" + sick},
		HealthInterval: 50 * time.Millisecond, RestartAfter: 1000, ReadyWait: 200 * time.Millisecond,
		BackoffMin: 50 * time.Millisecond, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d := managed("health", 1)
	if err := s.Ensure(ctx, d, "/m.gguf", cpu1); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sick, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "Unhealthy", func() bool { return states(s.Replicas("p", "health"))[0] == replica.Unhealthy })
	_, err = chat(ctx, s.Backend(), d)
	if f, ok := fault.As(err); !ok || f.Kind != fault.Unavailable || !strings.Contains(f.Message, "1 Unhealthy") {
		t.Errorf("chat with an unhealthy replica = %v, want 503 naming its state", err)
	}
	os.Remove(sick)
	eventually(t, 5*time.Second, "Ready again", func() bool { return states(s.Replicas("p", "health"))[0] == replica.Ready })
	if _, err := chat(ctx, s.Backend(), d); err != nil {
		t.Fatal(err)
	}
}

func TestUnhealthyIsRestarted(t *testing.T) {
	ctx := t.Context()
	sick := filepath.Join(t.TempDir(), "sick")
	s := newSupervisor(t, "fake", "REPLICA_TEST_SICK="+sick)
	d := managed("sickly", 1)
	if err := s.Ensure(ctx, d, "/m.gguf", cpu1); err != nil {
		t.Fatal(err)
	}
	first := s.Replicas("p", "sickly")[0]
	os.WriteFile(sick, nil, 0o600)
	eventually(t, 10*time.Second, "a restart", func() bool { return s.Replicas("p", "sickly")[0].Restarts >= 1 })
	os.Remove(sick)
	eventually(t, 10*time.Second, "Ready on a new process", func() bool {
		r := s.Replicas("p", "sickly")[0]
		return r.State == replica.Ready && r.PID != first.PID
	})
}

func TestNoGroup(t *testing.T) {
	s := newSupervisor(t, "fake")
	d := managed("unknown", 0)
	if _, err := chat(t.Context(), s.Backend(), d); fault.KindOf(err) != fault.Unavailable {
		t.Errorf("chat to a deployment with no replicas = %v, want 503", err)
	}
}

func TestSync(t *testing.T) {
	ctx := t.Context()
	var mu sync.Mutex
	ds := []deployment.Deployment{managed("a", 1), managed("b", 0)}
	ds[1].ScaleToZero = true
	exe, _ := os.Executable()
	s, err := replica.New(replica.Options{Command: exe, Env: []string{"REPLICA_TEST_WORKER=fake"},
		HealthInterval: 50 * time.Millisecond, Logger: testLogger(t),
		Resolve: func(_ context.Context, d deployment.Deployment) (string, replica.InstanceType, error) {
			return "/" + d.Name + ".gguf", cpu1, nil
		},
		Deployments: func(context.Context) ([]deployment.Deployment, error) {
			mu.Lock()
			defer mu.Unlock()
			return append([]deployment.Deployment(nil), ds...), nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Replicas("p", "a")); n != 1 {
		t.Errorf("a has %d replicas, want 1", n)
	}
	mu.Lock()
	ds[0].Capacity = 2
	ds = ds[:1] // b deleted
	mu.Unlock()
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Replicas("p", "a")); n != 2 {
		t.Errorf("a has %d replicas after a capacity update, want 2", n)
	}
	if got := s.ReadyCounts(); len(got) != 1 || got[0].Deployment != "a" {
		t.Errorf("ReadyCounts = %+v, want only a", got)
	}
}
