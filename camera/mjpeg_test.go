package camera

import (
	"bytes"
	"errors"
	"fmt"
	"image/jpeg"
	"io"
	"testing"
	"testing/iotest"
)

// splitAll runs a splitter to the end and returns its frames and the
// errors between them (nil entries for frames).
func splitAll(t testing.TB, r io.Reader, maxFrame, bufSize int) (frames [][]byte, errs []error) {
	sp := newMJPEGSplitter(r, maxFrame, bufSize)
	var buf []byte
	for i := 0; ; i++ {
		if i > 1000 {
			t.Fatal("splitter does not end")
		}
		frame, err := sp.Next(buf)
		if err == io.EOF {
			return frames, errs
		}
		if err != nil {
			errs = append(errs, err)
			if !errors.Is(err, ErrBadFrame) {
				return frames, errs
			}
			continue
		}
		frames = append(frames, bytes.Clone(frame))
		errs = append(errs, nil)
		buf = frame
	}
}

// exifJPEG returns main with an APP1 segment holding thumb (a whole JPEG
// with its own SOI and EOI) after the SOI.
func exifJPEG(main, thumb []byte) []byte {
	payload := concat([]byte("Exif\x00\x00"), thumb)
	n := len(payload) + 2
	return concat(main[:2], []byte{0xFF, 0xE1, byte(n >> 8), byte(n)}, payload, main[2:])
}

// inScan returns an offset in the middle of j's entropy-coded data.
func inScan(j []byte) int {
	sos := bytes.Index(j, []byte{0xFF, 0xDA})
	return sos + (len(j)-sos)/2
}

// stripDHT removes the DHT segments of a JPEG header.
func stripDHT(t testing.TB, j []byte) []byte {
	t.Helper()
	out := append([]byte(nil), j[:2]...)
	i := 2
	for {
		m := j[i+1]
		if m == 0xDA {
			return append(out, j[i:]...)
		}
		n := int(j[i+2])<<8 | int(j[i+3])
		if m != 0xC4 {
			out = append(out, j[i:i+2+n]...)
		}
		i += 2 + n
	}
}

func TestMJPEGSplitter(t *testing.T) {
	a, b, c := makeJPEG(t, 32, 24, 1), makeJPEG(t, 48, 40, 2), makeJPEG(t, 16, 16, 3)
	big := makeJPEG(t, 256, 256, 4)
	thumb := makeJPEG(t, 8, 8, 5)
	withExif := exifJPEG(a, thumb)
	padded := concat(b[:2], []byte{0xFF, 0xFF, 0xFF}, b[2:]) // fill bytes before the first marker
	boundary := []byte("\r\n--frame\r\nContent-Type: image/jpeg\r\n\r\n")
	bad := errors.New("bad") // stands for "an error wrapping ErrBadFrame"
	tests := []struct {
		name     string
		stream   []byte
		maxFrame int
		want     []any // []byte for a frame, bad, or io.ErrUnexpectedEOF; io.EOF is implied at the end
	}{
		{"empty", nil, 0, nil},
		{"junk only", []byte("no frames \xff\x00\xff here \xff"), 0, nil},
		{"one", a, 0, []any{a}},
		{"concatenated", concat(a, b, c), 0, []any{a, b, c}},
		{"junk between", concat([]byte("\x00\xffjunk"), a, boundary, b, []byte("\xff\xff\xd9"), boundary, c, []byte("tail\xff")), 0, []any{a, b, c}},
		{"exif thumbnail", concat(withExif, b), 0, []any{withExif, b}},
		{"fill bytes dropped", concat(padded, a), 0, []any{b, a}},
		{"truncated tail", concat(a, b, c[:len(c)/2]), 0, []any{a, b, io.ErrUnexpectedEOF}},
		{"truncated in header", concat(a, c[:5]), 0, []any{a, io.ErrUnexpectedEOF}},
		{"cut short by new SOI", concat(a, b[:inScan(b)], c), 0, []any{a, bad, c}},
		{"too large skipped", concat(a, big, c), len(a) + 10, []any{a, bad, c}},
		{"too large exif skipped whole", concat(exifJPEG(big, thumb), c), len(c) + len(thumb), []any{bad, c}},
		{"broken marker", concat([]byte{0xFF, 0xD8, 0x12, 0x34}, a), 0, []any{bad, a}},
		{"zero length segment", concat([]byte{0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x01}, a), 0, []any{bad, a}},
		{"header-only frame", []byte{0xFF, 0xD8, 0xFF, 0xD9}, 0, []any{[]byte{0xFF, 0xD8, 0xFF, 0xD9}}},
	}
	readers := []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{
		{"whole", func(r io.Reader) io.Reader { return r }},
		{"one byte", iotest.OneByteReader},
		{"half", iotest.HalfReader},
		{"data+EOF", iotest.DataErrReader},
	}
	for _, tc := range tests {
		for _, rd := range readers {
			for _, bufSize := range []int{mjpegBufSize, 8} {
				t.Run(fmt.Sprintf("%s/%s/buf%d", tc.name, rd.name, bufSize), func(t *testing.T) {
					frames, errs := splitAll(t, rd.wrap(bytes.NewReader(tc.stream)), tc.maxFrame, bufSize)
					if len(errs) != len(tc.want) {
						t.Fatalf("got %d results %v, want %d", len(errs), errs, len(tc.want))
					}
					fi := 0
					for i, w := range tc.want {
						switch w := w.(type) {
						case []byte:
							if errs[i] != nil {
								t.Fatalf("result %d: %v, want a frame", i, errs[i])
							}
							if !bytes.Equal(frames[fi], w) {
								t.Fatalf("result %d: frame of %d bytes differs from the %d bytes expected", i, len(frames[fi]), len(w))
							}
							fi++
						case error:
							if w == bad {
								if !errors.Is(errs[i], ErrBadFrame) {
									t.Fatalf("result %d: %v, want ErrBadFrame", i, errs[i])
								}
							} else if errs[i] != w {
								t.Fatalf("result %d: %v, want %v", i, errs[i], w)
							}
						}
					}
				})
			}
		}
	}
}

func TestMJPEGSplitterExifDecodes(t *testing.T) {
	j := exifJPEG(makeJPEG(t, 32, 24, 1), makeJPEG(t, 8, 8, 2))
	frame, err := NewMJPEGSplitter(bytes.NewReader(j), 0).Next(nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := jpeg.Decode(bytes.NewReader(frame))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Bounds().Dx(); got != 32 {
		t.Errorf("decoded width %d, want 32 (the main image, not the thumbnail)", got)
	}
}

func TestMJPEGSplitterReadError(t *testing.T) {
	boom := errors.New("boom")
	a := makeJPEG(t, 16, 16, 1)
	sp := NewMJPEGSplitter(io.MultiReader(bytes.NewReader(a), iotest.ErrReader(boom)), 0)
	if _, err := sp.Next(nil); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := sp.Next(nil); err != boom {
			t.Fatalf("got %v, want the sticky read error", err)
		}
	}
}

func TestMJPEGSplitterAllocs(t *testing.T) {
	a := makeJPEG(t, 64, 48, 1)
	stream := bytes.Repeat(a, 4)
	r := bytes.NewReader(stream)
	sp := NewMJPEGSplitter(r, 0)
	buf := make([]byte, 0, len(a))
	allocs := testing.AllocsPerRun(100, func() {
		frame, err := sp.Next(buf)
		if err == io.EOF {
			r.Reset(stream)
			sp.Reset(r)
			frame, err = sp.Next(buf)
		}
		if err != nil || len(frame) != len(a) {
			t.Fatalf("Next: %d bytes, %v", len(frame), err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per frame, want 0", allocs)
	}
}

// FuzzMJPEG checks that the splitter never panics, never returns a frame
// that does not run from FFD8 to FFD9 or is over the limit, always ends,
// and returns the same results however the stream is chunked by reads.
func FuzzMJPEG(f *testing.F) {
	a, b := makeJPEG(f, 16, 8, 1), makeJPEG(f, 8, 8, 2)
	f.Add(concat(a, b), uint16(0), uint8(0))
	f.Add(concat([]byte("junk\xff"), a, []byte("\xff\xd9\xff"), b[:len(b)/2]), uint16(300), uint8(3))
	f.Add(exifJPEG(a, b), uint16(0), uint8(1))
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xFF, 0xDA, 0x00, 0x02, 0xFF, 0x00, 0xFF, 0xD0, 0xFF, 0xFF, 0xD9}, uint16(0), uint8(7))
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xD8, 0xFF, 0xD9}, uint16(5), uint8(2))
	f.Fuzz(func(t *testing.T, stream []byte, maxFrame uint16, chunk uint8) {
		limit := int(maxFrame)
		if limit == 0 {
			limit = 1 << 20
		}
		type result struct {
			frame []byte
			err   string
		}
		run := func(r io.Reader, bufSize int) []result {
			sp := newMJPEGSplitter(r, limit, bufSize)
			var out []result
			var buf []byte
			for i := 0; ; i++ {
				if i > len(stream)+2 {
					t.Fatalf("splitter returned %d results from %d bytes", i, len(stream))
				}
				frame, err := sp.Next(buf)
				if err == io.EOF {
					return out
				}
				if err != nil {
					if len(frame) != 0 {
						t.Fatalf("error %v with a %d-byte frame", err, len(frame))
					}
					out = append(out, result{err: err.Error()})
					if errors.Is(err, ErrBadFrame) {
						continue
					}
					if err != io.ErrUnexpectedEOF {
						t.Fatalf("unexpected error %v", err)
					}
					if _, err := sp.Next(buf); err != io.EOF {
						t.Fatalf("after ErrUnexpectedEOF: %v, want io.EOF", err)
					}
					return out
				}
				if len(frame) < 4 || frame[0] != 0xFF || frame[1] != 0xD8 || frame[len(frame)-2] != 0xFF || frame[len(frame)-1] != 0xD9 {
					t.Fatalf("frame % x does not run from FFD8 to FFD9", frame)
				}
				if len(frame) > limit {
					t.Fatalf("frame of %d bytes over the limit %d", len(frame), limit)
				}
				out = append(out, result{frame: bytes.Clone(frame)})
				buf = frame
			}
		}
		whole := run(bytes.NewReader(stream), 4096)
		chunked := run(&chunkReader{data: stream, n: int(chunk%16) + 1}, 8+int(chunk/16))
		if fmt.Sprint(whole) != fmt.Sprint(chunked) {
			t.Fatalf("results depend on read sizes:\nwhole   %v\nchunked %v", whole, chunked)
		}
	})
}

// chunkReader returns at most n bytes per Read, and sometimes none.
type chunkReader struct {
	data  []byte
	n     int
	calls int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	r.calls++
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	if r.calls%5 == 0 {
		return 0, nil
	}
	k := copy(p[:min(len(p), r.n)], r.data)
	r.data = r.data[k:]
	return k, nil
}

func BenchmarkMJPEGSplitter(b *testing.B) {
	for _, side := range []int{64, 320, 640} {
		b.Run(fmt.Sprintf("%dx%d", side, side*3/4), func(b *testing.B) {
			a := makeJPEG(b, side, side*3/4, 1)
			stream := bytes.Repeat(a, 8)
			r := bytes.NewReader(stream)
			sp := NewMJPEGSplitter(r, 0)
			buf := make([]byte, 0, len(a))
			b.SetBytes(int64(len(a)))
			b.ReportAllocs()
			for b.Loop() {
				frame, err := sp.Next(buf)
				if err == io.EOF {
					r.Reset(stream)
					sp.Reset(r)
					frame, err = sp.Next(buf)
				}
				if err != nil || len(frame) != len(a) {
					b.Fatal(err)
				}
			}
		})
	}
}
