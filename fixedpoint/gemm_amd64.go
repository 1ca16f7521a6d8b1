//go:build !purego

package fixedpoint

import "golang.org/x/sys/cpu"

// The amd64 kernels (kernels_amd64.s, written by gen.go): AVX-512 VNNI
// (VPDPBUSD on YMM registers, which needs AVX512VL as well) where the CPU
// has it, else AVX2 (VPMOVSXBW + VPMADDWD, exact where VPMADDUBSW would
// saturate); both requantise with AVX2.
var (
	hasAVX2 = cpu.X86.HasAVX2
	hasVNNI = hasAVX2 && cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512VNNI
	// hasOne512: rqOne512 (byte clamps and stores) needs AVX512BW too.
	hasOne512 = hasVNNI && cpu.X86.HasAVX512BW
)

var vnniISA = &isa{
	name:   "vnni",
	wide:   &gemmKernel{id: kVNNI16, name: "vnni16", nr: 16, grp: 4, mr: mrVNNI16, xor: true},
	narrow: &gemmKernel{id: kVNNI8, name: "vnni8", nr: 8, grp: 4, mr: mrVNNI8, xor: true},
	tri:    &gemmKernel{id: kVNNI24, name: "vnni24", nr: 24, grp: 4, mr: mrVNNI24, xor: true},
	rq:     outAVX512,
}

var avx2ISA = &isa{
	name:   "avx2",
	wide:   &gemmKernel{id: kAVX2x16, name: "avx2x16", nr: 16, grp: 2, mr: mrAVX2x16},
	narrow: &gemmKernel{id: kAVX2x8, name: "avx2x8", nr: 8, grp: 2, mr: mrAVX2x8},
	rq:     outAVX2,
}

// archISAs lists the assembly kernels usable on this CPU, best first.
func archISAs() []*isa {
	var s []*isa
	if hasVNNI {
		s = append(s, vnniISA)
	}
	if hasAVX2 {
		s = append(s, avx2ISA)
	}
	return s
}

// asmRequant runs the requantisation kernel kind on m rows of nch chunks
// of eight channels, the first one channel c0 of o (see outStage.rows).
// Rows of a single chunk go to AVX2: the AVX-512 kernel would run them
// half masked, slower.
func asmRequant(kind outKind, m, nch int, c *int32, ldc int, y *int8, ldy int, o *outStage, c0 int) {
	if kind == outAVX512 && nch > 1 {
		last := 0xffff // lanes of the last chunk of 16
		if nch%2 == 1 {
			last = 0xff
		}
		rqAVX512(m, (nch+1)/2, last, c, ldc, y, ldy, &o.p16[c0/16*rq512Stride], o.zp, o.lo, o.hi)
		return
	}
	rqAVX2(m, nch, c, ldc, y, ldy, &o.p[c0/8*rqStride], o.zp, o.lo, o.hi)
}

// asmRequantOne runs rqOne512 on m rows of n channels, the first one
// channel c0 (a multiple of 16) of o (see outStage.rows).
func asmRequantOne(m, n int, c *int32, ldc int, y *int8, ldy int, o *outStage, c0 int) {
	last := 0xffff
	if n%16 != 0 {
		last = 1<<(n%16) - 1
	}
	rqOne512(m, (n+15)/16, last, c, ldc, y, ldy, &o.one[c0/16*rqOneStride], o.lo, o.hi)
}

func asmRequantOne8(m, nch int, c *int32, ldc int, y *int8, ldy int, o *outStage, c0 int) {
	panic("fixedpoint: no rqOneNEON in this build")
}

// poolRow max-pools as many of the ow output pixels of one row (c
// channels, input rows r0 and r1) as the assembly can, from the left, and
// returns how many.
func poolRow(ow, c int, r0, r1, y []int8) int {
	if !hasAVX2 {
		return 0
	}
	_, _, _ = r0[2*ow*c-1], r1[2*ow*c-1], y[ow*c-1]
	switch {
	case c%32 == 0:
		mpAVX2x32(ow, c, &r0[0], &r1[0], &y[0])
		return ow
	case c%16 == 0:
		mpAVX2x16(ow, c, &r0[0], &r1[0], &y[0])
		return ow
	case c == 8 && ow >= 2:
		mpAVX2c8(ow/2, &r0[0], &r1[0], &y[0])
		return ow / 2 * 2
	}
	return 0
}

// dwInt16 tells whether the depthwise kernel takes int16 weights.
const dwInt16 = false

// dwBlocks runs the depthwise kernel on cb blocks of 8 channels of n
// pixels (see depthwiseConv2D.dwGo); w32 starts at the first channel (w16
// and c0 are for the arm64 kernel).
func dwBlocks(n, cb int, x *int8, xs int, taps []int, w32 []int32, w16 []int16, c0 int, bias *int32, zp int32, acc *int32, ldc int) {
	dwAVX2(n, cb, x, xs, len(taps)/2, &taps[0], &w32[0], bias, zp, acc, 4*ldc)
}
