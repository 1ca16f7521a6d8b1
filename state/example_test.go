package state_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"catd/state"
)

func ExampleCheckpoints() {
	dir, err := os.MkdirTemp("", "catd-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	var written state.Meter
	c, err := state.OpenCheckpoints(filepath.Join(dir, "checkpoints"), 2, &written)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, model := range []string{"model 1", "model 2", "model 3 (corrupt)"} {
		if _, err := c.Save([]byte(model)); err != nil {
			fmt.Println(err)
			return
		}
	}
	// catd's validator decodes the model file; this one refuses corrupt
	// models.
	valid := func(path string, data []byte) error {
		if len(data) > len("model 3") {
			return errors.New("corrupt")
		}
		return nil
	}
	path, skipped, err := c.Load(valid)
	if err != nil {
		fmt.Println("falling back to the built-in model:", err)
		return
	}
	fmt.Println("loaded", filepath.Base(path))
	fmt.Println("refused", len(skipped))
	fmt.Println("bytes written", written.Total())
	// Output:
	// loaded checkpoint-00000002.safetensors
	// refused 1
	// bytes written 31
}

func ExampleSnapshots() {
	dir, err := os.MkdirTemp("", "catd-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	s, err := state.OpenSnapshots(dir, 2, 1<<20, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	t := time.Date(2026, 11, 27, 3, 15, 0, 0, time.UTC)
	for frame := range uint64(3) {
		name := state.SnapshotName(t.Add(time.Duration(frame)*time.Second), frame, 0.9)
		if _, err := s.Save(name, []byte("JPEG")); err != nil {
			fmt.Println(err)
			return
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		fmt.Println(e.Name())
	}
	n, bytes := s.Stats()
	fmt.Println(n, "snapshots,", bytes, "bytes")
	// Output:
	// 20261127T031501.000Z-f000000001-p0.90.jpg
	// 20261127T031502.000Z-f000000002-p0.90.jpg
	// 2 snapshots, 8 bytes
}

func ExampleSnapshotName() {
	t := time.Date(2026, 11, 27, 3, 15, 0, 123e6, time.UTC)
	fmt.Println(state.SnapshotName(t, 1234, 0.93))
	// Output: 20261127T031500.123Z-f000001234-p0.93.jpg
}

func ExampleWriteFileAtomic() {
	dir, err := os.MkdirTemp("", "catd-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	var m state.Meter
	path := filepath.Join(dir, "status.json")
	if err := state.WriteFileAtomic(path, []byte(`{"cat":true}`), 0o640, &m); err != nil {
		fmt.Println(err)
		return
	}
	b, _ := os.ReadFile(path)
	fmt.Println(string(b), m.Total())
	// Output: {"cat":true} 12
}
