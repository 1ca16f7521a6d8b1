package fixedpoint

import (
	"fmt"
	"math"
)

// requantParams is the output stage of a layer: how its int32 accumulators
// become int8 outputs. Channel ch's accumulator acc gives
//
//	clamp(multiplyByQuantizedMultiplier(acc, Mult[ch], Shift[ch]) + ZP, Min, Max)
//
// (the addition wraps in int32, as TFLite's does). Mult and Shift come from
// quantizeMultiplier(s_in * s_w[ch] / s_out); they hold one entry per
// output channel, or a single entry for the whole tensor. Mult must be
// non-negative and Shift in -31..31. ZP is the output zero point and
// [Min, Max] the clamp: [-128, 127] for no activation, [ZP, 127] for a
// fused ReLU.
type requantParams struct {
	Mult     []int32
	Shift    []int
	ZP       int32
	Min, Max int8
}

// requant is a requantParams expanded to one multiplier per channel.
type requant struct {
	mult     []int32
	shift    []int
	zp       int32
	min, max int32
}

// expand validates r for a layer of channels outputs and returns it with
// Mult and Shift copied out to one entry per channel.
func (r *requantParams) expand(channels int) (requant, error) {
	n := len(r.Mult)
	switch {
	case n != len(r.Shift):
		return requant{}, fmt.Errorf("fixedpoint: %d multipliers but %d shifts", n, len(r.Shift))
	case n != 1 && n != channels:
		return requant{}, fmt.Errorf("fixedpoint: %d multipliers, want 1 or %d (one per channel)", n, channels)
	case r.ZP < math.MinInt8 || r.ZP > math.MaxInt8:
		return requant{}, fmt.Errorf("fixedpoint: output zero point %d outside -128..127", r.ZP)
	case r.Min > r.Max:
		return requant{}, fmt.Errorf("fixedpoint: output clamp [%d, %d] is empty", r.Min, r.Max)
	}
	q := requant{mult: make([]int32, channels), shift: make([]int, channels), zp: r.ZP, min: int32(r.Min), max: int32(r.Max)}
	for ch := range channels {
		i := ch % n
		m, s := r.Mult[i], r.Shift[i]
		if m < 0 || s < -31 || s > 31 {
			return requant{}, fmt.Errorf("fixedpoint: channel %d multiplier %d shift %d, want multiplier >= 0 and shift in -31..31", ch, m, s)
		}
		q.mult[ch], q.shift[ch] = m, s
	}
	return q, nil
}

// apply requantizes channel ch's accumulator.
func (q *requant) apply(acc int32, ch int) int8 {
	v := mbqm(acc, q.mult[ch], q.shift[ch]) + q.zp
	return int8(min(max(v, q.min), q.max))
}
