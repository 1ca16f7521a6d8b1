package fixedpoint

// rqStride is the number of int32s of outStage.p per chunk of eight
// channels, rq512Stride of p16 per sixteen.
const (
	rqStride    = 5 * 8
	rq512Stride = 144
)

// outKind selects a requantisation kernel.
type outKind uint8

const (
	outGo     outKind = iota // outStage.lane, one channel at a time
	outAVX2                  // amd64 AVX2, 8 channels a step (rqAVX2)
	outAVX512                // amd64 AVX-512, 16 channels a step (rqAVX512)
	outNEON                  // arm64 ASIMD, 8 channels a step (rqNEON)
)

// outStage is a layer's requant laid out for the requantisation kernels:
// for each chunk of eight channels, five rows of eight int32s,
//
//	left shift max(shift, 0), multiplier, right shift max(-shift, 0),
//	remainder mask 2^right - 1, threshold mask >> 1,
//
// padded with zero channels to whole chunks, and the output zero point and
// clamp. For the AVX-512 kernel, p16 holds per chunk of sixteen channels
// the left shifts and multipliers (16 int32s each), then, as int64s for the
// even and for the odd channels (8 each), the multiplier, C = 2^30 +
// [e>0]·2^(30+e), F = [e>0]·2^31 and 31+e, where e is the right shift (see
// rqAVX512 in gen.go).
type outStage struct {
	p          []int32
	p16        []int32
	zp, lo, hi int32
}

func newOutStage(q requant, n int, kind outKind) outStage {
	o := outStage{p: make([]int32, (n+7)/8*rqStride), zp: q.zp, lo: q.min, hi: q.max}
	if kind == outAVX512 {
		o.p16 = make([]int32, (n+15)/16*rq512Stride)
	}
	for ch := range n {
		r := o.p[ch/8*rqStride+ch%8:]
		left, right := max(q.shift[ch], 0), max(-q.shift[ch], 0)
		mask := int32(uint32(1)<<right - 1)
		r[0], r[8], r[16], r[24], r[32] = int32(left), q.mult[ch], int32(right), mask, mask>>1
		if o.p16 == nil {
			continue
		}
		// p16: int32s 0-15 left shifts, 16-31 multipliers, then int64s: 16-23
		// (as int32 pairs) the odd channels' multipliers, 24-31 and 32-39 C
		// of the even and odd channels, 40-47 and 48-55 F, 56-63 and 64-71
		// 31+e.
		r16 := o.p16[ch/16*rq512Stride:][:rq512Stride]
		k, odd := ch%16, ch%2
		r16[k], r16[16+k] = int32(left), q.mult[ch]
		c, f := int64(1)<<30, int64(0)
		if right > 0 {
			c, f = c+int64(1)<<(30+right), 1<<31
		}
		put := func(qword int, v int64) { r16[2*qword], r16[2*qword+1] = int32(v), int32(v>>32) }
		if odd == 1 {
			put(16+k/2, int64(q.mult[ch]))
		}
		put(24+8*odd+k/2, c)
		put(40+8*odd+k/2, f)
		put(56+8*odd+k/2, int64(31+right))
	}
	return o
}

// lane requantises one accumulator acc, given its channel's parameters
// (one column of a chunk of p). It is requant.apply with the shifts and
// masks looked up rather than computed: for a multiplier m in [0, 2^31)
// (requantParams's range), saturatingRoundingDoublingHighMul never saturates and
// is floor((x*m + 2^30) / 2^31); roundingDivideByPOT is the arithmetic
// shift plus one when the remainder exceeds half the divisor (half minus
// one for negative x, so ties go away from zero). The vector kernels
// compute exactly these steps lane by lane. The rounding increment is
// computed without a branch (thr - rem < 0 exactly when rem > thr, and the
// difference cannot overflow: both are in [0, 2^31)).
func (o *outStage) lane(acc, left, mult, right, mask, half int32) int8 {
	x := acc << uint32(left&31)
	h := int32((int64(x)*int64(mult) + 1<<30) >> 31)
	thr := half + int32(uint32(h)>>31)
	v := h>>uint32(right&31) + int32(uint32(thr-h&mask)>>31)
	return int8(min(max(v+o.zp, o.lo), o.hi))
}

// rows requantises channels c0..c1 of m rows of accumulators: c holds the
// rows (stride ldc, column 0 is channel c0, a multiple of 16) and y
// receives them (stride ldy, column ch is channel ch). Whole chunks of
// eight channels go to the vector kernel kind, the rest to lane.
func (o *outStage) rows(y []int8, ldy int, c []int32, ldc, m, c0, c1 int, kind outKind) {
	j := c0
	if nch := (c1 - c0) / 8; kind != outGo && nch > 0 {
		_ = y[(m-1)*ldy+c0+8*nch-1]
		_ = c[(m-1)*ldc+8*nch-1]
		asmRequant(kind, m, nch, &c[0], 4*ldc, &y[c0], ldy, o, c0)
		j = c0 + 8*nch
	}
	if j == c1 {
		return
	}
	for i := range m {
		yi := y[i*ldy : i*ldy+c1]
		ci := c[i*ldc:]
		for ch := j; ch < c1; {
			// One chunk of eight channels at a time, its parameters sliced once.
			p := o.p[ch/8*rqStride:][:rqStride]
			for k := ch % 8; k < 8 && ch < c1; k, ch = k+1, ch+1 {
				yi[ch] = o.lane(ci[ch-c0], p[k], p[8+k], p[16+k], p[24+k], p[32+k])
			}
		}
	}
}
