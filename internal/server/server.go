// Package server is the composition root: it builds every part of
// `cerulean serve` — store, gateway, management API, backends, workers — on
// one HTTP listener, runs them, and owns the orderly shutdown.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/cerulean-ai/cerulean/api"
	"github.com/cerulean-ai/cerulean/internal/alert"
	"github.com/cerulean-ai/cerulean/internal/apikey"
	"github.com/cerulean-ai/cerulean/internal/backend/builtin"
	"github.com/cerulean-ai/cerulean/internal/backend/upstream"
	"github.com/cerulean-ai/cerulean/internal/config"
	"github.com/cerulean-ai/cerulean/internal/deployment"
	"github.com/cerulean-ai/cerulean/internal/gateway"
	"github.com/cerulean-ai/cerulean/internal/manage"
	"github.com/cerulean-ai/cerulean/internal/metering"
	"github.com/cerulean-ai/cerulean/internal/metrics"
	"github.com/cerulean-ai/cerulean/internal/project"
	"github.com/cerulean-ai/cerulean/internal/ratelimit"
	"github.com/cerulean-ai/cerulean/internal/reqlog"
	"github.com/cerulean-ai/cerulean/internal/store"
	"github.com/cerulean-ai/cerulean/internal/store/sqlite"
	"github.com/cerulean-ai/cerulean/internal/studio"
)

// Run serves until ctx is done, then drains: the listener closes, requests
// and streams in flight get cfg.ShutdownTimeout to finish, the workers stop
// and the store closes. What a newcomer needs (address, endpoint, where the
// admin token is, a curl example) is printed to out.
func Run(ctx context.Context, cfg config.Config, log *slog.Logger, out io.Writer) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.GCPercent > 0 {
		// Restored on return, for tests and the benchmark that run the
		// server inside a longer-lived process.
		defer debug.SetGCPercent(debug.SetGCPercent(cfg.GCPercent))
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	secret, token, tokenPath, err := loadSecrets(cfg)
	if err != nil {
		return err
	}
	sealer, err := apikey.NewSealer(secret)
	if err != nil {
		return err
	}
	st, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, config.DBFile))
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer st.Close()
	now := time.Now().UTC()
	firstStart, err := bootstrap(ctx, st, sealer, now)
	if err != nil {
		return err
	}
	example := "DEPLOYMENT"
	if firstStart && cfg.Demo {
		path, err := makeDemo(cfg.DataDir, log)
		if err != nil {
			return err
		}
		if err := deployFile(ctx, st, path, "demo", DemoDeployment, demoDescription, now); err != nil {
			return err
		}
		example = DemoDeployment
	}
	if cfg.Model != "" {
		dep := cfg.Deployment
		if dep == "" {
			dep = modelName(cfg.Model)
		}
		if err := deployFile(ctx, st, cfg.Model, modelName(cfg.Model), dep, "", now); err != nil {
			return err
		}
		example = dep
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	base := "http://" + ln.Addr().String()
	publicURL := base
	if cfg.PublicURL != "" {
		publicURL = cfg.PublicURL
	}

	var ready atomic.Bool
	sessionKey, err := randomBytes(32) // Studio sessions live in memory: a restart signs everyone out anyway
	if err != nil {
		return err
	}
	ui := studio.New(studio.Deps{
		Logger:     log.With("face", "studio"),
		API:        func(token string) *api.Client { return api.New(base, token) },
		PublicURL:  func() string { return publicURL },
		Now:        time.Now,
		SessionKey: sessionKey,
	})
	h, err := build(cfg, log, st, sealer, token, publicURL, ui, &ready)
	if err != nil {
		ln.Close()
		return err
	}
	defer h.engine.Close()

	// Requests get a context that outlives the signal by the drain window,
	// so streams in flight can finish; after it they are cancelled.
	reqCtx, cancelRequests := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRequests()
	srv := &http.Server{
		Handler:           h.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return reqCtx },
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	addrFile := filepath.Join(cfg.DataDir, config.AddressFile)
	if err := os.WriteFile(addrFile, []byte(base+"\n"), 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("write %s: %w", addrFile, err)
	}
	defer os.Remove(addrFile)

	printBanner(ctx, out, st, sealer, base, publicURL, tokenPath, example, firstStart)
	log.Info("serving", "addr", base, "data", cfg.DataDir)

	g, gctx := errgroup.WithContext(ctx)
	workCtx, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWorkers()
	for _, w := range h.workers {
		g.Go(func() error { return w.Run(workCtx) })
	}
	g.Go(func() error {
		// Warm first, so the reconciler's own loads are not counted twice.
		warm(workCtx, st, h.provisioner, log)
		return h.reconciler.Run(workCtx)
	})
	g.Go(func() error {
		ready.Store(true)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		ready.Store(false)
		log.Info("shutting down: draining requests", "timeout", cfg.ShutdownTimeout)
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		err := srv.Shutdown(sctx)
		if err != nil {
			log.Warn("drain timed out: cancelling the requests still running", "err", err)
			cancelRequests()
			srv.Close()
		}
		stopWorkers()
		return nil
	})
	err = g.Wait()
	log.Info("stopped")
	return err
}

// parts are the pieces Run wires together.
type parts struct {
	handler     http.Handler
	reconciler  *deployment.Reconciler
	provisioner *provisioner
	engine      *builtin.Backend
	workers     []worker // stopped after the listener has drained
}

// worker is a background job.
type worker interface {
	Run(ctx context.Context) error
}

func build(cfg config.Config, log *slog.Logger, st store.Store, sealer *apikey.Sealer, token, publicURL string, ui *studio.Studio, ready *atomic.Bool) (parts, error) {
	up := upstream.New(upstream.Options{Logger: log})
	mtr := metrics.New()
	adm := ratelimit.New(ratelimit.Config{})
	mtr.ObservePTUUtilization(ptuUtilization(st, adm))
	blocks := &alert.Blocks{}
	deliverer := alert.NewDeliverer(st, log.With("worker", "webhooks"))
	evaluator := &alert.Evaluator{Store: st, Logger: log.With("worker", "alerts"), Every: 30 * time.Second,
		Blocks: blocks, Notify: deliverer.Notify}
	ledger := metering.NewLedger(metering.LedgerOptions{Store: st, Projects: st, Logger: log})
	capt := reqlog.NewCapturer(reqlog.CaptureOptions{Logger: log, Store: st})
	retention := reqlog.NewRetention(reqlog.RetentionOptions{Logger: log, Store: st})
	mtr.ObserveCaptureDrops(capt.Dropped)
	accrual := metering.NewAccrual(metering.AccrualOptions{Store: st, Logger: log,
		InstanceType: func(d deployment.Deployment) string { return d.InstanceType }})
	eng := builtin.New(builtin.Options{Threads: cfg.Threads, NoRepack: cfg.NoRepack, CacheType: cfg.KVCacheType, Logger: log, Weight: adm.Weight})
	reps, repBackend, err := newReplicas(cfg, st, up, mtr, log)
	if err != nil {
		return parts{}, err
	}
	router := &backends{upstream: up, builtin: eng, replicas: repBackend}
	dir := gateway.NewDirectory(st, 2*time.Second)
	prov := &provisioner{models: st, client: &http.Client{Timeout: 10 * time.Second}, engine: eng, replicas: reps}
	rec := deployment.NewReconciler(st, prov, log, dir.Invalidate)
	gw := gateway.New(gateway.Deps{
		Logger:       log,
		Directory:    dir,
		Backend:      router.For,
		MaxBodyBytes: cfg.MaxBodyBytes,
		Now:          time.Now,
		Admit:        &alert.BudgetGate{Next: adm, Blocks: blocks},
		Meter:        meters{ledger, mtr, reqlog.NewAccessLog(log)},
		Capture:      capt,
	})
	mg := manage.New(manage.Deps{
		Logger:     log,
		Store:      st,
		Sealer:     sealer,
		AdminToken: token,
		PublicURL:  func() string { return publicURL },
		Changed:    func() { dir.Invalidate(); capt.Invalidate() },
		Reconcile:  rec.Nudge,
		Now:        time.Now,
		Inspect:    inspectGGUF,
	})
	return parts{handler: mtr.InFlight(routes(log, gw, mg, ui, mtr.Handler(), ready)), reconciler: rec, provisioner: prov, engine: eng,
		workers: []worker{ledger, accrual, capt, retention, evaluator, deliverer, reps}}, nil
}

// printBanner tells a newcomer where everything is.
func printBanner(ctx context.Context, out io.Writer, st store.Store, sealer *apikey.Sealer, base, publicURL, tokenPath, example string, firstStart bool) {
	fmt.Fprintf(out, "listening on %s\n", base)
	fmt.Fprintf(out, "endpoint:    %s  (Azure OpenAI: %s/openai, OpenAI: %s/v1)\n", publicURL, publicURL, publicURL)
	if tokenPath != "" {
		fmt.Fprintf(out, "admin token: in %s\n", tokenPath)
	} else {
		fmt.Fprintf(out, "admin token: from CERULEAN_ADMIN_TOKEN\n")
	}
	key := "$KEY"
	if firstStart {
		if ks, err := st.ListKeys(ctx, project.Default); err == nil && len(ks) > 0 {
			if k, err := sealer.Open(ks[0].Sealed); err == nil {
				key = k
				fmt.Fprintf(out, "project %q key1: %s  (`cerulean keys list --project %s` shows both keys)\n", project.Default, k, project.Default)
			}
		}
	}
	if key == "$KEY" {
		fmt.Fprintf(out, "keys:        KEY=$(cerulean keys list --project %s -o json | jq -r .key1)\n", project.Default)
	}
	if example == DemoDeployment {
		fmt.Fprintf(out, "deployment %q serves a tiny demo model with RANDOM weights (it answers gibberish); add a real one with `cerulean models add FILE.gguf`\n", DemoDeployment)
	}
	fmt.Fprintf(out, "try:\n  curl -s '%s/openai/deployments/%s/chat/completions?api-version=2024-10-21' \\\n    -H 'api-key: %s' -H 'content-type: application/json' \\\n    -d '{\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}],\"max_tokens\":20}'\n", publicURL, example, key)
}
