package daemon

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
// restart resumes from the checkpoint written at shutdown.
func TestServiceLearnsFromLabels(t *testing.T) {
	r := newRig(t)
	inv, info := brightnessNet(t)
	copy(inv.Params, []float32{-4, -4, -4, 0})
	if err := inv.WriteFile(r.model, info); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("source: file:/fake/dark\nmodel: %s\nreview:\n  min_interval: 0s\n"+
		"learn:\n  lr: 0.5\n  steps: 30\n  batch: 8\n  every: 1s\n  optimizer: momentum\n  anchor: 0\n", r.model)
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
	done, _ := filepath.Glob(filepath.Join(labelDir, "done", "*.png"))
	if len(done) != 48 {
		t.Errorf("%d label files in done/, want 48", len(done))
	}

	// Shutdown writes a checkpoint of the learnt model; a restart resumes it.
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	ckpts, _ := filepath.Glob(filepath.Join(r.dir, "state", "checkpoints", "checkpoint-*.safetensors"))
	if len(ckpts) != 1 {
		t.Fatalf("checkpoints after shutdown: %v\n%s", ckpts, r.logs.String())
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
