package camera

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

const (
	// maxBoundary is the longest multipart boundary honoured, in bytes
	// (RFC 2046 allows 70); a longer one makes the stream read as bare
	// MJPEG.
	maxBoundary = 256
	// maxPartHeaderLines is the most header lines a part may have.
	maxPartHeaderLines = 64
)

// multipartReader reads the JPEG frames of an HTTP MJPEG stream: the body of
// a multipart/x-mixed-replace response, or a bare MJPEG byte stream (which
// it cuts with an MJPEGSplitter).
//
// It is lenient about what cameras actually send. The boundary is matched
// without its leading dashes, so "boundary=--b" and "boundary=b" in the
// header both find "--b" in the body, with or without the line break
// that should come before it; garbage before a boundary is skipped. Part
// headers end at a blank line or where the JPEG starts (FF D8); lines
// end in CRLF or LF, names are matched in any case, and blank lines around
// the headers and before the JPEG are skipped. A part with Content-Length
// is read by its length; one without is read up to the next boundary, and
// the line break and dashes before that boundary are cut off. A body that
// starts with a JPEG instead of a boundary, or shows no boundary within
// its first 64 KiB, is read as bare MJPEG.
//
// Memory is bounded: the reader owns a fixed read buffer, frames are
// appended to a caller-provided buffer and never grow beyond maxFrame
// bytes (a larger part is skipped and reported as ErrBadFrame), and no
// more than maxFrame bytes are passed over looking for a boundary without
// an ErrBadFrame.
type multipartReader struct {
	r        io.Reader
	buf      []byte // fixed; unread data is buf[rp:wp]
	rp, wp   int
	err      error // sticky read error
	maxFrame int

	delim    []byte // the boundary without its leading dashes, in delimBuf
	delimBuf [maxBoundary]byte
	bare     bool           // reading bare MJPEG through sp
	sp       *MJPEGSplitter // made on first use
	rest     restReader     // sp's reader: what buf holds, then r
	seen     bool           // a boundary was seen since Reset
	skip     int64          // bytes of an oversized part left to skip
	scanned  int            // bytes passed over since the last boundary
}

// newMultipartReader returns a reader with a read buffer of bufSize bytes
// (at least 64) that refuses frames larger than maxFrame bytes.
func newMultipartReader(maxFrame, bufSize int) *multipartReader {
	m := &multipartReader{maxFrame: maxFrame, buf: make([]byte, max(bufSize, 64))}
	m.rest.m = m
	return m
}

// Reset makes m read a new stream from r. boundary is the multipart
// boundary from the Content-Type header (see multipartBoundary), with or
// without leading dashes; "" means the stream is bare MJPEG.
func (m *multipartReader) Reset(r io.Reader, boundary string) {
	m.r, m.rp, m.wp, m.err = r, 0, 0, nil
	m.seen, m.skip, m.scanned = false, 0, 0
	boundary = strings.TrimLeft(boundary, "-")
	m.bare = false
	if boundary == "" || len(boundary) > maxBoundary || len(boundary) > len(m.buf)/2 {
		m.delim = m.delimBuf[:0]
		m.toBare()
		return
	}
	m.delim = append(m.delimBuf[:0], boundary...)
}

// Multipart reports whether m is reading multipart parts (rather than
// bare MJPEG).
func (m *multipartReader) Multipart() bool { return !m.bare }

// restReader reads what m has buffered, then from m's reader.
type restReader struct{ m *multipartReader }

func (r *restReader) Read(p []byte) (int, error) {
	m := r.m
	if m.rp < m.wp {
		n := copy(p, m.buf[m.rp:m.wp])
		m.rp += n
		return n, nil
	}
	if m.err != nil {
		return 0, m.err
	}
	return m.r.Read(p)
}

// toBare switches to reading bare MJPEG from the current position.
func (m *multipartReader) toBare() {
	m.bare = true
	if m.sp == nil {
		m.sp = newMJPEGSplitter(nil, m.maxFrame, len(m.buf))
	}
	m.sp.Reset(&m.rest)
}

// multipartBoundary returns the boundary parameter of an HTTP Content-Type
// header value with its quotes and leading dashes removed, or "" when it
// has none. It reads the parameters leniently (any media type, any case,
// spaces and quotes optional) instead of with mime.ParseMediaType, which
// refuses headers that cameras send.
func multipartBoundary(contentType string) string {
	_, params, _ := strings.Cut(contentType, ";")
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		k, v, ok := strings.Cut(p, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "boundary") {
			continue
		}
		v = strings.TrimSpace(v)
		v = strings.TrimSpace(strings.Trim(v, `"'`))
		return strings.TrimLeft(v, "-")
	}
	return ""
}

// Next returns the next JPEG frame appended to dst[:0] (aliasing dst when
// it has the capacity).
//
// At the end of the stream (or of the multipart body) it returns io.EOF,
// and io.ErrUnexpectedEOF when the stream ends inside a part's data. A part
// that is not a JPEG, is larger than maxFrame, or has a broken header, and
// maxFrame bytes without a boundary, give an error wrapping ErrBadFrame:
// call Next again to go on. Read errors are returned as they are and are
// sticky.
func (m *multipartReader) Next(dst []byte) ([]byte, error) {
	dst = dst[:0]
	for !m.bare {
		err := m.seekBoundary()
		if err == errBare {
			break
		}
		if err != nil {
			return dst, err
		}
		length, err := m.headers()
		if err != nil {
			return dst, err
		}
		if dst, err = m.body(dst, length); err != errEmptyPart {
			return dst, err
		}
	}
	return m.sp.Next(dst)
}

var (
	// errBare reports a switch to bare MJPEG.
	errBare = errors.New("bare")
	// errEmptyPart reports a part without data, which is skipped.
	errEmptyPart = errors.New("empty part")
)

var (
	soi3 = []byte{0xFF, 0xD8, 0xFF}
	eoi  = []byte{0xFF, 0xD9}
)

// fill reads more data, keeping buf[rp:wp]; it returns io.EOF (or the read
// error) when nothing more arrives.
func (m *multipartReader) fill() error {
	if m.err != nil {
		return m.err
	}
	if m.rp > 0 {
		m.wp = copy(m.buf, m.buf[m.rp:m.wp])
		m.rp = 0
	}
	for range 100 {
		n, err := m.r.Read(m.buf[m.wp:])
		if n < 0 || n > len(m.buf)-m.wp {
			m.err = fmt.Errorf("camera: multipart: reader returned invalid count %d", n)
			return m.err
		}
		m.wp += n
		if err != nil {
			m.err = err
			if n > 0 {
				return nil
			}
			return err
		}
		if n > 0 {
			return nil
		}
	}
	m.err = io.ErrNoProgress
	return m.err
}

// seekBoundary skips to just after the next boundary (and the rest of its
// line), returning errBare when the stream turns out to be bare MJPEG.
func (m *multipartReader) seekBoundary() error {
	for m.skip > 0 {
		if m.rp == m.wp {
			if err := m.fill(); err != nil {
				return err
			}
		}
		k := int(min(m.skip, int64(m.wp-m.rp)))
		m.rp += k
		m.skip -= int64(k)
	}
	for {
		win := m.buf[m.rp:m.wp]
		i := bytes.Index(win, m.delim)
		if !m.seen {
			// A JPEG before any boundary: the server sends bare MJPEG
			// whatever its Content-Type says.
			before := win
			if i >= 0 {
				before = win[:i]
			}
			if j := bytes.Index(before, soi3); j >= 0 {
				m.rp += j
				m.toBare()
				return errBare
			}
		}
		if i >= 0 {
			m.rp += i + len(m.delim)
			m.seen, m.scanned = true, 0
			return m.boundaryEnd()
		}
		// Keep what may be the start of a boundary or an SOI.
		k := len(win) - min(len(win), max(len(m.delim)-1, len(soi3)-1))
		m.rp += k
		m.scanned += k
		if !m.seen && m.scanned >= mjpegBufSize {
			m.toBare()
			return errBare
		}
		if m.scanned > m.maxFrame {
			m.scanned = 0
			return fmt.Errorf("camera: multipart: no boundary in %d bytes: %w", m.maxFrame, ErrBadFrame)
		}
		if err := m.fill(); err != nil {
			return err
		}
	}
}

// boundaryEnd reads what follows a boundary: "--" for the last one (the
// end of the body: io.EOF), else blanks up to and including a line break.
func (m *multipartReader) boundaryEnd() error {
	for m.wp-m.rp < 2 {
		if err := m.fill(); err != nil {
			return err
		}
	}
	if m.buf[m.rp] == '-' && m.buf[m.rp+1] == '-' {
		m.err = io.EOF
		return io.EOF
	}
	for {
		for m.rp < m.wp && (m.buf[m.rp] == ' ' || m.buf[m.rp] == '\t' || m.buf[m.rp] == '\r') {
			m.rp++
		}
		if m.rp < m.wp {
			if m.buf[m.rp] == '\n' {
				m.rp++
			}
			return nil
		}
		if err := m.fill(); err != nil {
			return err
		}
	}
}

// line returns the next line, without its LF; it is valid until the next
// read.
func (m *multipartReader) line() ([]byte, error) {
	for {
		if i := bytes.IndexByte(m.buf[m.rp:m.wp], '\n'); i >= 0 {
			l := m.buf[m.rp : m.rp+i]
			m.rp += i + 1
			return l, nil
		}
		if m.wp-m.rp == len(m.buf) {
			return nil, fmt.Errorf("camera: multipart: part header line longer than %d bytes: %w", len(m.buf), ErrBadFrame)
		}
		if err := m.fill(); err != nil {
			return nil, err
		}
	}
}

var headerContentLength = []byte("content-length")

// headers reads a part's header lines, up to a blank line after at least
// one header or up to the JPEG's first bytes, and returns its
// Content-Length (-1 when absent or unreadable). A boundary line among
// them starts the part again.
func (m *multipartReader) headers() (length int64, err error) {
	length = -1
	some := false
	for range maxPartHeaderLines {
		for m.wp-m.rp < 2 {
			if err := m.fill(); err != nil {
				return -1, err
			}
		}
		if m.buf[m.rp] == 0xFF && m.buf[m.rp+1] == 0xD8 {
			return length, nil
		}
		l, err := m.line()
		if err != nil {
			return -1, err
		}
		if i := bytes.Index(l, m.delim); i >= 0 {
			// Another boundary: the part was empty.
			m.rp += i + len(m.delim) - len(l) - 1
			if err := m.boundaryEnd(); err != nil {
				return -1, err
			}
			length, some = -1, false
			continue
		}
		l = bytes.TrimSpace(l)
		if len(l) == 0 {
			if some {
				return length, nil
			}
			continue // blank lines before the headers
		}
		k, v, ok := bytes.Cut(l, []byte{':'})
		if !ok {
			continue // not a header: ignored
		}
		some = true
		if bytes.EqualFold(bytes.TrimSpace(k), headerContentLength) {
			length = parseLength(bytes.TrimSpace(v))
		}
	}
	return -1, fmt.Errorf("camera: multipart: part has more than %d header lines: %w", maxPartHeaderLines, ErrBadFrame)
}

// parseLength parses a decimal Content-Length, returning -1 unless it is
// all digits (at most 18).
func parseLength(b []byte) int64 {
	if len(b) == 0 || len(b) > 18 {
		return -1
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// body reads a part's data into dst: length bytes, or up to the next
// boundary when length is -1. The data must hold a JPEG; bytes before its
// SOI are cut off.
func (m *multipartReader) body(dst []byte, length int64) ([]byte, error) {
	// Line breaks and blanks before the data (a JPEG starts with 0xFF).
	for {
		for m.rp < m.wp && isBlank(m.buf[m.rp]) {
			m.rp++
		}
		if m.rp < m.wp {
			break
		}
		if err := m.fill(); err != nil {
			return dst, unexpected(err)
		}
	}
	if length > int64(m.maxFrame) {
		m.skip = length
		return dst, fmt.Errorf("camera: multipart: part of %d bytes is larger than %d: %w", length, m.maxFrame, ErrBadFrame)
	}
	if length >= 0 {
		n := int(length)
		for len(dst) < n {
			if m.rp == m.wp {
				if err := m.fill(); err != nil {
					return dst[:0], unexpected(err)
				}
			}
			k := min(n-len(dst), m.wp-m.rp)
			dst = append(dst, m.buf[m.rp:m.rp+k]...)
			m.rp += k
		}
	} else {
		for {
			win := m.buf[m.rp:m.wp]
			i := bytes.Index(win, m.delim)
			take := i
			if i < 0 {
				take = len(win) - min(len(win), len(m.delim)-1)
			}
			if len(dst)+take > m.maxFrame {
				m.rp += take
				m.scanned = 0
				return dst[:0], fmt.Errorf("camera: multipart: part larger than %d bytes: %w", m.maxFrame, ErrBadFrame)
			}
			dst = append(dst, win[:take]...)
			m.rp += take
			if i >= 0 {
				break // rp is on the boundary, for the next part
			}
			if err := m.fill(); err != nil {
				// A server that stops without a last boundary: keep
				// the last frame if it is whole.
				if len(dst)+m.wp-m.rp <= m.maxFrame {
					dst = append(dst, m.buf[m.rp:m.wp]...)
					m.rp = m.wp
				}
				dst = bytes.TrimRight(dst, " \t\r\n")
				if err != io.EOF || !bytes.HasSuffix(dst, eoi) {
					return dst[:0], unexpected(err)
				}
				break
			}
		}
		// The boundary's dashes and the line break before it.
		dst = bytes.TrimRight(dst, "-")
		dst = bytes.TrimRight(dst, " \t\r\n")
	}
	if len(dst) == 0 {
		return dst, errEmptyPart
	}
	if len(dst) < 2 || dst[0] != 0xFF || dst[1] != 0xD8 {
		j := bytes.Index(dst, soi3)
		if j < 0 {
			return dst[:0], fmt.Errorf("camera: multipart: part of %d bytes is not a JPEG: %w", len(dst), ErrBadFrame)
		}
		dst = dst[:copy(dst, dst[j:])]
	}
	return dst, nil
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// unexpected turns io.EOF inside a part into io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
