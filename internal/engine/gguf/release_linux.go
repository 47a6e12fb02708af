package gguf

import (
	"os"
	"syscall"
	"unsafe"
)

// releasePages drops the whole pages of mapping that lie inside b from
// the process's resident memory (MADV_DONTNEED: the shared, read-only
// file pages stay in the page cache and fault back in if read again).
func releasePages(mapping, b []byte) {
	if len(b) == 0 || len(mapping) == 0 {
		return
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(mapping)))
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	if start < base || start-base > uintptr(len(mapping)-len(b)) {
		return // not inside the mapping
	}
	page := uintptr(os.Getpagesize())
	lo := (start - base + page - 1) / page * page
	hi := (start - base + uintptr(len(b))) / page * page
	if lo < hi {
		_ = syscall.Madvise(mapping[lo:hi], syscall.MADV_DONTNEED) // advice only
	}
}
