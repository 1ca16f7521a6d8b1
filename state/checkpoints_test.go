package state

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
)

// ckptNames returns the file names of generations seqs.
func ckptNames(seqs ...uint64) []string {
	names := make([]string, len(seqs))
	for i, s := range seqs {
		names[i] = checkpointName(s)
	}
	return names
}

func TestCheckpointsSaveKeeps(t *testing.T) {
	files := modelFiles(t, 10)
	for _, tc := range []struct {
		saves, keep int
		want        []uint64 // sequence numbers left, newest first
	}{
		{1, 2, []uint64{1}},
		{2, 2, []uint64{2, 1}},
		{3, 2, []uint64{3, 2}},
		{5, 3, []uint64{5, 4, 3}},
		{10, 2, []uint64{10, 9}},
		{4, 8, []uint64{4, 3, 2, 1}},
	} {
		t.Run(fmt.Sprintf("save %d keep %d", tc.saves, tc.keep), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ckpt")
			var m Meter
			c, err := OpenCheckpoints(dir, tc.keep, &m)
			if err != nil {
				t.Fatal(err)
			}
			var written int64
			for i := range tc.saves {
				path, err := c.Save(files[i])
				if err != nil {
					t.Fatal(err)
				}
				if want := filepath.Join(dir, checkpointName(uint64(i+1))); path != want {
					t.Errorf("Save %d: path %s, want %s", i, path, want)
				}
				written += int64(len(files[i]))
			}
			if got := dirNames(t, dir); !slices.Equal(got, slices.Sorted(slices.Values(ckptNames(tc.want...)))) {
				t.Errorf("directory holds %q, want %q", got, ckptNames(tc.want...))
			}
			list, err := c.List()
			if err != nil {
				t.Fatal(err)
			}
			for i, seq := range tc.want {
				if i >= len(list) || list[i] != filepath.Join(dir, checkpointName(seq)) {
					t.Fatalf("List %q, want generations %v", list, tc.want)
				}
				got, err := os.ReadFile(list[i])
				if err != nil || !bytes.Equal(got, files[seq-1]) {
					t.Errorf("%s does not hold what Save %d wrote (%v)", list[i], seq, err)
				}
				if fi, err := os.Stat(list[i]); err != nil || fi.Mode() != 0o640 {
					t.Errorf("%s: mode %v (%v), want 0640", list[i], fi.Mode(), err)
				}
			}
			if fi, err := os.Stat(dir); err != nil || !fi.IsDir() || fi.Mode().Perm()&^0o750 != 0 {
				t.Errorf("directory mode %v (%v), want at most 0750", fi.Mode(), err)
			}
			if m.Total() != written {
				t.Errorf("meter %d, want %d", m.Total(), written)
			}
		})
	}
}

func TestCheckpointsLoad(t *testing.T) {
	files := modelFiles(t, 3)
	truncate := func(t *testing.T, path string) {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(path, fi.Size()/2); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name    string
		corrupt func(t *testing.T, paths []string) // paths newest first
		want    int                                // index into paths of the winner; -1: none
	}{
		{"all valid", func(*testing.T, []string) {}, 0},
		{"newest truncated", func(t *testing.T, p []string) { truncate(t, p[0]) }, 1},
		{"newest empty", func(t *testing.T, p []string) { mustWrite(t, p[0], nil) }, 1},
		{"newest not a model", func(t *testing.T, p []string) { mustWrite(t, p[0], []byte("JFIF not a model")) }, 1},
		{"two newest truncated", func(t *testing.T, p []string) { truncate(t, p[0]); truncate(t, p[1]) }, 2},
		{"only the middle truncated", func(t *testing.T, p []string) { truncate(t, p[1]) }, 0},
		{"all truncated", func(t *testing.T, p []string) {
			for _, p := range p {
				truncate(t, p)
			}
		}, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			c, err := OpenCheckpoints(dir, 3, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range files {
				if _, err := c.Save(f); err != nil {
					t.Fatal(err)
				}
			}
			paths, err := c.List()
			if err != nil || len(paths) != 3 {
				t.Fatalf("List %q, %v", paths, err)
			}
			tc.corrupt(t, paths)

			var loaded []byte
			path, skipped, err := c.Load(func(path string, data []byte) error {
				if err := decodeModel(path, data); err != nil {
					return err
				}
				loaded = data
				return nil
			})
			refused := tc.want
			if tc.want < 0 {
				refused = len(paths)
				if !errors.Is(err, ErrNoCheckpoint) {
					t.Fatalf("error %v, want ErrNoCheckpoint", err)
				}
				for _, p := range paths {
					if !strings.Contains(err.Error(), p) {
						t.Errorf("error %q does not name %s", err, p)
					}
				}
				if path != "" {
					t.Errorf("path %q, want none", path)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if path != paths[tc.want] {
					t.Errorf("loaded %s, want %s", path, paths[tc.want])
				}
				if want := files[len(files)-1-tc.want]; !bytes.Equal(loaded, want) {
					t.Errorf("validator was given other bytes than the generation's")
				}
			}
			if len(skipped) != refused {
				t.Fatalf("skipped %q, want %d reasons", skipped, refused)
			}
			for i, e := range skipped {
				if !strings.Contains(e.Error(), paths[i]) {
					t.Errorf("reason %q does not name %s", e, paths[i])
				}
			}
		})
	}
}

func TestCheckpointsLoadEmpty(t *testing.T) {
	c, err := OpenCheckpoints(t.TempDir(), 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	called := false
	path, skipped, err := c.Load(func(string, []byte) error { called = true; return nil })
	if !errors.Is(err, ErrNoCheckpoint) || path != "" || skipped != nil || called {
		t.Errorf("Load = %q, %v, %v (validator called: %v), want ErrNoCheckpoint", path, skipped, err, called)
	}
}

func TestCheckpointsSequence(t *testing.T) {
	data := []byte("checkpoint")
	for _, tc := range []struct {
		name    string
		steps   func(t *testing.T, dir string) *Checkpoints
		wantSeq uint64 // of the next Save
	}{
		{"reopen after deletions", func(t *testing.T, dir string) *Checkpoints {
			openSave(t, dir, 3, 5, data) // 1 and 2 deleted
			return openSave(t, dir, 3, 0, nil)
		}, 6},
		{"reopen twice", func(t *testing.T, dir string) *Checkpoints {
			openSave(t, dir, 2, 4, data)
			openSave(t, dir, 2, 3, data)
			return openSave(t, dir, 2, 0, nil)
		}, 8},
		{"newest deleted by hand, same process", func(t *testing.T, dir string) *Checkpoints {
			c := openSave(t, dir, 3, 3, data)
			if err := os.Remove(filepath.Join(dir, checkpointName(3))); err != nil {
				t.Fatal(err)
			}
			return c
		}, 4},
		{"a newer generation copied in", func(t *testing.T, dir string) *Checkpoints {
			c := openSave(t, dir, 3, 2, data)
			mustWrite(t, filepath.Join(dir, checkpointName(41)), data)
			return c
		}, 42},
		{"beyond eight digits", func(t *testing.T, dir string) *Checkpoints {
			mustWrite(t, filepath.Join(dir, checkpointName(123456789)), data)
			return openSave(t, dir, 3, 0, nil)
		}, 123456790},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			c := tc.steps(t, dir)
			path, err := c.Save(data)
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(dir, checkpointName(tc.wantSeq)); path != want {
				t.Errorf("saved %s, want %s", path, want)
			}
			list, err := c.List()
			if err != nil || len(list) == 0 || list[0] != path {
				t.Errorf("List %q (%v), want %s first", list, err, path)
			}
		})
	}
}

// openSave opens dir keeping keep generations and saves data n times.
func openSave(t *testing.T, dir string, keep, n int, data []byte) *Checkpoints {
	t.Helper()
	c, err := OpenCheckpoints(dir, keep, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		if _, err := c.Save(data); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func TestOpenCheckpointsCleansUp(t *testing.T) {
	dir := t.TempDir()
	stale := []string{".tmp-checkpoint-00000003.safetensors-1234", ".tmp-x"}
	unrelated := []string{
		"notes.txt",
		"checkpoint-1.safetensors",
		"checkpoint-00000002.safetensors.bak",
		"checkpoint-0000000x.safetensors",
		"Checkpoint-00000004.safetensors",
		"model.safetensors",
		"tmp-x",
	}
	for _, name := range append(slices.Clone(stale), unrelated...) {
		mustWrite(t, filepath.Join(dir, name), []byte(name))
	}
	// Directories are never ours, whatever their names.
	for _, name := range []string{".tmp-dir", checkpointName(9)} {
		if err := os.Mkdir(filepath.Join(dir, name), 0o750); err != nil {
			t.Fatal(err)
		}
	}
	unrelated = append(unrelated, ".tmp-dir", checkpointName(9))

	c := openSave(t, dir, 2, 0, nil)
	got, err := c.Stale()
	var want []string
	for _, name := range stale {
		want = append(want, filepath.Join(dir, name))
	}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("Stale = %q, %v, want %q", got, err, want)
	}
	for range 4 {
		if _, err := c.Save([]byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	wantNames := append(ckptNames(3, 4), unrelated...)
	slices.Sort(wantNames)
	if got := dirNames(t, dir); !slices.Equal(got, wantNames) {
		t.Errorf("directory holds %q, want %q", got, wantNames)
	}
	for _, name := range unrelated {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil && string(b) != name {
			t.Errorf("%s changed", name)
		}
	}
}

func TestOpenCheckpointsRefuses(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	mustWrite(t, file, nil)
	for _, tc := range []struct {
		name string
		dir  string
		keep int
	}{
		{"keep 1", dir, 1},
		{"keep 0", dir, 0},
		{"keep -1", dir, -1},
		{"directory is a file", file, 3},
		{"parent is a file", filepath.Join(file, "ckpt"), 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if c, err := OpenCheckpoints(tc.dir, tc.keep, nil); err == nil {
				t.Errorf("opened %v", c)
			}
		})
	}
}

func TestCheckpointsConcurrentSave(t *testing.T) {
	dir := t.TempDir()
	c := openSave(t, dir, 3, 0, nil)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		paths = map[string]bool{}
	)
	for g := range 4 {
		wg.Go(func() {
			for i := range 5 {
				p, err := c.Save([]byte{byte(g), byte(i)})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				paths[p] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(paths) != 20 {
		t.Errorf("%d distinct paths from 20 saves", len(paths))
	}
	if got := dirNames(t, dir); !slices.Equal(got, ckptNames(18, 19, 20)) {
		t.Errorf("directory holds %q", got)
	}
}

func TestCheckpointsSaveFrom(t *testing.T) {
	net, info := newModel(t)
	c := openSave(t, t.TempDir(), 2, 0, nil)
	path, err := c.SaveFrom(func(w io.Writer) error { return net.Encode(w, info) })
	if err != nil {
		t.Fatal(err)
	}
	if loaded, _, err := c.Load(decodeModel); err != nil || loaded != path {
		t.Fatalf("Load = %s, %v, want %s", loaded, err, path)
	}
	want, err := net.Bytes(info)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || !bytes.Equal(b, want) {
		t.Errorf("%s does not hold the encoded model (%v)", path, err)
	}

	// A failing writer writes nothing.
	before := dirNames(t, c.Dir())
	boom := errors.New("boom")
	p, err := c.SaveFrom(func(w io.Writer) error { w.Write([]byte("partial")); return boom })
	if !errors.Is(err, boom) || p != "" {
		t.Errorf("SaveFrom = %q, %v, want the writer's error", p, err)
	}
	if after := dirNames(t, c.Dir()); !slices.Equal(after, before) {
		t.Errorf("directory went from %q to %q", before, after)
	}
}

// TestSaveFromReusesBuffer checks that SaveFrom allocates a buffer of the
// checkpoint's size once, not on every call.
func TestSaveFromReusesBuffer(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	c := openSave(t, t.TempDir(), 2, 0, nil)
	write := func(w io.Writer) error { _, err := w.Write(data); return err }
	if _, err := c.SaveFrom(write); err != nil {
		t.Fatal(err)
	}
	const n = 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		if _, err := c.SaveFrom(write); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if perCall := (after.TotalAlloc - before.TotalAlloc) / n; perCall > 16<<10 {
		t.Errorf("SaveFrom allocates %d bytes a call, want a few KiB for a %d-byte checkpoint", perCall, len(data))
	}
}

func TestParseCheckpointName(t *testing.T) {
	for _, tc := range []struct {
		name string
		seq  uint64
		ok   bool
	}{
		{"checkpoint-00000001.safetensors", 1, true},
		{"checkpoint-00000000.safetensors", 0, true},
		{"checkpoint-99999999.safetensors", 99999999, true},
		{"checkpoint-123456789.safetensors", 123456789, true},
		{"checkpoint-18446744073709551615.safetensors", 1<<64 - 1, true},
		{"checkpoint-18446744073709551616.safetensors", 0, false},
		{"checkpoint-1.safetensors", 0, false},
		{"checkpoint-000000001.safetensors", 0, false},
		{"checkpoint-0000000x.safetensors", 0, false},
		{"checkpoint-+0000001.safetensors", 0, false},
		{"checkpoint-00000001.safetensors.bak", 0, false},
		{".tmp-checkpoint-00000001.safetensors", 0, false},
		{"checkpoint-.safetensors", 0, false},
		{"", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seq, ok := parseCheckpointName(tc.name)
			if seq != tc.seq || ok != tc.ok {
				t.Errorf("parseCheckpointName(%q) = %d, %v, want %d, %v", tc.name, seq, ok, tc.seq, tc.ok)
			}
		})
	}
}

func FuzzCheckpointName(f *testing.F) {
	f.Add("checkpoint-00000001.safetensors")
	f.Add("checkpoint-123456789.safetensors")
	f.Add("checkpoint-1.safetensors")
	f.Fuzz(func(t *testing.T, name string) {
		seq, ok := parseCheckpointName(name)
		if ok && checkpointName(seq) != name {
			t.Errorf("%q parsed as %d, which is named %q", name, seq, checkpointName(seq))
		}
		if !ok && seq != 0 {
			t.Errorf("%q refused with sequence %d", name, seq)
		}
	})
}

func BenchmarkCheckpointSave(b *testing.B) {
	model := modelFiles(b, 1)[0]
	for _, bc := range []struct {
		name string
		size int
	}{
		{"64KiB", 64 << 10},
		{fmt.Sprintf("default-model-%dB", len(model)), len(model)},
		{"4MiB", 4 << 20},
	} {
		data := model
		if bc.size != len(model) {
			data = bytes.Repeat([]byte{0x5a}, bc.size)
		}
		b.Run(bc.name, func(b *testing.B) {
			c, err := OpenCheckpoints(b.TempDir(), 3, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Save(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCheckpointSaveFrom saves the default model as catd does, encoding
// it into the reused buffer.
func BenchmarkCheckpointSaveFrom(b *testing.B) {
	net, info := newModel(b)
	c, err := OpenCheckpoints(b.TempDir(), 3, nil)
	if err != nil {
		b.Fatal(err)
	}
	write := func(w io.Writer) error { return net.Encode(w, info) }
	path, err := c.SaveFrom(write)
	if err != nil {
		b.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(fi.Size())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.SaveFrom(write); err != nil {
			b.Fatal(err)
		}
	}
}

// TestAbsurdSequenceNumbers: a file named with a sequence number no Save
// gives (checkpoint-18446744073709551615 used to wrap the next number to
// checkpoint-00000000, which the next Save deleted as the oldest, and to
// be resumed from for ever) is ignored, reported and left alone; the
// newest generation saved is the one loaded, in this process and the
// next. Numbers that do reach the bound are renumbered from 1, in order.
func TestAbsurdSequenceNumbers(t *testing.T) {
	for _, tc := range []struct {
		name        string
		planted     uint64 // the sequence number of a file put in first
		ignored     bool   // whether Ignored reports it
		first, last uint64 // the numbers of the first and third Save
	}{
		{"max uint64", math.MaxUint64, true, 1, 3},
		{"one above the bound", maxSeq + 1, true, 1, 3},
		{"at the bound", maxSeq, false, 2, 4},             // renumbered to 1
		{"below the bound", maxSeq - 1, false, maxSeq, 4}, // renumbered at the second
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			planted := filepath.Join(dir, checkpointName(tc.planted))
			mustWrite(t, planted, []byte("stale"))
			c, err := OpenCheckpoints(dir, 2, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Ignored(); tc.ignored != (len(got) == 1 && got[0] == planted) {
				t.Errorf("Ignored() = %q", got)
			}
			var paths []string
			for i := range 3 {
				p, err := c.Save(fmt.Appendf(nil, "save %d", i))
				if err != nil {
					t.Fatal(err)
				}
				paths = append(paths, p)
			}
			if want := filepath.Join(dir, checkpointName(tc.first)); paths[0] != want {
				t.Errorf("first save %s, want %s", paths[0], want)
			}
			if want := filepath.Join(dir, checkpointName(tc.last)); paths[2] != want {
				t.Errorf("third save %s, want %s", paths[2], want)
			}
			// The next start resumes from the newest save.
			c, err = OpenCheckpoints(dir, 2, nil)
			if err != nil {
				t.Fatal(err)
			}
			var loaded []byte
			path, _, err := c.Load(func(_ string, data []byte) error { loaded = data; return nil })
			if err != nil || path != paths[2] || string(loaded) != "save 2" {
				t.Errorf("Load: %s %q %v, want %s \"save 2\"", path, loaded, err, paths[2])
			}
			if _, err := os.Stat(planted); tc.ignored && err != nil {
				t.Errorf("the ignored file was touched: %v", err)
			}
			list, _ := c.List()
			if len(list) != 2 {
				t.Errorf("List %q, want the 2 kept", list)
			}
		})
	}
}
