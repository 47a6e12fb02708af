// Command asm generates the AVX2/FMA dot-product kernels of package tensor
// (dot_amd64.s and its Go stubs dot_amd64.go) with avo. Run it through
// go generate in the tensor directory:
//
//	go run ./asm -out dot_amd64.s -stubs dot_amd64.go -pkg tensor
//
// The dot kernels have the signature of tensor.DotFunc, func(n int, w, x
// []byte) float32; the tile kernels (tile.go) compute several rows times
// several vectors per call, and the activation quantizers (act.go) encode
// float32 activations as Q8_0 or Q8_K. All trust their arguments: the Go
// callers check that the slices hold what the kernel reads and writes.
//
// The int8 kernels follow the approach of ggml's AVX2 code: per block,
// VPMADDUBSW multiplies unsigned by signed bytes into int16 pairs (Q8_0
// weights are made unsigned with VPSIGNB, moving their sign onto the
// activations; Q4_0 and Q5_0 weights are unsigned with an offset, which
// is subtracted per activation block), VPMADDWD widens to int32, and the
// int32 sums are scaled in float.
package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

func main() {
	ConstraintExpr("amd64,!purego")
	genConstants()
	genOnes()
	genPackPerm()
	genF32()
	genF16()
	genBF16()
	genQ8_0()
	genVNNI()
	genRepack()
	genRepackAVX2()
	genQ4_0()
	genQ5_0()
	genQ4_K()
	genQ4_KTile()
	genQ5_K()
	genQ6_K()
	genQ6_Kx4()
	genSum()
	genAxpy()
	genActQ8_0()
	genActQ8_K()
	genQ4_Kx8()
	genQ6_Kx8()
	Generate()
}

// Read-only constants, set up by genConstants.
var (
	// q5Spread moves byte j/8 of a broadcast uint32 to byte j (VPSHUFB
	// works per 128-bit lane, and every lane holds the uint32 at 0..3).
	q5Spread Mem
	// q5Bits holds 1<<(j%8) in byte j, to pick bit j of the spread word.
	q5Bits Mem
	// k4Shuf[i] broadcasts the int16 at word i of each 128-bit lane to
	// the whole 256-bit register (lane 0 and lane 1 alike).
	k4Shuf [8]Mem
	// k6Shuf[g] broadcasts int16 word 2g in the low lane and word 2g+1 in
	// the high lane.
	k6Shuf [4]Mem
)

func genConstants() {
	q5Spread = GLOBL("q5spread", RODATA|NOPTR)
	for j := 0; j < 32; j++ {
		DATA(j, U8(j/8))
	}
	q5Bits = GLOBL("q5bits", RODATA|NOPTR)
	for j := 0; j < 32; j++ {
		DATA(j, U8(1<<(j%8)))
	}
	for i := range k4Shuf {
		k4Shuf[i] = GLOBL("k4shuf"+string(rune('0'+i)), RODATA|NOPTR)
		for j := 0; j < 32; j += 2 {
			DATA(j, U8(2*i))
			DATA(j+1, U8(2*i+1))
		}
	}
	for g := range k6Shuf {
		k6Shuf[g] = GLOBL("k6shuf"+string(rune('0'+g)), RODATA|NOPTR)
		for j := 0; j < 32; j += 2 {
			w := 2 * g
			if j >= 16 {
				w++
			}
			DATA(j, U8(2*w))
			DATA(j+1, U8(2*w+1))
		}
	}
}

// dotParams loads the parameters of a DotFunc: n and the base pointers of w
// and x.
func dotParams() (n, w, x Register) {
	n = Load(Param("n"), GP64())
	w = Load(Param("w").Base(), GP64())
	x = Load(Param("x").Base(), GP64())
	return n, w, x
}

// byteConst returns a YMM register with every byte set to v.
func byteConst(v uint8) VecVirtual {
	r := GP32()
	MOVL(U32(uint32(v)), r)
	y := YMM()
	VMOVD(r, y.AsX())
	VPBROADCASTB(y.AsX(), y)
	return y
}

// zero clears the vector registers.
func zero(regs ...VecVirtual) {
	for _, r := range regs {
		VPXOR(r, r, r)
	}
}

// sumPS adds the accumulators into acc[0] and reduces its eight float32
// lanes to lane 0 of the returned XMM register.
func sumPS(acc []VecVirtual) VecVirtual {
	for len(acc) > 1 {
		half := len(acc) / 2
		for i := 0; i < half; i++ {
			VADDPS(acc[i+half], acc[i], acc[i])
		}
		if len(acc)%2 == 1 {
			VADDPS(acc[len(acc)-1], acc[0], acc[0])
		}
		acc = acc[:half]
	}
	t := XMM()
	VEXTRACTF128(U8(1), acc[0], t)
	VADDPS(acc[0].AsX(), t, t)
	VHADDPS(t, t, t)
	VHADDPS(t, t, t)
	return t
}

// sumD reduces the eight int32 lanes of y to lane 0 of the returned XMM
// register (exactly, with wrap-around).
func sumD(y VecVirtual) VecVirtual {
	t, u := XMM(), XMM()
	VEXTRACTI128(U8(1), y, t)
	VPADDD(y.AsX(), t, t)
	VPSHUFD(U8(0x4e), t, u)
	VPADDD(u, t, t)
	VPSHUFD(U8(0xb1), t, u)
	VPADDD(u, t, t)
	return t
}

// halfScalar loads the binary16 at m into lane 0 of an XMM register as a
// float32.
func halfScalar(m Mem) VecVirtual {
	t := XMM()
	VPBROADCASTW(m, t)
	VCVTPH2PS(t, t)
	return t
}

// halfBroadcast loads the binary16 at m into all eight lanes of a YMM
// register as float32.
func halfBroadcast(m Mem) VecVirtual {
	t := XMM()
	VPBROADCASTW(m, t)
	y := YMM()
	VCVTPH2PS(t, y)
	return y
}
