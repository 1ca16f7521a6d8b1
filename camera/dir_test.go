package camera

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"catd/internal/testwait"
)

// writeSlowly writes data to name in n chunks with pause between them.
func writeSlowly(t testing.TB, name string, data []byte, n int, pause time.Duration) error {
	fh, err := os.Create(name)
	if err != nil {
		return err
	}
	defer fh.Close()
	step := (len(data) + n - 1) / n
	for i := 0; i < len(data); i += step {
		if i > 0 {
			// Real time: the pause between chunks is what the source must sit out.
			time.Sleep(pause)
		}
		if _, err := fh.Write(data[i:min(i+step, len(data))]); err != nil {
			return err
		}
	}
	return nil
}

// dirFrames collects frames from src until it has n or wait passes
// without one, returning copies.
func dirFrames(src Source, n int, wait time.Duration) ([]Frame, error) {
	var out []Frame
	var f Frame
	for len(out) < n {
		if err := nextTimeout(src, &f, wait); err != nil {
			return out, err
		}
		g := f
		g.Data = bytes.Clone(f.Data)
		out = append(out, g)
	}
	return out, nil
}

func TestDirSource(t *testing.T) {
	a, b, c := makeJPEG(t, 64, 48, 1), makePNG(t, 40, 30, 2), makeJPEG(t, 32, 32, 3)
	thumb := makeJPEG(t, 8, 8, 5)
	thumbJPEG := exifJPEG(makeJPEG(t, 48, 32, 4), thumb)
	thumbEnd := 2 + 4 + 6 + len(thumb) // the file so far ends with the thumbnail's FFD9
	if !bytes.HasSuffix(thumbJPEG[:thumbEnd], []byte{0xFF, 0xD9}) {
		t.Fatal("thumbEnd is not after the thumbnail's EOI")
	}
	type step func(t *testing.T, dir string, src Source)
	write := func(name string, data []byte) step {
		return func(t *testing.T, dir string, src Source) { writeFile(t, filepath.Join(dir, name), data) }
	}
	slow := func(name string, data []byte, chunks int, pause time.Duration) step {
		return func(t *testing.T, dir string, src Source) {
			if err := writeSlowly(t, filepath.Join(dir, name), data, chunks, pause); err != nil {
				t.Error(err)
			}
		}
	}
	// seen waits until the source has delivered frames and skipped corrupt
	// files, so that what the test writes next comes after them.
	seen := func(frames, corrupt uint64) step {
		return func(t *testing.T, dir string, src Source) {
			if !testwait.Until(testwait.Patience, func() bool {
				s := stats(src)
				return s.Frames >= frames && s.Corrupt >= corrupt
			}) {
				t.Errorf("the source never got to %d frames, %d corrupt: %+v", frames, corrupt, stats(src))
			}
		}
	}
	// pause lets real time pass: longer than settle, so that a source that
	// took a quiet file for a finished one would show it.
	pause := func(d time.Duration) step {
		return func(t *testing.T, dir string, src Source) { time.Sleep(d) }
	}
	rename := func(from, to string) step {
		return func(t *testing.T, dir string, src Source) {
			if err := os.Rename(filepath.Join(dir, from), filepath.Join(dir, to)); err != nil {
				t.Error(err)
			}
		}
	}
	tests := []struct {
		name        string
		before      map[string][]byte // files there before Open
		steps       []step            // run in order while the source is read
		want        [][]byte          // frames, in order
		wantCorrupt uint64
		wantLogs    int
		query       string   // the source's options (default settle=50ms&timeout=100ms)
		left        []string // the images in the folder at the end (nil: none)
	}{
		{
			name:  "written whole",
			steps: []step{write("a.jpg", a), write("b.png", b)},
			want:  [][]byte{a, b},
		},
		{
			name:  "written slowly in chunks",
			steps: []step{slow("slow.jpg", a, 8, 20*time.Millisecond)},
			want:  [][]byte{a},
		},
		{
			name:  "pause longer than settle mid-file",
			steps: []step{slow("slow.png", b, 2, 150*time.Millisecond)},
			want:  [][]byte{b},
			// A timeout well above the pause, so that a loaded machine
			// does not turn the slow writer into a corrupt frame.
			query: "settle=50ms&timeout=1s",
		},
		{
			name: "thumbnail EOI is not the end",
			// A generous timeout: the test appends the rest 150 ms after the
			// thumbnail's EOI, which must not be taken for a truncated
			// file however slowly the machine (or qemu) runs.
			query: "settle=50ms&timeout=5s",
			steps: []step{
				write("exif.jpg", thumbJPEG[:thumbEnd]),
				pause(150 * time.Millisecond),
				func(t *testing.T, dir string, src Source) {
					fh, err := os.OpenFile(filepath.Join(dir, "exif.jpg"), os.O_WRONLY|os.O_APPEND, 0)
					if err != nil {
						t.Error(err)
						return
					}
					defer fh.Close()
					if _, err := fh.Write(thumbJPEG[thumbEnd:]); err != nil {
						t.Error(err)
					}
				},
			},
			want: [][]byte{thumbJPEG},
		},
		{
			name: "renamed in",
			steps: []step{
				write(".tmp-c.jpg", c), write("c.jpg.part", c),
				pause(150 * time.Millisecond),
				rename("c.jpg.part", "c.jpg"),
			},
			want: [][]byte{c},
		},
		{
			name:  "others ignored",
			steps: []step{write("notes.txt", []byte("hi")), write(".hidden.jpg", a), write("x.gif", a), write("c.jpg", c)},
			want:  [][]byte{c},
		},
		{
			name:   "existing files not delivered",
			before: map[string][]byte{"old.jpg": a},
			steps:  []step{write("new.png", b)},
			want:   [][]byte{b},
			left:   []string{"old.jpg"},
		},
		{
			name: "corrupt counted and skipped",
			steps: []step{
				write("bad1.jpg", concat(a[:len(a)/2], []byte{0xFF, 0xD9})),
				write("bad2.jpg", []byte("\xff\xd8 this is not a jpeg \xff\xd9")),
				seen(0, 2),
				write("z.jpg", c),
			},
			want:        [][]byte{c},
			wantCorrupt: 2,
			wantLogs:    1, // the second warning is rate-limited
		},
		{
			name: "same bytes rewritten not delivered twice",
			steps: []step{
				write("a.jpg", a),
				seen(1, 0),
				write("a.jpg", a), write("b.jpg", c),
			},
			want:  [][]byte{a, c},
			query: "settle=50ms&timeout=100ms&keep=true",
			left:  []string{"a.jpg", "b.jpg"},
		},
		{
			// The default: a file read is removed, so the same name
			// written again is a new frame; files there before Open stay.
			name:   "consumed once read",
			before: map[string][]byte{"old.jpg": a},
			steps: []step{
				write("bad.jpg", []byte("\xff\xd8 not a jpeg \xff\xd9")),
				write("a.jpg", a),
				seen(1, 1),
				write("a.jpg", c),
			},
			want:        [][]byte{a, c},
			wantCorrupt: 1,
			wantLogs:    1,
			left:        []string{"old.jpg"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for name, data := range tc.before {
				writeFile(t, filepath.Join(dir, name), data)
			}
			var logs syncBuffer
			query := "settle=50ms&timeout=100ms"
			if tc.query != "" {
				query = tc.query
			}
			src := mustOpen(t, "dir:"+dir+"?"+query, Options{Log: zerolog.New(&logs)})
			done := make(chan struct{})
			go func() {
				defer close(done)
				for _, s := range tc.steps {
					s(t, dir, src)
				}
			}()
			frames, err := dirFrames(src, len(tc.want), 2*time.Second)
			<-done
			if err != nil {
				t.Fatalf("after %d frames: %v", len(frames), err)
			}
			// Nothing more: each image once.
			if more, err := dirFrames(src, 1, 300*time.Millisecond); len(more) != 0 {
				t.Errorf("an extra frame of %d bytes (%v)", len(more[0].Data), err)
			}
			for i, f := range frames {
				if !bytes.Equal(f.Data, tc.want[i]) {
					t.Errorf("frame %d: %d bytes, not the expected %d", i, len(f.Data), len(tc.want[i]))
				}
				if f.Format != sniff(tc.want[i]) || f.Time.IsZero() {
					t.Errorf("frame %d: format %v time %v", i, f.Format, f.Time)
				}
				if i > 0 && f.Seq <= frames[i-1].Seq {
					t.Errorf("Seq not increasing: %d after %d", f.Seq, frames[i-1].Seq)
				}
			}
			if got := stats(src); got.Corrupt != tc.wantCorrupt || got.Frames != uint64(len(tc.want)) {
				t.Errorf("Stats() = %+v, want %d frames, %d corrupt", got, len(tc.want), tc.wantCorrupt)
			}
			if got := strings.Count(logs.String(), "corrupt frame skipped"); got != tc.wantLogs {
				t.Errorf("%d corrupt-frame warnings, want %d:\n%s", got, tc.wantLogs, logs.String())
			}
			var left []string
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				if candidate(e.Name()) {
					left = append(left, e.Name())
				}
			}
			if !slices.Equal(left, tc.left) {
				t.Errorf("images left in the folder: %q, want %q", left, tc.left)
			}
			if tc.wantLogs > 0 && !strings.Contains(logs.String(), "bad") {
				t.Errorf("warning does not name the file:\n%s", logs.String())
			}
		})
	}
}

func TestDirSourceFolderGone(t *testing.T) {
	tests := []struct {
		name string
		gone func(dir string) error
	}{
		{"removed", os.RemoveAll},
		{"moved", func(dir string) error { return os.Rename(dir, dir+".old") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "drop")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			src := mustOpen(t, "dir:"+dir, Options{})
			go func() {
				// A head start for Next, so that the folder usually goes while
				// it is blocked; going before it is called must work as well.
				time.Sleep(50 * time.Millisecond)
				tc.gone(dir)
			}()
			var f Frame
			err := nextTimeout(src, &f, 2*time.Second)
			if err == nil || errors.Is(err, os.ErrDeadlineExceeded) || !strings.Contains(err.Error(), "folder "+dir) {
				t.Fatalf("Next: %v, want an error naming the folder", err)
			}
			if err2 := nextTimeout(src, &f, 100*time.Millisecond); err2 == nil || err2.Error() != err.Error() {
				t.Errorf("second Next: %v, want the same error", err2)
			}
		})
	}
}

// TestDirSourceMakesItsFolder: a folder that does not exist yet (the
// guide's dir:/var/lib/catd/incoming on a fresh install) is made, and
// files dropped into it become frames.
func TestDirSourceMakesItsFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "incoming")
	src := mustOpen(t, "dir:"+dir+"?settle=20ms", Options{})
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		t.Fatalf("folder not made: %v", err)
	}
	a := makeJPEG(t, 32, 24, 7)
	writeFile(t, filepath.Join(dir, "a.jpg"), a)
	frames, err := dirFrames(src, 1, 2*time.Second)
	if err != nil || !bytes.Equal(frames[0].Data, a) {
		t.Fatalf("no frame from the made folder: %v", err)
	}
}
