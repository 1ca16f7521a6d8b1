package learn

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"catd/model"
	"catd/train"
)

// wiseLearner is a learner that drifts freely (no pulls, every round
// kept) with the given Wise, after rounds rounds, and its starting weights.
func wiseLearner(t *testing.T, wise float64, rounds int) (*Learner, *Replay, []float32) {
	t.Helper()
	l, r := newLearner(t, Config{LR: 0.05, Steps: 20, Batch: 8, Margin: math.Inf(1), AUCMargin: 1,
		Anchor: -1, Prox: -1, HeadWarmup: -1, Wise: wise, Seed: 4}, 60)
	start := slices.Clone(l.Net().Params)
	for range rounds {
		if _, err := l.Round(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return l, r, start
}

// mix is (1 − w)·start + w·trained, summed in float64 as
// model.Net.Average sums: the anchor in full precision.
func mix(start, trained []float32, w float64) []float32 {
	out := make([]float32, len(start))
	for i, a := range start {
		out[i] = float32(0 + (1-w)*float64(a) + w*float64(trained[i]))
	}
	return out
}

func TestWisePublishesTheMix(t *testing.T) {
	l, r, start := wiseLearner(t, 0.5, 3)
	trained := l.Net().Params
	pub, err := l.InferenceNet()
	if err != nil {
		t.Fatal(err)
	}
	want := mix(start, trained, 0.5)
	var moved float64
	for i, p := range pub.Params {
		if p != want[i] {
			t.Fatalf("published parameter %d is %v, want %v (start %v, trained %v)", i, p, want[i], start[i], trained[i])
		}
		moved = max(moved, math.Abs(float64(trained[i]-start[i])))
	}
	if moved < 1e-3 {
		t.Fatalf("training moved no weight (at most %g): the test shows nothing", moved)
	}

	// The held-out labels judged the trained weights, and the threshold
	// was fitted to the mix's scores: the round reports both models.
	res, err := l.Round(context.Background())
	if err != nil || !res.Accepted {
		t.Fatalf("round not accepted (%v): %+v", err, res)
	}
	_, val := r.split()
	keep := slices.Clone(l.net.Params)
	pubNet, _ := l.InferenceNet()
	copy(l.net.Params, pubNet.Params)
	vPub, err := l.validate(val)
	if err != nil {
		t.Fatal(err)
	}
	copy(l.net.Params, keep)
	vTrained, err := l.validate(val)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(res.ValLoss-vTrained.loss) > 1e-9 || math.Abs(res.PublishedLoss-vPub.loss) > 1e-9 || math.Abs(res.PublishedAUC-vPub.auc) > 1e-9 {
		t.Errorf("the round reports held-out loss %v and published %v (AUC %v); the trained weights' is %v, the published model's %v (AUC %v)",
			res.ValLoss, res.PublishedLoss, res.PublishedAUC, vTrained.loss, vPub.loss, vPub.auc)
	}
	if thr, err := l.threshold(vPub); err != nil || thr != res.Threshold {
		t.Errorf("threshold %v, fitted to the published model's scores %v (%v)", res.Threshold, thr, err)
	}
	if vPub.loss == vTrained.loss {
		t.Error("the published and the trained models score alike: the mix is not in effect")
	}
	if !slices.Equal(l.net.Params, keep) {
		t.Error("judging the mix left it in the trained weights")
	}

	// Wise 1 publishes the trained weights as they are.
	l1, _, _ := wiseLearner(t, 1, 2)
	p1, err := l1.InferenceNet()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p1.Params, l1.Net().Params) {
		t.Error("with Wise 1 the published weights are not the trained ones")
	}
}

// TestWiseCheckpoint: a checkpoint's model is the published mix, what catd
// runs; the trained weights beside it are where training resumes.
func TestWiseCheckpoint(t *testing.T) {
	l, r, start := wiseLearner(t, 0.5, 3)
	data, err := l.Checkpoint(nil)
	if err != nil {
		t.Fatal(err)
	}
	net, info, st, err := train.DecodeCheckpoint(data, model.Options{MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := l.InferenceNet()
	if !slices.Equal(net.Params, pub.Params) {
		t.Error("the checkpoint's model is not the published one")
	}
	if !slices.Equal(st.Trained, l.Net().Params) {
		t.Error("the checkpoint does not keep the trained weights")
	}
	l2, err := NewLearner(net, info, r, Config{Wise: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if err := l2.SetAnchor(start, 0.5); err != nil {
		t.Fatal(err)
	}
	if err := l2.Restore(st); err != nil {
		t.Fatal(err)
	}
	pub2, _ := l2.InferenceNet()
	if !slices.Equal(l2.Net().Params, l.Net().Params) || !slices.Equal(pub2.Params, pub.Params) {
		t.Error("the restored learner trains or publishes other weights")
	}

	for _, bad := range []struct {
		name    string
		trained []float32
	}{
		{"short", st.Trained[:len(st.Trained)-1]},
		{"NaN", append(slices.Clone(st.Trained[:len(st.Trained)-1]), float32(math.NaN()))},
	} {
		l3, err := NewLearner(net, info, r, Config{})
		if err != nil {
			t.Fatal(err)
		}
		s := *st
		s.Trained = bad.trained
		if err := l3.Restore(&s); err == nil {
			t.Errorf("%s trained weights restored", bad.name)
		}
		if !slices.Equal(l3.Net().Params, net.Params) {
			t.Errorf("refused %s trained weights changed the learner", bad.name)
		}
	}

	// Without Wise the checkpoint is the trained model alone.
	l1, _, _ := wiseLearner(t, 1, 1)
	data, err = l1.Checkpoint(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, st, err := train.DecodeCheckpoint(data, model.Options{MaxBatch: 1}); err != nil || st.Trained != nil {
		t.Errorf("a Wise 1 checkpoint keeps trained weights apart (%v)", err)
	}
}

// TestReconfiguredKeepsTheAnchor: new settings go on from the trained
// weights toward the same anchor, weighted by the same importance.
func TestReconfiguredKeepsTheAnchor(t *testing.T) {
	probe, _ := newLearner(t, Config{}, 20)
	imp := make([]float32, len(probe.Net().Params))
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range imp {
		imp[i] = 0.1 + rng.Float32()
	}
	l, r := newLearner(t, Config{LR: 0.05, Steps: 10, Batch: 8, Margin: math.Inf(1), AUCMargin: 1, Importance: imp, Wise: 0.5}, 40)
	start := slices.Clone(l.Net().Params)
	shifted := slices.Clone(start)
	for i := range shifted {
		shifted[i] += 0.25
	}
	if err := l.SetAnchor(shifted, 0.3); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := l.Round(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	for _, last := range []int{0, 1} {
		nl, err := l.Reconfigured(r, Config{LR: 0.01, Steps: 5, Batch: 4, TrainLast: last})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(nl.Net().Params, l.Net().Params) || nl.Info().Threshold != l.Info().Threshold || nl.anchorThreshold != 0.3 {
			t.Errorf("TrainLast %d: the reconfigured learner does not start where l is", last)
		}
		if !slices.Equal(nl.anchor, l.anchor[nl.off-l.off:]) {
			t.Errorf("TrainLast %d: the anchor is not kept", last)
		}
		if w, err := l.Reconfigured(r, Config{TrainLast: last, Wise: 0.5}); err != nil {
			t.Fatal(err)
		} else if !slices.Equal(w.anchorNet.Params[w.off:], shifted[w.off:]) {
			t.Errorf("TrainLast %d: the full-precision anchor of a mix is not the anchor", last)
		}
		if !slices.Equal(nl.importance, l.importance[nl.off-l.off:]) {
			t.Errorf("TrainLast %d: the importance is not kept", last)
		}
	}
	if last, err := l.Reconfigured(r, Config{TrainLast: 1}); err != nil || last.off == 0 {
		t.Fatalf("TrainLast 1 trains every layer (%v)", err)
	} else if back, err := last.Reconfigured(r, Config{}); err != nil {
		t.Fatal(err)
	} else if !slices.Equal(back.anchor[last.off:], last.anchor) || !slices.Equal(back.anchor[:last.off], bf16s(last.Net().Params[:last.off])) {
		t.Error("going back to every layer: the anchor of the untrained layers is not their weights")
	}
}

// bf16s is params in bfloat16, as an anchor holds them.
func bf16s(params []float32) []uint16 {
	h := make([]uint16, len(params))
	toBfloat16(h, params)
	return h
}
