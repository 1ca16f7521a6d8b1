package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"catd/camera"
	"catd/config"
	"catd/state"

	"catd/internal/testwait"
)

// serviceRig runs the service on a config file in a temporary folder, with
// the brightness model and sources named "dark" and "bright" (any other URI
// opens with camera.Open).
type serviceRig struct {
	t        *testing.T
	dir      string
	cfgPath  string
	model    string
	ctl      *Control
	events   chan Event
	logs     *syncBuffer
	done     chan error
	cancel   context.CancelFunc
	reload   chan os.Signal
	sourcesM sync.Mutex
	opened   []string
	stopped  bool
	// "file:/fake/gated" opens as "file:/fake/bright" once gate is
	// closed, having said on opening that it started.
	opening chan string
	gate    chan struct{}
	gated   []*steadySource
	// override, if set, is Options.Override.
	override func(*config.Config)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newRig(t *testing.T) *serviceRig {
	t.Helper()
	dir := t.TempDir()
	net, info := brightnessNet(t)
	r := &serviceRig{t: t, dir: dir, cfgPath: filepath.Join(dir, "catd.yaml"), model: filepath.Join(dir, "bright.safetensors"),
		ctl: &Control{}, events: make(chan Event, 1000), logs: &syncBuffer{}, done: make(chan error, 1),
		reload: make(chan os.Signal, 1), opening: make(chan string, 1), gate: make(chan struct{})}
	if err := net.WriteFile(r.model, info); err != nil {
		t.Fatal(err)
	}
	return r
}

// noWeb turns the web page off in a config that does not set it: the
// default listens on the machine's port 8787, which tests must not take.
func noWeb(yaml string) string {
	if strings.Contains(yaml, "http:") {
		return yaml
	}
	return yaml + "\nhttp:\n  listen: \"\"\n"
}

func (r *serviceRig) write(yaml string) {
	r.t.Helper()
	tmp := r.cfgPath + ".new"
	if err := os.WriteFile(tmp, []byte(noWeb(yaml)), 0o644); err != nil {
		r.t.Fatal(err)
	}
	if err := os.Rename(tmp, r.cfgPath); err != nil { // as editors save
		r.t.Fatal(err)
	}
}

func (r *serviceRig) start(yaml string) {
	r.t.Helper()
	r.launch(yaml)
	r.frames(3)
}

// launch starts the service on yaml without waiting for frames.
func (r *serviceRig) launch(yaml string) {
	r.t.Helper()
	r.write(yaml)
	cfg, _, err := config.Load(r.cfgPath)
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	r.cancel = cancel
	opt := Options{Config: cfg, ConfigPath: r.cfgPath, StateDir: filepath.Join(r.dir, "state"), Version: "test",
		Log: zerolog.New(r.logs), Control: r.ctl, Reload: r.reload, Override: r.override,
		OnEvent: func(ev Event) {
			select {
			case r.events <- ev:
			default:
			}
		},
		OpenSource: func(uri string, log zerolog.Logger) (camera.Source, error) {
			r.sourcesM.Lock()
			r.opened = append(r.opened, uri)
			r.sourcesM.Unlock()
			switch uri {
			case "file:/fake/dark":
				return &steadySource{name: uri, pix: 20}, nil
			case "file:/fake/bright":
				return &steadySource{name: uri, pix: 140}, nil
			case "file:/fake/gated":
				r.opening <- uri
				<-r.gate
				src := &steadySource{name: uri, pix: 140}
				r.sourcesM.Lock()
				r.gated = append(r.gated, src)
				r.sourcesM.Unlock()
				return src, nil
			}
			return camera.Open(uri, camera.Options{Log: log})
		}}
	go func() { r.done <- Run(ctx, opt) }()
	r.t.Cleanup(func() {
		if err := r.stop(); err != nil {
			r.t.Error(err)
		}
	})
}

// stop cancels Run and returns its error (once; later calls return nil).
func (r *serviceRig) stop() error {
	if r.stopped {
		return nil
	}
	r.stopped = true
	r.cancel()
	select {
	case err := <-r.done:
		return err
	case <-time.After(10 * time.Second):
		return errors.New("Run did not return")
	}
}

// frames waits for n more frames.
func (r *serviceRig) frames(n uint64) {
	r.t.Helper()
	start := r.ctl.Snapshot().Frames
	if !testwait.Until(15*time.Second, func() bool {
		select {
		case err := <-r.done:
			r.t.Fatalf("Run returned %v\n%s", err, r.logs.String())
		default:
		}
		return r.ctl.Snapshot().Frames >= start+n
	}) {
		r.t.Fatalf("fewer than %d frames\n%s", n, r.logs.String())
	}
}

// event waits for an event of kind and returns it.
func (r *serviceRig) event(kind EventKind) Event {
	r.t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case ev := <-r.events:
			if ev.Kind == kind {
				return ev
			}
		case <-timeout:
			r.t.Fatalf("no %s event\n%s", kind, r.logs.String())
		}
	}
}

// status waits until status.json satisfies ok, and returns it; after 10 s
// it returns what it last read.
func (r *serviceRig) status(ok func(*Status) bool) *Status {
	r.t.Helper()
	var (
		s   *Status
		err error
	)
	if testwait.Until(10*time.Second, func() bool {
		s, err = ReadStatus(filepath.Join(r.dir, "state", "status.json"))
		return err == nil && ok(s)
	}) {
		return s
	}
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

func TestServiceAppliesConfigLive(t *testing.T) {
	r := newRig(t)
	r.start(fmt.Sprintf("source: file:/fake/dark\nmodel: %s\n", r.model))
	if r.ctl.Snapshot().Present {
		t.Fatal("a cat in the dark")
	}

	// A broken edit is refused with file, line and key; frames go on.
	r.write(fmt.Sprintf("source: file:/fake/dark\nmodel: %s\ndetect:\n  threshold: 7\n", r.model))
	ev := r.event(EventConfigRefused)
	if want := r.cfgPath + ":4: detect.threshold"; !strings.Contains(ev.Msg, want) {
		t.Errorf("refusal %q does not say %q", ev.Msg, want)
	}
	r.frames(3)

	// A valid edit: the source changes (a cat appears), then the threshold.
	r.write(fmt.Sprintf("source: file:/fake/bright\nmodel: %s\n", r.model))
	if ev := r.event(EventConfigReloaded); ev.Msg != "source" {
		t.Errorf("changed %q, want source", ev.Msg)
	}
	r.event(EventCatPresent)
	r.write(fmt.Sprintf("source: file:/fake/bright\nmodel: %s\ndetect:\n  threshold: 0.95\n  off_frames: 2\n", r.model))
	if ev := r.event(EventConfigReloaded); ev.Msg != "detect.threshold,detect.off_frames" {
		t.Errorf("changed %q", ev.Msg)
	}
	r.event(EventCatGone)
	if thr := r.ctl.Snapshot().Threshold; thr != 0.95 {
		t.Errorf("threshold %v", thr)
	}

	// A model that cannot be loaded is refused; the old one keeps running.
	r.write("source: file:/fake/bright\nmodel: /nonexistent/model.safetensors\n")
	if ev := r.event(EventConfigRefused); !strings.Contains(ev.Msg, "/nonexistent/model.safetensors") {
		t.Errorf("refusal %q does not name the model", ev.Msg)
	}
	// A source that cannot be opened likewise (a folder under a file:
	// dir: makes a missing folder, but not there).
	badDir := r.model + "/folder"
	r.write(fmt.Sprintf("source: dir:%s\nmodel: %s\n", badDir, r.model))
	r.event(EventConfigRefused)
	r.frames(3)
	st := r.status(func(s *Status) bool { return strings.Contains(s.ConfigError, badDir) })
	if st.Source != "file:/fake/bright" || !strings.Contains(st.ConfigError, badDir) {
		t.Errorf("status: source %q, config error %q", st.Source, st.ConfigError)
	}

	// SIGHUP re-reads the file: fixed now, it applies.
	if err := os.WriteFile(r.cfgPath, []byte(noWeb(fmt.Sprintf("source: file:/fake/dark\nmodel: %s\n", r.model))), 0o644); err != nil {
		t.Fatal(err)
	}
	r.reload <- os.Interrupt // any signal value: the channel is SIGHUP's
	r.event(EventConfigReloaded)
	r.frames(3)
	if ctlThr := r.ctl.Snapshot().Threshold; ctlThr != 0.5 {
		t.Errorf("threshold %v after the detect section went back to defaults, want the model's 0.5", ctlThr)
	}
	r.sourcesM.Lock()
	defer r.sourcesM.Unlock()
	if got := strings.Join(r.opened, " "); got != "file:/fake/dark file:/fake/bright dir:"+badDir+" file:/fake/dark" {
		t.Errorf("sources opened: %s", got)
	}
}

// A reload still opening its new source when Run is cancelled finds the
// pipeline gone: it must give up, close what it opened, and let Run return.
func TestReloadRacingShutdown(t *testing.T) {
	r := newRig(t)
	r.start(fmt.Sprintf("source: file:/fake/dark\nmodel: %s\n", r.model))
	r.write(fmt.Sprintf("source: file:/fake/gated\nmodel: %s\n", r.model))
	select {
	case <-r.opening:
	case <-time.After(10 * time.Second):
		t.Fatalf("the reload did not open the new source\n%s", r.logs.String())
	}
	r.cancel()
	status := filepath.Join(r.dir, "state", "status.json")
	testwait.For(t, "the pipeline to stop (status.json removed)", func() bool {
		_, err := os.Stat(status)
		return errors.Is(err, os.ErrNotExist)
	})
	close(r.gate) // the reload goes on, with no pipeline to take its source
	r.stopped = true
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(time.Second):
		t.Fatalf("Run did not return within 1 s of the reload going on\n%s", r.logs.String())
	}
	r.sourcesM.Lock()
	defer r.sourcesM.Unlock()
	for _, src := range r.gated {
		src.mu.Lock()
		closed := src.closed
		src.mu.Unlock()
		if !closed {
			t.Errorf("the source the reload opened, %s, was not closed", src.name)
		}
	}
}

func TestSnapshotAndOnDetect(t *testing.T) {
	r := newRig(t)
	envFile := filepath.Join(r.dir, "env.txt")
	// Of catd's environment the command gets what on_detect.env names.
	t.Setenv("CATD_TEST_PASSED", "yes")
	t.Setenv("CATD_TEST_SECRET", "hunter2")
	r.start(fmt.Sprintf("source: file:/fake/bright\nmodel: %s\non_detect:\n  command: 'env | grep ^CATD_ | sort > %s'\n  env: [CATD_TEST_PASSED]\n",
		r.model, envFile))
	ev := r.event(EventCatPresent)
	var env string
	testwait.Until(10*time.Second, func() bool {
		b, err := os.ReadFile(envFile)
		if err == nil && bytes.Contains(b, []byte("CATD_TIME")) {
			env = string(b)
		}
		return env != ""
	})
	if env == "" {
		t.Fatalf("on_detect did not run\n%s", r.logs.String())
	}
	vars := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(env), "\n") {
		k, v, _ := strings.Cut(l, "=")
		vars[k] = v
	}
	if vars["CATD_EVENT"] != "cat_present" || vars["CATD_FRAME"] != fmt.Sprint(ev.Frame) ||
		vars["CATD_P_CAT"] != fmt.Sprintf("%.4f", ev.PCat) || vars["CATD_MODEL"] != r.model {
		t.Errorf("environment %v for event %+v", vars, ev)
	}
	if _, ok := vars["CATD_TEST_SECRET"]; ok || vars["CATD_TEST_PASSED"] != "yes" {
		t.Errorf("environment %v: want CATD_TEST_PASSED (named in on_detect.env) and not CATD_TEST_SECRET", vars)
	}
	snap := vars["CATD_SNAPSHOT"]
	if filepath.Dir(snap) != filepath.Join(r.dir, "state", "snapshots") || !strings.HasSuffix(snap, ".jpg") {
		t.Fatalf("snapshot %q", snap)
	}
	b, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() != 8 || img.Bounds().Dy() != 8 {
		t.Errorf("snapshot of %v, want the 8x8 frame", img.Bounds())
	}
	if cr, _, _, _ := img.At(4, 4).RGBA(); cr>>8 < 130 || cr>>8 > 150 {
		t.Errorf("snapshot pixel red %d, want about 140", cr>>8)
	}
	if st := r.status(func(s *Status) bool { return s.Snapshots > 0 }); st.Snapshots != 1 || st.StateBytesWritten < int64(len(b)) {
		t.Errorf("status: %d snapshots, %d bytes written", st.Snapshots, st.StateBytesWritten)
	}
}

// invertedCheckpoint saves, in the rig's checkpoint folder, a first
// generation fine-tuned from the rig's model: inverted, it sees cats in
// the dark. It returns the checkpoints, the model and the generation.
func invertedCheckpoint(t *testing.T, r *serviceRig) (*state.Checkpoints, *loaded, []byte) {
	t.Helper()
	s := &service{}
	base, err := s.loadModel(r.model)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := state.OpenCheckpoints(filepath.Join(r.dir, "state", "checkpoints"), 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	inv := *base
	inv.master.Params[0], inv.master.Params[1], inv.master.Params[2] = -4, -4, -4
	inv.info.Extra = map[string]string{baseKey: base.base}
	good, err := inv.master.Bytes(inv.info)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cp.Save(good); err != nil {
		t.Fatal(err)
	}
	return cp, &inv, good
}

func TestServiceResumesFromCheckpoint(t *testing.T) {
	r := newRig(t)
	modelBytes, err := os.ReadFile(r.model)
	if err != nil {
		t.Fatal(err)
	}
	cp, inv, _ := invertedCheckpoint(t, r)
	// Generation 2: from another model. Generation 3: truncated.
	other := *inv
	other.info.Extra = map[string]string{baseKey: "sha256:0123"}
	otherBytes, _ := other.master.Bytes(other.info)
	cp.Save(otherBytes)
	newest, _ := cp.Save(modelBytes[:len(modelBytes)/2])

	r.start(fmt.Sprintf("source: file:/fake/dark\nmodel: %s\n", r.model))
	r.event(EventCatPresent) // the inverted checkpoint is in use
	logs := r.logs.String()
	for _, want := range []string{filepath.Base(newest), "made from another model", "resuming from checkpoint"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log does not say %q:\n%s", want, logs)
		}
	}
	if st := r.status(func(s *Status) bool { return s.Model != "" }); !strings.Contains(st.Model, "checkpoint-00000001") {
		t.Errorf("status model %q", st.Model)
	}
}
