//go:build !linux

package gguf

// releasePages does nothing here: only Linux's MADV_DONTNEED is used to
// drop mapped pages, so elsewhere a copied tensor's file pages stay
// resident until Close.
func releasePages(mapping, b []byte) {}
