package daemon

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/rs/zerolog"

	"catd/learn"
	"catd/model"
)

// The importance of a model: the built-in model's is built in; a model
// file's is MODEL.importance.safetensors next to it if there is one; one
// that belongs to another model, is damaged or is not a regular file is
// not used, and loading the model goes on with a warning.
func TestModelImportance(t *testing.T) {
	s := &service{}
	builtin, err := s.loadModel("")
	if err != nil {
		t.Fatal(err)
	}
	imp, from, err := ModelImportance("", builtin.infer)
	if err != nil || imp == nil || from != "built-in" {
		t.Fatalf("built-in: %d values from %q, %v", len(imp), from, err)
	}
	if builtin.importance == nil {
		t.Error("the built-in model loaded without its importance")
	}

	dir := t.TempDir()
	a, _ := model.ParseArch("input 3x64x64; conv 4 k3 s2 p1; relu; gap; flatten; dense 1")
	net, _ := model.New(a, model.Options{MaxBatch: 1})
	net.Init(rand.New(rand.NewPCG(1, 2)))
	path := filepath.Join(dir, "mine.safetensors")
	if err := net.WriteFile(path, model.DefaultInfo(a, "")); err != nil {
		t.Fatal(err)
	}
	if imp, from, err := ModelImportance(path, net); imp != nil || from != "" || err != nil {
		t.Fatalf("no importance file: %d values from %q, %v", len(imp), from, err)
	}
	side := filepath.Join(dir, "mine.importance.safetensors")
	if ImportancePath(path) != side {
		t.Fatalf("ImportancePath(%q) = %q", path, ImportancePath(path))
	}
	fisher := make([]float32, len(net.Params))
	for i := range fisher {
		fisher[i] = float32(i%5 + 1)
	}
	if err := learn.WriteImportance(side, net, fisher, nil); err != nil {
		t.Fatal(err)
	}
	if imp, _, err := ModelImportance(path, net); err != nil || len(imp) != len(net.Params) {
		t.Fatalf("importance file next to the model: %d values, %v", len(imp), err)
	}
	logs := &syncBuffer{}
	s = &service{log: zerolog.New(logs)}
	if m, err := s.loadModel(path); err != nil || m.importance == nil {
		t.Fatalf("model with its importance: %v", err)
	}

	// Another model's importance: refused by name, the model still loads.
	net.Params[0] += 1
	if err := net.WriteFile(path, model.DefaultInfo(a, "")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ModelImportance(path, net); !errors.Is(err, learn.ErrOtherModel) || !strings.Contains(err.Error(), side) {
		t.Errorf("another model's importance: %v", err)
	}
	m, err := s.loadModel(path)
	if err != nil || m.importance != nil {
		t.Fatalf("model with another's importance: %v, importance %v", err, m.importance != nil)
	}
	if !strings.Contains(logs.String(), "importance not used") {
		t.Errorf("no warning logged: %s", logs.String())
	}

	// A named pipe in its place is refused without waiting for a writer.
	if err := os.Remove(side); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(side, 0o644); err != nil {
		t.Skip(err)
	}
	if _, _, err := ModelImportance(path, net); err == nil {
		t.Error("a named pipe read as importance")
	}
}
