package systemd

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadyAndWatchdogUnderQEMU cross-compiles catd for the Raspberry Pi
// (arm64, and armv6 for the Pi Zero/1 with QEMU_CPU=arm1176), runs it under
// user-mode qemu as "catd run --source test:" with a socket standing in for
// systemd's NOTIFY_SOCKET, and checks it says READY=1, pings WATCHDOG=1
// within the watchdog period, and says STOPPING=1 and exits 0 on SIGTERM.
func TestReadyAndWatchdogUnderQEMU(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles and emulates catd; skipped with -short")
	}
	if runtime.GOARCH != "amd64" {
		t.Skip("runs the ARM binaries under qemu from an amd64 host")
	}
	for _, tc := range []struct {
		name, qemu string
		env        []string // build environment
		cpu        string
	}{
		{"arm64", "qemu-aarch64-static", []string{"GOARCH=arm64"}, "cortex-a72"},
		{"armv6", "qemu-arm-static", []string{"GOARCH=arm", "GOARM=6"}, "arm1176"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			qemu, err := exec.LookPath(tc.qemu)
			if err != nil {
				t.Skipf("%s not installed (apt-get install qemu-user-static)", tc.qemu)
			}
			dir := t.TempDir()
			bin := filepath.Join(dir, "catd")
			build := exec.Command("go", "build", "-o", bin, "catd/cmd/catd")
			build.Env = append(append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux"), tc.env...)
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("building catd for %s: %v\n%s", tc.name, err, out)
			}
			sock := filepath.Join(dir, "notify.sock")
			conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()

			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, qemu, bin, "run", "--source", "test:?fps=10", "--stats-every", "0", "--log-json",
				"--state-dir", t.TempDir())
			cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=1000000", "QEMU_CPU="+tc.cpu)
			var logs strings.Builder
			cmd.Stderr = &logs
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			buf := make([]byte, 4096)
			wait := func(msg string) {
				t.Helper()
				for !seen[msg] {
					conn.SetReadDeadline(time.Now().Add(60 * time.Second))
					n, err := conn.Read(buf)
					if err != nil {
						cmd.Process.Kill()
						cmd.Wait()
						t.Fatalf("waiting for %s (seen %v): %v\ncatd's log:\n%s", msg, seen, err, logs.String())
					}
					for _, line := range strings.Split(string(buf[:n]), "\n") {
						seen[line] = true
					}
				}
			}
			wait("READY=1")
			wait("WATCHDOG=1")
			term := time.Now()
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			wait("STOPPING=1")
			if err := cmd.Wait(); err != nil {
				t.Fatalf("catd exited with %v after SIGTERM\n%s", err, logs.String())
			}
			// The daemon issue's bound (systemd's TimeoutStopSec is 20 s).
			if d := time.Since(term); d > 5*time.Second {
				t.Errorf("catd took %v to exit after SIGTERM, want at most 5 s", d)
			} else {
				t.Logf("exit %v after SIGTERM", d.Round(time.Millisecond))
			}
		})
	}
}
