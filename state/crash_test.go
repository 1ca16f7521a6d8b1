//go:build linux

package state

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The crash test runs this test binary again as a child that saves
// checkpoints in a loop, kills it with SIGKILL at a random moment, and
// checks that the directory still holds a loadable checkpoint.
const (
	crashDirEnv  = "CATD_STATE_CRASH_DIR" // set in the child: its checkpoint directory
	crashQemuEnv = "CATD_QEMU"            // optional: the emulator to run the child with
	crashStarted = "saving"               // the child's line once its first Save is done
	crashKeep    = 3
)

// TestCrashChild is the child of TestCheckpointSurvivesSIGKILL. It saves the
// default model, a parameter changed each time, until it is killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("the child of TestCheckpointSurvivesSIGKILL; runs only under it")
	}
	net, info := newModel(t)
	c, err := OpenCheckpoints(dir, crashKeep, nil)
	if err != nil {
		t.Fatal(err)
	}
	write := func(w io.Writer) error { return net.Encode(w, info) }
	deadline := time.Now().Add(2 * time.Minute) // should the parent die without killing us
	for i := 0; time.Now().Before(deadline); i++ {
		net.Params[i%len(net.Params)] += 0.001
		if _, err := c.SaveFrom(write); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			fmt.Println(crashStarted)
		}
	}
	t.Fatal("not killed within 2 minutes")
}

// TestCheckpointSurvivesSIGKILL kills a process saving checkpoints at random
// moments and checks each time that the newest checkpoint loads, that none
// is refused (a file is in place only once whole), that sequence numbers
// keep growing and that at most keep+1 files are ever left: keep
// generations and a temporary file, or keep+1 generations when the kill
// came between a rename and the deletion of the oldest.
//
// A SIGKILL leaves the page cache to the kernel, so this tests the
// write-then-rename protocol, not the fsyncs a power cut needs.
func TestCheckpointSurvivesSIGKILL(t *testing.T) {
	const runs = 50
	dir := t.TempDir()
	cmd0 := crashCommand(t, dir)
	var prevSeq uint64
	var withTemp, extraGen int
	start := time.Now()
	for run := range runs {
		crashOnce(t, cmd0, dir, rand.N(41*time.Millisecond))

		names := dirNames(t, dir)
		if len(names) > crashKeep+1 {
			t.Fatalf("run %d: %d files after the kill, want at most %d: %q", run, len(names), crashKeep+1, names)
		}
		gens := 0
		for _, n := range names {
			if _, ok := parseCheckpointName(n); ok {
				gens++
			} else if !strings.HasPrefix(n, tmpPrefix) {
				t.Fatalf("run %d: unexpected file %s", run, n)
			}
		}
		if gens < len(names) {
			withTemp++
		}
		if gens > crashKeep {
			extraGen++
		}

		c, err := OpenCheckpoints(dir, crashKeep, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Stale(); err != nil {
			t.Fatal(err)
		}
		for _, n := range dirNames(t, dir) {
			if strings.HasPrefix(n, tmpPrefix) {
				t.Errorf("run %d: %s left after OpenCheckpoints", run, n)
			}
		}
		path, skipped, err := c.Load(decodeModel)
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if len(skipped) > 0 {
			t.Errorf("run %d: generations refused: %v", run, skipped)
		}
		seq, _ := parseCheckpointName(filepath.Base(path))
		if seq <= prevSeq {
			t.Errorf("run %d: loaded generation %d, not after the previous run's %d", run, seq, prevSeq)
		}
		prevSeq = seq
	}
	t.Logf("%d kills in %v: %d left a temporary file, %d an extra generation; last generation %d",
		runs, time.Since(start).Round(time.Millisecond), withTemp, extraGen, prevSeq)
}

// crashCommand returns the command that runs TestCrashChild on dir: this
// test binary, through CATD_QEMU if set. A test binary run by qemu-user
// cannot exec another foreign binary without binfmt_misc; then the child
// runs through qemu-<arch>-static if it is on the PATH, and the test is
// skipped if not.
func crashCommand(t *testing.T, dir string) []string {
	self := []string{os.Args[0], "-test.run=^TestCrashChild$"}
	if q := os.Getenv(crashQemuEnv); q != "" {
		return append([]string{q}, self...)
	}
	err := exec.Command(os.Args[0], "-test.run=^$").Run()
	if !errors.Is(err, syscall.ENOEXEC) {
		return self
	}
	qemu := "qemu-" + map[string]string{"arm64": "aarch64", "amd64": "x86_64", "386": "i386"}[runtime.GOARCH] + "-static"
	if runtime.GOARCH == "arm" || runtime.GOARCH == "riscv64" {
		qemu = "qemu-" + runtime.GOARCH + "-static"
	}
	q, lerr := exec.LookPath(qemu)
	if lerr != nil {
		t.Skipf("cannot run the child: %v (under qemu-user without binfmt_misc); set %s to the emulator's path", err, crashQemuEnv)
	}
	t.Logf("%v: running the child through %s", err, q)
	return append([]string{q}, self...)
}

// crashOnce starts the child on dir, waits until it has saved once, waits
// delay more and kills it with SIGKILL.
func crashOnce(t *testing.T, argv []string, dir string, delay time.Duration) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- s
	}()
	select {
	case s := <-line:
		if strings.TrimSpace(s) != crashStarted {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child said %q, want %q; stderr:\n%s", s, crashStarted, stderr.Bytes())
		}
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child did not start saving within a minute; stderr:\n%s", stderr.Bytes())
	}
	time.Sleep(delay) // real time: the kill lands at a chosen moment of the child's saving
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, not by SIGKILL; stderr:\n%s", err, stderr.Bytes())
	}
}
