package systemd

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The unit file's interface with catd and with the installed layout.
const (
	unitFile      = "catd.service"
	unitBinary    = "/usr/local/bin/catd"
	unitExecStart = "ExecStart=" + unitBinary + " run --config /etc/catd/catd.yaml"
	maxExposure   = 2.0 // systemd-analyze security's scale: 0 safe … 10 unsafe
)

// unitValues reads the unit's assignments, key to values in file order.
// Continuation lines are not used in catd.service and not supported.
func unitValues(t *testing.T, unit []byte) map[string][]string {
	t.Helper()
	vals := map[string][]string{}
	for i, line := range strings.Split(string(unit), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '[' {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			t.Fatalf("%s:%d: continuation lines not supported here", unitFile, i+1)
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s:%d: %q is not an assignment", unitFile, i+1, line)
		}
		vals[k] = append(vals[k], v)
	}
	return vals
}

// TestUnitContents pins what catd and the Makefile rely on.
func TestUnitContents(t *testing.T) {
	unit, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(unit, []byte("\n"+unitExecStart+"\n")) {
		t.Errorf("no line %q (the Makefile rewrites its path)", unitExecStart)
	}
	vals := unitValues(t, unit)
	for k, want := range map[string]string{
		"Type": "notify", "NotifyAccess": "main", "WatchdogSec": "30",
		"Restart": "on-failure", "User": sysusersName, "Group": sysusersName, "StateDirectory": "catd",
		"StateDirectoryMode": "2750", "UMask": "0007",
		"ConfigurationDirectory": "catd", "KillSignal": "SIGTERM",
		"CapabilityBoundingSet": "", "DevicePolicy": "closed",
	} {
		if got := vals[k]; len(got) != 1 || got[0] != want {
			t.Errorf("%s=%q, want %q", k, got, want)
		}
	}
	if v := vals["PrivateNetwork"]; len(v) > 0 {
		t.Errorf("PrivateNetwork=%q: IP cameras need the network", v)
	}
	if v := vals["DynamicUser"]; len(v) > 0 {
		t.Errorf("DynamicUser=%q: it puts the state under /var/lib/private, out of the catd group's reach", v)
	}
	// The devices a Pi needs: every UART a guide step may use, the USB
	// gadget serial port, and what rpicam-vid opens.
	allowed := strings.Join(vals["DeviceAllow"], "\n")
	for _, dev := range []string{"/dev/ttyAMA0 rw", "/dev/ttyAMA10 rw", "/dev/ttyS0 rw", "/dev/ttyGS0 rw",
		"char-video4linux rw", "char-media rw", "char-dma_heap rw", "/dev/vchiq rw"} {
		if !strings.Contains(allowed, dev) {
			t.Errorf("no DeviceAllow=%s", dev)
		}
	}
}

// rewrittenUnit copies the unit into a temporary directory with ExecStart
// pointing at an executable that exists here, and returns its path.
func rewrittenUnit(t *testing.T) string {
	t.Helper()
	unit, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	bin := catdBinary(t)
	unit = bytes.Replace(unit, []byte("ExecStart="+unitBinary+" "), []byte("ExecStart="+bin+" "), 1)
	p := filepath.Join(t.TempDir(), unitFile)
	if err := os.WriteFile(p, unit, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

var catdBuild struct {
	once sync.Once
	dir  string
	err  error
	out  []byte
}

// catdBinary builds catd once per test run and returns its path, or
// /bin/true when catd does not build (other packages' tests report that).
func catdBinary(t *testing.T) string {
	t.Helper()
	b := &catdBuild
	b.once.Do(func() {
		b.dir, b.err = os.MkdirTemp("", "catd-systemd-test")
		if b.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(b.dir, "catd"), "catd/cmd/catd")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		b.out, b.err = cmd.CombinedOutput()
	})
	if b.err != nil {
		t.Logf("cannot build catd, using /bin/true as ExecStart: %v\n%s", b.err, b.out)
		return "/bin/true"
	}
	return filepath.Join(b.dir, "catd")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if catdBuild.dir != "" {
		os.RemoveAll(catdBuild.dir)
	}
	os.Exit(code)
}

func needAnalyze(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze not installed (Debian package systemd)")
	}
}

// analyze runs systemd-analyze in the unit's directory.
func analyze(t *testing.T, unit string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var o, e bytes.Buffer
	cmd := exec.CommandContext(ctx, "systemd-analyze", append(args, unit)...)
	cmd.Dir = filepath.Dir(unit)
	cmd.Stdout, cmd.Stderr = &o, &e
	cmd.Env = append(os.Environ(), "SYSTEMD_COLORS=0", "SYSTEMD_PAGER=", "LC_ALL=C.UTF-8")
	err = cmd.Run()
	return o.String(), e.String(), err
}

func TestUnitVerify(t *testing.T) {
	needAnalyze(t)
	unit := rewrittenUnit(t)
	out, errOut, err := analyze(t, unit, "verify", "--recursive-errors=no", "--man=no")
	if out != "" {
		t.Logf("systemd-analyze verify stdout:\n%s", out)
	}
	if errOut != "" || err != nil {
		t.Errorf("systemd-analyze verify %s: %v\n%s", unitFile, err, errOut)
	}
}

var exposureRE = regexp.MustCompile(`Overall exposure level for \S+: ([0-9]+(?:\.[0-9]+)?)`)

func TestUnitSecurity(t *testing.T) {
	needAnalyze(t)
	unit := rewrittenUnit(t)
	out, errOut, err := analyze(t, unit, "security", "--offline=yes", "--no-pager")
	if err != nil || errOut != "" {
		// Exit status 1 can mean "above the threshold"; the default
		// threshold is 100, so any failure here is a real one.
		t.Fatalf("systemd-analyze security: %v\n%s%s", err, errOut, out)
	}
	m := exposureRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in:\n%s", out)
	}
	exp, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s exposure: %.1f (limit %.1f)", unitFile, exp, maxExposure)
	if exp > maxExposure {
		var open []string
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "✗") {
				open = append(open, strings.Join(strings.Fields(line), " "))
			}
		}
		t.Errorf("exposure %.1f above %.1f; open items:\n%s", exp, maxExposure, strings.Join(open, "\n"))
	}
}

// makeTree lays out what "make install" reads: the Makefile, the unit,
// a stand-in bin/catd and, if config is not nil, systemd/catd.yaml.
func makeTree(t *testing.T, config []byte) string {
	t.Helper()
	src := t.TempDir()
	copyFile := func(from, to string, mode fs.FileMode) {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, mode); err != nil {
			t.Fatal(err)
		}
	}
	copyFile("../Makefile", filepath.Join(src, "Makefile"), 0o644)
	copyFile(unitFile, filepath.Join(src, "systemd", unitFile), 0o644)
	copyFile(sysusersFile, filepath.Join(src, "systemd", sysusersFile), 0o644)
	copyFile("/bin/true", filepath.Join(src, "bin", "catd"), 0o700)
	if config != nil {
		if err := os.WriteFile(filepath.Join(src, "systemd", "catd.yaml"), config, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return src
}

// runMake runs make in src and returns its output.
func runMake(t *testing.T, src string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", append([]string{"-s", "-C", src}, args...)...)
	cmd.Env = append(os.Environ(), "MAKEFLAGS=", "MFLAGS=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// checkFile fails unless path is a regular file with the mode given.
func checkFile(t *testing.T, path string, mode fs.FileMode) []byte {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != mode {
		t.Errorf("%s: mode %v, want %v", path, fi.Mode(), mode)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func checkGone(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Lstat(path); err == nil {
		t.Errorf("%s still there", path)
	} else if !os.IsNotExist(err) {
		t.Error(err)
	}
}

func TestMakeInstall(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make not installed")
	}
	if _, err := os.Stat("../Makefile"); err != nil {
		t.Skip("no Makefile next to the package")
	}
	const example = "# example config\nsource: test:\n"
	cases := []struct {
		name   string
		prefix string // "" for the default
		config []byte // systemd/catd.yaml in the source tree, nil for none
	}{
		{"default prefix", "", []byte(example)},
		{"prefix /usr", "/usr", []byte(example)},
		{"no example config", "", nil},
	}
	t.Run("not built", func(t *testing.T) {
		src := makeTree(t, nil)
		os.Remove(filepath.Join(src, "bin", "catd"))
		cmd := exec.Command("make", "-s", "-C", src, "install", "DESTDIR="+filepath.Join(src, "root"))
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "make build") {
			t.Errorf("install without bin/catd: %v, output:\n%s", err, out)
		}
		checkGone(t, filepath.Join(src, "root"))
	})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := makeTree(t, c.config)
			dst := filepath.Join(t.TempDir(), "root dir") // a space, to check quoting
			args := []string{"DESTDIR=" + dst}
			prefix := "/usr/local"
			if c.prefix != "" {
				prefix = c.prefix
				args = append(args, "PREFIX="+c.prefix)
			}
			bin := filepath.Join(dst, prefix, "bin", "catd")
			sysusers := filepath.Join(dst, "etc", "sysusers.d", "catd.conf")
			unitPath := filepath.Join(dst, "etc", "systemd", "system", unitFile)
			conf := filepath.Join(dst, "etc", "catd", "catd.yaml")

			out := runMake(t, src, append([]string{"install"}, args...)...)
			checkFile(t, bin, 0o755)
			if got, want := checkFile(t, sysusers, 0o644), mustRead(t, sysusersFile); !bytes.Equal(got, want) {
				t.Errorf("installed %s differs from %s", sysusers, sysusersFile)
			}
			unit := checkFile(t, unitPath, 0o644)
			want := strings.Replace(unitExecStart, unitBinary, prefix+"/bin/catd", 1)
			if !bytes.Contains(unit, []byte("\n"+want+"\n")) {
				t.Errorf("installed unit lacks %q", want)
			}
			orig, _ := os.ReadFile(unitFile)
			if got := bytes.Replace(unit, []byte(want), []byte(unitExecStart), 1); !bytes.Equal(got, orig) {
				t.Error("installed unit differs from catd.service in more than ExecStart")
			}
			if c.config == nil {
				checkGone(t, conf)
				if !strings.Contains(out, "skipping") {
					t.Errorf("no message about the missing example config in:\n%s", out)
				}
			} else if got := checkFile(t, conf, 0o644); string(got) != example {
				t.Errorf("installed config %q, want %q", got, example)
			}

			// A second install over the first, after the admin edited
			// the config, replaces binary and unit but not the config.
			const edited = "# mine\nsource: v4l2:/dev/video1\n"
			if err := os.MkdirAll(filepath.Dir(conf), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(conf, []byte(edited), 0o640); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(conf, 0o640); err != nil { // WriteFile keeps an existing file's mode
				t.Fatal(err)
			}
			os.WriteFile(unitPath, []byte("stale"), 0o600)
			out = runMake(t, src, append([]string{"install"}, args...)...)
			if got := checkFile(t, unitPath, 0o644); !bytes.Equal(got, unit) {
				t.Error("second install did not replace the unit")
			}
			checkFile(t, bin, 0o755)
			if got := checkFile(t, conf, 0o640); string(got) != edited {
				t.Errorf("second install overwrote the edited config: %q", got)
			}
			if !strings.Contains(out, "keeping existing") {
				t.Errorf("no message about keeping the config in:\n%s", out)
			}

			state := filepath.Join(dst, "var", "lib", "catd", "state")
			os.MkdirAll(filepath.Dir(state), 0o700)
			os.WriteFile(state, []byte("x"), 0o600)
			for range 2 { // uninstall twice: the second finds nothing and succeeds
				runMake(t, src, append([]string{"uninstall"}, args...)...)
				checkGone(t, bin)
				checkGone(t, unitPath)
				checkGone(t, sysusers)
				checkFile(t, conf, 0o640)
				checkFile(t, state, 0o600)
			}
		})
	}
}

// The system user the unit runs as, from catd.sysusers.
const (
	sysusersFile = "catd.sysusers"
	sysusersName = "catd"
)

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSysusers makes the user and group from catd.sysusers in an empty
// root with the real systemd-sysusers: a system user catd in its own
// group catd, who cannot log in, at home in the state directory.
func TestSysusers(t *testing.T) {
	if _, err := exec.LookPath("systemd-sysusers"); err != nil {
		t.Skip("systemd-sysusers not installed (Debian package systemd)")
	}
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf, err := filepath.Abs(sysusersFile)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("systemd-sysusers", "--root="+root, conf).CombinedOutput(); err != nil {
		t.Fatalf("systemd-sysusers: %v\n%s", err, out)
	}
	passwd := string(mustRead(t, filepath.Join(root, "etc", "passwd")))
	group := string(mustRead(t, filepath.Join(root, "etc", "group")))
	var user []string
	for _, l := range strings.Split(passwd, "\n") {
		if f := strings.Split(l, ":"); len(f) == 7 && f[0] == sysusersName {
			user = f
		}
	}
	if user == nil {
		t.Fatalf("no user %s in:\n%s", sysusersName, passwd)
	}
	uid, _ := strconv.Atoi(user[2])
	if uid == 0 || uid >= 1000 || user[5] != "/var/lib/catd" || !strings.HasSuffix(user[6], "nologin") {
		t.Errorf("user %q: want a system uid, home /var/lib/catd, no login shell", strings.Join(user, ":"))
	}
	if !strings.Contains(group, "\n"+sysusersName+":x:"+user[3]+":") && !strings.HasPrefix(group, sysusersName+":x:"+user[3]+":") {
		t.Errorf("no group %s with gid %s in:\n%s", sysusersName, user[3], group)
	}
}
