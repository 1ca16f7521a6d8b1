package fixedpoint_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"testing"

	"catd/dataset"
	"catd/fixedpoint"
	"catd/metrics"
	"catd/model"
	"catd/train"
)

// TestDefaultInt8IsOfTheDefaultModel checks that the built-in int8 model
// loads and was quantized from the built-in float model as it is now:
// after "make default-model", run "make default-int8".
func TestDefaultInt8IsOfTheDefaultModel(t *testing.T) {
	q, info, err := fixedpoint.Default(fixedpoint.Options{MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(model.DefaultBytes())
	if got := info.Extra["float_model_sha256"]; got != hex.EncodeToString(sum[:]) {
		t.Errorf("the built-in int8 model was made from a float model with SHA-256 %q, not the built-in one (%x): run make default-int8", got, sum)
	}
	_, finfo, err := model.Default(model.Options{MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	if info.Threshold != finfo.Threshold || info.Name != finfo.Name || q.Arch.H != 64 {
		t.Errorf("int8 model info %+v, float %+v", info, finfo)
	}
}

// TestDefaultInt8OnSharedVal holds the built-in int8 model to issue 4's
// targets on Tiny ImageNet's val split: its cat/no-cat decision agrees with
// the float32 model's on at least 99% of the images, and its ROC AUC is at
// most 0.005 below.
func TestDefaultInt8OnSharedVal(t *testing.T) {
	const val = "../../shared/data/tinyimagenet-cat64.tar/val"
	if _, err := os.Stat("../../shared/data/tinyimagenet-cat64.tar"); err != nil {
		t.Skip("../shared/data not present")
	}
	if testing.Short() {
		t.Skip("runs both models on 10,000 images; skipped with -short")
	}
	net, info, err := model.Default(model.Options{MaxBatch: 64})
	if err != nil {
		t.Fatal(err)
	}
	folded, err := net.Folded(model.Options{MaxBatch: 64})
	if err != nil {
		t.Fatal(err)
	}
	q, _, err := fixedpoint.Default(fixedpoint.Options{MaxBatch: 64})
	if err != nil {
		t.Fatal(err)
	}
	set, _, err := dataset.Load(val, dataset.Options{W: 64, H: 64})
	if err != nil {
		t.Fatal(err)
	}
	fs, _ := train.PredictSet(folded, &info, set, make([]float32, 64*folded.InputLen()))
	qs := make([]float32, set.Len())
	in := q.InputLen()
	for lo := 0; lo < set.Len(); lo += 64 {
		hi := min(lo+64, set.Len())
		q.Predict(qs[lo:hi], set.Pixels[lo*in:hi*in])
	}
	differ := 0
	for i := range fs {
		if (fs[i] >= info.Threshold) != (qs[i] >= info.Threshold) {
			differ++
		}
	}
	agree := 1 - float64(differ)/float64(len(fs))
	af, err := metrics.ROCAUC(fs, set.Labels)
	if err != nil {
		t.Fatal(err)
	}
	aq, _ := metrics.ROCAUC(qs, set.Labels)
	t.Logf("int8 agrees with float32 on %.4f of %d images (%d differ); ROC AUC float32 %.4f, int8 %.4f", agree, len(fs), differ, af, aq)
	if agree < 0.99 {
		t.Errorf("int8 decisions agree on %.4f of the images, want at least 0.99", agree)
	}
	if aq < af-0.005 {
		t.Errorf("int8 ROC AUC %.4f is more than 0.005 below float32's %.4f", aq, af)
	}
}
