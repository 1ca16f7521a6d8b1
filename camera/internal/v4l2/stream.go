//go:build linux

package v4l2

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// Config is what Start asks a driver for.
type Config struct {
	Width, Height uint32 // pixels; the driver may pick the nearest size it has
	// PixelFormats are the acceptable formats, best first. Start asks for
	// the first one the driver lists in VIDIOC_ENUM_FMT (the first one
	// outright if it lists none of them) and fails if the driver sets a
	// format not in the list.
	PixelFormats []uint32
	// FPS is the frame rate to ask for with VIDIOC_S_PARM, in Hz; 0 keeps
	// the driver's.
	FPS float64
	// Buffers is how many buffers to ask for; the driver may grant fewer
	// or more.
	Buffers int
}

// Stream is a capture stream of memory-mapped buffers on a Device.
//
// Start leaves every buffer queued and the stream on. Dequeue hands out a
// filled buffer, whose memory the caller reads before giving it back with
// Requeue; the driver cannot fill it again in between. A Stream is used by
// one goroutine at a time.
type Stream struct {
	// Cap is the driver's VIDIOC_QUERYCAP answer.
	Cap Capability
	// Format is the format the driver set: its size and bytes per line may
	// differ from the ones asked for.
	Format PixFormat
	// FPS is the frame rate the driver reports after VIDIOC_S_PARM, in Hz
	// (0 when unknown or not asked for); FPSErr says why it could not be
	// set, or is nil.
	FPS    float64
	FPSErr error

	dev       Device
	bufs      [][]byte // mapped buffers, by index
	b         Buffer   // argument of QBUF and DQBUF, kept here so they do not allocate
	streaming bool
}

// Frame is one dequeued buffer. Data is the driver's memory, valid until
// the buffer is requeued.
type Frame struct {
	Index     uint32
	Data      []byte // the buffer's first BytesUsed bytes (at most the whole buffer)
	BytesUsed uint32 // as the driver reported it, which may exceed len(Data) if the driver is broken
	Flags     uint32 // V4L2_BUF_FLAG_*
	Sequence  uint32 // the driver's frame counter
	// Timestamp is the driver's capture time; with
	// V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC in Flags it is on the
	// CLOCK_MONOTONIC scale (see Monotonic).
	Timestamp time.Duration
}

// ErrNotCapture is wrapped by the error Start returns for a node that is
// not a single-planar streaming capture device.
var ErrNotCapture = errors.New("not a V4L2 video capture device with streaming I/O")

// Start sets dev up for capture: VIDIOC_QUERYCAP, VIDIOC_S_FMT,
// VIDIOC_S_PARM when c.FPS is set, VIDIOC_REQBUFS and VIDIOC_QUERYBUF with
// mmap for each buffer, VIDIOC_QBUF for all and VIDIOC_STREAMON. On error it
// releases what it set up, except dev, which the caller closes.
func Start(dev Device, c Config) (*Stream, error) {
	if len(c.PixelFormats) == 0 {
		panic("v4l2: Start without pixel formats")
	}
	s := &Stream{dev: dev}
	if err := dev.Ioctl(VIDIOC_QUERYCAP, unsafe.Pointer(&s.Cap)); err != nil {
		if err == syscall.ENOTTY || err == syscall.EINVAL {
			return nil, fmt.Errorf("VIDIOC_QUERYCAP: %w: %w", ErrNotCapture, err)
		}
		return nil, fmt.Errorf("VIDIOC_QUERYCAP: %w", err)
	}
	caps := s.Cap.Caps()
	if caps&V4L2_CAP_VIDEO_CAPTURE == 0 || caps&V4L2_CAP_STREAMING == 0 {
		if caps&V4L2_CAP_VIDEO_CAPTURE_MPLANE != 0 && caps&V4L2_CAP_STREAMING != 0 {
			return nil, fmt.Errorf("driver %s (%s) offers only multi-planar capture, which is not supported: %w",
				s.Driver(), s.Card(), ErrNotCapture)
		}
		return nil, fmt.Errorf("driver %s (%s), capabilities %#x: %w", s.Driver(), s.Card(), caps, ErrNotCapture)
	}
	if err := s.setFormat(c); err != nil {
		return nil, err
	}
	if c.FPS > 0 {
		s.FPSErr = s.setFPS(c.FPS)
	}
	if err := s.mapBuffers(c.Buffers); err != nil {
		s.release()
		return nil, err
	}
	for i := range s.bufs {
		if err := s.Requeue(uint32(i)); err != nil {
			s.release()
			return nil, err
		}
	}
	typ := int32(V4L2_BUF_TYPE_VIDEO_CAPTURE)
	if err := dev.Ioctl(VIDIOC_STREAMON, unsafe.Pointer(&typ)); err != nil {
		s.release()
		return nil, fmt.Errorf("VIDIOC_STREAMON: %w", err)
	}
	s.streaming = true
	return s, nil
}

// Formats lists the pixel formats the driver offers for capture
// (VIDIOC_ENUM_FMT); nil if it lists none.
func Formats(dev Device) []uint32 {
	var list []uint32
	for i := uint32(0); i < 256; i++ {
		d := FmtDesc{Index: i, Type: V4L2_BUF_TYPE_VIDEO_CAPTURE}
		if dev.Ioctl(VIDIOC_ENUM_FMT, unsafe.Pointer(&d)) != nil {
			break
		}
		list = append(list, d.PixelFormat)
	}
	return list
}

func (s *Stream) setFormat(c Config) error {
	offered := Formats(s.dev)
	want := c.PixelFormats[0]
	for _, pf := range c.PixelFormats {
		if slices.Contains(offered, pf) {
			want = pf
			break
		}
	}
	f := Format{Type: V4L2_BUF_TYPE_VIDEO_CAPTURE}
	f.Pix = PixFormat{Width: c.Width, Height: c.Height, PixelFormat: want, Field: V4L2_FIELD_NONE}
	if err := s.dev.Ioctl(VIDIOC_S_FMT, unsafe.Pointer(&f)); err != nil {
		return fmt.Errorf("VIDIOC_S_FMT %s %dx%d: %w", FourCC(want), c.Width, c.Height, err)
	}
	if !slices.Contains(c.PixelFormats, f.Pix.PixelFormat) {
		return fmt.Errorf("driver set format %s when asked for %s (it offers %s)",
			FourCC(f.Pix.PixelFormat), FourCC(want), formatList(offered))
	}
	if f.Pix.Width == 0 || f.Pix.Height == 0 {
		return fmt.Errorf("driver set a frame size of %dx%d", f.Pix.Width, f.Pix.Height)
	}
	s.Format = f.Pix
	return nil
}

func formatList(l []uint32) string {
	if len(l) == 0 {
		return "no list"
	}
	names := make([]string, len(l))
	for i, pf := range l {
		names[i] = FourCC(pf)
	}
	return strings.Join(names, ", ")
}

// setFPS asks for a frame interval of 1/fps s, as a fraction with a
// denominator of up to 1000·fps.
func (s *Stream) setFPS(fps float64) error {
	p := StreamParm{Type: V4L2_BUF_TYPE_VIDEO_CAPTURE}
	if err := s.dev.Ioctl(VIDIOC_G_PARM, unsafe.Pointer(&p)); err != nil {
		return fmt.Errorf("VIDIOC_G_PARM: %w", err)
	}
	if p.Capture.Capability&V4L2_CAP_TIMEPERFRAME == 0 {
		return errors.New("the driver does not take a frame rate")
	}
	num, den := uint32(1000), uint32(max(1, math.Round(fps*1000)))
	g := gcd(num, den)
	num, den = num/g, den/g
	p.Capture.TimePerFrame = Fract{Numerator: num, Denominator: den}
	if err := s.dev.Ioctl(VIDIOC_S_PARM, unsafe.Pointer(&p)); err != nil {
		return fmt.Errorf("VIDIOC_S_PARM %d/%d s: %w", num, den, err)
	}
	if t := p.Capture.TimePerFrame; t.Numerator != 0 {
		s.FPS = float64(t.Denominator) / float64(t.Numerator)
	}
	return nil
}

func (s *Stream) mapBuffers(n int) error {
	rb := RequestBuffers{Count: uint32(n), Type: V4L2_BUF_TYPE_VIDEO_CAPTURE, Memory: V4L2_MEMORY_MMAP}
	if err := s.dev.Ioctl(VIDIOC_REQBUFS, unsafe.Pointer(&rb)); err != nil {
		return fmt.Errorf("VIDIOC_REQBUFS %d: %w", n, err)
	}
	if rb.Count == 0 {
		return fmt.Errorf("VIDIOC_REQBUFS %d: the driver granted no buffers", n)
	}
	if rb.Count > 64 {
		return fmt.Errorf("VIDIOC_REQBUFS %d: the driver granted %d buffers", n, rb.Count)
	}
	s.bufs = make([][]byte, 0, rb.Count)
	for i := range rb.Count {
		b := Buffer{Index: i, Type: V4L2_BUF_TYPE_VIDEO_CAPTURE, Memory: V4L2_MEMORY_MMAP}
		if err := s.dev.Ioctl(VIDIOC_QUERYBUF, unsafe.Pointer(&b)); err != nil {
			return fmt.Errorf("VIDIOC_QUERYBUF %d: %w", i, err)
		}
		if b.Length == 0 {
			return fmt.Errorf("VIDIOC_QUERYBUF %d: buffer of 0 bytes", i)
		}
		m, err := s.dev.Mmap(int64(b.Offset()), int(b.Length))
		if err != nil {
			return fmt.Errorf("mmap buffer %d (%d bytes): %w", i, b.Length, err)
		}
		s.bufs = append(s.bufs, m)
	}
	return nil
}

// Buffers returns how many buffers the driver granted.
func (s *Stream) Buffers() int { return len(s.bufs) }

// BufferLen returns the size in bytes of the smallest buffer.
func (s *Stream) BufferLen() int {
	n := math.MaxInt
	for _, b := range s.bufs {
		n = min(n, len(b))
	}
	return n
}

// Poll waits up to timeout for a filled buffer (see Device.Poll).
func (s *Stream) Poll(timeout time.Duration) (bool, error) { return s.dev.Poll(timeout) }

// Dequeue takes the oldest filled buffer from the driver (VIDIOC_DQBUF).
// ok is false, with a nil error, when none is ready yet (EAGAIN). The
// buffer stays out of the driver's queue until Requeue. Dequeue does not
// allocate.
func (s *Stream) Dequeue() (f Frame, ok bool, err error) {
	s.b = Buffer{Type: V4L2_BUF_TYPE_VIDEO_CAPTURE, Memory: V4L2_MEMORY_MMAP}
	if err := s.dev.Ioctl(VIDIOC_DQBUF, unsafe.Pointer(&s.b)); err != nil {
		if err == syscall.EAGAIN {
			return f, false, nil
		}
		return f, false, fmt.Errorf("VIDIOC_DQBUF: %w", err)
	}
	if int(s.b.Index) >= len(s.bufs) {
		return f, false, fmt.Errorf("VIDIOC_DQBUF: the driver returned buffer %d of %d", s.b.Index, len(s.bufs))
	}
	buf := s.bufs[s.b.Index]
	f = Frame{
		Index:     s.b.Index,
		Data:      buf[:min(int(s.b.BytesUsed), len(buf))],
		BytesUsed: s.b.BytesUsed,
		Flags:     s.b.Flags,
		Sequence:  s.b.Sequence,
		Timestamp: time.Duration(s.b.Timestamp.Sec)*time.Second + time.Duration(s.b.Timestamp.Usec)*time.Microsecond,
	}
	return f, true, nil
}

// Requeue gives buffer i back to the driver (VIDIOC_QBUF). It does not
// allocate unless it fails.
func (s *Stream) Requeue(i uint32) error {
	s.b = Buffer{Index: i, Type: V4L2_BUF_TYPE_VIDEO_CAPTURE, Memory: V4L2_MEMORY_MMAP}
	if err := s.dev.Ioctl(VIDIOC_QBUF, unsafe.Pointer(&s.b)); err != nil {
		return fmt.Errorf("VIDIOC_QBUF %d: %w", i, err)
	}
	return nil
}

// Close stops the stream (VIDIOC_STREAMOFF), unmaps and frees the buffers
// and closes the device. Errors of the ioctls are ignored (after an unplug
// they all fail); those of munmap and close are returned.
func (s *Stream) Close() error {
	err := s.release()
	return errors.Join(err, s.dev.Close())
}

func (s *Stream) release() error {
	if s.streaming {
		typ := int32(V4L2_BUF_TYPE_VIDEO_CAPTURE)
		s.dev.Ioctl(VIDIOC_STREAMOFF, unsafe.Pointer(&typ))
		s.streaming = false
	}
	var errs []error
	for i, b := range s.bufs {
		if err := s.dev.Munmap(b); err != nil {
			errs = append(errs, fmt.Errorf("munmap buffer %d: %w", i, err))
		}
	}
	if s.bufs != nil {
		s.bufs = nil
		rb := RequestBuffers{Type: V4L2_BUF_TYPE_VIDEO_CAPTURE, Memory: V4L2_MEMORY_MMAP}
		s.dev.Ioctl(VIDIOC_REQBUFS, unsafe.Pointer(&rb))
	}
	return errors.Join(errs...)
}

func gcd(a, b uint32) uint32 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// cstr returns a NUL-terminated C string as a Go string.
func cstr(b []byte) string {
	if i := slices.Index(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// Driver returns the driver's name from VIDIOC_QUERYCAP ("uvcvideo").
func (s *Stream) Driver() string { return cstr(s.Cap.Driver[:]) }

// Card returns the device's name from VIDIOC_QUERYCAP.
func (s *Stream) Card() string { return cstr(s.Cap.Card[:]) }
