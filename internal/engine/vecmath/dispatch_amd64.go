//go:build amd64 && !purego

package vecmath

import "golang.org/x/sys/cpu"

//go:generate go run ./asm -out vec_amd64.s -stubs vec_amd64.go -pkg vecmath

// useAsm selects the AVX2/FMA kernels. x/sys/cpu reports AVX2 only when
// the OS saves the YMM registers.
var useAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA
