package daemon

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"catd/camera"
	"catd/config"
	"catd/labels"
	"catd/learn"
	"catd/optim"
	"catd/preprocess"
	"catd/state"
)

// learning is the service's on-device fine-tuning: labels come from the
// label folders and the serial console into the replay buffer; a goroutine
// trains rounds on it and swaps each accepted model into the pipeline.
type learning struct {
	host   learningHost
	log    zerolog.Logger
	replay *learn.Replay
	inbox  *labels.Inbox
	// w, h are the model input's (the replay buffer's examples'); share,
	// if set, is told each new label taken here (share.go).
	w, h  int
	share atomic.Pointer[func(learn.Example)]
	// learner is made for the first round (its training memory is not
	// needed before), on model; both are owned by trainLoop's goroutine.
	learner *learn.Learner
	model   *loaded // until the learner is made from it

	wake    chan struct{}     // a label came
	cfgs    chan config.Learn // a new learn section
	models  chan *loaded      // a new model from the config
	enabled atomic.Bool
	fresh   atomic.Int64 // labels since trainLoop last looked
	// pacer decides when rounds run (trainLoop's); pacerState is its
	// State for status.json.
	pacer      learn.Pacer
	pacerState atomic.Pointer[string]
	last       atomic.Pointer[string]
	rounds     atomic.Int64 // rounds run (not those skipped for want of labels)
	accepted   atomic.Int64
	// heldOutAUC is the accepted model's held-out ROC AUC (float64 bits;
	// NaN until measured).
	heldOutAUC atomic.Uint64
	taken      atomic.Int64
	// the learner's memory, published by its goroutine
	optBytes, workBytes atomic.Int64
	// ckpt is the latest accepted state as checkpoint bytes, written by
	// the checkpoint loop when dirty.
	ckpt atomic.Pointer[[]byte]

	// latest is the model input of the newest frame, for "label cat".
	latestMu  sync.Mutex
	latest    []uint8
	latestSeq uint64
	latestOK  bool
	latestP   float32 // its p(cat)

	// Frame pacing, so that training runs in the gaps between frames:
	// when the newest frame was done and the mean gap between frames, in
	// nanoseconds; frameDone is told after each frame.
	lastFrame, frameGap atomic.Int64
	frameDone           chan struct{}

	// review queue
	reviews    chan detection
	reviewCfg  atomic.Pointer[config.Review]
	reviewDir  atomic.Pointer[state.Snapshots]
	lastReview atomic.Int64 // unix nanoseconds

	history roundLog // the rounds run, for the web page
}

// learningHost is what on-device learning needs of the service.
type learningHost interface {
	// inUse is the model in use.
	inUse() *loaded
	// pipeline takes the pipeline's updates (PipelineConfig.Updates).
	pipeline() chan<- Update
	// learnt puts m in use: a round's model, which the pipeline runs now.
	learnt(m *loaded)
	emit(kind EventKind, msg string)
}

// startLearning opens the replay buffer and the label inbox and builds
// the learner on the model in use.
func (s *service) startLearning() error {
	m := s.model.Load()
	a := m.infer.Arch
	c := s.cfg.Learn
	dir := s.opt.StateDir
	r, problems, err := learn.OpenReplay(learn.ReplayOptions{W: a.W, H: a.H, PerClass: c.ReplayPerClass,
		ValShare: c.ValShare, Dir: filepath.Join(dir, "replay"), Meter: &s.meter})
	if err != nil {
		return err
	}
	for _, p := range problems {
		s.log.Warn().Err(p).Msg("replay buffer: damage skipped")
	}
	// A journal that grew past its threshold before (labels taken while
	// learning was off, by a catd that compacted only after rounds) is
	// compacted now rather than at the next round, which may never come.
	if err := r.Compact(false); err != nil {
		s.log.Warn().Err(err).Msg("replay buffer not compacted")
	}
	l := &learning{host: s, log: s.log, replay: r, wake: make(chan struct{}, 1), cfgs: make(chan config.Learn, 1), models: make(chan *loaded, 1), frameDone: make(chan struct{}, 1),
		latest: make([]uint8, a.W*a.H*3), reviews: make(chan detection, 1), w: a.W, h: a.H}
	l.enabled.Store(c.Enabled)
	none := "no round yet"
	l.last.Store(&none)
	l.pacer.Patience = c.Patience
	l.publishPacer()
	l.heldOutAUC.Store(math.Float64bits(math.NaN()))
	rc := s.cfg.Review
	l.reviewCfg.Store(&rc)
	rv, err := state.OpenSnapshots(filepath.Join(dir, "review"), rc.MaxCount, int64(rc.MaxBytes), &s.meter)
	if err != nil {
		r.Close()
		return err
	}
	l.reviewDir.Store(rv)
	fit, _ := preprocess.ParseFit(s.cfg.Detect.Fit)
	in, err := labels.New(labels.Options{Dir: filepath.Join(dir, "labels"), W: a.W, H: a.H,
		Resize: preprocess.Options{Fit: fit, ROI: s.cfg.Detect.ROI},
		Seen:   func(h [32]byte, class string) bool { return r.Has(h, class == labels.Cat) },
		Log:    s.log.With().Str("component", "labels").Logger(), Meter: &s.meter})
	if err != nil {
		r.Close()
		return err
	}
	l.inbox = in
	l.model = m
	if _, _, err := learnOptim(c); err != nil {
		r.Close()
		return err
	}
	tc, tn, vc, vn := r.Counts()
	s.log.Info().Int("cat", tc+vc).Int("noncat", tn+vn).Int("held_out", vc+vn).Bool("enabled", c.Enabled).
		Msg("on-device learning ready")
	s.learning = l
	return nil
}

// newLearner builds a learner for m with the learn section c, restoring
// the optimizer state m's checkpoint holds.
func newLearner(m *loaded, r *learn.Replay, c config.Learn) (*learn.Learner, error) {
	lc, err := LearnerConfig(c, uint64(time.Now().UnixNano()))
	if err != nil {
		return nil, err
	}
	if m.importance != nil {
		params := m.infer.Params
		if m.anchor != nil {
			params = m.anchor // a checkpoint's importance is its base model's
		}
		if lc.Importance, err = learn.DecodeImportance(m.importance, m.infer.Arch, params); err != nil {
			return nil, err
		}
	}
	l, err := learn.NewLearner(m.infer, m.info, r, lc)
	if err != nil {
		return nil, err
	}
	if err := l.Restore(m.train); err != nil {
		return nil, err
	}
	if m.anchor != nil {
		if err := l.SetAnchor(m.anchor, m.anchorThreshold); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// LearnerConfig is the learner's configuration for a learn section, as
// catd run trains (the learning benchmark uses it too).
func LearnerConfig(c config.Learn, seed uint64) (learn.Config, error) {
	oc, sch, err := learnOptim(c)
	if err != nil {
		return learn.Config{}, err
	}
	return learn.Config{Optim: oc, LR: c.LR, Schedule: sch, Batch: c.Batch, Steps: c.Steps, TrainLast: c.TrainLast,
		Margin: c.Margin, Anchor: anchor(c.Anchor), Wise: c.Wise, Seed: seed}, nil
}

// anchor is learn.anchor as learn.Config takes it (0 there is the
// default, negative is off).
func anchor(a float64) float64 {
	if a == 0 {
		return -1
	}
	return a
}

// learnOptim is the optimizer and schedule of the learn section.
func learnOptim(c config.Learn) (optim.Config, optim.Schedule, error) {
	k, err := optim.ParseKind(c.Optimizer)
	if err != nil {
		return optim.Config{}, nil, err
	}
	oc := optim.DefaultConfig(k)
	if k == optim.KindMomentum {
		oc.Momentum = c.Momentum
	}
	sch, err := optim.ParseSchedule(c.Schedule, c.LR)
	return oc, sch, err
}

// run takes labels and trains until ctx ends.
func (l *learning) run(ctx context.Context, wg *sync.WaitGroup) {
	wg.Add(3)
	go func() {
		defer wg.Done()
		if err := l.inbox.Run(ctx, l.take); err != nil {
			l.log.Error().Err(err).Msg("label folders no longer watched")
		}
	}()
	go func() { defer wg.Done(); l.reviewLoop(ctx) }()
	go func() { defer wg.Done(); l.trainLoop(ctx) }()
}

// take stores one label from the folders.
func (l *learning) take(ex labels.Example) error {
	le := learn.Example{Cat: ex.Class == labels.Cat, Pixels: ex.Pixels, Hash: ex.Hash, Time: ex.Time}
	known := l.replay.Has(le.Hash, le.Cat)
	if err := l.replay.Add(le); err != nil {
		return err
	}
	if !known {
		l.shared(le)
	}
	l.log.Debug().Str("label", ex.Class).Str("file", ex.Name).Msg("label taken") // the labels folder logged it (info)
	l.labelled()
	l.compact()
	return nil
}

// compact compacts the replay buffer once its journal has passed its
// threshold (Replay.Compact decides, by size; below it this costs a lock).
// It is called after each label, learning on or off, so that the journal
// stays bounded by the buffer's size rather than by the labels ever given.
func (l *learning) compact() {
	if err := l.replay.Compact(false); err != nil {
		l.log.Warn().Err(err).Msg("replay buffer not compacted")
	}
}

func (l *learning) labelled() {
	l.taken.Add(1)
	l.fresh.Add(1)
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// onFrame keeps the newest model input and picks frames for review.
func (l *learning) onFrame(f *camera.Frame, pix []uint8, p, thr float32, kind EventKind) {
	now := l.pace()
	l.latestMu.Lock()
	copy(l.latest, pix)
	l.latestSeq, l.latestOK, l.latestP = f.Seq, true, p
	l.latestMu.Unlock()

	c := l.reviewCfg.Load()
	if !c.Enabled || (kind == "" && math.Abs(float64(p-thr)) >= c.Band) {
		return
	}
	if now-l.lastReview.Load() < int64(c.MinInterval) {
		return
	}
	l.lastReview.Store(now)
	d := detection{ev: Event{Kind: kind, Time: time.Now(), Frame: f.Seq, PCat: p}, frame: *f}
	d.frame.Data = bytes.Clone(f.Data) // a review frame is rare: not an allocation per frame
	select {
	case l.reviews <- d:
	default:
	}
}

// pace notes that a frame is done (see yield) and returns the time.
func (l *learning) pace() int64 {
	now := time.Now().UnixNano()
	if last := l.lastFrame.Swap(now); last != 0 {
		if gap := now - last; gap < int64(10*time.Second) {
			if g := l.frameGap.Load(); g == 0 {
				l.frameGap.Store(gap)
			} else {
				l.frameGap.Store(g - g/8 + gap/8)
			}
		}
	}
	select {
	case l.frameDone <- struct{}{}:
	default:
	}
	return now
}

// reviewLoop saves review frames.
func (l *learning) reviewLoop(ctx context.Context) {
	for {
		var d detection
		select {
		case <-ctx.Done():
			return
		case d = <-l.reviews:
		}
		data, err := snapshotJPEG(&d.frame)
		if err == nil {
			_, err = l.reviewDir.Load().Save(state.SnapshotName(d.ev.Time, d.ev.Frame, d.ev.PCat), data)
		}
		if err != nil {
			l.log.Warn().Err(err).Uint64("frame", d.ev.Frame).Msg("review frame not saved")
		}
	}
}

// Label labels the newest frame (frame == "") or moves the review frame
// named frame into the label folder of class.
func (l *learning) Label(class, frame string) (string, error) {
	if class != labels.Cat && class != labels.NonCat {
		return "", fmt.Errorf("class %q: want cat or noncat", class)
	}
	if frame != "" {
		dir := l.reviewDir.Load().Dir()
		if filepath.Base(frame) != frame || frame == "." || frame == ".." {
			return "", fmt.Errorf("%q is not a review frame name", frame)
		}
		if _, err := os.Lstat(filepath.Join(dir, frame)); err != nil {
			return "", fmt.Errorf("no review frame %q", frame)
		}
		// Into the label tree as the inbox reaches it: never through a
		// class folder swapped for a link.
		if err := l.inbox.MoveIn(dir, frame, class); err != nil {
			return "", fmt.Errorf("moving %s into labels/%s: %w", frame, class, err)
		}
		_ = l.reviewDir.Load().Delete(frame) // gone: no longer counted in the queue
		reply := "labelled review frame " + frame + " " + class
		if p, ok := reviewPCat(frame); ok {
			reply = fmt.Sprintf("labelled review frame %s (p(cat) %.2f) %s%s", frame, p, class, contrary(class, p))
		}
		return reply, nil
	}
	l.latestMu.Lock()
	if !l.latestOK {
		l.latestMu.Unlock()
		return "", errors.New("no frame yet")
	}
	px := bytes.Clone(l.latest)
	seq, p := l.latestSeq, l.latestP
	l.latestMu.Unlock()
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:], seq)
	binary.LittleEndian.PutUint64(b[8:], uint64(time.Now().UnixNano()))
	h := sha256.New()
	h.Write(px)
	h.Write(b[:])
	ex := learn.Example{Cat: class == labels.Cat, Pixels: px, Time: time.Now()}
	copy(ex.Hash[:], h.Sum(nil))
	if err := l.replay.Add(ex); err != nil {
		return "", err
	}
	l.shared(ex)
	warn := contrary(class, float64(p))
	ev := l.log.Info()
	if warn != "" {
		ev = l.log.Warn()
	}
	ev.Str("label", class).Uint64("frame", seq).Float32("p_cat", p).Bool("against_a_confident_prediction", warn != "").
		Msg("latest frame labelled")
	l.labelled()
	l.compact()
	return fmt.Sprintf("labelled frame %d, the latest (p(cat) %.3f), %s%s", seq, p, class, warn), nil
}

// confident is how sure the model must be, p(cat) at most 1-confident or
// at least confident, for a label of the other class to be questioned.
const confident = 0.9

// contrary returns a warning for a label of class on a frame the model
// was confident was of the other class, else "". The label is kept either
// way: the model may be wrong, which is why labels exist; but a "label cat"
// said after the cat left the frame teaches it the opposite.
func contrary(class string, p float64) string {
	switch {
	case class == labels.Cat && p <= 1-confident:
		return "; warning: the model was sure this frame has no cat: if the cat had left it, label it noncat"
	case class == labels.NonCat && p >= confident:
		return "; warning: the model was sure this frame has a cat: if one is there, label it cat"
	}
	return ""
}

// reviewPCat reads p(cat) from a review frame's name
// (20261127T031500.123Z-f000001234-p0.93.jpg, see state.Snapshots).
func reviewPCat(name string) (float64, bool) {
	i := strings.LastIndex(name, "-p")
	if i < 0 {
		return 0, false
	}
	v, err := strconv.ParseFloat(strings.TrimSuffix(name[i+2:], filepath.Ext(name)), 64)
	return v, err == nil && v >= 0 && v <= 1
}

// publishMemory makes the learner's memory visible to status.json.
func (l *learning) publishMemory() {
	var o, w int
	if l.learner != nil {
		o, w = l.learner.Memory()
	}
	l.optBytes.Store(int64(o))
	l.workBytes.Store(int64(w))
}

// trainLoop runs rounds at most every learn.every, when its Pacer says.
func (l *learning) trainLoop(ctx context.Context) {
	c := <-l.cfgs // the first config
	var lastRound time.Time
	timer := time.NewTimer(time.Duration(c.Every))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case nc := <-l.cfgs:
			l.reconfigure(c, nc)
			l.pacer.Patience = nc.Patience
			if nc != c {
				l.pacer.Retry() // new settings: try the labels kept again
			}
			c = nc
		case m := <-l.models:
			l.model, l.learner = m, nil // made again for the next round
			l.publishMemory()
			l.ckpt.Store(nil)
			l.pacer.Retry() // train the new model on the labels kept
		case <-l.wake:
		case <-timer.C:
		}
		l.pacer.Labelled(int(l.fresh.Swap(0)))
		l.publishPacer()
		if !l.enabled.Load() {
			timer.Reset(time.Duration(c.Every))
			continue
		}
		if wait := time.Duration(c.Every) - time.Since(lastRound); !lastRound.IsZero() && wait > 0 {
			timer.Reset(wait)
			continue
		}
		if !l.pacer.Tick() {
			timer.Reset(time.Duration(c.Every))
			continue
		}
		if l.learner == nil {
			nl, err := newLearner(l.model, l.replay, c)
			if err != nil {
				l.log.Error().Err(err).Msg("no learning on this model")
				l.pacer.Done(learn.Result{Skipped: true})
				l.publishPacer()
				continue
			}
			// The learner has its own copy of the weights: let the model
			// it came from go, once the pipeline no longer runs it.
			l.learner, l.model = nl, nil
			l.log.Info().Int("trained_params", nl.TrainedParams()).Msg("learner ready")
		}
		lastRound = time.Now()
		l.round(ctx, c)
		l.publishMemory()
		l.publishPacer()
		timer.Reset(time.Duration(c.Every))
		l.compact()
	}
}

func (l *learning) publishPacer() {
	st := l.pacer.State()
	l.pacerState.Store(&st)
}

// reconfigure applies a changed learn section to the learner.
func (l *learning) reconfigure(old, c config.Learn) {
	l.enabled.Store(c.Enabled)
	if l.learner == nil {
		return // made with c for the first round
	}
	oc, sch, err := learnOptim(c)
	if err != nil {
		return // validated before
	}
	if old.Optimizer != c.Optimizer || old.Momentum != c.Momentum {
		if err := l.learner.SetOptim(oc); err != nil {
			l.log.Error().Err(err).Msg("optimizer not switched")
		}
	}
	if old.LR != c.LR || old.Schedule != c.Schedule {
		l.learner.SetSchedule(c.LR, sch)
	}
	if old.Batch != c.Batch || old.Steps != c.Steps || old.TrainLast != c.TrainLast || old.Margin != c.Margin || old.Anchor != c.Anchor || old.Wise != c.Wise {
		nl, err := newLearnerFrom(l.learner, l.replay, c)
		if err != nil {
			l.log.Error().Err(err).Msg("learning settings not applied")
			return
		}
		l.learner = nl
	}
	l.publishMemory()
	if old.ReplayPerClass != c.ReplayPerClass || old.ValShare != c.ValShare {
		l.log.Warn().Msg("learn.replay_per_class and learn.val_share apply when catd restarts")
	}
}

// newLearnerFrom rebuilds a learner with new settings on old's weights,
// anchor and importance.
func newLearnerFrom(old *learn.Learner, r *learn.Replay, c config.Learn) (*learn.Learner, error) {
	lc, err := LearnerConfig(c, uint64(time.Now().UnixNano()))
	if err != nil {
		return nil, err
	}
	return old.Reconfigured(r, lc)
}

// round trains one round and, if accepted, swaps the new weights in.
func (l *learning) round(ctx context.Context, c config.Learn) {
	duty := c.Duty
	l.learner.Yield = func(chunk time.Duration) { l.yield(ctx, chunk, duty) }
	res, err := l.learner.Round(ctx)
	if err != nil {
		l.pacer.Done(learn.Result{Skipped: true})
		l.log.Error().Err(err).Msg("training round failed")
		return
	}
	l.pacer.Done(res)
	if res.Skipped {
		msg := "waiting for labels: " + res.Reason
		l.last.Store(&msg)
		l.log.Info().Str("reason", res.Reason).Msg("training round skipped")
		return
	}
	l.rounds.Add(1)
	l.history.add(res, time.Now())
	if res.Accepted {
		l.accepted.Add(1)
		l.heldOutAUC.Store(math.Float64bits(res.ValAUC))
	} else if math.IsNaN(math.Float64frombits(l.heldOutAUC.Load())) {
		l.heldOutAUC.Store(math.Float64bits(res.ValAUCBefore))
	}
	ev := l.log.Info().Str("event", string(EventTrained)).Int("steps", res.Steps).Float64("loss", round4(res.Loss)).
		Bool("accepted", res.Accepted).Bool("gain", res.Gain).Str("reason", res.Reason).
		Int("held_out_cat", res.ValCat).Int("held_out_noncat", res.ValNonCat).
		Float64("lr", res.LR).Dur("took", res.Duration)
	for _, f := range []struct {
		key string
		v   float64
	}{{"val_loss", res.ValLoss}, {"val_auc", res.ValAUC}, {"val_loss_before", res.ValLossBefore}, {"val_auc_before", res.ValAUCBefore}, {"val_balanced_accuracy", res.ValBalAcc},
		{"published_val_loss", res.PublishedLoss}, {"published_val_auc", res.PublishedAUC}} {
		if !math.IsNaN(f.v) && !math.IsInf(f.v, 0) {
			ev = ev.Float64(f.key, round4(f.v))
		}
	}
	if res.Accepted {
		ev = ev.Float32("threshold", res.Threshold)
	}
	ev.Msg(string(EventTrained))
	msg := fmt.Sprintf("accepted=%v steps=%d loss=%.4f val_loss=%.4f (before %.4f) val_auc=%.3f (before %.3f) lr=%g reason=%s",
		res.Accepted, res.Steps, res.Loss, res.ValLoss, res.ValLossBefore, res.ValAUC, res.ValAUCBefore, res.LR, res.Reason)
	l.last.Store(&msg)
	l.host.emit(EventTrained, msg)
	if !res.Accepted {
		return
	}
	net, err := l.learner.InferenceNet()
	if err != nil {
		l.log.Error().Err(err).Msg("the trained model could not be built")
		return
	}
	m := l.host.inUse()
	name := fmt.Sprintf("%s, fine-tuned %d steps", baseName(m.name), l.learner.Step())
	data, err := l.learner.Checkpoint(map[string]string{baseKey: m.base})
	if err != nil {
		l.log.Error().Err(err).Msg("checkpoint not encoded")
	} else {
		l.ckpt.Store(&data)
	}
	nm := &loaded{master: net, info: l.learner.Info(), infer: net, name: name, base: m.base}
	done := make(chan error, 1)
	select {
	case l.host.pipeline() <- Update{Net: net, Info: nm.info, ModelName: name, Done: done}:
		if err := <-done; err != nil {
			l.log.Error().Err(err).Msg("the trained model was refused")
			return
		}
	case <-ctx.Done():
		return
	}
	l.host.learnt(nm)
}

// yield is the learner's pause after each chunk of examples. While frames
// come steadily, training takes at most duty of the gap after each frame
// and then waits for the next frame to be done, so that a frame seldom
// finds the CPU busy with training; without steady frames it sleeps
// (1/duty - 1) times the chunk's time.
func (l *learning) yield(ctx context.Context, chunk time.Duration, duty float64) {
	gap := time.Duration(l.frameGap.Load())
	since := time.Since(time.Unix(0, l.lastFrame.Load()))
	if gap <= 0 || since > 2*gap {
		if duty < 1 {
			sleep(ctx, time.Duration(float64(chunk)*(1/duty-1)))
		}
		return
	}
	if since+chunk <= time.Duration(duty*float64(gap)) {
		return // room for another chunk before the next frame
	}
	select { // a signal from before this check is stale
	case <-l.frameDone:
	default:
	}
	t := time.NewTimer(2 * gap)
	defer t.Stop()
	select {
	case <-l.frameDone:
	case <-t.C:
	case <-ctx.Done():
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }

// baseName strips what a previous round added to a model name.
func baseName(n string) string {
	if i := bytes.Index([]byte(n), []byte(", fine-tuned ")); i >= 0 {
		return n[:i]
	}
	return n
}

// status adds the learning figures to status.json.
func (l *learning) status(st *Status) {
	tc, tn, vc, vn := l.replay.Counts()
	st.LabelsCat, st.LabelsNonCat, st.LabelsHeldOut = tc+vc, tn+vn, vc+vn
	st.Rounds = l.rounds.Load()
	st.RoundsAccepted = l.accepted.Load()
	st.LearningState = *l.pacerState.Load()
	if a := math.Float64frombits(l.heldOutAUC.Load()); !math.IsNaN(a) {
		st.HeldOutAUC = &a
	}
	st.ReplayBytes = l.replay.Bytes()
	st.ReplayDiskBytes = l.replay.DiskBytes()
	st.OptimizerStateBytes = int(l.optBytes.Load())
	st.TrainWorkspaceBytes = int(l.workBytes.Load())
	st.LastRound = *l.last.Load()
	if n, _ := l.reviewDir.Load().Stats(); n >= 0 {
		st.ReviewFrames = n
	}
	switch {
	case !l.enabled.Load():
		st.Learning = "off"
	default:
		st.Learning = "on"
	}
}
