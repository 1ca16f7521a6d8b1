//go:build linux

package v4l2_test

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"catd/camera/internal/v4l2"
	"catd/camera/internal/v4l2/v4l2test"
)

func openFake(t *testing.T, d *v4l2test.Driver) v4l2.Device {
	t.Helper()
	dev, err := d.Open("/dev/video0")
	if err != nil {
		t.Fatal(err)
	}
	return dev
}

var yuyv = []uint32{v4l2.V4L2_PIX_FMT_YUYV}

func TestStart(t *testing.T) {
	d := &v4l2test.Driver{Sizes: [][2]uint32{{320, 240}, {1280, 720}}, MaxBuffers: 3, Pad: 16}
	st, err := v4l2.Start(openFake(t, d), v4l2.Config{Width: 640, Height: 480, PixelFormats: yuyv, FPS: 7.5, Buffers: 8})
	if err != nil {
		t.Fatal(err)
	}
	want := v4l2.PixFormat{Width: 320, Height: 240, PixelFormat: v4l2.V4L2_PIX_FMT_YUYV, Field: v4l2.V4L2_FIELD_NONE,
		BytesPerLine: 656, SizeImage: 656 * 240}
	if st.Format != want {
		t.Errorf("Format = %+v, want %+v", st.Format, want)
	}
	if st.Buffers() != 3 || st.BufferLen() != 656*240 {
		t.Errorf("Buffers() = %d of %d bytes, want 3 of %d", st.Buffers(), st.BufferLen(), 656*240)
	}
	if st.FPS != 7.5 || st.FPSErr != nil || d.Stats().LastFPS != 7.5 {
		t.Errorf("FPS = %v (%v), driver got %v; want 7.5", st.FPS, st.FPSErr, d.Stats().LastFPS)
	}
	if st.Driver() != "v4l2test" || st.Card() != "Fake Camera" {
		t.Errorf("Driver() = %q, Card() = %q", st.Driver(), st.Card())
	}
	s := d.Stats()
	if s.StreamOns != 1 || s.Mapped != 3 || s.Dequeued != 0 {
		t.Errorf("after Start: %+v, want streaming with 3 buffers mapped and queued", s)
	}
	for i := range uint32(5) {
		if ok, err := st.Poll(time.Second); !ok || err != nil {
			t.Fatalf("Poll = %v, %v", ok, err)
		}
		f, ok, err := st.Dequeue()
		if !ok || err != nil {
			t.Fatalf("Dequeue = %v, %v", ok, err)
		}
		if f.Sequence != i || f.BytesUsed != 656*240 || len(f.Data) != 656*240 || f.Index != i%3 {
			t.Errorf("frame %d: Index %d Sequence %d BytesUsed %d len %d", i, f.Index, f.Sequence, f.BytesUsed, len(f.Data))
		}
		if f.Flags&v4l2.V4L2_BUF_FLAG_TIMESTAMP_MASK != v4l2.V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC ||
			f.Timestamp <= 0 || f.Timestamp > v4l2.Monotonic() {
			t.Errorf("frame %d: flags %#x timestamp %v, monotonic now %v", i, f.Flags, f.Timestamp, v4l2.Monotonic())
		}
		if got, want := f.Data[7], v4l2test.Pattern(i+1, 0, 7, 0); got != want {
			t.Errorf("frame %d: byte 7 = %#x, want %#x", i, got, want)
		}
		if err := st.Requeue(f.Index); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if s := d.Stats(); s.Open != 0 || s.Mapped != 0 || s.StreamOffs != 1 {
		t.Errorf("after Close: %+v", s)
	}
}

func TestStartFormatChoice(t *testing.T) {
	mjpeg := []uint32{v4l2.V4L2_PIX_FMT_MJPEG, v4l2.V4L2_PIX_FMT_JPEG}
	for _, tc := range []struct {
		name    string
		offered []uint32
		want    []uint32
		got     uint32
		err     string
	}{
		{"first", []uint32{v4l2.V4L2_PIX_FMT_YUYV, v4l2.V4L2_PIX_FMT_MJPEG}, mjpeg, v4l2.V4L2_PIX_FMT_MJPEG, ""},
		{"alternative", []uint32{v4l2.V4L2_PIX_FMT_YUYV, v4l2.V4L2_PIX_FMT_JPEG}, mjpeg, v4l2.V4L2_PIX_FMT_JPEG, ""},
		{"refused", []uint32{v4l2.V4L2_PIX_FMT_YUYV, v4l2.V4L2_PIX_FMT_NV12}, mjpeg, 0,
			"driver set format YUYV when asked for MJPG (it offers YUYV, NV12)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &v4l2test.Driver{Formats: tc.offered}
			dev := openFake(t, d)
			st, err := v4l2.Start(dev, v4l2.Config{Width: 64, Height: 48, PixelFormats: tc.want, Buffers: 2})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Start error %v, want %q", err, tc.err)
				}
				dev.Close()
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if st.Format.PixelFormat != tc.got {
				t.Errorf("format %s, want %s", v4l2.FourCC(st.Format.PixelFormat), v4l2.FourCC(tc.got))
			}
		})
	}
}

// TestStartFailures fails each step of Start in turn and checks the error
// names it and nothing stays mapped or streaming.
func TestStartFailures(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    *v4l2test.Driver
		fail uintptr
		err  error
		want string
	}{
		{"querycap enotty", &v4l2test.Driver{}, v4l2.VIDIOC_QUERYCAP, syscall.ENOTTY, "VIDIOC_QUERYCAP: not a V4L2 video capture device with streaming I/O: inappropriate ioctl"},
		{"no streaming", &v4l2test.Driver{Caps: v4l2.V4L2_CAP_VIDEO_CAPTURE}, 0, nil, "driver v4l2test (Fake Camera), capabilities 0x1: not a V4L2"},
		{"multiplanar", &v4l2test.Driver{Caps: v4l2.V4L2_CAP_VIDEO_CAPTURE_MPLANE | v4l2.V4L2_CAP_STREAMING}, 0, nil, "offers only multi-planar capture"},
		{"s_fmt", &v4l2test.Driver{}, v4l2.VIDIOC_S_FMT, syscall.EBUSY, "VIDIOC_S_FMT YUYV 640x480: device or resource busy"},
		{"reqbufs", &v4l2test.Driver{}, v4l2.VIDIOC_REQBUFS, syscall.ENOMEM, "VIDIOC_REQBUFS 4: cannot allocate memory"},
		{"querybuf", &v4l2test.Driver{}, v4l2.VIDIOC_QUERYBUF, syscall.EINVAL, "VIDIOC_QUERYBUF 0: invalid argument"},
		{"qbuf", &v4l2test.Driver{}, v4l2.VIDIOC_QBUF, syscall.EIO, "VIDIOC_QBUF 0: input/output error"},
		{"streamon", &v4l2test.Driver{}, v4l2.VIDIOC_STREAMON, syscall.ENOSPC, "VIDIOC_STREAMON: no space left on device"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.d
			if tc.fail != 0 {
				d.Fail(tc.fail, tc.err)
			}
			dev := openFake(t, d)
			st, err := v4l2.Start(dev, v4l2.Config{Width: 640, Height: 480, PixelFormats: yuyv, Buffers: 4})
			if err == nil {
				st.Close()
				t.Fatalf("Start succeeded, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want %q", err, tc.want)
			}
			if tc.err != nil && !errors.Is(err, tc.err) {
				t.Errorf("error %q does not wrap %v", err, tc.err)
			}
			if s := d.Stats(); s.Mapped != 0 || s.StreamOns != 0 {
				t.Errorf("after a failed Start: %+v", s)
			}
			dev.Close()
		})
	}
}

func TestStartFPS(t *testing.T) {
	for _, tc := range []struct {
		name    string
		d       *v4l2test.Driver
		fps     float64
		want    float64
		wantErr string
	}{
		{"exact", &v4l2test.Driver{}, 10, 10, ""},
		{"capped", &v4l2test.Driver{MaxFPS: 15}, 60, 15, ""},
		{"unsupported", &v4l2test.Driver{NoFrameRate: true}, 10, 0, "does not take a frame rate"},
		{"s_parm fails", &v4l2test.Driver{}, 10, 0, "VIDIOC_S_PARM 1/10 s: invalid argument"},
		{"not asked", &v4l2test.Driver{}, 0, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.d
			if tc.name == "s_parm fails" {
				d.Fail(v4l2.VIDIOC_S_PARM, syscall.EINVAL)
			}
			st, err := v4l2.Start(openFake(t, d), v4l2.Config{Width: 64, Height: 48, PixelFormats: yuyv, FPS: tc.fps, Buffers: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if st.FPS != tc.want {
				t.Errorf("FPS = %v, want %v", st.FPS, tc.want)
			}
			if (st.FPSErr == nil) != (tc.wantErr == "") || st.FPSErr != nil && !strings.Contains(st.FPSErr.Error(), tc.wantErr) {
				t.Errorf("FPSErr = %v, want %q", st.FPSErr, tc.wantErr)
			}
		})
	}
}

func TestDequeueErrors(t *testing.T) {
	d := &v4l2test.Driver{}
	st, err := v4l2.Start(openFake(t, d), v4l2.Config{Width: 64, Height: 48, PixelFormats: yuyv, Buffers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d.Fail(v4l2.VIDIOC_DQBUF, syscall.EAGAIN, syscall.EIO)
	if _, ok, err := st.Dequeue(); ok || err != nil {
		t.Errorf("Dequeue after EAGAIN = %v, %v; want not ready, no error", ok, err)
	}
	if _, ok, err := st.Dequeue(); ok || !errors.Is(err, syscall.EIO) {
		t.Errorf("Dequeue after EIO = %v, %v", ok, err)
	}
	d.Pause(true)
	if ok, err := st.Poll(10 * time.Millisecond); ok || err != nil {
		t.Errorf("Poll while paused = %v, %v", ok, err)
	}
	d.Unplug()
	if ok, err := st.Poll(time.Second); !ok || err != nil {
		t.Errorf("Poll after unplug = %v, %v; want ready (POLLERR)", ok, err)
	}
	if _, _, err := st.Dequeue(); !errors.Is(err, syscall.ENODEV) {
		t.Errorf("Dequeue after unplug: %v, want ENODEV", err)
	}
	if err := st.Close(); err != nil {
		t.Errorf("Close after unplug: %v", err)
	}
	if s := d.Stats(); s.Mapped != 0 || s.Open != 0 {
		t.Errorf("after Close: %+v", s)
	}
}

// TestFD exercises the real file-descriptor Device where no camera is
// needed: ioctls and poll on a pipe and /dev/null.
func TestFD(t *testing.T) {
	if _, err := v4l2.Open("/nonexistent/video0"); !errors.Is(err, os.ErrNotExist) ||
		!strings.Contains(err.Error(), "open /nonexistent/video0") {
		t.Errorf("Open(missing) = %v", err)
	}
	null, err := v4l2.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	_, err = v4l2.Start(null, v4l2.Config{Width: 64, Height: 48, PixelFormats: yuyv, Buffers: 2})
	switch {
	case errors.Is(err, syscall.ENOSYS):
		// qemu-user answers ioctls it does not know with ENOSYS.
		t.Logf("Start(/dev/null) = %v (under qemu-user?)", err)
	case !errors.Is(err, v4l2.ErrNotCapture) || !errors.Is(err, syscall.ENOTTY):
		t.Errorf("Start(/dev/null) = %v, want ErrNotCapture and ENOTTY", err)
	}
	if err := null.Close(); err != nil {
		t.Error(err)
	}
	if err := null.Close(); err != syscall.EBADF {
		t.Errorf("second Close = %v, want EBADF", err)
	}

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	fd, err := syscall.Dup(int(r.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	dev := v4l2.NewFD(fd)
	defer dev.Close()
	start := time.Now()
	if ok, err := dev.Poll(20 * time.Millisecond); ok || err != nil {
		t.Errorf("Poll(empty pipe) = %v, %v", ok, err)
	}
	if d := time.Since(start); d < 15*time.Millisecond {
		t.Errorf("Poll returned after %v, want about 20ms", d)
	}
	if allocs := testing.AllocsPerRun(20, func() { dev.Poll(0) }); allocs != 0 {
		t.Errorf("Poll allocates %v times", allocs)
	}
	w.Write([]byte{1})
	if ok, err := dev.Poll(time.Second); !ok || err != nil {
		t.Errorf("Poll(pipe with data) = %v, %v", ok, err)
	}
	var c v4l2.Capability
	if err := dev.Ioctl(v4l2.VIDIOC_QUERYCAP, unsafe.Pointer(&c)); err != syscall.ENOTTY && err != syscall.ENOSYS {
		t.Errorf("VIDIOC_QUERYCAP on a pipe = %v, want ENOTTY", err)
	}
	if _, err := dev.Mmap(0, 4096); err == nil {
		t.Error("Mmap of a pipe succeeded")
	}
}

func TestMonotonic(t *testing.T) {
	a := v4l2.Monotonic()
	time.Sleep(2 * time.Millisecond) // real time is what Monotonic measures
	if b := v4l2.Monotonic(); a <= 0 || b-a < time.Millisecond {
		t.Errorf("Monotonic %v then %v", a, b)
	}
	if allocs := testing.AllocsPerRun(20, func() { v4l2.Monotonic() }); allocs != 0 {
		t.Errorf("Monotonic allocates %v times", allocs)
	}
}
