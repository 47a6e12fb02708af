//go:build amd64 && !purego

package vecmath

import "testing"

// TestAttendGroupAVX2 checks AttendGroup's path for CPUs with AVX2 but no
// AVX-512 (the per-head AVX2 kernels) on any amd64 CPU with AVX2.
func TestAttendGroupAVX2(t *testing.T) {
	if !useAsm {
		t.Skip("no AVX2")
	}
	defer func(v bool) { useAVX512 = v }(useAVX512)
	useAVX512 = false
	checkAttendGroup(t)
}
