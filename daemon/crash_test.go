//go:build linux

package daemon

import (
	"bufio"
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"catd/camera"
	"catd/config"
	"catd/state"
)

// TestCrashChild is the daemon killed by TestSIGKILLDuringCheckpoints: it
// runs the service on the built-in model, writing a checkpoint every 20 ms.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv("CATD_CRASH_DIR")
	if dir == "" {
		t.Skip("the child of TestSIGKILLDuringCheckpoints")
	}
	crashTestEvery = 20 * time.Millisecond
	cfg := config.Default()
	cfg.Source, cfg.StatsEvery = "test:", 0
	cfg.HTTP.Listen = "" // no web page on the machine's port 8787
	cfg.Checkpoint.Keep = 3
	ctx := context.Background()
	err := Run(ctx, Options{Config: cfg, StateDir: dir, Log: zerolog.New(os.Stdout).Level(zerolog.InfoLevel),
		OpenSource: func(uri string, _ zerolog.Logger) (camera.Source, error) {
			return &steadySource{name: uri, pix: 128}, nil
		}})
	t.Fatal(err) // only a SIGKILL ends it
}

// TestSIGKILLDuringCheckpoints kills the daemon with SIGKILL at random
// moments while it writes checkpoints, 50 times, and after each kill loads
// the state directory the way a restart does: it must come up on a valid
// checkpoint of its model, and the checkpoints on disk never exceed the
// generations kept plus one being written.
func TestSIGKILLDuringCheckpoints(t *testing.T) {
	if os.Getenv("CATD_CRASH_DIR") != "" {
		t.Skip("in the child")
	}
	runs := 50
	if testing.Short() {
		runs = 10
	}
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(11, 12))
	written := 0
	for i := range runs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
		cmd.Env = append(os.Environ(), "CATD_CRASH_DIR="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Skipf("cannot run the test binary again: %v", err)
		}
		// Wait for this run's first checkpoint, then kill at a random moment.
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "checkpoint written") {
				break
			}
		}
		go func() {
			for sc.Scan() {
			}
		}()
		// Real time: the kill lands at a random moment of the child's work.
		time.Sleep(time.Duration(r.IntN(40)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("run %d: the daemon ended with %v before it was killed", i, err)
		}

		files, _ := filepath.Glob(filepath.Join(dir, "checkpoints", "*"))
		if len(files) > 3+1 {
			t.Fatalf("run %d: %d files in checkpoints/: %v", i, len(files), files)
		}
		// A restart: the stale temporary file goes, the newest valid
		// checkpoint of the built-in model is loaded.
		s := &service{log: zerolog.Nop()}
		cp, err := state.OpenCheckpoints(filepath.Join(dir, "checkpoints"), 3, nil)
		if err != nil {
			t.Fatal(err)
		}
		s.ckpts.Store(cp)
		base, err := s.loadModel("")
		if err != nil {
			t.Fatal(err)
		}
		var empty string
		s.checkpoint.Store(&empty)
		got := s.resume(base)
		if !strings.Contains(got.name, "checkpoint-") || checkDetector(got.infer) != nil {
			t.Fatalf("run %d: the restart came up on %q, not a valid checkpoint", i, got.name)
		}
		if stale, _ := cp.Stale(); len(stale) > 0 {
			written++ // killed mid-write: a temporary file was left and removed
		}
	}
	t.Logf("%d kills, %d of them mid-write (a temporary file left behind); every restart loaded a valid checkpoint", runs, written)
}
