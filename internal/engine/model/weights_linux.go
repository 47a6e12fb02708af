package model

import (
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// arena is anonymous memory for repacked weights, outside the Go heap.
// On Linux it is mapped with mmap, faulted in with one call, and moved to
// transparent huge pages in the background once the weights are written
// (settle): streaming the weights from 2 MiB pages is what lets the
// kernels read them near the memory bandwidth (decode of the Q8_0 test
// model at one thread 55 tokens/s against 45 from 4 KiB pages), but
// asking for huge pages up front made the first load 1.1-1.4 s instead of
// 0.5 (the kernel compacts memory to find them), so they come after the
// load, while the model already serves.
type arena struct {
	mem     []byte // the whole mapping
	buf     []byte // the n bytes handed out: mem from a 2 MiB boundary
	stop    atomic.Bool
	settled sync.WaitGroup
}

// hugePage is the size of an x86-64 transparent huge page.
const hugePage = 2 << 20

// Advice package syscall lacks.
const (
	madvPopulateWrite = 23 // Linux 5.14: fault pages in, writable, in one call
	madvCollapse      = 25 // Linux 6.1: move a range to huge pages now
)

// newArena maps n bytes of zeroed memory (plus up to a huge page, to start
// the bytes on a 2 MiB boundary) and faults them in (MADV_POPULATE_WRITE;
// advice only: older kernels refuse it and the pages fault in one at a
// time as they are written).
func newArena(n int) (*arena, error) {
	mem, err := syscall.Mmap(-1, 0, n+hugePage, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil, err
	}
	off := 0
	if r := addr(mem) % hugePage; r != 0 {
		off = int(hugePage - r)
	}
	a := &arena{mem: mem, buf: mem[off : off+n : off+n]}
	_ = syscall.Madvise(a.buf, madvPopulateWrite)
	return a, nil
}

// bytes returns the arena's n bytes.
func (a *arena) bytes() []byte { return a.buf }

// settle starts moving the written arena to huge pages in the
// background, 32 MiB at a time so that free can stop it between steps:
// MADV_HUGEPAGE, then MADV_COLLAPSE. Both are advice: without THP, or on
// kernels before 6.1, the pages stay as they are.
func (a *arena) settle() {
	a.settled.Add(1)
	go func() {
		defer a.settled.Done()
		if syscall.Madvise(a.buf, syscall.MADV_HUGEPAGE) != nil {
			return
		}
		const step = 16 * hugePage
		for lo := 0; lo < len(a.buf) && !a.stop.Load(); lo += step {
			if err := syscall.Madvise(a.buf[lo:min(lo+step, len(a.buf))], madvCollapse); err == syscall.EINVAL {
				return // no MADV_COLLAPSE here; khugepaged may still do it
			}
		}
	}()
}

// wait waits for the background work settle started, if any.
func (a *arena) wait() { a.settled.Wait() }

// free stops the background work and unmaps the arena.
func (a *arena) free() error {
	a.stop.Store(true)
	a.settled.Wait()
	return syscall.Munmap(a.mem)
}

// addr returns the address of b's first byte.
func addr(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }
