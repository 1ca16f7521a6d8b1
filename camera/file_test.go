package camera

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func writeFile(t testing.TB, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// readFrames reads n frames (or until an error) and returns copies of
// their data and the error that stopped it, if any.
func readFrames(t testing.TB, src Source, n int) ([]Frame, error) {
	t.Helper()
	var out []Frame
	var f Frame
	for range n {
		if err := nextTimeout(src, &f, 2e9); err != nil {
			return out, err
		}
		g := f
		g.Data = bytes.Clone(f.Data)
		out = append(out, g)
	}
	return out, nil
}

func TestFileSource(t *testing.T) {
	dir := t.TempDir()
	a, b, c := makeJPEG(t, 32, 24, 1), makePNG(t, 20, 10, 2), makeJPEG(t, 16, 16, 3)
	corrupt := concat(a[:len(a)/2], []byte{0xFF, 0xD9}) // ends right, broken inside

	writeFile(t, filepath.Join(dir, "one.png"), b)
	writeFile(t, filepath.Join(dir, "one.jpg"), a)
	writeFile(t, filepath.Join(dir, "stream.mjpeg"), concat([]byte("junk"), a, []byte("--boundary\r\n\r\n"), c, a, c[:len(c)/2]))
	writeFile(t, filepath.Join(dir, "bad.mjpeg"), concat([]byte{0xFF, 0xD8, 0x00}, []byte("not a jpeg at all")))
	folder := filepath.Join(dir, "folder")
	if err := os.Mkdir(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(folder, "a.jpg"), a)
	writeFile(t, filepath.Join(folder, "b.png"), b)
	writeFile(t, filepath.Join(folder, "bad.jpg"), corrupt)
	writeFile(t, filepath.Join(folder, "c.JPEG"), c)
	writeFile(t, filepath.Join(folder, "notes.txt"), []byte("not an image"))
	writeFile(t, filepath.Join(folder, ".hidden.jpg"), a)

	tests := []struct {
		name        string
		uri         string
		n           int      // frames to ask for
		want        [][]byte // frame data in order
		wantSeq     []uint64
		wantErr     error  // error after the frames (nil: none)
		wantErrText string // or a substring of it
		wantCorrupt uint64
		wantLogs    int // corrupt warnings logged (rate-limited)
	}{
		{"png loops", "file:" + dir + "/one.png?fps=1000", 3, [][]byte{b, b, b}, []uint64{1, 2, 3}, nil, "", 0, 0},
		{"png once", "file:" + dir + "/one.png?fps=1000&loop=false", 3, [][]byte{b}, []uint64{1}, io.EOF, "", 0, 0},
		{"jpeg loops", "file:" + dir + "/one.jpg?fps=1000", 2, [][]byte{a, a}, []uint64{1, 2}, nil, "", 0, 0},
		{"folder loops", "file:" + folder + "?fps=1000", 7, [][]byte{a, b, c, a, b, c, a}, []uint64{1, 2, 4, 5, 6, 8, 9}, nil, "", 2, 1},
		{"folder once", "file://" + folder + "?fps=1000&loop=false", 5, [][]byte{a, b, c}, []uint64{1, 2, 4}, io.EOF, "", 1, 1},
		{"mjpeg loops", "file:" + dir + "/stream.mjpeg?fps=1000", 7, [][]byte{a, c, a, a, c, a, a}, []uint64{1, 2, 3, 5, 6, 7, 9}, nil, "", 2, 1},
		{"mjpeg once", "file:" + dir + "/stream.mjpeg?fps=1000&loop=false", 5, [][]byte{a, c, a}, []uint64{1, 2, 3}, io.EOF, "", 1, 1},
		{"mjpeg nothing valid", "file:" + dir + "/bad.mjpeg?fps=1000", 2, nil, nil, nil, "no valid frame in " + dir + "/bad.mjpeg", 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs syncBuffer
			src := mustOpen(t, tc.uri, Options{Log: zerolog.New(&logs)})
			frames, err := readFrames(t, src, tc.n)
			if len(frames) != len(tc.want) {
				t.Fatalf("got %d frames (then %v), want %d", len(frames), err, len(tc.want))
			}
			for i, f := range frames {
				if !bytes.Equal(f.Data, tc.want[i]) {
					t.Errorf("frame %d: %d bytes, not the expected %d", i, len(f.Data), len(tc.want[i]))
				}
				if f.Seq != tc.wantSeq[i] {
					t.Errorf("frame %d: Seq %d, want %d", i, f.Seq, tc.wantSeq[i])
				}
				if wantFmt := sniff(tc.want[i]); f.Format != wantFmt || f.W != 0 || f.H != 0 || f.Stride != 0 {
					t.Errorf("frame %d: %v %dx%d stride %d, want %v 0x0", i, f.Format, f.W, f.H, f.Stride, wantFmt)
				}
			}
			switch {
			case tc.wantErrText != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErrText) {
					t.Errorf("error %v, want one containing %q", err, tc.wantErrText)
				}
			case err != tc.wantErr:
				t.Errorf("error %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr == io.EOF {
				var f Frame
				if err := src.Next(context.Background(), &f); err != io.EOF {
					t.Errorf("Next after the end: %v, want io.EOF again", err)
				}
			}
			if got := stats(src); got.Corrupt != tc.wantCorrupt || got.Frames != uint64(len(tc.want)) {
				t.Errorf("Stats() = %+v, want %d frames, %d corrupt", got, len(tc.want), tc.wantCorrupt)
			}
			if got := strings.Count(logs.String(), "corrupt frame skipped"); got != tc.wantLogs {
				t.Errorf("%d corrupt-frame warnings logged, want %d:\n%s", got, tc.wantLogs, logs.String())
			}
		})
	}
}

func TestFileSourceFolderFileVanishes(t *testing.T) {
	dir := t.TempDir()
	a := makeJPEG(t, 8, 8, 1)
	writeFile(t, filepath.Join(dir, "a.jpg"), a)
	writeFile(t, filepath.Join(dir, "b.jpg"), a)
	var logs syncBuffer
	src := mustOpen(t, "file:"+dir+"?fps=1000", Options{Log: zerolog.New(&logs)})
	if err := os.Remove(filepath.Join(dir, "b.jpg")); err != nil {
		t.Fatal(err)
	}
	frames, err := readFrames(t, src, 3)
	if err != nil || len(frames) != 3 {
		t.Fatalf("%d frames, %v", len(frames), err)
	}
	if !strings.Contains(logs.String(), "b.jpg") {
		t.Errorf("log does not name the vanished file:\n%s", logs.String())
	}
	for _, f := range frames {
		if !bytes.Equal(f.Data, a) {
			t.Fatal("wrong frame")
		}
	}
	os.Remove(filepath.Join(dir, "a.jpg"))
	if _, err := readFrames(t, src, 3); err == nil || !strings.Contains(err.Error(), "no valid frame") {
		t.Errorf("with every file gone: %v, want a no-valid-frame error", err)
	}
}

func mjpegFile(t testing.TB, frames int) (string, []byte) {
	a := makeJPEG(t, 320, 240, 1)
	name := filepath.Join(t.TempDir(), "s.mjpeg")
	writeFile(t, name, bytes.Repeat(a, frames))
	return name, a
}

func TestFileSourceMJPEGAllocs(t *testing.T) {
	name, a := mjpegFile(t, 3) // loops every 3 frames
	src := mustOpen(t, "file:"+name+"?fps=1e9", Options{})
	var f Frame
	ctx := context.Background()
	if err := src.Next(ctx, &f); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(30, func() {
		if err := src.Next(ctx, &f); err != nil || len(f.Data) != len(a) {
			t.Fatalf("Next: %d bytes, %v", len(f.Data), err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per frame, want 0", allocs)
	}
}

// TestFileSourceMax: with fps=max the source never sleeps, delivers every
// frame of the file in order, loop after loop, says it waits for its
// reader, and stops at once when cancelled or closed.
func TestFileSourceMax(t *testing.T) {
	dir := t.TempDir()
	a, c := makeJPEG(t, 32, 24, 1), makeJPEG(t, 16, 16, 3)
	name := filepath.Join(dir, "stream.mjpeg")
	writeFile(t, name, concat(a, c, a, c, c))
	want := [][]byte{a, c, a, c, c}

	u, err := parseURI("file:" + name + "?fps=max")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := parseFileConfig(u, Options{FPS: 5}) // fps=max wins over Options.FPS
	if err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{now: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}
	src, err := openFile("file:"+name+"?fps=max", cfg, zerolog.Nop(), clk)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if !WaitsForReader(src) {
		t.Error("fps=max: WaitsForReader() = false, want true")
	}
	frames, err := readFrames(t, src, 3*len(want))
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range frames {
		if f.Seq != uint64(i+1) || !bytes.Equal(f.Data, want[i%len(want)]) {
			t.Errorf("frame %d: Seq %d, %d bytes; want Seq %d, %d bytes", i, f.Seq, len(f.Data), i+1, len(want[i%len(want)]))
		}
	}
	if len(clk.sleeps) != 0 {
		t.Errorf("fps=max slept %v, want no sleep", clk.sleeps)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var f Frame
	if err := src.Next(ctx, &f); err != context.Canceled {
		t.Errorf("Next with a cancelled context: %v, want context.Canceled", err)
	}
	src.Close()
	if err := src.Next(context.Background(), &f); err != ErrClosed {
		t.Errorf("Next after Close: %v, want ErrClosed", err)
	}

	for _, uri := range []string{"file:" + name + "?fps=1e9", "file:" + name} {
		if WaitsForReader(mustOpen(t, uri, Options{})) {
			t.Errorf("%s: WaitsForReader() = true, want false (a paced file plays like a camera)", uri)
		}
	}
}

func TestFileSourceMaxAllocs(t *testing.T) {
	name, a := mjpegFile(t, 3) // loops every 3 frames
	src := mustOpen(t, "file:"+name+"?fps=max", Options{})
	var f Frame
	ctx := context.Background()
	if err := src.Next(ctx, &f); err != nil {
		t.Fatal(err)
	}
	seq := f.Seq
	allocs := testing.AllocsPerRun(30, func() {
		if err := src.Next(ctx, &f); err != nil || len(f.Data) != len(a) || f.Seq != seq+1 {
			t.Fatalf("Next: frame %d after %d, %d bytes, %v", f.Seq, seq, len(f.Data), err)
		}
		seq = f.Seq
	})
	if allocs != 0 {
		t.Errorf("%v allocations per frame, want 0", allocs)
	}
}

func BenchmarkFileSourceMJPEG(b *testing.B) {
	name, a := mjpegFile(b, 16)
	src := mustOpen(b, "file:"+name+"?fps=1e9", Options{})
	var f Frame
	ctx := context.Background()
	if err := src.Next(ctx, &f); err != nil { // warm-up: sizes f.Data
		b.Fatal(err)
	}
	b.SetBytes(int64(len(a)))
	b.ReportAllocs()
	for b.Loop() {
		if err := src.Next(ctx, &f); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}

// FuzzCheckImage checks the completeness checks never panic and agree
// with image decoding where it matters: a JPEG or PNG they accept ends
// with its end marker.
func FuzzCheckImage(f *testing.F) {
	f.Add(makeJPEG(f, 8, 8, 1))
	f.Add(makePNG(f, 8, 8, 1))
	f.Add(exifJPEG(makeJPEG(f, 8, 8, 1), makeJPEG(f, 4, 4, 2)))
	f.Fuzz(func(t *testing.T, data []byte) {
		format, err := checkImage(data)
		if err != nil {
			return
		}
		switch format {
		case JPEG:
			if !bytes.HasSuffix(data, []byte{0xFF, 0xD9}) {
				t.Fatal("accepted a JPEG without EOI at the end")
			}
		case PNG:
			if !bytes.HasSuffix(data[:len(data)-4], []byte("IEND")) {
				t.Fatal("accepted a PNG without IEND at the end")
			}
		default:
			t.Fatalf("accepted format %v", format)
		}
	})
}

func TestCheckImage(t *testing.T) {
	j, p := makeJPEG(t, 16, 16, 1), makePNG(t, 16, 16, 1)
	tests := []struct {
		name    string
		data    []byte
		want    Format
		wantErr string
	}{
		{"jpeg", j, JPEG, ""},
		{"png", p, PNG, ""},
		{"jpeg with exif thumbnail", exifJPEG(j, makeJPEG(t, 8, 8, 2)), JPEG, ""},
		{"jpeg cut after thumbnail EOI", exifJPEG(j, makeJPEG(t, 8, 8, 2))[:len(makeJPEG(t, 8, 8, 2))+12], JPEG, "truncated"},
		{"jpeg half", j[:len(j)/2], JPEG, "does not end with EOI"},
		{"jpeg junk after", concat(j, []byte("xx\xff\xd9")), JPEG, "ends at byte"},
		{"two jpegs", concat(j, j), JPEG, "ends at byte"},
		{"png half", p[:len(p)/2], PNG, "truncated"},
		{"png junk after", concat(p, []byte("x")), PNG, "after IEND"},
		{"text", []byte("hello"), FormatUnknown, "neither"},
		{"empty", nil, FormatUnknown, "neither"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := checkImage(tc.data)
			if got != tc.want {
				t.Errorf("format %v, want %v", got, tc.want)
			}
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
}
