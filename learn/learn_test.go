package learn

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"catd/metrics"
	"catd/model"
	"catd/optim"
	"catd/safetensors"
	"catd/train"
)

const side = 8

// example makes a labelled side×side image: cats bright in the middle,
// non-cats dark there, with noise; i makes it unique.
func example(cat bool, i int, r *rand.Rand) Example {
	px := make([]uint8, side*side*3)
	for y := range side {
		for x := range side {
			v := 60 + r.IntN(60)
			if (x-4)*(x-4)+(y-4)*(y-4) < 6 {
				if cat {
					v += 120
				} else {
					v -= 40
				}
			}
			for c := range 3 {
				px[(y*side+x)*3+c] = uint8(v)
			}
		}
	}
	var seed [8]byte
	binary.LittleEndian.PutUint64(seed[:], uint64(i))
	h := sha256.Sum256(append(seed[:], px...))
	return Example{Cat: cat, Pixels: px, Hash: h, Time: time.Unix(int64(i), 0)}
}

func TestReplayBoundsAndPersists(t *testing.T) {
	dir := t.TempDir()
	r, problems, err := OpenReplay(ReplayOptions{W: side, H: side, PerClass: 20, Recent: 5, Dir: dir})
	if err != nil || len(problems) > 0 {
		t.Fatal(err, problems)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var all []Example
	for i := range 60 {
		ex := example(i%3 == 0, i, rng)
		all = append(all, ex)
		if err := r.Add(ex); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Add(all[7]); err != nil { // a duplicate is not added twice
		t.Fatal(err)
	}
	tc, tn, vc, vn := r.Counts()
	if tc+vc != 20 || tn+vn != 20 {
		t.Fatalf("counts %d+%d cats, %d+%d non-cats, want 20 of each", tc, vc, tn, vn)
	}
	if vc+vn == 0 || vc+vn == 40 {
		t.Errorf("%d of 40 held out, want about a fifth", vc+vn)
	}
	// The newest examples of each class are kept.
	for _, ex := range all[55:] {
		if !r.Has(ex.Hash, ex.Cat) {
			t.Errorf("recent example %v missing", ex.Time.Unix())
		}
	}
	// A correction: the newest example's label flips.
	fix := all[59]
	fix.Cat = !fix.Cat
	if err := r.Add(fix); err != nil {
		t.Fatal(err)
	}
	if !r.Has(fix.Hash, fix.Cat) || r.Has(fix.Hash, !fix.Cat) {
		t.Error("the corrected label is not the one held")
	}
	want := entriesOf(r)
	r.Close()

	// Reopen: the journal rebuilds the same buffer.
	r2, problems, err := OpenReplay(ReplayOptions{W: side, H: side, PerClass: 20, Recent: 5, Dir: dir})
	if err != nil || len(problems) > 0 {
		t.Fatal(err, problems)
	}
	if got := entriesOf(r2); !slices.Equal(got, want) {
		t.Fatalf("reopened buffer differs:\n%v\n%v", got, want)
	}
	// Compact, then reopen from the snapshot (and an empty journal).
	if err := r2.Compact(true); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(filepath.Join(dir, journalName)); st.Size() != 0 {
		t.Errorf("journal of %d bytes after compaction", st.Size())
	}
	r2.Close()
	r3, problems, err := OpenReplay(ReplayOptions{W: side, H: side, PerClass: 20, Recent: 5, Dir: dir})
	if err != nil || len(problems) > 0 {
		t.Fatal(err, problems)
	}
	if got := entriesOf(r3); !slices.Equal(got, want) {
		t.Fatalf("buffer from the snapshot differs")
	}
	r3.Close()
}

// entriesOf lists the buffer as "hash-prefix/class/val" strings.
func entriesOf(r *Replay) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s []string
	for _, e := range r.entries {
		s = append(s, string(e.Hash[:6])+map[bool]string{true: "c", false: "n"}[e.Cat]+map[bool]string{true: "v", false: "t"}[e.val])
	}
	slices.Sort(s)
	return s
}

func TestReplayJournalSurvivesATornRecord(t *testing.T) {
	dir := t.TempDir()
	r, _, err := OpenReplay(ReplayOptions{W: side, H: side, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 5 {
		r.Add(example(i%2 == 0, i, rng))
	}
	r.Close()
	path := filepath.Join(dir, journalName)
	st, _ := os.Stat(path)
	// A crash mid-append: half a record at the end.
	rec := encodeRecord(example(true, 99, rng), placeTrain, side, side)
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.Write(rec[:len(rec)/2])
	f.Close()
	r2, problems, err := OpenReplay(ReplayOptions{W: side, H: side, Dir: dir})
	if err != nil || len(problems) > 0 {
		t.Fatal(err, problems)
	}
	tc, tn, vc, vn := r2.Counts()
	if tc+tn+vc+vn != 5 {
		t.Errorf("%d examples after a torn record, want 5", tc+tn+vc+vn)
	}
	if st2, _ := os.Stat(path); st2.Size() != st.Size() {
		t.Errorf("journal %d bytes, want the torn tail cut back to %d", st2.Size(), st.Size())
	}
	// Appending after the cut works and is read back.
	if err := r2.Add(example(false, 100, rng)); err != nil {
		t.Fatal(err)
	}
	r2.Close()
	r3, problems, _ := OpenReplay(ReplayOptions{W: side, H: side, Dir: dir})
	if tc, tn, vc, vn := r3.Counts(); tc+tn+vc+vn != 6 || len(problems) > 0 {
		t.Errorf("%d examples, problems %v", tc+tn+vc+vn, problems)
	}
	// Garbage in the middle is reported, and the good part kept.
	r3.Close()
	b, _ := os.ReadFile(path)
	b[len(b)/2] ^= 0xff
	os.WriteFile(path, b, 0o640)
	r4, _, err := OpenReplay(ReplayOptions{W: side, H: side, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if tc, tn, vc, vn := r4.Counts(); tc+tn+vc+vn < 2 {
		t.Errorf("only %d examples kept before the damage", tc+tn+vc+vn)
	}
	r4.Close()
}

const arch = "input 3x8x8; conv 6 k3 s1 p1; relu; maxpool 2; conv 8 k3 s1 p1; relu; gap; flatten; dense 1"

func newLearner(t *testing.T, cfg Config, n int) (*Learner, *Replay) {
	t.Helper()
	return newLearnerIn(t, cfg, n, "")
}

// newLearnerIn is newLearner with the replay buffer kept in dir (on disk),
// or in memory if dir is "".
func newLearnerIn(t *testing.T, cfg Config, n int, dir string) (*Learner, *Replay) {
	t.Helper()
	a, err := model.ParseArch(arch)
	if err != nil {
		t.Fatal(err)
	}
	net, err := model.New(a, model.Options{MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	net.Init(rand.New(rand.NewPCG(5, 6)))
	info := model.DefaultInfo(a, "")
	r, _, err := OpenReplay(ReplayOptions{W: side, H: side, ValShare: 0.3, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range n {
		r.Add(example(i%2 == 0, i, rng))
	}
	l, err := NewLearner(net, info, r, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l, r
}

func TestRoundsLearnAndRecalibrate(t *testing.T) {
	l, _ := newLearner(t, Config{LR: 0.05, Steps: 30, Batch: 8, Margin: 0.05}, 80)
	var accepted int
	var last Result // the last accepted round
	for range 8 {
		res, err := l.Round(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%+v", res)
		if res.Accepted {
			accepted++
			if res.ValLoss > res.ValLossBefore*1.05+0.005 {
				t.Errorf("accepted a round whose held-out loss rose from %v to %v", res.ValLossBefore, res.ValLoss)
			}
			last = res
		} else if accepted > 0 && res.ValLossBefore != last.ValLoss {
			t.Errorf("a rolled-back round compares with held-out loss %v, not the accepted %v", res.ValLossBefore, last.ValLoss)
		}
		if res.Reason == "" || math.IsNaN(res.ValLoss) || math.IsNaN(res.ValAUC) || math.IsNaN(res.ValAUCBefore) {
			t.Errorf("round reports no reason or a NaN: %+v", res)
		}
	}
	if accepted < 4 {
		t.Errorf("%d of 8 rounds accepted", accepted)
	}
	if !(last.ValAUC > 0.95) {
		t.Errorf("validation ROC AUC %v after training", last.ValAUC)
	}
	if l.Info().Threshold == 0.5 {
		t.Error("threshold not recalibrated")
	}
	if l.Step() != int64(accepted*30) {
		t.Errorf("step %d after %d accepted rounds", l.Step(), accepted)
	}
}

func TestRoundRollsBackBlowUps(t *testing.T) {
	l, _ := newLearner(t, Config{LR: 1e6, Steps: 20, Batch: 8, Optim: optim.DefaultConfig(optim.KindSGD)}, 40)
	before := slices.Clone(l.Net().Params)
	res, err := l.Round(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted || res.Reason == "" {
		t.Fatalf("a learning rate of 1e6 was accepted: %+v", res)
	}
	if !slices.Equal(l.Net().Params, before) {
		t.Error("weights not rolled back")
	}
	if l.lrScale != 0.5 {
		t.Errorf("learning-rate scale %v after a blow-up, want 0.5", l.lrScale)
	}
}

func TestRoundSkipsWithoutEnoughLabels(t *testing.T) {
	l, _ := newLearner(t, Config{}, 5)
	res, err := l.Round(context.Background())
	if err != nil || !res.Skipped || res.Reason == "" {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestTrainLastAndSwitchingOptimizers(t *testing.T) {
	all, _ := newLearner(t, Config{}, 40)
	last, _ := newLearner(t, Config{TrainLast: 1}, 40)
	if last.TrainedParams() != 9 || last.Optimizer().StateBytes() != 4*9 {
		t.Errorf("last layer only: %d parameters, %d state bytes; want the dense layer's 9", last.TrainedParams(), last.Optimizer().StateBytes())
	}
	before := slices.Clone(last.Net().Params)
	if _, err := last.Round(context.Background()); err != nil {
		t.Fatal(err)
	}
	n := len(before) - 9
	if !slices.Equal(last.Net().Params[:n], before[:n]) {
		t.Error("frozen layers changed")
	}
	// Adam's state appears when it is switched on, weights stay.
	w := slices.Clone(all.Net().Params)
	if err := all.SetOptim(optim.DefaultConfig(optim.KindAdam)); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(all.Net().Params, w) || all.Optimizer().StateBytes() != 8*len(w) {
		t.Errorf("after switching to Adam: %d state bytes", all.Optimizer().StateBytes())
	}
	if err := all.SetOptim(optim.DefaultConfig(optim.KindSGD)); err != nil {
		t.Fatal(err)
	}
	if all.Optimizer().StateBytes() != 0 {
		t.Errorf("plain SGD keeps %d state bytes", all.Optimizer().StateBytes())
	}
}

func TestCheckpointRestoresTrainingState(t *testing.T) {
	l, r := newLearner(t, Config{LR: 0.05, Steps: 10, Batch: 8, Margin: 1}, 40)
	for range 2 {
		if _, err := l.Round(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	data, err := l.Checkpoint(map[string]string{"catd_base": "sha256:x"})
	if err != nil {
		t.Fatal(err)
	}
	net, info, st, err := train.DecodeCheckpoint(data, model.Options{MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	if info.Extra["catd_base"] != "sha256:x" || info.Threshold != l.Info().Threshold {
		t.Errorf("checkpoint info %+v", info)
	}
	l2, err := NewLearner(net, info, r, Config{LR: 0.05, Steps: 10, Batch: 8})
	if err != nil {
		t.Fatal(err)
	}
	if err := l2.Restore(st); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(l2.Net().Params, l.Net().Params) || l2.Step() != l.Step() || l2.Optimizer().T() != l.Optimizer().T() {
		t.Error("restored learner differs")
	}
}

// TestTrainingStepsAllocateNothing: a round's allocations (listing the
// buffer, validation) do not grow with its number of steps.
func TestTrainingStepsAllocateNothing(t *testing.T) {
	a, _ := model.ParseArch(arch)
	n, _ := model.New(a, model.Options{MaxBatch: 1})
	imp := make([]float32, len(n.Params))
	for i := range imp {
		imp[i] = float32(i%3 + 1)
	}
	for _, c := range []struct {
		disk bool
		imp  []float32
	}{{false, nil}, {true, nil}, {false, imp}} {
		disk := c.disk
		allocs := func(steps int) float64 {
			dir := ""
			if disk {
				dir = t.TempDir()
			}
			l, _ := newLearnerIn(t, Config{Steps: steps, Batch: 8, Margin: math.Inf(1), AUCMargin: 1, Importance: c.imp}, 40, dir)
			// Past the first rounds, whose held-out scores tie (an
			// untrained net) and take other paths through the metrics.
			l.Round(context.Background())
			l.Round(context.Background())
			// The least of a few measurements: AllocsPerRun counts the
			// whole process's allocations, and on a loaded machine another
			// goroutine (a runtime timer, a test's leftover) may add some.
			least := math.Inf(1)
			for range 3 {
				least = min(least, testing.AllocsPerRun(3, func() { l.Round(context.Background()) }))
			}
			return least
		}
		a10, a50 := allocs(10), allocs(50)
		slack := 0.0
		if raceEnabled {
			slack = 2
		}
		if math.Abs(a50-a10) > slack {
			t.Errorf("buffer on disk %v, importance %v: a round of 10 steps allocates %v times, of 50 steps %v", disk, c.imp != nil, a10, a50)
		}
	}
}

// TestChunksGiveTheBatchGradient: computing a step's gradient a few
// examples at a time (to yield to inference between) changes nothing.
func TestChunksGiveTheBatchGradient(t *testing.T) {
	params := func(chunk int) []float32 {
		l, _ := newLearner(t, Config{Steps: 3, Batch: 8, Chunk: chunk, Margin: math.Inf(1), AUCMargin: 1, Seed: 9}, 40)
		calls := 0
		l.Yield = func(time.Duration) { calls++ }
		if _, err := l.Round(context.Background()); err != nil {
			t.Fatal(err)
		}
		if want := 3 * ((8 + chunk - 1) / chunk); calls != want {
			t.Errorf("chunk %d: Yield called %d times, want %d", chunk, calls, want)
		}
		return slices.Clone(l.Net().Params)
	}
	whole, one, three := params(8), params(1), params(3)
	for i := range whole {
		if d := math.Max(math.Abs(float64(whole[i]-one[i])), math.Abs(float64(whole[i]-three[i]))); d > 1e-5 {
			t.Fatalf("param %d: %v whole, %v one at a time, %v three at a time", i, whole[i], one[i], three[i])
		}
	}
}

// pixelsOf reads every example of the buffer, by hash.
func pixelsOf(t *testing.T, r *Replay) map[[32]byte][]uint8 {
	t.Helper()
	r.mu.Lock()
	es := slices.Clone(r.entries)
	r.mu.Unlock()
	m := map[[32]byte][]uint8{}
	for _, e := range es {
		px := make([]uint8, side*side*3)
		if err := r.readPixels(e, px); err != nil {
			t.Fatalf("example %x: %v", e.Hash[:4], err)
		}
		m[e.Hash] = px
	}
	return m
}

// TestReplayKeepsPixelsOnDisk: a buffer on disk holds no pixels in memory,
// and reads each example's own pixels back from the journal, after a
// reopening, after a compaction and from the snapshot after another.
func TestReplayKeepsPixelsOnDisk(t *testing.T) {
	dir := t.TempDir()
	opts := ReplayOptions{W: side, H: side, PerClass: 20, Recent: 5, Dir: dir}
	r, _, err := OpenReplay(opts)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(11, 12))
	want := map[[32]byte][]uint8{}
	for i := range 30 {
		ex := example(i%2 == 0, i, rng)
		want[ex.Hash] = ex.Pixels
		if err := r.Add(ex); err != nil {
			t.Fatal(err)
		}
	}
	check := func(stage string, r *Replay) {
		t.Helper()
		got := pixelsOf(t, r)
		if len(got) != 30 {
			t.Fatalf("%s: %d examples, want 30", stage, len(got))
		}
		for h, px := range got {
			if !slices.Equal(px, want[h]) {
				t.Fatalf("%s: example %x reads other pixels than it was given", stage, h[:4])
			}
		}
		if b := r.Bytes(); b > 30*300 {
			t.Errorf("%s: %d bytes in memory for 30 examples on disk", stage, b)
		}
	}
	check("journal", r)
	if err := r.Compact(true); err != nil {
		t.Fatal(err)
	}
	check("compacted", r)
	// More after the compaction: in the journal again.
	for i := 30; i < 34; i++ {
		ex := example(i%2 == 0, i, rng)
		want[ex.Hash] = ex.Pixels
		r.Add(ex)
	}
	r.Close()
	r2, problems, err := OpenReplay(opts)
	if err != nil || len(problems) > 0 {
		t.Fatal(err, problems)
	}
	got := pixelsOf(t, r2)
	for h, px := range got {
		if !slices.Equal(px, want[h]) {
			t.Fatalf("reopened: example %x reads other pixels than it was given", h[:4])
		}
	}
	if len(got) != 34 {
		t.Fatalf("reopened: %d examples, want 34", len(got))
	}
	if err := r2.Compact(true); err != nil {
		t.Fatal(err)
	}
	for h, px := range pixelsOf(t, r2) {
		if !slices.Equal(px, want[h]) {
			t.Fatalf("compacted twice: example %x reads other pixels", h[:4])
		}
	}
	if imgs := r2.Images(3); len(imgs) != 3 {
		t.Errorf("Images(3) gave %d", len(imgs))
	}
	r2.Close()

	// The same buffer in memory takes its pixels' worth.
	m, _, _ := OpenReplay(ReplayOptions{W: side, H: side})
	m.Add(example(true, 1, rng))
	if b := m.Bytes(); b < side*side*3 {
		t.Errorf("a buffer in memory reports %d bytes for one %d-byte example", b, side*side*3)
	}
}

// TestReplayReadsAnOldSnapshot: a snapshot written whole by
// safetensors.WriteFile, as catd did before streaming it, still loads.
func TestReplayReadsAnOldSnapshot(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(13, 14))
	var exs []Example
	var px, labels, hashes []uint8
	var times []int64
	for i := range 6 {
		ex := example(i%3 == 0, i, rng)
		exs = append(exs, ex)
		px = append(px, ex.Pixels...)
		labels = append(labels, map[bool]uint8{true: 1}[ex.Cat])
		hashes = append(hashes, ex.Hash[:]...)
		times = append(times, ex.Time.UnixNano())
	}
	md := map[string]string{"format": snapFormat, "version": "1", "width": "8", "height": "8"}
	if err := safetensors.WriteFile(filepath.Join(dir, snapshotName), md, []safetensors.Tensor{
		safetensors.FromUint8("pixels", []int{6, side, side, 3}, px),
		safetensors.FromUint8("labels", []int{6}, labels),
		safetensors.FromUint8("hashes", []int{6, 32}, hashes),
		safetensors.FromInt64("times", []int{6}, times),
	}); err != nil {
		t.Fatal(err)
	}
	r, problems, err := OpenReplay(ReplayOptions{W: side, H: side, Dir: dir})
	if err != nil || len(problems) > 0 {
		t.Fatal(err, problems)
	}
	defer r.Close()
	got := pixelsOf(t, r)
	for _, ex := range exs {
		if !slices.Equal(got[ex.Hash], ex.Pixels) || !r.Has(ex.Hash, ex.Cat) {
			t.Errorf("example %d not loaded as written", ex.Time.Unix())
		}
	}
	// A damaged snapshot is named and the buffer starts without it.
	os.WriteFile(filepath.Join(dir, snapshotName), []byte("garbage, not a snapshot"), 0o640)
	r.Close()
	r2, problems, err := OpenReplay(ReplayOptions{W: side, H: side, Dir: dir})
	if err != nil || len(problems) != 1 || !strings.Contains(problems[0].Error(), snapshotName) {
		t.Fatalf("damaged snapshot: %v, problems %v", err, problems)
	}
	r2.Close()
}

// TestReplayExampleLeavesDuringARound: examples listed for a round that a
// newer label pushes out stay readable until a compaction drops them, then
// read as gone; the examples kept read their own pixels from the new
// snapshot. A learner meanwhile draws others and its rounds go on.
func TestReplayExampleLeavesDuringARound(t *testing.T) {
	dir := t.TempDir()
	r, _, err := OpenReplay(ReplayOptions{W: side, H: side, PerClass: 10, Recent: 2, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rng := rand.New(rand.NewPCG(15, 16))
	want := map[[32]byte][]uint8{}
	for i := range 20 {
		ex := example(i%2 == 0, i, rng)
		want[ex.Hash] = ex.Pixels
		r.Add(ex)
	}
	train, val := r.split()
	listed := append(train, val...)
	for i := 20; i < 30; i++ { // five of each class push five of each out
		r.Add(example(i%2 == 0, i, rng))
	}
	px := make([]uint8, side*side*3)
	for _, e := range listed {
		if err := r.readPixels(e, px); err != nil || !slices.Equal(px, want[e.Hash]) {
			t.Fatalf("before the compaction, listed example %x: %v", e.Hash[:4], err)
		}
	}
	if err := r.Compact(true); err != nil {
		t.Fatal(err)
	}
	in := map[*entry]bool{}
	for _, e := range r.entries {
		in[e] = true
	}
	gone := 0
	for _, e := range listed {
		err := r.readPixels(e, px)
		switch {
		case errors.Is(err, errGone):
			gone++
			if in[e] {
				t.Errorf("example %x still in the buffer reads as gone", e.Hash[:4])
			}
		case err != nil:
			t.Fatal(err)
		case !in[e]:
			t.Errorf("example %x pushed out still reads after the compaction", e.Hash[:4])
		case !slices.Equal(px, want[e.Hash]):
			t.Fatalf("kept example %x reads other pixels after the compaction", e.Hash[:4])
		}
	}
	if gone == 0 {
		t.Error("no listed example was pushed out: the test tests nothing")
	}
}

// TestLearnerWithCompactionsUnderway runs rounds on a buffer on disk while
// labels arrive and the buffer compacts (go test -race checks the locking).
func TestLearnerWithCompactionsUnderway(t *testing.T) {
	dir := t.TempDir()
	l, r := newLearnerIn(t, Config{Steps: 20, Batch: 8, Margin: math.Inf(1), AUCMargin: 1, Seed: 3}, 40, dir)
	done := make(chan struct{})
	go func() {
		defer close(done)
		rng := rand.New(rand.NewPCG(17, 18))
		for i := 100; i < 400; i++ {
			if err := r.Add(example(i%2 == 0, i, rng)); err != nil {
				t.Error(err)
				return
			}
			if i%25 == 0 {
				if err := r.Compact(true); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	rounds := 0
	for running := true; running; rounds++ {
		select {
		case <-done:
			running = false
		default:
		}
		res, err := l.Round(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !res.Skipped && !res.Accepted && res.Steps < 20 {
			t.Fatalf("round %d stopped: %s", rounds, res.Reason)
		}
	}
	if rounds < 2 {
		t.Errorf("only %d rounds ran", rounds)
	}
}

// TestDiskAndMemoryBuffersTrainAlike: the same labels in a buffer on disk
// (and compacted half-way) and in memory give the same rounds, bit for bit.
func TestDiskAndMemoryBuffersTrainAlike(t *testing.T) {
	run := func(dir string) ([]float32, []Result) {
		l, r := newLearnerIn(t, Config{Steps: 15, Batch: 8, Seed: 21}, 60, dir)
		var rs []Result
		for i := range 4 {
			if i == 2 {
				if err := r.Compact(true); err != nil {
					t.Fatal(err)
				}
			}
			res, err := l.Round(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			res.Duration = 0
			rs = append(rs, res)
		}
		return slices.Clone(l.Net().Params), rs
	}
	pm, rm := run("")
	pd, rd := run(t.TempDir())
	if !slices.Equal(pm, pd) {
		t.Error("the weights differ after four rounds")
	}
	for i := range rm {
		if fmt.Sprint(rm[i]) != fmt.Sprint(rd[i]) {
			t.Errorf("round %d: in memory %+v, on disk %+v", i+1, rm[i], rd[i])
		}
	}
	if !rm[0].Accepted && !rm[1].Accepted {
		t.Log("no round accepted: the comparison covers rollbacks only")
	}
}

// TestReplayHeldOutIsStratified checks the held-out share: each class has
// its own, with a minimum from its third label on, whatever order the
// classes come in; an example never changes sides (not when more come,
// not when the class is full and examples are replaced, not when it is
// corrected, not across reopening and compaction); and records from before
// sides were recorded keep the side their hash gave them.
func TestReplayHeldOutIsStratified(t *testing.T) {
	dir := t.TempDir()
	opts := ReplayOptions{W: side, H: side, PerClass: 40, Recent: 5, Dir: dir}
	r, _, err := OpenReplay(opts)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	sides := map[[32]byte]bool{}
	check := func(when string) {
		t.Helper()
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, e := range r.entries {
			if v, ok := sides[e.Hash]; ok && v != e.val {
				t.Fatalf("%s: an example moved to held-out=%v", when, e.val)
			}
			sides[e.Hash] = e.val
		}
	}
	// A burst of one class, then the other.
	for i := range 10 {
		if err := r.Add(example(true, i, rng)); err != nil {
			t.Fatal(err)
		}
		check("cats")
	}
	for i := range 10 {
		r.Add(example(false, 100+i, rng))
		check("non-cats")
	}
	tc, tn, vc, vn := r.Counts()
	if vc != 3 || vn != 3 || tc != 7 || tn != 7 {
		t.Fatalf("10 of each: %d+%d cats, %d+%d non-cats held out+trained, want 3+7 each", vc, tc, vn, tn)
	}
	// Corrections stay on their side.
	first := example(true, 0, rand.New(rand.NewPCG(5, 6)))
	first.Cat = false
	r.Add(first)
	check("correction")
	first.Cat = true
	r.Add(first)
	check("correction back")
	// Far more than a class holds: replacements keep the held-out count.
	for i := range 200 {
		r.Add(example(i%2 == 0, 1000+i, rng))
		check("filling")
	}
	_, _, vc, vn = r.Counts()
	if want := HeldOutWant(40, 0.2, 3); vc != want || vn != want {
		t.Errorf("full classes hold out %d cats and %d non-cats, want %d each", vc, vn, want)
	}
	if err := r.Compact(true); err != nil {
		t.Fatal(err)
	}
	for i := range 7 {
		r.Add(example(i%2 == 1, 5000+i, rng))
	}
	want := entriesOf(r)
	r.Close()
	r2, problems, err := OpenReplay(opts)
	if err != nil || len(problems) > 0 {
		t.Fatal(err, problems)
	}
	if got := entriesOf(r2); !slices.Equal(got, want) {
		t.Fatalf("reopened (snapshot and journal) buffer differs")
	}
	check("reopened")
	r2.Close()

	// A record of the first format: no side recorded, Val of its hash.
	old := t.TempDir()
	var recs []byte
	for i := range 40 {
		ex := example(i%2 == 0, 9000+i, rng)
		recs = append(recs, encodeRecord(ex, placeHash, side, side)...)
	}
	if err := os.WriteFile(filepath.Join(old, journalName), recs, 0o600); err != nil {
		t.Fatal(err)
	}
	r3, problems, err := OpenReplay(ReplayOptions{W: side, H: side, Dir: old})
	if err != nil || len(problems) > 0 {
		t.Fatal(err, problems)
	}
	defer r3.Close()
	if len(r3.entries) != 40 {
		t.Fatalf("%d examples of the first format read, want 40", len(r3.entries))
	}
	for _, e := range r3.entries {
		if e.val != Val(e.Hash, 0.2) {
			t.Errorf("an example of the first format is held-out=%v, its hash says %v", e.val, !e.val)
		}
	}
}

func TestHeldOutWant(t *testing.T) {
	for _, c := range []struct{ n, want int }{{1, 0}, {2, 1}, {3, 1}, {4, 1}, {5, 2}, {8, 3}, {10, 3}, {15, 3}, {20, 4}, {500, 100}} {
		if got := HeldOutWant(c.n, 0.2, 3); got != c.want {
			t.Errorf("HeldOutWant(%d) = %d, want %d", c.n, got, c.want)
		}
	}
}

// TestBatchesAreBalancedByClass: labels given one class after the other
// (here 40 cats, then 16 non-cats) still make every batch half cats and
// half non-cats, with each class's newest labels drawn for RecentShare of
// its half.
func TestBatchesAreBalancedByClass(t *testing.T) {
	a, _ := model.ParseArch(arch)
	net, _ := model.New(a, model.Options{MaxBatch: 1})
	net.Init(rand.New(rand.NewPCG(1, 1)))
	r, _, _ := OpenReplay(ReplayOptions{W: side, H: side})
	rng := rand.New(rand.NewPCG(2, 2))
	for i := range 56 {
		r.Add(example(i < 40, i, rng))
	}
	l, err := NewLearner(net, model.DefaultInfo(a, ""), r, Config{Batch: 8, Steps: 1, Recent: 4, RecentShare: 0.5, Margin: math.Inf(1), AUCMargin: 1})
	if err != nil {
		t.Fatal(err)
	}
	trainSet, _ := r.split()
	cats, nons := byClass(trainSet)
	for range 20 {
		if _, err := l.Round(context.Background()); err != nil {
			t.Fatal(err)
		}
		n := 0
		for i := range 8 {
			if l.pool(i, 0, cats, nons)[0].Cat {
				n++
			}
		}
		if n != 4 {
			t.Fatalf("a batch of 8 with %v cats", n)
		}
	}
	// Each class's half: 2 of its 4 draws from its newest 4 examples.
	for step := range 2 {
		recent := map[bool]int{}
		for i := range 8 {
			p := l.pool(i, step, cats, nons)
			if len(p) == 4 {
				if p[3] != cats[len(cats)-1] && p[3] != nons[len(nons)-1] {
					t.Fatal("a recent pool is not the newest examples")
				}
				recent[p[0].Cat]++
			}
		}
		if recent[true] != 2 || recent[false] != 2 {
			t.Errorf("step %d: recent draws %v, want 2 per class", step, recent)
		}
	}
}

// TestPairedSE checks the standard error of the held-out loss's change
// against its definition: per class, the sample variance of the
// example-by-example differences over the class's count, the classes
// weighing half each.
func TestPairedSE(t *testing.T) {
	labels := []bool{true, true, true, false, false, false, false}
	a := validation{p: []float32{0.9, 0.6, 0.7, 0.2, 0.1, 0.3, 0.4}, labels: labels}
	if se := pairedSE(a, a); se != 0 {
		t.Errorf("the same scores: standard error %v", se)
	}
	b := validation{p: []float32{0.8, 0.7, 0.5, 0.1, 0.3, 0.3, 0.2}, labels: labels}
	var want float64
	for _, cat := range []bool{true, false} {
		var d []float64
		for i := range labels {
			if labels[i] == cat {
				d = append(d, exampleLoss(b.p[i], cat)-exampleLoss(a.p[i], cat))
			}
		}
		var m, v float64
		for _, x := range d {
			m += x / float64(len(d))
		}
		for _, x := range d {
			v += (x - m) * (x - m) / float64(len(d)-1)
		}
		want += 0.25 * v / float64(len(d))
	}
	want = math.Sqrt(want)
	if got := pairedSE(a, b); math.Abs(got-want) > 1e-12 {
		t.Errorf("standard error %v, want %v", got, want)
	}
	if got := pairedSE(a, validation{p: b.p[:3], labels: labels[:3]}); got != 0 {
		t.Errorf("different examples: %v, want 0", got)
	}
}

// TestTenLabelsPerClass: ten labels of each class, given one class after
// the other, are enough for rounds to run and be judged on both classes.
func TestTenLabelsPerClass(t *testing.T) {
	a, _ := model.ParseArch(arch)
	net, _ := model.New(a, model.Options{MaxBatch: 1})
	net.Init(rand.New(rand.NewPCG(1, 3)))
	r, _, _ := OpenReplay(ReplayOptions{W: side, H: side})
	rng := rand.New(rand.NewPCG(4, 4))
	for i := range 20 {
		r.Add(example(i < 10, i, rng))
	}
	l, err := NewLearner(net, model.DefaultInfo(a, ""), r, Config{LR: 0.05, Batch: 8, Steps: 20})
	if err != nil {
		t.Fatal(err)
	}
	accepted := 0
	for range 5 {
		res, err := l.Round(context.Background())
		if err != nil || res.Skipped {
			t.Fatalf("round with 10 labels per class: %+v, %v", res, err)
		}
		if res.ValCat != 3 || res.ValNonCat != 3 {
			t.Errorf("held out %d cats and %d non-cats, want 3 and 3", res.ValCat, res.ValNonCat)
		}
		if res.Accepted {
			accepted++
		}
	}
	if accepted == 0 {
		t.Error("no round accepted")
	}
}

// TestAnchorBoundsDrift: the pull toward the starting weights (L2-SP)
// keeps rounds closer to them than training without it, and SetAnchor
// moves what they are pulled toward.
func TestAnchorBoundsDrift(t *testing.T) {
	drift := func(anchor float64, set bool) float64 {
		l, _ := newLearner(t, Config{LR: 0.05, Steps: 30, Batch: 8, Margin: math.Inf(1), AUCMargin: 1, Anchor: anchor, Prox: -1, Seed: 3}, 60)
		start := slices.Clone(l.Net().Params)
		if set {
			shifted := slices.Clone(start)
			for i := range shifted {
				shifted[i] += 0.5
			}
			if err := l.SetAnchor(shifted, 0.5); err != nil {
				t.Fatal(err)
			}
			start = shifted
		}
		for range 6 {
			l.Round(context.Background())
		}
		var d float64
		for i, p := range l.Net().Params {
			d += float64(p-start[i]) * float64(p-start[i])
		}
		return math.Sqrt(d)
	}
	free, pulled := drift(-1, false), drift(3, false)
	t.Logf("distance from the start: %.3f free, %.3f pulled", free, pulled)
	if pulled >= 0.7*free {
		t.Errorf("anchored weights moved %.3f from the start, free ones %.3f", pulled, free)
	}
	if d := drift(3, true); d >= drift(-1, true) {
		t.Errorf("a set anchor does not pull: %.3f from it", d)
	}
	l, _ := newLearner(t, Config{}, 20)
	if err := l.SetAnchor(make([]float32, 3), 0.5); err == nil {
		t.Error("an anchor of the wrong length was taken")
	}
}

func TestBfloat16(t *testing.T) {
	for _, c := range []struct {
		in, want float32
	}{
		{1, 1}, {0, 0}, {-2.5, -2.5},
		{1 + 1.0/256, 1},                      // halfway (a bfloat16 ulp at 1 is 2^-7): to even, down
		{1 + 3.0/256, 1 + 4.0/256},            // halfway: to even, up
		{1 + 1.0/256 + 1.0/4096, 1 + 2.0/256}, // above halfway: up
	} {
		var h [1]uint16
		toBfloat16(h[:], []float32{c.in})
		if got := fromBfloat16(h[0]); got != c.want {
			t.Errorf("bfloat16(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	r := rand.New(rand.NewPCG(1, 1))
	for range 10000 {
		v := float32(r.NormFloat64())
		var h [1]uint16
		toBfloat16(h[:], []float32{v})
		if d := math.Abs(float64(fromBfloat16(h[0]) - v)); d > math.Abs(float64(v))/256 {
			t.Fatalf("bfloat16(%v) = %v: off by more than 2^-8", v, fromBfloat16(h[0]))
		}
	}
}

// TestGainIsBeyondNoise: a round whose held-out loss falls by less than the
// standard error of its change, or whose AUC rises by less than the AUC
// margin, is no gain; a clear fall or rise is.
func TestGainIsBeyondNoise(t *testing.T) {
	labels := []bool{true, true, true, true, false, false, false, false}
	a := validation{p: []float32{0.7, 0.6, 0.8, 0.55, 0.3, 0.4, 0.35, 0.5}, labels: labels}
	a.loss = lossOf(a)
	a.auc, _ = metrics.ROCAUC(a.p, labels)
	// Noisy: better on some labels, worse on others, a little lower overall.
	noisy := validation{p: []float32{0.97, 0.5, 0.95, 0.45, 0.05, 0.45, 0.4, 0.55}, labels: labels}
	noisy.loss = lossOf(noisy)
	noisy.auc, _ = metrics.ROCAUC(noisy.p, labels)
	if !(noisy.loss < 0.99*a.loss-1e-3) {
		t.Fatalf("the noisy candidate should lower the loss by 1%%: %.4f -> %.4f", a.loss, noisy.loss)
	}
	if gain(a, noisy, 0.1) {
		t.Errorf("a change within its standard error (%.4f -> %.4f, SE %.4f) counts as a gain", a.loss, noisy.loss, pairedSE(a, noisy))
	}
	// Clear: better on every label.
	clearer := validation{p: []float32{0.9, 0.8, 0.95, 0.75, 0.1, 0.2, 0.15, 0.3}, labels: labels}
	clearer.loss = lossOf(clearer)
	clearer.auc, _ = metrics.ROCAUC(clearer.p, labels)
	if !gain(a, clearer, 0.1) {
		t.Errorf("a clear fall of the loss (%.4f -> %.4f, SE %.4f) is no gain", a.loss, clearer.loss, pairedSE(a, clearer))
	}
}

// lossOf is the class-weighted held-out loss of v's scores.
func lossOf(v validation) float64 {
	var sum [2]float64
	var n [2]int
	for i, p := range v.p {
		c := 0
		if v.labels[i] {
			c = 1
		}
		sum[c] += exampleLoss(p, v.labels[i])
		n[c]++
	}
	return (sum[0]/float64(n[0]) + sum[1]/float64(n[1])) / 2
}

// TestThresholdPrior checks that recalibration starts from the anchor's
// threshold and moves from it as far as ThresholdPrior lets the held-out
// labels take it, and that KeepThreshold keeps it.
func TestThresholdPrior(t *testing.T) {
	const start = 0.1
	logit := func(p float32) float64 { return math.Log(float64(p) / (1 - float64(p))) }
	thr := func(cfg Config) float32 {
		cfg.LR, cfg.Steps, cfg.Batch, cfg.Margin = 0.05, 30, 8, 0.05
		l, _ := newLearner(t, cfg, 80)
		if err := l.SetAnchor(l.Net().Params, start); err != nil {
			t.Fatal(err)
		}
		accepted := 0
		for range 4 {
			res, err := l.Round(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if res.Accepted {
				accepted++
				if res.Threshold != l.Info().Threshold {
					t.Errorf("round reports threshold %v, the model has %v", res.Threshold, l.Info().Threshold)
				}
			}
		}
		if accepted == 0 {
			t.Fatal("no round accepted")
		}
		return l.Info().Threshold
	}
	free, def, heavy := thr(Config{ThresholdPrior: -1}), thr(Config{}), thr(Config{ThresholdPrior: 1e6})
	t.Logf("threshold after 4 rounds from %v: no prior %v, default %v, heavy %v", start, free, def, heavy)
	d := func(x float32) float64 { return math.Abs(logit(x) - logit(start)) }
	if !(d(heavy) < 0.01) {
		t.Errorf("a prior of a million labels left the threshold at %v, not at the start %v", heavy, start)
	}
	if !(d(free) > d(def) && d(def) > d(heavy)) {
		t.Errorf("thresholds %v (no prior), %v (default), %v (heavy): not nearer the start %v as the prior grows", free, def, heavy, start)
	}
	if got := thr(Config{KeepThreshold: true}); got != start {
		t.Errorf("KeepThreshold: threshold %v, want the start %v", got, start)
	}
}
