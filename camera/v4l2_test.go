//go:build linux

package camera

import (
	"bytes"
	"context"
	"errors"
	"image/jpeg"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"catd/camera/internal/v4l2"
	"catd/camera/internal/v4l2/v4l2test"
)

// v4l2Fixture is a v4l2: source on a simulated driver, with a fake clock
// (backoff sleeps return at once and are recorded) and a log buffer.
type v4l2Fixture struct {
	src *v4l2Source
	drv *v4l2test.Driver
	clk *fakeClock
	log *syncBuffer
}

// newV4L2Fixture opens uri on drv; tweak may change the parsed config
// (whose poll and no-frame timings are already shortened). The driver
// scribbles over requeued buffers, so a frame copied after its requeue
// would show it.
func newV4L2Fixture(t testing.TB, uri string, drv *v4l2test.Driver, tweak func(*v4l2Config)) (*v4l2Fixture, error) {
	t.Helper()
	u, err := parseURI(uri)
	if err != nil {
		t.Fatal(err)
	}
	c, err := parseV4L2Config(u)
	if err != nil {
		t.Fatal(err)
	}
	c.pollSlice, c.noFrame, c.noFrameEvery = 5*time.Millisecond, 40*time.Millisecond, 40*time.Millisecond
	if tweak != nil {
		tweak(&c)
	}
	drv.Scribble = true
	fx := &v4l2Fixture{drv: drv, clk: &fakeClock{now: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)}, log: &syncBuffer{}}
	fx.src = newV4L2Source(uri, c, zerolog.New(fx.log), fx.clk, drv.Open, v4l2.Monotonic)
	if err := fx.src.start(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { fx.src.Close() })
	return fx, nil
}

func mustV4L2(t *testing.T, uri string, drv *v4l2test.Driver, tweak func(*v4l2Config)) *v4l2Fixture {
	t.Helper()
	fx, err := newV4L2Fixture(t, uri, drv, tweak)
	if err != nil {
		t.Fatalf("open %s: %v", uri, err)
	}
	return fx
}

func (fx *v4l2Fixture) next(t *testing.T, f *Frame) {
	t.Helper()
	if err := nextTimeout(fx.src, f, 5*time.Second); err != nil {
		t.Fatalf("Next: %v", err)
	}
	if s := fx.drv.Stats(); s.Dequeued != 0 {
		t.Fatalf("Next returned with %d buffers not requeued", s.Dequeued)
	}
}

// checkPattern checks a raw frame against v4l2test.FillPattern's frame seq.
func checkPattern(t *testing.T, f *Frame, seq uint32) {
	t.Helper()
	type plane struct{ rows, rowBytes, stride int }
	var planes []plane
	cw, ch := (f.W+1)/2, (f.H+1)/2
	switch f.Format {
	case YUYV:
		planes = []plane{{f.H, 2 * f.W, f.Stride}}
	case RGB24:
		planes = []plane{{f.H, 3 * f.W, f.Stride}}
	case Gray8:
		planes = []plane{{f.H, f.W, f.Stride}}
	case I420:
		planes = []plane{{f.H, f.W, f.W}, {ch, cw, cw}, {ch, cw, cw}}
	case NV12:
		planes = []plane{{f.H, f.W, f.W}, {ch, 2 * cw, 2 * cw}}
	default:
		t.Fatalf("format %v", f.Format)
	}
	off := 0
	for p, pl := range planes {
		for y := range pl.rows {
			for x := range pl.rowBytes {
				if got, want := f.Data[off+y*pl.stride+x], v4l2test.Pattern(seq, p, x, y); got != want {
					t.Fatalf("frame %d plane %d (%d,%d) = %#x, want %#x", seq, p, x, y, got, want)
				}
			}
		}
		off += pl.rows * pl.stride
	}
	if off != len(f.Data) {
		t.Fatalf("frame has %d bytes, the planes %d", len(f.Data), off)
	}
}

// noDHT removes the DHT segments of a JPEG, as UVC cameras send them.
func noDHT(t testing.TB, j []byte) []byte {
	out := append([]byte(nil), j[:2]...)
	for i := 2; i+4 <= len(j); {
		n := int(j[i+2])<<8 | int(j[i+3])
		if j[i+1] == 0xDA {
			return append(out, j[i:]...)
		}
		if j[i+1] != 0xC4 {
			out = append(out, j[i:i+2+n]...)
		}
		i += 2 + n
	}
	t.Fatal("no SOS")
	return nil
}

func TestV4L2Formats(t *testing.T) {
	jpegs := [][]byte{makeJPEG(t, 64, 48, 1), makeJPEG(t, 64, 48, 2)}
	bare := [][]byte{noDHT(t, jpegs[0]), noDHT(t, jpegs[1])}
	padded := append(append([]byte(nil), jpegs[0]...), 0, 0, 0, 0)
	for _, tc := range []struct {
		name    string
		uri     string
		drv     *v4l2test.Driver
		format  Format
		w, h    int
		stride  int
		jpeg    [][]byte // the frames Data should hold, for JPEG
		fourcc  uint32
		formats []uint32
	}{
		{"yuyv", "v4l2:/dev/video0?width=64&height=48", &v4l2test.Driver{}, YUYV, 64, 48, 128, nil, v4l2.V4L2_PIX_FMT_YUYV, nil},
		{"yuyv padded rows", "v4l2:/dev/video0?width=64&height=48&format=yuyv", &v4l2test.Driver{Pad: 32}, YUYV, 64, 48, 160, nil, v4l2.V4L2_PIX_FMT_YUYV, nil},
		{"rgb24", "v4l2:/dev/video0?w=30&h=20&format=rgb24", &v4l2test.Driver{Formats: []uint32{v4l2.V4L2_PIX_FMT_YUYV, v4l2.V4L2_PIX_FMT_RGB24}}, RGB24, 30, 20, 90, nil, v4l2.V4L2_PIX_FMT_RGB24, nil},
		{"gray8 padded", "v4l2:/dev/video0?w=30&h=20&format=gray8", &v4l2test.Driver{Formats: []uint32{v4l2.V4L2_PIX_FMT_GREY}, Pad: 2}, Gray8, 30, 20, 32, nil, v4l2.V4L2_PIX_FMT_GREY, nil},
		{"i420", "v4l2:/dev/video0?w=32&h=24&format=i420", &v4l2test.Driver{Formats: []uint32{v4l2.V4L2_PIX_FMT_YUV420}}, I420, 32, 24, 32, nil, v4l2.V4L2_PIX_FMT_YUV420, nil},
		{"i420 padded rows", "v4l2:/dev/video0?w=32&h=24&format=i420", &v4l2test.Driver{Formats: []uint32{v4l2.V4L2_PIX_FMT_YUV420}, Pad: 32}, I420, 32, 24, 32, nil, v4l2.V4L2_PIX_FMT_YUV420, nil},
		{"nv12 padded rows", "v4l2:/dev/video0?w=32&h=24&format=nv12", &v4l2test.Driver{Formats: []uint32{v4l2.V4L2_PIX_FMT_NV12}, Pad: 16}, NV12, 32, 24, 32, nil, v4l2.V4L2_PIX_FMT_NV12, nil},
		{"mjpeg", "v4l2:/dev/video0?width=64&height=48&format=mjpeg", &v4l2test.Driver{JPEG: jpegs}, JPEG, 0, 0, 0, jpegs, v4l2.V4L2_PIX_FMT_MJPEG, nil},
		{"mjpeg without huffman tables", "v4l2:/dev/video0?format=mjpeg", &v4l2test.Driver{JPEG: bare}, JPEG, 0, 0, 0,
			[][]byte{InsertHuffmanTables(nil, bare[0]), InsertHuffmanTables(nil, bare[1])}, v4l2.V4L2_PIX_FMT_MJPEG, nil},
		{"jpeg fourcc, zero padding", "v4l2:/dev/video0?format=mjpeg", &v4l2test.Driver{Formats: []uint32{v4l2.V4L2_PIX_FMT_YUYV, v4l2.V4L2_PIX_FMT_JPEG}, JPEG: [][]byte{padded}}, JPEG, 0, 0, 0,
			[][]byte{jpegs[0], jpegs[0]}, v4l2.V4L2_PIX_FMT_JPEG, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := mustV4L2(t, tc.uri, tc.drv, nil)
			if got := fx.drv.Stats().LastFormat.PixelFormat; got != tc.fourcc {
				t.Errorf("asked the driver for %s, want %s", v4l2.FourCC(got), v4l2.FourCC(tc.fourcc))
			}
			var f Frame
			for i := range uint32(4) {
				fx.next(t, &f)
				if f.Seq != uint64(i+1) || f.Format != tc.format || f.W != tc.w || f.H != tc.h || f.Stride != tc.stride {
					t.Fatalf("frame %d: Seq %d %v %dx%d stride %d, want %v %dx%d stride %d",
						i+1, f.Seq, f.Format, f.W, f.H, f.Stride, tc.format, tc.w, tc.h, tc.stride)
				}
				if tc.format != JPEG {
					checkPattern(t, &f, i+1)
					continue
				}
				if want := tc.jpeg[i%uint32(len(tc.jpeg))]; !bytes.Equal(f.Data, want) {
					t.Fatalf("frame %d: %d bytes, not the %d expected", i+1, len(f.Data), len(want))
				}
				if _, err := jpeg.Decode(bytes.NewReader(f.Data)); err != nil {
					t.Fatalf("frame %d does not decode: %v", i+1, err)
				}
			}
			if s := stats(fx.src); s.Frames != 4 || s.Corrupt != 0 {
				t.Errorf("Stats = %+v", s)
			}
			if err := fx.src.Close(); err != nil {
				t.Fatal(err)
			}
			if s := fx.drv.Stats(); s.Open != 0 || s.Mapped != 0 || s.StreamOffs != 1 {
				t.Errorf("after Close the driver has %+v, want nothing open, mapped or streaming", s)
			}
		})
	}
}

// TestV4L2DriverChoices: the source uses the size, bytes per line, buffers
// and frame rate the driver settles on, and logs the differences.
func TestV4L2DriverChoices(t *testing.T) {
	drv := &v4l2test.Driver{Sizes: [][2]uint32{{320, 240}, {1280, 720}}, MaxBuffers: 2, NoFrameRate: true}
	fx := mustV4L2(t, "v4l2:/dev/video0?width=640&height=480&fps=10&buffers=4", drv, nil)
	var f Frame
	for i := range uint32(10) {
		fx.next(t, &f)
		if f.W != 320 || f.H != 240 || f.Stride != 640 || len(f.Data) != 640*240 {
			t.Fatalf("frame %dx%d stride %d, %d bytes; want the driver's 320x240", f.W, f.H, f.Stride, len(f.Data))
		}
		checkPattern(t, &f, i+1)
	}
	s := drv.Stats()
	if s.LastBuffers != 2 || s.Frames != 10 || s.Requeued != 10 {
		t.Errorf("driver stats %+v, want 2 buffers, 10 frames filled and requeued", s)
	}
	log := fx.log.String()
	for _, want := range []string{`"asked_w":640`, "another frame size", `"buffers":2,"asked":4`, "fewer buffers",
		"frame rate not set", "does not take a frame rate", `"driver":"v4l2test"`, `"pixel_format":"YUYV"`} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

func TestV4L2OpenErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		uri  string
		drv  *v4l2test.Driver
		fail uintptr
		err  error
		want string
	}{
		{"format refused", "v4l2:/dev/video0?format=mjpeg", &v4l2test.Driver{Formats: []uint32{v4l2.V4L2_PIX_FMT_YUYV}}, 0, nil,
			"/dev/video0: driver set format YUYV when asked for MJPG (it offers YUYV)"},
		{"s_fmt einval", "v4l2:/dev/video0", &v4l2test.Driver{}, v4l2.VIDIOC_S_FMT, syscall.EINVAL, "VIDIOC_S_FMT YUYV 640x480: invalid argument"},
		{"busy", "v4l2:/dev/video0", &v4l2test.Driver{}, v4l2.VIDIOC_REQBUFS, syscall.EBUSY, "VIDIOC_REQBUFS 4: device or resource busy"},
		{"no streaming", "v4l2:/dev/video0", &v4l2test.Driver{Caps: v4l2.V4L2_CAP_VIDEO_CAPTURE}, 0, nil, "not a V4L2 video capture device"},
		{"unplugged", "v4l2:/dev/video0", &v4l2test.Driver{}, 0, nil, "open /dev/video0: no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fail != 0 {
				tc.drv.Fail(tc.fail, tc.err)
			}
			if tc.name == "unplugged" {
				tc.drv.Unplug()
			}
			_, err := newV4L2Fixture(t, tc.uri, tc.drv, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("open error %v, want %q", err, tc.want)
			}
			if tc.err != nil && !errors.Is(err, tc.err) {
				t.Errorf("%v does not wrap %v", err, tc.err)
			}
			if s := tc.drv.Stats(); s.Open != 0 || s.Mapped != 0 {
				t.Errorf("after the failed open the driver has %+v", s)
			}
		})
	}
}

func TestV4L2EAGAIN(t *testing.T) {
	drv := &v4l2test.Driver{}
	fx := mustV4L2(t, "v4l2:/dev/video0?width=32&height=16", drv, nil)
	var f Frame
	drv.Fail(v4l2.VIDIOC_DQBUF, syscall.EAGAIN, syscall.EAGAIN, syscall.EAGAIN)
	fx.next(t, &f)
	if f.Seq != 1 || fx.src.reopens.Load() != 0 {
		t.Errorf("after EAGAIN: Seq %d, reopens %d", f.Seq, fx.src.reopens.Load())
	}
	checkPattern(t, &f, 1)
	// Endless EAGAIN with poll saying ready: the device is reopened.
	errs := make([]error, maxSpurious)
	for i := range errs {
		errs[i] = syscall.EAGAIN
	}
	drv.Fail(v4l2.VIDIOC_DQBUF, errs...)
	fx.next(t, &f)
	if fx.src.reopens.Load() != 1 || !strings.Contains(fx.log.String(), "poll keeps reporting the device ready") {
		t.Errorf("reopens %d, log:\n%s", fx.src.reopens.Load(), fx.log.String())
	}
}

// TestV4L2Corrupt: broken frames are counted, logged and skipped, their
// buffers requeued, and the stream goes on.
func TestV4L2Corrupt(t *testing.T) {
	good := makeJPEG(t, 32, 32, 3)
	for _, tc := range []struct {
		name   string
		format string
		fill   func(seq uint32, f v4l2.PixFormat, buf []byte) (int, uint32)
		want   string
	}{
		{"short yuyv", "yuyv", func(seq uint32, f v4l2.PixFormat, buf []byte) (int, uint32) {
			n := v4l2test.FillPattern(seq, f, buf)
			if seq == 2 {
				n -= 100
			}
			return n, 0
		}, "short frame: 924 of 1024 bytes"},
		{"error flag", "yuyv", func(seq uint32, f v4l2.PixFormat, buf []byte) (int, uint32) {
			if seq == 2 {
				return 0, v4l2.V4L2_BUF_FLAG_ERROR
			}
			return v4l2test.FillPattern(seq, f, buf), 0
		}, "V4L2_BUF_FLAG_ERROR"},
		{"truncated jpeg", "mjpeg", func(seq uint32, f v4l2.PixFormat, buf []byte) (int, uint32) {
			if seq == 2 {
				return copy(buf, good[:len(good)/2]), 0
			}
			return copy(buf, good), 0
		}, "JPEG does not end with EOI"},
		{"not a jpeg", "mjpeg", func(seq uint32, f v4l2.PixFormat, buf []byte) (int, uint32) {
			if seq == 2 {
				return copy(buf, "\x00\x01garbage\xff\xd9"), 0
			}
			return copy(buf, good), 0
		}, "JPEG does not start with SOI"},
		{"broken marker", "mjpeg", func(seq uint32, f v4l2.PixFormat, buf []byte) (int, uint32) {
			if seq == 2 {
				return copy(buf, "\xff\xd8\xff\xe0\x00\x01\xff\xd9"), 0
			}
			return copy(buf, good), 0
		}, "has length 1"},
		{"bytesused over the buffer", "mjpeg", func(seq uint32, f v4l2.PixFormat, buf []byte) (int, uint32) {
			if seq == 2 {
				return len(buf) + 1, 0
			}
			return copy(buf, good), 0
		}, "is over the buffer's"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			drv := &v4l2test.Driver{Fill: tc.fill}
			fx := mustV4L2(t, "v4l2:/dev/video0?width=32&height=16&format="+tc.format, drv, nil)
			var f Frame
			fx.next(t, &f)
			fx.next(t, &f)
			if f.Seq != 3 {
				t.Errorf("second frame delivered has Seq %d, want 3 (2 was skipped)", f.Seq)
			}
			if s := stats(fx.src); s.Frames != 2 || s.Corrupt != 1 {
				t.Errorf("Stats = %+v, want 2 frames and 1 corrupt", s)
			}
			log := fx.log.String()
			if !strings.Contains(log, "corrupt frame skipped") || !strings.Contains(log, tc.want) || !strings.Contains(log, `"frame":2`) {
				t.Errorf("log lacks the corrupt frame 2 and %q:\n%s", tc.want, log)
			}
			if fx.src.reopens.Load() != 0 {
				t.Error("a corrupt frame reopened the device")
			}
		})
	}
}

// TestV4L2Unplug: the device vanishes mid-stream, is reopened with backoff
// while Next waits, and the delay resets after a good run.
func TestV4L2Unplug(t *testing.T) {
	drv := &v4l2test.Driver{}
	fx := mustV4L2(t, "v4l2:/dev/video0?width=32&height=16", drv, nil)
	var f Frame
	fx.next(t, &f)
	fx.next(t, &f)
	drv.UnplugAt(3, 4) // frame 3 fails with ENODEV; 4 opens fail, the 5th works
	fx.next(t, &f)
	if f.Seq != 3 {
		t.Errorf("first frame after the replug has Seq %d, want 3", f.Seq)
	}
	checkPattern(t, &f, 3) // the driver's frame 3, filled by the new handle
	ms := time.Millisecond
	wantSleeps := []time.Duration{500 * ms, 1000 * ms, 2000 * ms, 4000 * ms, 8000 * ms}
	if !slicesEqual(fx.clk.sleeps, wantSleeps) {
		t.Errorf("backoff sleeps %v, want %v", fx.clk.sleeps, wantSleeps)
	}
	s := drv.Stats()
	if s.Opens != 2 || s.FailedOpens != 4 || s.Open != 1 || s.Mapped != 4 {
		t.Errorf("driver stats %+v, want 2 opens, 4 failed, 1 handle with 4 buffers mapped", s)
	}
	log := fx.log.String()
	for _, want := range []string{"device lost, reopening", "no such device", "device not back yet", "device back", `"attempts":5`} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if n := strings.Count(log, "device not back yet"); n != 1 {
		t.Errorf("the same reopen error was logged %d times, want once", n)
	}

	// Lost again soon: the delay goes on doubling.
	fx.clk.sleeps = nil
	drv.UnplugAt(uint32(drv.Stats().Frames)+1, 1) // the next frame
	fx.next(t, &f)
	if want := []time.Duration{16000 * ms, 30000 * ms}; !slicesEqual(fx.clk.sleeps, want) {
		t.Errorf("sleeps after a short run %v, want %v", fx.clk.sleeps, want)
	}
	// Lost after frames for longer than resetAfter: back to 0.5 s.
	fx.clk.now = fx.clk.now.Add(11 * time.Second)
	fx.next(t, &f)
	fx.clk.sleeps = nil
	drv.UnplugAt(uint32(drv.Stats().Frames)+1, 1)
	fx.next(t, &f)
	if want := []time.Duration{500 * ms, 1000 * ms}; !slicesEqual(fx.clk.sleeps, want) {
		t.Errorf("sleeps after a long run %v, want %v", fx.clk.sleeps, want)
	}
	if s := stats(fx.src); s.Frames != 6 || s.Corrupt != 0 {
		t.Errorf("Stats = %+v", s)
	}
}

func slicesEqual(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestV4L2UnplugLive unplugs and replugs from another goroutine with the
// real clock while a reader keeps calling Next, as the daemon does.
func TestV4L2UnplugLive(t *testing.T) {
	drv := &v4l2test.Driver{}
	fx := mustV4L2(t, "v4l2:/dev/video0?width=32&height=16", drv, nil)
	fx.src.clk = realClock()
	fx.src.cfg.backoffMin, fx.src.cfg.backoffMax = 2*time.Millisecond, 20*time.Millisecond
	fx.src.delay = fx.src.cfg.backoffMin
	fx.src.corrupt.now = time.Now

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	frames := make(chan uint64, 1000)
	errc := make(chan error, 1)
	go func() {
		var f Frame
		for {
			if err := fx.src.Next(ctx, &f); err != nil {
				errc <- err
				return
			}
			select {
			case frames <- f.Seq:
			default:
			}
			time.Sleep(time.Millisecond) // a consumer slower than the camera
		}
	}()
	waitFrames := func(n int) {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for range n {
			select {
			case <-frames:
			case err := <-errc:
				t.Fatalf("Next: %v", err)
			case <-deadline:
				t.Fatal("no frames")
			}
		}
	}
	waitFrames(5)
	for range 3 {
		drv.Unplug()
		time.Sleep(30 * time.Millisecond) // real time unplugged, for the source to notice and retry
		for len(frames) > 0 {
			<-frames
		}
		drv.Replug()
		waitFrames(5)
	}
	cancel()
	if err := <-errc; err != context.Canceled {
		t.Errorf("Next after cancel: %v", err)
	}
	if n := fx.src.reopens.Load(); n < 3 {
		t.Errorf("%d reopen attempts, want at least 3", n)
	}
	if s := drv.Stats(); s.Open != 1 {
		t.Errorf("%d handles open, want 1", s.Open)
	}
}

func TestV4L2CloseWhileBlocked(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(*v4l2Fixture)
	}{
		{"polling", func(fx *v4l2Fixture) { fx.drv.Pause(true) }},
		{"backoff", func(fx *v4l2Fixture) {
			fx.src.clk = realClock()
			fx.src.delay = time.Hour
			fx.drv.UnplugAt(2, 0)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			drv := &v4l2test.Driver{}
			fx := mustV4L2(t, "v4l2:/dev/video0?width=32&height=16", drv, nil)
			var f Frame
			fx.next(t, &f)
			tc.setup(fx)
			errc := make(chan error, 1)
			go func() { errc <- fx.src.Next(context.Background(), &f) }()
			// A head start for Next, so that Close usually finds it blocked
			// in the state the case names; an earlier Close must work too.
			time.Sleep(50 * time.Millisecond)
			start := time.Now()
			if err := fx.src.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			select {
			case err := <-errc:
				if err != ErrClosed {
					t.Errorf("blocked Next returned %v, want ErrClosed", err)
				}
			case <-time.After(2 * time.Second):
				t.Fatal("Next still blocked 2 s after Close")
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("Close took %v", d)
			}
			if err := fx.src.Next(context.Background(), &f); err != ErrClosed {
				t.Errorf("Next after Close: %v", err)
			}
			if err := fx.src.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			if s := drv.Stats(); s.Open != 0 || s.Mapped != 0 {
				t.Errorf("after Close the driver has %+v", s)
			}
		})
	}
}

func TestV4L2ContextCancel(t *testing.T) {
	drv := &v4l2test.Driver{}
	fx := mustV4L2(t, "v4l2:/dev/video0?width=32&height=16", drv, func(c *v4l2Config) { c.pollSlice = 50 * time.Millisecond })
	var f Frame
	fx.next(t, &f)
	drv.Pause(true)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(30*time.Millisecond, cancel)
	start := time.Now()
	if err := fx.src.Next(ctx, &f); err != context.Canceled {
		t.Errorf("Next = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("Next took %v to notice the cancel", d)
	}
	if err := fx.src.Next(ctx, &f); err != context.Canceled {
		t.Errorf("Next with a cancelled ctx = %v", err)
	}
	drv.Pause(false)
	fx.next(t, &f)
	if f.Seq != 2 {
		t.Errorf("after the cancel, Seq %d, want 2", f.Seq)
	}
}

func TestV4L2NoFrameLog(t *testing.T) {
	drv := &v4l2test.Driver{}
	fx := mustV4L2(t, "v4l2:/dev/video0?width=32&height=16", drv, nil)
	var f Frame
	fx.next(t, &f)
	drv.Pause(true)
	if err := nextTimeout(fx.src, &f, 300*time.Millisecond); err != context.DeadlineExceeded {
		t.Fatalf("Next = %v", err)
	}
	n := strings.Count(fx.log.String(), "no frame from the device")
	if n < 1 || n > 7 {
		t.Errorf("%d no-frame warnings in 300 ms (first after 40 ms of polling, then every 40 ms):\n%s", n, fx.log.String())
	}
	drv.Pause(false)
	fx.next(t, &f)
}

func TestV4L2SeqAndTime(t *testing.T) {
	drvMono := 100 * time.Second
	drv := &v4l2test.Driver{Mono: func() time.Duration { return drvMono }}
	fx := mustV4L2(t, "v4l2:/dev/video0?width=32&height=16", drv, nil)
	fx.src.mono = func() time.Duration { return 100*time.Second + 30*time.Millisecond }
	var f Frame
	fx.next(t, &f)
	if want := fx.clk.now.Add(-30 * time.Millisecond); !f.Time.Equal(want) {
		t.Errorf("Time = %v, want the driver's timestamp %v", f.Time, want)
	}
	drv.Drop(3)
	fx.next(t, &f)
	if f.Seq != 5 {
		t.Errorf("after 3 frames dropped by the driver, Seq = %d, want 5", f.Seq)
	}
	// A timestamp in the future or too old, or none: now.
	drvMono = 200 * time.Second
	fx.next(t, &f)
	if !f.Time.Equal(fx.clk.now) {
		t.Errorf("Time with a future timestamp = %v, want now %v", f.Time, fx.clk.now)
	}
	drv2 := &v4l2test.Driver{NoTimestamps: true}
	fx2 := mustV4L2(t, "v4l2:/dev/video0?width=32&height=16", drv2, nil)
	fx2.next(t, &f)
	if !f.Time.Equal(fx2.clk.now) {
		t.Errorf("Time without a timestamp = %v, want now", f.Time)
	}
}

// TestV4L2Allocs: 0 allocations per frame for raw formats once f.Data has
// grown.
func TestV4L2Allocs(t *testing.T) {
	for _, uri := range []string{"v4l2:/dev/video0?width=640&height=480&format=yuyv", "v4l2:/dev/video0?width=64&height=48&format=i420"} {
		drv := &v4l2test.Driver{Formats: []uint32{v4l2.V4L2_PIX_FMT_YUYV, v4l2.V4L2_PIX_FMT_YUV420}, Pad: 64}
		fx := mustV4L2(t, uri, drv, nil)
		var f Frame
		fx.next(t, &f)
		ctx := context.Background()
		allocs := testing.AllocsPerRun(100, func() {
			if err := fx.src.Next(ctx, &f); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per frame, want 0", uri, allocs)
		}
	}
}

func BenchmarkV4L2Next(b *testing.B) {
	j := makeJPEG(b, 640, 480, 1)
	for _, bc := range []struct {
		name string
		uri  string
		drv  *v4l2test.Driver
	}{
		{"yuyv-320x240", "v4l2:/dev/video0?width=320&height=240", &v4l2test.Driver{}},
		{"yuyv-640x480", "v4l2:/dev/video0?width=640&height=480", &v4l2test.Driver{}},
		{"mjpeg-640x480-no-dht", "v4l2:/dev/video0?width=640&height=480&format=mjpeg", &v4l2test.Driver{JPEG: [][]byte{noDHT(b, j)}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			// The fake's fill runs on every frame; keep it cheap.
			pattern := make([]byte, 0)
			bc.drv.Fill = func(seq uint32, f v4l2.PixFormat, buf []byte) (int, uint32) {
				if len(bc.drv.JPEG) > 0 {
					return copy(buf, bc.drv.JPEG[0]), 0
				}
				if len(pattern) == 0 {
					pattern = make([]byte, f.SizeImage)
					v4l2test.FillPattern(1, f, pattern)
				}
				return copy(buf, pattern), 0
			}
			fx, err := newV4L2Fixture(b, bc.uri, bc.drv, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer fx.src.Close()
			fx.drv.Scribble = false
			var f Frame
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := fx.src.Next(ctx, &f); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(f.Data)))
		})
	}
}
