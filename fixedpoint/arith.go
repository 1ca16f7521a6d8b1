package fixedpoint

import (
	"fmt"
	"math"
)

// quantizeMultiplier splits a real multiplier m into a Q31 mantissa and a
// power-of-two exponent, m ≈ mult * 2^(shift-31), as TFLite's
// QuantizeMultiplier (tensorflow/lite/kernels/internal/quantization_util.cc,
// non-single-rounding build) does:
//
//	frac, shift := math.Frexp(m)           // m = frac * 2^shift, 0.5 <= |frac| < 1
//	q := math.Round(frac * 2^31)           // half away from zero (TfLiteRound)
//	if q == 2^31 { q /= 2; shift++ }       // frac rounded up to 1
//	if shift < -31 { q, shift = 0, 0 }     // flush |m| < ~2^-32 to zero
//
// so for m > 0, mult is in [2^30, 2^31) and m = 0 gives (0, 0). The common
// case 0 < m < 1 (s_in*s_w < s_out) gives shift <= 0, a right shift;
// m >= 1 gives shift > 0, which multiplyByQuantizedMultiplier applies as a
// left shift before the multiplication. Negative m give negative mult, as in
// TFLite. m must be finite with |m| < 2^31 (so shift <= 31); anything else
// panics.
func quantizeMultiplier(m float64) (mult int32, shift int) {
	if math.IsNaN(m) || math.Abs(m) >= 1<<31 {
		panic(fmt.Sprintf("fixedpoint: QuantizeMultiplier(%v): want a finite multiplier with |m| < 2^31", m))
	}
	if m == 0 {
		return 0, 0
	}
	frac, shift := math.Frexp(m)
	q := int64(math.Round(frac * (1 << 31)))
	if q == 1<<31 {
		q /= 2
		shift++
	}
	if shift < -31 {
		return 0, 0
	}
	return int32(q), shift
}

// saturatingRoundingDoublingHighMul returns the high 32 bits of 2*a*b,
// rounded: floor((a*b + 2^30) / 2^31), that is a*b/2^31 rounded half up
// (toward +∞), except that MinInt32*MinInt32, the one product whose result
// does not fit, saturates to MaxInt32. It is gemmlowp's function of the same
// name (fixedpoint/fixedpoint.h) and ARM's VQRDMULH; in Q31 terms it is the
// rounding, saturating product of two Q31 numbers.
func saturatingRoundingDoublingHighMul(a, b int32) int32 {
	if a == b && a == math.MinInt32 {
		return math.MaxInt32
	}
	ab := int64(a) * int64(b)
	// gemmlowp: nudge = ab >= 0 ? 1<<30 : 1-(1<<30); then divide, truncating
	// toward zero. The two nudges differ by 2^31-1.
	nudge := int64(1<<30) - (ab>>63)&(1<<31-1)
	return int32((ab + nudge) / (1 << 31))
}

// roundingDivideByPOT returns x / 2^exponent rounded to nearest, ties away
// from zero, for 0 <= exponent <= 31 (anything else panics). It is
// gemmlowp's RoundingDivideByPOT (fixedpoint/fixedpoint.h): the remainder
// x & mask is compared with a threshold of half the divisor, one more for
// negative x, and the arithmetic shift is bumped when it is exceeded.
func roundingDivideByPOT(x int32, exponent int) int32 {
	if exponent < 0 || exponent > 31 {
		panic(fmt.Sprintf("fixedpoint: RoundingDivideByPOT exponent %d, want 0..31", exponent))
	}
	return rdpot(x, uint(exponent))
}

// rdpot is roundingDivideByPOT without the range check; exponent <= 31.
func rdpot(x int32, exponent uint) int32 {
	mask := int32(uint32(1)<<exponent - 1)
	remainder := x & mask
	threshold := mask>>1 + int32(uint32(x)>>31)
	r := x >> exponent
	if remainder > threshold {
		r++
	}
	return r
}

// multiplyByQuantizedMultiplier returns x * mult * 2^(shift-31) rounded as
// TFLite's MultiplyByQuantizedMultiplier (kernels/internal/common.h,
// non-single-rounding build):
//
//	left, right := max(shift, 0), max(-shift, 0)
//	roundingDivideByPOT(saturatingRoundingDoublingHighMul(x << left, mult), right)
//
// The left shift wraps around in int32 as TFLite's does on every compiler
// that runs it (the caller keeps x * 2^left in range). shift must be in
// -31..31; anything else panics.
func multiplyByQuantizedMultiplier(x, mult int32, shift int) int32 {
	if shift < -31 || shift > 31 {
		panic(fmt.Sprintf("fixedpoint: MultiplyByQuantizedMultiplier shift %d, want -31..31", shift))
	}
	return mbqm(x, mult, shift)
}

// mbqm is multiplyByQuantizedMultiplier without the range check.
func mbqm(x, mult int32, shift int) int32 {
	left, right := uint(max(shift, 0))&31, uint(max(-shift, 0))&31
	return rdpot(saturatingRoundingDoublingHighMul(x<<left, mult), right)
}

// mulQ15 multiplies two Q15 numbers (value = q / 2^15, range [-1, 1)):
// floor((a*b + 2^14) / 2^15), rounding half up, with -1 * -1 saturated to
// 1 - 2^-15. It is gemmlowp's int16 SaturatingRoundingDoublingHighMul and
// ARM's VQRDMULH.S16.
func mulQ15(a, b int16) int16 {
	if a == b && a == math.MinInt16 {
		return math.MaxInt16
	}
	ab := int32(a) * int32(b)
	nudge := int32(1<<14) - (ab>>31)&(1<<15-1)
	return int16((ab + nudge) / (1 << 15))
}

// saturateInt8 clamps x to [-128, 127].
func saturateInt8(x int32) int8 { return int8(min(max(x, math.MinInt8), math.MaxInt8)) }

// saturateInt16 clamps x to [-32768, 32767].
func saturateInt16(x int32) int16 { return int16(min(max(x, math.MinInt16), math.MaxInt16)) }

// roundSat rounds f half away from zero and clamps it to [lo, hi]; NaN
// gives 0.
func roundSat(f float64, lo, hi int64) int64 {
	if f != f {
		return 0
	}
	r := math.Round(f)
	if r <= float64(lo) {
		return lo
	}
	if r >= float64(hi) {
		return hi
	}
	return int64(r)
}

// floatToQ returns f in Qm.frac format, an int32 q with value q / 2^frac:
// round(f * 2^frac) half away from zero, saturated to the int32 range
// (so representable values are [-2^(31-frac), 2^(31-frac) - 2^-frac]);
// NaN gives 0. frac must be in 0..31.
func floatToQ(f float64, frac int) int32 {
	if frac < 0 || frac > 31 {
		panic(fmt.Sprintf("fixedpoint: FloatToQ fraction bits %d, want 0..31", frac))
	}
	return int32(roundSat(math.Ldexp(f, frac), math.MinInt32, math.MaxInt32))
}

// qToFloat returns the value q / 2^frac of a Qm.frac number, exactly.
// frac must be in 0..31.
func qToFloat(q int32, frac int) float64 {
	if frac < 0 || frac > 31 {
		panic(fmt.Sprintf("fixedpoint: QToFloat fraction bits %d, want 0..31", frac))
	}
	return math.Ldexp(float64(q), -frac)
}

// floatToQ31 is floatToQ(f, 31): [-1, 1) in steps of 2^-31, saturating.
func floatToQ31(f float64) int32 { return floatToQ(f, 31) }

// q31ToFloat is qToFloat(q, 31).
func q31ToFloat(q int32) float64 { return qToFloat(q, 31) }

// floatToQ15 returns f as a Q15 number: round(f * 2^15) half away from
// zero, saturated to [-1, 1 - 2^-15]; NaN gives 0.
func floatToQ15(f float32) int16 {
	return int16(roundSat(float64(f)*(1<<15), math.MinInt16, math.MaxInt16))
}

// q15ToFloat returns the value q / 2^15 of a Q15 number, exactly.
func q15ToFloat(q int16) float32 { return float32(q) / (1 << 15) }

// quantizeValue returns the int8 code of the real value x in a tensor of
// the given scale and zero point, as TFLite's AffineQuantize: round(x/scale)
// (in float32, half away from zero) + zp, saturated to [-128, 127]. NaN
// maps to zp.
func quantizeValue(x, scale float32, zp int32) int8 {
	q := roundSat(float64(float32(x/scale)), math.MinInt32, math.MaxInt32)
	return int8(min(max(q+int64(zp), math.MinInt8), math.MaxInt8))
}

// dequantizeValue returns the real value scale * (q - zp) of an int8 code.
func dequantizeValue(q int8, scale float32, zp int32) float32 {
	return float32(float64(scale) * float64(int32(q)-zp))
}

// quantize writes quantizeValue(src[i], scale, zp) into dst[i]; the
// lengths must match. It is for model conversion and tests, not per-frame
// work (see quantizeInput).
func quantize(dst []int8, src []float32, scale float32, zp int32) {
	if len(dst) != len(src) {
		panic(fmt.Sprintf("fixedpoint: Quantize lengths %d and %d differ", len(dst), len(src)))
	}
	for i, v := range src {
		dst[i] = quantizeValue(v, scale, zp)
	}
}

// dequantize writes scale * (src[i] - zp) into dst[i]; the lengths must
// match.
func dequantize(dst []float32, src []int8, scale float32, zp int32) {
	if len(dst) != len(src) {
		panic(fmt.Sprintf("fixedpoint: Dequantize lengths %d and %d differ", len(dst), len(src)))
	}
	for i, q := range src {
		dst[i] = dequantizeValue(q, scale, zp)
	}
}
