package daemon

import (
	"context"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"catd/camera"
	"catd/internal/testwait"
)

// writeBrightJPEG writes a bright 32x24 JPEG to path atomically (a
// temporary name, renamed), making its folder.
func writeBrightJPEG(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	img := image.NewRGBA(image.Rect(0, 0, 32, 24))
	for y := range 24 {
		for x := range 32 {
			img.Set(x, y, color.RGBA{230, 230, 230, 255})
		}
	}
	tmp := filepath.Join(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	f, err := os.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if err := jpeg.Encode(f, img, nil); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestServiceWaitsForTheCamera: a camera that is not there at start (a
// file: source whose file appears later, as a device node appears when a
// camera is plugged in) does not stop catd: it runs, says "waiting for
// camera" in its log and status.json, and watches once the camera is there.
func TestServiceWaitsForTheCamera(t *testing.T) {
	r := newRig(t)
	cam := filepath.Join(r.dir, "cam", "frame.jpg")
	r.launch("model: " + r.model + "\nsource: file:" + cam + "?fps=20\nstats_every: 0\n")
	st := r.status(func(s *Status) bool { return s.State == StateWaitingCamera })
	if st.State != StateWaitingCamera || !strings.Contains(st.CameraError, "frame.jpg") || st.Frames != 0 {
		t.Fatalf("status before the camera: %+v", st)
	}
	writeBrightJPEG(t, cam)
	r.frames(3)
	st = r.status(func(s *Status) bool { return s.State == StateWatching && s.Cat })
	if st.State != StateWatching || st.CameraError != "" || !st.Cat {
		t.Fatalf("status once the camera is there: %+v", st)
	}
	logs := r.logs.String()
	if !strings.Contains(logs, `"message":"waiting for camera"`) || !strings.Contains(logs, "camera found: watching") {
		t.Errorf("the log does not tell the wait:\n%s", logs)
	}
}

// TestServiceMakesTheDirFolder: a dir: folder that does not exist (the
// guide's dir:/var/lib/catd/incoming) is made, and images dropped into it
// are judged.
func TestServiceMakesTheDirFolder(t *testing.T) {
	r := newRig(t)
	incoming := filepath.Join(r.dir, "state", "incoming")
	r.launch("model: " + r.model + "\nsource: dir:" + incoming + "?settle=20ms\nstats_every: 0\n")
	st := r.status(func(s *Status) bool { return s.State == StateWatching })
	if st.State != StateWatching {
		t.Fatalf("status: %+v", st)
	}
	writeBrightJPEG(t, filepath.Join(incoming, "a.jpg"))
	r.frames(1)
	if !testwait.Until(5*time.Second, func() bool { _, err := os.Stat(filepath.Join(incoming, "a.jpg")); return os.IsNotExist(err) }) {
		t.Errorf("the frame read was not removed from %s", incoming)
	}
}

// TestStalledCameraClearsTheCat: a camera that stops delivering frames
// clears a cat reported present (cat_gone, "camera stalled") and
// status.json says so, until frames come again.
func TestStalledCameraClearsTheCat(t *testing.T) {
	net, info := brightnessNet(t)
	path := filepath.Join(t.TempDir(), "status.json")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	gate := make(chan struct{})
	frames := make([]int, 1000)
	for i := range frames {
		frames[i] = 1
	}
	src := &scriptSource{frames: frames, gate: gate}
	var (
		mu  sync.Mutex
		evs []Event
	)
	events := func() []Event {
		mu.Lock()
		defer mu.Unlock()
		return append([]Event(nil), evs...)
	}
	done := make(chan error, 1)
	go func() {
		done <- RunPipeline(ctx, PipelineConfig{Source: src, Net: net, Info: info, StatsEvery: -1, StatusPath: path,
			StatusWrite: 20 * time.Millisecond, StallAfter: 300 * time.Millisecond,
			OnEvent: func(e Event) { mu.Lock(); evs = append(evs, e); mu.Unlock() }}, zerolog.Nop())
	}()
	stop := make(chan struct{})
	feed(gate, 3, 20*time.Millisecond, stop)
	if !testwait.Until(10*time.Second, func() bool {
		k := kinds(events())
		return len(k) == 2 && k[1] == EventCatGone
	}) {
		t.Fatalf("events %+v, want cat_present then cat_gone once frames stop", events())
	}
	gone := events()[1]
	if gone.Msg != StateStalled {
		t.Errorf("cat_gone %+v, want Msg %q", gone, StateStalled)
	}
	var s *Status
	if !testwait.Until(5*time.Second, func() bool {
		var err error
		s, err = ReadStatus(path)
		return err == nil && s.State == StateStalled
	}) || s.Cat {
		t.Fatalf("status while stalled: %+v", s)
	}
	// Frames come again, and keep coming: on a loaded machine the slot
	// may drop some, and a few frames followed by silence would stall
	// the camera again before the cat is back.
	go feed(gate, 900, 20*time.Millisecond, stop)
	if !testwait.Until(10*time.Second, func() bool {
		var err error
		s, err = ReadStatus(path)
		return err == nil && s.State == StateWatching && s.Cat
	}) {
		t.Fatalf("status once frames come again: %+v", s)
	}
	if k := kinds(events()); len(k) != 3 || k[2] != EventCatPresent {
		t.Errorf("events %v, want the cat back", k)
	}
	close(stop)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestWaitingSourceTellsTheServiceManager: while the camera is not there,
// systemctl status says "waiting for camera" with the reason; once it is,
// the usual line.
func TestWaitingSourceTellsTheServiceManager(t *testing.T) {
	net, info := brightnessNet(t)
	var plugged atomic.Bool
	open := func() (camera.Source, error) {
		if !plugged.Load() {
			return nil, errors.New("open /dev/video0: no such file or directory")
		}
		return &steadySource{name: "v4l2:/dev/video0", pix: 140}, nil
	}
	_, err := open()
	src := newWaitingSource("v4l2:/dev/video0", open, err, "", zerolog.Nop())
	defer src.Close()
	n := &recordingNotifier{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- RunPipeline(ctx, PipelineConfig{Source: src, Net: net, Info: info, StatsEvery: -1, Notify: n,
			StallAfter: 100 * time.Millisecond}, zerolog.Nop())
	}()
	sent := func(prefix string) bool {
		n.mu.Lock()
		defer n.mu.Unlock()
		for _, m := range n.msgs {
			if strings.HasPrefix(m, prefix) {
				return true
			}
		}
		return false
	}
	testwait.For(t, "STATUS=waiting for camera", func() bool {
		return sent("STATUS=waiting for camera: open /dev/video0: no such file or directory")
	})
	plugged.Store(true)
	testwait.For(t, "STATUS= with frames", func() bool { return sent("STATUS=no cat, ") || sent("STATUS=cat present, ") })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestWaitingSourceClose: Close ends a Next that waits for the camera.
func TestWaitingSourceClose(t *testing.T) {
	open := func() (camera.Source, error) { return nil, errors.New("no camera") }
	src := newWaitingSource("late", open, errors.New("no camera"), "", zerolog.Nop())
	errc := make(chan error, 1)
	go func() { errc <- src.Next(context.Background(), &camera.Frame{}) }()
	time.Sleep(20 * time.Millisecond) // Next is waiting (or about to)
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, camera.ErrClosed) {
			t.Errorf("Next after Close: %v, want camera.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Next still waiting after Close")
	}
	if src.Waiting() == "" {
		t.Error("a source never opened says it is not waiting")
	}
}

// FuzzReviewPCat: a review frame name never yields a p(cat) outside
// [0, 1].
func FuzzReviewPCat(f *testing.F) {
	f.Add("20261127T031500.123Z-f000001234-p0.93.jpg")
	f.Add("x-p-1.jpg")
	f.Add("-p")
	f.Fuzz(func(t *testing.T, name string) {
		if p, ok := reviewPCat(name); ok && !(p >= 0 && p <= 1) {
			t.Fatalf("reviewPCat(%q) = %v", name, p)
		}
	})
}
