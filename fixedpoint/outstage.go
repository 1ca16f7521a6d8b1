package fixedpoint

// rqStride is the number of int32s of outStage.p per chunk of eight
// channels, rq512Stride of p16 and rqOneStride of one per sixteen.
const (
	rqStride    = 5 * 8
	rq512Stride = 144
	rqOneStride = 6 * 16
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
//
// one is nil unless the layer can be requantised with a single rounding
// (oneRounding) and the AVX-512 kernel that does so, rqOne512, runs on this
// CPU; then it holds per chunk of sixteen channels six rows of eight
// int64s, for the even and for the odd channels: the multiplier, the term
// C = 2^30 + 2^(30+e) + zp·2^(31+e) and the shifts 31+e (even) and e-1
// (odd), where e is the channel's right shift (see oneLane).
type outStage struct {
	p          []int32
	p16        []int32
	one        []int32
	one8       []int32 // rqOneNEON's and smlalOne's: per chunk of 8 channels, multipliers, then -e
	zp, lo, hi int32
}

// Bounds of the right shift e for the single rounding: e >= 1 lets the
// odd lanes shift by e-1, e <= maxOneShift keeps P + C within int64.
const maxOneShift = 20

// oneRounding reports whether every channel of q can be requantised with
// one rounding, oneLane: no left shift, a right shift e in
// 1..maxOneShift, and a clamp whose floor is at least the zero point (a
// fused ReLU, or no more than that).
//
// TFLite rounds twice: h = floor((x·m + 2^30) / 2^31), then h / 2^e
// rounded half away from zero, that is floor((h + 2^(e-1) - [h<0]) / 2^e).
// Since floor(floor(A/b)/d + c) = floor((A + c·b)/(b·d)) for integers, this
// is floor((x·m + 2^30 + 2^(30+e) - [h<0]·2^31) / 2^(31+e)). Where h >= 0
// that is oneLane's value plus the zero point. Where h < 0 both it and
// oneLane's are at most 0 (h + 2^(e-1) - [h<0] < 2^e), so both plus the
// zero point are at most the zero point, and the clamp takes either to
// its floor: the term [h<0]·2^31, which would take a compare and a masked
// subtraction per lane, never shows.
func oneRounding(q requant) bool {
	if q.min < q.zp {
		return false
	}
	for ch, s := range q.shift {
		if s > -1 || s < -maxOneShift || q.mult[ch] < 0 {
			return false
		}
	}
	return true
}

// oneParams returns channel ch's row of one: multiplier, C and shift.
func oneParams(q requant, ch int) (m, c, s int64) {
	e := -q.shift[ch]
	return int64(q.mult[ch]), 1<<30 + 1<<(30+e) + int64(q.zp)<<(31+e), int64(31 + e)
}

// oneAt returns channel ch's oneParams as stored in o.one (for the twins
// of the kernels that read them).
func (o *outStage) oneAt(ch int) (m, c, s int64) {
	q := o.one[ch/16*rqOneStride:][:rqOneStride]
	qw := func(row int) int64 {
		i := 2 * (8*(row+ch%2) + ch%16/2) // row 0, 2 or 4, odd or even, the channel's qword
		return int64(uint32(q[i])) | int64(q[i+1])<<32
	}
	return qw(0), qw(2), qw(4) + 32*int64(ch%2)
}

// one8At returns channel ch's oneParams computed from o.one8, as the
// twin of the arm64 kernels that read one8 (rqOneNEON, smlalOne) takes
// them. Those kernels compute h = floor((acc·m + 2^30) / 2^31) (SQRDMULH,
// which cannot saturate for m >= 0) and then floor((h + 2^(e-1)) / 2^e)
// (SRSHL by -e, whose rounding term is added without overflow), which is
// floor((acc·m + 2^30 + 2^(30+e)) / 2^(31+e)) by the identity in
// oneRounding; plus the zero point and clamped, that is oneLane's value
// for every acc, not only where h >= 0.
func (o *outStage) one8At(ch int) (m, c, s int64) {
	r := o.one8[ch/8*16:][:16]
	e := -int64(r[8+ch%8])
	return int64(r[ch%8]), 1<<30 + 1<<(30+e) + int64(o.zp)<<(31+e), 31 + e
}

// oneLane is the twin of rqOne512 for one accumulator, given its
// channel's oneParams:
//
//	clamp((acc·m + c) >> s, lo, hi)
//
// in int64 (|acc·m| < 2^62 and |c| < 2^60, so nothing overflows), which
// is requant.apply for stages that pass oneRounding.
func (o *outStage) oneLane(acc int32, m, c, s int64) int8 {
	v := (int64(acc)*m + c) >> uint64(s)
	return int8(min(max(v, int64(o.lo)), int64(o.hi)))
}

func newOutStage(q requant, n int, kind outKind) outStage {
	o := outStage{p: make([]int32, (n+7)/8*rqStride), zp: q.zp, lo: q.min, hi: q.max}
	if kind == outNEON && oneRounding(q) {
		// Whole chunks of sixteen channels, as smlalOne reads for a
		// 16-column panel; channels past n are zeros, never stored.
		o.one8 = make([]int32, (n+15)/16*32)
		for ch := range n {
			o.one8[ch/8*16+ch%8], o.one8[ch/8*16+8+ch%8] = q.mult[ch], int32(q.shift[ch]) // shift = -e
		}
	}
	if kind == outAVX512 {
		o.p16 = make([]int32, (n+15)/16*rq512Stride)
		if hasOne512 && oneRounding(q) {
			o.one = make([]int32, (n+15)/16*rqOneStride)
			for p := 0; p < (n+15)/16*16; p++ {
				// Channels past n: m = 0, C = 0, shift 32, which gives 0.
				m, c, s := int64(0), int64(0), int64(32)
				if p < n {
					m, c, s = oneParams(q, p)
				}
				r := o.one[p/16*rqOneStride:][:rqOneStride]
				k, odd := p%16/2, p%2
				put := func(row int, v int64) { r[2*(8*row+k)], r[2*(8*row+k)+1] = int32(v), int32(v>>32) }
				put(odd, m)
				put(2+odd, c)
				put(4+odd, s-32*int64(odd))
			}
		}
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
	if o.one != nil && kind == outAVX512 {
		// Any number of channels: the kernel masks the last chunk's lanes.
		_ = y[(m-1)*ldy+c1-1]
		_ = c[(m-1)*ldc+c1-c0-1]
		asmRequantOne(m, c1-c0, &c[0], 4*ldc, &y[c0], ldy, o, c0)
		return
	}
	j := c0
	if nch := (c1 - c0) / 8; kind != outGo && nch > 0 {
		_ = y[(m-1)*ldy+c0+8*nch-1]
		_ = c[(m-1)*ldc+8*nch-1]
		if o.one8 != nil && kind == outNEON {
			asmRequantOne8(m, nch, &c[0], 4*ldc, &y[c0], ldy, o, c0)
		} else {
			asmRequant(kind, m, nch, &c[0], 4*ldc, &y[c0], ldy, o, c0)
		}
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
