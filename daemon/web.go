package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	"catd/camera"
	"catd/learn"
	"catd/preprocess"
	"catd/serialctl"
	"catd/web"
)

// startWeb makes the web page's server and runs it under ctx (it serves
// as the http section says; web.Server.Run retries a failing server and
// never stops Run).
func (s *service) startWeb(ctx context.Context, wg *sync.WaitGroup) {
	s.page = web.New(web.Options{Host: &webHost{s: s}, StateDir: s.opt.StateDir,
		Log: s.log.With().Str("component", "web").Logger()})
	s.page.Apply(s.cfg.HTTP)
	wg.Add(1)
	go func() { defer wg.Done(); s.page.Run(ctx) }()
}

// swapWeb hands the page its new http section.
func (s *service) swapWeb(c *change) {
	if c.has("http") && s.page != nil {
		s.page.Apply(c.cfg.HTTP)
	}
}

// webFrame offers each judged frame to the page (its live view and
// latency histogram); it allocates nothing.
func (s *service) webFrame(f *camera.Frame, pc, thr float32) {
	if s.page != nil {
		s.page.Frame(f, pc, thr, s.ctl.present.Load())
	}
}

// webEvent passes ev on to the page's event stream.
func (s *service) webEvent(ev Event) {
	if s.page == nil {
		return
	}
	we := web.Event{Kind: string(ev.Kind), Time: ev.Time, Frame: ev.Frame, Msg: ev.Msg}
	if ev.Kind == EventCatPresent || ev.Kind == EventCatGone {
		p := float32(finite(float64(ev.PCat)))
		we.PCat = &p
	}
	if st := ev.Stats; st != nil {
		we.Stats = map[string]any{"fps": math.Round(finite(st.FPS)*100) / 100, "frames": st.Frames, "dropped": st.Dropped,
			"corrupt": st.Corrupt, "p50_ms": float64(st.LatencyP50.Microseconds()) / 1e3,
			"p99_ms": float64(st.LatencyP99.Microseconds()) / 1e3, "cat": st.Present}
	}
	s.page.Event(we)
}

// webHost is the service as the page sees it (web.Host).
type webHost struct {
	s    *service
	live liveEncoder
}

var _ web.Host = (*webHost)(nil)

func (h *webHost) statusPath() string {
	dir := h.s.opt.RuntimeDir
	if dir == "" {
		dir = h.s.opt.StateDir
	}
	return filepath.Join(dir, "status.json")
}

// Status is status.json as last written.
func (h *webHost) Status() ([]byte, error) { return os.ReadFile(h.statusPath()) }

// Command runs a console command line as the serial console does.
func (h *webHost) Command(line string) (string, error) {
	cmd, err := serialctl.ParseCommand(line)
	if err != nil {
		return "", err
	}
	h.s.log.Info().Stringer("command", cmd.Op).Str("from", "web").Msg("web command")
	text, _, err := serialctl.Execute(h.s, cmd)
	if err != nil {
		h.s.log.Warn().Err(err).Stringer("command", cmd.Op).Msg("web command failed")
	}
	return text, err
}

// JPEG encodes a live frame (web.Server calls it from one goroutine).
func (h *webHost) JPEG(f *camera.Frame) ([]byte, error) { return h.live.encode(f) }

// liveEncoder turns raw frames into JPEG files for the live view, scaled
// down to at most liveWidth pixels wide (encoding costs by the pixel: a
// 640x480 frame takes 4 times a 320x240 one, about 46 ms against 10 on
// this machine's cores, BenchmarkLiveEncoder), with buffers kept from one
// frame to the next (a frame of the same size allocates only its JPEG
// bytes). JPEG frames pass through unchanged: they cost nothing to show.
type liveEncoder struct {
	mu   sync.Mutex
	w, h int
	rz   *preprocess.Resizer
	pix  []uint8
	rgba *image.RGBA
	buf  bytes.Buffer
}

// liveQuality is the JPEG quality of live frames, and liveWidth their
// largest width in pixels: enough to aim a camera and draw a region, at
// two frames a second, for about 2% of a core.
const (
	liveQuality = 75
	liveWidth   = 320
)

func (e *liveEncoder) encode(f *camera.Frame) ([]byte, error) {
	switch f.Format {
	case camera.JPEG:
		return f.Data, nil
	case camera.PNG:
		return snapshotJPEG(f)
	}
	if f.W <= 0 || f.H <= 0 {
		return nil, fmt.Errorf("daemon: live view of a %dx%d frame", f.W, f.H)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if f.W != e.w || f.H != e.h {
		e.w, e.h = f.W, f.H
		w := min(f.W, liveWidth)
		h := max(1, f.H*w/f.W)
		e.rz = preprocess.NewResizer(w, h, preprocess.Options{Fit: preprocess.Stretch})
		e.pix = make([]uint8, e.rz.OutLen())
		e.rgba = image.NewRGBA(image.Rect(0, 0, w, h))
	}
	if err := toInput(e.rz, e.pix, f, nil, 0); err != nil {
		return nil, err
	}
	for i, j := 0, 0; i < len(e.pix); i, j = i+3, j+4 {
		e.rgba.Pix[j], e.rgba.Pix[j+1], e.rgba.Pix[j+2], e.rgba.Pix[j+3] = e.pix[i], e.pix[i+1], e.pix[i+2], 0xff
	}
	e.buf.Reset()
	if err := jpeg.Encode(&e.buf, e.rgba, &jpeg.Options{Quality: liveQuality}); err != nil {
		return nil, err
	}
	return bytes.Clone(e.buf.Bytes()), nil
}

func (h *webHost) ROI() image.Rectangle {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	return h.s.cfg.Detect.ROI
}

func (h *webHost) ReviewDir() string {
	if l := h.s.learning; l != nil {
		return l.reviewDir.Load().Dir()
	}
	return filepath.Join(h.s.opt.StateDir, "review")
}

func (h *webHost) SnapshotDir() string { return filepath.Join(h.s.opt.StateDir, "snapshots") }

func (h *webHost) DeleteSnapshot(name string) error {
	sn := h.s.snaps.Load()
	if sn == nil {
		return errors.New("no snapshots")
	}
	return sn.Delete(name)
}

func (h *webHost) ConfigPath() string { return h.s.opt.ConfigPath }

func (h *webHost) Rounds(dst []web.Round) []web.Round {
	if l := h.s.learning; l != nil {
		return l.history.appendTo(dst)
	}
	return dst
}

// maxRounds is how many learning rounds the chart keeps, the newest.
const maxRounds = 500

// roundLog keeps the latest learning rounds for the page's chart.
type roundLog struct {
	mu     sync.Mutex
	rounds []web.Round // oldest first, at most maxRounds
}

// add records a round that ran.
func (r *roundLog) add(res learn.Result, at time.Time) {
	opt := func(v float64) *float64 {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
		return &v
	}
	wr := web.Round{Time: at, Accepted: res.Accepted, ValLoss: opt(res.ValLoss), ValAUC: opt(res.ValAUC),
		Steps: res.Steps, Reason: res.Reason}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.rounds) == maxRounds {
		r.rounds = append(r.rounds[:0], r.rounds[1:]...)
	}
	r.rounds = append(r.rounds, wr)
}

func (r *roundLog) appendTo(dst []web.Round) []web.Round {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append(dst, r.rounds...)
}
