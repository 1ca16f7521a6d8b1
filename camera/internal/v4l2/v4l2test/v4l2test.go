//go:build linux

// Package v4l2test simulates a V4L2 capture driver, so that code on top of
// package v4l2 can be tested without a camera. A Driver is a device node
// that can be opened, unplugged and plugged back; each Open gives a Device,
// an open handle answering the ioctls package v4l2 uses, with buffers in
// ordinary memory standing in for the mapped ones.
//
// Like a real driver it adjusts the size asked for (to the nearest of
// Sizes), falls back to its first format when asked for one it lacks,
// grants at most MaxBuffers buffers, fills queued buffers in order when
// they are dequeued, and, with Scribble, overwrites a buffer as soon as it
// is queued again, so a reader that requeues too early sees garbage.
// Failures are injected per ioctl (Fail), by unplugging (Unplug, UnplugAt)
// or by what Fill writes (short frames, corrupt JPEGs, error flags).
package v4l2test

import (
	"math"
	"slices"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"catd/camera/internal/v4l2"
)

// Driver is a simulated video node. Set the configuration fields before the
// first Open; the methods are safe to call from any goroutine.
type Driver struct {
	Name, Card string // VIDIOC_QUERYCAP; default "v4l2test", "Fake Camera"
	// Caps is what VIDIOC_QUERYCAP reports as device_caps (capabilities
	// gets it plus V4L2_CAP_DEVICE_CAPS); 0 means video capture and
	// streaming.
	Caps uint32
	// Formats are offered in this order; nil means YUYV and MJPEG.
	Formats []uint32
	// Sizes are the frame sizes offered; VIDIOC_S_FMT picks the nearest.
	// nil means any even size from 16×16 to 1920×1080.
	Sizes [][2]uint32
	// Pad is added to the bytes per line of raw formats.
	Pad uint32
	// MaxBuffers caps the buffers VIDIOC_REQBUFS grants; 0 means 32.
	MaxBuffers uint32
	// NoFrameRate makes the driver refuse frame intervals (no
	// V4L2_CAP_TIMEPERFRAME); MaxFPS caps the frame rate it accepts
	// (0 means 30 Hz).
	NoFrameRate bool
	MaxFPS      float64
	// JPEG holds the frames of a JPEG or MJPEG stream, played in a loop by
	// the default Fill.
	JPEG [][]byte
	// Fill writes frame seq (counting from 1) in format f into buf and
	// returns its bytesused and extra buffer flags (V4L2_BUF_FLAG_ERROR).
	// nil means FillPattern for raw formats and the JPEG frames.
	Fill func(seq uint32, f v4l2.PixFormat, buf []byte) (bytesUsed int, flags uint32)
	// Timestamps are Mono() at fill time, flagged monotonic, unless
	// NoTimestamps; nil Mono means v4l2.Monotonic.
	Mono         func() time.Duration
	NoTimestamps bool
	// Scribble fills a buffer with 0xEE when it is queued.
	Scribble bool

	mu        sync.Mutex
	wake      chan struct{} // closed and replaced on a change, when waiters > 0
	waiters   int           // Polls waiting on wake
	gen       int           // plug generation; handles of older ones are dead
	unplugged bool
	paused    bool
	unplugAt  uint32 // unplug instead of delivering this frame (0: never)
	awayFor   int    // failed opens after which UnplugAt's unplug ends
	seq       uint32
	skip      uint32
	fails     map[uintptr][]error
	st        Stats
}

// Stats counts what the driver has seen.
type Stats struct {
	Opens, FailedOpens int // successful and failed Open calls
	Open               int // handles open now
	Mapped             int // buffers mapped now
	StreamOns          int
	StreamOffs         int
	Frames             int // buffers filled and dequeued
	Requeued           int // VIDIOC_QBUF after VIDIOC_STREAMON
	Dequeued           int // buffers out of the driver's hands now
	LastFormat         v4l2.PixFormat
	LastBuffers        int     // buffers granted by the last VIDIOC_REQBUFS
	LastFPS            float64 // set by the last VIDIOC_S_PARM
}

func (d *Driver) init() {
	if d.wake == nil {
		d.wake = make(chan struct{})
		d.fails = map[uintptr][]error{}
	}
}

// Open opens the node; it fails with ENOENT while the driver is unplugged.
func (d *Driver) Open(path string) (v4l2.Device, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.init()
	if d.unplugged {
		d.st.FailedOpens++
		if d.awayFor > 0 {
			if d.awayFor--; d.awayFor == 0 {
				d.replug()
			}
		}
		return nil, &pathError{path, syscall.ENOENT}
	}
	d.st.Opens++
	d.st.Open++
	return &Device{d: d, gen: d.gen}, nil
}

type pathError struct {
	path string
	err  error
}

func (e *pathError) Error() string { return "open " + e.path + ": " + e.err.Error() }
func (e *pathError) Unwrap() error { return e.err }

// Stats returns the counters.
func (d *Driver) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st
}

// Unplug makes open handles fail with ENODEV (Poll reports them ready, as
// the kernel does with POLLERR) and Open fail with ENOENT until Replug.
func (d *Driver) Unplug() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.init()
	d.unplug()
}

func (d *Driver) unplug() {
	d.unplugged = true
	d.gen++
	d.wakeAll()
}

// Replug ends an unplug; handles opened before it stay dead.
func (d *Driver) Replug() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.init()
	d.replug()
}

func (d *Driver) replug() {
	d.unplugged = false
	d.awayFor = 0
	d.wakeAll()
}

// UnplugAt unplugs the driver when frame seq is about to be dequeued (the
// VIDIOC_DQBUF fails with ENODEV) and plugs it back after opens failed
// Open calls.
func (d *Driver) UnplugAt(seq uint32, opens int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.unplugAt, d.awayFor = seq, opens
}

// Pause stops (true) or resumes (false) filling buffers: Poll then times
// out and VIDIOC_DQBUF says EAGAIN.
func (d *Driver) Pause(p bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.init()
	d.paused = p
	d.wakeAll()
}

// Drop makes the driver skip n frames: the sequence number of the next
// frame jumps by n, as when frames are lost for lack of queued buffers.
func (d *Driver) Drop(n uint32) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.skip += n
}

// Fail makes the next calls of ioctl req return errs, one per call, before
// doing anything.
func (d *Driver) Fail(req uintptr, errs ...error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.init()
	d.fails[req] = append(d.fails[req], errs...)
}

func (d *Driver) wakeAll() {
	if d.waiters > 0 {
		close(d.wake)
		d.wake = make(chan struct{})
		d.waiters = 0
	}
}

// Device is an open handle on a Driver.
type Device struct {
	d         *Driver
	gen       int
	closed    bool
	format    v4l2.PixFormat
	bufs      [][]byte
	mapped    []bool
	queue     []uint32 // queued buffers, oldest first
	streaming bool
	fpsNum    uint32
	fpsDen    uint32
}

const offsetStep = 1 << 24 // m.offset of buffer i is i·offsetStep

func (h *Device) dead() bool { return h.gen != h.d.gen }

// Ioctl implements v4l2.Device.
func (h *Device) Ioctl(req uintptr, arg unsafe.Pointer) error {
	d := h.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if h.closed {
		return syscall.EBADF
	}
	if h.dead() {
		return syscall.ENODEV
	}
	if errs := d.fails[req]; len(errs) > 0 {
		d.fails[req] = errs[1:]
		return errs[0]
	}
	switch req {
	case v4l2.VIDIOC_QUERYCAP:
		c := (*v4l2.Capability)(arg)
		*c = v4l2.Capability{}
		copy(c.Driver[:], cmp(d.Name, "v4l2test"))
		copy(c.Card[:], cmp(d.Card, "Fake Camera"))
		copy(c.BusInfo[:], "platform:v4l2test")
		c.Version = 6<<16 | 1<<8
		c.DeviceCaps = d.Caps
		if c.DeviceCaps == 0 {
			c.DeviceCaps = v4l2.V4L2_CAP_VIDEO_CAPTURE | v4l2.V4L2_CAP_STREAMING
		}
		c.Capabilities = c.DeviceCaps | v4l2.V4L2_CAP_DEVICE_CAPS
	case v4l2.VIDIOC_ENUM_FMT:
		f := (*v4l2.FmtDesc)(arg)
		formats := d.formats()
		if f.Type != v4l2.V4L2_BUF_TYPE_VIDEO_CAPTURE || int(f.Index) >= len(formats) {
			return syscall.EINVAL
		}
		f.PixelFormat = formats[f.Index]
		copy(f.Description[:], v4l2.FourCC(f.PixelFormat))
	case v4l2.VIDIOC_G_FMT:
		f := (*v4l2.Format)(arg)
		if f.Type != v4l2.V4L2_BUF_TYPE_VIDEO_CAPTURE {
			return syscall.EINVAL
		}
		f.Pix = h.format
	case v4l2.VIDIOC_S_FMT:
		f := (*v4l2.Format)(arg)
		if f.Type != v4l2.V4L2_BUF_TYPE_VIDEO_CAPTURE {
			return syscall.EINVAL
		}
		if h.bufs != nil {
			return syscall.EBUSY
		}
		f.Pix = d.adjust(f.Pix)
		h.format = f.Pix
		d.st.LastFormat = f.Pix
	case v4l2.VIDIOC_G_PARM, v4l2.VIDIOC_S_PARM:
		p := (*v4l2.StreamParm)(arg)
		if p.Type != v4l2.V4L2_BUF_TYPE_VIDEO_CAPTURE {
			return syscall.EINVAL
		}
		if d.NoFrameRate {
			if req == v4l2.VIDIOC_S_PARM {
				return syscall.ENOTTY
			}
			p.Capture = v4l2.CaptureParm{}
			return nil
		}
		if req == v4l2.VIDIOC_S_PARM {
			t := p.Capture.TimePerFrame
			maxFPS := d.MaxFPS
			if maxFPS == 0 {
				maxFPS = 30
			}
			if t.Numerator == 0 || t.Denominator == 0 || float64(t.Denominator)/float64(t.Numerator) > maxFPS {
				t = v4l2.Fract{Numerator: 1000, Denominator: uint32(math.Round(maxFPS * 1000))}
			}
			h.fpsNum, h.fpsDen = t.Numerator, t.Denominator
			d.st.LastFPS = float64(t.Denominator) / float64(t.Numerator)
		}
		t := v4l2.Fract{Numerator: h.fpsNum, Denominator: h.fpsDen}
		if t.Numerator == 0 {
			t = v4l2.Fract{Numerator: 1, Denominator: 30}
		}
		p.Capture = v4l2.CaptureParm{Capability: v4l2.V4L2_CAP_TIMEPERFRAME, TimePerFrame: t}
	case v4l2.VIDIOC_REQBUFS:
		rb := (*v4l2.RequestBuffers)(arg)
		if rb.Type != v4l2.V4L2_BUF_TYPE_VIDEO_CAPTURE || rb.Memory != v4l2.V4L2_MEMORY_MMAP {
			return syscall.EINVAL
		}
		if h.streaming {
			return syscall.EBUSY
		}
		if h.format.SizeImage == 0 {
			h.format = d.adjust(v4l2.PixFormat{Width: 640, Height: 480, PixelFormat: d.formats()[0]})
		}
		h.unmapAll()
		h.bufs, h.mapped, h.queue = nil, nil, nil
		n := min(rb.Count, cmp(d.MaxBuffers, 32))
		for range n {
			h.bufs = append(h.bufs, make([]byte, h.format.SizeImage))
			h.mapped = append(h.mapped, false)
		}
		rb.Count = n
		d.st.LastBuffers = int(n)
		d.st.Dequeued = int(n)
	case v4l2.VIDIOC_QUERYBUF:
		b := (*v4l2.Buffer)(arg)
		if !h.valid(b) {
			return syscall.EINVAL
		}
		b.Length = uint32(len(h.bufs[b.Index]))
		b.SetOffset(b.Index * offsetStep)
		b.Flags = 0
		if h.mapped[b.Index] {
			b.Flags |= v4l2.V4L2_BUF_FLAG_MAPPED
		}
		if slices.Contains(h.queue, b.Index) {
			b.Flags |= v4l2.V4L2_BUF_FLAG_QUEUED
		}
	case v4l2.VIDIOC_QBUF:
		b := (*v4l2.Buffer)(arg)
		if !h.valid(b) || slices.Contains(h.queue, b.Index) {
			return syscall.EINVAL
		}
		h.queue = append(h.queue, b.Index)
		d.st.Dequeued--
		if h.streaming {
			d.st.Requeued++
		}
		if d.Scribble {
			clear255(h.bufs[b.Index])
		}
		b.Flags = v4l2.V4L2_BUF_FLAG_QUEUED | v4l2.V4L2_BUF_FLAG_MAPPED
		d.wakeAll()
	case v4l2.VIDIOC_DQBUF:
		b := (*v4l2.Buffer)(arg)
		if b.Type != v4l2.V4L2_BUF_TYPE_VIDEO_CAPTURE || b.Memory != v4l2.V4L2_MEMORY_MMAP || !h.streaming {
			return syscall.EINVAL
		}
		if d.unplugAt != 0 && d.seq+1 == d.unplugAt {
			d.unplugAt = 0
			d.unplug()
			return syscall.ENODEV
		}
		if d.paused || len(h.queue) == 0 {
			return syscall.EAGAIN
		}
		i := h.queue[0]
		h.queue = h.queue[:copy(h.queue, h.queue[1:])] // keeps the capacity: no allocation in steady state
		d.st.Dequeued++
		d.seq += 1 + d.skip
		d.skip = 0
		n, flags := d.fill(d.seq, h.format, h.bufs[i])
		*b = v4l2.Buffer{Index: i, Type: b.Type, Memory: b.Memory, BytesUsed: uint32(n), Field: v4l2.V4L2_FIELD_NONE,
			Flags: flags | v4l2.V4L2_BUF_FLAG_MAPPED | v4l2.V4L2_BUF_FLAG_DONE, Sequence: d.seq - 1, Length: uint32(len(h.bufs[i]))}
		b.SetOffset(i * offsetStep)
		if !d.NoTimestamps {
			mono := d.Mono
			if mono == nil {
				mono = v4l2.Monotonic
			}
			t := mono()
			b.Timestamp = v4l2.Timeval{Sec: int(t / time.Second), Usec: int(t % time.Second / time.Microsecond)}
			b.Flags |= v4l2.V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC
		}
		d.st.Frames++
	case v4l2.VIDIOC_STREAMON, v4l2.VIDIOC_STREAMOFF:
		if *(*int32)(arg) != v4l2.V4L2_BUF_TYPE_VIDEO_CAPTURE {
			return syscall.EINVAL
		}
		if req == v4l2.VIDIOC_STREAMOFF {
			if h.streaming {
				d.st.StreamOffs++
			}
			h.streaming = false
			d.st.Dequeued += len(h.queue)
			h.queue = nil // STREAMOFF hands every buffer back
			return nil
		}
		if len(h.bufs) == 0 {
			return syscall.EINVAL
		}
		if !h.streaming {
			d.st.StreamOns++
		}
		h.streaming = true
	default:
		return syscall.ENOTTY
	}
	return nil
}

func (h *Device) valid(b *v4l2.Buffer) bool {
	return b.Type == v4l2.V4L2_BUF_TYPE_VIDEO_CAPTURE && b.Memory == v4l2.V4L2_MEMORY_MMAP && int(b.Index) < len(h.bufs)
}

func (d *Driver) formats() []uint32 {
	if d.Formats == nil {
		return []uint32{v4l2.V4L2_PIX_FMT_YUYV, v4l2.V4L2_PIX_FMT_MJPEG}
	}
	return d.Formats
}

// adjust picks the format the driver would set for a request.
func (d *Driver) adjust(p v4l2.PixFormat) v4l2.PixFormat {
	if !slices.Contains(d.formats(), p.PixelFormat) {
		p.PixelFormat = d.formats()[0]
	}
	w, h := p.Width, p.Height
	if d.Sizes == nil {
		w, h = min(max(w, 16), 1920)&^1, min(max(h, 16), 1080)&^1
	} else {
		best := -1.0
		for _, s := range d.Sizes {
			dist := math.Abs(float64(s[0])-float64(w)) + math.Abs(float64(s[1])-float64(h))
			if best < 0 || dist < best {
				best, p.Width, p.Height = dist, s[0], s[1]
			}
		}
		w, h = p.Width, p.Height
	}
	out := v4l2.PixFormat{Width: w, Height: h, PixelFormat: p.PixelFormat, Field: v4l2.V4L2_FIELD_NONE}
	switch p.PixelFormat {
	case v4l2.V4L2_PIX_FMT_YUYV:
		out.BytesPerLine = 2*w + d.Pad
		out.SizeImage = out.BytesPerLine * h
	case v4l2.V4L2_PIX_FMT_RGB24:
		out.BytesPerLine = 3*w + d.Pad
		out.SizeImage = out.BytesPerLine * h
	case v4l2.V4L2_PIX_FMT_GREY:
		out.BytesPerLine = w + d.Pad
		out.SizeImage = out.BytesPerLine * h
	case v4l2.V4L2_PIX_FMT_YUV420, v4l2.V4L2_PIX_FMT_NV12:
		out.BytesPerLine = w + d.Pad
		out.SizeImage = out.BytesPerLine * h * 3 / 2
	default: // compressed
		out.SizeImage = max(w*h, 4096)
		for _, j := range d.JPEG {
			out.SizeImage = max(out.SizeImage, uint32(len(j)))
		}
	}
	return out
}

func (d *Driver) fill(seq uint32, f v4l2.PixFormat, buf []byte) (int, uint32) {
	if d.Fill != nil {
		return d.Fill(seq, f, buf)
	}
	switch f.PixelFormat {
	case v4l2.V4L2_PIX_FMT_MJPEG, v4l2.V4L2_PIX_FMT_JPEG:
		if len(d.JPEG) == 0 {
			return 0, v4l2.V4L2_BUF_FLAG_ERROR
		}
		return copy(buf, d.JPEG[(seq-1)%uint32(len(d.JPEG))]), 0
	}
	return FillPattern(seq, f, buf), 0
}

// FillPattern writes frame seq of a raw format into buf, with every plane
// laid out as the V4L2 single-planar formats are (chroma rows of I420 at
// half the bytes per line, NV12's at the full), and returns its size.
// Pixel bytes are Pattern values; padding bytes are 0xAA.
func FillPattern(seq uint32, f v4l2.PixFormat, buf []byte) int {
	bpl, w, h := int(f.BytesPerLine), int(f.Width), int(f.Height)
	plane := func(off, rows, stride, rowBytes, p int) int {
		for y := range rows {
			row := buf[off+y*stride : off+(y+1)*stride]
			for x := range row {
				row[x] = 0xAA
				if x < rowBytes {
					row[x] = Pattern(seq, p, x, y)
				}
			}
		}
		return off + rows*stride
	}
	switch f.PixelFormat {
	case v4l2.V4L2_PIX_FMT_YUV420:
		n := plane(0, h, bpl, w, 0)
		n = plane(n, (h+1)/2, bpl/2, (w+1)/2, 1)
		return plane(n, (h+1)/2, bpl/2, (w+1)/2, 2)
	case v4l2.V4L2_PIX_FMT_NV12:
		n := plane(0, h, bpl, w, 0)
		return plane(n, (h+1)/2, bpl, 2*((w+1)/2), 1)
	}
	return plane(0, h, bpl, w*bytesPerPixel(f.PixelFormat), 0)
}

func bytesPerPixel(pf uint32) int {
	switch pf {
	case v4l2.V4L2_PIX_FMT_YUYV:
		return 2
	case v4l2.V4L2_PIX_FMT_RGB24:
		return 3
	}
	return 1
}

// Pattern is the byte at column x (in bytes) and row y of plane p of
// frame seq that FillPattern writes.
func Pattern(seq uint32, p, x, y int) byte {
	return byte(x + 3*y + 17*int(seq) + 101*p)
}

func clear255(b []byte) {
	for i := range b {
		b[i] = 0xEE
	}
}

func (h *Device) unmapAll() {
	for i, m := range h.mapped {
		if m {
			h.mapped[i] = false
			h.d.st.Mapped--
		}
	}
}

// Mmap implements v4l2.Device.
func (h *Device) Mmap(offset int64, length int) ([]byte, error) {
	d := h.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if h.closed {
		return nil, syscall.EBADF
	}
	if h.dead() {
		return nil, syscall.ENODEV
	}
	i := int(offset / offsetStep)
	if offset%offsetStep != 0 || i >= len(h.bufs) || length > len(h.bufs[i]) || length <= 0 {
		return nil, syscall.EINVAL
	}
	if !h.mapped[i] {
		h.mapped[i] = true
		d.st.Mapped++
	}
	return h.bufs[i][:length:length], nil
}

// Munmap implements v4l2.Device. Unmapping works on dead handles too.
func (h *Device) Munmap(b []byte) error {
	d := h.d
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, buf := range h.bufs {
		if len(b) > 0 && len(buf) > 0 && &buf[0] == &b[0] && h.mapped[i] {
			h.mapped[i] = false
			d.st.Mapped--
			return nil
		}
	}
	return syscall.EINVAL
}

// Poll implements v4l2.Device: ready at once when a buffer can be filled,
// or the handle is dead or not streaming (POLLERR); else it waits for a
// change up to timeout.
func (h *Device) Poll(timeout time.Duration) (bool, error) {
	d := h.d
	var t *time.Timer
	for {
		d.mu.Lock()
		if h.closed {
			d.mu.Unlock()
			return false, syscall.EBADF
		}
		if h.dead() || !h.streaming || (!d.paused && len(h.queue) > 0) || len(d.fails[v4l2.VIDIOC_DQBUF]) > 0 {
			d.mu.Unlock()
			if t != nil {
				t.Stop()
			}
			return true, nil
		}
		wake := d.wake
		d.waiters++
		d.mu.Unlock()
		if t == nil {
			t = time.NewTimer(timeout)
		}
		select {
		case <-wake:
		case <-t.C:
			return false, nil
		}
	}
}

// Close implements v4l2.Device; like the kernel it stops streaming and
// frees the buffers of the handle.
func (h *Device) Close() error {
	d := h.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if h.closed {
		return syscall.EBADF
	}
	h.closed = true
	h.streaming = false
	h.unmapAll()
	d.st.Dequeued = 0
	d.st.Open--
	return nil
}

func cmp[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
