//go:build !linux

package model

// allocWeights returns n bytes for repacked weights from the Go heap,
// and a function that does nothing (the garbage collector frees them).
func allocWeights(n int) ([]byte, func() error, error) {
	return make([]byte, n), func() error { return nil }, nil
}
