package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

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

func TestPrintStatus(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	base := daemon.Status{State: daemon.StateWatching, Frames: 100, Threshold: 0.25, Started: t0, Updated: t0.Add(7 * time.Second),
		StateBytesWritten: 78668, StateBytesPerHour: 40360684, SnapshotBytes: 40_360_684, Snapshots: 3, Learning: "on"}
	for _, tc := range []struct {
		name      string
		edit      func(s *daemon.Status)
		want, not []string
	}{
		{"units, and no rate from 7 s", func(s *daemon.Status) {},
			[]string{"3 snapshots (40.4 MB), 78.7 kB written since start\n", "no cat (p=0.000, threshold 0.250)"}, []string{"/h", "78668"}},
		{"rate after two hours", func(s *daemon.Status) { s.Updated = t0.Add(2 * time.Hour); s.StateBytesPerHour = 39334 },
			[]string{"78.7 kB written since start (39.3 kB/h)"}, nil},
		{"cat clearing", func(s *daemon.Status) { s.Cat, s.PCat = true, 0.0001 },
			[]string{"CAT (clearing: the latest frame's p=0.000 is below the threshold 0.250)"}, []string{"CAT (p=0.000"}},
		{"cat", func(s *daemon.Status) { s.Cat, s.PCat = true, 0.9 }, []string{"watching: CAT (p=0.900, threshold 0.250)"}, nil},
		{"cat coming", func(s *daemon.Status) { s.PCat = 0.9 }, []string{"no cat (yet: the latest frame's p=0.900"}, nil},
		{"waiting for camera", func(s *daemon.Status) {
			s.State, s.CameraError, s.Frames = daemon.StateWaitingCamera, "open /dev/video0: no such file or directory", 0
		}, []string{"waiting for camera: no frame yet", "camera: open /dev/video0: no such file or directory"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := base
			tc.edit(&s)
			var b strings.Builder
			if err := printStatus(&b, &s); err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("no %q in\n%s", w, b.String())
				}
			}
			for _, w := range tc.not {
				if strings.Contains(b.String(), w) {
					t.Errorf("%q in\n%s", w, b.String())
				}
			}
		})
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 78668: "78.7 kB", 999_960: "1.0 MB",
		40_360_684: "40.4 MB", 3 << 30: "3.2 GB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestNoCameraOnATerminal: catd run without its camera keeps running,
// and on a terminal its log suggests a source that needs none.
func TestNoCameraOnATerminal(t *testing.T) {
	master, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer master.Close()
	defer tty.Close()
	var out lockedBuilder
	go io.Copy(&out, master)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"run", "--source", "v4l2:" + filepath.Join(dir, "video0"), "--state-dir", dir,
			"--runtime-dir", filepath.Join(dir, "run")}, io.Discard, tty)
	}()
	testwait.For(t, "the hint on the terminal", func() bool {
		return strings.Contains(out.String(), "waiting for camera") && strings.Contains(out.String(), "--source test:")
	})
	testwait.For(t, "status.json saying waiting for camera", func() bool {
		s, err := daemon.ReadStatus(filepath.Join(dir, "run", "status.json"))
		return err == nil && s.State == daemon.StateWaitingCamera
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
