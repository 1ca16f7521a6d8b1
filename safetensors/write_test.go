package safetensors

import (
	"bytes"
	"os"
	"path/filepath"
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
