// Package daemon is catd's long-running service: it reads frames from a
// camera source, keeps only the latest one (old frames are dropped, never
// queued; a source that waits for its reader, such as a file played with
// fps=max, is read one frame ahead instead, losing none), turns it into
// model input, asks the model for p(cat), decides
// with hysteresis whether a cat is present, and reports changes and
// periodic statistics as structured log events.
//
// The pipeline has two goroutines, both ending when Run returns: capture
// writes frames into a free buffer and swaps it into the latest-frame slot;
// inference takes the slot's frame, preprocesses it into buffers sized once,
// and runs the model. Raw frames (RGB, YUV, grey) go through without
// allocating; JPEG and PNG frames are decoded by the standard library,
// which allocates per frame.
package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"catd/camera"
	"catd/dataset"
	"catd/fixedpoint"
	"catd/model"
	"catd/preprocess"
	"catd/preprocess/jpeg"
)

// PipelineConfig is what RunPipeline needs. Zero values take the defaults
// noted.
type PipelineConfig struct {
	Source camera.Source
	Net    *model.Net // built with MaxBatch >= 1
	Info   model.Info
	// Threshold overrides Info.Threshold when positive.
	Threshold float32
	// OnFrames consecutive frames at or above the threshold report a cat
	// (default 2); OffFrames below it clear it (default 3).
	OnFrames, OffFrames int
	// Fit and ROI shape the frame before it is resized to the model input.
	Fit preprocess.Fit
	ROI image.Rectangle
	// StatsEvery is the period of the stats event (default 10 s; negative
	// disables it).
	StatsEvery time.Duration
	// MaxPixels bounds decoded JPEG/PNG frames (default 40 megapixels).
	MaxPixels int
	// OnEvent, if set, receives every event after it is logged.
	OnEvent func(Event)
	// Notify, if set, is told when the pipeline is ready and stopping, and
	// pinged every Watchdog period while the inference loop turns
	// (systemd's Type=notify and WatchdogSec=).
	Notify   Notifier
	Watchdog time.Duration
	// Control, if set, publishes the state and takes a threshold override.
	Control *Control
	// StatusPath, if set, is the status.json rewritten every StatusWrite
	// (default 1 s); ModelName names the model in it.
	StatusPath  string
	StatusWrite time.Duration
	ModelName   string
	// Status, if set, adds to each status.json written (state directory
	// figures, learning state); it is called from the inference goroutine.
	Status func(*Status)
	// Int8, if set, is Net's int8 version, run instead of Net.
	Int8 *fixedpoint.Net
	// Updates, if set, carries changes applied while the pipeline runs.
	Updates <-chan Update
	// OnDetect, if set, is called on each cat_present event with the frame
	// that raised it, before the frame's buffer is reused: it must copy what
	// it keeps and must not block.
	OnDetect func(ev Event, f *camera.Frame)
	// OnFrame, if set, is called with every frame judged: the frame, the
	// model input it became (H×W×3 bytes), p(cat), the threshold in force
	// and the event it raised ("" for none). It runs on the inference
	// goroutine before the buffers are reused: it must copy what it keeps,
	// must not block, and should not allocate.
	OnFrame func(f *camera.Frame, pix []uint8, p, threshold float32, event EventKind)
	// StallAfter is how long the source may deliver no frame before the
	// camera counts as stalled (default 30 s; negative: never): a cat
	// reported present is cleared (a cat_gone event with Msg "camera
	// stalled") and status.json says "camera stalled" until frames come
	// again. A source still waiting for its camera (see Options) is not
	// stalled, nor is a dir: source, which has no frame rate (it delivers
	// a frame when a file comes).
	StallAfter time.Duration
}

// Detect is how frames become decisions: the threshold (0: the model's
// own), the hysteresis and how a frame is fitted to the model's input.
type Detect struct {
	Threshold           float32
	OnFrames, OffFrames int
	Fit                 preprocess.Fit
	ROI                 image.Rectangle
}

// Update changes a running pipeline between two frames. Only the non-zero
// parts apply.
type Update struct {
	// Source replaces the source. The old one is no longer read once Done
	// has been told; the caller closes it.
	Source camera.Source
	// Net replaces the model (built with MaxBatch >= 1), with its Info and
	// the name status.json shows.
	Net       *model.Net
	Info      model.Info
	ModelName string
	// Int8, if set with Net, runs Net's int8 version instead of Net
	// (quantized from it; package fixedpoint).
	Int8   *fixedpoint.Net
	Detect *Detect
	// StatsEvery changes the period of the stats event (negative: off).
	StatsEvery time.Duration
	// Done, if set, is told nil once the update applies, or why it could
	// not; it must have room for one value. An update the pipeline has
	// taken from Updates is always answered, even when the pipeline stops:
	// a sender need watch for the stop only until its update is taken.
	Done chan<- error
}

// Notifier is the service manager's side of the daemon (see package
// systemd).
type Notifier interface {
	Ready() error
	Watchdog() error
	Stopping() error
	Status(msg string) error // one line shown by systemctl status
}

// Event is a change of state or a statistics report.
type Event struct {
	Kind  EventKind
	Time  time.Time
	Frame uint64  // frame sequence number
	PCat  float32 // p(cat) of that frame
	Stats *Stats  // for EventStats
	Msg   string  // what changed, or what went wrong
}

// EventKind is what an Event reports; its value is the name logs, the
// serial console and on_detect (CATD_EVENT) show.
type EventKind string

// The pipeline's events.
const (
	EventCatPresent EventKind = "cat_present" // OnFrames frames at or above the threshold
	EventCatGone    EventKind = "cat_gone"    // OffFrames frames below it
	EventStats      EventKind = "stats"       // every StatsEvery, with Stats
)

// The service's events, with Msg.
const (
	EventConfigReloaded EventKind = "config_reloaded" // Msg: the keys that changed
	EventConfigRefused  EventKind = "config_refused"  // Msg: why
	EventTrained        EventKind = "trained"         // a learning round ran; Msg: its figures
	EventCheckpoint     EventKind = "checkpoint"      // Msg: the file written
	EventError          EventKind = "error"           // Msg: what failed
)

// Stats summarises the frames since the previous stats event.
type Stats struct {
	Frames     uint64        // frames inferred in the period
	Dropped    uint64        // frames replaced in the slot before inference took them
	Corrupt    uint64        // frames that could not be decoded
	FPS        float64       // frames inferred per second
	LatencyP50 time.Duration // capture to decision
	LatencyP99 time.Duration
	Present    bool
}

// slot holds the latest frame; capture swaps a fresh frame in, inference
// swaps it out, and whatever was there unread is counted as dropped.
type slot struct {
	mu      sync.Mutex
	frame   *camera.Frame // nil when empty
	ready   chan struct{} // one token when frame is non-nil
	taken   chan struct{} // one token when take emptied the slot
	dropped uint64

	// The frames the sources skipped as corrupt before handing any over
	// (garbage in a stream, files that are not images): those of the
	// sources read before, and the one read now.
	srcCorrupt uint64
	src        camera.StatsReporter // nil if the source does not count
}

// use makes src the source whose skipped frames are counted.
func (s *slot) use(src camera.Source) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.src != nil {
		s.srcCorrupt += s.src.Stats().Corrupt
	}
	s.src, _ = src.(camera.StatsReporter)
}

// sourceCorrupt is how many frames the sources have skipped as corrupt.
func (s *slot) sourceCorrupt() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.srcCorrupt
	if s.src != nil {
		n += s.src.Stats().Corrupt
	}
	return n
}

func (s *slot) put(f *camera.Frame) (old *camera.Frame) {
	s.mu.Lock()
	old, s.frame = s.frame, f
	if old != nil {
		s.dropped++
	}
	s.mu.Unlock()
	select {
	case s.ready <- struct{}{}:
	default:
	}
	return old
}

func (s *slot) take() *camera.Frame {
	s.mu.Lock()
	f := s.frame
	s.frame = nil
	s.mu.Unlock()
	if f != nil {
		select {
		case s.taken <- struct{}{}:
		default:
		}
	}
	return f
}

// waitEmpty waits until the slot holds no frame, or ctx ends.
func (s *slot) waitEmpty(ctx context.Context) error {
	for {
		s.mu.Lock()
		empty := s.frame == nil
		s.mu.Unlock()
		if empty {
			return nil
		}
		select {
		case <-s.taken:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// RunPipeline runs the pipeline until ctx is cancelled or the source fails
// for good. It closes nothing it was given: the caller owns the sources.
func RunPipeline(ctx context.Context, cfg PipelineConfig, log zerolog.Logger) error {
	if cfg.Source == nil || cfg.Net == nil {
		return errors.New("daemon: a source and a model are needed")
	}
	if err := checkDetector(cfg.Net); err != nil {
		return err
	}
	if cfg.StatsEvery == 0 {
		cfg.StatsEvery = 10 * time.Second
	}
	if cfg.StallAfter == 0 {
		cfg.StallAfter = 30 * time.Second
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	sl := &slot{ready: make(chan struct{}, 1), taken: make(chan struct{}, 1)}
	free := make(chan *camera.Frame, 3)
	for range 3 {
		free <- &camera.Frame{}
	}
	swaps := make(chan sourceSwap)
	capErr := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	// Neither the goroutine nor this frame keeps cfg: infer's copy is the
	// only one, and lets a swapped-out model go.
	src, notify := cfg.Source, cfg.Notify
	go func() {
		defer wg.Done()
		capErr <- capture(ctx, src, swaps, sl, free)
		cancel()
	}()
	err := infer(ctx, cfg, swaps, sl, free, log)
	if notify != nil {
		if nerr := notify.Stopping(); nerr != nil {
			log.Warn().Err(nerr).Msg("telling the service manager we stop")
		}
	}
	cancel()
	wg.Wait()
	if parent.Err() != nil {
		return nil // asked to stop: a clean exit
	}
	if cerr := <-capErr; cerr != nil && !errors.Is(cerr, context.Canceled) {
		return cerr
	}
	return err
}

// checkDetector refuses networks the pipeline cannot use.
func checkDetector(n *model.Net) error {
	if n.Arch.Outputs() != 1 || n.Arch.C != 3 {
		return fmt.Errorf("daemon: the model must be a cat detector on RGB images, not %q", n.Arch)
	}
	if n.MaxBatch() < 1 {
		return errors.New("daemon: the model is built without room for a frame")
	}
	return nil
}

// sourceSwap asks capture to read from src from now on.
type sourceSwap struct {
	src  camera.Source
	done chan<- error
}

// capture reads frames from src into free buffers and publishes them in
// the slot; a swap stops reading the old source (its reader goroutine has
// returned when done is told) and starts on the new one.
func capture(ctx context.Context, src camera.Source, swaps <-chan sourceSwap, sl *slot, free chan *camera.Frame) error {
	for {
		sl.use(src)
		sctx, stop := context.WithCancel(ctx)
		errc := make(chan error, 1)
		go func() { errc <- readFrames(sctx, src, sl, free) }()
		select {
		case sw := <-swaps:
			stop()
			<-errc
			src = sw.src
			if sw.done != nil {
				sw.done <- nil
			}
		case err := <-errc:
			stop()
			return err
		}
	}
}

// readFrames reads frames until ctx ends or src fails. From a source that
// waits for its reader (camera.WaitsForReader: a file played with
// fps=max), a frame is put in the slot only once inference has taken the
// one before: every frame is judged, in order, and none is read only to be
// dropped. The next frame is read meanwhile, while inference works.
func readFrames(ctx context.Context, src camera.Source, sl *slot, free chan *camera.Frame) error {
	wait := camera.WaitsForReader(src)
	for {
		var f *camera.Frame
		select {
		case f = <-free:
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := src.Next(ctx, f); err != nil {
			free <- f
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("daemon: source %s: %w", src, err)
		}
		if wait {
			if err := sl.waitEmpty(ctx); err != nil {
				free <- f
				return err
			}
		}
		if old := sl.put(f); old != nil {
			free <- old
		}
	}
}

// stage turns frames into p(cat) with buffers sized once; a new model or a
// new fit makes a new stage. With q set, the int8 network runs on the
// pixels directly.
type stage struct {
	net       *model.Net
	q         *fixedpoint.Net
	info      model.Info
	rz        *preprocess.Resizer
	pix       []uint8
	x, p      []float32
	reader    bytes.Reader
	maxPixels int
}

func newStage(net *model.Net, info model.Info, d Detect, maxPixels int) *stage {
	if maxPixels <= 0 {
		maxPixels = dataset.DefaultMaxPixels
	}
	rz := preprocess.NewResizer(net.Arch.W, net.Arch.H, preprocess.Options{Fit: d.Fit, ROI: d.ROI})
	return &stage{net: net, info: info, rz: rz, pix: make([]uint8, rz.OutLen()), x: make([]float32, net.InputLen()),
		p: make([]float32, 1), maxPixels: maxPixels}
}

// process returns p(cat) for frame f, or why f could not be used.
func (p *stage) process(f *camera.Frame) (float32, error) {
	if err := toInput(p.rz, p.pix, f, &p.reader, p.maxPixels); err != nil {
		return 0, err
	}
	if p.q != nil {
		p.q.Predict(p.p, p.pix)
		return p.p[0], nil
	}
	p.info.NormalizePixels(p.x, p.pix)
	p.net.Predict(p.p, p.x)
	return p.p[0], nil
}

// infer takes frames from the slot and runs the model on them until ctx
// ends.
func infer(ctx context.Context, cfg PipelineConfig, swaps chan<- sourceSwap, sl *slot, free chan *camera.Frame, log zerolog.Logger) error {
	return newFrameLoop(cfg, swaps, sl, free, log).run(ctx)
}

// frameLoop is the inference goroutine: run waits for whatever comes first
// (a frame, an update, a tick) and hands it to the method for it. Its
// fields are that goroutine's alone.
type frameLoop struct {
	cfg   PipelineConfig // without Net and Int8: stage has them, and a swap lets them go
	log   zerolog.Logger
	swaps chan<- sourceSwap
	sl    *slot
	free  chan *camera.Frame
	ctl   *Control

	det  Detect
	pl   *stage
	base float32 // the threshold before the runtime override

	// The decision: consecutive frames above and below the threshold.
	present      bool
	above, below int
	lastPCat     float32

	// The stats period.
	st             Stats
	lat            []time.Duration // capture to decision, of the period's frames
	periodStart    time.Time
	lastDropped    uint64
	lastSrcCorrupt uint64 // the sources' corrupt frames at the last stats
	statsTicker    *time.Ticker
	statsOn        bool

	// status.json
	status    Status
	statusErr bool // its last write failed (said once)
	fpsWin    fpsWindow
	corrupt   uint64

	// The camera: the source read now, when the last frame came (or the
	// source started, or stopped waiting for its camera), its sequence
	// number, and whether it is stalled (see PipelineConfig.StallAfter).
	src       camera.Source
	lastFrame time.Time
	lastSeq   uint64
	stalled   bool
	notified  string // the state the service manager was last told

	skipWarn, nanWarn warnEvery // rate limits of the per-frame warnings
}

// skipWarnEvery is how often a warning that could come with every frame
// is logged at most.
const skipWarnEvery = 10 * time.Second

// warnEvery rate-limits a warning to one per skipWarnEvery.
type warnEvery struct {
	last       time.Time
	suppressed int
}

// allow reports whether to log now, and how many were suppressed since the
// last one logged.
func (w *warnEvery) allow(now time.Time) (suppressed int, ok bool) {
	if !w.last.IsZero() && now.Sub(w.last) < skipWarnEvery {
		w.suppressed++
		return 0, false
	}
	n := w.suppressed
	w.last, w.suppressed = now, 0
	return n, true
}

func newFrameLoop(cfg PipelineConfig, swaps chan<- sourceSwap, sl *slot, free chan *camera.Frame, log zerolog.Logger) *frameLoop {
	l := &frameLoop{cfg: cfg, log: log, swaps: swaps, sl: sl, free: free, ctl: cfg.Control,
		det: Detect{Threshold: cfg.Threshold, OnFrames: cfg.OnFrames, OffFrames: cfg.OffFrames, Fit: cfg.Fit, ROI: cfg.ROI},
		lat: make([]time.Duration, 0, 4096), periodStart: time.Now(),
		status: Status{State: StateWatching, Source: cfg.Source.String(), Model: cfg.ModelName, Learning: "off", Started: time.Now()},
		src:    cfg.Source, lastFrame: time.Now()}
	l.det.defaults()
	l.pl = newStage(cfg.Net, cfg.Info, l.det, cfg.MaxPixels)
	if cfg.Int8 != nil && cfg.Int8.InputLen() == cfg.Net.InputLen() {
		l.pl.q = cfg.Int8
	}
	l.cfg.Net, l.cfg.Int8 = nil, nil
	if l.ctl == nil {
		l.ctl = &Control{}
	}
	l.base = l.det.threshold(l.pl.info)
	return l
}

// run turns the loop until ctx ends.
func (l *frameLoop) run(ctx context.Context) error {
	cfg := &l.cfg
	thr := l.ctl.decisionThreshold(l.base) // status shows the threshold before the first frame
	var statusTick <-chan time.Time
	if cfg.StatusPath != "" {
		every := cfg.StatusWrite
		if every <= 0 {
			every = time.Second
		}
		t := time.NewTicker(every)
		defer t.Stop()
		statusTick = t.C
		defer os.Remove(cfg.StatusPath) // a stopped daemon has no status
	}
	l.statsTicker = time.NewTicker(time.Hour)
	defer l.statsTicker.Stop()
	l.statsOn = cfg.StatsEvery > 0
	if l.statsOn {
		l.statsTicker.Reset(cfg.StatsEvery)
	} else {
		l.statsTicker.Stop()
	}
	var dog <-chan time.Time
	if cfg.Notify != nil {
		if err := cfg.Notify.Ready(); err != nil {
			l.log.Warn().Err(err).Msg("telling the service manager we are ready")
		}
		if cfg.Watchdog > 0 {
			t := time.NewTicker(cfg.Watchdog)
			defer t.Stop()
			dog = t.C
		}
	}
	var stallTick <-chan time.Time
	if cfg.StallAfter > 0 {
		t := time.NewTicker(max(cfg.StallAfter/4, 10*time.Millisecond))
		defer t.Stop()
		stallTick = t.C
	}
	msg := "watching"
	if st, _ := l.cameraState(); st != StateWatching {
		msg = "started, " + st
		l.notifyStatus()
	}
	l.log.Info().Str("source", cfg.Source.String()).Float32("threshold", thr).Int("on_frames", l.det.OnFrames).
		Int("off_frames", l.det.OffFrames).Msg(msg)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case u := <-cfg.Updates:
			l.update(ctx, u)
		case <-dog:
			if err := cfg.Notify.Watchdog(); err != nil {
				l.log.Warn().Err(err).Msg("watchdog ping")
			}
		case <-statusTick:
			l.writeStatus()
		case now := <-stallTick:
			l.checkStall(now)
		case now := <-l.statsTicker.C:
			if l.statsOn {
				l.stats(now)
			}
		case <-l.sl.ready:
			l.frame()
		}
	}
}

// update applies u and answers u.Done, or has capture answer it once the
// new source is in.
func (l *frameLoop) update(ctx context.Context, u Update) {
	err := l.reconfigure(u)
	if u.Source != nil && err == nil {
		l.status.Source = u.Source.String()
		l.src, l.lastFrame, l.stalled = u.Source, time.Now(), false
		select {
		case l.swaps <- sourceSwap{src: u.Source, done: u.Done}:
			return // capture tells Done
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if u.Done != nil {
		u.Done <- err
	}
}

// reconfigure applies u's model, detection settings and stats period, or
// none of them if u's model cannot be used.
func (l *frameLoop) reconfigure(u Update) error {
	switch {
	case u.Net != nil:
		if err := checkDetector(u.Net); err != nil {
			return err
		}
		if u.Detect != nil {
			l.det = *u.Detect
			l.det.defaults()
		}
		l.pl = newStage(u.Net, u.Info, l.det, l.cfg.MaxPixels)
		if u.Int8 != nil && u.Int8.InputLen() == u.Net.InputLen() {
			l.pl.q = u.Int8
		}
		l.status.Model = u.ModelName
		l.above, l.below = 0, 0 // the new model's scores start afresh; the state stays
	case u.Detect != nil:
		nd := *u.Detect
		nd.defaults()
		if nd.Fit != l.det.Fit || nd.ROI != l.det.ROI {
			q := l.pl.q
			l.pl = newStage(l.pl.net, l.pl.info, nd, l.cfg.MaxPixels)
			l.pl.q = q
		}
		l.det = nd
	}
	l.base = l.det.threshold(l.pl.info)
	l.ctl.decisionThreshold(l.base) // status shows the new threshold before the next frame
	if u.StatsEvery < 0 {
		l.statsTicker.Stop()
		l.statsOn = false
	} else if u.StatsEvery > 0 {
		l.statsTicker.Reset(u.StatsEvery)
		l.statsOn = true
	}
	return nil
}

// writeStatus rewrites status.json.
func (l *frameLoop) writeStatus() {
	// The time read now, with the count: a tick handled late (a slow
	// board) would otherwise count frames over a longer time than it
	// divides by.
	now := time.Now()
	snap := l.ctl.Snapshot()
	st := &l.status
	l.sl.mu.Lock()
	st.Dropped = l.sl.dropped
	l.sl.mu.Unlock()
	st.Cat, st.PCat, st.Threshold, st.Frames = snap.Present, snap.PCat, snap.Threshold, snap.Frames
	st.FPS = math.Round(l.fpsWin.add(now, snap.Frames)*100) / 100
	st.Corrupt, st.Updated = l.corrupt+l.sl.sourceCorrupt(), now
	st.State, st.CameraError = l.cameraState()
	if l.cfg.Status != nil {
		l.cfg.Status(st)
	}
	if err := WriteStatus(l.cfg.StatusPath, st); err != nil && !l.statusErr {
		l.statusErr = true // said once; catd keeps running without it
		l.log.Warn().Err(err).Msg("status.json not written")
	} else if err == nil {
		l.statusErr = false
	}
}

// stats reports the period that ends now and starts the next.
func (l *frameLoop) stats(now time.Time) {
	st := &l.st
	l.sl.mu.Lock()
	st.Dropped = l.sl.dropped - l.lastDropped
	l.lastDropped = l.sl.dropped
	l.sl.mu.Unlock()
	srcCorrupt := l.sl.sourceCorrupt()
	st.Corrupt += srcCorrupt - l.lastSrcCorrupt
	l.lastSrcCorrupt = srcCorrupt
	st.FPS = float64(st.Frames) / now.Sub(l.periodStart).Seconds()
	st.LatencyP50, st.LatencyP99 = percentile(l.lat, 0.5), percentile(l.lat, 0.99)
	st.Present = l.present
	s := *st
	ev := Event{Kind: EventStats, Time: now, Stats: &s}
	l.log.Info().Str("event", string(EventStats)).Uint64("frames", s.Frames).Float64("fps", math.Round(s.FPS*100)/100).
		Dur("latency_p50", s.LatencyP50).Dur("latency_p99", s.LatencyP99).Uint64("dropped", s.Dropped).
		Uint64("corrupt", s.Corrupt).Bool("cat", l.present).Msg(string(EventStats))
	l.notifyStatus()
	if l.cfg.OnEvent != nil {
		l.cfg.OnEvent(ev)
	}
	l.st, l.lat, l.periodStart = Stats{}, l.lat[:0], now
}

// frame judges the frame in the slot, if it is still there.
func (l *frameLoop) frame() {
	f := l.sl.take()
	if f == nil {
		return
	}
	pc, err := l.pl.process(f)
	seq, captured := f.Seq, f.Time
	l.lastFrame, l.lastSeq = time.Now(), seq
	if l.stalled {
		l.stalled = false
		l.log.Info().Str("source", l.status.Source).Uint64("frame", seq).Msg("camera back: frames again")
	}
	if err != nil {
		l.free <- f
		l.st.Corrupt++
		l.corrupt++
		// Often the same cause frame after frame (a region of interest
		// outside the frame): said once per skipWarnEvery.
		if n, ok := l.skipWarn.allow(time.Now()); ok {
			l.log.Warn().Err(err).Uint64("frame", seq).Int("suppressed", n).Msg("frame skipped")
		}
		return
	}
	if math.IsNaN(float64(pc)) { // a broken model never decides
		l.free <- f
		if n, ok := l.nanWarn.allow(time.Now()); ok {
			l.log.Error().Uint64("frame", seq).Int("suppressed", n).Msg("the model gave no score (NaN): frame not judged")
		}
		return
	}
	l.st.Frames++
	l.lastPCat = pc
	if len(l.lat) < cap(l.lat) {
		l.lat = append(l.lat, time.Since(captured))
	}
	thr := l.ctl.decisionThreshold(l.base)
	kind := l.decide(pc, thr)
	l.ctl.record(pc, l.present)
	l.log.Debug().Uint64("frame", seq).Float32("p_cat", pc).Msg("frame")
	if l.cfg.OnFrame != nil {
		l.cfg.OnFrame(f, l.pl.pix, pc, thr, kind)
	}
	if kind == "" {
		l.free <- f
		return
	}
	ev := Event{Kind: kind, Time: time.Now(), Frame: seq, PCat: pc}
	l.log.Info().Str("event", string(kind)).Uint64("frame", seq).Float32("p_cat", pc).Msg(string(kind))
	if kind == EventCatPresent && l.cfg.OnDetect != nil {
		l.cfg.OnDetect(ev, f)
	}
	l.free <- f
	l.notifyStatus()
	if l.cfg.OnEvent != nil {
		l.cfg.OnEvent(ev)
	}
}

// decide counts p(cat) against the threshold with hysteresis and returns
// the event the frame raises ("" for none).
func (l *frameLoop) decide(pc, thr float32) EventKind {
	if pc >= thr {
		l.above, l.below = l.above+1, 0
	} else {
		l.above, l.below = 0, l.below+1
	}
	switch {
	case !l.present && l.above >= l.det.OnFrames:
		l.present = true
		return EventCatPresent
	case l.present && l.below >= l.det.OffFrames:
		l.present = false
		return EventCatGone
	}
	return ""
}

// notifyStatus tells the service manager the state in a line.
func (l *frameLoop) notifyStatus() {
	if l.cfg.Notify == nil {
		return
	}
	cat := "no cat"
	if l.present {
		cat = "cat present"
	}
	msg := fmt.Sprintf("%s, p(cat) %.2f, %.1f frames/s, %d frames", cat, l.lastPCat, l.st.FPS, l.ctl.frames.Load())
	state, why := l.cameraState()
	l.notified = state
	if state != StateWatching {
		msg = state
		if why != "" {
			msg += ": " + why
		}
	}
	if err := l.cfg.Notify.Status(msg); err != nil {
		l.log.Debug().Err(err).Msg("STATUS= not sent")
	}
}

// defaults fills in the zero fields.
func (d *Detect) defaults() {
	if d.OnFrames <= 0 {
		d.OnFrames = 2
	}
	if d.OffFrames <= 0 {
		d.OffFrames = 3
	}
}

// threshold is d's threshold, else the model's.
func (d *Detect) threshold(info model.Info) float32 {
	if d.Threshold > 0 {
		return d.Threshold
	}
	return info.Threshold
}

// toInput preprocesses one frame into the model's RGB input.
func toInput(rz *preprocess.Resizer, pix []uint8, f *camera.Frame, r *bytes.Reader, maxPixels int) error {
	switch f.Format {
	case camera.RGB24:
		return rz.RGB(pix, f.Data, f.W, f.H, f.Stride)
	case camera.YUYV:
		return rz.YUYV(pix, f.Data, f.W, f.H, f.Stride)
	case camera.I420:
		return rz.I420(pix, f.Data, f.W, f.H)
	case camera.NV12:
		return rz.NV12(pix, f.Data, f.W, f.H)
	case camera.Gray8:
		return rz.Gray(pix, f.Data, f.W, f.H, f.Stride)
	case camera.JPEG:
		// Decoded at a reduced scale straight into the resize; what the
		// fast decoder leaves (progressive, arithmetic…) goes to
		// image/jpeg below. Corrupt frames are errors either way.
		err := rz.JPEG(pix, f.Data, maxPixels)
		if !errors.Is(err, jpeg.ErrUnsupported) {
			return err
		}
		fallthrough
	case camera.PNG:
		r.Reset(f.Data)
		img, err := dataset.DecodeImage(r, maxPixels)
		if err != nil {
			return err
		}
		return rz.Image(pix, img)
	}
	return fmt.Errorf("daemon: frame format %v not supported", f.Format)
}

// percentile returns the q-quantile of d (sorting d).
func percentile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[min(len(d)-1, int(q*float64(len(d))))]
}

// fpsWindow is the frame rate over the last few seconds of status updates
// (a one-second window counts 2 or 3 frames at 2.5 frames/s).
type fpsWindow struct {
	at     [6]time.Time
	frames [6]uint64
	n      int // samples added
}

// add records the frame count at t and returns the rate since the oldest
// sample kept (0 before the second sample).
func (w *fpsWindow) add(t time.Time, frames uint64) float64 {
	i := w.n % len(w.at)
	w.at[i], w.frames[i] = t, frames
	w.n++
	if w.n < 2 {
		return 0
	}
	old := w.n % len(w.at) // the oldest kept sample
	if w.n < len(w.at) {
		old = 0
	}
	dt := t.Sub(w.at[old]).Seconds()
	if dt <= 0 {
		return 0
	}
	return float64(frames-w.frames[old]) / dt
}

// The states status.json shows.
const (
	StateWatching      = "watching"
	StateWaitingCamera = "waiting for camera" // the source could not be opened yet; retried with backoff
	StateStalled       = "camera stalled"     // no frame for PipelineConfig.StallAfter
)

// cameraState is the pipeline's state for status.json, with why the
// camera is not there ("" when it is).
func (l *frameLoop) cameraState() (state, why string) {
	if w, ok := l.src.(cameraWaiter); ok {
		if why := w.Waiting(); why != "" {
			return StateWaitingCamera, why
		}
	}
	if l.stalled {
		return StateStalled, fmt.Sprintf("no frame since %s", l.lastFrame.Format("15:04:05.000"))
	}
	return StateWatching, ""
}

// checkStall declares the camera stalled when no frame came for
// StallAfter, and clears a cat reported present: with no frames there is
// no evidence of one.
func (l *frameLoop) checkStall(now time.Time) {
	if st, _ := l.cameraState(); st != l.notified {
		l.notifyStatus() // the camera came, or went: systemctl status says so
	}
	if w, ok := l.src.(cameraWaiter); ok && w.Waiting() != "" {
		l.lastFrame = now // waiting for the camera is not a stall; the wait for frames starts when it opens
		return
	}
	if l.stalled || now.Sub(l.lastFrame) < l.cfg.StallAfter || eventDriven(l.src) {
		return
	}
	l.stalled = true
	l.above, l.below = 0, 0
	l.log.Warn().Str("source", l.status.Source).Dur("no_frame_for", now.Sub(l.lastFrame)).Bool("cat", l.present).
		Msg("camera stalled")
	if !l.present {
		l.notifyStatus()
		return
	}
	l.present = false
	l.ctl.present.Store(false)
	ev := Event{Kind: EventCatGone, Time: now, Frame: l.lastSeq, PCat: l.lastPCat, Msg: StateStalled}
	l.log.Info().Str("event", string(EventCatGone)).Uint64("frame", l.lastSeq).Str("reason", StateStalled).Msg(string(EventCatGone))
	l.notifyStatus()
	if l.cfg.OnEvent != nil {
		l.cfg.OnEvent(ev)
	}
}

// eventDriven reports whether src delivers frames only when something
// happens (dir:), so that a long gap between frames is no stall.
func eventDriven(src camera.Source) bool {
	u := src.String()
	return len(u) >= 4 && strings.EqualFold(u[:4], "dir:")
}
