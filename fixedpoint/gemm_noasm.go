//go:build purego || !(amd64 || arm64)

package fixedpoint

// archISAs lists the assembly kernels usable on this CPU: none.
func archISAs() []*isa { return nil }

func asmBlock(id kernelID, r, m int, a *int8, rsa, segs, lds, groups int, b *int8, init, c *int32, ldc int) {
	panic("fixedpoint: no assembly kernels in this build")
}

func asmBlockOne(id kernelID, r, m int, a *int8, rsa, segs, lds, groups int, b *int8, init *int32, y *int8, ldy int, p *int32, zp, lo, hi int32, mask int) {
	panic("fixedpoint: no assembly kernels in this build")
}

func asmRequant(kind outKind, m, nch int, c *int32, ldc int, y *int8, ldy int, o *outStage, c0 int) {
	panic("fixedpoint: no assembly kernels in this build")
}

func poolRow(ow, c int, r0, r1, y []int8) int { return 0 }

func asmRequantOne8(m, nch int, c *int32, ldc int, y *int8, ldy int, o *outStage, c0 int) {
	panic("fixedpoint: no rqOneNEON in this build")
}

// hasOne512 tells whether rqOne512 runs: only on amd64.
const hasOne512 = false

func asmRequantOne(m, n int, c *int32, ldc int, y *int8, ldy int, o *outStage, c0 int) {
	panic("fixedpoint: no rqOne512 in this build")
}

const dwInt16 = false

func dwBlocks(n, cb int, x *int8, xs int, taps []int, w32 []int32, w16 []int16, c0 int, bias *int32, zp int32, acc *int32, ldc int) {
	panic("fixedpoint: no assembly kernels in this build")
}
