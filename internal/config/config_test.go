package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cerulean-ai/cerulean/internal/engine/kvcache"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c := Defaults(env(map[string]string{"HOME": "/home/u"}))
	if c.Addr != "127.0.0.1:8080" || c.DataDir != "/home/u/.local/share/cerulean" || !c.Demo || c.KVCacheType != kvcache.F16 {
		t.Errorf("defaults = %+v", c)
	}
	c = Defaults(env(map[string]string{"XDG_DATA_HOME": "/x", "CERULEAN_ADDR": "0.0.0.0:9", "CERULEAN_DEMO": "0", "CERULEAN_ADMIN_TOKEN": "t"}))
	if c.Addr != "0.0.0.0:9" || c.DataDir != "/x/cerulean" || c.Demo || c.AdminToken != "t" {
		t.Errorf("from env = %+v", c)
	}
	if c := Defaults(env(map[string]string{"CERULEAN_DATA": "/d"})); c.DataDir != "/d" {
		t.Errorf("CERULEAN_DATA: %q", c.DataDir)
	}
	if c := Defaults(env(map[string]string{"CERULEAN_KV_CACHE_TYPE": "F32"})); c.KVCacheType != kvcache.F32 {
		t.Errorf("CERULEAN_KV_CACHE_TYPE=F32: %v", c.KVCacheType)
	}
	bad := Defaults(env(map[string]string{"HOME": "/h", "CERULEAN_KV_CACHE_TYPE": "q8_0"}))
	if err := bad.Validate(); err == nil {
		t.Error("CERULEAN_KV_CACHE_TYPE=q8_0 validates")
	}
}

func TestValidate(t *testing.T) {
	good := Defaults(env(map[string]string{"HOME": "/h"}))
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, mutate := range []func(*Config){
		func(c *Config) { c.Addr = "nohost" },
		func(c *Config) { c.DataDir = "" },
		func(c *Config) { c.LogLevel = "loud" },
		func(c *Config) { c.Deployment = "d" },
		func(c *Config) { c.Threads = -1 },
		func(c *Config) { c.ShutdownTimeout = 0 },
	} {
		c := good
		mutate(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil", c)
		}
	}
}

func TestClientFromEnv(t *testing.T) {
	dir := t.TempDir()
	if _, err := ClientFromEnv(env(map[string]string{"CERULEAN_DATA": dir})); err == nil {
		t.Error("no token anywhere, but no error")
	}
	os.WriteFile(filepath.Join(dir, AdminTokenFile), []byte("tok\n"), 0o600)
	os.WriteFile(filepath.Join(dir, AddressFile), []byte("http://127.0.0.1:1234\n"), 0o600)
	c, err := ClientFromEnv(env(map[string]string{"CERULEAN_DATA": dir}))
	if err != nil || c.Host != "http://127.0.0.1:1234" || c.Token != "tok" {
		t.Errorf("from the data folder: %+v, %v", c, err)
	}
	c, err = ClientFromEnv(env(map[string]string{"CERULEAN_DATA": dir, "CERULEAN_HOST": "example:80/", "CERULEAN_ADMIN_TOKEN": "x"}))
	if err != nil || c.Host != "http://example:80" || c.Token != "x" {
		t.Errorf("from env: %+v, %v", c, err)
	}
}
