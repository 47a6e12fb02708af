package model

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// anonHugeKiB returns AnonHugePages of /proc/self/smaps_rollup.
func anonHugeKiB(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/smaps_rollup")
	if err != nil {
		t.Skipf("no /proc/self/smaps_rollup: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "AnonHugePages:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Skip("no AnonHugePages in /proc/self/smaps_rollup")
	return 0
}

// TestArena checks that an arena's bytes start on a huge-page boundary,
// are zeroed and writable, move to huge pages once settled where the
// kernel can (THP and MADV_COLLAPSE), and that freeing while that runs
// stops it.
func TestArena(t *testing.T) {
	const n = 24<<20 + 123
	a, err := newArena(n)
	if err != nil {
		t.Fatal(err)
	}
	b := a.bytes()
	if len(b) != n || addr(b)%hugePage != 0 {
		t.Fatalf("arena of %d bytes at %#x; want %d on a 2 MiB boundary", len(b), addr(b), n)
	}
	if !bytes.Equal(b[:4096], make([]byte, 4096)) || b[n-1] != 0 {
		t.Fatal("arena not zeroed")
	}
	for i := range b {
		b[i] = byte(i)
	}
	before := anonHugeKiB(t)
	a.settle()
	a.wait()
	after := anonHugeKiB(t)
	for i := 0; i < n; i += 4093 {
		if b[i] != byte(i) {
			t.Fatalf("byte %d changed moving to huge pages", i)
		}
	}
	t.Logf("AnonHugePages %d → %d KiB", before, after)
	if after-before < 16<<10 {
		probe, err := syscall.Mmap(-1, 0, 2*hugePage, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
		if err != nil {
			t.Fatal(err)
		}
		defer syscall.Munmap(probe)
		if thp, _ := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled"); bytes.Contains(thp, []byte("[never]")) || len(thp) == 0 ||
			syscall.Madvise(probe, syscall.MADV_HUGEPAGE) != nil || syscall.Madvise(probe, madvCollapse) == syscall.EINVAL {
			t.Logf("no transparent huge pages or MADV_COLLAPSE here (THP %q)", strings.TrimSpace(string(thp)))
		} else {
			t.Errorf("AnonHugePages rose by %d KiB settling 24 MiB, want at least 16 MiB", after-before)
		}
	}
	if err := a.free(); err != nil {
		t.Fatal(err)
	}

	// Free at once after settle: stops between steps, never after unmap.
	for range 3 {
		a, err := newArena(64 << 20)
		if err != nil {
			t.Fatal(err)
		}
		a.settle()
		if err := a.free(); err != nil {
			t.Fatal(err)
		}
	}
}
