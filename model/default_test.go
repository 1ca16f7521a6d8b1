package model_test

import (
	"os"
	"strconv"
	"testing"

	"catd/dataset"
	"catd/metrics"
	"catd/model"
)

// sharedVal is the project's development data, absent on users' machines.
const sharedVal = "../../shared/data/tinyimagenet-cat64.tar/val"

// TestDefaultModelOnSharedVal checks that the built-in model scores on Tiny
// ImageNet's val split what its metadata says it scored when it was trained
// (make default-model), so the figures in the README are the model's.
func TestDefaultModelOnSharedVal(t *testing.T) {
	if _, err := os.Stat("../../shared/data/tinyimagenet-cat64.tar"); err != nil {
		t.Skip("../shared/data not present")
	}
	if testing.Short() {
		t.Skip("runs the model on 10,000 images; skipped with -short")
	}
	net, info, err := model.Default(model.Options{MaxBatch: 64})
	if err != nil {
		t.Fatal(err)
	}
	set, _, err := dataset.Load(sharedVal, dataset.Options{W: net.Arch.W, H: net.Arch.H})
	if err != nil {
		t.Fatal(err)
	}
	in := net.InputLen()
	x := make([]float32, 64*in)
	scores := make([]float32, set.Len())
	for lo := 0; lo < set.Len(); lo += 64 {
		hi := min(lo+64, set.Len())
		for i := lo; i < hi; i++ {
			info.NormalizePixels(x[(i-lo)*in:(i-lo+1)*in], set.Image(i))
		}
		net.Predict(scores[lo:hi], x[:(hi-lo)*in])
	}
	rep, err := metrics.Evaluate(scores, set.Labels, info.Threshold)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("default model on val: ROC AUC %.4f, balanced accuracy %.4f at threshold %.4f (targets 0.95 and 0.88)",
		rep.ROCAUC, rep.BalancedAccuracy, rep.Threshold)
	for _, c := range []struct {
		key string
		got float64
	}{{"val_roc_auc", rep.ROCAUC}, {"val_balanced_accuracy", rep.BalancedAccuracy}} {
		claimed, err := strconv.ParseFloat(info.Extra[c.key], 64)
		if err != nil {
			t.Fatalf("the default model's metadata has no %s: %v", c.key, err)
		}
		if c.got < claimed-0.002 {
			t.Errorf("%s is %.4f, the model file claims %.4f", c.key, c.got, claimed)
		}
	}
	// The targets the built-in model was trained to meet.
	if rep.ROCAUC < 0.95 || rep.BalancedAccuracy < 0.88 {
		t.Errorf("ROC AUC %.4f and balanced accuracy %.4f, want at least 0.95 and 0.88", rep.ROCAUC, rep.BalancedAccuracy)
	}
}
