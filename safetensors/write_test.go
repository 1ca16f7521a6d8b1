package safetensors

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// dirNames lists the names in dir, so tests can check that no temporary
// file is left behind.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteFileAtomic(t *testing.T) {
	good := []Tensor{FromFloat32("w", []int{2}, []float32{1, 2})}
	cases := []struct {
		name    string
		setup   func(t *testing.T, dir string) string // returns the path to write
		tensors []Tensor
		want    string
	}{
		{
			name: "invalid tensors",
			setup: func(t *testing.T, dir string) string {
				return filepath.Join(dir, "model.safetensors")
			},
			tensors: []Tensor{{Name: "w", DType: F32, Shape: []int{2}, Data: make([]byte, 3)}},
			want:    `model.safetensors: tensor "w": data is 3 bytes`,
		},
		{
			// Tests run as root, so a read-only directory would not stop
			// the write; a path under a regular file does.
			name: "directory is a file",
			setup: func(t *testing.T, dir string) string {
				return filepath.Join(dir, "model.safetensors", "x.safetensors")
			},
			tensors: good,
			want:    "not a directory",
		},
		{
			name: "target is a non-empty directory",
			setup: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "sub")
				if err := os.MkdirAll(filepath.Join(p, "keep"), 0o755); err != nil {
					t.Fatal(err)
				}
				return p
			},
			tensors: good,
			want:    "safetensors: rename",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			old := filepath.Join(dir, "model.safetensors")
			if err := WriteFile(old, map[string]string{"v": "1"}, []Tensor{FromInt8("old", []int{1}, []int8{1})}); err != nil {
				t.Fatal(err)
			}
			before, err := os.ReadFile(old)
			if err != nil {
				t.Fatal(err)
			}
			namesBefore := strings.Join(dirNames(t, dir), ",")

			path := c.setup(t, dir)
			err = WriteFile(path, nil, c.tensors)
			if err == nil || !strings.HasPrefix(err.Error(), "safetensors: ") || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
			after, err := os.ReadFile(old)
			if err != nil || !bytes.Equal(after, before) {
				t.Errorf("old file changed: %v", err)
			}
			if _, err := ReadFile(old, 0); err != nil {
				t.Errorf("old file no longer reads: %v", err)
			}
			namesAfter := dirNames(t, dir)
			for _, n := range namesAfter {
				if strings.Contains(n, ".tmp") {
					t.Errorf("temporary file %s left behind", n)
				}
			}
			if c.name != "target is a non-empty directory" && strings.Join(namesAfter, ",") != namesBefore {
				t.Errorf("directory now holds %v, was %s", namesAfter, namesBefore)
			}
		})
	}
}

func TestWriteFileReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	for step := range 3 {
		w := FromInt32("step", []int{}, []int32{int32(step)})
		if err := WriteFile(path, nil, []Tensor{w}); err != nil {
			t.Fatal(err)
		}
		f, err := ReadFile(path, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := f.Tensors[0].Int32s(); len(v) != 1 || v[0] != int32(step) {
			t.Errorf("step %d: read %v", step, v)
		}
	}
	if names := dirNames(t, dir); len(names) != 1 {
		t.Errorf("directory holds %v, want only model.safetensors", names)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}
}

func TestWriteFileRelative(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := WriteFile("m.safetensors", nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile("m.safetensors", 0); err != nil {
		t.Fatal(err)
	}
}

// TestHeaderStreams checks that Header then the tensors' bytes written one
// by one is the file Encode writes, that ReadIndex finds each tensor there,
// and that Encode refuses a tensor without its data.
func TestHeaderStreams(t *testing.T) {
	ts := sampleTensors()
	var whole bytes.Buffer
	if err := Encode(&whole, map[string]string{"k": "v"}, ts); err != nil {
		t.Fatal(err)
	}
	bare := slices.Clone(ts)
	for i := range bare {
		bare[i].Data = nil
	}
	hdr, err := Header(map[string]string{"k": "v"}, bare)
	if err != nil {
		t.Fatal(err)
	}
	streamed := slices.Clone(hdr)
	for _, x := range ts {
		streamed = append(streamed, x.Data...)
	}
	if !bytes.Equal(streamed, whole.Bytes()) {
		t.Fatal("Header and the data written after it differ from Encode's file")
	}
	idx, err := ReadIndex(bytes.NewReader(streamed), int64(len(streamed)))
	if err != nil {
		t.Fatal(err)
	}
	if idx.Metadata["k"] != "v" || len(idx.Tensors) != len(ts) {
		t.Fatalf("index %+v", idx)
	}
	for _, x := range ts {
		ti, ok := idx.Tensor(x.Name)
		if !ok || !bytes.Equal(streamed[ti.Offset:ti.Offset+ti.Size], x.Data) {
			t.Errorf("tensor %q: index %+v does not point at its data", x.Name, ti)
		}
	}
	for _, cut := range []int{len(streamed) - 1, len(hdr), 7} {
		if _, err := ReadIndex(bytes.NewReader(streamed[:cut]), int64(cut)); err == nil {
			t.Errorf("ReadIndex of the first %d bytes: no error", cut)
		}
	}
	long := append(slices.Clone(streamed), 0)
	if _, err := ReadIndex(bytes.NewReader(long), int64(len(long))); err == nil || !strings.Contains(err.Error(), "not covered") {
		t.Errorf("ReadIndex with a byte too many: %v", err)
	}
	if err := Encode(io.Discard, nil, bare); err == nil || !strings.Contains(err.Error(), "data is 0 bytes") {
		t.Errorf("Encode of tensors without data: %v", err)
	}
}

// TestMarshal: Marshal gives Encode's bytes in a slice of exactly their
// size, and refuses a tensor without data.
func TestMarshal(t *testing.T) {
	ts := sampleTensors()
	var whole bytes.Buffer
	if err := Encode(&whole, map[string]string{"k": "v"}, ts); err != nil {
		t.Fatal(err)
	}
	b, err := Marshal(map[string]string{"k": "v"}, ts)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, whole.Bytes()) || cap(b) != len(b) {
		t.Errorf("Marshal gave %d bytes (capacity %d), Encode %d", len(b), cap(b), whole.Len())
	}
	bare := slices.Clone(ts)
	bare[0].Data = nil
	if _, err := Marshal(nil, bare); err == nil {
		t.Error("Marshal of a tensor without data: no error")
	}
}
