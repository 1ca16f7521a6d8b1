package daemon

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"catd/camera"
	"catd/internal/testwait"
	"catd/learn"
	"catd/model"
)

// flipBits flips one random bit in share of v's values, keeping each
// finite (a flip to Inf or NaN would be refused when the file is read).
func flipBits(v []float32, share float64, r *rand.Rand) {
	for i := range v {
		if r.Float64() >= share {
			continue
		}
		for {
			f := math.Float32frombits(math.Float32bits(v[i]) ^ 1<<r.IntN(32))
			if !math.IsInf(float64(f), 0) && !math.IsNaN(float64(f)) {
				v[i] = f
				break
			}
		}
	}
}

// TestProbeRefusesBitFlippedWeights is the adversarial round's checkpoint:
// the built-in model with 30% of its weights bit-flipped but finite, saved
// as catd saves (so its digest matches). Loading it must fail by the
// probe, for every seed tried; the intact model passes.
func TestProbeRefusesBitFlippedWeights(t *testing.T) {
	s := &service{}
	if _, err := s.loadModel(""); err != nil {
		t.Fatalf("the built-in model fails the probe: %v", err)
	}
	for seed := range uint64(8) {
		m, err := s.loadModel("")
		if err != nil {
			t.Fatal(err)
		}
		flipBits(m.master.Params, 0.3, rand.New(rand.NewPCG(seed, 1)))
		b, err := m.master.Bytes(m.info)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.decode(b)
		if err == nil || !strings.Contains(err.Error(), "damaged weights") {
			t.Errorf("seed %d: 30%% of the weights bit-flipped: err = %v, want the probe to refuse", seed, err)
		}
	}
}

// TestResumeFallsBackPastDamagedCheckpoints: the newest generation has a
// bit flipped on disk (its digest refuses it), the next one holds finite
// but absurd weights written by catd (the probe refuses it); catd resumes
// from the oldest, intact one and says why it skipped the others.
func TestResumeFallsBackPastDamagedCheckpoints(t *testing.T) {
	r := newRig(t)
	cp, inv, good := invertedCheckpoint(t, r) // generation 1: intact
	// Generation 2: a weight of 3e38, finite, sealed by catd.
	bad := *inv
	bad.master = cloneNet(t, inv.master)
	bad.master.Params[0] = 3e38
	poisoned, err := bad.master.Bytes(bad.info)
	if err != nil {
		t.Fatal(err)
	}
	second, _ := cp.Save(poisoned)
	// Generation 3: generation 1 with a bit flipped in its weights.
	flipped := append([]byte(nil), good...)
	flipped[int(binary.LittleEndian.Uint64(flipped))+8+1] ^= 0x04
	newest, _ := cp.Save(flipped)

	r.start(fmt.Sprintf("source: file:/fake/dark\nmodel: %s\n", r.model))
	r.event(EventCatPresent) // the inverted checkpoint is in use
	logs := r.logs.String()
	for _, want := range []string{filepath.Base(newest), model.DigestKey, filepath.Base(second), "damaged weights", "resuming from checkpoint"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log does not say %q:\n%s", want, logs)
		}
	}
	if st := r.status(func(s *Status) bool { return s.Model != "" }); !strings.Contains(st.Model, "checkpoint-00000001") {
		t.Errorf("status model %q", st.Model)
	}
}

// TestVetComparesHeldOutLoss: a checkpoint that passes the digest and the
// probe but calls everything a cat is refused by the held-out labels; an
// intact fine-tuned one is not.
func TestVetComparesHeldOutLoss(t *testing.T) {
	r := newRig(t)
	s := &service{}
	base, err := s.loadModel(r.model)
	if err != nil {
		t.Fatal(err)
	}
	rp, _, err := learn.OpenReplay(learn.ReplayOptions{W: 8, H: 8, PerClass: 20, ValShare: 0.5, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer rp.Close()
	for i := range 12 {
		cat := i%2 == 0
		px := make([]uint8, 8*8*3)
		for j := range px {
			px[j] = uint8(20 + 4*i)
			if cat {
				px[j] = uint8(140 + 4*i)
			}
		}
		if err := rp.Add(learn.Example{Cat: cat, Pixels: px, Hash: [32]byte{byte(i)}, Time: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	s.learning = &learning{replay: rp}
	always := *base
	always.infer = cloneNet(t, base.infer)
	always.infer.Params[3] = 60 // logit 60 on every frame: not beyond the probe's bound
	if err := probe(always.infer); err != nil {
		t.Fatalf("probe: %v", err)
	}
	if err := s.vet(&always, base); err == nil || !strings.Contains(err.Error(), "held-out labels") {
		t.Errorf("a model that calls everything a cat: vet = %v, want refused on the held-out labels", err)
	}
	tuned := *base
	tuned.infer = cloneNet(t, base.infer)
	tuned.infer.Params[0] *= 1.2 // fine-tuned a little
	if err := s.vet(&tuned, base); err != nil {
		t.Errorf("a fine-tuned model: vet = %v", err)
	}
}

// TestNaNNeverDecides: a model whose score is NaN on every frame raises no
// event, leaves status.json valid with cat false, and is said once per
// skipWarnEvery, not per frame.
func TestNaNNeverDecides(t *testing.T) {
	net, info := brightnessNet(t)
	net.Params[3] = float32(math.NaN())
	path := filepath.Join(t.TempDir(), "status.json")
	logs := &syncBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	src := &steadySource{name: "steady", pix: 140}
	var events []Event
	done := make(chan error, 1)
	go func() {
		done <- RunPipeline(ctx, PipelineConfig{Source: src, Net: net, Info: info, StatsEvery: -1, StatusPath: path,
			StatusWrite: 10 * time.Millisecond, OnEvent: func(ev Event) { events = append(events, ev) }}, zerolog.New(logs))
	}()
	testwait.For(t, "50 frames read", func() bool {
		src.mu.Lock()
		defer src.mu.Unlock()
		return src.seq >= 50
	})
	var st map[string]any
	testwait.For(t, "a status.json", func() bool {
		b, err := os.ReadFile(path)
		return err == nil && json.Unmarshal(b, &st) == nil
	})
	cancel()
	<-done
	if st["cat"] != false || st["p_cat"] != 0.0 {
		t.Errorf("status.json says cat %v, p_cat %v", st["cat"], st["p_cat"])
	}
	for _, ev := range events {
		if ev.Kind == EventCatPresent || ev.Kind == EventCatGone {
			t.Errorf("event %s from a NaN score", ev.Kind)
		}
	}
	if n := strings.Count(logs.String(), "gave no score"); n != 1 {
		t.Errorf("%d warnings for 50 NaN frames, want 1:\n%s", n, logs.String())
	}
}

// cloneNet returns a copy of n with its own weights.
func cloneNet(t *testing.T, n *model.Net) *model.Net {
	t.Helper()
	c, err := model.New(n.Arch, model.Options{MaxBatch: n.MaxBatch()})
	if err != nil {
		t.Fatal(err)
	}
	copy(c.Params, n.Params)
	copy(c.Buffers, n.Buffers)
	return c
}

// TestSkippedFrameWarningsAreRateLimited: a region of interest outside the
// frame makes every frame unusable; the log says so once per
// skipWarnEvery with the count, not once per frame, while status.json
// counts every one.
func TestSkippedFrameWarningsAreRateLimited(t *testing.T) {
	net, info := brightnessNet(t)
	path := filepath.Join(t.TempDir(), "status.json")
	logs := &syncBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	src := &steadySource{name: "steady", pix: 140}
	done := make(chan error, 1)
	go func() {
		done <- RunPipeline(ctx, PipelineConfig{Source: src, Net: net, Info: info, StatsEvery: -1, StatusPath: path,
			StatusWrite: 10 * time.Millisecond, ROI: image.Rect(100, 100, 200, 200)}, zerolog.New(logs))
	}()
	testwait.For(t, "50 frames counted corrupt", func() bool {
		st, err := ReadStatus(path)
		return err == nil && st.Corrupt >= 50
	})
	cancel()
	<-done
	if n := strings.Count(logs.String(), "frame skipped"); n != 1 {
		t.Errorf("%d warnings for 50 skipped frames, want 1:\n%s", n, logs.String())
	}
}

// discardingSource delivers steady frames and, like a camera skipping
// garbage in its stream, counts two corrupt frames skipped before each.
type discardingSource struct {
	steadySource
	corrupt atomic.Uint64
}

func (s *discardingSource) Next(ctx context.Context, f *camera.Frame) error {
	s.corrupt.Add(2)
	return s.steadySource.Next(ctx, f)
}

func (s *discardingSource) Stats() camera.Stats { return camera.Stats{Corrupt: s.corrupt.Load()} }

// TestSourceCorruptIsCounted: frames a source skips as corrupt before
// handing any over are in the stats event and status.json, not only the
// frames the pipeline itself could not use.
func TestSourceCorruptIsCounted(t *testing.T) {
	net, info := brightnessNet(t)
	path := filepath.Join(t.TempDir(), "status.json")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	src := &discardingSource{steadySource: steadySource{name: "garbage", pix: 140}}
	var statsCorrupt atomic.Uint64
	done := make(chan error, 1)
	go func() {
		done <- RunPipeline(ctx, PipelineConfig{Source: src, Net: net, Info: info, StatsEvery: 20 * time.Millisecond,
			StatusPath: path, StatusWrite: 10 * time.Millisecond, OnEvent: func(ev Event) {
				if ev.Kind == EventStats {
					statsCorrupt.Add(ev.Stats.Corrupt)
				}
			}}, zerolog.Nop())
	}()
	testwait.For(t, "status.json counting the source's corrupt frames", func() bool {
		st, err := ReadStatus(path)
		return err == nil && st.Corrupt >= 20
	})
	testwait.For(t, "stats events counting them", func() bool { return statsCorrupt.Load() >= 20 })
	cancel()
	<-done
	if st, n := src.Stats().Corrupt, statsCorrupt.Load(); n > st {
		t.Errorf("stats events count %d corrupt frames, the source skipped %d", n, st)
	}
}
