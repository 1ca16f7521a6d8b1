package metrics

import "fmt"

// Confusion is the confusion matrix of a classifier at one threshold: an
// image is predicted cat iff its score >= the threshold. TP counts cats
// predicted cat, FP non-cats predicted cat, TN non-cats predicted non-cat and
// FN cats predicted non-cat.
//
// Every rate is the quotient of two integer counts, correctly rounded to
// float64. A rate whose denominator is zero is 0, like scikit-learn with
// zero_division=0; each method says which denominator it has.
type Confusion struct {
	TP, FP, TN, FN int
}

// NewConfusion returns the confusion matrix of scores against labels at
// threshold: image i is predicted cat iff scores[i] >= threshold. A NaN
// score, and every score when threshold is NaN, is predicted non-cat.
// NewConfusion panics if the slices differ in length; it does not allocate.
func NewConfusion(scores []float32, labels []bool, threshold float32) Confusion {
	checkLen("NewConfusion", scores, labels)
	var c Confusion
	for i, s := range scores {
		switch cat := s >= threshold; {
		case cat && labels[i]:
			c.TP++
		case cat:
			c.FP++
		case labels[i]:
			c.FN++
		default:
			c.TN++
		}
	}
	return c
}

// N returns the number of images, TP+FP+TN+FN.
func (c Confusion) N() int { return c.TP + c.FP + c.TN + c.FN }

// Cats returns the number of images labelled cat, TP+FN.
func (c Confusion) Cats() int { return c.TP + c.FN }

// NonCats returns the number of images labelled non-cat, TN+FP.
func (c Confusion) NonCats() int { return c.TN + c.FP }

// Accuracy returns (TP+TN)/N, the fraction classified correctly, or 0 when
// there are no images.
func (c Confusion) Accuracy() float64 { return ratio(c.TP+c.TN, c.N()) }

// Precision returns TP/(TP+FP), the fraction of predicted cats that are
// cats, or 0 when nothing is predicted cat.
func (c Confusion) Precision() float64 { return ratio(c.TP, c.TP+c.FP) }

// Recall returns TP/(TP+FN), the fraction of cats found, or 0 when there
// are no cats. It is the same as TPR.
func (c Confusion) Recall() float64 { return c.TPR() }

// TPR returns the true-positive rate (sensitivity) TP/(TP+FN), or 0 when
// there are no cats.
func (c Confusion) TPR() float64 { return ratio(c.TP, c.TP+c.FN) }

// TNR returns the true-negative rate (specificity) TN/(TN+FP), or 0 when
// there are no non-cats.
func (c Confusion) TNR() float64 { return ratio(c.TN, c.TN+c.FP) }

// FPR returns the false-positive rate FP/(FP+TN) = 1−TNR, or 0 when there
// are no non-cats.
func (c Confusion) FPR() float64 { return ratio(c.FP, c.FP+c.TN) }

// F1 returns the harmonic mean of precision and recall, computed as
// 2TP/(2TP+FP+FN), or 0 when TP+FP+FN = 0 (scikit-learn's f1_score with
// zero_division=0). When precision or recall is undefined and the other
// is not, F1 is 0 because TP is 0.
func (c Confusion) F1() float64 { return ratio(2*c.TP, 2*c.TP+c.FP+c.FN) }

// BalancedAccuracy returns (TPR+TNR)/2, the mean recall of the two
// classes. As in scikit-learn's balanced_accuracy_score, the mean is over
// the classes present in the labels: with only cats it is TPR, with only
// non-cats it is TNR, and with no images it is 0.
func (c Confusion) BalancedAccuracy() float64 {
	cats, non := c.Cats(), c.NonCats()
	switch {
	case cats > 0 && non > 0:
		// (TP/cats + TN/non)/2 over a common denominator, so that the
		// result is the correctly rounded quotient of two exact integers.
		num := int64(c.TP)*int64(non) + int64(c.TN)*int64(cats)
		return float64(num) / (2 * float64(cats) * float64(non))
	case cats > 0:
		return c.TPR()
	case non > 0:
		return c.TNR()
	}
	return 0
}

// ratio returns num/den, or 0 when den is 0.
func ratio(num, den int) float64 {
	if den == 0 {
		return 0
	}
	return float64(num) / float64(den)
}

// checkLen panics if scores and labels differ in length.
func checkLen(fn string, scores []float32, labels []bool) {
	if len(scores) != len(labels) {
		panic(fmt.Sprintf("metrics: %s with %d scores and %d labels", fn, len(scores), len(labels)))
	}
}
