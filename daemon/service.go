package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"catd/camera"
	"catd/config"
	"catd/fswatch"
	"catd/hook"
	"catd/internal/regfile"
	"catd/learn"
	"catd/model"
	"catd/mqtt"
	"catd/preprocess"
	"catd/safetensors"
	"catd/serialctl"
	"catd/state"
	"catd/train"
	"catd/web"
)

// Options configure Run, catd's service: the pipeline plus everything
// around it (config file, state directory, snapshots, on_detect, serial
// console, checkpoints).
type Options struct {
	// Config is the validated config to start with.
	Config config.Config
	// ConfigPath, if set, is the file Config came from: it is watched, and
	// a valid change applies live; an invalid one is refused and logged.
	ConfigPath string
	// Override, if set, is applied to every config read from the file
	// (command-line flags win over the file).
	Override func(*config.Config)
	// StateDir holds checkpoints and snapshots (required).
	StateDir string
	// RuntimeDir holds status.json ("": StateDir).
	RuntimeDir string
	Version    string
	Log        zerolog.Logger
	// SetLogLevel, if set, applies log.level live.
	SetLogLevel func(zerolog.Level)
	Notify      Notifier
	Watchdog    time.Duration
	// Reload, if set, asks for the config file to be re-read (SIGHUP).
	Reload <-chan os.Signal
	// OpenSource opens a frame source (default camera.Open).
	OpenSource func(uri string, log zerolog.Logger) (camera.Source, error)
	// OnEvent, if set, receives every event.
	OnEvent func(Event)
	// Control, if set, is the pipeline's control (one is made otherwise).
	Control *Control
	// A source that cannot be opened at start (no camera yet) is retried
	// with backoff while catd runs ("waiting for camera"); WaitHint, if
	// set, is logged with the first failure (catd run on a terminal
	// suggests a source that needs no camera).
	WaitHint string
	// StallAfter is PipelineConfig.StallAfter (0: 30 s).
	StallAfter time.Duration
}

// loaded is a model in use: its master weights (what checkpoints hold and
// on-device learning will train) and the copy with batch norm folded that
// inference runs.
type loaded struct {
	master *model.Net
	info   model.Info
	infer  *model.Net
	name   string // for logs and status: the file, or "built-in default model"
	// builtin is set for the model built into catd, loaded as shipped
	// (not a checkpoint of it, not fine-tuned).
	builtin bool
	base    string // "sha256:…" of the model file the weights started from
	// anchor is the folded weights of that model file, for a checkpoint
	// (learning pulls toward them: learn.Config.Anchor); nil for the model
	// itself, whose own weights are the anchor.
	anchor []float32
	// anchorThreshold is that model file's decision threshold, for a
	// checkpoint: recalibrations start from it (learn.Config.ThresholdPrior).
	anchorThreshold float32
	// importance is the file whose values weigh the anchor's pull
	// parameter by parameter (learn.Config.Importance), checked: the
	// built-in model's, or the one next to the model file
	// (ImportancePath); nil for none. It is decoded for each learner
	// only, so that the values do not stay in memory twice.
	importance []byte
	train      *train.CheckpointState // the learning state a checkpoint holds, or nil
}

// service is Run's state.
type service struct {
	opt   Options
	log   zerolog.Logger
	ctl   *Control
	meter state.Meter

	updates chan Update
	detects chan detection

	// mu guards what apply changes.
	mu      sync.Mutex
	cfg     config.Config
	src     camera.Source
	console *consoleRun // the running console, or nil
	// lastConsole is the console started last, running or stopping: its
	// end is every console's end (see consoleRun.done).
	lastConsole *consoleRun
	ckptNow     chan time.Duration // new checkpoint period (the newest wins)
	// ctx is Run's, set before any goroutine starts: consoles started by
	// apply run under it, and it is done once the pipeline has stopped
	// taking updates (see update).
	ctx context.Context

	// Read without mu (the console's save must not wait for apply, which
	// may be stopping the console).
	model     atomic.Pointer[loaded]
	ckpts     atomic.Pointer[state.Checkpoints]
	consoleAt atomic.Pointer[serialctl.Console]

	snaps     atomic.Pointer[state.Snapshots]
	snapCfg   atomic.Pointer[config.Snapshots]
	hook      atomic.Pointer[hookSet]
	modelName atomic.Pointer[string]

	learning   *learning
	quant      *quantizer
	memory     *memoryGuard
	watcher    *fswatch.Watcher
	page       *web.Server // the web page (web.go)
	started    time.Time
	dirty      atomic.Bool // the weights changed since the last checkpoint
	checkpoint atomic.Pointer[string]
	cfgErr     atomic.Pointer[string]
	hooks      sync.WaitGroup // closing replaced hook runners
	mq         mqttState      // the MQTT client (mqtt.go)
	lock       *state.DirLock // on the state directory, from start until closeAll
}

// Run runs catd until ctx is cancelled: it loads the model (the newest
// valid checkpoint in the state directory made from the configured model,
// else the model itself), opens the source, runs the pipeline, and applies
// config changes live. It returns nil on a clean stop.
func Run(ctx context.Context, opt Options) error {
	if opt.StateDir == "" {
		return errors.New("daemon: no state directory")
	}
	if err := opt.Config.Validate(); err != nil {
		return err
	}
	if opt.OpenSource == nil {
		opt.OpenSource = func(uri string, log zerolog.Logger) (camera.Source, error) {
			return camera.Open(uri, camera.Options{Log: log})
		}
	}
	s := &service{opt: opt, log: opt.Log, ctl: opt.Control, cfg: opt.Config, started: time.Now(),
		updates: make(chan Update), detects: make(chan detection, 1), ckptNow: make(chan time.Duration, 1)}
	if s.ctl == nil {
		s.ctl = &Control{}
	}
	empty := ""
	s.checkpoint.Store(&empty)
	s.cfgErr.Store(&empty)
	if err := s.start(); err != nil {
		s.closeAll()
		return err
	}
	defer s.closeAll()
	if err := s.startLearning(); err != nil {
		return err
	}
	share := s.shareLabel
	s.learning.share.Store(&share)
	if m := s.resume(s.model.Load()); m != s.model.Load() {
		s.model.Store(m)
		s.setModelName(m.name)
		s.learning.model = m
	}
	s.learning.cfgs <- s.cfg.Learn
	s.quant = newQuantizer(s, s.log, s.cfg.Detect.Int8)
	s.memory = newMemoryGuard(s.log)
	s.memory.set(int64(s.cfg.MemoryLimit))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.ctx = ctx
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Add(2)
	go func() { defer wg.Done(); s.snapshotLoop(ctx) }()
	go func() { defer wg.Done(); s.checkpointLoop(ctx) }()
	s.learning.run(ctx, &wg)
	wg.Add(2)
	go func() { defer wg.Done(); s.quant.run(ctx) }()
	go func() { defer wg.Done(); s.memory.run(ctx, 5*time.Second) }()
	if err := s.watchConfig(ctx, &wg); err != nil {
		return err
	}
	s.startWeb(ctx, &wg)
	s.mu.Lock()
	if err := s.startConsole(ctx, s.cfg.Serial); err != nil {
		s.mu.Unlock()
		return err
	}
	mq, merr := s.newMQTT(s.cfg.MQTT)
	if merr != nil {
		s.mu.Unlock()
		return merr
	}
	s.startMQTT(ctx, mq, s.cfg.MQTT)
	pcfg := s.pipelineConfig()
	s.mu.Unlock()

	err := RunPipeline(ctx, pcfg, s.log)
	cancel() // updates sent from now on find ctx done (see update)
	wg.Wait()
	return s.shutdown(err)
}

// watchConfig starts the goroutines that re-read the config file: when
// it changes, and when Options.Reload says (SIGHUP). They end with ctx.
func (s *service) watchConfig(ctx context.Context, wg *sync.WaitGroup) error {
	opt := s.opt
	if opt.ConfigPath != "" {
		w, err := fswatch.New(opt.ConfigPath, fswatch.Options{MaxSize: config.MaxFileSize,
			Log: s.log.With().Str("config", opt.ConfigPath).Logger()})
		if err != nil {
			return fmt.Errorf("daemon: watch %s: %w", opt.ConfigPath, err)
		}
		s.watcher = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Run(ctx, func(data []byte, why string) { _ = s.reload(data, nil, why) }); err != nil {
				s.log.Error().Err(err).Msg("config file no longer watched")
			}
		}()
	}
	if opt.Reload != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-opt.Reload:
					_ = s.Reload() // logged, and kept in status.json if refused
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	return nil
}

// shutdown writes the shutdown checkpoint if the weights changed since the
// last one, logs the summary line and returns what Run returns: runErr,
// joined with the checkpoint's failure. A checkpoint that could not be
// written makes Run fail, so that catd exits with status 1 and systemd
// marks the unit failed: the weights learnt since the last checkpoint are
// lost, and the journal's last line from catd says why.
func (s *service) shutdown(runErr error) error {
	var saveErr error
	if s.dirty.Load() {
		if _, err := s.save("shutdown"); err != nil {
			saveErr = fmt.Errorf("daemon: shutdown checkpoint not written, the weights learnt since the last checkpoint are lost: %w", err)
		}
	}
	switch {
	case saveErr != nil:
		s.log.Error().Err(saveErr).AnErr("run_error", runErr).Int64("state_bytes_written", s.meter.Total()).
			Dur("uptime", time.Since(s.started)).Msg("stopped without the shutdown checkpoint")
	case runErr == nil:
		s.log.Info().Int64("state_bytes_written", s.meter.Total()).Dur("uptime", time.Since(s.started)).Msg("stopped")
	}
	if saveErr == nil {
		return runErr
	}
	return errors.Join(runErr, saveErr)
}

// start makes the state directory, loads the model and opens the source.
func (s *service) start() error {
	dir := s.opt.StateDir
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("daemon: state directory: %w", err)
	}
	// Before anything in it is touched: OpenCheckpoints removes temporary
	// files, which may be another catd's checkpoint being written.
	lock, err := state.LockDir(dir)
	if err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	s.lock = lock
	if rd := s.opt.RuntimeDir; rd != "" {
		// status.json's folder: systemd makes it (RuntimeDirectory=);
		// by hand, --runtime-dir may name one that does not exist yet.
		if err := os.MkdirAll(rd, 0o755); err != nil {
			return fmt.Errorf("daemon: runtime directory: %w", err)
		}
	}
	cp, err := state.OpenCheckpoints(filepath.Join(dir, "checkpoints"), s.cfg.Checkpoint.Keep, &s.meter)
	if err != nil {
		return err
	}
	s.ckpts.Store(cp)
	if stale, _ := cp.Stale(); len(stale) > 0 {
		s.log.Warn().Strs("files", stale).Msg("removed checkpoints left half-written by a crash")
	}
	if ignored := cp.Ignored(); len(ignored) > 0 {
		s.log.Warn().Strs("files", ignored).
			Msg("ignored files named like checkpoints but with sequence numbers catd never writes; they are not resumed from")
	}
	if err := s.openSnapshots(s.cfg.Snapshots); err != nil {
		return err
	}
	m, err := s.loadModel(s.cfg.Model)
	if err != nil {
		return err
	}
	s.model.Store(m) // resume, once the held-out labels are open, may replace it
	s.setModelName(m.name)
	if err := s.setHook(s.cfg.OnDetect); err != nil {
		return err
	}
	src, err := s.openOrWait(s.cfg.Source)
	if err != nil {
		return err
	}
	s.src = src
	s.log.Info().Str("model", m.name).Str("arch", m.info.Name).Str("state_dir", dir).
		Str("config", s.opt.ConfigPath).Msg("catd starting")
	return nil
}

// openOrWait opens the source at uri, or, if it cannot be opened now (no
// camera plugged in yet), returns a source that keeps trying. Only a URI
// that is wrong in itself is an error.
func (s *service) openOrWait(uri string) (camera.Source, error) {
	src, err := s.opt.OpenSource(uri, s.log) // the source names itself in its logs
	if err == nil {
		return src, nil
	}
	if cerr := camera.Check(uri); cerr != nil {
		return nil, err
	}
	open := func() (camera.Source, error) { return s.opt.OpenSource(uri, s.log) }
	return newWaitingSource(uri, open, err, s.opt.WaitHint, s.log), nil
}

// loadModel reads the model file at path ("": the built-in one) and checks
// it is a cat detector.
func (s *service) loadModel(path string) (*loaded, error) {
	var (
		data []byte
		name = path
		err  error
	)
	if path == "" {
		data, name = model.DefaultBytes(), "built-in default model"
	} else if data, err = readModel(path, model.MaxFileBytes); err != nil {
		return nil, fmt.Errorf("daemon: model: %w", err)
	}
	sum := sha256.Sum256(data)
	m, err := s.decode(data)
	if err != nil {
		return nil, fmt.Errorf("daemon: model %s: %w", name, err)
	}
	m.name, m.base, m.builtin = name, "sha256:"+hex.EncodeToString(sum[:]), path == ""
	imp, from, err := importanceFile(path, m.infer)
	switch {
	case err != nil:
		s.log.Warn().Err(err).Str("model", name).Msg("importance not used: learning pulls every weight alike toward the model's")
	case imp != nil:
		m.importance = imp
		s.log.Debug().Str("model", name).Str("importance", from).Msg("importance read")
	}
	return m, nil
}

// decode builds a loaded model from a model file's bytes.
func (s *service) decode(data []byte) (*loaded, error) {
	// The master copy is only saved (checkpoints, the save command); the
	// folded copy runs.
	master, info, st, err := train.DecodeCheckpoint(data, model.Options{MaxBatch: 1, WeightsOnly: true})
	if err != nil {
		return nil, err
	}
	infer, err := master.Folded(model.Options{MaxBatch: 1})
	if err != nil {
		return nil, err
	}
	if err := checkDetector(infer); err != nil {
		return nil, err
	}
	if err := probe(infer); err != nil {
		return nil, err
	}
	return &loaded{master: master, info: info, infer: infer, train: st}, nil
}

// baseKey is the model file metadata key naming the model a checkpoint's
// weights started from.
const baseKey = "catd_base"

// resume returns the newest valid checkpoint made from m, or m itself,
// saying which and why.
func (s *service) resume(m *loaded) *loaded {
	var got *loaded
	path, skipped, err := s.ckpts.Load().Load(func(path string, data []byte) error {
		c, err := s.decode(data)
		if err != nil {
			return err
		}
		if b := c.info.Extra[baseKey]; b != m.base {
			return fmt.Errorf("made from another model (%s, not %s)", short(b), short(m.base))
		}
		if err := s.vet(c, m); err != nil {
			return err
		}
		got = c
		return nil
	})
	for _, e := range skipped {
		s.log.Warn().Err(e).Msg("checkpoint not used")
	}
	if err != nil {
		if !errors.Is(err, state.ErrNoCheckpoint) {
			s.log.Warn().Err(err).Msg("checkpoints unreadable")
		}
		s.log.Info().Str("model", m.name).Msg("no checkpoint of this model: starting from the model itself")
		return m
	}
	got.name, got.base, got.anchor, got.anchorThreshold, got.importance = filepath.Base(path)+" (from "+m.name+")", m.base, m.infer.Params, m.info.Threshold, m.importance
	s.checkpoint.Store(&path)
	s.log.Info().Str("checkpoint", path).Str("model", m.name).Msg("resuming from checkpoint")
	return got
}

// Bounds of vet: a checkpoint's held-out loss may be at most
// vetLossFactor times its base model's plus vetLossSlack. Rounds are only
// accepted when they do better than the last accepted one, so an intact
// checkpoint is far inside them; labels added since it was written may
// move it a little.
const (
	vetLossFactor = 2
	vetLossSlack  = 0.5
	vetHeldOut    = 64  // held-out labels of each class vet reads at most
	vetMaxLogit   = 1e4 // a detector's logit beyond this is broken weights
)

// vet checks that c, decoded from a checkpoint of base (so already
// probed, see decode), does on the held-out labels not far worse than
// base. A checkpoint can pass its digest and the probe and still be
// poisoned: written from weights damaged in memory, or made elsewhere.
func (s *service) vet(c, base *loaded) error {
	if s.learning == nil {
		return nil
	}
	r := s.learning.replay
	lc, cats, nons, err := learn.HeldOutLoss(c.infer, c.info, r, vetHeldOut)
	if err != nil {
		return fmt.Errorf("held-out labels: %w", err)
	}
	if cats+nons == 0 {
		return nil // nothing to judge by
	}
	lb, _, _, err := learn.HeldOutLoss(base.infer, base.info, r, vetHeldOut)
	if err != nil {
		return fmt.Errorf("held-out labels: %w", err)
	}
	if !(lc <= vetLossFactor*lb+vetLossSlack) { // NaN fails too
		return fmt.Errorf("on %d held-out labels (%d cats) its loss is %.3g, against %.3g for the model it was made from: damaged or diverged",
			cats+nons, cats, lc, lb)
	}
	return nil
}

// probe runs n on a fixed set of images (flat grey, black, white, a
// gradient, noise) and returns an error if a logit is not finite or
// beyond vetMaxLogit.
func probe(n *model.Net) error {
	x := make([]float32, n.InputLen())
	r := rand.New(rand.NewPCG(7, 11))
	for i, fill := range []func(j int) float32{
		func(int) float32 { return 0 },
		func(int) float32 { return -2 },
		func(int) float32 { return 2 },
		func(j int) float32 { return 4*float32(j)/float32(len(x)) - 2 },
		func(int) float32 { return float32(r.NormFloat64()) },
	} {
		for j := range x {
			x[j] = fill(j)
		}
		z := n.Forward(x)[0]
		if math.IsNaN(float64(z)) || math.IsInf(float64(z), 0) || math.Abs(float64(z)) > vetMaxLogit {
			return fmt.Errorf("its score on probe image %d is %g, not a detector's: damaged weights", i, z)
		}
	}
	return nil
}

func short(h string) string {
	if len(h) > 19 {
		return h[:19]
	}
	return h
}

// readModel reads the model file at path, of at most max bytes. It does
// not wait on a named pipe (regfile.Open), and it checks the safetensors
// header before reading the rest, so that a file with a huge or broken
// header costs no more than the header's first bytes.
func readModel(path string, max int64) ([]byte, error) {
	f, st, err := regfile.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st.Size() > max {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d a model may have", path, st.Size(), max)
	}
	if _, err := safetensors.ReadIndex(f, st.Size()); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	data := make([]byte, st.Size())
	if _, err := f.ReadAt(data, 0); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, nil
}

// detectOf turns the config's detect section into the pipeline's.
func detectOf(c config.Config) *Detect {
	fit, _ := preprocess.ParseFit(c.Detect.Fit) // validated
	return &Detect{Threshold: float32(c.Detect.Threshold), OnFrames: c.Detect.OnFrames, OffFrames: c.Detect.OffFrames,
		Fit: fit, ROI: c.Detect.ROI}
}

// statsEvery is the pipeline's stats period for c (negative: off).
func statsEvery(c config.Config) time.Duration {
	if c.StatsEvery == 0 {
		return -1
	}
	return time.Duration(c.StatsEvery)
}

// pipelineConfig is the pipeline's first config; s.mu is held.
func (s *service) pipelineConfig() PipelineConfig {
	d := detectOf(s.cfg)
	m := s.model.Load()
	p := PipelineConfig{Source: s.src, Net: m.infer, Info: m.info, Threshold: d.Threshold,
		OnFrames: d.OnFrames, OffFrames: d.OffFrames, Fit: d.Fit, ROI: d.ROI, StatsEvery: statsEvery(s.cfg),
		Notify: s.opt.Notify, Watchdog: s.opt.Watchdog, Control: s.ctl, ModelName: m.name,
		Updates: s.updates, OnEvent: s.event, Status: s.status, OnDetect: s.detected, StallAfter: s.opt.StallAfter}
	p.OnFrame = func(f *camera.Frame, pix []uint8, pc, thr float32, kind EventKind) {
		s.quant.sample(pix)
		s.webFrame(f, pc, thr)
		if s.learning != nil {
			s.learning.onFrame(f, pix, pc, thr, kind)
		}
	}
	if s.cfg.Detect.Int8 {
		if q := builtin(m); q != nil {
			p.Int8, p.ModelName = q, int8Name(m.name)
			s.setModelName(p.ModelName)
		} else {
			s.quant.quantize(m)
		}
	}
	dir := s.opt.RuntimeDir
	if dir == "" {
		dir = s.opt.StateDir
	}
	p.StatusPath = filepath.Join(dir, "status.json")
	return p
}

// event logs nothing (the pipeline did) and passes ev on.
func (s *service) event(ev Event) {
	s.webEvent(ev)
	if c := s.consoleNow(); c != nil {
		forward(c, ev)
	}
	s.mqttEvent(ev)
	s.hookEvent(ev)
	if s.opt.OnEvent != nil {
		s.opt.OnEvent(ev)
	}
}

// emit logs a service event and passes it on.
func (s *service) emit(kind EventKind, msg string) {
	s.event(Event{Kind: kind, Time: time.Now(), Msg: msg})
}

// status adds the service's figures to status.json.
func (s *service) status(st *Status) {
	st.StateBytesWritten = s.meter.Total()
	if h := time.Since(s.started).Hours(); h > 0 {
		st.StateBytesPerHour = float64(st.StateBytesWritten) / h
	}
	if sn := s.snaps.Load(); sn != nil {
		st.Snapshots, st.SnapshotBytes = sn.Stats()
	}
	st.Checkpoint = *s.checkpoint.Load()
	st.Config = s.opt.ConfigPath
	st.ConfigError = *s.cfgErr.Load()
	st.Model = *s.modelName.Load()
	if s.learning != nil {
		s.learning.status(st)
	}
	s.mqttStatus(st)
}

func (s *service) setModelName(n string) { s.modelName.Store(&n) }

// The service's side of learning (learningHost) and of the quantizer
// (quantizerHost).

func (s *service) inUse() *loaded { return s.model.Load() }

func (s *service) pipeline() chan<- Update { return s.updates }

// learnt puts m, a model learning made, in use: checkpoints save it, and
// in int8 it is quantized again on the new weights.
func (s *service) learnt(m *loaded) {
	s.model.Store(m)
	s.setModelName(m.name)
	s.dirty.Store(true)
	if s.quant.on.Load() {
		s.quant.quantize(m) // re-quantized on the new weights
	}
}

func (s *service) labelImages(n int) [][]uint8 {
	if s.learning == nil {
		return nil
	}
	return s.learning.replay.Images(n)
}

var (
	_ learningHost  = (*service)(nil)
	_ quantizerHost = (*service)(nil)
)

// Reload re-reads the config file now and applies it (SIGHUP, the serial
// reload command), returning why it was refused. The file is read as at
// start (config.ReadFile): a named pipe, a device or a file over 1 MiB is
// refused at once, like a file that does not parse.
func (s *service) Reload() error {
	if s.opt.ConfigPath == "" {
		return errors.New("no config file: catd runs on its built-in defaults and flags")
	}
	data, err := config.ReadFile(s.opt.ConfigPath)
	return s.reload(data, err, "reload")
}

// reload applies the config file's new contents, or refuses them, or the
// error of reading them.
func (s *service) reload(data []byte, err error, why string) error {
	var nc config.Config
	if err == nil {
		nc, err = config.Parse(s.opt.ConfigPath, data)
	}
	if err == nil && s.opt.Override != nil {
		s.opt.Override(&nc)
		err = nc.Validate()
	}
	if err == nil {
		err = s.apply(nc, why)
	}
	if errors.Is(err, errStopped) {
		s.log.Info().Str("reason", why).Msg("config not applied: catd is stopping")
		return err
	}
	if err != nil {
		msg := err.Error()
		s.cfgErr.Store(&msg)
		s.log.Error().Err(err).Str("reason", why).Msg("config refused: catd keeps running on the last good config")
		s.emit(EventConfigRefused, strings.ReplaceAll(msg, "\n", "; "))
		return err
	}
	empty := ""
	s.cfgErr.Store(&empty)
	return nil
}

// apply makes nc the running config: every part that changed is prepared
// first (a new source opened, a new model loaded and checked); if any fails
// nothing changes. Then the pipeline takes its changes between two frames
// and the other parts are swapped.
func (s *service) apply(nc config.Config, why string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &change{cfg: nc, keys: config.Diff(s.cfg, nc)}
	if len(c.keys) == 0 {
		s.log.Info().Str("reason", why).Msg("config unchanged")
		return nil
	}
	if err := s.prepare(c); err != nil {
		return err
	}
	if err := s.updatePipeline(c); err != nil {
		if c.src != nil {
			c.src.Close()
		}
		return err
	}
	s.swapSource(c)
	s.swapModel(c)
	s.swapOutputs(c)
	s.reconfigureLearning(c)
	s.swapWeb(c)
	s.switchInt8(c)
	s.swapLogAndConsole(c)
	s.swapMQTT(c)
	s.cfg = nc
	s.log.Info().Strs("changed", c.keys).Str("reason", why).Msg("config applied")
	s.emit(EventConfigReloaded, strings.Join(c.keys, ","))
	return nil
}

// change is a config change on its way in: the new config, the keys that
// changed (config.Diff), and what prepare made ready for it.
type change struct {
	cfg  config.Config
	keys []string

	src camera.Source      // the new source, if source changed
	m   *loaded            // the new model, if model changed
	cp  *state.Checkpoints // checkpoints kept anew, if checkpoint.keep changed
	mq  *mqtt.Client       // the new MQTT client, if mqtt changed (nil: none)
}

// has reports whether the key prefix, or a key under it, changed.
func (c *change) has(prefix string) bool {
	for _, k := range c.keys {
		if k == prefix || strings.HasPrefix(k, prefix+".") {
			return true
		}
	}
	return false
}

// prepare opens, loads and checks what c needs, changing nothing in use;
// on failure it has kept nothing open.
func (s *service) prepare(c *change) error {
	nc := c.cfg
	var err error
	if c.has("model") {
		if c.m, err = s.loadModel(nc.Model); err != nil {
			return err
		}
	}
	if c.has("on_detect") && !nc.OnDetect.Command.IsZero() {
		if _, err = newRunner(nc.OnDetect, s.log); err != nil { // checked now, made again by swapOutputs
			return err
		}
	}
	if c.has("checkpoint.keep") {
		if c.cp, err = state.OpenCheckpoints(s.ckpts.Load().Dir(), nc.Checkpoint.Keep, &s.meter); err != nil {
			return err
		}
	}
	if c.has("mqtt") {
		if c.mq, err = s.newMQTT(nc.MQTT); err != nil {
			return err
		}
	}
	if c.has("source") {
		if c.src, err = s.opt.OpenSource(nc.Source, s.log); err != nil {
			return err
		}
	}
	return nil
}

// updatePipeline hands the pipeline its part of c, all at once.
func (s *service) updatePipeline(c *change) error {
	u := Update{Source: c.src}
	if c.m != nil {
		u.Net, u.Info, u.ModelName = c.m.infer, c.m.info, c.m.name
	}
	if c.has("detect") || c.m != nil {
		u.Detect = detectOf(c.cfg)
	}
	if c.has("stats_every") {
		u.StatsEvery = statsEvery(c.cfg)
	}
	if u.Source == nil && u.Net == nil && u.Detect == nil && u.StatsEvery == 0 {
		return nil
	}
	return s.update(u)
}

// swapSource closes the old source once the pipeline reads the new one.
func (s *service) swapSource(c *change) {
	if c.src == nil {
		return
	}
	if err := s.src.Close(); err != nil {
		s.log.Warn().Err(err).Msg("closing the old source")
	}
	s.src = c.src
}

// swapModel puts the new model, if any, in use, and ends a runtime
// threshold override when the detect section changed.
func (s *service) swapModel(c *change) {
	if c.has("detect") {
		s.ctl.SetThreshold(0) // a runtime override lasts until the next config change
	}
	if m := c.m; m != nil {
		s.model.Store(m)
		s.setModelName(m.name)
		s.dirty.Store(false)
		s.log.Info().Str("model", m.name).Msg("model loaded")
	}
}

// swapOutputs applies what changed of on_detect, snapshots, checkpoints
// and the memory limit.
func (s *service) swapOutputs(c *change) {
	nc := c.cfg
	if c.has("on_detect") {
		if err := s.setHook(nc.OnDetect); err != nil {
			s.log.Error().Err(err).Msg("on_detect") // checked by prepare; a race with the file system
		}
	}
	if c.has("snapshots") {
		if err := s.openSnapshots(nc.Snapshots); err != nil {
			s.log.Error().Err(err).Msg("snapshots: keeping the old settings")
		}
	}
	if c.cp != nil {
		s.ckpts.Store(c.cp)
	}
	if c.has("memory_limit") {
		s.memory.set(int64(nc.MemoryLimit))
	}
	if c.has("checkpoint.every") {
		putNewest(s.ckptNow, time.Duration(nc.Checkpoint.Every))
	}
}

// reconfigureLearning hands on-device learning its new settings and
// model.
func (s *service) reconfigureLearning(c *change) {
	l := s.learning
	if l == nil {
		return
	}
	if c.has("learn") {
		putNewest(l.cfgs, c.cfg.Learn)
	}
	if c.has("review") {
		rc := c.cfg.Review
		l.reviewCfg.Store(&rc)
		if sn, err := state.OpenSnapshots(l.reviewDir.Load().Dir(), rc.MaxCount, int64(rc.MaxBytes), &s.meter); err == nil {
			l.reviewDir.Store(sn)
		}
	}
	if c.m != nil {
		putNewest(l.models, c.m)
	}
}

// switchInt8 runs the model in use in int8 or back in float32 when
// detect.int8 changed, and has a new model quantized when int8 is on.
func (s *service) switchInt8(c *change) {
	on := c.cfg.Detect.Int8
	if !c.has("detect.int8") && (c.m == nil || !on) {
		return
	}
	s.quant.on.Store(on)
	cur := s.model.Load()
	switch {
	case !on: // back to float32
		if err := s.update(Update{Net: cur.infer, Info: cur.info, ModelName: cur.name}); err != nil {
			s.log.Warn().Err(err).Msg("int8 off: the pipeline runs on as it was")
		} else {
			s.setModelName(cur.name)
		}
	case builtin(cur) != nil:
		q := builtin(cur)
		if err := s.update(Update{Net: cur.infer, Info: cur.info, ModelName: int8Name(cur.name), Int8: q}); err != nil {
			s.log.Warn().Err(err).Msg("int8 on: the pipeline runs on as it was")
		} else {
			s.setModelName(int8Name(cur.name))
		}
	default:
		s.quant.quantize(cur)
	}
}

// swapLogAndConsole applies the log level and restarts the serial console
// on its new settings.
func (s *service) swapLogAndConsole(c *change) {
	if c.has("log") && s.opt.SetLogLevel != nil {
		if lvl, err := zerolog.ParseLevel(c.cfg.Log.Level); err == nil {
			s.opt.SetLogLevel(lvl)
		}
	}
	if c.has("serial") {
		s.stopConsole()
		if err := s.startConsole(s.ctx, c.cfg.Serial); err != nil {
			s.log.Error().Err(err).Msg("serial console not restarted")
		}
	}
}

// errStopped is why a change did not reach the pipeline.
var errStopped = errors.New("daemon: stopping: the pipeline takes no more changes")

// update hands u to the pipeline and returns once it applies, with the
// pipeline's answer; or errStopped, without waiting, once the pipeline has
// stopped (Run's context is done). u.Done is set here. A pipeline that
// took u always answers it, so only the send needs to watch for the stop.
func (s *service) update(u Update) error {
	done := make(chan error, 1)
	u.Done = done
	select {
	case s.updates <- u:
		return <-done
	case <-s.ctx.Done():
		return errStopped
	}
}

// putNewest puts v in ch, a channel with room for one value, replacing the
// value waiting there if any: the newest wins. It never blocks, whether or
// not the receiver still runs and however many senders race it.
func putNewest[T any](ch chan T, v T) {
	for {
		select {
		case ch <- v:
			return
		default:
		}
		select {
		case <-ch:
		default:
		}
	}
}

// newRunner makes the on_detect runner of c.
func newRunner(c config.OnDetect, log zerolog.Logger) (*hook.Runner, error) {
	o := hook.Options{Timeout: time.Duration(c.Timeout), MinInterval: time.Duration(c.MinInterval), Env: c.Env,
		Log: log.With().Str("component", "on_detect").Logger()}
	if c.Command.Shell != "" {
		o.Shell = c.Command.Shell
	} else {
		o.Argv = c.Command.Argv
	}
	r, err := hook.New(o)
	if err != nil {
		return nil, fmt.Errorf("daemon: on_detect: %w", err)
	}
	return r, nil
}

// setHook replaces the on_detect runners; the old ones finish their runs
// in the background.
func (s *service) setHook(c config.OnDetect) error {
	r, err := newHookSet(c, s.log)
	if err != nil {
		return err
	}
	if old := s.hook.Swap(r); old != nil {
		s.hooks.Add(1)
		go func() { defer s.hooks.Done(); old.Close() }()
	}
	return nil
}

// openSnapshots applies the snapshots section.
func (s *service) openSnapshots(c config.Snapshots) error {
	sn, err := state.OpenSnapshots(filepath.Join(s.opt.StateDir, "snapshots"), c.MaxCount, int64(c.MaxBytes), &s.meter)
	if err != nil {
		return err
	}
	if stale, _ := sn.Stale(); len(stale) > 0 {
		s.log.Warn().Strs("files", stale).Msg("removed snapshots left half-written by a crash")
	}
	s.snaps.Store(sn)
	s.snapCfg.Store(&c)
	return nil
}

// closeAll releases what Run holds; Run's context is done, if it was made.
func (s *service) closeAll() {
	s.waitConsoles()
	s.waitMQTT()
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.hook.Swap(nil); r != nil {
		r.Close()
	}
	s.hooks.Wait()
	if s.src != nil {
		s.src.Close()
	}
	if s.learning != nil {
		s.learning.replay.Close()
	}
	// Last: Run has saved its shutdown checkpoint and every goroutine
	// that writes into the state directory has returned.
	if err := s.lock.Unlock(); err != nil {
		s.log.Warn().Err(err).Msg("state directory lock")
	}
}

// save writes a checkpoint of the master weights now.
func (s *service) save(why string) (string, error) {
	m, cp := s.model.Load(), s.ckpts.Load()
	var data []byte
	if l := s.learning; l != nil && l.ckpt.Load() != nil {
		data = *l.ckpt.Load() // the last accepted round, with its optimizer state
	} else {
		info := m.info
		info.Extra = make(map[string]string, len(m.info.Extra)+1)
		for k, v := range m.info.Extra {
			info.Extra[k] = v
		}
		info.Extra[baseKey] = m.base
		var err error
		if data, err = m.master.Bytes(info); err != nil {
			return "", err
		}
	}
	path, err := cp.Save(data)
	if err != nil {
		s.log.Error().Err(err).Msg("checkpoint not written")
		s.emit(EventError, "checkpoint: "+err.Error())
		return "", err
	}
	s.dirty.Store(false)
	s.checkpoint.Store(&path)
	s.log.Info().Str("checkpoint", path).Int("bytes", len(data)).Str("reason", why).Msg("checkpoint written")
	s.emit(EventCheckpoint, path)
	return path, nil
}

// checkpointLoop writes a checkpoint every checkpoint.every when the
// weights changed (on-device learning changes them).
func (s *service) checkpointLoop(ctx context.Context) {
	s.mu.Lock()
	every := time.Duration(s.cfg.Checkpoint.Every)
	s.mu.Unlock()
	if crashTestEvery > 0 {
		every = crashTestEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case d := <-s.ckptNow:
			t.Reset(d)
		case <-t.C:
			if s.dirty.Load() || crashTestEvery > 0 {
				s.save("periodic")
			}
		}
	}
}

// crashTestEvery, set only by the crash test, makes the checkpoint loop
// write a checkpoint that often, changed weights or not.
var crashTestEvery time.Duration

// Console commands (serialctl.Handler).

// Status is one line: the decision, the latest p(cat), frames, the
// threshold in force, and learning (on or off, labels, rounds).
func (s *service) Status() string {
	sn := s.ctl.Snapshot()
	line := fmt.Sprintf("cat=%v p=%.3f frames=%d threshold=%.3f", sn.Present, sn.PCat, sn.Frames, sn.Threshold)
	if l := s.learning; l != nil {
		var st Status
		l.status(&st)
		line += fmt.Sprintf(" learning=%s labels_cat=%d labels_noncat=%d rounds=%d accepted=%d", st.Learning,
			st.LabelsCat, st.LabelsNonCat, st.Rounds, st.RoundsAccepted)
	}
	return line
}

// Version is catd's version and architecture, and the model in use.
func (s *service) Version() string {
	return fmt.Sprintf("catd %s %s model %s", s.opt.Version, runtime.GOARCH, *s.modelName.Load())
}

func (s *service) SetThreshold(x float64) error {
	s.ctl.SetThreshold(float32(x))
	return nil
}

func (s *service) Label(class, frame string) (string, error) { return s.learning.Label(class, frame) }

// Learn turns training on or off until the next change of the learn
// section or restart.
func (s *service) Learn(on bool) error {
	s.learning.enabled.Store(on)
	if on {
		select {
		case s.learning.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

func (s *service) Save() error {
	_, err := s.save("command")
	return err
}

// serialctl.Handler is what the console needs of the service.
var _ serialctl.Handler = (*service)(nil)
