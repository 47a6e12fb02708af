//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package gguf

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// mapFile maps the file at path read-only into memory. The returned
// function unmaps it; mapped reports that the bytes are a mapping.
func mapFile(path string) (_ []byte, _ func() error, mapped bool, _ error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, nil, false, err
	}
	defer fd.Close()
	st, err := fd.Stat()
	if err != nil {
		return nil, nil, false, err
	}
	size := st.Size()
	if !st.Mode().IsRegular() {
		return nil, nil, false, errors.New("not a regular file")
	}
	if size == 0 {
		return []byte{}, func() error { return nil }, false, nil
	}
	if size != int64(int(size)) {
		return nil, nil, false, fmt.Errorf("file of %d bytes is too large to map", size)
	}
	b, err := syscall.Mmap(int(fd.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, false, fmt.Errorf("mmap: %w", err)
	}
	return b, func() error { return syscall.Munmap(b) }, true, nil
}
