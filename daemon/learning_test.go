package daemon

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"catd/config"
	"catd/learn"
	"catd/model"
	"catd/train"

	"catd/internal/testwait"
)

// writeLabel writes an 8x8 PNG of brightness v (with noise) into dir.
func writeLabel(t *testing.T, dir string, name string, v int, r *rand.Rand) {
	t.Helper()
	px := make([]uint8, 8*8*3)
	for i := 0; i < len(px); i += 3 {
		c := uint8(min(255, max(0, v+r.IntN(30)-15)))
		px[i], px[i+1], px[i+2] = c, c, c
	}
	writePNG(t, filepath.Join(dir, name), px, 8, 8)
}

// TestServiceLearnsFromLabels: a model that sees cats in the dark watches
// dark frames and reports a cat; the user labels dark images noncat and
// bright ones cat; catd trains, swaps the model in, the cat is gone, and a
// restart resumes from the checkpoint written at shutdown. The model it
// runs is half the trained weights, half the model's (learn.wise).
func TestServiceLearnsFromLabels(t *testing.T) {
	r := newRig(t)
	inv, info := brightnessNet(t)
	copy(inv.Params, []float32{-4, -4, -4, 0})
	if err := inv.WriteFile(r.model, info); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("source: file:/fake/dark\nmodel: %s\nreview:\n  min_interval: 0s\n"+
		"learn:\n  lr: 0.5\n  steps: 30\n  batch: 8\n  every: 1s\n  optimizer: momentum\n  anchor: 0\n  wise: 0.5\n", r.model)
	r.start(cfg)
	r.event(EventCatPresent)
	labelDir := filepath.Join(r.dir, "state", "labels")
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 24 {
		writeLabel(t, filepath.Join(labelDir, "noncat"), fmt.Sprintf("dark%02d.png", i), 30, rng)
		writeLabel(t, filepath.Join(labelDir, "cat"), fmt.Sprintf("bright%02d.png", i), 200, rng)
	}
	for {
		ev := r.event(EventTrained)
		if strings.Contains(ev.Msg, "accepted=true") {
			break
		}
		t.Logf("round: %s", ev.Msg)
	}
	r.event(EventCatGone)
	st := r.status(func(s *Status) bool {
		return s.LabelsCat == 24 && s.LabelsNonCat == 24 && strings.Contains(s.Model, "fine-tuned")
	})
	if st.LabelsCat != 24 || st.LabelsNonCat != 24 || st.Learning != "on" || !strings.Contains(st.Model, "fine-tuned") {
		t.Errorf("status: %d cat and %d noncat labels, learning %q, model %q", st.LabelsCat, st.LabelsNonCat, st.Learning, st.Model)
	}
	if st.ReviewFrames == 0 {
		t.Error("no review frame saved around cat_present / cat_gone")
	}
	for _, class := range []string{"cat", "noncat"} {
		done, _ := filepath.Glob(filepath.Join(labelDir, "done", class, "*.png"))
		if len(done) != 24 {
			t.Errorf("%d label files in done/%s/, want 24", len(done), class)
		}
	}

	// Shutdown writes a checkpoint of the learnt model; a restart resumes it.
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	ckpts, _ := filepath.Glob(filepath.Join(r.dir, "state", "checkpoints", "checkpoint-*.safetensors"))
	if len(ckpts) != 1 {
		t.Fatalf("checkpoints after shutdown: %v\n%s", ckpts, r.logs.String())
	}
	ck, _, cs, err := train.ReadCheckpoint(ckpts[0], model.Options{MaxBatch: 1})
	if err != nil || cs == nil || cs.Trained == nil {
		t.Fatalf("checkpoint %v without the trained weights (%v)", ckpts[0], err)
	}
	for i, a := range []float32{-4, -4, -4, 0} {
		// The mean of the two, summed in float64 as model.Net.Average sums.
		if want := float32(0 + 0.5*float64(a) + 0.5*float64(cs.Trained[i])); ck.Params[i] != want || ck.Params[i] == cs.Trained[i] {
			t.Errorf("checkpoint's model parameter %d is %v, trained %v: want the mix %v", i, ck.Params[i], cs.Trained[i], want)
		}
	}
	r2 := &serviceRig{t: t, dir: r.dir, cfgPath: r.cfgPath, model: r.model, ctl: &Control{}, events: make(chan Event, 1000),
		logs: &syncBuffer{}, done: make(chan error, 1), reload: make(chan os.Signal, 1)}
	r2.start(cfg)
	r2.frames(5)
	if r2.ctl.Snapshot().Present {
		t.Error("after a restart the cat is back: the learnt model was not resumed")
	}
	if !strings.Contains(r2.logs.String(), "resuming from checkpoint") {
		t.Errorf("no resume in the log:\n%s", r2.logs.String())
	}
	if st := r2.status(func(s *Status) bool { return s.LabelsCat > 0 }); st.LabelsCat != 24 {
		t.Errorf("%d cat labels after a restart, want the 24 kept", st.LabelsCat)
	}
}

// TestLearningPatience: rounds that do not lower the held-out loss by 1%
// (here a learning rate too small to move the weights) go on for
// learn.patience rounds after the labels came, then learning waits; a new
// label starts it again.
func TestLearningPatience(t *testing.T) {
	r := newRig(t)
	inv, info := brightnessNet(t)
	copy(inv.Params, []float32{-4, -4, -4, 0}) // wrong on every label
	if err := inv.WriteFile(r.model, info); err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("source: file:/fake/dark\nmodel: %s\nlearn:\n  lr: 1e-12\n  steps: 2\n  batch: 4\n  every: 1s\n  patience: 3\n", r.model)
	r.start(base + "  enabled: false\n")
	labelDir := filepath.Join(r.dir, "state", "labels")
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 12 {
		writeLabel(t, filepath.Join(labelDir, "noncat"), fmt.Sprintf("dark%02d.png", i), 30, rng)
		writeLabel(t, filepath.Join(labelDir, "cat"), fmt.Sprintf("bright%02d.png", i), 200, rng)
	}
	if st := r.status(func(s *Status) bool { return s.LabelsCat == 12 && s.LabelsNonCat == 12 }); st.LabelsCat != 12 || st.LabelsNonCat != 12 {
		t.Fatalf("%d cat and %d noncat labels taken, want 12 and 12", st.LabelsCat, st.LabelsNonCat)
	}
	// rounds counts "trained" events until none comes for quiet.
	rounds := func(quiet time.Duration) (n int) {
		t.Helper()
		for {
			select {
			case ev := <-r.events:
				if ev.Kind == EventTrained {
					if !strings.Contains(ev.Msg, "accepted=true") {
						t.Errorf("a round that cannot move the weights was rolled back: %s", ev.Msg)
					}
					n++
				}
			case <-time.After(quiet):
				return n
			}
		}
	}
	if n := rounds(2500 * time.Millisecond); n != 0 {
		t.Fatalf("%d rounds with learning off", n)
	}
	r.write(base + "  enabled: true\n")
	if n := rounds(3500 * time.Millisecond); n != 3 {
		t.Errorf("%d rounds after learning was turned on, want learn.patience = 3\n%s", n, r.logs.String())
	}
	writeLabel(t, filepath.Join(labelDir, "cat"), "late.png", 210, rng)
	if n := rounds(3500 * time.Millisecond); n != 3 {
		t.Errorf("%d rounds after a new label, want 3\n%s", n, r.logs.String())
	}
	// status.json counts the six rounds (all accepted, none gaining: every
	// label has been learnt from), and has the held-out AUC.
	st := r.status(func(s *Status) bool { return s.Rounds == 6 })
	if st.Rounds != 6 || st.RoundsAccepted != 6 || !strings.HasPrefix(st.LearningState, "idle") || st.HeldOutAUC == nil {
		t.Errorf("status: %d rounds, %d accepted, learning %q, held-out AUC %v; want 6, 6, idle, a number",
			st.Rounds, st.RoundsAccepted, st.LearningState, st.HeldOutAUC)
	}
}

// TestReplayBoundedWhileLearningOff: the replay journal is compacted when
// labels come in and at start, not only after training rounds, so that
// with learning off it stays bounded by the buffer's size rather than by
// the labels ever given; compacting keeps the buffer's examples.
func TestReplayBoundedWhileLearningOff(t *testing.T) {
	const perClass, w, h = 10, 8, 8
	r := newRig(t)
	replayDir := filepath.Join(r.dir, "state", "replay")
	opt := learn.ReplayOptions{W: w, H: h, PerClass: perClass, ValShare: config.Default().Learn.ValShare, Dir: replayDir}
	capBytes := int64(2 * perClass * w * h * 3)
	rec := int64(learn.RecordBytes(w, h))
	size := func(name string) int64 {
		st, err := os.Stat(filepath.Join(replayDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	// images returns the buffer's examples' pixels on reopening, sorted.
	images := func() [][]uint8 {
		t.Helper()
		rp, problems, err := learn.OpenReplay(opt)
		if err != nil || len(problems) > 0 {
			t.Fatal(err, problems)
		}
		defer rp.Close()
		im := rp.Images(1 << 20)
		slices.SortFunc(im, bytes.Compare)
		return im
	}

	// A journal grown while labels came in and no round ran (as before:
	// compaction came only after rounds): 120 labels, six times what the
	// buffer keeps.
	rp, _, err := learn.OpenReplay(opt)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 120 {
		px := make([]uint8, w*h*3)
		for j := range px {
			px[j] = uint8(rng.UintN(256))
		}
		if err := rp.Add(learn.Example{Cat: i%2 == 0, Pixels: px, Hash: sha256.Sum256(px), Time: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if err := rp.Close(); err != nil {
		t.Fatal(err)
	}
	kept := images()
	if n := size("replay.journal"); n != 120*rec {
		t.Fatalf("seeded journal of %d bytes, want %d", n, 120*rec)
	}

	// A start compacts it, keeping the same examples.
	cfg := fmt.Sprintf("source: file:/fake/dark\nmodel: %s\nlearn:\n  enabled: false\n  replay_per_class: %d\n", r.model, perClass)
	r.start(cfg)
	if n := size("replay.journal"); n > capBytes/4 {
		t.Errorf("after a start the journal holds %d bytes, want at most %d (a quarter of the buffer)", n, capBytes/4)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if got := images(); !slices.EqualFunc(got, kept, bytes.Equal) {
		t.Errorf("compacting at start kept %d examples, not the %d the buffer held", len(got), len(kept))
	}

	// Labels taken while learning is off keep the journal bounded.
	r2 := &serviceRig{t: t, dir: r.dir, cfgPath: r.cfgPath, model: r.model, ctl: &Control{}, events: make(chan Event, 1000),
		logs: &syncBuffer{}, done: make(chan error, 1), reload: make(chan os.Signal, 1)}
	r2.start(cfg)
	labelDir := filepath.Join(r.dir, "state", "labels")
	for i := range 60 {
		writeLabel(t, filepath.Join(labelDir, "noncat"), fmt.Sprintf("dark%02d.png", i), 30, rng)
		writeLabel(t, filepath.Join(labelDir, "cat"), fmt.Sprintf("bright%02d.png", i), 200, rng)
	}
	testwait.For(t, "120 labels taken", func() bool {
		done, _ := filepath.Glob(filepath.Join(labelDir, "done", "*", "*.png"))
		return len(done) == 120
	})
	journal, snap := size("replay.journal"), size("replay.safetensors")
	t.Logf("after 120 labels: journal %d bytes, snapshot %d bytes; the buffer holds %d bytes of pixels", journal, snap, capBytes)
	if journal > capBytes/4+rec {
		t.Errorf("journal of %d bytes, want at most a quarter of the buffer and a record (%d)", journal, capBytes/4+rec)
	}
	if journal+snap > 2*capBytes {
		t.Errorf("replay files of %d bytes, want under twice the buffer (%d)", journal+snap, 2*capBytes)
	}
	if err := r2.stop(); err != nil {
		t.Fatal(err)
	}
	got := images()
	if len(got) != 2*perClass {
		t.Errorf("reopened buffer holds %d examples, want %d", len(got), 2*perClass)
	}
	if slices.EqualFunc(got, kept, bytes.Equal) {
		t.Error("the labels taken are not in the buffer")
	}
}
