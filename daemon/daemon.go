// Package daemon is catd's long-running service: it reads frames from a
// camera source, keeps only the latest one (old frames are dropped, never
// queued), turns it into model input, asks the model for p(cat), decides
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
	"sync"
	"time"

	"github.com/rs/zerolog"

	"catd/camera"
	"catd/dataset"
	"catd/model"
	"catd/preprocess"
)

// Config is what Run needs. Zero values take the defaults noted.
type Config struct {
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
}

// Notifier is the service manager's side of the daemon (see package
// systemd).
type Notifier interface {
	Ready() error
	Watchdog() error
	Stopping() error
}

// Event is a change of state or a statistics report.
type Event struct {
	Kind  string // "cat_present", "cat_gone" or "stats"
	Time  time.Time
	Frame uint64  // frame sequence number
	PCat  float32 // p(cat) of that frame
	Stats *Stats  // for "stats"
}

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
	dropped uint64
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
	defer s.mu.Unlock()
	f := s.frame
	s.frame = nil
	return f
}

// Run runs the pipeline until ctx is cancelled or the source fails for
// good. It closes nothing it was given: the caller owns the source.
func Run(ctx context.Context, cfg Config, log zerolog.Logger) error {
	if cfg.Source == nil || cfg.Net == nil {
		return errors.New("daemon: a source and a model are needed")
	}
	if cfg.Net.Arch.Outputs() != 1 || cfg.Net.Arch.C != 3 {
		return fmt.Errorf("daemon: the model must be a cat detector on RGB images, not %q", cfg.Net.Arch)
	}
	if cfg.OnFrames <= 0 {
		cfg.OnFrames = 2
	}
	if cfg.OffFrames <= 0 {
		cfg.OffFrames = 3
	}
	if cfg.StatsEvery == 0 {
		cfg.StatsEvery = 10 * time.Second
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	sl := &slot{ready: make(chan struct{}, 1)}
	free := make(chan *camera.Frame, 3)
	for range 3 {
		free <- &camera.Frame{}
	}
	capErr := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		capErr <- capture(ctx, cfg.Source, sl, free, log)
		cancel()
	}()
	err := infer(ctx, cfg, sl, free, log)
	if cfg.Notify != nil {
		if nerr := cfg.Notify.Stopping(); nerr != nil {
			log.Warn().Err(nerr).Msg("telling the service manager we stop")
		}
	}
	cancel()
	wg.Wait()
	if parent.Err() != nil {
		log.Info().Msg("stopped")
		return nil // asked to stop: a clean exit
	}
	if cerr := <-capErr; cerr != nil && !errors.Is(cerr, context.Canceled) {
		return cerr
	}
	return err
}

// capture reads frames into free buffers and publishes them in the slot.
func capture(ctx context.Context, src camera.Source, sl *slot, free chan *camera.Frame, log zerolog.Logger) error {
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
		if old := sl.put(f); old != nil {
			free <- old
		}
	}
}

// pipeline turns frames into p(cat) with buffers sized once.
type pipeline struct {
	cfg    Config
	rz     *preprocess.Resizer
	pix    []uint8
	x, p   []float32
	reader bytes.Reader
}

func newPipeline(cfg Config) *pipeline {
	if cfg.MaxPixels <= 0 {
		cfg.MaxPixels = dataset.DefaultMaxPixels
	}
	net := cfg.Net
	rz := preprocess.NewResizer(net.Arch.W, net.Arch.H, preprocess.Options{Fit: cfg.Fit, ROI: cfg.ROI})
	return &pipeline{cfg: cfg, rz: rz, pix: make([]uint8, rz.OutLen()), x: make([]float32, net.InputLen()), p: make([]float32, 1)}
}

// process returns p(cat) for frame f, or why f could not be used.
func (p *pipeline) process(f *camera.Frame) (float32, error) {
	if err := toInput(p.rz, p.pix, f, &p.reader, p.cfg.MaxPixels); err != nil {
		return 0, err
	}
	p.cfg.Info.NormalizePixels(p.x, p.pix)
	p.cfg.Net.Predict(p.p, p.x)
	return p.p[0], nil
}

// infer takes frames from the slot and runs the model on them.
func infer(ctx context.Context, cfg Config, sl *slot, free chan *camera.Frame, log zerolog.Logger) error {
	pl := newPipeline(cfg)
	thr := cfg.Info.Threshold
	if cfg.Threshold > 0 {
		thr = cfg.Threshold
	}
	ctl := cfg.Control
	if ctl == nil {
		ctl = &Control{}
	}
	base := thr
	ctl.decisionThreshold(base) // status shows the threshold before the first frame
	var (
		present      bool
		above, below int
		st           Stats
		lat          = make([]time.Duration, 0, 4096)
		periodStart  = time.Now()
		lastDropped  uint64
	)
	var (
		statusTick  <-chan time.Time
		status      = Status{State: "watching", Source: cfg.Source.String(), Model: cfg.ModelName, Learning: "off", Started: time.Now()}
		statusErr   bool
		statusAt    = time.Now()
		statusCount uint64
		corrupt     uint64
	)
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
	var tick <-chan time.Time
	if cfg.StatsEvery > 0 {
		t := time.NewTicker(cfg.StatsEvery)
		defer t.Stop()
		tick = t.C
	}
	var dog <-chan time.Time
	if cfg.Notify != nil {
		if err := cfg.Notify.Ready(); err != nil {
			log.Warn().Err(err).Msg("telling the service manager we are ready")
		}
		if cfg.Watchdog > 0 {
			t := time.NewTicker(cfg.Watchdog)
			defer t.Stop()
			dog = t.C
		}
	}
	log.Info().Str("source", cfg.Source.String()).Float32("threshold", thr).Int("on_frames", cfg.OnFrames).
		Int("off_frames", cfg.OffFrames).Msg("watching")
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-dog:
			if err := cfg.Notify.Watchdog(); err != nil {
				log.Warn().Err(err).Msg("watchdog ping")
			}
			continue
		case now := <-statusTick:
			snap := ctl.Snapshot()
			sl.mu.Lock()
			status.Dropped = sl.dropped
			sl.mu.Unlock()
			status.Cat, status.PCat, status.Threshold, status.Frames = snap.Present, snap.PCat, snap.Threshold, snap.Frames
			status.FPS = math.Round(float64(snap.Frames-statusCount)/now.Sub(statusAt).Seconds()*100) / 100
			status.Corrupt, status.Updated = corrupt, now
			statusAt, statusCount = now, snap.Frames
			if err := WriteStatus(cfg.StatusPath, &status); err != nil && !statusErr {
				statusErr = true // said once; catd keeps running without it
				log.Warn().Err(err).Msg("status.json not written")
			} else if err == nil {
				statusErr = false
			}
			continue
		case now := <-tick:
			sl.mu.Lock()
			st.Dropped = sl.dropped - lastDropped
			lastDropped = sl.dropped
			sl.mu.Unlock()
			st.FPS = float64(st.Frames) / now.Sub(periodStart).Seconds()
			st.LatencyP50, st.LatencyP99 = percentile(lat, 0.5), percentile(lat, 0.99)
			st.Present = present
			s := st
			ev := Event{Kind: "stats", Time: now, Stats: &s}
			log.Info().Str("event", "stats").Uint64("frames", s.Frames).Float64("fps", math.Round(s.FPS*100)/100).
				Dur("latency_p50", s.LatencyP50).Dur("latency_p99", s.LatencyP99).Uint64("dropped", s.Dropped).
				Uint64("corrupt", s.Corrupt).Bool("cat", present).Msg("stats")
			if cfg.OnEvent != nil {
				cfg.OnEvent(ev)
			}
			st, lat, periodStart = Stats{}, lat[:0], now
			continue
		case <-sl.ready:
		}
		f := sl.take()
		if f == nil {
			continue
		}
		pc, err := pl.process(f)
		seq, captured := f.Seq, f.Time
		free <- f
		if err != nil {
			st.Corrupt++
			corrupt++
			log.Warn().Err(err).Uint64("frame", seq).Msg("frame skipped")
			continue
		}
		st.Frames++
		if len(lat) < cap(lat) {
			lat = append(lat, time.Since(captured))
		}
		thr = ctl.decisionThreshold(base)
		if pc >= thr {
			above, below = above+1, 0
		} else {
			above, below = 0, below+1
		}
		kind := ""
		switch {
		case !present && above >= cfg.OnFrames:
			present, kind = true, "cat_present"
		case present && below >= cfg.OffFrames:
			present, kind = false, "cat_gone"
		}
		ctl.record(pc, present)
		log.Debug().Uint64("frame", seq).Float32("p_cat", pc).Msg("frame")
		if kind != "" {
			ev := Event{Kind: kind, Time: time.Now(), Frame: seq, PCat: pc}
			log.Info().Str("event", kind).Uint64("frame", seq).Float32("p_cat", pc).Msg(kind)
			if cfg.OnEvent != nil {
				cfg.OnEvent(ev)
			}
		}
	}
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
	case camera.JPEG, camera.PNG:
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
