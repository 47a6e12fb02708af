// Package builtin is the gateway Backend of the built-in engine: it serves
// GGUF models on the CPU, one engine/runner scheduler per model file.
//
// Models are keyed by file path, memory-mapped once and shared by every
// deployment of that file. The server's provisioner calls Load when a
// deployment is created (a failure becomes the deployment's reason) and
// Unload when it is deleted; requests for a file that is not loaded load it
// on demand (after a restart, say) as an unpinned model, which is evicted
// first when more than Options.MaxLoaded models would be loaded.
//
// The server wires it up as:
//
//	b := builtin.New(builtin.Options{Threads: n, Logger: log, MaxLoaded: k})
//	defer b.Close()
//	// provisioner, for catalog.FormatGGUF versions:
//	//   Provision: return b.Load(ctx, version.File)
//	//   Release:   b.Unload(version.File)
//	// backend router: catalog.FormatGGUF → b
//
// Structured outputs are guaranteed by constrained decoding (see
// engine/grammar and runner.Constraint): response_format json_object and
// json_schema generate under a grammar, so a choice that finishes with
// "stop" is valid JSON matching the schema (as far as the grammar package
// enforces it; "length" may cut it). Stop sequences are not applied to
// constrained choices, since they could cut the JSON short. Responses
// report the mode in ChatCompletion.StructuredOutput ("grammar"). Tool
// calls are parsed out of the output in the model family's syntax, and
// tool_choice required or naming a function is enforced with a grammar
// composed from the tools' parameter schemas (see tools.go).
//
// Choices beyond what the engine can do are refused with a 400 rather
// than served wrongly: deprecated functions, images and audio, completions
// suffix, and echo together with logprobs. tool_choice none leaves the
// tools out of the prompt.
//
// best_of is served: best_of sequences run in one batch and the n with the
// highest mean token log probability are returned. It costs best_of
// generations, which usage reports, as OpenAI does.
package builtin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/cerulean-ai/cerulean/internal/engine/chat"
	"github.com/cerulean-ai/cerulean/internal/engine/gguf"
	"github.com/cerulean-ai/cerulean/internal/engine/grammar"
	"github.com/cerulean-ai/cerulean/internal/engine/kvcache"
	"github.com/cerulean-ai/cerulean/internal/engine/model"
	"github.com/cerulean-ai/cerulean/internal/engine/runner"
	"github.com/cerulean-ai/cerulean/internal/engine/tokenizer"
	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/inference"
)

// Options configure a Backend. The zero value means the defaults.
type Options struct {
	// Threads is the number of goroutines each model's matrix products use
	// (default runtime.NumCPU()).
	Threads int
	// NoRepack keeps every model's weights in its memory-mapped file
	// (model.Options.NoRepack).
	NoRepack bool
	// CacheType is how every model's KV caches store keys and values
	// (model.Options.CacheType; the zero value is kvcache.F32).
	CacheType kvcache.DType
	// Logger receives the backend's and the runners' logs (default
	// slog.Default()).
	Logger *slog.Logger
	// MaxLoaded is the most models loaded at once; 0 means no limit.
	// Loading one more evicts the least recently used model that no
	// deployment pinned with Load, and fails if there is none.
	MaxLoaded int
	// MaxSeqs, ContextLength, PrefillChunk and MaxKVBytes configure every
	// model's runner (see runner.Options). MaxKVBytes applies per model.
	MaxSeqs       int
	ContextLength int
	PrefillChunk  int
	MaxKVBytes    int64
	// PrefixCacheBytes bounds each runner's pool of finished sequences'
	// KV caches kept for prefix reuse (runner.Options.PrefixCacheBytes:
	// 0 is the runner's default, negative turns reuse off).
	PrefixCacheBytes int64
	// Weight is a request's share of the engine's scheduler steps, from its
	// target (provisioned deployments get more); nil means 1 for all.
	Weight func(inference.Target) int
}

// Backend serves inference with the built-in engine. It is safe for
// concurrent use.
type Backend struct {
	o   Options
	log *slog.Logger

	mu      sync.Mutex
	models  map[string]*loaded
	loading map[string]*loadCall
	closed  bool
	live    sync.WaitGroup // loaded models not yet finalized

	grammars *grammarCache // compiled response-format and tool grammars
}

// loadCall is a load in progress that others may wait for.
type loadCall struct {
	done chan struct{}
	lm   *loaded
	err  error
}

// loaded is one loaded model file with its runner.
type loaded struct {
	path        string
	file        *gguf.File
	m           *model.Model
	r           *runner.Runner
	tok         *tokenizer.Tokenizer
	render      *chat.ModelRenderer
	name        string // general.name or the file's base name
	fingerprint string
	addBOS      bool   // the tokenizer adds BOS to texts
	bosText     string // text of BOS, "" without one
	eosText     string // text of EOS, "" without one
	vocab       int
	embd        int
	stop        context.CancelFunc
	done        chan struct{} // the runner goroutine returned
	weight      func(inference.Target) int
	grammars    *grammarCache // shared by the backend's models

	vocabOnce sync.Once
	vocabIdx  *grammar.VocabIndex // see vocabIndex

	// Guarded by Backend.mu.
	pins     int // Load calls not yet undone by Unload
	users    int // requests using the model now
	lastUsed time.Time
	closing  bool
}

// New returns a backend with no models loaded.
func New(o Options) *Backend {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Backend{o: o, log: o.Logger, models: map[string]*loaded{}, loading: map[string]*loadCall{}, grammars: newGrammarCache()}
}

// Load loads the model at path (an absolute GGUF path) if it is not loaded
// yet and pins it until a matching Unload. The error describes why a file
// cannot be served.
func (b *Backend) Load(ctx context.Context, path string) error {
	lm, err := b.acquire(ctx, path)
	if err != nil {
		return err
	}
	b.mu.Lock()
	lm.pins++
	b.mu.Unlock()
	b.release(lm)
	return nil
}

// Unload undoes one Load of path. When no pins are left the model is
// closed: requests still running on it end with a 503.
func (b *Backend) Unload(path string) {
	path = filepath.Clean(path)
	b.mu.Lock()
	lm, ok := b.models[path]
	if !ok {
		b.mu.Unlock()
		return
	}
	if lm.pins > 0 {
		lm.pins--
	}
	if lm.pins > 0 {
		b.mu.Unlock()
		return
	}
	b.evictLocked(lm)
	b.mu.Unlock()
}

// Loaded returns the paths of the loaded models.
func (b *Backend) Loaded() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for p := range b.models {
		out = append(out, p)
	}
	return out
}

// Close unloads every model and waits for their runners to stop.
func (b *Backend) Close() {
	b.mu.Lock()
	b.closed = true
	for _, lm := range b.models {
		b.evictLocked(lm)
	}
	b.mu.Unlock()
	b.live.Wait()
}

// evictLocked removes lm from the map and stops its runner; the model is
// closed when its last user leaves.
func (b *Backend) evictLocked(lm *loaded) {
	if lm.closing {
		return
	}
	lm.closing = true
	delete(b.models, lm.path)
	lm.r.Close()
	if lm.users == 0 {
		go b.finalize(lm)
	}
}

// finalize waits for the runner to stop and closes the model and file.
func (b *Backend) finalize(lm *loaded) {
	defer b.live.Done()
	lm.stop()
	<-lm.done
	if err := lm.m.Close(); err != nil {
		b.log.Warn("builtin: closing model", "path", lm.path, "err", err)
	}
	if err := lm.file.Close(); err != nil {
		b.log.Warn("builtin: closing file", "path", lm.path, "err", err)
	}
	b.log.Info("builtin: model unloaded", "path", lm.path)
}

// acquire returns the loaded model of path, loading it if needed, and
// counts the caller as a user until release.
func (b *Backend) acquire(ctx context.Context, path string) (*loaded, error) {
	if path == "" {
		return nil, fault.New(fault.Unavailable, "ModelNotLoaded", "the deployment's model version has no GGUF file")
	}
	path = filepath.Clean(path)
	for {
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return nil, fault.New(fault.Unavailable, "ModelNotLoaded", "the built-in engine is shutting down")
		}
		if lm, ok := b.models[path]; ok {
			lm.users++
			lm.lastUsed = time.Now()
			b.mu.Unlock()
			return lm, nil
		}
		call, ok := b.loading[path]
		if !ok {
			if err := b.makeRoomLocked(); err != nil {
				b.mu.Unlock()
				return nil, err
			}
			call = &loadCall{done: make(chan struct{})}
			b.loading[path] = call
			b.mu.Unlock()
			b.load(path, call)
			if call.err != nil {
				return nil, call.err
			}
			continue
		}
		b.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-call.done:
		}
		if call.err != nil {
			return nil, call.err
		}
	}
}

// release ends a use of lm.
func (b *Backend) release(lm *loaded) {
	b.mu.Lock()
	defer b.mu.Unlock()
	lm.users--
	if lm.closing && lm.users == 0 {
		go b.finalize(lm)
	}
}

// makeRoomLocked evicts the least recently used unpinned model when one
// more would exceed MaxLoaded.
func (b *Backend) makeRoomLocked() error {
	if b.o.MaxLoaded <= 0 || len(b.models)+len(b.loading) < b.o.MaxLoaded {
		return nil
	}
	var victim *loaded
	for _, lm := range b.models {
		if lm.pins == 0 && (victim == nil || lm.lastUsed.Before(victim.lastUsed)) {
			victim = lm
		}
	}
	if victim == nil {
		return fault.New(fault.Unavailable, "ModelNotLoaded", "the built-in engine already has %d models loaded, its limit", b.o.MaxLoaded)
	}
	b.log.Info("builtin: evicting an unpinned model", "path", victim.path)
	b.evictLocked(victim)
	return nil
}

// load loads path and publishes the result to call.
func (b *Backend) load(path string, call *loadCall) {
	start := time.Now()
	lm, err := b.open(path)
	b.mu.Lock()
	delete(b.loading, path)
	if err == nil && b.closed {
		err = fault.New(fault.Unavailable, "ModelNotLoaded", "the built-in engine is shutting down")
		b.mu.Unlock()
		lm.stop()
		<-lm.done
		lm.m.Close()
		lm.file.Close()
		b.mu.Lock()
	} else if err == nil {
		b.models[path] = lm
		b.live.Add(1)
	}
	call.lm, call.err = lm, err
	b.mu.Unlock()
	close(call.done)
	if err != nil {
		b.log.Warn("builtin: loading a model failed", "path", path, "err", err)
		return
	}
	b.log.Info("builtin: model loaded", "path", path, "name", lm.name, "context_length", lm.r.ContextLength(), "took", time.Since(start))
}

// open maps the file, loads the model and starts its runner.
func (b *Backend) open(path string) (*loaded, error) {
	unavailable := func(err error) error {
		return &fault.Error{Kind: fault.Unavailable, Code: "ModelNotLoaded", Message: fmt.Sprintf("the model file %s cannot be loaded: %v", path, err), Err: err}
	}
	if !filepath.IsAbs(path) {
		return nil, unavailable(errors.New("the path is not absolute"))
	}
	f, err := gguf.Open(path)
	if err != nil {
		return nil, unavailable(err)
	}
	m, err := model.Options{Threads: b.o.Threads, NoRepack: b.o.NoRepack, CacheType: b.o.CacheType}.FromFile(f)
	if err != nil {
		f.Close()
		return nil, unavailable(err)
	}
	fp, err := fingerprint(path, f.DataOffset())
	if err != nil {
		m.Close()
		f.Close()
		return nil, unavailable(err)
	}
	cfg, tok := m.Config(), m.Tokenizer()
	tmpl, _ := f.String("tokenizer.chat_template")
	lm := &loaded{
		path: path, file: f, m: m, tok: tok, weight: b.o.Weight, grammars: b.grammars,
		render:      chat.ForModel(tmpl),
		name:        cfg.Name,
		fingerprint: fp,
		vocab:       cfg.VocabSize,
		embd:        cfg.Embedding,
		done:        make(chan struct{}),
	}
	if lm.name == "" {
		lm.name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	if bos := tok.BOS(); bos != tokenizer.NoToken {
		probe := tok.Encode("", true, false)
		lm.addBOS = len(probe) > 0 && probe[0] == bos
		lm.bosText = tok.Token(bos)
	}
	if eos := tok.EOS(); eos != tokenizer.NoToken {
		lm.eosText = tok.Token(eos)
	}
	lm.r = runner.New(m, runner.Options{
		MaxSeqs: b.o.MaxSeqs, ContextLength: b.o.ContextLength, PrefillChunk: b.o.PrefillChunk,
		MaxKVBytes: b.o.MaxKVBytes, PrefixCacheBytes: b.o.PrefixCacheBytes, Logger: b.log.With("model", lm.name),
	})
	ctx, cancel := context.WithCancel(context.Background())
	lm.stop = cancel
	go func() {
		defer close(lm.done)
		if err := lm.r.Run(ctx); err != nil {
			b.log.Error("builtin: runner stopped", "path", path, "err", err)
		}
	}()
	return lm, nil
}

// fingerprint hashes the file's size and its metadata and tensor
// directory (the bytes before the tensor data): cheap even for large files,
// and different for any other model.
func fingerprint(path string, header int64) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%d\n", st.Size())
	if _, err := io.Copy(h, io.LimitReader(fh, header)); err != nil {
		return "", fmt.Errorf("fingerprint: %w", err)
	}
	return "cerulean-" + hex.EncodeToString(h.Sum(nil))[:10], nil
}
