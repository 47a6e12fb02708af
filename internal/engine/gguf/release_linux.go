package gguf

import (
	"os"
	"syscall"
	"unsafe"
)

// Advice package syscall lacks (Linux 5.14).
const madvPopulateRead = 22

// populatePages faults the pages of mapping that hold any byte of b in
// with one call (MADV_POPULATE_READ; advice only: older kernels refuse it
// and the pages fault in one at a time when read).
func populatePages(mapping, b []byte) {
	if lo, hi, ok := pageRange(mapping, b, false); ok {
		_ = syscall.Madvise(mapping[lo:hi], madvPopulateRead)
	}
}

// releasePages drops the whole pages of mapping that lie inside b from
// the process's resident memory (MADV_DONTNEED: the shared, read-only
// file pages stay in the page cache and fault back in if read again).
func releasePages(mapping, b []byte) {
	if lo, hi, ok := pageRange(mapping, b, true); ok {
		_ = syscall.Madvise(mapping[lo:hi], syscall.MADV_DONTNEED) // advice only
	}
}

// pageRange returns the offsets in mapping of the pages inside b (inner)
// or of those holding any byte of b (outer), and false if there are none
// or b is not within mapping.
func pageRange(mapping, b []byte, inner bool) (lo, hi int, ok bool) {
	if len(b) == 0 || len(mapping) == 0 {
		return 0, 0, false
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(mapping)))
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	if start < base || start-base > uintptr(len(mapping)-len(b)) {
		return 0, 0, false // not inside the mapping
	}
	page := uintptr(os.Getpagesize())
	first, end := start-base, start-base+uintptr(len(b))
	if inner {
		first, end = (first+page-1)/page*page, end/page*page
	} else {
		first, end = first/page*page, min((end+page-1)/page*page, uintptr(len(mapping)))
	}
	return int(first), int(end), first < end
}
