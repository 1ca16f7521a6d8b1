package metrics_test

import (
	"encoding/json"
	"fmt"

	"catd/metrics"
)

// Evaluating ten images at threshold 0.5: the report as text, and as the
// JSON the CLI prints.
func ExampleEvaluate() {
	scores := []float32{0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05}
	labels := []bool{true, true, false, true, false, true, false, false, false, false}
	r, err := metrics.Evaluate(scores, labels, 0.5)
	if err != nil {
		panic(err)
	}
	fmt.Print(r)
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
	// Output:
	// images             10 (4 cat, 6 non-cat)
	// threshold          0.5
	// accuracy           0.7000
	// balanced accuracy  0.7083
	// precision          0.6000
	// recall             0.7500
	// F1                 0.6667
	// ROC AUC            0.8750
	//                      predicted cat predicted non-cat
	// actual cat                       3                 1
	// actual non-cat                   2                 4
	// {"n":10,"n_cat":4,"n_noncat":6,"accuracy":0.7,"balanced_accuracy":0.7083333333333334,"precision":0.6,"recall":0.75,"f1":0.6666666666666666,"roc_auc":0.875,"threshold":0.5}
}

// With only cats in the set the ROC AUC is undefined: NaN in the report,
// null in its JSON.
func ExampleEvaluate_oneClass() {
	r, _ := metrics.Evaluate([]float32{0.2, 0.9}, []bool{true, true}, 0.5)
	b, _ := json.Marshal(r)
	fmt.Println(r.ROCAUC, r.Recall)
	fmt.Println(string(b))
	// Output:
	// NaN 0.5
	// {"n":2,"n_cat":2,"n_noncat":0,"accuracy":0.5,"balanced_accuracy":0.5,"precision":1,"recall":0.5,"f1":0.6666666666666666,"roc_auc":null,"threshold":0.5}
}

// The example of scikit-learn's roc_auc_score: of the four (cat, non-cat)
// pairs, the cat scores higher in three.
func ExampleROCAUC() {
	auc, err := metrics.ROCAUC([]float32{0.1, 0.4, 0.35, 0.8}, []bool{false, false, true, true})
	fmt.Println(auc, err)
	// Output:
	// 0.75 <nil>
}

// The example of scikit-learn's roc_curve.
func ExampleROCCurve() {
	fpr, tpr, thresholds, _ := metrics.ROCCurve([]float32{0.1, 0.4, 0.35, 0.8}, []bool{false, false, true, true})
	for i := range fpr {
		fmt.Printf("score >= %-4.2g  FPR %.1f  TPR %.1f\n", thresholds[i], fpr[i], tpr[i])
	}
	// Output:
	// score >= +Inf  FPR 0.0  TPR 0.0
	// score >= 0.8   FPR 0.0  TPR 0.5
	// score >= 0.4   FPR 0.5  TPR 0.5
	// score >= 0.35  FPR 0.5  TPR 1.0
	// score >= 0.1   FPR 1.0  TPR 1.0
}

// On separable scores the best threshold is halfway between the highest
// non-cat (0.25) and the lowest cat (0.625). (The midpoint is rounded to
// float32: between 0.3 and 0.6 it would print as 0.45000002.)
func ExampleBestThreshold() {
	th, bal, _ := metrics.BestThreshold([]float32{0.125, 0.25, 0.625, 0.875}, []bool{false, false, true, true})
	fmt.Println(th, bal)
	// Output:
	// 0.4375 1
}

func ExampleConfusion() {
	c := metrics.NewConfusion([]float32{0.9, 0.6, 0.2, 0.7}, []bool{true, false, true, false}, 0.5)
	fmt.Printf("%+v precision=%.2f recall=%.2f balanced=%.2f\n", c, c.Precision(), c.Recall(), c.BalancedAccuracy())
	// Output:
	// {TP:1 FP:2 TN:0 FN:1} precision=0.33 recall=0.50 balanced=0.25
}
