package camera

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// ErrBadFrame is wrapped by the errors MJPEGSplitter.Next returns for one
// broken or oversized frame; the splitter stays usable and the next call
// continues with the following frame.
var ErrBadFrame = errors.New("bad frame")

// mjpegBufSize is the splitter's read buffer, in bytes.
const mjpegBufSize = 64 << 10

// MJPEGSplitter cuts a stream of concatenated JPEG files (an MJPEG file,
// the body of a multipart HTTP stream, the output of a camera tool) into
// single JPEG frames.
//
// It follows the JPEG marker structure rather than searching for byte
// pairs: marker segments (APPn with EXIF thumbnails that hold their own
// SOI/EOI, DQT, DHT, SOF, SOS headers) are skipped by their length, 0xFF
// fill bytes before a marker are dropped, and inside entropy-coded data
// 0xFF00 (stuffing) and RSTn are data while any other marker ends the scan.
// Bytes between frames are skipped.
//
// The splitter owns a fixed 64 KiB read buffer; frames are appended to a
// caller-provided buffer, so reading a stream does not allocate once that
// buffer is large enough.
type MJPEGSplitter struct {
	r        io.Reader
	maxFrame int
	buf      []byte
	rp, wp   int   // unread data is buf[rp:wp]
	off      int64 // stream offset of buf[0]
	err      error // sticky read error
	drop     bool  // the current frame is over maxFrame and is being skipped
	discard  bool  // walk frames without keeping their bytes (checkJPEG)
}

// NewMJPEGSplitter returns a splitter reading from r that refuses frames
// larger than maxFrame bytes (maxFrame <= 0 means 32 MiB).
func NewMJPEGSplitter(r io.Reader, maxFrame int) *MJPEGSplitter {
	return newMJPEGSplitter(r, maxFrame, mjpegBufSize)
}

// newMJPEGSplitter is NewMJPEGSplitter with a read buffer of bufSize bytes
// (at least 8: the splitter looks at up to 4 bytes at once); tests use small
// buffers to cross buffer boundaries everywhere.
func newMJPEGSplitter(r io.Reader, maxFrame, bufSize int) *MJPEGSplitter {
	if maxFrame <= 0 {
		maxFrame = defaultMaxFrame
	}
	return &MJPEGSplitter{r: r, maxFrame: maxFrame, buf: make([]byte, max(bufSize, 8))}
}

// Reset makes s read from r as if new, keeping its buffer.
func (s *MJPEGSplitter) Reset(r io.Reader) {
	s.r, s.rp, s.wp, s.off, s.err, s.drop = r, 0, 0, 0, nil, false
}

// Next returns the next complete JPEG frame, from its SOI (FFD8) through
// its EOI (FFD9), appended to dst[:0]; the result aliases dst when dst has
// the capacity.
//
// At the end of the stream it returns io.EOF (junk after the last frame is
// ignored) or io.ErrUnexpectedEOF when the last frame is cut short. A frame
// larger than the limit or with a broken marker structure gives an error
// wrapping ErrBadFrame; call Next again to go on with the next frame. Read
// errors other than io.EOF are returned as they are and are sticky.
func (s *MJPEGSplitter) Next(dst []byte) ([]byte, error) {
	dst = dst[:0]
	if err := s.findSOI(); err != nil {
		return dst, err
	}
	frame, err := s.frame(dst)
	if err == errRestart {
		return dst, fmt.Errorf("camera: mjpeg: frame cut short by a new SOI at offset %d: %w", s.off+int64(s.rp), ErrBadFrame)
	}
	return frame, err
}

// errRestart reports an SOI inside a frame; s.rp is left at that SOI.
var errRestart = errors.New("restart")

// fill reads more data, keeping buf[rp:wp]. It returns io.EOF (or the read
// error) when nothing more arrives.
func (s *MJPEGSplitter) fill() error {
	if s.err != nil {
		return s.err
	}
	if s.rp > 0 {
		n := copy(s.buf, s.buf[s.rp:s.wp])
		s.off += int64(s.rp)
		s.rp, s.wp = 0, n
	}
	for tries := 0; tries < 100; tries++ {
		n, err := s.r.Read(s.buf[s.wp:])
		if n < 0 || n > len(s.buf)-s.wp {
			s.err = fmt.Errorf("camera: mjpeg: reader returned invalid count %d", n)
			return s.err
		}
		s.wp += n
		if err != nil {
			s.err = err
			if n > 0 {
				return nil
			}
			return err
		}
		if n > 0 {
			return nil
		}
	}
	s.err = io.ErrNoProgress
	return s.err
}

// ensure makes n bytes available at buf[rp:] (n is small), returning
// io.ErrUnexpectedEOF when the stream ends first.
func (s *MJPEGSplitter) ensure(n int) error {
	for s.wp-s.rp < n {
		if err := s.fill(); err != nil {
			if err == io.EOF {
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// findSOI skips to the next FFD8, leaving rp on it.
func (s *MJPEGSplitter) findSOI() error {
	for {
		i := bytes.IndexByte(s.buf[s.rp:s.wp], 0xFF)
		switch {
		case i < 0:
			s.rp = s.wp
		case s.rp+i+1 < s.wp:
			s.rp += i
			if s.buf[s.rp+1] == 0xD8 {
				return nil
			}
			s.rp++
			continue
		default: // 0xFF is the last byte: keep it
			s.rp += i
		}
		if err := s.fill(); err != nil {
			if err == io.ErrUnexpectedEOF {
				err = io.EOF
			}
			return err
		}
	}
}

// add appends p to the frame, or switches to dropping it when it would
// grow past maxFrame.
func (s *MJPEGSplitter) add(dst, p []byte) []byte {
	if s.drop || s.discard {
		return dst
	}
	if len(dst)+len(p) > s.maxFrame {
		s.drop = true
		return dst[:0]
	}
	return append(dst, p...)
}

// copyN moves n bytes of the stream into the frame.
func (s *MJPEGSplitter) copyN(dst []byte, n int) ([]byte, error) {
	for n > 0 {
		if s.rp == s.wp {
			if err := s.ensure(1); err != nil {
				return dst, err
			}
		}
		k := min(n, s.wp-s.rp)
		dst = s.add(dst, s.buf[s.rp:s.rp+k])
		s.rp += k
		n -= k
	}
	return dst, nil
}

// frame reads one frame whose SOI is at rp.
func (s *MJPEGSplitter) frame(dst []byte) ([]byte, error) {
	s.drop = false
	start := s.off + int64(s.rp)
	dst = s.add(dst, s.buf[s.rp:s.rp+2])
	s.rp += 2
	for {
		// At a marker: 0xFF, optional 0xFF fill bytes, the marker code.
		if err := s.ensure(2); err != nil {
			return dst[:0], err
		}
		if s.buf[s.rp] != 0xFF {
			return dst[:0], fmt.Errorf("camera: mjpeg: frame at offset %d: want a marker at offset %d, found 0x%02x: %w",
				start, s.off+int64(s.rp), s.buf[s.rp], ErrBadFrame)
		}
		if s.buf[s.rp+1] == 0xFF {
			s.rp++ // fill byte
			continue
		}
		m := s.buf[s.rp+1]
		switch {
		case m == 0xD8:
			return dst[:0], errRestart
		case m == 0xD9:
			dst = s.add(dst, s.buf[s.rp:s.rp+2])
			s.rp += 2
			if s.drop {
				return dst[:0], fmt.Errorf("camera: mjpeg: frame at offset %d is larger than %d bytes: %w", start, s.maxFrame, ErrBadFrame)
			}
			return dst, nil
		case m == 0x01 || (m >= 0xD0 && m <= 0xD7):
			// TEM and RSTn stand alone.
			dst = s.add(dst, s.buf[s.rp:s.rp+2])
			s.rp += 2
			continue
		case m == 0x00:
			return dst[:0], fmt.Errorf("camera: mjpeg: frame at offset %d: invalid marker 0xff00 at offset %d: %w",
				start, s.off+int64(s.rp), ErrBadFrame)
		}
		// A segment with a length: skip it whole (APPn may hold a thumbnail
		// with its own SOI and EOI).
		if err := s.ensure(4); err != nil {
			return dst[:0], err
		}
		n := int(s.buf[s.rp+2])<<8 | int(s.buf[s.rp+3])
		if n < 2 {
			return dst[:0], fmt.Errorf("camera: mjpeg: frame at offset %d: marker 0xff%02x at offset %d has length %d: %w",
				start, m, s.off+int64(s.rp), n, ErrBadFrame)
		}
		var err error
		if dst, err = s.copyN(dst, 2+n); err != nil {
			return dst[:0], err
		}
		if m == 0xDA {
			if dst, err = s.scan(dst); err != nil {
				return dst[:0], err
			}
		}
	}
}

// scan copies entropy-coded data up to the next marker other than RSTn,
// leaving rp on that marker's 0xFF.
func (s *MJPEGSplitter) scan(dst []byte) ([]byte, error) {
	for {
		i := bytes.IndexByte(s.buf[s.rp:s.wp], 0xFF)
		if i < 0 {
			dst = s.add(dst, s.buf[s.rp:s.wp])
			s.rp = s.wp
			if err := s.ensure(1); err != nil {
				return dst, err
			}
			continue
		}
		dst = s.add(dst, s.buf[s.rp:s.rp+i])
		s.rp += i
		if err := s.ensure(2); err != nil {
			return dst, err
		}
		m := s.buf[s.rp+1]
		if m == 0x00 || (m >= 0xD0 && m <= 0xD7) {
			dst = s.add(dst, s.buf[s.rp:s.rp+2])
			s.rp += 2
			continue
		}
		return dst, nil // a marker (fill bytes are handled by the caller)
	}
}
