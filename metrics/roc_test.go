package metrics

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// refROCAUC is the O(n²) definition of the ROC AUC: over every pair of a
// cat c and a non-cat n, count 1 if s_c > s_n and 1/2 if s_c == s_n, and
// divide by the number of pairs. It returns NaN if a class is missing.
func refROCAUC(scores []float32, labels []bool) float64 {
	var u float64
	cats, non := 0, 0
	for i := range scores {
		if !labels[i] {
			non++
			continue
		}
		cats++
		for j := range scores {
			if labels[j] {
				continue
			}
			switch {
			case scores[i] > scores[j]:
				u++
			case scores[i] == scores[j]:
				u += 0.5
			}
		}
	}
	return u / float64(cats*non)
}

// randomSet returns n scores and labels with about fracCat cats and at
// least one of each class. Scores are the logistic of a standard normal,
// shifted up by sep for cats so that the AUC is not always near 1/2; with
// levels > 0 they are rounded to that many values in [0, 1] (many ties).
func randomSet(r *rand.Rand, n int, fracCat float64, levels int, sep float64) ([]float32, []bool) {
	scores := make([]float32, n)
	labels := make([]bool, n)
	for i := range n {
		labels[i] = r.Float64() < fracCat
	}
	labels[0], labels[n-1] = true, false
	for i := range n {
		x := r.NormFloat64()
		if labels[i] {
			x += sep
		}
		p := 1 / (1 + math.Exp(-x))
		if levels > 0 {
			p = math.Round(p*float64(levels-1)) / float64(levels-1)
		}
		scores[i] = float32(p)
	}
	return scores, labels
}

func TestROCAUCKnown(t *testing.T) {
	inf := float32(math.Inf(1))
	negZero := float32(math.Copysign(0, -1))
	tests := []struct {
		name   string
		scores []float32
		labels []bool
		want   float64
	}{
		{"perfect", []float32{0.9, 0.8, 0.3, 0.1}, []bool{true, true, false, false}, 1},
		{"reversed", []float32{0.9, 0.8, 0.3, 0.1}, []bool{false, false, true, true}, 0},
		{"all tied", []float32{0.4, 0.4, 0.4, 0.4, 0.4}, []bool{true, false, false, true, false}, 0.5},
		{"one pair tied", []float32{0.7, 0.7}, []bool{true, false}, 0.5},
		{"-0 ties +0", []float32{negZero, 0}, []bool{true, false}, 0.5},
		// scikit-learn's roc_auc_score documentation: 0.75.
		{"scikit-learn example", []float32{0.1, 0.4, 0.35, 0.8}, []bool{false, false, true, true}, 0.75},
		{"hand", handScores, handLabels, 0.875},
		// Cat at +Inf beats both; cat at -Inf loses to both: 2/4.
		{"infinities", []float32{inf, -inf, 0, 1}, []bool{true, true, false, false}, 0.5},
		// 2 cats and 1 non-cat, one cat tied: (1 + 1/2)/2.
		{"partial tie", []float32{0.5, 0.5, 0.9}, []bool{false, true, true}, 0.75},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ROCAUC(tc.scores, tc.labels)
			if err != nil || got != tc.want {
				t.Errorf("ROCAUC = %v, %v; want %v", got, err, tc.want)
			}
			if ref := refROCAUC(tc.scores, tc.labels); ref != tc.want {
				t.Errorf("reference = %v, want %v (test is wrong)", ref, tc.want)
			}
		})
	}
}

// TestROCAUCAgainstReference compares ROCAUC with refROCAUC on random sets
// of odd sizes, both class imbalances, continuous scores and scores with
// many ties. Both count exact integers and divide once, so they agree
// exactly.
func TestROCAUCAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{2, 3, 7, 64, 257, 1001} {
		for _, frac := range []float64{0.02, 0.5, 0.98} {
			for _, levels := range []int{0, 2, 5, 101} {
				for _, sep := range []float64{0, 1.5, -1} {
					name := fmt.Sprintf("n=%d/cats=%v/levels=%d/sep=%v", n, frac, levels, sep)
					t.Run(name, func(t *testing.T) {
						scores, labels := randomSet(r, n, frac, levels, sep)
						want := refROCAUC(scores, labels)
						got, err := ROCAUC(scores, labels)
						if err != nil || got != want {
							t.Fatalf("ROCAUC = %v, %v; reference %v", got, err, want)
						}
					})
				}
			}
		}
	}
}

func TestROCAUCLeavesInputAlone(t *testing.T) {
	scores := slices.Clone(handScores)
	labels := slices.Clone(handLabels)
	if _, err := ROCAUC(scores, labels); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(scores, handScores) || !slices.Equal(labels, handLabels) {
		t.Error("ROCAUC modified its inputs")
	}
}

// TestErrors checks that each function panics on a length mismatch (a
// programmer error) and returns an error for a NaN score or a missing
// class (faults in the data).
func TestErrors(t *testing.T) {
	funcs := []struct {
		name string
		f    func([]float32, []bool) error
	}{
		{"ROCAUC", func(s []float32, l []bool) error { _, err := ROCAUC(s, l); return err }},
		{"ROCCurve", func(s []float32, l []bool) error { _, _, _, err := ROCCurve(s, l); return err }},
		{"BestThreshold", func(s []float32, l []bool) error { _, _, err := BestThreshold(s, l); return err }},
		{"Evaluate", func(s []float32, l []bool) error { _, err := Evaluate(s, l, 0.5); return err }},
		{"NewConfusion", func(s []float32, l []bool) error { NewConfusion(s, l, 0.5); return nil }},
	}
	nan := float32(math.NaN())
	for _, fn := range funcs {
		t.Run(fn.name+"/length mismatch", func(t *testing.T) {
			mustPanic(t, fn.name+" with 3 scores and 2 labels", func() {
				fn.f([]float32{1, 2, 3}, []bool{true, false})
			})
		})
		if fn.name == "NewConfusion" {
			continue
		}
		t.Run(fn.name+"/NaN", func(t *testing.T) {
			err := fn.f([]float32{0.1, 0.2, 0.3, nan, nan}, []bool{true, false, true, false, true})
			if !errors.Is(err, ErrNaNScore) || !strings.Contains(err.Error(), "index 3") ||
				!strings.HasPrefix(err.Error(), "metrics: "+fn.name+": ") {
				t.Errorf("error %v, want one wrapping ErrNaNScore naming index 3", err)
			}
		})
		for _, c := range []struct {
			name   string
			labels []bool
		}{{"only cats", []bool{true, true}}, {"only non-cats", []bool{false, false}}, {"empty", nil}} {
			t.Run(fn.name+"/"+c.name, func(t *testing.T) {
				scores := []float32{0.2, 0.8}[:len(c.labels)]
				err := fn.f(scores, c.labels)
				switch {
				case fn.name == "Evaluate" && err != nil:
					t.Errorf("error %v, want none: Evaluate reports a NaN ROC AUC instead", err)
				case fn.name != "Evaluate" && !errors.Is(err, ErrOneClass):
					t.Errorf("error %v, want one wrapping ErrOneClass", err)
				}
			})
		}
	}
}

func TestROCCurveScikitLearn(t *testing.T) {
	// The example of scikit-learn's roc_curve documentation.
	fpr, tpr, thr, err := ROCCurve([]float32{0.1, 0.4, 0.35, 0.8}, []bool{false, false, true, true})
	if err != nil {
		t.Fatal(err)
	}
	wantFPR := []float64{0, 0, 0.5, 0.5, 1}
	wantTPR := []float64{0, 0.5, 0.5, 1, 1}
	wantThr := []float64{math.Inf(1), float64(float32(0.8)), float64(float32(0.4)), float64(float32(0.35)), float64(float32(0.1))}
	if !slices.Equal(fpr, wantFPR) || !slices.Equal(tpr, wantTPR) || !slices.Equal(thr, wantThr) {
		t.Errorf("ROCCurve = %v, %v, %v\nwant %v, %v, %v", fpr, tpr, thr, wantFPR, wantTPR, wantThr)
	}
}

// TestROCCurve checks on random sets that the curve runs from (0, 0) to
// (1, 1), is monotone, has strictly descending thresholds, that each point
// is the confusion matrix at its threshold, and that its trapezoid area is
// ROCAUC.
func TestROCCurve(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{2, 5, 100, 999} {
		for _, levels := range []int{0, 3, 50} {
			t.Run(fmt.Sprintf("n=%d/levels=%d", n, levels), func(t *testing.T) {
				scores, labels := randomSet(r, n, 0.3, levels, 1)
				fpr, tpr, thr, err := ROCCurve(scores, labels)
				if err != nil {
					t.Fatal(err)
				}
				m := len(thr)
				if len(fpr) != m || len(tpr) != m || m < 2 {
					t.Fatalf("lengths %d, %d, %d", len(fpr), len(tpr), m)
				}
				if fpr[0] != 0 || tpr[0] != 0 || fpr[m-1] != 1 || tpr[m-1] != 1 || !math.IsInf(thr[0], 1) {
					t.Errorf("ends (%v, %v) at %v and (%v, %v), want (0, 0) at +Inf and (1, 1)",
						fpr[0], tpr[0], thr[0], fpr[m-1], tpr[m-1])
				}
				distinct := map[float32]bool{}
				for _, s := range scores {
					distinct[s] = true
				}
				if m != len(distinct)+1 {
					t.Errorf("%d points, want %d distinct scores + 1", m, len(distinct))
				}
				area := 0.0
				for i := 1; i < m; i++ {
					if !(thr[i] < thr[i-1]) || fpr[i] < fpr[i-1] || tpr[i] < tpr[i-1] {
						t.Fatalf("not monotone at %d: thr %v→%v fpr %v→%v tpr %v→%v",
							i, thr[i-1], thr[i], fpr[i-1], fpr[i], tpr[i-1], tpr[i])
					}
					c := NewConfusion(scores, labels, float32(thr[i]))
					if c.FPR() != fpr[i] || c.TPR() != tpr[i] {
						t.Fatalf("point %d at %v is (%v, %v), confusion gives (%v, %v)", i, thr[i], fpr[i], tpr[i], c.FPR(), c.TPR())
					}
					area += (fpr[i] - fpr[i-1]) * (tpr[i] + tpr[i-1]) / 2
				}
				auc, _ := ROCAUC(scores, labels)
				if math.Abs(area-auc) > 1e-12 {
					t.Errorf("trapezoid area %v, ROCAUC %v", area, auc)
				}
			})
		}
	}
}

func TestBestThreshold(t *testing.T) {
	one := float32(1)
	next := math.Nextafter32(one, 2)
	tests := []struct {
		name    string
		scores  []float32
		labels  []bool
		want    float32
		wantBal float64
	}{
		{"separable", []float32{0.1, 0.2, 0.3, 0.7, 0.9}, []bool{false, false, false, true, true}, 0.5, 1},
		{"separable off-centre", []float32{0.6, 0.7, 0.9}, []bool{false, true, true}, 0.65, 1},
		// Cuts at 0.15 and 0.75 both give balanced accuracy 3/4; 0.75 is
		// closer to 0.5.
		{"tie toward 0.5", []float32{0.1, 0.2, 0.6, 0.9}, []bool{false, true, false, true}, 0.75, 0.75},
		// Cuts at 0.1875 and 0.8125 tie and are equally far from 0.5: the
		// lower wins.
		{"tie equally far", []float32{0.125, 0.25, 0.75, 0.875}, []bool{false, true, false, true}, 0.1875, 0.75},
		// The midpoint of adjacent float32 values rounds to the lower one,
		// which would call the non-cat a cat: the upper is used instead.
		{"adjacent floats", []float32{one, next}, []bool{false, true}, next, 1},
		// Only the trivial cuts (0.3 and the next float32 up) exist; the
		// second is closer to 0.5.
		{"all tied", []float32{0.3, 0.3, 0.3}, []bool{true, false, true}, math.Nextafter32(0.3, 1), 0.5},
		// Reversed: the real cut is worse than the trivial ones; of those,
		// "nothing is a cat" just above 0.8 is closer to 0.5 than
		// "everything is" at 0.1 ...
		{"reversed, high", []float32{0.1, 0.8}, []bool{true, false}, math.Nextafter32(0.8, 1), 0.5},
		// ... and here "everything is" at 0.2 is closer than just above 0.9.
		{"reversed, low", []float32{0.2, 0.9}, []bool{true, false}, 0.2, 0.5},
		// With +Inf the top trivial cut does not exist.
		{"+Inf", []float32{float32(math.Inf(1)), 0.8}, []bool{false, true}, 0.8, 0.5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, bal, err := BestThreshold(tc.scores, tc.labels)
			if err != nil || got != tc.want || bal != tc.wantBal {
				t.Errorf("BestThreshold = %v, %v, %v; want %v, %v", got, bal, err, tc.want, tc.wantBal)
			}
			if c := NewConfusion(tc.scores, tc.labels, got); c.BalancedAccuracy() != bal {
				t.Errorf("balanced accuracy at %v is %v, BestThreshold said %v", got, c.BalancedAccuracy(), bal)
			}
		})
	}
}

// TestBestThresholdSeparable checks on random separable sets that the
// balanced accuracy is 1 and the threshold lies strictly between the
// highest non-cat and the lowest cat.
func TestBestThresholdSeparable(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{2, 10, 1000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			scores := make([]float32, n)
			labels := make([]bool, n)
			gap := float32(r.Float64())
			hiNon, loCat := float32(math.Inf(-1)), float32(math.Inf(1))
			for i := range n {
				labels[i] = i%3 == 0
				if labels[i] {
					scores[i] = gap + float32(r.Float64())*(1-gap)
					loCat = min(loCat, scores[i])
				} else {
					scores[i] = float32(r.Float64()) * gap * 0.99
					hiNon = max(hiNon, scores[i])
				}
			}
			th, bal, err := BestThreshold(scores, labels)
			if err != nil || bal != 1 || !(hiNon < th && th < loCat) {
				t.Errorf("BestThreshold = %v, %v, %v; want 1 and %v < threshold < %v", th, bal, err, hiNon, loCat)
			}
		})
	}
}

// TestBestThresholdAgainstReference checks on random sets that no
// threshold (every distinct score, and +Inf) does better, and that the
// reported balanced accuracy is the one at the returned threshold.
func TestBestThresholdAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{2, 3, 50, 301} {
		for _, levels := range []int{0, 4} {
			for _, sep := range []float64{1, -1} {
				t.Run(fmt.Sprintf("n=%d/levels=%d/sep=%v", n, levels, sep), func(t *testing.T) {
					scores, labels := randomSet(r, n, 0.4, levels, sep)
					th, bal, err := BestThreshold(scores, labels)
					if err != nil {
						t.Fatal(err)
					}
					if c := NewConfusion(scores, labels, th); c.BalancedAccuracy() != bal {
						t.Errorf("balanced accuracy at %v is %v, BestThreshold said %v", th, c.BalancedAccuracy(), bal)
					}
					for _, s := range append(slices.Clone(scores), float32(math.Inf(1))) {
						if b := NewConfusion(scores, labels, s).BalancedAccuracy(); b > bal+1e-12 {
							t.Fatalf("threshold %v gives %v, better than %v at %v", s, b, bal, th)
						}
					}
				})
			}
		}
	}
}

func TestScoreKeyOrder(t *testing.T) {
	inf := float32(math.Inf(1))
	vals := []float32{-inf, -math.MaxFloat32, -1, -math.SmallestNonzeroFloat32, 0,
		math.SmallestNonzeroFloat32, 0.5, 1, math.MaxFloat32, inf}
	for i, v := range vals {
		if got := keyScore(scoreKey(v)); got != v {
			t.Errorf("keyScore(scoreKey(%v)) = %v", v, got)
		}
		if i > 0 && !(scoreKey(vals[i-1]) < scoreKey(v)) {
			t.Errorf("scoreKey(%v) >= scoreKey(%v)", vals[i-1], v)
		}
	}
	if scoreKey(float32(math.Copysign(0, -1))) != scoreKey(0) {
		t.Error("-0 and +0 have different keys")
	}
}

// FuzzROCAUC compares ROCAUC with refROCAUC on small sets built from the
// fuzz input: each byte is a label (bit 0) and a score from a small set of
// values (so ties are common) that includes ±0, ±Inf and NaN. It also
// checks that the ROC curve's area agrees and that BestThreshold's
// balanced accuracy is the one at its threshold.
func FuzzROCAUC(f *testing.F) {
	f.Add([]byte{0, 1})
	f.Add([]byte{2, 3, 2, 3, 10, 11})
	f.Add([]byte{0xff, 0x01, 0x80})
	f.Add([]byte{0xf8, 0xf9, 0xfb, 0xfa, 0xf6, 0xf7})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 512 {
			data = data[:512]
		}
		scores := make([]float32, len(data))
		labels := make([]bool, len(data))
		firstNaN := -1
		for i, b := range data {
			labels[i] = b&1 != 0
			switch v := b >> 1; v {
			case 127:
				scores[i] = float32(math.NaN())
				if firstNaN < 0 {
					firstNaN = i
				}
			case 126:
				scores[i] = float32(math.Inf(1))
			case 125:
				scores[i] = float32(math.Inf(-1))
			case 124:
				scores[i] = float32(math.Copysign(0, -1))
			default:
				scores[i] = float32(v%32)/8 - 1
			}
		}
		got, err := ROCAUC(scores, labels)
		cats := 0
		for _, l := range labels {
			if l {
				cats++
			}
		}
		switch {
		case firstNaN >= 0:
			if !errors.Is(err, ErrNaNScore) || !strings.Contains(err.Error(), fmt.Sprintf("index %d", firstNaN)) {
				t.Fatalf("error %v, want NaN at index %d", err, firstNaN)
			}
			return
		case cats == 0 || cats == len(labels):
			if !errors.Is(err, ErrOneClass) {
				t.Fatalf("error %v, want ErrOneClass", err)
			}
			return
		case err != nil:
			t.Fatal(err)
		}
		if want := refROCAUC(scores, labels); got != want {
			t.Fatalf("ROCAUC = %v, reference %v", got, want)
		}
		fpr, tpr, _, err := ROCCurve(scores, labels)
		if err != nil {
			t.Fatal(err)
		}
		area := 0.0
		for i := 1; i < len(fpr); i++ {
			area += (fpr[i] - fpr[i-1]) * (tpr[i] + tpr[i-1]) / 2
		}
		if math.Abs(area-got) > 1e-12 {
			t.Fatalf("curve area %v, ROCAUC %v", area, got)
		}
		th, bal, err := BestThreshold(scores, labels)
		if err != nil {
			t.Fatal(err)
		}
		if b := NewConfusion(scores, labels, th).BalancedAccuracy(); b != bal || bal < 0.5 {
			t.Fatalf("BestThreshold = %v, %v; balanced accuracy there is %v", th, bal, b)
		}
	})
}

// gaussScores draws sigmoid(z) scores, z ~ N(mu, 1), for n examples.
func gaussScores(r *rand.Rand, n int, mu float64, cat bool, scores []float32, labels []bool) ([]float32, []bool) {
	for range n {
		z := mu + r.NormFloat64()
		scores = append(scores, float32(1/(1+math.Exp(-z))))
		labels = append(labels, cat)
	}
	return scores, labels
}

func TestCalibratedThreshold(t *testing.T) {
	logit := func(p float32) float64 { return math.Log(float64(p) / (1 - float64(p))) }
	for _, c := range []struct {
		name         string
		muCat, muNon float64
		cats, non    int
		wantLogit    float64 // where the two classes' densities cross
		tol          float64
	}{
		{"balanced scores, unbalanced counts", 1, -1, 200, 2000, 0, 0.15},
		{"scores shifted low", -1, -3, 300, 300, -2, 0.15},
		{"scores shifted high", 4, 1, 300, 900, 2.5, 0.2},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			s, l := gaussScores(r, c.cats, c.muCat, true, nil, nil)
			s, l = gaussScores(r, c.non, c.muNon, false, s, l)
			thr, err := CalibratedThreshold(s, l)
			if err != nil {
				t.Fatal(err)
			}
			if got := logit(thr); math.Abs(got-c.wantLogit) > c.tol {
				t.Errorf("threshold %v (logit %.3f), want logit %.3f", thr, got, c.wantLogit)
			}
		})
	}
	t.Run("steadier than the best cut on small samples", func(t *testing.T) {
		// 12 cats and 25 non-cats, as a household's held-out labels: over
		// many samples the fitted threshold varies less, and gives a higher
		// balanced accuracy on the whole population, than BestThreshold's.
		r := rand.New(rand.NewPCG(3, 4))
		pop, popL := gaussScores(r, 5000, 1, true, nil, nil)
		pop, popL = gaussScores(r, 5000, -1, false, pop, popL)
		var sdFit, sdBest, accFit, accBest float64
		const trials = 300
		for range trials {
			s, l := gaussScores(r, 12, 1, true, nil, nil)
			s, l = gaussScores(r, 25, -1, false, s, l)
			fit, err := CalibratedThreshold(s, l)
			if err != nil {
				t.Fatal(err)
			}
			best, _, _ := BestThreshold(s, l)
			sdFit += logit(fit) * logit(fit)
			sdBest += logit(best) * logit(best)
			accFit += NewConfusion(pop, popL, fit).BalancedAccuracy()
			accBest += NewConfusion(pop, popL, best).BalancedAccuracy()
		}
		sdFit, sdBest = math.Sqrt(sdFit/trials), math.Sqrt(sdBest/trials)
		t.Logf("logit of the threshold, RMS from the true 0: fitted %.3f, best cut %.3f; balanced accuracy %.4f vs %.4f",
			sdFit, sdBest, accFit/trials, accBest/trials)
		if sdFit >= sdBest || accFit <= accBest {
			t.Errorf("the fitted threshold is not steadier or better: RMS %.3f vs %.3f, accuracy %.4f vs %.4f", sdFit, sdBest, accFit/trials, accBest/trials)
		}
	})
	t.Run("errors", func(t *testing.T) {
		for name, c := range map[string]struct {
			s []float32
			l []bool
		}{
			"one class": {[]float32{0.2, 0.8}, []bool{true, true}},
			"NaN":       {[]float32{0.2, float32(math.NaN())}, []bool{true, false}},
			"inverted":  {[]float32{0.1, 0.2, 0.8, 0.9}, []bool{true, true, false, false}},
		} {
			if _, err := CalibratedThreshold(c.s, c.l); err == nil {
				t.Errorf("%s: no error", name)
			}
		}
	})
}

func TestCalibratedThresholdNear(t *testing.T) {
	logit := func(p float32) float64 { return math.Log(float64(p) / (1 - float64(p))) }
	r := rand.New(rand.NewPCG(5, 6))
	// The classes' densities cross at logit 1; the prior says logit -1.
	s, l := gaussScores(r, 400, 2, true, nil, nil)
	s, l = gaussScores(r, 400, 0, false, s, l)
	prior := float32(1 / (1 + math.Exp(1)))
	var last float64 = -2
	for _, w := range []float64{1e6, 400, 40, 0} {
		thr, err := CalibratedThresholdNear(s, l, prior, w)
		if err != nil {
			t.Fatal(err)
		}
		got := logit(thr)
		t.Logf("prior weight %g: threshold logit %.3f", w, got)
		if got <= last {
			t.Errorf("prior weight %g: logit %.3f, not above %.3f with a heavier prior: the labels should move it further", w, got, last)
		}
		last = got
		switch w {
		case 1e6:
			if math.Abs(got+1) > 0.01 {
				t.Errorf("a prior of a million labels gave logit %.3f, want the prior's -1", got)
			}
		case 0:
			if math.Abs(got-1) > 0.15 {
				t.Errorf("no prior gave logit %.3f, want the crossing at 1", got)
			}
		}
	}
	// Half-way weight between prior and data: somewhere between.
	if thr, _ := CalibratedThresholdNear(s, l, prior, 800); !(logit(thr) > -1 && logit(thr) < 1) {
		t.Errorf("a prior as heavy as the labels gave logit %.3f, want between -1 and 1", logit(thr))
	}
	for _, c := range []struct {
		prior  float32
		weight float64
	}{{0, 2}, {1, 2}, {float32(math.NaN()), 2}, {0.3, -1}, {0.3, math.Inf(1)}, {0.3, math.NaN()}} {
		if _, err := CalibratedThresholdNear(s, l, c.prior, c.weight); err == nil {
			t.Errorf("prior %v weight %v: no error", c.prior, c.weight)
		}
	}
}
