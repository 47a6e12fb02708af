package testenv_test

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/cerulean-ai/cerulean/internal/cli"
)

// The test binary doubles as the cerulean binary: the server starts
// ManagedCompute replicas as `os.Executable() worker ...`, which lands
// here and runs the real worker command.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "worker" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := cli.Main(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}
