package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"catd/daemon"
	"catd/internal/testwait"
)

// fakeService points every place "catd status" looks at into a temporary
// folder and returns the system service's runtime directory and the
// default state directory there.
func fakeService(t *testing.T) (runDir, stateDir string) {
	t.Helper()
	root := t.TempDir()
	runDir, stateDir = filepath.Join(root, "run", "catd"), filepath.Join(root, "state", "catd")
	old := serviceRuntimeDir
	serviceRuntimeDir = runDir
	t.Cleanup(func() { serviceRuntimeDir = old })
	t.Setenv("RUNTIME_DIRECTORY", "")
	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Setenv("STATE_DIRECTORY", stateDir) // defaultStateDir's first choice
	return runDir, stateDir
}

func TestStatusFindsTheServiceWithoutFlags(t *testing.T) {
	runDir, stateDir := fakeService(t)
	brightModel(t, filepath.Join(t.TempDir(), "m.safetensors"))
	_, _, err := runCatd(t, "status")
	if err == nil || !strings.Contains(err.Error(), runDir) || !strings.Contains(err.Error(), stateDir) {
		t.Fatalf("status with no daemon: %v, want an error naming %s and %s", err, runDir, stateDir)
	}

	// The service as systemd runs it: RUNTIME_DIRECTORY in its own
	// environment only, the state elsewhere.
	model := filepath.Join(t.TempDir(), "m.safetensors")
	brightModel(t, model)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"run", "--model", model, "--source", "test:?fps=20", "--stats-every", "0",
			"--runtime-dir", runDir, "--state-dir", t.TempDir(), "--log-level", "error"}, io.Discard, io.Discard)
	}()
	var out string
	if !testwait.Until(15*time.Second, func() bool {
		out, _, err = runCatd(t, "status")
		return err == nil && strings.Contains(out, "source test:?fps=20")
	}) {
		t.Fatalf("plain catd status did not find the service's status in %s: %q, %v", runDir, out, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// Only the state directory has one (catd run without a runtime
	// directory writes it there).
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := daemon.WriteStatus(filepath.Join(stateDir, "status.json"), &daemon.Status{State: "watching", Source: "dir:/x"}); err != nil {
		t.Fatal(err)
	}
	if out, _, err = runCatd(t, "status"); err != nil || !strings.Contains(out, "source dir:/x") {
		t.Fatalf("status from the state directory: %q, %v", out, err)
	}
	// A flag says exactly where: no fallback.
	if _, _, err = runCatd(t, "status", "--runtime-dir", runDir); err == nil {
		t.Fatalf("status --runtime-dir %s (no status there) found one", runDir)
	}
}
