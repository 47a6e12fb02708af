package model

import "syscall"

// allocWeights returns n bytes of zeroed anonymous memory for repacked
// weights, outside the Go heap, and the function that frees it. The pages
// are faulted in with one call (MADV_POPULATE_WRITE, Linux 5.14; advice
// only, older kernels refuse it and fault them in one at a time).
func allocWeights(n int) ([]byte, func() error, error) {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil, nil, err
	}
	_ = syscall.Madvise(b, madvPopulateWrite)
	return b, func() error { return syscall.Munmap(b) }, nil
}

// madvPopulateWrite is MADV_POPULATE_WRITE, which package syscall lacks:
// fault every page in, writable, in one call.
const madvPopulateWrite = 23
