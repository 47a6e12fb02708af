//go:build !linux

package tensor

// probeBuffer returns n bytes of Go memory (the Linux version asks for
// huge pages); free does nothing.
func probeBuffer(n int) (buf []byte, free func()) { return make([]byte, n), func() {} }
