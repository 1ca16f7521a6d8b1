//go:build linux

package camera

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"catd/camera/internal/v4l2"
)

// v4l2Source is the v4l2: source: a V4L2 capture device (a USB webcam, the
// Pi camera module on its legacy bcm2835-v4l2 driver) read through
// memory-mapped buffers.
//
// There is no background goroutine: Next does everything in its caller's.
// It polls the device for at most pollSlice at a time, so that ctx and
// Close are noticed within one slice, dequeues a filled buffer, copies it
// into the caller's Frame and only then requeues it. The copy is the
// consumption of the frame the kernel's API asks for before a buffer is
// given back: once requeued the driver may overwrite it at any moment,
// while the caller's Frame stays the caller's. With n buffers the driver
// fills up to n-1 frames while the caller works on one; when it runs out
// it drops frames, which shows as a gap in Frame.Seq (the driver's own
// sequence numbers are followed).
//
// Any error of the device (ENODEV or EIO after an unplug, a failed poll or
// queue operation) closes it and is logged once; Next then reopens it after
// a delay that doubles from backoffMin to backoffMax, logs the error of a
// failed reopen only when it differs from the previous one, and logs when
// the device is back. The delay drops back to backoffMin once the device
// has delivered frames for resetAfter. A device that is there but sends
// nothing is logged after noFrame and then every noFrameEvery.
//
// Frames the driver flags as broken, raw frames shorter than the format
// says and JPEG frames whose marker structure is broken are counted as
// corrupt, logged (rate-limited) and skipped.
type v4l2Source struct {
	uri  string
	cfg  v4l2Config
	log  zerolog.Logger
	clk  clock
	open func(path string) (v4l2.Device, error)
	mono func() time.Duration // CLOCK_MONOTONIC, the clock of driver timestamps

	mu         sync.Mutex   // held by Next throughout, and by Close to release the device
	st         *v4l2.Stream // nil while the device is away
	geo        v4l2Geometry // of st's format
	seq        uint64       // Seq of the last frame delivered or skipped
	drvSeq     uint32       // the driver's sequence number of the last frame
	synced     bool         // drvSeq belongs to the open device
	firstFrame time.Time    // first frame since the device was opened
	delay      time.Duration
	lostAt     time.Time // when the device was lost
	lastErr    string    // error of the last failed reopen
	attempts   int       // reopen attempts since lostAt
	corrupt    rateLog

	frames, nbad, reopens atomic.Uint64
	done                  chan struct{}
	closeOnce             sync.Once
}

// v4l2Geometry says how a driver's buffer becomes a Frame.
type v4l2Geometry struct {
	format      Format
	w, h        int
	stride      int  // Frame.Stride
	size        int  // len(Frame.Data) for raw formats
	need        int  // bytes a complete raw frame fills in the driver's buffer
	srcStride   int  // the driver's bytes per line
	packed      bool // the buffer's first size bytes are the Frame as is
	chromaRows  int  // I420, NV12: rows of each chroma plane
	chromaBytes int  // I420, NV12: bytes of one chroma row in the Frame
	chromaSrc   int  // I420, NV12: bytes per chroma row in the driver's buffer
}

// v4l2PixelFormats maps a Format to the V4L2 pixel formats that deliver
// it, best first.
func v4l2PixelFormats(f Format) []uint32 {
	switch f {
	case JPEG:
		return []uint32{v4l2.V4L2_PIX_FMT_MJPEG, v4l2.V4L2_PIX_FMT_JPEG}
	case I420:
		return []uint32{v4l2.V4L2_PIX_FMT_YUV420}
	case NV12:
		return []uint32{v4l2.V4L2_PIX_FMT_NV12}
	case RGB24:
		return []uint32{v4l2.V4L2_PIX_FMT_RGB24}
	case Gray8:
		return []uint32{v4l2.V4L2_PIX_FMT_GREY}
	}
	return []uint32{v4l2.V4L2_PIX_FMT_YUYV}
}

// newV4L2Geometry works out the copy of frames of format f as the driver
// set it in p.
func newV4L2Geometry(f Format, p v4l2.PixFormat) (v4l2Geometry, error) {
	g := v4l2Geometry{format: f, w: int(p.Width), h: int(p.Height), srcStride: int(p.BytesPerLine)}
	if f == JPEG {
		return g, nil
	}
	if g.w > maxSide || g.h > maxSide {
		return g, fmt.Errorf("the driver set a frame size of %dx%d, over %d", g.w, g.h, maxSide)
	}
	var rowBytes int
	switch f {
	case YUYV:
		if g.w%2 != 0 {
			return g, fmt.Errorf("the driver set an odd YUYV width of %d", g.w)
		}
		rowBytes = 2 * g.w
	case RGB24:
		rowBytes = 3 * g.w
	default: // Gray8 and the Y plane of I420 and NV12
		rowBytes = g.w
	}
	g.srcStride = max(g.srcStride, rowBytes)
	switch f {
	case I420, NV12:
		g.chromaRows = (g.h + 1) / 2
		g.chromaBytes, g.chromaSrc = (g.w+1)/2, g.srcStride/2
		if f == NV12 {
			g.chromaBytes, g.chromaSrc = 2*((g.w+1)/2), g.srcStride
		}
		if g.chromaSrc < g.chromaBytes {
			return g, fmt.Errorf("the driver set %d bytes per line for a %s width of %d", g.srcStride, f, g.w)
		}
		planes := 2
		if f == NV12 {
			planes = 1
		}
		g.stride = g.w
		g.size = g.w*g.h + planes*g.chromaRows*g.chromaBytes
		g.need = g.srcStride*g.h + planes*g.chromaRows*g.chromaSrc
		g.packed = g.srcStride == g.w && g.chromaSrc == g.chromaBytes
	default:
		g.stride = g.srcStride
		g.size = g.srcStride * g.h
		g.need = g.size
		g.packed = true
	}
	return g, nil
}

// copyFrame copies a complete raw frame from the driver's buffer src into
// dst (len g.size), repacking planar formats whose rows are padded.
func (g *v4l2Geometry) copyFrame(dst, src []byte) {
	if g.packed {
		copy(dst, src[:g.size])
		return
	}
	d, s := copyRows(dst, src, g.h, g.w, g.srcStride)
	planes := 2
	if g.format == NV12 {
		planes = 1
	}
	for range planes {
		dd, ss := copyRows(dst[d:], src[s:], g.chromaRows, g.chromaBytes, g.chromaSrc)
		d, s = d+dd, s+ss
	}
}

// copyRows copies rows of rowBytes bytes, srcStride apart in src, to dst
// without gaps, and returns the bytes used in each.
func copyRows(dst, src []byte, rows, rowBytes, srcStride int) (int, int) {
	for y := range rows {
		copy(dst[y*rowBytes:(y+1)*rowBytes], src[y*srcStride:y*srcStride+rowBytes])
	}
	return rows * rowBytes, rows * srcStride
}

func openV4L2(uri string, c v4l2Config, log zerolog.Logger) (Source, error) {
	s := newV4L2Source(uri, c, log, realClock(), openV4L2Device, v4l2.Monotonic)
	if err := s.start(); err != nil {
		return nil, err
	}
	return s, nil
}

func openV4L2Device(path string) (v4l2.Device, error) {
	d, err := v4l2.Open(path)
	if err != nil {
		return nil, err
	}
	return d, nil
}

func newV4L2Source(uri string, c v4l2Config, log zerolog.Logger, clk clock,
	open func(string) (v4l2.Device, error), mono func() time.Duration) *v4l2Source {
	return &v4l2Source{
		uri: uri, cfg: c, log: log, clk: clk, open: open, mono: mono,
		delay:   c.backoffMin,
		corrupt: rateLog{log: log, every: corruptLogEvery, now: clk.Now},
		done:    make(chan struct{}),
	}
}

func (s *v4l2Source) String() string { return s.uri }

func (s *v4l2Source) Stats() Stats {
	return Stats{Frames: s.frames.Load(), Corrupt: s.nbad.Load()}
}

// Close stops streaming, unmaps the buffers and closes the device. A Next
// blocked in another goroutine returns ErrClosed within one poll slice
// (50 ms), and Close waits for it.
func (s *v4l2Source) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.done)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.st != nil {
			err = s.st.Close()
			s.st = nil
		}
	})
	return err
}

// maxSpurious is how many times in a row poll may report the device
// ready while VIDIOC_DQBUF has no buffer before the device counts as
// broken.
const maxSpurious = 1000

// Next implements Source. In steady state it does not allocate for raw
// formats.
func (s *v4l2Source) Next(ctx context.Context, f *Frame) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var waited time.Duration
	nextLog := s.cfg.noFrame
	spurious := 0
	for {
		select {
		case <-s.done:
			return ErrClosed
		default:
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if s.st == nil {
			if err := s.reopen(ctx); err != nil {
				return err
			}
			continue
		}
		ready, err := s.st.Poll(s.cfg.pollSlice)
		if err != nil {
			s.lose(fmt.Errorf("poll: %w", err))
			continue
		}
		if !ready {
			if waited += s.cfg.pollSlice; waited >= nextLog {
				nextLog += s.cfg.noFrameEvery
				s.log.Warn().Str("source", s.uri).Dur("waited", waited).Msg("camera: no frame from the device")
			}
			continue
		}
		fr, ok, err := s.st.Dequeue()
		if err != nil {
			s.lose(err)
			continue
		}
		if !ok {
			if spurious++; spurious >= maxSpurious {
				s.lose(errors.New("poll keeps reporting the device ready, but it has no buffer"))
			}
			continue
		}
		spurious = 0
		seq := s.advance(fr.Sequence)
		err = s.deliver(f, fr)
		// The frame is in f (or skipped): the buffer can go back.
		if qerr := s.st.Requeue(fr.Index); qerr != nil {
			s.lose(qerr)
		}
		if err != nil {
			s.corrupt.corrupt(&s.nbad, s.uri, seq, err)
			continue
		}
		f.Seq, f.Time = seq, s.frameTime(fr)
		if s.firstFrame.IsZero() {
			s.firstFrame = s.clk.Now()
		}
		s.frames.Add(1)
		return nil
	}
}

// deliver copies frame fr into f, or says why it is corrupt.
func (s *v4l2Source) deliver(f *Frame, fr v4l2.Frame) error {
	if fr.Flags&v4l2.V4L2_BUF_FLAG_ERROR != 0 {
		return errors.New("the driver flagged the frame as broken (V4L2_BUF_FLAG_ERROR)")
	}
	g := &s.geo
	if g.format == JPEG {
		if int(fr.BytesUsed) > len(fr.Data) {
			return fmt.Errorf("bytesused %d is over the buffer's %d bytes", fr.BytesUsed, len(fr.Data))
		}
		data := fr.Data
		for len(data) > 2 && data[len(data)-1] == 0 { // some cameras pad frames with zeros
			data = data[:len(data)-1]
		}
		if err := checkJPEG(data); err != nil {
			return err
		}
		f.Data = InsertHuffmanTables(f.Data, data)
		f.Format, f.W, f.H, f.Stride = JPEG, 0, 0, 0
		return nil
	}
	if int(fr.BytesUsed) < g.need || len(fr.Data) < g.need {
		return fmt.Errorf("short frame: %d of %d bytes", fr.BytesUsed, g.need)
	}
	f.Data = resize(f.Data, g.size)
	g.copyFrame(f.Data, fr.Data)
	f.Format, f.W, f.H, f.Stride = g.format, g.w, g.h, g.stride
	return nil
}

// advance returns the Seq of the frame the driver numbered drv.
func (s *v4l2Source) advance(drv uint32) uint64 {
	step := uint64(1)
	if d := drv - s.drvSeq; s.synced && d >= 1 && d <= 1<<16 {
		step = uint64(d)
	}
	s.drvSeq, s.synced = drv, true
	s.seq += step
	return s.seq
}

// frameTime returns when fr was captured: the driver's timestamp when it is
// on the monotonic clock (and recent), else now.
func (s *v4l2Source) frameTime(fr v4l2.Frame) time.Time {
	now := s.clk.Now()
	if fr.Flags&v4l2.V4L2_BUF_FLAG_TIMESTAMP_MASK == v4l2.V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC && fr.Timestamp > 0 {
		if age := s.mono() - fr.Timestamp; age >= 0 && age < time.Minute {
			return now.Add(-age)
		}
	}
	return now
}

// start opens the device and starts streaming.
func (s *v4l2Source) start() error {
	dev, err := s.open(s.cfg.path)
	if err != nil {
		return err
	}
	c := v4l2.Config{
		Width: uint32(s.cfg.w), Height: uint32(s.cfg.h),
		PixelFormats: v4l2PixelFormats(s.cfg.format),
		FPS:          s.cfg.fps, Buffers: s.cfg.buffers,
	}
	st, err := v4l2.Start(dev, c)
	if err != nil {
		dev.Close()
		return fmt.Errorf("%s: %w", s.cfg.path, err)
	}
	g, err := newV4L2Geometry(s.cfg.format, st.Format)
	if err == nil && st.BufferLen() < g.need {
		err = fmt.Errorf("the driver's buffers hold %d bytes, a %dx%d %s frame needs %d", st.BufferLen(), g.w, g.h, s.cfg.format, g.need)
	}
	if err != nil {
		st.Close()
		return fmt.Errorf("%s: %w", s.cfg.path, err)
	}
	s.st, s.geo, s.synced, s.firstFrame = st, g, false, time.Time{}
	ev := s.log.Info().Str("source", s.uri).Str("driver", st.Driver()).Str("card", st.Card()).
		Str("pixel_format", v4l2.FourCC(st.Format.PixelFormat)).Int("w", g.w).Int("h", g.h).
		Int("buffers", st.Buffers())
	if g.format != JPEG {
		ev = ev.Int("stride", g.srcStride)
	}
	if st.FPS > 0 {
		ev = ev.Float64("fps", st.FPS)
	}
	ev.Msg("camera: streaming")
	if g.w != s.cfg.w || g.h != s.cfg.h {
		s.log.Info().Str("source", s.uri).Int("w", g.w).Int("h", g.h).Int("asked_w", s.cfg.w).Int("asked_h", s.cfg.h).
			Msg("camera: the driver chose another frame size")
	}
	if st.Buffers() < s.cfg.buffers {
		s.log.Info().Str("source", s.uri).Int("buffers", st.Buffers()).Int("asked", s.cfg.buffers).
			Msg("camera: the driver granted fewer buffers")
	}
	if st.FPSErr != nil {
		s.log.Info().Str("source", s.uri).Float64("fps", s.cfg.fps).Err(st.FPSErr).Msg("camera: frame rate not set")
	}
	return nil
}

// lose closes the device after err.
func (s *v4l2Source) lose(err error) {
	now := s.clk.Now()
	if !s.firstFrame.IsZero() && now.Sub(s.firstFrame) >= s.cfg.resetAfter {
		s.delay = s.cfg.backoffMin
	}
	if cerr := s.st.Close(); cerr != nil {
		s.log.Debug().Str("source", s.uri).Err(cerr).Msg("camera: closing the lost device")
	}
	s.st, s.synced, s.firstFrame = nil, false, time.Time{}
	s.lostAt, s.lastErr, s.attempts = now, "", 0
	s.log.Warn().Str("source", s.uri).Err(err).Dur("retry_in", s.delay).Msg("camera: device lost, reopening")
}

// reopen waits for the current delay and tries to open the device once.
// It returns an error only for ctx or Close.
func (s *v4l2Source) reopen(ctx context.Context) error {
	if err := s.clk.Sleep(ctx, s.done, s.delay); err != nil {
		return err
	}
	s.delay = min(2*s.delay, s.cfg.backoffMax)
	s.attempts++
	s.reopens.Add(1)
	if err := s.start(); err != nil {
		if msg := err.Error(); msg != s.lastErr {
			s.lastErr = msg
			s.log.Warn().Str("source", s.uri).Err(err).Int("attempt", s.attempts).Dur("retry_in", s.delay).
				Msg("camera: device not back yet")
		}
		return nil
	}
	s.log.Info().Str("source", s.uri).Dur("away", s.clk.Now().Sub(s.lostAt)).Int("attempts", s.attempts).
		Msg("camera: device back")
	return nil
}
