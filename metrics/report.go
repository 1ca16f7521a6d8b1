package metrics

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Report is the evaluation of a classifier on a labelled set at one
// threshold. The rates follow the conventions of [Confusion]; ROCAUC is
// NaN when the set lacks a class (the other metrics are still meaningful
// then, so this is not an error). Threshold is the float32 threshold
// widened to the float64 with the same shortest decimal form, so 0.3
// stays 0.3 rather than becoming 0.30000001192092896.
//
// Report encodes to JSON with exactly the keys of its tags; Confusion is
// left out, and a NaN or infinite value (in practice ROCAUC) encodes as
// null, which decodes back to NaN.
type Report struct {
	N                int       `json:"n"`
	NCat             int       `json:"n_cat"`
	NNonCat          int       `json:"n_noncat"`
	Accuracy         float64   `json:"accuracy"`
	BalancedAccuracy float64   `json:"balanced_accuracy"`
	Precision        float64   `json:"precision"`
	Recall           float64   `json:"recall"`
	F1               float64   `json:"f1"`
	ROCAUC           float64   `json:"roc_auc"`
	Threshold        float64   `json:"threshold"`
	Confusion        Confusion `json:"-"`
}

// Evaluate returns the [Report] of scores against labels at threshold
// (predict cat iff score >= threshold). It panics if the slices differ in
// length, and returns an error naming the first NaN score (wrapping
// [ErrNaNScore]) or reporting a NaN threshold. A set with only one class,
// or no images, is not an error: ROCAUC is NaN. Evaluate allocates 8
// bytes per score for [ROCAUC].
func Evaluate(scores []float32, labels []bool, threshold float32) (Report, error) {
	checkLen("Evaluate", scores, labels)
	if threshold != threshold {
		return Report{}, fmt.Errorf("metrics: Evaluate: threshold is NaN")
	}
	auc, err := rocAUC("Evaluate", scores, labels)
	switch {
	case errors.Is(err, ErrOneClass):
		auc = math.NaN()
	case err != nil:
		return Report{}, err
	}
	c := NewConfusion(scores, labels, threshold)
	t, _ := strconv.ParseFloat(strconv.FormatFloat(float64(threshold), 'g', -1, 32), 64)
	return Report{
		N:                c.N(),
		NCat:             c.Cats(),
		NNonCat:          c.NonCats(),
		Accuracy:         c.Accuracy(),
		BalancedAccuracy: c.BalancedAccuracy(),
		Precision:        c.Precision(),
		Recall:           c.Recall(),
		F1:               c.F1(),
		ROCAUC:           auc,
		Threshold:        t,
		Confusion:        c,
	}, nil
}

// reportFields is Report without its methods, so that MarshalJSON and
// UnmarshalJSON can use the default encoding of the other fields.
type reportFields Report

// jsonReport overrides the float fields that may be non-finite; being less
// deeply embedded, they hide the fields of the same name in reportFields.
type jsonReport struct {
	*reportFields
	ROCAUC    jsonFloat `json:"roc_auc"`
	Threshold jsonFloat `json:"threshold"`
}

// MarshalJSON encodes r with the keys of its field tags, in field order,
// writing null for a NaN or infinite ROCAUC or Threshold.
func (r Report) MarshalJSON() ([]byte, error) {
	return json.Marshal(jsonReport{(*reportFields)(&r), jsonFloat(r.ROCAUC), jsonFloat(r.Threshold)})
}

// UnmarshalJSON decodes what MarshalJSON encodes, null as NaN. Confusion
// is not in the JSON and is left as it was.
func (r *Report) UnmarshalJSON(b []byte) error {
	j := jsonReport{reportFields: (*reportFields)(r), ROCAUC: jsonFloat(r.ROCAUC), Threshold: jsonFloat(r.Threshold)}
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	r.ROCAUC, r.Threshold = float64(j.ROCAUC), float64(j.Threshold)
	return nil
}

// jsonFloat is a float64 whose JSON form is null when it is not finite.
type jsonFloat float64

// MarshalJSON encodes f as a JSON number, or null if f is NaN or ±Inf.
func (f jsonFloat) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(f))
}

// UnmarshalJSON decodes a JSON number, or null as NaN.
func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = jsonFloat(math.NaN())
		return nil
	}
	return json.Unmarshal(b, (*float64)(f))
}

// String returns r as a block of text, one metric a line, ending with the
// confusion matrix as a table with actual classes as rows and predicted
// classes as columns. A NaN ROC AUC reads "undefined".
func (r Report) String() string {
	var b strings.Builder
	auc := "undefined (needs both classes)"
	if !math.IsNaN(r.ROCAUC) {
		auc = fmt.Sprintf("%.4f", r.ROCAUC)
	}
	fmt.Fprintf(&b, "images             %d (%d cat, %d non-cat)\n", r.N, r.NCat, r.NNonCat)
	fmt.Fprintf(&b, "threshold          %g\n", r.Threshold)
	fmt.Fprintf(&b, "accuracy           %.4f\n", r.Accuracy)
	fmt.Fprintf(&b, "balanced accuracy  %.4f\n", r.BalancedAccuracy)
	fmt.Fprintf(&b, "precision          %.4f\n", r.Precision)
	fmt.Fprintf(&b, "recall             %.4f\n", r.Recall)
	fmt.Fprintf(&b, "F1                 %.4f\n", r.F1)
	fmt.Fprintf(&b, "ROC AUC            %s\n", auc)
	c := r.Confusion
	w := max(len("predicted non-cat"), len(strconv.Itoa(max(c.TP, c.FP, c.TN, c.FN))))
	fmt.Fprintf(&b, "%-16s %*s %*s\n", "", w, "predicted cat", w, "predicted non-cat")
	fmt.Fprintf(&b, "%-16s %*d %*d\n", "actual cat", w, c.TP, w, c.FN)
	fmt.Fprintf(&b, "%-16s %*d %*d\n", "actual non-cat", w, c.FP, w, c.TN)
	return b.String()
}
