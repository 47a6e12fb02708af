//go:build !linux

package gguf

// populatePages and releasePages do nothing here: only Linux's madvise
// advice is used, so elsewhere pages fault in as they are read and a
// copied tensor's file pages stay resident until Close.
func populatePages(mapping, b []byte) {}
func releasePages(mapping, b []byte)  {}
