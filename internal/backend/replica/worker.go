package replica

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cerulean-ai/cerulean/internal/backend/builtin"
	"github.com/cerulean-ai/cerulean/internal/catalog"
	"github.com/cerulean-ai/cerulean/internal/deployment"
	"github.com/cerulean-ai/cerulean/internal/engine/kvcache"
	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/gateway"
	"github.com/cerulean-ai/cerulean/internal/inference"
)

// The worker protocol, shared by `cerulean worker` and the Supervisor.
const (
	// KeyEnv is the environment variable a worker reads its one API key
	// from. The supervisor sets it for every child it starts.
	KeyEnv = "CERULEAN_WORKER_KEY"
	// Model is the model (deployment) name a worker answers to and lists
	// in /v1/models; it also accepts any other name, since it serves one
	// model only.
	Model = "model"
	// ListeningPrefix starts the line a worker prints on its standard
	// output once it accepts connections, followed by its base URL.
	ListeningPrefix = "listening on "
	// workerProject is the project name requests to a worker run under.
	workerProject = "worker"
)

// WorkerOptions configure a Worker.
type WorkerOptions struct {
	// Model is the GGUF file to serve (required).
	Model string
	// Addr is the listen address (default 127.0.0.1:0, a free port).
	Addr string
	// Threads is the engine's thread count (0: all cores).
	Threads int
	// CacheType is how the engine stores attention keys and values
	// (model.Options.CacheType; the zero value is kvcache.F32).
	CacheType kvcache.DType
	// Key is the one API key requests must present (required).
	Key string
	// ShutdownTimeout bounds the drain once Run's context is done
	// (default 30s).
	ShutdownTimeout time.Duration
	// Logger receives the worker's logs (nil discards them).
	Logger *slog.Logger
	// Out receives the "listening on http://HOST:PORT" line (nil discards it).
	Out io.Writer
}

// Worker serves one GGUF model with the built-in engine on the OpenAI
// routes of the gateway (/v1/chat/completions, /v1/completions,
// /v1/embeddings, /v1/models) plus /healthz: the process a ManagedCompute
// replica runs.
type Worker struct {
	o     WorkerOptions
	log   *slog.Logger
	ready atomic.Bool
}

// NewWorker returns a worker; Run serves.
func NewWorker(o WorkerOptions) *Worker {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	return &Worker{o: o, log: o.Logger}
}

// Run loads the model, listens, prints the listening line and serves until
// ctx is done; then it drains: /healthz answers 503, new connections are
// refused, requests in flight get ShutdownTimeout to finish.
func (w *Worker) Run(ctx context.Context) error {
	if w.o.Model == "" {
		return errors.New("worker: no model file given (--model)")
	}
	if w.o.Key == "" {
		return fmt.Errorf("worker: no API key: set %s", KeyEnv)
	}
	path, err := filepath.Abs(w.o.Model)
	if err != nil {
		return fmt.Errorf("worker: model path: %w", err)
	}
	eng := builtin.New(builtin.Options{Threads: w.o.Threads, CacheType: w.o.CacheType, Logger: w.log})
	defer eng.Close()
	if err := eng.Load(ctx, path); err != nil {
		return fmt.Errorf("worker: load %s: %w", path, err)
	}
	ln, err := net.Listen("tcp", w.o.Addr)
	if err != nil {
		return fmt.Errorf("worker: listen on %s: %w", w.o.Addr, err)
	}
	dir := &workerDirectory{key: w.o.Key, target: workerTarget(path), created: time.Now()}
	gw := gateway.New(gateway.Deps{
		Logger:    w.log,
		Directory: dir,
		Backend:   func(inference.Target) (gateway.Backend, error) { return eng, nil },
	})
	mux := http.NewServeMux()
	gw.Register(mux)
	mux.HandleFunc("GET /healthz", w.health)

	reqCtx, cancelRequests := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRequests()
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return reqCtx },
		ErrorLog:          slog.NewLogLogger(w.log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	w.ready.Store(true)
	go func() { served <- srv.Serve(ln) }()
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(w.o.Out, "%s%s\n", ListeningPrefix, base)
	w.log.Info("worker serving", "addr", base, "model", path, "threads", w.o.Threads)

	select {
	case err := <-served:
		return fmt.Errorf("worker: serve: %w", err)
	case <-ctx.Done():
	}
	w.ready.Store(false)
	w.log.Info("worker draining", "timeout", w.o.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), w.o.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		w.log.Warn("worker drain timed out: cancelling requests", "err", err)
		cancelRequests()
		srv.Close()
	}
	<-served
	return nil
}

// health answers /healthz: 200 while serving, 503 while draining.
func (w *Worker) health(rw http.ResponseWriter, _ *http.Request) {
	rw.Header().Set("content-type", "text/plain; charset=utf-8")
	if !w.ready.Load() {
		rw.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(rw, "draining\n")
		return
	}
	io.WriteString(rw, "ok\n")
}

// workerTarget is the one target of a worker: its model file, able to
// chat, complete and embed.
func workerTarget(path string) inference.Target {
	return inference.Target{
		Project: workerProject, Deployment: Model, SKU: deployment.ManagedCompute, Model: Model, Capacity: 1,
		Version: catalog.Version{Version: "1", Format: catalog.FormatGGUF, File: path,
			Capabilities: catalog.Capabilities{Chat: true, Completion: true, Embeddings: true},
			Lifecycle:    catalog.GenerallyAvailable},
	}
}

// workerDirectory is the gateway.Directory of a worker: one shared key,
// one deployment that answers to any name.
type workerDirectory struct {
	key     string
	target  inference.Target
	created time.Time
}

func (d *workerDirectory) Authenticate(_ context.Context, key string) (gateway.Caller, error) {
	if subtle.ConstantTimeCompare([]byte(key), []byte(d.key)) != 1 {
		return gateway.Caller{}, fault.New(fault.Unauthorized, "invalid_api_key", "invalid API key")
	}
	return gateway.Caller{Project: workerProject, KeyID: "worker"}, nil
}

func (d *workerDirectory) Resolve(_ context.Context, _, name string) (inference.Target, error) {
	t := d.target
	if name = strings.TrimSpace(name); name != "" {
		t.Deployment = name
	}
	return t, nil
}

func (d *workerDirectory) Deployments(context.Context, string) ([]deployment.Deployment, error) {
	return []deployment.Deployment{{
		Project: workerProject, Name: Model, Model: Model, Version: "1", SKU: deployment.ManagedCompute,
		Capacity: 1, State: deployment.Succeeded, CreatedAt: d.created, UpdatedAt: d.created,
	}}, nil
}
