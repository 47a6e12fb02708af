//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package gguf

import "os"

// mapFile reads the whole file at path; this platform has no mmap support
// here. The returned function does nothing.
func mapFile(path string) (_ []byte, _ func() error, mapped bool, _ error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, false, err
	}
	return b, func() error { return nil }, false, nil
}
