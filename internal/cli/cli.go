// Package cli is the cerulean command: `serve` runs the server, every other
// subcommand is a client of the management API through package api.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/cerulean-ai/cerulean/api"
	"github.com/cerulean-ai/cerulean/internal/config"
)

// Exit codes of Main.
const (
	exitOK          = 0
	exitError       = 1   // the command ran and failed
	exitUsage       = 2   // bad command line
	exitInterrupted = 130 // the context was canceled (Ctrl-C)
)

// Env is what a command may use of the process: its environment and its
// standard streams. Nothing in this package reads os.* directly.
type Env struct {
	Getenv func(string) string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// Client builds a management API client from CERULEAN_HOST and
// CERULEAN_ADMIN_TOKEN (or the files a local server left in its data
// folder). Commands call it when they run, so `serve` and `version` never
// need a server or a token.
func (e *Env) Client() (*api.Client, error) {
	cc, err := config.ClientFromEnv(e.Getenv)
	if err != nil {
		return nil, err
	}
	return api.New(cc.Host, cc.Token), nil
}

// Main runs the cerulean command with args (without the program name, as
// os.Args[1:]) and returns the process exit code: 0 on success, 1 when the
// command failed, 2 on a usage error, 130 when ctx was canceled.
func Main(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{env: &Env{Getenv: getenv, Stdin: stdin, Stdout: stdout, Stderr: stderr}}
	root := a.rootCmd()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	code := a.exitCode(ctx, err)
	fmt.Fprintln(stderr, "Error: "+a.message(err))
	if code == exitUsage && cmd != nil {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return code
}

// app is one run of Main: the flags every command shares and the lazily
// built API client. It is built per call, so nothing is global.
type app struct {
	env    *Env
	output string // -o: "table" or "json"

	client *api.Client
	ran    bool // a command's RunE was reached: later errors are not usage errors
}

// api returns the management client, building it on first use.
func (a *app) api() (*api.Client, error) {
	if a.client == nil {
		c, err := a.env.Client()
		if err != nil {
			return nil, err
		}
		a.client = c
	}
	return a.client, nil
}

// run adapts a command body that needs the API client to cobra's RunE.
func (a *app) run(body func(ctx context.Context, c *api.Client, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		c, err := a.api()
		if err != nil {
			return err
		}
		return body(cmd.Context(), c, args)
	}
}

// host is the server the client talks to, for error messages.
func (a *app) host() string {
	if a.client != nil {
		return a.client.BaseURL()
	}
	return "CERULEAN_HOST"
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "cerulean",
		Short: "Cerulean: deploy models on your own machines behind an Azure OpenAI-compatible API",
		Long: `Cerulean deploys models on your own machines behind an Azure OpenAI- and
OpenAI-compatible API. 'cerulean serve' runs the server; the other commands
manage it through its management API.

The client commands find the server through CERULEAN_HOST (default: the
address a local 'cerulean serve' wrote to its data folder) and authenticate
with CERULEAN_ADMIN_TOKEN (default: the token in the data folder).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(a.env.Stdin)
	root.SetOut(a.env.Stdout)
	root.SetErr(a.env.Stderr)
	root.PersistentFlags().StringVarP(&a.output, "output", "o", "table", "output format: table or json")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.CompletionOptions.DisableDefaultCmd = true

	root.AddCommand(
		newServeCmd(a.env),
		newWorkerCmd(a.env),
		a.projectCmd(),
		a.keysCmd(),
		a.modelsCmd(),
		a.deploymentCmd(),
		a.logsCmd(),
		a.hubCmd(),
		a.usageCmd(),
		a.budgetCmd(), a.alertCmd(),
		a.chatCmd(),
		a.benchCmd(),
		a.versionCmd(),
	)
	a.wrapRun(root)
	return root
}

// wrapRun makes every command of the tree note that it started running
// and check the shared flags first. Cobra has parsed the flags and checked
// the arguments and required flags by then, so an error before this point is
// a usage error and one after it is not, unless it is a usageError.
func (a *app) wrapRun(cmd *cobra.Command) {
	if run := cmd.RunE; run != nil {
		cmd.RunE = func(cmd *cobra.Command, args []string) error {
			a.ran = true
			if a.output != "table" && a.output != "json" {
				return usageError{fmt.Errorf("--output %q: want table or json", a.output)}
			}
			return run(cmd, args)
		}
	}
	if run := cmd.Run; run != nil {
		cmd.Run = func(cmd *cobra.Command, args []string) {
			a.ran = true
			run(cmd, args)
		}
	}
	for _, c := range cmd.Commands() {
		a.wrapRun(c)
	}
}

// usageError is a bad command line: exit code 2 and a pointer to --help.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef makes a usageError.
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

func (a *app) exitCode(ctx context.Context, err error) int {
	var ue usageError
	switch {
	case errors.As(err, &ue) || !a.ran:
		return exitUsage
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		return exitInterrupted
	default:
		return exitError
	}
}

// message is the one line printed for err.
func (a *app) message(err error) string {
	var apiErr *api.Error
	var opErr *net.OpError
	switch {
	case errors.As(err, &apiErr):
		msg := apiErr.Error()
		if apiErr.Status == http.StatusUnauthorized {
			msg += "; check CERULEAN_ADMIN_TOKEN"
		}
		return msg
	case errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &opErr) && opErr.Op == "dial":
		return fmt.Sprintf("the server at %s is not reachable; start it with 'cerulean serve', or set CERULEAN_HOST to a running server", a.host())
	case errors.Is(err, context.Canceled):
		return "interrupted"
	}
	return strings.TrimSpace(err.Error())
}
