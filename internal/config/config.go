// Package config is the only reader of the environment: flags' defaults
// from CERULEAN_* variables, the data folder, and where a client finds its
// server and admin token.
package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cerulean-ai/cerulean/internal/engine/kvcache"
)

// Files in the data folder.
const (
	DBFile         = "cerulean.db"
	AdminTokenFile = "admin-token" // mode 0600
	SecretFile     = "secret.key"  // 32 bytes, mode 0600: seals project keys
	AddressFile    = "server.addr" // the running server's base URL
)

// Config is what `cerulean serve` runs with.
type Config struct {
	Addr            string        // listen address, default 127.0.0.1:8080
	DataDir         string        // state folder
	AdminToken      string        // from CERULEAN_ADMIN_TOKEN; generated and saved when empty
	PublicURL       string        // base URL shown as the endpoint; derived from the listener when empty
	ShutdownTimeout time.Duration // how long in-flight requests may take to finish
	MaxBodyBytes    int64
	LogLevel        string // debug, info, warn, error
	// Demo makes and deploys a small random-weight demo model on first
	// start (CERULEAN_DEMO=0 turns it off).
	Demo bool
	// Model is a GGUF file to register and deploy at start, in project
	// "default", as deployment Deployment (default: the file's base name).
	Model      string
	Deployment string
	// Threads is how many threads the built-in engine uses (default: all cores).
	Threads int
	// NoRepack keeps the built-in engine's weights in the memory-mapped
	// GGUF files instead of copying Q4_0 and Q8_0 matrices into a faster
	// interleaved layout on load (model.Options.NoRepack).
	NoRepack bool
	// KVCacheType is how the built-in engine stores attention keys and
	// values (model.Options.CacheType): F16 by default, as llama.cpp does,
	// or F32 (env CERULEAN_KV_CACHE_TYPE).
	KVCacheType kvcache.DType
	// Kubeconfig, when set, runs ManagedCompute replicas as Kubernetes
	// Deployments in KubeNamespace with the WorkerImage container image,
	// instead of local worker processes.
	Kubeconfig    string
	KubeNamespace string
	WorkerImage   string
	// GCPercent, when positive, is the garbage collector's target
	// (debug.SetGCPercent) the server sets at start (`serve --gc-percent`);
	// 0 leaves the runtime's, i.e. GOGC or Go's default of 100. A higher
	// target means fewer collections for more memory: the heap may grow to
	// about 1+GCPercent/100 times the live heap. Measured on 2 shared cores
	// at 2,000 req/s (`cerulean bench gateway`), 400 raised peak RSS from
	// ~215 MB to ~380-460 MB with no p99 gain that stood out of the noise,
	// so the default is 0.
	GCPercent int
}

// Defaults returns the configuration read from the environment.
func Defaults(getenv func(string) string) Config {
	c := Config{
		Addr:            "127.0.0.1:8080",
		DataDir:         DefaultDataDir(getenv),
		AdminToken:      getenv("CERULEAN_ADMIN_TOKEN"),
		PublicURL:       getenv("CERULEAN_PUBLIC_URL"),
		ShutdownTimeout: 30 * time.Second,
		MaxBodyBytes:    8 << 20,
		LogLevel:        "info",
		Demo:            true,
		KVCacheType:     kvcache.F16,
	}
	if v := getenv("CERULEAN_KV_CACHE_TYPE"); v != "" {
		if err := c.KVCacheType.Set(v); err != nil {
			c.KVCacheType = -1 // reported by Validate
		}
	}
	switch strings.ToLower(getenv("CERULEAN_DEMO")) {
	case "0", "false", "no", "off":
		c.Demo = false
	}
	if v := getenv("CERULEAN_ADDR"); v != "" {
		c.Addr = v
	}
	if v := getenv("CERULEAN_DATA"); v != "" {
		c.DataDir = v
	}
	c.Kubeconfig = getenv("CERULEAN_KUBECONFIG")
	c.KubeNamespace = getenv("CERULEAN_KUBE_NAMESPACE")
	c.WorkerImage = getenv("CERULEAN_WORKER_IMAGE")
	if v := getenv("CERULEAN_LOG_LEVEL"); v != "" {
		c.LogLevel = v
	}
	if v := getenv("CERULEAN_SHUTDOWN_TIMEOUT"); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			c.ShutdownTimeout = d
		}
	}
	return c
}

// DefaultDataDir is $XDG_DATA_HOME/cerulean, else ~/.local/share/cerulean.
func DefaultDataDir(getenv func(string) string) string {
	if x := getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "cerulean")
	}
	home := getenv("HOME")
	if home == "" {
		if h, err := os.UserHomeDir(); err == nil {
			home = h
		}
	}
	return filepath.Join(home, ".local", "share", "cerulean")
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("config: --addr %q: want HOST:PORT: %w", c.Addr, err)
	}
	if c.DataDir == "" {
		return errors.New("config: --data is empty")
	}
	if c.ShutdownTimeout <= 0 {
		return errors.New("config: shutdown timeout must be positive")
	}
	if c.MaxBodyBytes <= 0 {
		return errors.New("config: max body bytes must be positive")
	}
	if c.Deployment != "" && c.Model == "" {
		return errors.New("config: --deployment names the deployment of --model; give --model too")
	}
	if c.Kubeconfig != "" && c.WorkerImage == "" {
		return errors.New("config: --kubeconfig needs --worker-image, the container image of the cerulean workers")
	}
	if c.Threads < 0 {
		return errors.New("config: --threads must not be negative")
	}
	if c.KVCacheType.Size() == 0 {
		return errors.New("config: KV cache type (--kv-cache-type, CERULEAN_KV_CACHE_TYPE): want f16 or f32")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("config: log level %q: want debug, info, warn or error", c.LogLevel)
	}
	return nil
}

// Client is where a CLI command finds its server: CERULEAN_HOST and
// CERULEAN_ADMIN_TOKEN, falling back to the files a local `cerulean serve`
// left in the data folder.
type Client struct {
	Host  string // base URL, e.g. http://127.0.0.1:8080
	Token string
}

// ClientFromEnv resolves the client settings.
func ClientFromEnv(getenv func(string) string) (Client, error) {
	c := Client{Host: getenv("CERULEAN_HOST"), Token: getenv("CERULEAN_ADMIN_TOKEN")}
	dir := getenv("CERULEAN_DATA")
	if dir == "" {
		dir = DefaultDataDir(getenv)
	}
	if c.Host == "" {
		b, err := os.ReadFile(filepath.Join(dir, AddressFile))
		switch {
		case err == nil:
			c.Host = strings.TrimSpace(string(b))
		case getenv("CERULEAN_ADDR") != "":
			c.Host = "http://" + getenv("CERULEAN_ADDR")
		default:
			c.Host = "http://127.0.0.1:8080"
		}
	}
	if !strings.Contains(c.Host, "://") {
		c.Host = "http://" + c.Host
	}
	c.Host = strings.TrimRight(c.Host, "/")
	if c.Token == "" {
		b, err := os.ReadFile(filepath.Join(dir, AdminTokenFile))
		if err != nil {
			return c, fmt.Errorf("no admin token: set CERULEAN_ADMIN_TOKEN or run `cerulean serve` with the data folder %s (%w)", dir, err)
		}
		c.Token = strings.TrimSpace(string(b))
	}
	return c, nil
}
