package plot

import (
	"math"
	"strconv"
)

// rangeLimit bounds the magnitude of values used to size an axis; larger
// finite values are treated as ±rangeLimit so that spans never overflow.
const rangeLimit = 1e300

// niceTicks returns the step and the tick values in [lo, hi], using the
// smallest step of 1, 2 or 5 times a power of ten that yields at most maxTicks
// ticks (at least one tick always falls inside). With integer set the step is
// at least 1. lo must be < hi, both finite; maxTicks is raised to 3 if
// smaller. Tick i is computed as i*m*10^k from integers so that, for example,
// 0.6 is the float64 nearest 0.6 and not 0.6000000000000001.
func niceTicks(lo, hi float64, maxTicks int, integer bool) (ticks []float64, step float64) {
	m, k := niceStep(lo, hi, maxTicks, integer)
	step = stepValue(1, m, k)
	first, last := tickIndexes(lo, hi, step)
	ticks = make([]float64, 0, int(max(last-first+1, 0)))
	for i := first; i <= last; i++ {
		ticks = append(ticks, stepValue(i*m, 1, k))
	}
	return ticks, step
}

// tickIndexes returns the first and last i with i*step in [lo, hi], allowing
// for rounding in the division.
func tickIndexes(lo, hi, step float64) (first, last float64) {
	return math.Ceil(lo/step - 1e-9), math.Floor(hi/step + 1e-9)
}

// niceStep picks the step m*10^k (m in 1, 2, 5) for niceTicks.
func niceStep(lo, hi float64, maxTicks int, integer bool) (m float64, k int) {
	maxTicks = max(maxTicks, 3)
	raw := (hi - lo) / float64(maxTicks-1)
	k = int(math.Floor(math.Log10(raw)))
	if integer && k < 0 {
		k = 0
	}
	for tries := 0; tries < 64; tries++ {
		for _, m := range [...]float64{1, 2, 5} {
			first, last := tickIndexes(lo, hi, stepValue(1, m, k))
			if last-first+1 <= float64(maxTicks) {
				return m, k
			}
		}
		k++
	}
	return 1, k // not reached for finite lo < hi
}

// stepValue returns i*m*10^k rounded once, to the float64 nearest the exact
// decimal value; i*m must be an integer.
func stepValue(i, m float64, k int) float64 {
	v := i * m
	switch {
	case v == 0:
		return 0 // never -0
	case k >= 0 && k <= 22: // 10^k is exact
		return v * math.Pow10(k)
	case k < 0 && k >= -22:
		return v / math.Pow10(-k)
	}
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', 0, 64)+"e"+strconv.Itoa(k), 64)
	return f
}

// tickLabels formats ticks that are multiples of step, all with the same
// number of digits, the fewest that tell them apart: "0.2", "15", "1.5e-05".
// Exponent form is used for magnitudes of a million and up or for steps
// below 0.0001.
func tickLabels(ticks []float64, step float64) []string {
	k := int(math.Floor(math.Log10(step) + 1e-9))
	maxAbs := 0.0
	for _, t := range ticks {
		maxAbs = math.Max(maxAbs, math.Abs(t))
	}
	labels := make([]string, len(ticks))
	if maxAbs < 1e6 && k >= -4 {
		for i, t := range ticks {
			labels[i] = strconv.FormatFloat(t, 'f', max(-k, 0), 64)
		}
		return labels
	}
	for prec := 0; prec <= 16; prec++ {
		ok := true
		for i, t := range ticks {
			if t == 0 {
				labels[i] = "0"
				continue
			}
			labels[i] = strconv.FormatFloat(t, 'e', prec, 64)
			back, _ := strconv.ParseFloat(labels[i], 64)
			ok = ok && math.Abs(back-t) <= step*1e-6
		}
		if ok {
			break
		}
	}
	return labels
}

// axis is one resolved axis: its data range, ticks and their labels.
type axis struct {
	lo, hi float64
	ticks  []float64
	labels []string
}

// extend widens [lo, hi] to include v, clamped to ±rangeLimit.
func extend(lo, hi float64, v float64) (float64, float64) {
	v = math.Max(-rangeLimit, math.Min(rangeLimit, v))
	return math.Min(lo, v), math.Max(hi, v)
}

// padRange widens a degenerate range [lo, hi] (hi <= lo, or too narrow to
// tick) so that lo < hi, by 10% of its magnitude or by 1 for zero and for
// integer axes. Ends marked fixed are kept; the other end moves.
func padRange(lo, hi float64, fixedLo, fixedHi, integer bool) (float64, float64) {
	scale := math.Max(math.Abs(lo), math.Abs(hi))
	if hi-lo > 1e-9*scale && hi-lo > 1e-290 {
		return lo, hi
	}
	c := lo/2 + hi/2
	switch {
	case fixedLo && !fixedHi:
		c = lo
	case fixedHi && !fixedLo:
		c = hi
	}
	d := math.Abs(c) * 0.1
	if d < 1e-290 || integer {
		d = math.Max(d, 1)
	}
	switch {
	case fixedLo && !fixedHi:
		return lo, lo + d
	case fixedHi && !fixedLo:
		return hi - d, hi
	}
	return c - d, c + d
}

// axisMargin is the fraction of the data span left free at each end of an
// axis that is not fixed, so that points at the ends clear the frame.
const axisMargin = 0.05

// newAxis resolves an axis over data range [lo, hi] (lo < hi) with at most
// maxTicks ticks, preferring at least 3. Ends that are not fixed move out by
// axisMargin of the span; ticks outside the axis are dropped.
func newAxis(lo, hi float64, fixedLo, fixedHi, integer bool, maxTicks int) axis {
	margin := axisMargin * (hi - lo)
	if !fixedLo {
		lo -= margin
	}
	if !fixedHi {
		hi += margin
	}
	a := axis{lo: lo, hi: hi}
	for n := max(maxTicks, 3); n <= maxTicks+8 && len(a.ticks) < 3; n++ {
		ticks, step := niceTicks(lo, hi, n, integer)
		if len(ticks) > len(a.ticks) {
			a.ticks, a.labels = ticks, tickLabels(ticks, step)
		}
	}
	return a
}
