package daemon

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/jpeg"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"catd/camera"
	"catd/model"
)

// scriptSource plays a fixed list of frames (bright = 1 for a "cat"
// frame, 0 for a dark one, -1 for a corrupt JPEG) as fast as the pipeline
// takes them, then returns io.EOF.
type scriptSource struct {
	mu     sync.Mutex
	frames []int
	pos    int
	gate   chan struct{} // if non-nil, each frame waits for a token
}

func (s *scriptSource) Next(ctx context.Context, f *camera.Frame) error {
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pos >= len(s.frames) {
		<-ctx.Done() // a real camera keeps running; wait for the end
		return ctx.Err()
	}
	v := s.frames[s.pos]
	s.pos++
	f.Seq, f.Time = uint64(s.pos), time.Now()
	if v < 0 {
		f.Format, f.Data = camera.JPEG, append(f.Data[:0], 0xff, 0xd8, 0xff, 0x00, 0x12)
		return nil
	}
	f.Format, f.W, f.H, f.Stride = camera.RGB24, 16, 12, 48
	f.Data = f.Data[:0]
	for range 16 * 12 * 3 {
		f.Data = append(f.Data, uint8(20+200*v))
	}
	return nil
}

func (s *scriptSource) Close() error   { return nil }
func (s *scriptSource) String() string { return "script:" }

// brightnessNet is a model whose p(cat) rises with the mean brightness:
// logit = 4*(sum of normalised channel means), about +-8 for white/black.
func brightnessNet(t *testing.T) (*model.Net, model.Info) {
	a, err := model.ParseArch("input 3x8x8; gap; flatten; dense 1")
	if err != nil {
		t.Fatal(err)
	}
	n, err := model.New(a, model.Options{MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	copy(n.Params, []float32{4, 4, 4, 0})
	info := model.DefaultInfo(a, "")
	info.Mean = []float32{0.5, 0.5, 0.5}
	info.Std = []float32{0.25, 0.25, 0.25}
	return n, info
}

// collect runs the daemon on frames until it has seen want events of the
// given kinds (or a timeout) and returns them.
func collect(t *testing.T, src camera.Source, cfg PipelineConfig, until func([]Event) bool) []Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var (
		mu     sync.Mutex
		events []Event
	)
	cfg.Source = src
	cfg.OnEvent = func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, e)
		if until(events) {
			cancel()
		}
	}
	if err := RunPipeline(ctx, cfg, zerolog.Nop()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("timed out with events %+v", events)
	}
	mu.Lock()
	defer mu.Unlock()
	return events
}

// feed sends n tokens on gate, every gap, until stop is closed.
func feed(gate chan<- struct{}, n int, gap time.Duration, stop <-chan struct{}) {
	for range n {
		select {
		case gate <- struct{}{}:
		case <-stop:
			return
		}
		select {
		case <-time.After(gap):
		case <-stop:
			return
		}
	}
}

func kinds(evs []Event) []EventKind {
	var k []EventKind
	for _, e := range evs {
		if e.Kind != EventStats {
			k = append(k, e.Kind)
		}
	}
	return k
}

func TestHysteresis(t *testing.T) {
	t.Parallel()
	net, info := brightnessNet(t)
	// One bright frame alone is not a cat; two are. Two dark frames do not
	// clear it; three do.
	// In a synctest bubble the 20 ms between frames pass only once the
	// pipeline has taken the last one: one frame at a time, none dropped,
	// however busy the machine.
	var evs []Event
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		src := &scriptSource{frames: []int{1, 0, 1, 1, 0, 0, 1, 0, 0, 0}, gate: gate}
		stop := make(chan struct{})
		go feed(gate, 10, 20*time.Millisecond, stop)
		evs = collect(t, src, PipelineConfig{Net: net, Info: info, OnFrames: 2, OffFrames: 3, StatsEvery: -1},
			func(evs []Event) bool { return len(kinds(evs)) == 2 })
		close(stop)
	})
	got := kinds(evs)
	if len(got) != 2 || got[0] != EventCatPresent || got[1] != EventCatGone {
		t.Fatalf("events %v, want cat_present then cat_gone", got)
	}
	if evs[0].Frame != 4 || evs[1].Frame != 10 {
		t.Errorf("cat_present at frame %d (want 4), cat_gone at frame %d (want 10)", evs[0].Frame, evs[1].Frame)
	}
	if evs[0].PCat < 0.99 || evs[1].PCat > 0.01 {
		t.Errorf("p(cat) %v and %v, want near 1 and 0", evs[0].PCat, evs[1].PCat)
	}
}

func TestCorruptFramesAreSkipped(t *testing.T) {
	t.Parallel()
	net, info := brightnessNet(t)
	// Frames 20 ms apart and stats every 300 ms, in a synctest bubble's time.
	var evs []Event
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		src := &scriptSource{frames: []int{-1, 1, -1, 1, 1}, gate: gate}
		stop := make(chan struct{})
		go feed(gate, 5, 20*time.Millisecond, stop)
		evs = collect(t, src, PipelineConfig{Net: net, Info: info, OnFrames: 2, StatsEvery: 300 * time.Millisecond},
			func(evs []Event) bool {
				for _, e := range evs {
					if e.Kind == EventStats && e.Stats.Corrupt > 0 {
						return true
					}
				}
				return false
			})
		close(stop)
	})
	var present bool
	for _, e := range evs {
		if e.Kind == EventCatPresent {
			present = true
		}
		if e.Kind == EventStats && e.Stats.Corrupt > 0 && e.Stats.Corrupt != 2 {
			t.Errorf("stats count %d corrupt frames, want 2", e.Stats.Corrupt)
		}
	}
	if !present {
		t.Error("the corrupt frames stopped the cat frames after them from being seen")
	}
}

// TestLatestFrameWins checks that a fast source does not queue frames:
// inference sees the newest, and the rest are counted as dropped.
func TestLatestFrameWins(t *testing.T) {
	net, info := brightnessNet(t)
	frames := make([]int, 3000)
	src := &scriptSource{frames: frames}
	evs := collect(t, src, PipelineConfig{Net: net, Info: info, StatsEvery: 200 * time.Millisecond},
		func(evs []Event) bool { return len(evs) >= 1 && evs[len(evs)-1].Kind == EventStats })
	st := evs[len(evs)-1].Stats
	if st.Frames == 0 || st.Frames+st.Dropped < 100 {
		t.Errorf("stats %+v: want frames inferred and the backlog dropped", st)
	}
}

func TestJPEGFramesAndThreshold(t *testing.T) {
	net, info := brightnessNet(t)
	var buf bytes.Buffer
	img := image.NewGray(image.Rect(0, 0, 40, 30))
	for i := range img.Pix {
		img.Pix[i] = 140 // p(cat) about 0.91
	}
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	src := &jpegSource{data: buf.Bytes()}
	// With the threshold above p(cat) the frames are no cat; at 0.5 they are.
	evs := collect(t, src, PipelineConfig{Net: net, Info: info, Threshold: 0.95, StatsEvery: 200 * time.Millisecond},
		func(evs []Event) bool {
			return len(evs) > 0 && evs[len(evs)-1].Kind == EventStats && evs[len(evs)-1].Stats.Frames > 0
		})
	if k := kinds(evs); len(k) != 0 {
		t.Errorf("events %v with a threshold above every p(cat)", k)
	}
	evs = collect(t, &jpegSource{data: buf.Bytes()}, PipelineConfig{Net: net, Info: info, StatsEvery: -1},
		func(evs []Event) bool { return len(kinds(evs)) > 0 })
	if k := kinds(evs); k[0] != EventCatPresent {
		t.Errorf("events %v for bright JPEG frames, want cat_present", k)
	}
}

type jpegSource struct {
	data []byte
	seq  uint64
}

func (s *jpegSource) Next(ctx context.Context, f *camera.Frame) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(5 * time.Millisecond):
	}
	s.seq++
	f.Seq, f.Time, f.Format = s.seq, time.Now(), camera.JPEG
	f.Data = append(f.Data[:0], s.data...)
	return nil
}

func (s *jpegSource) Close() error   { return nil }
func (s *jpegSource) String() string { return "jpeg:" }

type failingSource struct{}

func (failingSource) Next(ctx context.Context, f *camera.Frame) error { return io.ErrUnexpectedEOF }
func (failingSource) Close() error                                    { return nil }
func (failingSource) String() string                                  { return "failing:" }

func TestSourceErrorEndsRun(t *testing.T) {
	net, info := brightnessNet(t)
	err := RunPipeline(context.Background(), PipelineConfig{Source: failingSource{}, Net: net, Info: info}, zerolog.Nop())
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Run returned %v, want the source's error", err)
	}
}

func TestRejectsClassifierModels(t *testing.T) {
	a, _ := model.ParseArch("input 3x8x8; gap; flatten; dense 4")
	n, _ := model.New(a, model.Options{MaxBatch: 1})
	err := RunPipeline(context.Background(), PipelineConfig{Source: failingSource{}, Net: n, Info: model.DefaultInfo(a, "")}, zerolog.Nop())
	if err == nil {
		t.Fatal("a 4-class classifier was accepted as a cat detector")
	}
}

func TestInferenceAllocatesNothingPerRawFrame(t *testing.T) {
	net, info := brightnessNet(t)
	src := &scriptSource{frames: []int{1}}
	f := &camera.Frame{}
	if err := src.Next(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	p := newStage(net, info, Detect{}, 0)
	p.process(f) // plans the resize for this frame size
	if a := testing.AllocsPerRun(20, func() { p.process(f) }); a != 0 {
		t.Errorf("a raw frame costs %v allocations", a)
	}
}

type recordingNotifier struct {
	mu   sync.Mutex
	msgs []string
}

func (r *recordingNotifier) add(m string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	return nil
}
func (r *recordingNotifier) Ready() error    { return r.add("READY") }
func (r *recordingNotifier) Watchdog() error { return r.add("WATCHDOG") }
func (r *recordingNotifier) Stopping() error { return r.add("STOPPING") }
func (r *recordingNotifier) Status(msg string) error {
	return r.add("STATUS=" + msg)
}

func TestServiceManagerNotifications(t *testing.T) {
	net, info := brightnessNet(t)
	n := &recordingNotifier{}
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	err := RunPipeline(ctx, PipelineConfig{Source: gated(ctx, []int{1, 1, 1}), Net: net, Info: info, StatsEvery: 100 * time.Millisecond,
		Notify: n, Watchdog: 50 * time.Millisecond}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.msgs) < 4 || n.msgs[0] != "READY" || n.msgs[len(n.msgs)-1] != "STOPPING" {
		t.Fatalf("notifications %v, want READY first and STOPPING last", n.msgs)
	}
	var pings, present, stats int
	for _, m := range n.msgs {
		switch {
		case m == "WATCHDOG":
			pings++
		case strings.HasPrefix(m, "STATUS="):
			stats++
			if strings.HasPrefix(m, "STATUS=cat present, p(cat) 1.00") && strings.Contains(m, "frames/s") {
				present++
			}
		}
	}
	if pings < 2 || present < 1 || stats < 3 {
		t.Errorf("notifications %v: want WATCHDOG pings, a STATUS= on the detection and with each stats period", n.msgs)
	}
}

func TestControlOverridesThreshold(t *testing.T) {
	net, info := brightnessNet(t)
	var buf bytes.Buffer
	img := image.NewGray(image.Rect(0, 0, 40, 30))
	for i := range img.Pix {
		img.Pix[i] = 140 // p(cat) about 0.91
	}
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	ctl := &Control{}
	ctl.SetThreshold(0.95)
	evs := collect(t, &jpegSource{data: buf.Bytes()}, PipelineConfig{Net: net, Info: info, StatsEvery: 100 * time.Millisecond, Control: ctl},
		func(evs []Event) bool {
			if ctl.Snapshot().Frames > 3 {
				ctl.SetThreshold(0) // back to the model's 0.5: a cat
			}
			return len(kinds(evs)) > 0
		})
	if k := kinds(evs); k[0] != EventCatPresent {
		t.Fatalf("events %v", k)
	}
	s := ctl.Snapshot()
	if !s.Present || s.Threshold != 0.5 || s.PCat < 0.85 || s.Frames < 4 {
		t.Errorf("snapshot %+v", s)
	}
}

// gated returns a source that plays frames one at a time, 20 ms apart, so
// none is dropped.
func gated(ctx context.Context, frames []int) *scriptSource {
	gate := make(chan struct{})
	go func() {
		for range frames {
			select {
			case gate <- struct{}{}:
			case <-ctx.Done():
				return
			}
			time.Sleep(20 * time.Millisecond) // a camera's frame pacing
		}
	}()
	return &scriptSource{frames: frames, gate: gate}
}

func TestStatusFile(t *testing.T) {
	net, info := brightnessNet(t)
	path := filepath.Join(t.TempDir(), "status.json")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- RunPipeline(ctx, PipelineConfig{Source: gated(ctx, []int{1, 1, 1, 1, -1}), Net: net, Info: info,
			StatsEvery: -1, StatusPath: path, StatusWrite: 20 * time.Millisecond, ModelName: "bright"}, zerolog.Nop())
	}()
	var s *Status
	for {
		var err error
		// 4 good frames and a corrupt one; a slow machine may drop some
		// (the latest frame wins), which status.json counts too.
		if s, err = ReadStatus(path); err == nil && s.Frames+s.Corrupt+s.Dropped == 5 && s.Frames > 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("status never accounted for the 5 frames: %+v", s)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if !s.Cat || s.PCat < 0.99 || s.Threshold != 0.5 || s.Model != "bright" || s.Source != "script:" || s.State != "watching" {
		t.Errorf("status %+v", s)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("status.json left behind after Run: %v", err)
	}
}

func TestStatusWriteFailureKeepsRunning(t *testing.T) {
	net, info := brightnessNet(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	evs := collect(t, gated(ctx, []int{1, 1, 1}), PipelineConfig{Net: net, Info: info, StatsEvery: -1,
		StatusPath: "/nonexistent/dir/status.json", StatusWrite: 10 * time.Millisecond},
		func(evs []Event) bool { return len(kinds(evs)) > 0 })
	if kinds(evs)[0] != EventCatPresent {
		t.Errorf("events %v", kinds(evs))
	}
}

// TestFPSWindow: the status rate covers the last five updates, so that a
// slow camera's rate does not jump between 2 and 3 frames a second.
func TestFPSWindow(t *testing.T) {
	var w fpsWindow
	t0 := time.Unix(1000, 0)
	if got := w.add(t0, 0); got != 0 {
		t.Fatalf("first sample: %v", got)
	}
	// 2.5 frames/s, counted once a second: 2, 3, 2, 3, ...
	frames := uint64(0)
	var got float64
	for i := 1; i <= 20; i++ {
		frames += uint64(2 + i%2)
		got = w.add(t0.Add(time.Duration(i)*time.Second), frames)
		if i >= 5 && (got < 2.39 || got > 2.61) {
			t.Fatalf("after %d s: %.2f frames/s, want 2.4..2.6", i, got)
		}
	}
	// Ten seconds without a frame: 10 frames (those after 16 s) in 14 s.
	if got := w.add(t0.Add(30*time.Second), frames); math.Abs(got-10.0/14) > 1e-9 {
		t.Fatalf("after a stall: %.3f frames/s, want %.3f", got, 10.0/14)
	}
}
