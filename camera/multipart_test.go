package camera

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// part formats one multipart part: the boundary line as given, the header
// lines (with "%d" replaced by len(data)), and the data.
func part(sep, nl string, headers []string, data []byte) []byte {
	var b bytes.Buffer
	b.WriteString(sep + nl)
	for _, h := range headers {
		if strings.Contains(h, "%d") {
			h = fmt.Sprintf(h, len(data))
		}
		b.WriteString(h + nl)
	}
	b.WriteString(nl)
	b.Write(data)
	return b.Bytes()
}

// multipartCase is a response body and what reading it must give.
type multipartCase struct {
	name        string
	contentType string
	body        []byte
	want        []int // indices into the frames given to the case builder
	bad         int   // ErrBadFrame results; -1: at least one
	end         error // the error that ends the stream
	multipart   bool  // read as multipart (not bare MJPEG) at the end
}

// multipartCases returns the quirks table over frames fr (3 small JPEGs)
// and big (a JPEG larger than the maxFrame the tests use, multipartMax).
func multipartCases(fr [][]byte, big []byte) []multipartCase {
	const esp = "123456789000000000000987654321"
	cl := "Content-Length: %d"
	jpegCT := "Content-Type: image/jpeg"
	var (
		espBody, rfc, dashed, dashed4, noCRLF, noCRLFLen, lf, anyCase, blanks, noHeaders, noBlank []byte
		garbage, bare, notJPEG, hugeLen, hugeScan, emptyParts, noLenLF                            []byte
	)
	for _, f := range fr {
		espBody = concat(espBody, []byte("\r\n"), part("--"+esp, "\r\n", []string{jpegCT, cl, "X-Timestamp: 12.345678"}, f))
		rfc = concat(rfc, part("--frame", "\r\n", []string{jpegCT}, f), []byte("\r\n"))
		dashed = concat(dashed, part("--myboundary", "\r\n", []string{jpegCT, cl}, f), []byte("\r\n"))
		dashed4 = concat(dashed4, part("----myboundary", "\r\n", []string{jpegCT, cl}, f), []byte("\r\n"))
		noCRLF = concat(noCRLF, part("--frame", "\r\n", []string{jpegCT}, f))
		noCRLFLen = concat(noCRLFLen, part("--frame", "\r\n", []string{jpegCT, cl}, f))
		lf = concat(lf, part("--frame", "\n", []string{jpegCT, cl}, f), []byte("\n"))
		noLenLF = concat(noLenLF, part("--frame", "\n", []string{jpegCT}, f), []byte("\n"))
		anyCase = concat(anyCase, part("--frame  ", "\r\n", []string{"content-TYPE:image/jpeg", "CONTENT-LENGTH :   %d  ", "x-junk"}, f), []byte("\r\n\r\n"))
		blanks = concat(blanks, []byte("--frame\r\n\r\n\r\n"+jpegCT+"\r\n"+fmt.Sprintf(cl, len(f))+"\r\n\r\n\r\n \r\n"), f, []byte("\r\n\r\n"))
		noHeaders = concat(noHeaders, []byte("--frame\r\n\r\n"), f, []byte("\r\n"))
		noBlank = concat(noBlank, []byte("--frame\r\n"+jpegCT+"\r\n"), f, []byte("\r\n"))
		garbage = concat(garbage, []byte("junk \x00\xff\xd9 more junk\r\n\r\n"), part("--frame", "\r\n", []string{jpegCT, cl}, f), []byte("\xff\x00garbage"))
		bare = concat(bare, f, []byte("\r\n"))
		emptyParts = concat(emptyParts, []byte("--frame\r\n--frame\r\n"+jpegCT+"\r\n\r\n--frame\r\n"), part("--frame", "\r\n", []string{jpegCT}, f))
	}
	notJPEG = concat(part("--frame", "\r\n", []string{"Content-Type: text/plain", cl}, []byte("hello")), part("--frame", "\r\n", []string{jpegCT, cl}, fr[0]),
		part("--frame", "\r\n", []string{jpegCT}, []byte("not a jpeg either")), part("--frame", "\r\n", []string{jpegCT}, fr[1]))
	hugeLen = concat(part("--frame", "\r\n", []string{jpegCT, cl}, fr[0]), part("--frame", "\r\n", []string{jpegCT, cl}, big),
		part("--frame", "\r\n", []string{jpegCT, cl}, fr[1]))
	hugeScan = concat(part("--frame", "\r\n", []string{jpegCT}, fr[0]), part("--frame", "\r\n", []string{jpegCT}, big),
		part("--frame", "\r\n", []string{jpegCT}, fr[1]), []byte("\r\n--frame--\r\n"))
	neverBoundary := concat(part("--frame", "\r\n", []string{jpegCT, cl}, fr[0]), part("--frame", "\r\n", []string{jpegCT}, fr[1]),
		bytes.Repeat([]byte("no boundary here "), 3*multipartMax/17))
	p1 := part("--frame", "\r\n", []string{jpegCT, cl}, fr[1])
	truncated := concat(part("--frame", "\r\n", []string{jpegCT, cl}, fr[0]), p1[:len(p1)-40])
	p2 := part("--frame", "\r\n", []string{jpegCT}, fr[1])
	truncatedScan := concat(part("--frame", "\r\n", []string{jpegCT}, fr[0]), p2[:len(p2)-40])
	mp := "multipart/x-mixed-replace; boundary=frame"
	return []multipartCase{
		{"esp32-cam", "multipart/x-mixed-replace;boundary=" + esp, espBody, []int{0, 1, 2}, 0, io.EOF, true},
		{"rfc without content-length", mp, concat(rfc, []byte("--frame--\r\n")), []int{0, 1, 2}, 0, io.EOF, true},
		{"declared with dashes", "multipart/x-mixed-replace;boundary=--myboundary", dashed, []int{0, 1, 2}, 0, io.EOF, true},
		{"declared with dashes, rfc body", "multipart/x-mixed-replace; boundary=--myboundary", dashed4, []int{0, 1, 2}, 0, io.EOF, true},
		{"declared without dashes", "multipart/x-mixed-replace; boundary=myboundary", dashed, []int{0, 1, 2}, 0, io.EOF, true},
		{"quoted", `multipart/x-mixed-replace; boundary="frame"`, noCRLFLen, []int{0, 1, 2}, 0, io.EOF, true},
		{"sloppy parameters", `Multipart/X-Mixed-Replace ;charset=x; BOUNDARY = 'frame' ;`, noCRLFLen, []int{0, 1, 2}, 0, io.EOF, true},
		{"no CRLF before boundary", mp, noCRLF, []int{0, 1, 2}, 0, io.EOF, true},
		{"no CRLF before boundary, content-length", mp, noCRLFLen, []int{0, 1, 2}, 0, io.EOF, true},
		{"LF only", mp, lf, []int{0, 1, 2}, 0, io.EOF, true},
		{"LF only without content-length", mp, concat(noLenLF, []byte("--frame--\n")), []int{0, 1, 2}, 0, io.EOF, true},
		{"header case and blanks", mp, anyCase, []int{0, 1, 2}, 0, io.EOF, true},
		{"blank lines", mp, blanks, []int{0, 1, 2}, 0, io.EOF, true},
		{"no headers", mp, concat(noHeaders, []byte("--frame--")), []int{0, 1, 2}, 0, io.EOF, true},
		{"no blank line after headers", mp, concat(noBlank, []byte("--frame--")), []int{0, 1, 2}, 0, io.EOF, true},
		{"garbage between parts", mp, garbage, []int{0, 1, 2}, 0, io.EOF, true},
		{"empty parts", mp, concat(emptyParts, []byte("\r\n--frame--\r\n")), []int{0, 1, 2}, 0, io.EOF, true},
		{"bare mjpeg", "image/jpeg", bare, []int{0, 1, 2}, 0, io.EOF, false},
		{"no content type", "", bare, []int{0, 1, 2}, 0, io.EOF, false},
		{"multipart without boundary", "multipart/x-mixed-replace", rfc, []int{0, 1, 2}, 0, io.EOF, false},
		{"multipart header, bare body", mp, bare, []int{0, 1, 2}, 0, io.EOF, false},
		{"other boundary in body", "multipart/x-mixed-replace; boundary=declared", dashed, []int{0, 1, 2}, 0, io.EOF, false},
		{"not a jpeg", mp, notJPEG, []int{0, 1}, 2, io.EOF, true},
		{"huge part with content-length", mp, hugeLen, []int{0, 1}, 1, io.EOF, true},
		{"huge part without content-length", mp, hugeScan, []int{0, 1}, 1, io.EOF, true},
		{"boundary never comes", mp, neverBoundary, []int{0}, -1, io.EOF, true},
		{"cut in a part", mp, truncated, []int{0}, 0, io.ErrUnexpectedEOF, true},
		{"cut in a part without content-length", mp, truncatedScan, []int{0}, 0, io.ErrUnexpectedEOF, true},
		{"cut in the headers", mp, concat(part("--frame", "\r\n", []string{jpegCT}, fr[0]), []byte("--frame\r\nContent-Ty")), []int{0}, 0, io.EOF, true},
		{"empty body", mp, nil, nil, 0, io.EOF, true},
		{"closing boundary", mp, []byte("--frame--\r\n"), nil, 0, io.EOF, true},
	}
}

// multipartMax is the maxFrame of the parser tests, in bytes.
const multipartMax = 8 << 10

func testFrames(t testing.TB) (fr [][]byte, big []byte) {
	fr = [][]byte{makeJPEG(t, 32, 24, 1), makeJPEG(t, 40, 16, 2), makeJPEG(t, 24, 24, 3)}
	big = makeJPEG(t, 256, 256, 4)
	if len(big) <= multipartMax {
		t.Fatalf("big frame is %d bytes, want more than %d", len(big), multipartMax)
	}
	return fr, big
}

// readAll reads frames until an error other than ErrBadFrame.
func readAll(m *multipartReader) (frames [][]byte, bad int, err error) {
	var buf []byte
	for {
		f, err := m.Next(buf)
		if errors.Is(err, ErrBadFrame) {
			bad++
			continue
		}
		if err != nil {
			return frames, bad, err
		}
		frames = append(frames, bytes.Clone(f))
		buf = f
	}
}

func TestMultipartQuirks(t *testing.T) {
	fr, big := testFrames(t)
	readers := []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{
		{"whole", func(r io.Reader) io.Reader { return r }},
		{"one byte", iotest.OneByteReader},
		{"half", iotest.HalfReader},
		{"data+EOF", iotest.DataErrReader},
	}
	for _, tc := range multipartCases(fr, big) {
		for _, rd := range readers {
			for _, bufSize := range []int{64, 333, mjpegBufSize} {
				t.Run(fmt.Sprintf("%s/%s/%d", tc.name, rd.name, bufSize), func(t *testing.T) {
					m := newMultipartReader(multipartMax, bufSize)
					m.Reset(rd.wrap(bytes.NewReader(tc.body)), multipartBoundary(tc.contentType))
					frames, bad, err := readAll(m)
					if err != tc.end {
						t.Errorf("stream ended with %v, want %v", err, tc.end)
					}
					if len(frames) != len(tc.want) {
						t.Fatalf("%d frames, want %d", len(frames), len(tc.want))
					}
					for i, k := range tc.want {
						if !bytes.Equal(frames[i], fr[k]) {
							t.Errorf("frame %d: %d bytes, want frame %d (%d bytes)", i, len(frames[i]), k, len(fr[k]))
						}
					}
					if (tc.bad >= 0 && bad != tc.bad) || (tc.bad < 0 && bad == 0) {
						t.Errorf("%d bad frames, want %d", bad, tc.bad)
					}
					if m.Multipart() != tc.multipart {
						t.Errorf("Multipart() = %v, want %v", m.Multipart(), tc.multipart)
					}
				})
			}
		}
	}
}

func TestMultipartBoundary(t *testing.T) {
	for _, tc := range []struct{ ct, want string }{
		{"multipart/x-mixed-replace;boundary=123456789000000000000987654321", "123456789000000000000987654321"},
		{"multipart/x-mixed-replace; boundary=--myboundary", "myboundary"},
		{`multipart/x-mixed-replace; boundary="--my boundary"`, "my boundary"},
		{"multipart/x-mixed-replace ; charset=utf-8 ; Boundary = frame ;", "frame"},
		{"multipart/x-mixed-replace", ""},
		{"multipart/x-mixed-replace; boundary=", ""},
		{"multipart/x-mixed-replace; boundary=----", ""},
		{"image/jpeg", ""},
		{"", ""},
	} {
		if got := multipartBoundary(tc.ct); got != tc.want {
			t.Errorf("multipartBoundary(%q) = %q, want %q", tc.ct, got, tc.want)
		}
	}
}

// loopReader repeats data without end.
type loopReader struct {
	data []byte
	off  int
}

func (r *loopReader) Read(p []byte) (int, error) {
	n := copy(p, r.data[r.off:])
	r.off = (r.off + n) % len(r.data)
	return n, nil
}

func TestMultipartAllocs(t *testing.T) {
	fr, _ := testFrames(t)
	for _, tc := range []struct {
		name, ct string
		stream   []byte
	}{
		{"content-length", "multipart/x-mixed-replace; boundary=frame",
			concat(part("\r\n--frame", "\r\n", []string{"Content-Type: image/jpeg", "Content-Length: %d"}, fr[0]))},
		{"scan", "multipart/x-mixed-replace; boundary=frame", concat(part("\r\n--frame", "\r\n", []string{"Content-Type: image/jpeg"}, fr[0]))},
		{"bare", "image/jpeg", fr[0]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMultipartReader(multipartMax, mjpegBufSize)
			m.Reset(&loopReader{data: tc.stream}, multipartBoundary(tc.ct))
			buf, err := m.Next(nil)
			if err != nil {
				t.Fatal(err)
			}
			allocs := testing.AllocsPerRun(200, func() {
				if buf, err = m.Next(buf); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("%v allocations per frame, want 0", allocs)
			}
			if !bytes.Equal(buf, fr[0]) {
				t.Error("wrong frame")
			}
		})
	}
}

func BenchmarkMultipart(b *testing.B) {
	for _, size := range []int{64, 320, 640} {
		frame := makeJPEG(b, size, size*3/4, 1)
		for _, mode := range []string{"content-length", "scan"} {
			headers := []string{"Content-Type: image/jpeg"}
			if mode == "content-length" {
				headers = append(headers, "Content-Length: %d")
			}
			stream := part("\r\n--123456789000000000000987654321", "\r\n", headers, frame)
			b.Run(fmt.Sprintf("%dx%d/%s", size, size*3/4, mode), func(b *testing.B) {
				m := newMultipartReader(defaultHTTPMaxFrame, mjpegBufSize)
				m.Reset(&loopReader{data: stream}, "123456789000000000000987654321")
				var buf []byte
				b.SetBytes(int64(len(stream)))
				b.ReportAllocs()
				for b.Loop() {
					var err error
					if buf, err = m.Next(buf); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// FuzzMultipart reads random response bodies under random Content-Types:
// no panic, no frame over the limit, no buffer growing past it, and every
// call makes progress.
func FuzzMultipart(f *testing.F) {
	fr, big := testFrames(f)
	for _, tc := range multipartCases(fr, big) {
		if len(tc.body) < 4096 {
			f.Add(tc.contentType, tc.body, uint8(64))
		}
	}
	f.Add("multipart/x-mixed-replace; boundary=b", []byte("--b\r\nContent-Length: 99999999999999999999\r\n\r\n\xff\xd8"), uint8(0))
	f.Add("multipart/x-mixed-replace; boundary=b", []byte("--b\n\n\xff\xd8\xff\xd9--b--"), uint8(1))
	const max = 2048
	f.Fuzz(func(t *testing.T, ct string, body []byte, bufSize uint8) {
		m := newMultipartReader(max, 64+int(bufSize))
		m.Reset(iotest.HalfReader(bytes.NewReader(body)), multipartBoundary(ct))
		var buf []byte
		for calls := 0; ; calls++ {
			if calls > 2*len(body)+10 {
				t.Fatalf("%d calls to Next for %d bytes", calls, len(body))
			}
			f, err := m.Next(buf)
			if len(f) > max {
				t.Fatalf("frame of %d bytes, limit %d", len(f), max)
			}
			if cap(f) > 4*max || len(m.buf) != 64+int(bufSize) {
				t.Fatalf("buffers grew: frame capacity %d, read buffer %d", cap(f), len(m.buf))
			}
			if err == nil && (len(f) < 2 || f[0] != 0xFF || f[1] != 0xD8) {
				t.Fatalf("frame does not start with SOI: % x", f[:min(len(f), 8)])
			}
			buf = f
			if err != nil && !errors.Is(err, ErrBadFrame) {
				return
			}
		}
	})
}
