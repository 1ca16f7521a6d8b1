package web

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"catd/camera"
	"catd/serialctl"
)

// fakeHost is a Host over temporary folders; its commands go through the
// serial console's parser and Execute, to a handler that records them.
type fakeHost struct {
	dir    string // state directory: review/, snapshots/, labels/, status.json
	config string

	mu      sync.Mutex
	status  []byte
	roi     image.Rectangle
	rounds  []Round
	handled []string // commands run, as "label cat NAME"
}

func newFakeHost(t *testing.T) *fakeHost {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"review", "snapshots", "labels/cat", "labels/noncat"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o750); err != nil {
			t.Fatal(err)
		}
	}
	h := &fakeHost{dir: dir, status: []byte(`{"state":"watching","cat":true,"p_cat":0.875,"threshold":0.5,"fps":9.5,` +
		`"frames":1234,"dropped":3,"corrupt":1,"learning":"on","state_bytes_written":4096,"snapshots":2,` +
		`"snapshot_bytes":2048,"labels_cat":7,"labels_noncat":9,"rounds":5,"rounds_accepted":2,"held_out_auc":0.91,` +
		`"review_frames":1,"replay_bytes":100,"optimizer_state_bytes":200,"train_workspace_bytes":300}`)}
	return h
}

func (h *fakeHost) Status() ([]byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.status == nil {
		return nil, errors.New("no status.json")
	}
	return h.status, nil
}

func (h *fakeHost) Command(line string) (string, error) {
	cmd, err := serialctl.ParseCommand(line)
	if err != nil {
		return "", err
	}
	text, _, err := serialctl.Execute(fakeConsole{h}, cmd)
	return text, err
}

func (h *fakeHost) JPEG(f *camera.Frame) ([]byte, error) {
	if f.Format == camera.JPEG {
		return f.Data, nil
	}
	return nil, fmt.Errorf("fake: format %v", f.Format)
}

func (h *fakeHost) ROI() image.Rectangle {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.roi
}

func (h *fakeHost) ReviewDir() string   { return filepath.Join(h.dir, "review") }
func (h *fakeHost) SnapshotDir() string { return filepath.Join(h.dir, "snapshots") }
func (h *fakeHost) ConfigPath() string  { return h.config }

func (h *fakeHost) DeleteSnapshot(name string) error {
	return os.Remove(filepath.Join(h.SnapshotDir(), name))
}

func (h *fakeHost) Rounds(dst []Round) []Round {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append(dst, h.rounds...)
}

// fakeConsole is the serial console's handler of fakeHost: what the
// commands reach.
type fakeConsole struct{ *fakeHost }

func (fakeConsole) Status() string { return "fake" }

func (h *fakeHost) record(s string) {
	h.mu.Lock()
	h.handled = append(h.handled, s)
	h.mu.Unlock()
}

func (h *fakeHost) commands() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.handled...)
}

func (h fakeConsole) Version() string { return "fake" }
func (h fakeConsole) Reload() error   { h.record("reload"); return nil }
func (h fakeConsole) Save() error     { h.record("save"); return nil }
func (h fakeConsole) SetThreshold(x float64) error {
	h.record(fmt.Sprintf("threshold %g", x))
	return nil
}
func (h fakeConsole) Learn(on bool) error {
	h.record(fmt.Sprintf("learn %v", on))
	return nil
}

// Label moves a review frame into labels/CLASS, as the daemon does, and
// answers as it does.
func (h fakeConsole) Label(class, frame string) (string, error) {
	h.record("label " + class + " " + frame)
	if frame == "" {
		return "labelled frame 7, the latest (p(cat) 0.500), " + class, nil
	}
	if err := os.Rename(filepath.Join(h.ReviewDir(), frame), filepath.Join(h.dir, "labels", class, frame)); err != nil {
		return "", err
	}
	return "labelled review frame " + frame + " " + class, nil
}

// testJPEG is a small JPEG of one colour.
func testJPEG(t testing.TB, w, h int, c color.RGBA) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, 255
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// cameraFrameAt is a frame captured a tenth of a second before the test
// servers' clock.
var cameraFrameAt = camera.Frame{Seq: 1, Format: camera.JPEG, Time: time.Date(2026, 12, 7, 7, 59, 59, 900e6, time.UTC)}
