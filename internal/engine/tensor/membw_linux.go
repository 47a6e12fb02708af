package tensor

import (
	"syscall"
	"unsafe"
)

// hugePage is the size of an x86-64 (and arm64 4K-granule) transparent
// huge page.
const hugePage = 2 << 20

// probeBuffer returns n bytes of anonymous memory starting on a 2 MiB
// boundary and asks for transparent huge pages before they are touched,
// so that a bandwidth probe streams memory the way the engine's repacked
// weights are streamed once settled (from 2 MiB pages, without a TLB miss
// per 4 KiB); free unmaps it. Without THP the pages are ordinary ones.
func probeBuffer(n int) (buf []byte, free func()) {
	mem, err := syscall.Mmap(-1, 0, n+hugePage, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]byte, n), func() {}
	}
	off := 0
	if r := uintptr(unsafe.Pointer(unsafe.SliceData(mem))) % hugePage; r != 0 {
		off = int(hugePage - r)
	}
	buf = mem[off : off+n : off+n]
	_ = syscall.Madvise(buf, syscall.MADV_HUGEPAGE) // advice: ignored without THP
	return buf, func() { _ = syscall.Munmap(mem) }
}
