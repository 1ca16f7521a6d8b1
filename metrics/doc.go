// Package metrics measures catd's cat detector as a binary classifier.
//
// Every function takes the model's scores, one p(cat) per image, and the
// true labels, true meaning "this image contains a cat", as two parallel
// slices of equal length. Unequal lengths are a programmer error and panic
// with a message starting "metrics: ". A NaN score is a fault in the data:
// the functions that can return an error report it naming the first NaN
// index (wrapping [ErrNaNScore]); [NewConfusion], which cannot, counts a
// NaN score as "not cat" because NaN >= t is false for every t.
//
// An image is predicted to be a cat iff its score >= threshold.
//
// The ROC functions follow scikit-learn: [ROCAUC] is the area under the
// ROC curve with the trapezoid rule over distinct thresholds, which equals
// the Mann–Whitney U statistic with tied (cat, non-cat) pairs counted as
// 1/2, and [ROCCurve] returns the points of roc_curve with
// drop_intermediate=False. Both need at least one cat and one non-cat
// ([ErrOneClass]).
//
// Nothing here keeps or modifies the caller's slices. [ROCAUC], [ROCCurve],
// [BestThreshold] and [Evaluate] sort a private copy of the scores (8 bytes
// per score) and run in O(n log n); [NewConfusion] does not allocate.
package metrics
