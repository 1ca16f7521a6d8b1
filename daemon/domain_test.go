package daemon

import (
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"catd/camera"
	"catd/config"
	"catd/dataset"
	"catd/learn/learnbench"
	"catd/metrics"
	"catd/model"

	"catd/internal/testwait"
)

func writePNG(t *testing.T, path string, px []uint8, w, h int) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range w * h {
		copy(img.Pix[4*i:], px[3*i:3*i+3])
		img.Pix[4*i+3] = 255
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path))
	f, err := os.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// balancedAccuracy of a model file on a set, at the model's threshold.
func balancedAccuracy(t *testing.T, n *model.Net, info model.Info, set *dataset.Set) (bal, auc float64) {
	t.Helper()
	x := make([]float32, n.InputLen())
	p := make([]float32, set.Len())
	for i := range set.Len() {
		info.NormalizePixels(x, set.Image(i))
		n.Predict(p[i:i+1], x)
	}
	c := metrics.NewConfusion(p, set.Labels, info.Threshold)
	auc, _ = metrics.ROCAUC(p, set.Labels)
	return c.BalancedAccuracy(), auc
}

// TestDaemonLearnsANewDomain is the on-device learning proof: the running
// daemon, on the built-in model, is given 1,000 labelled night-vision
// images (500 cats, 500 non-cats from Tiny ImageNet's train split, in
// the order a user might label them) in its label folders; it trains until
// its rounds stop gaining (learn.patience), and the model it checkpointed
// classifies held-out night-vision images (150 cats, 150 non-cats from the
// val split) clearly better than the built-in model: ROC AUC and balanced
// accuracy at its re-calibrated threshold each up by at least 0.1.
func TestDaemonLearnsANewDomain(t *testing.T) {
	tarPath := filepath.Join("..", "..", "shared", "data", "tinyimagenet-cat64.tar")
	if _, err := os.Stat(tarPath); err != nil {
		t.Skip("../shared/data not present")
	}
	if os.Getenv("CATD_PROOF") == "" {
		// A few minutes of training on 2 cores: run it on purpose (make
		// test-learning), not in every test run.
		t.Skip("the learning proof: set CATD_PROOF=1 (make test-learning)")
	}
	train, _, err := dataset.Load(tarPath+"/train", dataset.Options{W: 64, H: 64, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	val, _, err := dataset.Load(tarPath+"/val", dataset.Options{W: 64, H: 64, Limit: 150})
	if err != nil {
		t.Fatal(err)
	}
	for i := range val.Len() {
		copy(val.Image(i), learnbench.NightVision(val.Image(i)))
	}
	base, info, err := model.Default(model.Options{MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	bal0, auc0 := balancedAccuracy(t, base, info, val)

	dir := t.TempDir()
	cfg := config.Default()
	cfg.Source = "test:?w=64&h=64&fps=5"
	cfg.HTTP.Listen = "" // no web page on the machine's port 8787
	cfg.Learn.Every = config.Duration(time.Second)
	cfg.Learn.Duty = 1
	cfg.StatsEvery = 0
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := make(chan Event, 100)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Config: cfg, StateDir: dir, Log: zerolog.New(logs).Level(zerolog.InfoLevel), OnEvent: func(ev Event) {
			if ev.Kind == EventTrained {
				events <- ev
			}
		}, OpenSource: func(uri string, log zerolog.Logger) (camera.Source, error) {
			return camera.Open(uri, camera.Options{Log: log})
		}})
	}()
	labelDir := filepath.Join(dir, "labels")
	if !testwait.Until(10*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(labelDir, "cat"))
		return err == nil
	}) {
		t.Fatalf("no label folders\n%s", logs.String())
	}
	// Cats and non-cats interleaved, in batches of ten, as a user
	// might sort a camera's frames.
	var cats, non []int
	for i := range train.Len() {
		if train.Labels[i] {
			cats = append(cats, i)
		} else {
			non = append(non, i)
		}
	}
	for k := 0; k < max(len(cats), len(non)); k += 10 {
		for _, group := range [][]int{cats, non} {
			class := "noncat"
			if len(group) > 0 && train.Labels[group[0]] {
				class = "cat"
			}
			for _, i := range group[min(k, len(group)):min(k+10, len(group))] {
				writePNG(t, filepath.Join(labelDir, class, fmt.Sprintf("night%04d.png", i)), learnbench.NightVision(train.Image(i)), 64, 64)
			}
		}
	}
	// Rounds go on until learn.patience rounds in a row gained nothing
	// (then none comes for a while), or 30 rounds.
	accepted, rounds := 0, 0
	timeout := time.After(20 * time.Minute)
	for idle := false; !idle && rounds < 30; {
		select {
		case ev := <-events:
			rounds++
			t.Logf("round %d: %s", rounds, ev.Msg)
			if strings.Contains(ev.Msg, "accepted=true") {
				accepted++
			}
		case <-time.After(30 * time.Second):
			idle = rounds > 0
		case err := <-done:
			t.Fatalf("Run returned %v\n%s", err, logs.String())
		case <-timeout:
			t.Fatalf("%d rounds in 20 minutes\n%s", rounds, logs.String())
		}
	}
	if st, err := ReadStatus(filepath.Join(dir, "status.json")); err == nil {
		t.Logf("learning memory: replay %.1f MB, optimizer state %.1f MB, training workspace %.1f MB; %d labels (%d held out)",
			float64(st.ReplayBytes)/1e6, float64(st.OptimizerStateBytes)/1e6, float64(st.TrainWorkspaceBytes)/1e6,
			st.LabelsCat+st.LabelsNonCat, st.LabelsHeldOut)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ckpts, _ := filepath.Glob(filepath.Join(dir, "checkpoints", "checkpoint-*.safetensors"))
	if len(ckpts) == 0 {
		t.Fatalf("no checkpoint\n%s", logs.String())
	}
	tuned, tinfo, err := model.ReadFile(ckpts[len(ckpts)-1], model.Options{MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	bal1, auc1 := balancedAccuracy(t, tuned, tinfo, val)
	t.Logf("night-vision val (%d cats, %d non-cats): balanced accuracy %.3f -> %.3f, ROC AUC %.3f -> %.3f after %d rounds (%d accepted) on %d labels",
		val.NumCat(), val.Len()-val.NumCat(), bal0, bal1, auc0, auc1, rounds, accepted, train.Len())
	if bal1 < bal0+0.1 || auc1 < auc0+0.1 {
		t.Errorf("on the new domain balanced accuracy went from %.3f to %.3f and ROC AUC from %.3f to %.3f, want each up by 0.1", bal0, bal1, auc0, auc1)
	}
}
