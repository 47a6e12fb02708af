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

// TestAttendGroupF16AVX2 checks AttendGroupF16's path for CPUs with AVX2
// but no AVX-512 (rows widened with F16C into the per-head AVX2 kernels).
func TestAttendGroupF16AVX2(t *testing.T) {
	if !useAsm {
		t.Skip("no AVX2")
	}
	defer func(v bool) { useAVX512 = v }(useAVX512)
	useAVX512 = false
	checkAttendGroupF16(t)
}

// TestAttendGroupF16Go checks AttendGroupF16's pure-Go path against
// AttendGroup's, on amd64 (the purego build runs TestAttendGroupF16 on it
// too).
func TestAttendGroupF16Go(t *testing.T) {
	defer func(a, b bool) { useAsm, useAVX512 = a, b }(useAsm, useAVX512)
	useAsm, useAVX512 = false, false
	checkAttendGroupF16(t)
}
