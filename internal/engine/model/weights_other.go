//go:build !linux

package model

// arena is memory for repacked weights, from the Go heap here (the
// garbage collector frees it).
type arena struct{ buf []byte }

func newArena(n int) (*arena, error) { return &arena{buf: make([]byte, n)}, nil }

func (a *arena) bytes() []byte { return a.buf }
func (a *arena) settle()       {}
func (a *arena) wait()         {}
func (a *arena) free() error   { return nil }
