package replica_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/cerulean-ai/cerulean/internal/backend/replica"
	"github.com/cerulean-ai/cerulean/internal/deployment"
	"github.com/cerulean-ai/cerulean/internal/fault"
)

const ns = "models"

func newKube(t *testing.T, serviceURL func(ns, svc string) string) (*replica.Kube, *fake.Clientset) {
	t.Helper()
	c := fake.NewClientset()
	k, err := replica.NewKube(replica.KubeOptions{Client: c, Namespace: ns, Image: "cerulean:test", Key: "k8s-secret",
		ServiceURL: serviceURL, PollInterval: 10 * time.Millisecond, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	return k, c
}

func TestObjectName(t *testing.T) {
	tests := []struct {
		project, name, want string
	}{
		{"p", "chat", "cw-p-chat"},
		{"P", "chat", "cw-p-chat-"},                 // changed: hashed
		{"p", "my_model.v1", "cw-p-my-model-v1-"},   // changed: hashed
		{"p", strings.Repeat("x", 64), "cw-p-xxxx"}, // cut: hashed
	}
	for _, tt := range tests {
		got := replica.ObjectName(tt.project, tt.name)
		if !strings.HasPrefix(got, tt.want) || len(got) > 63 {
			t.Errorf("ObjectName(%q, %q) = %q, want %q...", tt.project, tt.name, got, tt.want)
		}
	}
	if replica.ObjectName("P", "chat") == replica.ObjectName("p", "chat") {
		t.Error("distinct deployments share a name")
	}
}

func TestKubeLifecycle(t *testing.T) {
	ctx := t.Context()
	k, c := newKube(t, nil)
	d := managed("chat", 2)
	it := replica.InstanceType{Name: "cpu-4", Threads: 4, MemoryMB: 8192}
	if err := k.Ensure(ctx, d, "/data/models/m.gguf", it); err != nil {
		t.Fatal(err)
	}
	name := replica.ObjectName("p", "chat")
	dep, err := c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *dep.Spec.Replicas != 2 {
		t.Errorf("replicas = %d, want 2", *dep.Spec.Replicas)
	}
	ctr := dep.Spec.Template.Spec.Containers[0]
	wantArgs := []string{"worker", "--model", "/data/models/m.gguf", "--addr", "0.0.0.0:8080", "--threads", "4"}
	if ctr.Image != "cerulean:test" || !slices.Equal(ctr.Args, wantArgs) {
		t.Errorf("container %s %v, want cerulean:test %v", ctr.Image, ctr.Args, wantArgs)
	}
	if cpu, mem := ctr.Resources.Limits.Cpu().Value(), ctr.Resources.Limits.Memory().Value(); cpu != 4 || mem != 8192<<20 {
		t.Errorf("limits cpu %d memory %d, want 4 and 8Gi", cpu, mem)
	}
	if ctr.Env[0].Name != replica.KeyEnv || ctr.Env[0].ValueFrom.SecretKeyRef == nil {
		t.Errorf("env = %+v, want the key from a Secret", ctr.Env)
	}
	if ctr.ReadinessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("readiness probe = %+v", ctr.ReadinessProbe)
	}
	sec, err := c.CoreV1().Secrets(ns).Get(ctx, "cerulean-worker-key", metav1.GetOptions{})
	if err != nil || string(sec.Data["key"]) != "k8s-secret" {
		t.Errorf("key secret = %v, %v", sec, err)
	}
	svc, err := c.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.Selector["cerulean.ai/deployment"] != name || svc.Spec.Ports[0].Port != 8080 {
		t.Errorf("service = %+v", svc.Spec)
	}

	// Scale, then scale to 0.
	for _, n := range []int{3, 0} {
		d.Capacity = n
		if err := k.Ensure(ctx, d, "/data/models/m.gguf", it); err != nil {
			t.Fatal(err)
		}
		dep, _ = c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if int(*dep.Spec.Replicas) != n {
			t.Errorf("replicas = %d, want %d", *dep.Spec.Replicas, n)
		}
	}
	_, err = k.Backend().Chat(ctx, targetOf(d), chatReq("hi"))
	if f, ok := fault.As(err); !ok || f.Kind != fault.Unavailable || !strings.Contains(f.Message, "scaled to 0 replicas") {
		t.Errorf("chat at 0 replicas = %v, want 503", err)
	}

	if err := k.Release(ctx, d); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{}); err == nil {
		t.Error("Deployment still exists after Release")
	}
	if _, err := c.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{}); err == nil {
		t.Error("Service still exists after Release")
	}
	if err := k.Release(ctx, d); err != nil {
		t.Errorf("second Release = %v, want nil", err)
	}
}

// TestKubeServiceIsUpstream checks that requests go to the Service's
// address (here mapped to a local fake worker), with the key.
func TestKubeServiceIsUpstream(t *testing.T) {
	var gotPath, gotAuth, gotHost string
	fakeSvc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotAuth = r.URL.Path, r.Header.Get("Authorization")
		w.Header().Set("content-type", "application/json")
		w.Write([]byte(`{"id":"c","object":"chat.completion","created":1,"model":"model","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"from the service"}}],"usage":{"prompt_tokens":1,"completion_tokens":3,"total_tokens":4}}`))
	}))
	defer fakeSvc.Close()
	k, c := newKube(t, func(ns, svc string) string {
		gotHost = svc + "." + ns
		return fakeSvc.URL
	})
	ctx := t.Context()
	d := managed("chat", 1)
	if err := k.Ensure(ctx, d, "/m.gguf", cpu1); err != nil {
		t.Fatal(err)
	}
	text, err := chat(ctx, k.Backend(), d)
	if err != nil {
		t.Fatal(err)
	}
	if text != "from the service" || gotPath != "/v1/chat/completions" || gotAuth != "Bearer k8s-secret" {
		t.Errorf("reply %q via %s with %q", text, gotPath, gotAuth)
	}
	if want := replica.ObjectName("p", "chat") + "." + ns; gotHost != want {
		t.Errorf("service address %q, want %q", gotHost, want)
	}

	// A scale-to-zero deployment at 0 is scaled to 1 and waited for.
	d.Capacity, d.ScaleToZero = 0, true
	if err := k.Ensure(ctx, d, "/m.gguf", cpu1); err != nil {
		t.Fatal(err)
	}
	name := replica.ObjectName("p", "chat")
	go func() {
		// The "cluster": once scaled up, a pod becomes ready.
		for ctx.Err() == nil {
			dep, err := c.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
			if err == nil && *dep.Spec.Replicas == 1 {
				dep.Status.ReadyReplicas = 1
				c.AppsV1().Deployments(ns).UpdateStatus(context.Background(), dep, metav1.UpdateOptions{})
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	reqCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := chat(reqCtx, k.Backend(), d); err != nil {
		t.Fatalf("cold start: %v", err)
	}
	rs, err := k.Replicas(ctx, "p", "chat")
	if err != nil || len(rs) != 1 || rs[0].State != replica.Ready {
		t.Errorf("Replicas = %+v, %v; want one Ready", rs, err)
	}
}

func TestKubeSyncKeepsColdStart(t *testing.T) {
	ctx := t.Context()
	d := managed("stz", 0)
	d.ScaleToZero = true
	c := fake.NewClientset()
	k, err := replica.NewKube(replica.KubeOptions{Client: c, Namespace: ns, Image: "cerulean:test",
		ServiceURL: func(string, string) string { return "http://127.0.0.1:9" }, PollInterval: 5 * time.Millisecond,
		Resolve: func(context.Context, deployment.Deployment) (string, replica.InstanceType, error) {
			return "/m.gguf", cpu1, nil
		},
		Deployments: func(context.Context) ([]deployment.Deployment, error) { return []deployment.Deployment{d}, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	name := replica.ObjectName("p", "stz")
	// Mark the pod ready as soon as it is asked for, then start cold.
	dep, _ := c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	dep.Status.ReadyReplicas = 1
	c.AppsV1().Deployments(ns).UpdateStatus(ctx, dep, metav1.UpdateOptions{})
	k.Backend().Chat(ctx, targetOf(d), chatReq("hi")) // the fake upstream refuses: only the cold start matters
	dep, _ = c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	dep.Spec.Replicas = ptr(int32(1))
	c.AppsV1().Deployments(ns).Update(ctx, dep, metav1.UpdateOptions{})
	if err := k.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	dep, _ = c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if *dep.Spec.Replicas != 1 {
		t.Errorf("a sync scaled a cold start in use to %d", *dep.Spec.Replicas)
	}
}

func ptr[T any](v T) *T { return &v }
