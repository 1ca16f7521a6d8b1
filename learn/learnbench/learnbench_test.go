package learnbench

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"catd/dataset"
	"catd/learn"
	"catd/model"
)

// toySet makes n side×side images: cats bright in the middle, non-cats
// dark there, with noise; cats come first when catsFirst.
func toySet(n, cats int, seed uint64) *dataset.Set {
	const side = 8
	r := rand.New(rand.NewPCG(seed, 1))
	s := &dataset.Set{W: side, H: side}
	for i := range n {
		cat := i < cats
		for y := range side {
			for x := range side {
				v := 60 + r.IntN(60)
				if (x-4)*(x-4)+(y-4)*(y-4) < 6 {
					if cat {
						v += 90
					} else {
						v -= 40
					}
				}
				s.Pixels = append(s.Pixels, uint8(v), uint8(v), uint8(v))
			}
		}
		s.Labels = append(s.Labels, cat)
		s.Paths = append(s.Paths, "toy")
		s.Classes = append(s.Classes, map[bool]string{true: "cat", false: "noncat"}[cat])
	}
	return s
}

func TestArrival(t *testing.T) {
	s := toySet(30, 10, 1)
	for _, o := range Orders {
		a := Arrival(s, o, 7)
		if len(a) != 30 {
			t.Fatalf("%s: %d labels", o, len(a))
		}
		seen := map[int]bool{}
		for _, i := range a {
			if seen[i] {
				t.Fatalf("%s: label %d given twice", o, i)
			}
			seen[i] = true
		}
		if !slices.Equal(a, Arrival(s, o, 7)) {
			t.Errorf("%s: not the same for the same seed", o)
		}
		switch o {
		case ClassByClass:
			for k, i := range a {
				if s.Labels[i] != (k < 10) {
					t.Fatalf("class by class: label %d is the %dth given", i, k)
				}
			}
		case Interleaved:
			for k := range 20 {
				if s.Labels[a[k]] != (k%2 == 0) {
					t.Fatalf("interleaved: position %d", k)
				}
			}
		}
	}
}

// TestClassBurstLearns is the fast test of labels given class by class
// (every cat, then every non-cat, in four rounds' time), on a toy set a
// small net learns: rounds are accepted, the test ROC AUC and balanced
// accuracy rise well above a model that starts wrong, and the run ends.
func TestClassBurstLearns(t *testing.T) {
	a, err := model.ParseArch("input 3x8x8; conv 6 k3 s1 p1; relu; maxpool 2; conv 8 k3 s1 p1; relu; gap; flatten; dense 1")
	if err != nil {
		t.Fatal(err)
	}
	net, err := model.New(a, model.Options{MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	net.Init(rand.New(rand.NewPCG(5, 6)))
	o := Options{Net: net, Info: model.DefaultInfo(a, "toy"), Patience: 3, Learn: learn.Config{LR: 0.05, Batch: 8, Steps: 20},
		Forget: toySet(60, 30, 4)}
	var outs []Outcome
	for _, ord := range Orders {
		t.Run(string(ord), func(t *testing.T) {
			sc := Scenario{Name: "toy", Labels: toySet(80, 40, 2), Test: toySet(60, 30, 3), Order: ord, PerTick: 20, Seed: 1}
			if ord == Trickle {
				sc.PerTick = 5
			}
			out, err := Run(context.Background(), sc, o)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: balanced accuracy %.3f -> %.3f, ROC AUC %.3f -> %.3f, %d of %d rounds accepted, %d ticks",
				ord, out.Before.BalAcc, out.After.BalAcc, out.Before.AUC, out.After.AUC, out.Accepted, out.Rounds, out.Ticks)
			if out.Accepted == 0 || len(out.Curve) != out.Accepted {
				t.Errorf("%d rounds accepted, %d curve points", out.Accepted, len(out.Curve))
			}
			if out.After.AUC < 0.95 || out.After.BalAcc < 0.85 || out.After.AUC < out.Before.AUC+0.1 {
				t.Errorf("after the labels: ROC AUC %.3f (before %.3f), balanced accuracy %.3f", out.After.AUC, out.Before.AUC, out.After.BalAcc)
			}
			// Scores at the starting threshold equal those at the model's
			// before learning; the best threshold is at least as good as
			// either; the forgetting set (like the labels here) is learnt.
			for _, c := range []struct {
				name string
				s    Score
			}{{"test before", out.Before}, {"test after", out.After}, {"forgetting set before", out.ForgetBefore}, {"forgetting set after", out.ForgetAfter}} {
				if c.s.BalAccBest < c.s.BalAcc || c.s.BalAccBest < c.s.BalAccStart || c.s.BalAcc == 0 {
					t.Errorf("%s: balanced accuracy %.3f, %.3f at the starting threshold, %.3f at the best", c.name, c.s.BalAcc, c.s.BalAccStart, c.s.BalAccBest)
				}
			}
			if out.Before.BalAcc != out.Before.BalAccStart || out.ForgetBefore.BalAcc != out.ForgetBefore.BalAccStart {
				t.Errorf("before learning, the model's threshold is the starting one: %+v, %+v", out.Before, out.ForgetBefore)
			}
			if !(out.ForgetAfter.AUC > out.ForgetBefore.AUC) {
				t.Errorf("forgetting set ROC AUC %.3f -> %.3f: the labels' kind of image not learnt", out.ForgetBefore.AUC, out.ForgetAfter.AUC)
			}
			if out.Ticks >= 300 {
				t.Errorf("the run did not end by itself (%d ticks)", out.Ticks)
			}
			outs = append(outs, out)
		})
	}
	rep := Report{Model: "toy", Orders: Orders, Seeds: 1, Outcomes: outs}
	md := rep.Markdown()
	for _, want := range []string{"| toy | class-by-class | 80 |", "| toy | trickle | 80 |", "- toy, every order and seed (3 runs)"} {
		if !strings.Contains(md, want) {
			t.Errorf("the report has no %q:\n%s", want, md)
		}
	}
	if _, err := rep.Figure().Render(); err != nil {
		t.Error(err)
	}
}
