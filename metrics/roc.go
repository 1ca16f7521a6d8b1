package metrics

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// ErrOneClass is wrapped by the errors of functions that need at least one
// cat and one non-cat but got only one class (or no images).
var ErrOneClass = errors.New("need at least one cat and one non-cat")

// ErrNaNScore is wrapped by the errors reporting a NaN score.
var ErrNaNScore = errors.New("NaN score")

// ROCAUC returns the area under the ROC curve of scores against labels: the
// probability that a random cat scores above a random non-cat, with ties
// counting 1/2. It equals scikit-learn's roc_auc_score (trapezoid rule
// over distinct thresholds) and is computed exactly, as the Mann–Whitney
// statistic
//
//	AUC = (#{(c, n): s_c > s_n} + #{(c, n): s_c = s_n}/2) / (cats·non-cats)
//
// over all pairs of a cat c and a non-cat n; -0 and +0 are tied. The pair
// counts are exact integers, so the result is their correctly rounded
// quotient for up to about 10^8 scores.
//
// ROCAUC panics if the slices differ in length and returns an error naming
// the first NaN score or wrapping [ErrOneClass]. It sorts a copy of the
// scores: O(n log n) time, 8n bytes.
func ROCAUC(scores []float32, labels []bool) (float64, error) {
	return rocAUC("ROCAUC", scores, labels)
}

// rocAUC is ROCAUC with errors and panics naming fn.
func rocAUC(fn string, scores []float32, labels []bool) (float64, error) {
	keys, cats, non, err := sortedKeys(fn, scores, labels)
	if err != nil {
		return 0, err
	}
	// twoU is twice the Mann–Whitney U: each tie group of p cats and q
	// non-cats above `below` non-cats adds 2·p·below + p·q.
	var twoU, below int64
	forGroups(keys, func(_ float32, p, q int) {
		twoU += int64(p) * (2*below + int64(q))
		below += int64(q)
	})
	return float64(twoU) / (2 * float64(cats) * float64(non)), nil
}

// ROCCurve returns the ROC curve of scores against labels, as
// scikit-learn's roc_curve with drop_intermediate=False: thresholds holds
// +Inf followed by the distinct scores in descending order, and fpr[i],
// tpr[i] are the false- and true-positive rates when predicting cat iff
// score >= thresholds[i]. The curve starts at (0, 0) and ends at (1, 1);
// both fpr and tpr are non-decreasing. All three slices are newly
// allocated and have the same length, the number of distinct scores plus
// one. Errors and panics are those of [ROCAUC].
func ROCCurve(scores []float32, labels []bool) (fpr, tpr, thresholds []float64, err error) {
	keys, cats, non, err := sortedKeys("ROCCurve", scores, labels)
	if err != nil {
		return nil, nil, nil, err
	}
	// Walk from the highest score down, so collect the ascending groups
	// first and then reverse.
	var ts []float32
	var ps, qs []int
	forGroups(keys, func(s float32, p, q int) {
		ts, ps, qs = append(ts, s), append(ps, p), append(qs, q)
	})
	m := len(ts) + 1
	fpr, tpr, thresholds = make([]float64, m), make([]float64, m), make([]float64, m)
	thresholds[0] = math.Inf(1)
	tp, fp := 0, 0
	for i := range ts {
		g := len(ts) - 1 - i
		tp += ps[g]
		fp += qs[g]
		fpr[i+1] = float64(fp) / float64(non)
		tpr[i+1] = float64(tp) / float64(cats)
		thresholds[i+1] = float64(ts[g])
	}
	return fpr, tpr, thresholds, nil
}

// BestThreshold returns the threshold that maximises the balanced accuracy
// of predicting cat iff score >= threshold, and that balanced accuracy.
//
// The candidates are one threshold per cut between adjacent distinct
// scores a < b, namely the midpoint (a+b)/2 rounded to float32 (or b when
// a and b are adjacent float32 values, so that a is still below the
// threshold and b not), plus the two trivial cuts: the lowest score
// (everything predicted cat) and the next float32 above the highest score
// (nothing predicted cat; omitted if the highest score is +Inf). Both
// trivial cuts have balanced accuracy 0.5. Among candidates with equal
// balanced accuracy the one closest to 0.5 wins, and of two equally close
// the lower.
//
// The returned balanced accuracy equals
// NewConfusion(scores, labels, threshold).BalancedAccuracy(). Errors and
// panics are those of [ROCAUC].
func BestThreshold(scores []float32, labels []bool) (threshold float32, balancedAcc float64, err error) {
	keys, cats, non, err := sortedKeys("BestThreshold", scores, labels)
	if err != nil {
		return 0, 0, err
	}
	// A cut with fn cats and tn non-cats below it has balanced accuracy
	// ((cats−fn)/cats + tn/non)/2 = ((cats−fn)·non + tn·cats) / (2·cats·non);
	// compare the exact integer numerators so ties are ties.
	best := Confusion{}
	var bestNum int64 = -1
	var bestT float32
	consider := func(t float32, fn, tn int) {
		num := int64(cats-fn)*int64(non) + int64(tn)*int64(cats)
		if num > bestNum || num == bestNum && math.Abs(float64(t)-0.5) < math.Abs(float64(bestT)-0.5) {
			bestNum, bestT = num, t
			best = Confusion{TP: cats - fn, FN: fn, TN: tn, FP: non - tn}
		}
	}
	fn, tn := 0, 0
	var prev float32
	first := true
	forGroups(keys, func(s float32, p, q int) {
		if first {
			consider(s, 0, 0)
			first = false
		} else {
			t := float32((float64(prev) + float64(s)) / 2)
			if t <= prev {
				t = s
			}
			consider(t, fn, tn)
		}
		fn += p
		tn += q
		prev = s
	})
	if !math.IsInf(float64(prev), 1) {
		consider(math.Nextafter32(prev, float32(math.Inf(1))), fn, tn)
	}
	return bestT, best.BalancedAccuracy(), nil
}

// sortedKeys returns one key per score, sorted ascending: the score mapped
// to a uint32 that sorts like the float (see scoreKey) in the high half and
// the label (1 for cat) in bit 0. It also returns the number of cats and
// non-cats. It panics on a length mismatch and returns an error for a NaN
// score or when a class is missing.
func sortedKeys(fn string, scores []float32, labels []bool) (keys []uint64, cats, non int, err error) {
	checkLen(fn, scores, labels)
	for i, s := range scores {
		if s != s {
			return nil, 0, 0, fmt.Errorf("metrics: %s: %w at index %d", fn, ErrNaNScore, i)
		}
		if labels[i] {
			cats++
		}
	}
	non = len(scores) - cats
	if cats == 0 || non == 0 {
		return nil, cats, non, fmt.Errorf("metrics: %s: %w, got %d cats and %d non-cats", fn, ErrOneClass, cats, non)
	}
	keys = make([]uint64, len(scores))
	for i, s := range scores {
		k := uint64(scoreKey(s)) << 32
		if labels[i] {
			k |= 1
		}
		keys[i] = k
	}
	slices.Sort(keys)
	return keys, cats, non, nil
}

// forGroups calls f once per distinct score in keys, in ascending order,
// with the score and the numbers p of cats and q of non-cats that have it.
func forGroups(keys []uint64, f func(s float32, p, q int)) {
	for i := 0; i < len(keys); {
		hi := keys[i] >> 32
		p, q := 0, 0
		for ; i < len(keys) && keys[i]>>32 == hi; i++ {
			if keys[i]&1 != 0 {
				p++
			} else {
				q++
			}
		}
		f(keyScore(uint32(hi)), p, q)
	}
}

// scoreKey maps a non-NaN float32 to a uint32 with the same order, and
// -0 and +0 to the same key: negative floats have all bits flipped, the
// others only the sign bit.
func scoreKey(s float32) uint32 {
	if s == 0 {
		s = 0 // -0 → +0
	}
	b := math.Float32bits(s)
	if b>>31 != 0 {
		return ^b
	}
	return b | 1<<31
}

// keyScore is the inverse of scoreKey.
func keyScore(k uint32) float32 {
	if k>>31 != 0 {
		return math.Float32frombits(k &^ (1 << 31))
	}
	return math.Float32frombits(^k)
}

// CalibratedThreshold returns the score threshold at which a class-balanced
// logistic calibration of the scores (Platt scaling: p' = σ(a·logit(p) +
// b), fitted with each class weighing half) crosses 0.5. It is the
// decision threshold for balanced accuracy that a smooth fit gives: with a
// few dozen labels it moves far less from one sample to the next than
// [BestThreshold]'s argmax of a step function. The fit is pulled toward the
// scores as they are (a = 1, b = 0) with the weight of two labels, so that
// separable or tiny sets give a finite answer. Scores must be in (0, 1).
// It fails as [ROCAUC] does, and when the scores rank cats below non-cats
// (a ≤ 0): then no threshold on them helps.
func CalibratedThreshold(scores []float32, labels []bool) (float32, error) {
	return CalibratedThresholdNear(scores, labels, 0.5, 2)
}

// CalibratedThresholdNear is [CalibratedThreshold] with the fit pulled
// toward a calibration that crosses 0.5 at the score prior (a = 1,
// b = -logit(prior)) with the weight of weight labels: the threshold
// stays near prior unless the labels are many or say clearly otherwise.
// It is how a threshold already fitted on other data (a model's own) is
// updated by a few labels. prior must be in (0, 1) and weight ≥ 0.
func CalibratedThresholdNear(scores []float32, labels []bool, prior float32, weight float64) (float32, error) {
	if !(prior > 0 && prior < 1) {
		return 0, fmt.Errorf("metrics: CalibratedThreshold: prior threshold %v, want (0, 1)", prior)
	}
	if !(weight >= 0) || math.IsInf(weight, 1) {
		return 0, fmt.Errorf("metrics: CalibratedThreshold: prior weight %v, want a finite number ≥ 0", weight)
	}
	checkLen("CalibratedThreshold", scores, labels)
	var cats, non int
	for i, s := range scores {
		if math.IsNaN(float64(s)) {
			return 0, fmt.Errorf("metrics: CalibratedThreshold: score %d is NaN", i)
		}
		if labels[i] {
			cats++
		} else {
			non++
		}
	}
	if cats == 0 || non == 0 {
		return 0, fmt.Errorf("metrics: CalibratedThreshold: need both classes, have %d cats and %d non-cats", cats, non)
	}
	n := float64(cats + non)
	wc, wn := n/(2*float64(cats)), n/(2*float64(non))
	logit := func(p float64) float64 {
		p = math.Min(math.Max(p, 1e-7), 1-1e-7)
		return math.Log(p / (1 - p))
	}
	b0 := -logit(float64(prior))
	a, b := 1.0, b0
	for range 50 {
		// Gradient and Hessian of the weighted log loss plus the prior.
		ga, gb := weight*(a-1), weight*(b-b0)
		haa, hab, hbb := weight, 0.0, weight
		for i, s := range scores {
			z := logit(float64(s))
			p := 1 / (1 + math.Exp(-(a*z + b)))
			w, y := wn, 0.0
			if labels[i] {
				w, y = wc, 1
			}
			d := w * (p - y)
			ga += d * z
			gb += d
			h := w * p * (1 - p)
			haa += h * z * z
			hab += h * z
			hbb += h
		}
		det := haa*hbb - hab*hab
		if det <= 0 {
			break
		}
		da := (hbb*ga - hab*gb) / det
		db := (haa*gb - hab*ga) / det
		a, b = a-da, b-db
		if math.Abs(da)+math.Abs(db) < 1e-10 {
			break
		}
	}
	if !(a > 0) {
		return 0, fmt.Errorf("metrics: CalibratedThreshold: the scores rank cats below non-cats (slope %.3g)", a)
	}
	t := 1 / (1 + math.Exp(b/a))
	return float32(math.Min(math.Max(t, 1e-6), 1-1e-6)), nil
}
