package plot

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestNiceTicks(t *testing.T) {
	tests := []struct {
		name     string
		lo, hi   float64
		maxTicks int
		integer  bool
		want     []float64
		labels   []string
	}{
		{"unit", 0, 1, 6, false,
			[]float64{0, 0.2, 0.4, 0.6, 0.8, 1},
			[]string{"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"}},
		{"unit fine", 0, 1, 11, false,
			[]float64{0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1},
			[]string{"0.0", "0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9", "1.0"}},
		{"metrics", 0.63, 0.97, 6, false,
			[]float64{0.7, 0.8, 0.9},
			[]string{"0.7", "0.8", "0.9"}},
		{"metrics fine", 0.63, 0.97, 8, false,
			[]float64{0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95},
			[]string{"0.65", "0.70", "0.75", "0.80", "0.85", "0.90", "0.95"}},
		{"tiny", 1e-5, 3e-5, 6, false,
			[]float64{1e-5, 1.5e-5, 2e-5, 2.5e-5, 3e-5},
			[]string{"1.0e-05", "1.5e-05", "2.0e-05", "2.5e-05", "3.0e-05"}},
		{"epochs", 1, 20, 6, true,
			[]float64{5, 10, 15, 20},
			[]string{"5", "10", "15", "20"}},
		{"epochs dense", 0.05, 20.95, 11, true,
			[]float64{2, 4, 6, 8, 10, 12, 14, 16, 18, 20},
			[]string{"2", "4", "6", "8", "10", "12", "14", "16", "18", "20"}},
		{"one epoch", -0.1, 2.1, 11, true,
			[]float64{0, 1, 2},
			[]string{"0", "1", "2"}},
		{"few epochs integer step", 1, 3, 11, true,
			[]float64{1, 2, 3},
			[]string{"1", "2", "3"}},
		{"negative", -3.2, 7.9, 6, false,
			[]float64{-2, 0, 2, 4, 6},
			[]string{"-2", "0", "2", "4", "6"}},
		{"huge", 0, 1e30, 6, false,
			[]float64{0, 2e29, 4e29, 6e29, 8e29, 1e30},
			[]string{"0", "2e+29", "4e+29", "6e+29", "8e+29", "1e+30"}},
		{"loss", 0.104, 0.612, 6, false,
			[]float64{0.2, 0.3, 0.4, 0.5, 0.6},
			[]string{"0.2", "0.3", "0.4", "0.5", "0.6"}},
		{"large", 1234, 98765, 6, false,
			[]float64{20000, 40000, 60000, 80000},
			[]string{"20000", "40000", "60000", "80000"}},
		{"millions", 0, 3e6, 4, false,
			[]float64{0, 1e6, 2e6, 3e6},
			[]string{"0", "1e+06", "2e+06", "3e+06"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, step := niceTicks(tt.lo, tt.hi, tt.maxTicks, tt.integer)
			if !slices.Equal(got, tt.want) {
				t.Errorf("niceTicks(%v, %v, %d, %v) = %v, want %v", tt.lo, tt.hi, tt.maxTicks, tt.integer, got, tt.want)
			}
			if labels := tickLabels(got, step); !slices.Equal(labels, tt.labels) {
				t.Errorf("tickLabels(%v, %v) = %q, want %q", got, step, labels, tt.labels)
			}
		})
	}
}

// TestNiceTicksProperties checks random ranges: ticks lie in the range, are
// evenly spaced by a 1-2-5 step, fit maxTicks, and the next smaller 1-2-5 step
// would not fit.
func TestNiceTicksProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		scale := math.Pow(10, float64(r.IntN(40)-20))
		lo := (r.Float64()*2 - 1) * scale
		hi := lo + r.Float64()*scale + scale*1e-6
		maxTicks := 3 + r.IntN(9)
		ticks, step := niceTicks(lo, hi, maxTicks, false)
		if len(ticks) < 1 || len(ticks) > maxTicks {
			t.Fatalf("niceTicks(%g, %g, %d): %d ticks", lo, hi, maxTicks, len(ticks))
		}
		if eps := step * 1e-6; ticks[0] < lo-eps || ticks[len(ticks)-1] > hi+eps {
			t.Fatalf("niceTicks(%g, %g, %d) = %v: outside the range", lo, hi, maxTicks, ticks)
		}
		e := math.Floor(math.Log10(step) + 1e-9)
		m := step / math.Pow(10, e)
		smaller := map[int]float64{1: 0.5, 2: 1, 5: 2}[int(math.Round(m))] * math.Pow(10, e)
		if math.Abs(m-1) > 1e-9 && math.Abs(m-2) > 1e-9 && math.Abs(m-5) > 1e-9 {
			t.Fatalf("niceTicks(%g, %g, %d): step %g not 1, 2 or 5 times a power of ten", lo, hi, maxTicks, step)
		}
		if first, last := tickIndexes(lo, hi, smaller); last-first+1 <= float64(maxTicks) {
			t.Fatalf("niceTicks(%g, %g, %d): step %g, but %g fits too", lo, hi, maxTicks, step, smaller)
		}
		for j := 1; j < len(ticks); j++ {
			if d := ticks[j] - ticks[j-1]; math.Abs(d-step) > step*1e-9 {
				t.Fatalf("niceTicks(%g, %g, %d) = %v: gap %g, step %g", lo, hi, maxTicks, ticks, d, step)
			}
		}
		if labels := tickLabels(ticks, step); len(slices.Compact(slices.Clone(labels))) != len(labels) {
			t.Fatalf("tickLabels(%v) = %q: duplicates", ticks, labels)
		}
	}
}

func TestPadRange(t *testing.T) {
	tests := []struct {
		name             string
		lo, hi           float64
		fixedLo, fixedHi bool
		integer          bool
		wantLo, wantHi   float64
	}{
		{"ok", 0, 1, false, false, false, 0, 1},
		{"zero", 0, 0, false, false, false, -1, 1},
		{"equal", 5, 5, false, false, false, 4.5, 5.5},
		{"one epoch", 7, 7, false, false, true, 6, 8},
		{"huge", 1e30, 1e30, false, false, false, 0.9e30, 1.1e30},
		{"negative", -2, -2, false, false, false, -2.2, -1.8},
		{"fixed lo above data", 3, 1, true, false, false, 3, 3.3},
		{"fixed hi below data", 5, 1, false, true, false, 0.9, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lo, hi := padRange(tt.lo, tt.hi, tt.fixedLo, tt.fixedHi, tt.integer)
			if math.Abs(lo-tt.wantLo) > 1e-9*math.Abs(tt.wantLo) || math.Abs(hi-tt.wantHi) > 1e-9*math.Abs(tt.wantHi) {
				t.Errorf("padRange(%v, %v) = %v, %v, want %v, %v", tt.lo, tt.hi, lo, hi, tt.wantLo, tt.wantHi)
			}
		})
	}
}
