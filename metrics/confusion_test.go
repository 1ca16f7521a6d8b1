package metrics

import (
	"math"
	"strings"
	"testing"
)

// handScores and handLabels are a small set whose metrics at threshold 0.5
// are worked out by hand below:
//
//	score  0.9 0.8 0.7 0.6 0.5 0.4 0.3 0.2 0.1 0.05
//	cat?   yes yes no  yes no  yes no  no  no  no
//	at 0.5 TP  TP  FP  TP  FP  FN  TN  TN  TN  TN
//
// so TP=3, FP=2, TN=4, FN=1 with 4 cats and 6 non-cats. Of the 4·6 = 24
// (cat, non-cat) pairs the cat scores higher in 6+6+5+4 = 21, so the ROC
// AUC is 21/24 = 0.875.
var (
	handScores = []float32{0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05}
	handLabels = []bool{true, true, false, true, false, true, false, false, false, false}
)

const handThreshold = 0.5

func TestNewConfusion(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	negZero := float32(math.Copysign(0, -1))
	tests := []struct {
		name      string
		scores    []float32
		labels    []bool
		threshold float32
		want      Confusion
	}{
		{"hand", handScores, handLabels, handThreshold, Confusion{TP: 3, FP: 2, TN: 4, FN: 1}},
		{"empty", nil, nil, 0.5, Confusion{}},
		{"score equal to threshold is cat", []float32{0.5, 0.5}, []bool{true, false}, 0.5, Confusion{TP: 1, FP: 1}},
		{"-0 >= +0", []float32{negZero}, []bool{true}, 0, Confusion{TP: 1}},
		{"NaN score is non-cat", []float32{nan, nan}, []bool{true, false}, 0, Confusion{FN: 1, TN: 1}},
		{"NaN threshold: all non-cat", []float32{1, 0}, []bool{true, false}, nan, Confusion{FN: 1, TN: 1}},
		{"-Inf threshold: all cat", []float32{-inf, 0}, []bool{true, false}, -inf, Confusion{TP: 1, FP: 1}},
		{"+Inf threshold", []float32{inf, 1e30}, []bool{true, false}, inf, Confusion{TP: 1, TN: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := NewConfusion(tc.scores, tc.labels, tc.threshold); got != tc.want {
				t.Errorf("NewConfusion = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestConfusionNoAllocs(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { NewConfusion(handScores, handLabels, handThreshold) }); n != 0 {
		t.Errorf("NewConfusion: %v allocations, want 0", n)
	}
}

// TestConfusionMetrics checks every rate against numbers written out by
// hand, including the zero-denominator conventions. Every rate is the
// correctly rounded quotient of two integers, so the comparison is exact.
func TestConfusionMetrics(t *testing.T) {
	type rates struct {
		n                                      int
		acc, bal, prec, rec, f1, tpr, tnr, fpr float64
	}
	tests := []struct {
		name string
		c    Confusion
		want rates
	}{
		// Accuracy 7/10, balanced (3/4 + 4/6)/2 = 17/24, precision 3/5,
		// recall 3/4, F1 2·3/(2·3+2+1) = 6/9, FPR 2/6.
		{"hand", Confusion{TP: 3, FP: 2, TN: 4, FN: 1},
			rates{10, 0.7, 17.0 / 24, 0.6, 0.75, 2.0 / 3, 0.75, 2.0 / 3, 1.0 / 3}},
		{"empty", Confusion{}, rates{}},
		// Nothing predicted cat: precision 0/0 → 0, F1 0/3 → 0.
		{"no predicted cats", Confusion{FN: 3}, rates{3, 0, 0, 0, 0, 0, 0, 0, 0}},
		// Only cats, all found: balanced accuracy is TPR alone.
		{"only cats, all found", Confusion{TP: 2}, rates{2, 1, 1, 1, 1, 1, 1, 0, 0}},
		{"only cats, half found", Confusion{TP: 1, FN: 1}, rates{2, 0.5, 0.5, 1, 0.5, 2.0 / 3, 0.5, 0, 0}},
		// Only non-cats: balanced accuracy is TNR alone; precision 0/1,
		// recall 0/0, F1 0/1.
		{"only non-cats", Confusion{TN: 2, FP: 1}, rates{3, 2.0 / 3, 2.0 / 3, 0, 0, 0, 0, 2.0 / 3, 1.0 / 3}},
		{"only true negatives", Confusion{TN: 4}, rates{4, 1, 1, 0, 0, 0, 0, 1, 0}},
		{"all wrong", Confusion{FP: 2, FN: 2}, rates{4, 0, 0, 0, 0, 0, 0, 0, 1}},
		{"perfect", Confusion{TP: 5, TN: 5}, rates{10, 1, 1, 1, 1, 1, 1, 1, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, w := tc.c, tc.want
			if c.N() != w.n {
				t.Errorf("N = %d, want %d", c.N(), w.n)
			}
			for _, m := range []struct {
				name      string
				got, want float64
			}{
				{"Accuracy", c.Accuracy(), w.acc},
				{"BalancedAccuracy", c.BalancedAccuracy(), w.bal},
				{"Precision", c.Precision(), w.prec},
				{"Recall", c.Recall(), w.rec},
				{"F1", c.F1(), w.f1},
				{"TPR", c.TPR(), w.tpr},
				{"TNR", c.TNR(), w.tnr},
				{"FPR", c.FPR(), w.fpr},
			} {
				if m.got != m.want {
					t.Errorf("%s = %v, want %v", m.name, m.got, m.want)
				}
			}
		})
	}
}

// mustPanic calls f and fails unless it panics with a message starting
// "metrics: " and containing want.
func mustPanic(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		msg, ok := r.(string)
		if !ok || !strings.HasPrefix(msg, "metrics: ") || !strings.Contains(msg, want) {
			t.Errorf("panic %#v, want a string starting \"metrics: \" containing %q", r, want)
		}
	}()
	f()
}
