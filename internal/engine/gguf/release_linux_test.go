package gguf

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// rssFileKiB returns RssFile + RssShmem of /proc/self/status: the
// process's resident file-backed memory (a temporary directory may be on
// tmpfs, whose pages count as shared memory).
func rssFileKiB(t *testing.T) int {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	total, found := 0, 0
	for s.Scan() {
		for _, key := range []string{"RssFile:", "RssShmem:"} {
			if v, ok := strings.CutPrefix(s.Text(), key); ok {
				n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
				if err != nil {
					t.Fatal(err)
				}
				total += n
				found++
			}
		}
	}
	if found != 2 {
		t.Skip("no RssFile and RssShmem in /proc/self/status")
	}
	return total
}

// TestReleasePages checks that released pages of a mapped file leave the
// process's resident memory, come back when populated, and still read
// back the file's bytes, and that bytes outside the mapping are left
// alone.
func TestReleasePages(t *testing.T) {
	const size = 32 << 20
	want := make([]byte, size)
	for i := range want {
		want[i] = byte(i*7 + i>>12)
	}
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, want, 0o600); err != nil {
		t.Fatal(err)
	}
	b, unmap, mapped, err := mapFile(path)
	if err != nil || !mapped {
		t.Fatalf("mapFile: mapped %v, %v", mapped, err)
	}
	defer unmap()
	start := rssFileKiB(t)
	var sum int
	for i := 0; i < size; i += 4096 {
		sum += int(b[i]) // fault every page in
	}
	if sum < 0 {
		t.Fatal("unreachable; keeps the loads")
	}
	before := rssFileKiB(t)
	if before-start < 24<<10 {
		t.Fatalf("RssFile went from %d to %d KiB reading the mapping; want a rise of about 32 MiB", start, before)
	}
	releasePages(b, make([]byte, 1<<20)) // not in the mapping: ignored
	releasePages(b, b[100:size-100])
	after := rssFileKiB(t)
	if drop := before - after; drop < 24<<10 {
		t.Errorf("RssFile went from %d to %d KiB; want a drop of about 32 MiB", before, after)
	}
	// Populating faults them back in without touching them.
	populatePages(b, b[100:size-100])
	if again := rssFileKiB(t); again-after < 24<<10 {
		t.Errorf("RssFile went from %d to %d KiB populating the released pages; want a rise of about 32 MiB", after, again)
	}
	if string(b) != string(want) {
		t.Error("released pages read back different bytes")
	}
}
