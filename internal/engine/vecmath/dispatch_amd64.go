//go:build amd64 && !purego

package vecmath

import "golang.org/x/sys/cpu"

//go:generate go run ./asm -out vec_amd64.s -stubs vec_amd64.go -pkg vecmath

// useAsm selects the AVX2/FMA kernels, and the F16C conversions
// (VCVTPH2PS, VCVTPS2PH) of the binary16 functions: every CPU with AVX2
// known has F16C (package tensor requires the three together too).
// x/sys/cpu reports AVX2 only when the OS saves the YMM registers.
var useAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C

// useAVX512 selects AttendGroup's kernels, which also use EVEX-encoded
// instructions on ZMM registers and on Y16-Y31 (AVX512F and AVX512VL,
// and AVX512DQ for VXORPS).
var useAVX512 = useAsm && cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512DQ
