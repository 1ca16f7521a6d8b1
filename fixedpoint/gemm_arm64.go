//go:build !purego

package fixedpoint

import "golang.org/x/sys/cpu"

// The arm64 kernels (kernels_arm64.s, written by gen.go): SDOT where the
// CPU has the dot-product extension (cpu.ARM64.HasASIMDDP: Cortex-A76, as
// in the Raspberry Pi 5), else SMLAL by element on int16-widened operands
// (Cortex-A72, as in the Pi 4), whose fused twins (smlalOne) requantise
// in their epilogue where one rounding does (igemm.fused); both
// requantise, pool and run the depthwise convolution with plain ASIMD.
var (
	hasASIMD = cpu.ARM64.HasASIMD
	hasSDOT  = hasASIMD && cpu.ARM64.HasASIMDDP
)

var sdotISA = &isa{
	name:   "sdot",
	wide:   &gemmKernel{id: kSDOT16, name: "sdot16", nr: 16, grp: 4, mr: mrSDOT16},
	narrow: &gemmKernel{id: kSDOT8, name: "sdot8", nr: 8, grp: 4, mr: mrSDOT8},
	rq:     outNEON,
}

var smlalISA = &isa{
	name:   "smlal",
	wide:   &gemmKernel{id: kSMLAL16, name: "smlal16", nr: 16, grp: 4, mr: mrSMLAL16, kmajor: true},
	narrow: &gemmKernel{id: kSMLAL8, name: "smlal8", nr: 8, grp: 4, mr: mrSMLAL8, kmajor: true},
	rq:     outNEON,
}

// archISAs lists the assembly kernels usable on this CPU, best first.
func archISAs() []*isa {
	var s []*isa
	if hasSDOT {
		s = append(s, sdotISA)
	}
	if hasASIMD {
		s = append(s, smlalISA)
	}
	return s
}

// asmRequant runs the requantisation kernel on m rows of nch chunks of
// eight channels, the first one channel c0 of o (see outStage.rows).
func asmRequant(kind outKind, m, nch int, c *int32, ldc int, y *int8, ldy int, o *outStage, c0 int) {
	rqNEON(m, nch, c, ldc, y, ldy, &o.p[c0/8*rqStride], o.zp, o.lo, o.hi)
}

// hasOne512 tells whether rqOne512 runs: only on amd64.
const hasOne512 = false

func asmRequantOne(m, n int, c *int32, ldc int, y *int8, ldy int, o *outStage, c0 int) {
	panic("fixedpoint: no rqOne512 in this build")
}

// asmRequantOne8 runs rqOneNEON on m rows of nch chunks of eight
// channels, the first one channel c0 of o (see outStage.rows).
func asmRequantOne8(m, nch int, c *int32, ldc int, y *int8, ldy int, o *outStage, c0 int) {
	rqOneNEON(m, nch, c, ldc, y, ldy, &o.one8[c0/8*16], o.zp, o.lo, o.hi)
}

// poolRow max-pools as many of the ow output pixels of one row (c
// channels, input rows r0 and r1) as the assembly can, from the left, and
// returns how many.
func poolRow(ow, c int, r0, r1, y []int8) int {
	if !hasASIMD {
		return 0
	}
	_, _, _ = r0[2*ow*c-1], r1[2*ow*c-1], y[ow*c-1]
	switch {
	case c%16 == 0:
		mpNEONx16(ow, c, &r0[0], &r1[0], &y[0])
		return ow
	case c == 8 && ow >= 2:
		mpNEONc8(ow/2, &r0[0], &r1[0], &y[0])
		return ow / 2 * 2
	}
	return 0
}

// dwInt16 tells whether the depthwise kernel takes int16 weights.
const dwInt16 = true

// dwBlocks runs the depthwise kernel on cb blocks of 8 channels of n
// pixels (see depthwiseConv2D.dwGo); w16 is the whole weight array and c0
// the first channel.
func dwBlocks(n, cb int, x *int8, xs int, taps []int, w32 []int32, w16 []int16, c0 int, bias *int32, zp int32, acc *int32, ldc int) {
	dwNEON(n, cb, x, xs, len(taps)/2, &taps[0], &w16[c0], bias, zp, acc, 4*ldc)
}
