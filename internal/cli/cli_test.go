package cli

import (
	"context"
	"flag"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ with the current output")

// result is what one run of Main left behind.
type result struct {
	code   int
	stdout string
	stderr string
}

// recorder is an io.Writer that keeps every Write separately, so tests can
// see what was written when.
type recorder struct {
	mu     sync.Mutex
	writes []string
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes = append(r.writes, string(p))
	return len(p), nil
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.writes, "")
}

// env is a map-backed environment.
func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// hostEnv points the client at host with the fake's admin token.
func hostEnv(host string) func(string) string {
	return env(map[string]string{"CERULEAN_HOST": host, "CERULEAN_ADMIN_TOKEN": adminToken})
}

// run runs Main against host with stdin and returns what it printed.
func run(t *testing.T, host, stdin string, args ...string) result {
	t.Helper()
	res, _ := runRecorded(t, hostEnv(host), stdin, args...)
	return res
}

// runRecorded is run with any environment, also returning stdout's writes.
func runRecorded(t *testing.T, getenv func(string) string, stdin string, args ...string) (result, *recorder) {
	t.Helper()
	var stdout, stderr recorder
	code := Main(context.Background(), args, getenv, strings.NewReader(stdin), &stdout, &stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}, &stdout
}

// golden compares got with testdata/NAME.golden, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("output differs from %s (-want +got):\n%s", path, diff)
	}
}

// check compares a run's exit code and stderr, and its stdout with a golden
// file when goldenName is set.
func check(t *testing.T, got result, wantCode int, wantStderr, goldenName string) {
	t.Helper()
	if got.code != wantCode {
		t.Errorf("exit code = %d, want %d (stderr %q)", got.code, wantCode, got.stderr)
	}
	if diff := cmp.Diff(wantStderr, got.stderr); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}
	if goldenName != "" {
		golden(t, goldenName, got.stdout)
	}
}

// refusedHost is the URL of a port nothing listens on.
func refusedHost(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := "http://" + l.Addr().String()
	l.Close()
	return host
}

func TestErrors(t *testing.T) {
	f := newFakeServer(t)
	refused := refusedHost(t)
	tests := []struct {
		name       string
		getenv     func(string) string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{
			name:       "404",
			args:       []string{"project", "show", "nope"},
			wantCode:   1,
			wantStderr: "Error: The project 'nope' does not exist. (ProjectNotFound)\n",
		},
		{
			name:       "409",
			args:       []string{"project", "create", "demo"},
			wantCode:   1,
			wantStderr: "Error: A project named 'demo' already exists. (ProjectAlreadyExists)\n",
		},
		{
			name:     "400 with the server's code",
			args:     []string{"deployment", "create", "-p", "demo", "--name", "big", "--model", "llama3", "--capacity", "120"},
			wantCode: 1,
			wantStderr: "Error: The specified capacity '120' of account deployment is bigger than available capacity '90'" +
				" for UsageName 'Standard.llama3'. (InsufficientQuota)\n",
		},
		{
			name:       "401",
			getenv:     env(map[string]string{"CERULEAN_HOST": f.URL, "CERULEAN_ADMIN_TOKEN": "wrong"}),
			args:       []string{"project", "list"},
			wantCode:   1,
			wantStderr: "Error: The admin token is missing or wrong. (Unauthorized); check CERULEAN_ADMIN_TOKEN\n",
		},
		{
			name:     "connection refused",
			getenv:   hostEnv(refused),
			args:     []string{"project", "list"},
			wantCode: 1,
			wantStderr: "Error: the server at " + refused + " is not reachable; start it with 'cerulean serve'," +
				" or set CERULEAN_HOST to a running server\n",
		},
		{
			name:     "connection refused, host without scheme",
			getenv:   hostEnv(strings.TrimPrefix(refused, "http://")),
			args:     []string{"chat", "-p", "demo", "-d", "chat", "hi"},
			wantCode: 1,
			wantStderr: "Error: the server at " + refused + " is not reachable; start it with 'cerulean serve'," +
				" or set CERULEAN_HOST to a running server\n",
		},
		{
			name:       "unknown command",
			args:       []string{"frobnicate"},
			wantCode:   2,
			wantStderr: "Error: unknown command \"frobnicate\" for \"cerulean\"\nRun 'cerulean --help' for usage.\n",
		},
		{
			name:       "unknown subcommand",
			args:       []string{"project", "frobnicate"},
			wantCode:   2,
			wantStderr: "Error: unknown command \"frobnicate\" for \"cerulean project\"\nRun 'cerulean project --help' for usage.\n",
		},
		{
			name:       "unknown flag",
			args:       []string{"project", "list", "--frob"},
			wantCode:   2,
			wantStderr: "Error: unknown flag: --frob\nRun 'cerulean project list --help' for usage.\n",
		},
		{
			name:       "missing argument",
			args:       []string{"project", "show"},
			wantCode:   2,
			wantStderr: "Error: accepts 1 arg(s), received 0\nRun 'cerulean project show --help' for usage.\n",
		},
		{
			name:       "missing required flag",
			args:       []string{"keys", "list"},
			wantCode:   2,
			wantStderr: "Error: required flag(s) \"project\" not set\nRun 'cerulean keys list --help' for usage.\n",
		},
		{
			name:       "bad output format",
			args:       []string{"project", "list", "-o", "yaml"},
			wantCode:   2,
			wantStderr: "Error: --output \"yaml\": want table or json\nRun 'cerulean project list --help' for usage.\n",
		},
		{
			name:       "no admin token",
			getenv:     env(map[string]string{"CERULEAN_HOST": f.URL, "CERULEAN_DATA": t.TempDir()}),
			args:       []string{"project", "list"},
			wantCode:   1,
			wantStderr: "", // checked by prefix below
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := tt.getenv
			if getenv == nil {
				getenv = hostEnv(f.URL)
			}
			got, _ := runRecorded(t, getenv, "", tt.args...)
			if tt.wantStderr == "" {
				if !strings.HasPrefix(got.stderr, "Error: no admin token: set CERULEAN_ADMIN_TOKEN") || strings.Count(got.stderr, "\n") != 1 {
					t.Errorf("stderr = %q, want one line about the admin token", got.stderr)
				}
				tt.wantStderr = got.stderr
			}
			check(t, got, tt.wantCode, tt.wantStderr, "")
			if got.stdout != "" {
				t.Errorf("stdout = %q, want nothing", got.stdout)
			}
		})
	}
}

func TestHelpAndVersion(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // in stdout
	}{
		{name: "no arguments", args: nil, want: "Available Commands:"},
		{name: "--help", args: []string{"--help"}, want: "deployment"},
		{name: "group without subcommand", args: []string{"deployment"}, want: "cerulean deployment [command]"},
		{name: "version", args: []string{"version"}, want: "cerulean "},
		{name: "version json", args: []string{"version", "-o", "json"}, want: `"platform": "`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// No server and no token: these commands need neither.
			got, _ := runRecorded(t, env(nil), "", tt.args...)
			check(t, got, 0, "", "")
			if !strings.Contains(got.stdout, tt.want) {
				t.Errorf("stdout = %q, want it to contain %q", got.stdout, tt.want)
			}
		})
	}
}

func TestInterrupted(t *testing.T) {
	f := newFakeServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr recorder
	code := Main(ctx, []string{"project", "list"}, hostEnv(f.URL), strings.NewReader(""), &stdout, &stderr)
	check(t, result{code: code, stdout: stdout.String(), stderr: stderr.String()}, 130, "Error: interrupted\n", "")
}
