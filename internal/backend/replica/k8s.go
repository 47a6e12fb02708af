package replica

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/cerulean-ai/cerulean/internal/backend/upstream"
	"github.com/cerulean-ai/cerulean/internal/deployment"
	"github.com/cerulean-ai/cerulean/internal/inference"
)

// Labels and names of the Kubernetes objects Kube makes.
const (
	labelApp        = "app.kubernetes.io/name"
	labelManagedBy  = "app.kubernetes.io/managed-by"
	labelProject    = "cerulean.ai/project"
	labelDeployment = "cerulean.ai/deployment"
	workerApp       = "cerulean-worker"
	keySecretName   = "cerulean-worker-key"
	keySecretField  = "key"
	// WorkerPort is the container and Service port of the workers.
	WorkerPort = 8080
)

// KubeOptions configure a Kube.
type KubeOptions struct {
	// Client talks to the cluster; when nil one is built from Kubeconfig
	// (serve's --kubeconfig).
	Client     kubernetes.Interface
	Kubeconfig string
	// Namespace holds the Deployments and Services (default "cerulean").
	Namespace string
	// Image is the container image of the workers: one with the cerulean
	// binary as its entry point (required).
	Image string
	// Volumes and VolumeMounts are added to each worker pod, so that the
	// GGUF files are found at the paths the catalog names (e.g. a
	// read-only PersistentVolumeClaim mounted at the data folder).
	Volumes      []corev1.Volume
	VolumeMounts []corev1.VolumeMount
	// Key is the workers' API key, kept in the Secret cerulean-worker-key
	// (default: the Secret's, or a random one stored there).
	Key string
	// Resolve is used by Provision and by Run's sync passes.
	Resolve Resolver
	// Deployments lists every deployment for Run's sync passes (see
	// Supervisor.Run); nil: Run does none. SyncInterval is 5s by default.
	Deployments  func(ctx context.Context) ([]deployment.Deployment, error)
	SyncInterval time.Duration
	// IdleTimeout scales a cold-started scale-to-zero deployment back to
	// 0 replicas after this long without requests (10m), at a sync pass.
	IdleTimeout time.Duration
	// ServiceURL gives the base URL of a Service (default
	// http://NAME.NAMESPACE.svc:8080, which resolves inside the cluster).
	ServiceURL func(namespace, service string) string
	// PollInterval is how often a cold start checks for a ready pod (1s).
	PollInterval time.Duration
	// Upstream sends the requests to the Services (default: a new one).
	Upstream *upstream.Backend
	Logger   *slog.Logger
}

// Kube runs the replicas of ManagedCompute deployments on Kubernetes: one
// apps/v1 Deployment (replicas = capacity) and one Service per Cerulean
// deployment. It implements Provision, Release, Replicas, ReadyCounts and
// Backend as Supervisor does; Kubernetes restarts, health-checks (its
// readiness probe on /healthz) and balances the pods.
type Kube struct {
	o   KubeOptions
	c   kubernetes.Interface
	ns  string
	log *slog.Logger

	keyOnce sync.Mutex
	key     string

	mu       sync.Mutex
	groups   map[groupKey]deployment.Deployment
	lastUsed map[groupKey]time.Time // last request, for scale-to-zero
}

// NewKube returns a Kube over o.Client, or over a client built from
// o.Kubeconfig.
func NewKube(o KubeOptions) (*Kube, error) {
	if o.Image == "" {
		return nil, errors.New("replica: Kubernetes workers need a container image")
	}
	if o.Client == nil {
		cfg, err := clientcmd.BuildConfigFromFlags("", o.Kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("replica: kubeconfig %s: %w", o.Kubeconfig, err)
		}
		if o.Client, err = kubernetes.NewForConfig(cfg); err != nil {
			return nil, fmt.Errorf("replica: Kubernetes client: %w", err)
		}
	}
	if o.Namespace == "" {
		o.Namespace = "cerulean"
	}
	if o.ServiceURL == nil {
		o.ServiceURL = func(ns, svc string) string { return fmt.Sprintf("http://%s.%s.svc:%d", svc, ns, WorkerPort) }
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.SyncInterval <= 0 {
		o.SyncInterval = 5 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 10 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Upstream == nil {
		o.Upstream = upstream.New(upstream.Options{Logger: o.Logger})
	}
	return &Kube{o: o, c: o.Client, ns: o.Namespace, log: o.Logger, key: o.Key,
		groups: map[groupKey]deployment.Deployment{}, lastUsed: map[groupKey]time.Time{}}, nil
}

var nonDNS = regexp.MustCompile(`[^a-z0-9-]+`)

// ObjectName is the name of the Deployment and Service of a Cerulean
// deployment: "cw-PROJECT-NAME" made DNS-safe, with a hash suffix when it
// had to be changed or cut, so that distinct deployments never collide.
func ObjectName(project, name string) string {
	raw := "cw-" + project + "-" + name
	s := strings.Trim(nonDNS.ReplaceAllString(strings.ToLower(raw), "-"), "-")
	if s == raw && len(s) <= 63 {
		return s
	}
	sum := sha256.Sum256([]byte(project + "\x00" + name))
	suffix := hex.EncodeToString(sum[:4])
	if len(s) > 54 {
		s = strings.TrimRight(s[:54], "-")
	}
	return s + "-" + suffix
}

// workerKey returns the workers' key, reading or creating its Secret.
func (k *Kube) workerKey(ctx context.Context) (string, error) {
	k.keyOnce.Lock()
	defer k.keyOnce.Unlock()
	sec, err := k.c.CoreV1().Secrets(k.ns).Get(ctx, keySecretName, metav1.GetOptions{})
	switch {
	case err == nil && (k.key == "" || string(sec.Data[keySecretField]) == k.key):
		k.key = string(sec.Data[keySecretField])
		return k.key, nil
	case err == nil:
		sec.Data = map[string][]byte{keySecretField: []byte(k.key)}
		if _, err := k.c.CoreV1().Secrets(k.ns).Update(ctx, sec, metav1.UpdateOptions{}); err != nil {
			return "", fmt.Errorf("replica: update secret %s: %w", keySecretName, err)
		}
		return k.key, nil
	case !apierrors.IsNotFound(err):
		return "", fmt.Errorf("replica: get secret %s: %w", keySecretName, err)
	}
	if k.key == "" {
		k.key = rand.Text()
	}
	sec = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: keySecretName, Namespace: k.ns, Labels: map[string]string{labelManagedBy: "cerulean"}},
		Data: map[string][]byte{keySecretField: []byte(k.key)}}
	if _, err := k.c.CoreV1().Secrets(k.ns).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
		return "", fmt.Errorf("replica: create secret %s: %w", keySecretName, err)
	}
	return k.key, nil
}

// Provision resolves d and Ensures it.
func (k *Kube) Provision(ctx context.Context, d deployment.Deployment) error {
	if k.o.Resolve == nil {
		return errors.New("replica: Kube has no Resolver")
	}
	file, it, err := k.o.Resolve(ctx, d)
	if err != nil {
		return err
	}
	return k.Ensure(ctx, d, file, it)
}

// Ensure creates or updates d's Deployment (d.Capacity replicas running
// the worker on modelFile with it's threads and memory) and its Service.
func (k *Kube) Ensure(ctx context.Context, d deployment.Deployment, modelFile string, it InstanceType) error {
	if _, err := k.workerKey(ctx); err != nil {
		return err
	}
	want := k.deploymentObject(d, modelFile, it)
	deps := k.c.AppsV1().Deployments(k.ns)
	cur, err := deps.Get(ctx, want.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if _, err := deps.Create(ctx, want, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("replica: create Deployment %s: %w", want.Name, err)
		}
	case err != nil:
		return fmt.Errorf("replica: get Deployment %s: %w", want.Name, err)
	default:
		if k.keepCold(d) && cur.Spec.Replicas != nil {
			want.Spec.Replicas = cur.Spec.Replicas // a cold start still in use
		}
		cur.Labels, cur.Spec.Replicas, cur.Spec.Template = want.Labels, want.Spec.Replicas, want.Spec.Template
		if _, err := deps.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("replica: update Deployment %s: %w", want.Name, err)
		}
	}
	svc := k.serviceObject(d)
	if _, err := k.c.CoreV1().Services(k.ns).Get(ctx, svc.Name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		if _, err := k.c.CoreV1().Services(k.ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("replica: create Service %s: %w", svc.Name, err)
		}
	} else if err != nil {
		return fmt.Errorf("replica: get Service %s: %w", svc.Name, err)
	}
	k.mu.Lock()
	k.groups[groupKey{d.Project, d.Name}] = d
	k.mu.Unlock()
	return nil
}

// keepCold reports whether d is a scale-to-zero deployment at capacity 0
// that served a request within IdleTimeout, whose cold-started replica
// stays.
func (k *Kube) keepCold(d deployment.Deployment) bool {
	if d.Capacity != 0 || !d.ScaleToZero {
		return false
	}
	k.mu.Lock()
	last, ok := k.lastUsed[groupKey{d.Project, d.Name}]
	k.mu.Unlock()
	return ok && time.Since(last) < k.o.IdleTimeout
}

func (k *Kube) labels(d deployment.Deployment) map[string]string {
	return map[string]string{labelApp: workerApp, labelManagedBy: "cerulean",
		labelProject: labelValue(d.Project), labelDeployment: ObjectName(d.Project, d.Name)}
}

var nonLabel = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// labelValue makes s a valid label value: at most 63 of [A-Za-z0-9_.-],
// starting and ending with a letter or digit.
func labelValue(s string) string {
	s = nonLabel.ReplaceAllString(s, "-")
	if len(s) > 63 {
		s = s[:63]
	}
	return strings.Trim(s, "-_.")
}

// deploymentObject is the Deployment of d.
func (k *Kube) deploymentObject(d deployment.Deployment, modelFile string, it InstanceType) *appsv1.Deployment {
	name := ObjectName(d.Project, d.Name)
	labels := k.labels(d)
	selector := map[string]string{labelDeployment: name}
	replicas := int32(d.Capacity)
	threads := max(it.Threads, 1)
	res := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewQuantity(int64(threads), resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(int64(it.MemoryMB)<<20, resource.BinarySI),
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: k.ns, Labels: labels,
			Annotations: map[string]string{"cerulean.ai/instance-type": it.Name}},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: selector},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					Volumes: k.o.Volumes,
					Containers: []corev1.Container{{
						Name:  "worker",
						Image: k.o.Image,
						Args: []string{"worker", "--model", modelFile, "--addr", "0.0.0.0:" + strconv.Itoa(WorkerPort),
							"--threads", strconv.Itoa(threads)},
						Env: []corev1.EnvVar{{Name: KeyEnv, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
							LocalObjectReference: corev1.LocalObjectReference{Name: keySecretName}, Key: keySecretField}}}},
						Ports:        []corev1.ContainerPort{{Name: "http", ContainerPort: WorkerPort}},
						Resources:    corev1.ResourceRequirements{Requests: res, Limits: res},
						VolumeMounts: k.o.VolumeMounts,
						ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
							Path: "/healthz", Port: intstr.FromInt32(WorkerPort)}}, PeriodSeconds: 3},
						LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
							Path: "/healthz", Port: intstr.FromInt32(WorkerPort)}}, PeriodSeconds: 5, FailureThreshold: 3,
							InitialDelaySeconds: 10},
					}},
					TerminationGracePeriodSeconds: ptrTo(int64(30)),
				},
			},
		},
	}
}

// serviceObject is the Service in front of d's pods.
func (k *Kube) serviceObject(d deployment.Deployment) *corev1.Service {
	name := ObjectName(d.Project, d.Name)
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: k.ns, Labels: k.labels(d)},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{labelDeployment: name},
			Ports:    []corev1.ServicePort{{Name: "http", Port: WorkerPort, TargetPort: intstr.FromInt32(WorkerPort)}},
		},
	}
}

func ptrTo[T any](v T) *T { return &v }

// Release deletes d's Deployment and Service.
func (k *Kube) Release(ctx context.Context, d deployment.Deployment) error {
	name := ObjectName(d.Project, d.Name)
	k.mu.Lock()
	delete(k.groups, groupKey{d.Project, d.Name})
	k.mu.Unlock()
	policy := metav1.DeletePropagationForeground
	err1 := k.c.AppsV1().Deployments(k.ns).Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &policy})
	err2 := k.c.CoreV1().Services(k.ns).Delete(ctx, name, metav1.DeleteOptions{})
	var errs []error
	for _, err := range []error{err1, err2} {
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("replica: delete %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// Replicas reports d's pods as the Deployment's status counts them: its
// ready replicas Ready, the rest Starting.
func (k *Kube) Replicas(ctx context.Context, project, name string) ([]ReplicaStatus, error) {
	dep, err := k.c.AppsV1().Deployments(k.ns).Get(ctx, ObjectName(project, name), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("replica: get Deployment: %w", err)
	}
	want := 0
	if dep.Spec.Replicas != nil {
		want = int(*dep.Spec.Replicas)
	}
	ready := int(dep.Status.ReadyReplicas)
	out := make([]ReplicaStatus, 0, max(want, ready))
	for i := range max(want, ready) {
		st := Starting
		if i < ready {
			st = Ready
		}
		if i >= want {
			st = Stopped
		}
		out = append(out, ReplicaStatus{ID: i + 1, State: st})
	}
	return out, nil
}

// Backend returns the gateway.Backend that sends each request to its
// deployment's Service.
func (k *Kube) Backend() *Backend { return &Backend{p: k, up: k.o.Upstream, key: k.key} }

// pick returns the Service URL of t's deployment; a scale-to-zero
// deployment at 0 replicas is scaled to 1 and waited for.
func (k *Kube) pick(ctx context.Context, t inference.Target, avoid map[string]bool) (string, func(), error) {
	k.mu.Lock()
	d, ok := k.groups[groupKey{t.Project, t.Deployment}]
	k.mu.Unlock()
	name := ObjectName(t.Project, t.Deployment)
	url := k.o.ServiceURL(k.ns, name)
	if avoid[url] {
		return "", nil, notReady(t.Deployment, "its Service could not be connected to")
	}
	if !ok {
		if t.Capacity == 0 {
			return "", nil, scaledToZero(t.Deployment)
		}
		return "", nil, notReady(t.Deployment, "its replicas are not known to this server yet")
	}
	if d.Capacity == 0 {
		if !d.ScaleToZero {
			return "", nil, scaledToZero(t.Deployment)
		}
		k.mu.Lock()
		k.lastUsed[groupKey{t.Project, t.Deployment}] = time.Now()
		k.mu.Unlock()
		if err := k.coldStart(ctx, name); err != nil {
			return "", nil, err
		}
	}
	return url, func() {}, nil
}

// coldStart scales Deployment name to one replica if it has none and
// waits until a pod is ready.
func (k *Kube) coldStart(ctx context.Context, name string) error {
	deps := k.c.AppsV1().Deployments(k.ns)
	for {
		dep, err := deps.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("replica: cold start of %s: %w", name, err)
		}
		if dep.Status.ReadyReplicas > 0 {
			return nil
		}
		if dep.Spec.Replicas == nil || *dep.Spec.Replicas == 0 {
			dep.Spec.Replicas = ptrTo(int32(1))
			if _, err := deps.Update(ctx, dep, metav1.UpdateOptions{}); err != nil && !apierrors.IsConflict(err) {
				return fmt.Errorf("replica: cold start of %s: %w", name, err)
			}
			k.log.Info("cold start of a scale-to-zero deployment on Kubernetes", "deployment", name)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for a replica of %s: %w", name, ctx.Err())
		case <-time.After(k.o.PollInterval):
		}
	}
}

// Run does sync passes until ctx is done (if KubeOptions.Deployments is
// set): capacity changes reach the cluster, deleted deployments' objects go.
func (k *Kube) Run(ctx context.Context) error {
	if k.o.Deployments == nil {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(k.o.SyncInterval)
	defer t.Stop()
	for {
		if err := k.Sync(ctx); err != nil && ctx.Err() == nil {
			k.log.Warn("replica sync (Kubernetes)", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Sync Ensures every Succeeded ManagedCompute deployment and releases
// those this Kube made that are gone or no longer Succeeded.
func (k *Kube) Sync(ctx context.Context) error {
	if k.o.Deployments == nil || k.o.Resolve == nil {
		return errors.New("replica: sync needs KubeOptions.Deployments and Resolve")
	}
	ds, err := k.o.Deployments(ctx)
	if err != nil {
		return fmt.Errorf("replica: list deployments: %w", err)
	}
	want := map[groupKey]bool{}
	var errs []error
	for _, d := range ds {
		if !deployment.IsManagedCompute(d.SKU) {
			continue
		}
		switch d.State {
		case deployment.Succeeded:
			want[groupKey{d.Project, d.Name}] = true
			if err := k.Provision(ctx, d); err != nil {
				errs = append(errs, err)
			}
		case deployment.Creating:
			want[groupKey{d.Project, d.Name}] = true
		}
	}
	k.mu.Lock()
	var gone []deployment.Deployment
	for key, d := range k.groups {
		if !want[key] {
			gone = append(gone, d)
		}
	}
	k.mu.Unlock()
	for _, d := range gone {
		if err := k.Release(ctx, d); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
