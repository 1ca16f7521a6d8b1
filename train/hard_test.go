package train

import (
	"math"
	"strings"
	"testing"

	"catd/dataset"
)

// exampleWeightsOf is tr's per-example loss weights on s.
func exampleWeightsOf(t testing.TB, tr *Trainer, s *dataset.Set) []float32 {
	t.Helper()
	w, err := tr.exampleWeights(s, tr.classWeights(s))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestHardNegativeWeights: the non-cats of the hard classes weigh
// HardWeight times the other non-cats, the non-cats together weigh what
// they did, the cats are untouched.
func TestHardNegativeWeights(t *testing.T) {
	set := toySet(40, 10, 3) // non-cats: 15 of class n2, 15 of n0
	cfg := toyConfig()
	plain := exampleWeightsOf(t, newToyTrainer(t, cfg), set)
	cfg.HardNegatives, cfg.HardWeight = []string{"n2"}, 3
	tr := newToyTrainer(t, cfg)
	w := exampleWeightsOf(t, tr, set)
	var sumPlain, sumHard float64
	var hard, other float32
	for i, l := range set.Labels {
		switch {
		case l:
			if w[i] != plain[i] {
				t.Errorf("cat %d: weight %v, was %v", i, w[i], plain[i])
			}
			continue
		case set.Classes[i] == "n2":
			hard = w[i]
		default:
			other = w[i]
		}
		sumPlain += float64(plain[i])
		sumHard += float64(w[i])
	}
	if math.Abs(float64(hard/other)-3) > 1e-5 {
		t.Errorf("hard negatives weigh %v, the others %v: want 3 times", hard, other)
	}
	if math.Abs(sumHard-sumPlain) > 1e-4*sumPlain {
		t.Errorf("the non-cats weigh %v together, were %v", sumHard, sumPlain)
	}

	cfg.HardNegatives = []string{"n9"}
	if _, err := newToyTrainer(t, cfg).exampleWeights(set, [2]float32{1, 1}); err == nil || !strings.Contains(err.Error(), "n9") {
		t.Errorf("hard-negative classes absent from the set: %v", err)
	}
	for _, bad := range []Config{{HardWeight: 2}, {HardWeight: -1, HardNegatives: []string{"n2"}}, {HardWeight: 2, HardNegatives: []string{"n2"}, Classes: []string{"a", "b"}}} {
		c := toyConfig()
		c.HardNegatives, c.HardWeight, c.Classes = bad.HardNegatives, bad.HardWeight, bad.Classes
		if err := c.Validate(); err == nil {
			t.Errorf("Validate accepts hard negatives %v weight %v classes %v", bad.HardNegatives, bad.HardWeight, bad.Classes)
		}
	}
}
