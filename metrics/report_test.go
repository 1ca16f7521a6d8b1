package metrics

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
)

// handReport is Evaluate(handScores, handLabels, 0.5), worked out by hand
// in confusion_test.go.
var handReport = Report{
	N: 10, NCat: 4, NNonCat: 6,
	Accuracy:         0.7,
	BalancedAccuracy: 17.0 / 24, // (3/4 + 4/6)/2
	Precision:        0.6,
	Recall:           0.75,
	F1:               6.0 / 9,
	ROCAUC:           0.875,
	Threshold:        0.5,
	Confusion:        Confusion{TP: 3, FP: 2, TN: 4, FN: 1},
}

// sameReport reports whether a and b are equal, with NaN equal to NaN.
func sameReport(a, b Report) bool {
	if math.IsNaN(a.ROCAUC) && math.IsNaN(b.ROCAUC) {
		a.ROCAUC, b.ROCAUC = 0, 0
	}
	if math.IsNaN(a.Threshold) && math.IsNaN(b.Threshold) {
		a.Threshold, b.Threshold = 0, 0
	}
	return a == b
}

func TestEvaluate(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name      string
		scores    []float32
		labels    []bool
		threshold float32
		want      Report
	}{
		{"hand", handScores, handLabels, handThreshold, handReport},
		// The float32 threshold 0.3 is 0.300000011920929; the report
		// keeps its shortest decimal form.
		{"threshold 0.3", []float32{0.2, 0.4}, []bool{false, true}, 0.3, Report{
			N: 2, NCat: 1, NNonCat: 1, Accuracy: 1, BalancedAccuracy: 1, Precision: 1, Recall: 1, F1: 1,
			ROCAUC: 1, Threshold: 0.3, Confusion: Confusion{TP: 1, TN: 1}}},
		// One class: not an error, ROC AUC NaN, the rest as usual.
		{"only cats", []float32{0.2, 0.4, 0.9}, []bool{true, true, true}, 0.3, Report{
			N: 3, NCat: 3, Accuracy: 2.0 / 3, BalancedAccuracy: 2.0 / 3, Precision: 1, Recall: 2.0 / 3, F1: 0.8,
			ROCAUC: nan, Threshold: 0.3, Confusion: Confusion{TP: 2, FN: 1}}},
		{"only non-cats", []float32{0.2, 0.4}, []bool{false, false}, 0.3, Report{
			N: 2, NNonCat: 2, Accuracy: 0.5, BalancedAccuracy: 0.5,
			ROCAUC: nan, Threshold: 0.3, Confusion: Confusion{TN: 1, FP: 1}}},
		{"empty", nil, nil, 0.5, Report{ROCAUC: nan, Threshold: 0.5}},
		{"+Inf threshold", []float32{0.2, 0.4}, []bool{false, true}, float32(math.Inf(1)), Report{
			N: 2, NCat: 1, NNonCat: 1, Accuracy: 0.5, BalancedAccuracy: 0.5,
			ROCAUC: 1, Threshold: math.Inf(1), Confusion: Confusion{FN: 1, TN: 1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Evaluate(tc.scores, tc.labels, tc.threshold)
			if err != nil || !sameReport(got, tc.want) {
				t.Errorf("Evaluate = %#v, %v\nwant %#v", got, err, tc.want)
			}
		})
	}
}

func TestEvaluateNaNThreshold(t *testing.T) {
	_, err := Evaluate(handScores, handLabels, float32(math.NaN()))
	if err == nil || !strings.Contains(err.Error(), "threshold is NaN") {
		t.Errorf("error %v, want one about the NaN threshold", err)
	}
}

func TestReportJSON(t *testing.T) {
	tests := []struct {
		name string
		r    Report
		want string
	}{
		{"hand", handReport, `{"n":10,"n_cat":4,"n_noncat":6,"accuracy":0.7,` +
			`"balanced_accuracy":0.7083333333333334,"precision":0.6,"recall":0.75,` +
			`"f1":0.6666666666666666,"roc_auc":0.875,"threshold":0.5}`},
		{"NaN ROC AUC is null", Report{N: 2, NCat: 2, Accuracy: 1, ROCAUC: math.NaN(), Threshold: 0.3},
			`{"n":2,"n_cat":2,"n_noncat":0,"accuracy":1,"balanced_accuracy":0,"precision":0,` +
				`"recall":0,"f1":0,"roc_auc":null,"threshold":0.3}`},
		{"infinite threshold is null", Report{ROCAUC: 0.5, Threshold: math.Inf(1)},
			`{"n":0,"n_cat":0,"n_noncat":0,"accuracy":0,"balanced_accuracy":0,"precision":0,` +
				`"recall":0,"f1":0,"roc_auc":0.5,"threshold":null}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.r)
			if err != nil || string(b) != tc.want {
				t.Fatalf("json.Marshal = %s, %v\nwant %s", b, err, tc.want)
			}
			// As a field and through a pointer the encoding is the same.
			b, err = json.Marshal(struct{ R *Report }{&tc.r})
			if err != nil || string(b) != `{"R":`+tc.want+`}` {
				t.Errorf("json.Marshal via pointer = %s, %v", b, err)
			}
			var back Report
			if err := json.Unmarshal([]byte(tc.want), &back); err != nil {
				t.Fatal(err)
			}
			want := tc.r
			want.Confusion = Confusion{}
			if math.IsInf(want.Threshold, 0) {
				want.Threshold = math.NaN()
			}
			if !sameReport(back, want) {
				t.Errorf("round trip = %#v\nwant %#v", back, want)
			}
		})
	}
}

// TestReportJSONKeys pins the exact key set that the CLI prints.
func TestReportJSONKeys(t *testing.T) {
	b, err := json.Marshal(handReport)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	want := []string{"n", "n_cat", "n_noncat", "accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc", "threshold"}
	if len(keys) != len(want) {
		t.Fatalf("keys %v, want %v", keys, want)
	}
	for _, k := range want {
		if _, ok := m[k]; !ok {
			t.Errorf("key %q missing from %s", k, b)
		}
	}
	// And the struct tags say the same, with Confusion left out.
	rt := reflect.TypeFor[Report]()
	for i := range rt.NumField() {
		tag := rt.Field(i).Tag.Get("json")
		if i < len(want) && tag != want[i] || i >= len(want) && tag != "-" {
			t.Errorf("field %s has tag %q", rt.Field(i).Name, tag)
		}
	}
}

func TestReportString(t *testing.T) {
	tests := []struct {
		name string
		r    Report
		want string
	}{
		{"hand", handReport, `images             10 (4 cat, 6 non-cat)
threshold          0.5
accuracy           0.7000
balanced accuracy  0.7083
precision          0.6000
recall             0.7500
F1                 0.6667
ROC AUC            0.8750
                     predicted cat predicted non-cat
actual cat                       3                 1
actual non-cat                   2                 4
`},
		{"one class", Report{N: 2, NCat: 2, Accuracy: 0.5, BalancedAccuracy: 0.5, Precision: 1, Recall: 0.5,
			F1: 2.0 / 3, ROCAUC: math.NaN(), Threshold: 0.3, Confusion: Confusion{TP: 1, FN: 1}}, `images             2 (2 cat, 0 non-cat)
threshold          0.3
accuracy           0.5000
balanced accuracy  0.5000
precision          1.0000
recall             0.5000
F1                 0.6667
ROC AUC            undefined (needs both classes)
                     predicted cat predicted non-cat
actual cat                       1                 1
actual non-cat                   0                 0
`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.r.String(); got != tc.want {
				t.Errorf("String() =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

// FuzzReportJSON decodes arbitrary bytes as a Report; whatever decodes must
// encode, and decode again to the same Report.
func FuzzReportJSON(f *testing.F) {
	b, _ := json.Marshal(handReport)
	f.Add(b)
	f.Add([]byte(`{"n":2,"roc_auc":null,"threshold":null}`))
	f.Add([]byte(`{"roc_auc":"x"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r Report
		if json.Unmarshal(data, &r) != nil {
			return
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("Marshal(%+v): %v", r, err)
		}
		var back Report
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("Unmarshal(%s): %v", b, err)
		}
		if !sameReport(r, back) {
			t.Fatalf("round trip %+v → %s → %+v", r, b, back)
		}
	})
}
