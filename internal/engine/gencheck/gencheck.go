// Package gencheck checks, from a package's tests, that the assembly an
// avo generator writes is committed as generated.
package gencheck

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// UpToDate builds the generator in ./asm of the test's package directory,
// runs it to write asm and stubs (the assembly and its Go declarations,
// for package pkg) into a temporary directory, and fails t if either
// differs from the committed file of that name: someone edited a
// generated file by hand or changed the generator without running go
// generate. It skips in -short mode and without a go command.
func UpToDate(t *testing.T, pkg, asm, stubs string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the generator")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	dir := t.TempDir()
	gen := filepath.Join(dir, "asmgen")
	if out, err := exec.Command(goTool, "build", "-o", gen, "./asm").CombinedOutput(); err != nil {
		t.Fatalf("building the generator: %v\n%s", err, out)
	}
	cmd := exec.Command(gen, "-out", asm, "-stubs", stubs, "-pkg", pkg)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("running the generator: %v\n%s", err, out)
	}
	for _, name := range []string{asm, stubs} {
		want, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the generator's output: run go generate in the package's directory", name)
		}
	}
}
