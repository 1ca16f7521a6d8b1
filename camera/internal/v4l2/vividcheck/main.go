//go:build linux

// Command vividcheck captures frames from the kernel's virtual camera
// driver vivid through catd's own v4l2: source (camera.Open) and checks
// them: the size and bytes per line the driver negotiated, the length of
// each frame, its sequence number and time, and its picture, which must be
// vivid's 75% colour bar pattern after catd's preprocessing to RGB. It is
// the payload of make test-v4l2, which runs it as the only program in a
// VM (arm64 and amd64) with vivid loaded; it needs a vivid capture node
// with a webcam input (single-planar).
//
// For each case (a pixel format and a frame size asked for) it prints one
// line,
//
//	V4L2CHECK format=yuyv asked=640x480 size=640x480 stride=1280 bytes=614400 frames=30 gaps=0 fps=25.0 bars=ok maxdev=3 (white=190,190,190 ...)
//
// (gaps: frames the driver dropped while the checker was busy, which is
// allowed; fps: the driver's frame rate, from sequence numbers and
// timestamps; maxdev: the largest difference of a bar's colour from the
// expected one, in 8-bit levels; then the bars' colours in the first frame)
// or a line starting "V4L2CHECK FAIL", and at the end "V4L2CHECK OK" when
// every case passed (exit status 0), else "V4L2CHECK FAIL" and status 1.
// catd's log goes to stderr.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unsafe"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"catd/camera"
	"catd/camera/internal/v4l2"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stdout, "V4L2CHECK FAIL %v\n", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stdout, "V4L2CHECK OK")
}

// testCase is one capture: a format and the frame size asked for, and
// the size vivid's webcam input must set (it has discrete sizes, 320×180,
// 640×360, 640×480, 1280×720, 1920×1080 and 3840×2160, and takes the
// nearest one).
type testCase struct {
	format       camera.Format
	askW, askH   int
	wantW, wantH int
}

var cases = []testCase{
	{camera.YUYV, 640, 480, 640, 480},
	{camera.I420, 640, 480, 640, 480},
	{camera.NV12, 640, 480, 640, 480},
	{camera.RGB24, 640, 480, 640, 480},
	{camera.Gray8, 640, 480, 640, 480},
	{camera.YUYV, 641, 479, 640, 480}, // adjusted by the driver
	{camera.NV12, 330, 190, 320, 180},
}

// layout returns the Frame.Stride and len(Frame.Data) catd must deliver
// for a w×h frame of format f: rows without padding, chroma planes of
// ⌈w/2⌉×⌈h/2⌉ for I420 and NV12.
func layout(f camera.Format, w, h int) (stride, size int) {
	switch f {
	case camera.YUYV:
		return 2 * w, 2 * w * h
	case camera.RGB24:
		return 3 * w, 3 * w * h
	case camera.I420, camera.NV12:
		return w, w*h + 2*((w+1)/2)*((h+1)/2)
	}
	return w, w * h
}

// vivid's private control "OSD Text Mode" (VIVID_CID_OSD_TEXT_MODE in
// drivers/media/test-drivers/vivid/vivid-ctrls.c; menu All, Counters Only,
// None) and VIDIOC_S_CTRL, _IOWR('V', 28, struct v4l2_control).
const (
	vividCIDOSDTextMode = 0x00f0f000 + 1
	osdTextNone         = 2
	vidiocSCtrl         = 3<<30 | 8<<16 | 'V'<<8 | 28
)

// v4l2Control is struct v4l2_control.
type v4l2Control struct {
	ID    uint32
	Value int32
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := pflag.NewFlagSet("vividcheck", pflag.ContinueOnError)
	device := fs.String("device", "/dev/video0", "the vivid capture node")
	frames := fs.Int("frames", 30, "frames to capture in each case")
	fps := fs.Float64("fps", 30, "frame rate to ask for, in Hz")
	timeout := fs.Duration("timeout", 60*time.Second, "longest time for one case")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *frames < 2 {
		return fmt.Errorf("--frames=%d: need at least 2", *frames)
	}
	osdOff, err := prepare(stdout, *device)
	if err != nil {
		return err
	}
	// Without the text overlay every row shows the bars; with it (if the
	// control could not be set) the top of the frame has text, and only
	// the lower half is checked.
	firstRow := 0
	if !osdOff {
		firstRow = gridH / 2
	}
	log := zerolog.New(stderr).With().Timestamp().Logger()
	bc := newBarChecker()
	failed := 0
	for _, c := range cases {
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		line, err := capture(ctx, c, *device, *frames, *fps, firstRow, bc, log)
		cancel()
		if err != nil {
			failed++
			fmt.Fprintf(stdout, "V4L2CHECK FAIL format=%s asked=%dx%d: %v\n", c.format, c.askW, c.askH, err)
			continue
		}
		fmt.Fprintln(stdout, "V4L2CHECK "+line)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d cases failed", failed, len(cases))
	}
	return nil
}

// prepare prints what the driver is and offers, and turns vivid's text
// overlay off. It reports whether that worked.
func prepare(stdout io.Writer, path string) (osdOff bool, err error) {
	dev, err := v4l2.Open(path)
	if err != nil {
		return false, err
	}
	defer dev.Close()
	var vc v4l2.Capability
	if err := dev.Ioctl(v4l2.VIDIOC_QUERYCAP, unsafe.Pointer(&vc)); err != nil {
		return false, fmt.Errorf("%s: VIDIOC_QUERYCAP: %w", path, err)
	}
	var names []string
	for _, pf := range v4l2.Formats(dev) {
		names = append(names, v4l2.FourCC(pf))
	}
	ctl := v4l2Control{ID: vividCIDOSDTextMode, Value: osdTextNone}
	osd := "off"
	if err := dev.Ioctl(vidiocSCtrl, unsafe.Pointer(&ctl)); err != nil {
		osd = "on (VIDIOC_S_CTRL: " + err.Error() + "; checking the lower half only)"
	}
	fmt.Fprintf(stdout, "V4L2CHECK device=%s driver=%s card=%q formats=%s osd_text=%s\n",
		path, cstr(vc.Driver[:]), cstr(vc.Card[:]), strings.Join(names, ","), osd)
	if cstr(vc.Driver[:]) != "vivid" {
		return false, fmt.Errorf("%s is driven by %q, not vivid", path, cstr(vc.Driver[:]))
	}
	return osd == "off", nil
}

func cstr(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// capture opens the device through camera.Open for case c, reads n frames
// and checks each. It returns the summary line.
func capture(ctx context.Context, c testCase, device string, n int, fps float64, firstRow int,
	bc *barChecker, log zerolog.Logger) (string, error) {
	uri := fmt.Sprintf("v4l2:%s?width=%d&height=%d&format=%s&fps=%g", device, c.askW, c.askH, c.format, fps)
	src, err := camera.Open(uri, camera.Options{Log: log})
	if err != nil {
		return "", err
	}
	defer src.Close()
	wantStride, wantSize := layout(c.format, c.wantW, c.wantH)
	var (
		f           camera.Frame
		firstSeq    uint64
		prevSeq     uint64
		first, prev time.Time
		gaps        uint64
		maxDev      int
		means       [8][3]int
		kinds       []string          // kinds of problem, in the order first seen
		problems    map[string]string // the first problem of each kind
		counts      map[string]int    // and how often it was seen
	)
	problems, counts = map[string]string{}, map[string]int{}
	problem := func(kind, format string, a ...any) {
		if counts[kind]++; counts[kind] == 1 {
			kinds = append(kinds, kind)
			problems[kind] = fmt.Sprintf(format, a...)
		}
	}
	for i := range n {
		if err := src.Next(ctx, &f); err != nil {
			return "", fmt.Errorf("frame %d of %d: %w", i+1, n, err)
		}
		switch {
		case f.Format != c.format:
			problem("format", "frame %d: %v", f.Seq, f.Format)
		case f.W != c.wantW || f.H != c.wantH:
			problem("size", "frame %d: %dx%d, want %dx%d", f.Seq, f.W, f.H, c.wantW, c.wantH)
		case f.Stride != wantStride:
			problem("stride", "frame %d: %d, want %d", f.Seq, f.Stride, wantStride)
		case len(f.Data) != wantSize:
			problem("length", "frame %d: %d bytes, want %d", f.Seq, len(f.Data), wantSize)
		}
		if i == 0 {
			if f.Seq != 1 {
				problem("sequence", "first frame has Seq %d, want 1", f.Seq)
			}
			first, firstSeq = f.Time, f.Seq
		} else {
			if f.Seq <= prevSeq {
				problem("sequence", "Seq %d after %d", f.Seq, prevSeq)
			} else {
				gaps += f.Seq - prevSeq - 1
			}
			if f.Time.Before(prev) {
				problem("time", "frame %d at %v, before the previous frame's %v", f.Seq, f.Time, prev)
			}
		}
		prevSeq, prev = f.Seq, f.Time
		if f.Format != c.format || f.W != c.wantW || f.H != c.wantH {
			continue // no picture to look at
		}
		r, err := bc.check(&f, firstRow)
		if err != nil {
			problem("preprocess", "frame %d: %v", f.Seq, err)
			continue
		}
		if i == 0 {
			means = r.means
		}
		maxDev = max(maxDev, r.maxDev)
		if r.bad > 0 {
			problem("colour bars", "frame %d: %d of %d cells off, first %s", f.Seq, r.bad, 8*(gridH-firstRow), r.worst)
		}
	}
	if age := time.Since(prev); age < 0 || age > time.Minute {
		problem("time", "last frame's time %v is %v from now", prev, age)
	}
	if st, ok := src.(camera.StatsReporter); ok {
		if s := st.Stats(); s.Frames != uint64(n) || s.Corrupt != 0 {
			problem("stats", "%d frames, %d corrupt; want %d and 0", s.Frames, s.Corrupt, n)
		}
	}
	if err := src.Close(); err != nil {
		problem("close", "%v", err)
	}
	if len(kinds) > 0 {
		var msgs []string
		for _, k := range kinds {
			m := k + ": " + problems[k]
			if counts[k] > 1 {
				m += fmt.Sprintf(" (%d times)", counts[k])
			}
			msgs = append(msgs, m)
		}
		return "", errors.New(strings.Join(msgs, "; "))
	}
	// The driver's frame rate: its frames (dropped ones too, which show
	// as gaps in Seq) over the time between the first and the last.
	rate := float64(prevSeq-firstSeq) / prev.Sub(first).Seconds()
	var m []string
	for b, col := range means {
		m = append(m, fmt.Sprintf("%s=%d,%d,%d", barNames[b], col[0], col[1], col[2]))
	}
	return fmt.Sprintf("format=%s asked=%dx%d size=%dx%d stride=%d bytes=%d frames=%d gaps=%d fps=%.1f bars=ok maxdev=%d (%s)",
		c.format, c.askW, c.askH, f.W, f.H, f.Stride, len(f.Data), n, gaps, rate, maxDev, strings.Join(m, " ")), nil
}
