package state

import (
	"os"
	"slices"
	"testing"

	"catd/model"
)

// newModel returns the default model as a fresh Net.
func newModel(t testing.TB) (*model.Net, model.Info) {
	t.Helper()
	net, info, err := model.Default(model.Options{MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	return net, info
}

// modelFiles returns n model files: the default model with its first
// parameter moved by 0.001·i in file i, so that every file differs.
func modelFiles(t testing.TB, n int) [][]byte {
	t.Helper()
	net, info := newModel(t)
	p0 := net.Params[0]
	files := make([][]byte, n)
	for i := range files {
		net.Params[0] = p0 + 0.001*float32(i)
		b, err := net.Bytes(info)
		if err != nil {
			t.Fatal(err)
		}
		files[i] = b
	}
	return files
}

// decodeModel is a checkpoint validator: the data must be a whole model
// file.
func decodeModel(path string, data []byte) error {
	_, _, err := model.Decode(data, model.Options{MaxBatch: 1})
	return err
}

// dirNames returns the sorted names in dir.
func dirNames(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}

// mustWrite writes a plain (non-atomic) file for test setups.
func mustWrite(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
