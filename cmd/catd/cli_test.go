package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"catd/internal/testwait"
	"catd/model"
)

// runExit runs catd as main does and returns its exit status and streams.
func runExit(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = runMain(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestExitCodesAndStreams: help goes to stdout with status 0, for catd and
// for every command, however asked; usage errors go to stderr with status
// 2 and a pointer to the command's --help.
func TestExitCodesAndStreams(t *testing.T) {
	type want struct {
		code               int
		stdout, stderr     string // substrings of stdout and stderr
		noStdout, noStderr bool   // the stream must be empty
	}
	type cliCase struct {
		name string
		args []string
		want want
	}
	cases := []cliCase{
		{"catd --help", []string{"--help"}, want{code: 0, stdout: "Usage: catd <command>", noStderr: true}},
		{"catd -h", []string{"-h"}, want{code: 0, stdout: "Usage: catd <command>", noStderr: true}},
		{"catd help", []string{"help"}, want{code: 0, stdout: "Commands:", noStderr: true}},
		{"catd alone", nil, want{code: 2, stderr: "no command given", noStdout: true}},
		{"unknown command", []string{"bogus"}, want{code: 2, stderr: "Run 'catd --help' for usage.", noStdout: true}},
		{"help on an unknown command", []string{"help", "bogus"}, want{code: 2, stderr: "no such command", noStdout: true}},
		{"bench-learning --wise out of range", []string{"bench-learning", "--pets", "x", "--wise", "0"},
			want{code: 2, stderr: "--wise 0 is not in (0, 1]", noStdout: true}},
	}
	// A usage error each command reports after parsing its flags.
	misuse := map[string][]string{
		"run":            {"run", "extra"},
		"status":         {"status", "extra"},
		"train":          {"train"},
		"eval":           {"eval"},
		"predict":        {"predict"},
		"quantize":       {"quantize"},
		"importance":     {"importance"},
		"soup":           {"soup"},
		"bench":          {"bench", "extra"},
		"bench-learning": {"bench-learning"},
		"version":        {"version", "extra"},
		"completion":     {"completion", "fish"},
	}
	for _, c := range commands {
		n := c.name
		if misuse[n] == nil {
			t.Errorf("no usage error case for command %s", n)
		}
		helpWant := want{code: 0, stdout: "Usage: catd " + n + " [flags]", noStderr: true}
		usageHint := "Run 'catd " + n + " --help' for usage."
		cases = append(cases,
			cliCase{"help " + n, []string{"help", n}, helpWant},
			cliCase{n + " --help", []string{n, "--help"}, helpWant},
			cliCase{n + " -h", []string{n, "-h"}, helpWant},
			cliCase{n + " --bogus", []string{n, "--bogus"}, want{code: 2, stderr: usageHint, noStdout: true}},
			cliCase{n + " misused", misuse[n], want{code: 2, stderr: usageHint, noStdout: true}},
		)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runExit(t, tc.args...)
			w := tc.want
			if code != w.code {
				t.Errorf("exit status %d, want %d\nstdout: %s\nstderr: %s", code, w.code, out, errOut)
			}
			if !strings.Contains(out, w.stdout) || (w.noStdout && out != "") {
				t.Errorf("stdout %q, want it to hold %q (empty: %v)", out, w.stdout, w.noStdout)
			}
			if !strings.Contains(errOut, w.stderr) || (w.noStderr && errOut != "") {
				t.Errorf("stderr %q, want it to hold %q (empty: %v)", errOut, w.stderr, w.noStderr)
			}
			if strings.HasSuffix(strings.TrimSpace(errOut), ": usage") {
				t.Errorf("stderr ends in a bare \": usage\": %q", errOut)
			}
		})
	}
}

// TestPredictFoldersStdinAndJSON: predict takes folders (their images,
// recursively, in name order), "-" (an image on stdin) and --json.
func TestPredictFoldersStdinAndJSON(t *testing.T) {
	dir := t.TempDir()
	m := filepath.Join(dir, "m.safetensors")
	brightModel(t, m)
	writeImages(t, filepath.Join(dir, "photos", "bright"), 2, true)
	writeImages(t, filepath.Join(dir, "photos", "dark"), 2, false)
	code, out, errOut := runExit(t, "predict", "--model", m, filepath.Join(dir, "photos"))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 4 || !strings.HasSuffix(lines[0], "\tcat") || !strings.HasSuffix(lines[3], "\tno cat") {
		t.Fatalf("predict FOLDER: status %d, stdout %q, stderr %q", code, out, errOut)
	}

	img, err := os.ReadFile(filepath.Join(dir, "photos", "bright", "a.png"))
	if err != nil {
		t.Fatal(err)
	}
	old := stdin
	stdin = bytes.NewReader(img)
	defer func() { stdin = old }()
	code, out, errOut = runExit(t, "predict", "--model", m, "--json", "-", filepath.Join(dir, "photos", "dark", "a.png"))
	var got []struct {
		Path string  `json:"path"`
		PCat float64 `json:"p_cat"`
		Cat  bool    `json:"cat"`
	}
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var r struct {
			Path string  `json:"path"`
			PCat float64 `json:"p_cat"`
			Cat  bool    `json:"cat"`
		}
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("predict --json printed %q: %v", out, err)
		}
		got = append(got, r)
	}
	if code != 0 || len(got) != 2 || got[0].Path != "-" || !got[0].Cat || got[1].Cat || !(got[0].PCat > got[1].PCat) {
		t.Fatalf("predict --json - FILE: status %d, %+v, stderr %q", code, got, errOut)
	}

	stdin = strings.NewReader("not an image")
	if code, _, errOut = runExit(t, "predict", "--model", m, "-"); code != 1 || !strings.Contains(errOut, "catd: -: ") {
		t.Errorf("predict - with garbage on stdin: status %d, stderr %q", code, errOut)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut = runExit(t, "predict", "--model", m, empty); code != 1 || !strings.Contains(errOut, "has no .jpg") {
		t.Errorf("predict on an empty folder: status %d, stderr %q", code, errOut)
	}
}

// TestDefaultsAreWhatCatdRuns: bench and train default to the built-in
// model's architecture.
func TestDefaultsAreWhatCatdRuns(t *testing.T) {
	m, err := readBuiltinInfoName()
	if err != nil {
		t.Fatal(err)
	}
	if m != defaultArch {
		t.Fatalf("the built-in model is %q, defaultArch %q", m, defaultArch)
	}
	for _, c := range []struct{ cmd, flag string }{{"bench", "model"}, {"train", "arch"}} {
		fs, _, _, _ := newFlags(mustCommand(t, c.cmd))
		if got := fs.Lookup(c.flag).DefValue; got != defaultArch {
			t.Errorf("catd %s --%s defaults to %q, want %q", c.cmd, c.flag, got, defaultArch)
		}
	}
}

func mustCommand(t *testing.T, name string) command {
	t.Helper()
	c, ok := findCommand(name)
	if !ok {
		t.Fatalf("no command %s", name)
	}
	return c
}

// readBuiltinInfoName is the architecture name of the model built into
// catd.
func readBuiltinInfoName() (string, error) {
	_, info, err := model.Default(model.Options{MaxBatch: 1})
	return info.Name, err
}

// TestProgressLine: the progress line names the stage at once, is redrawn
// while the stage lasts, and is wiped at the end; off a terminal there is
// none.
func TestProgressLine(t *testing.T) {
	var b lockedBuilder
	if p := startProgress(&b, "catd bench"); p != nil {
		t.Fatal("a progress line on a writer that is no terminal")
	}
	p := newProgress(&b, "catd bench", 5*time.Millisecond)
	p.set("inference, batch 1")
	if !strings.Contains(b.String(), "\r\x1b[Kcatd bench: inference, batch 1 (0 s)") {
		t.Fatalf("first draw %q", b.String())
	}
	if !testwait.Until(5*time.Second, func() bool { return strings.Count(b.String(), "inference, batch 1") >= 3 }) {
		t.Fatalf("not redrawn: %q", b.String())
	}
	p.end()
	p.end() // idempotent
	if !strings.HasSuffix(b.String(), "\r\x1b[K") {
		t.Errorf("line not wiped at the end: %q", b.String())
	}
	n := len(b.String())
	time.Sleep(20 * time.Millisecond) // the redraws have stopped: nothing more is written
	if len(b.String()) != n {
		t.Errorf("drawn after end: %q", b.String()[n:])
	}
}

// TestBashCompletion runs the completion script in a real bash: commands
// after catd and catd help, a command's own flags after a dash.
func TestBashCompletion(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	code, script, errOut := runExit(t, "completion", "bash")
	if code != 0 || errOut != "" {
		t.Fatalf("completion bash: status %d, stderr %q", code, errOut)
	}
	path := filepath.Join(t.TempDir(), "catd.bash")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		words string
		want  string
	}{
		{"catd ru", "run"},
		{"catd b", "bench bench-learning"},
		{"catd help st", "status"},
		{"catd predict --js", "--json"},
		{"catd run --runtime", "--runtime-dir"},
		{"catd status --st", "--state-dir"},
	} {
		words := strings.Fields(tc.words)
		cmd := exec.Command(bash, "--norc", "-c", `source "$1"; COMP_WORDS=(`+tc.words+`); COMP_CWORD=`+
			strconv.Itoa(len(words)-1)+`; _catd; echo "${COMPREPLY[*]}"`, "bash", path)
		out, err := cmd.CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != tc.want {
			t.Errorf("completing %q: %q (%v), want %q", tc.words, out, err, tc.want)
		}
	}
	if code, out, _ := runExit(t, "completion", "zsh"); code != 0 || !strings.HasPrefix(out, "autoload -U +X bashcompinit") {
		t.Errorf("completion zsh: status %d, %q", code, out)
	}
}

// TestLogAboveProgress: a log line written while the progress line shows
// goes above it, and the line is drawn again below.
func TestLogAboveProgress(t *testing.T) {
	var b lockedBuilder
	p := newProgress(&b, "catd eval", time.Hour)
	defer p.end()
	p.set("loading images")
	if _, err := (aboveProgress{&b}).Write([]byte("08:00:00.000 INF images loaded\n")); err != nil {
		t.Fatal(err)
	}
	want := "\r\x1b[Kcatd eval: loading images (0 s)\r\x1b[K08:00:00.000 INF images loaded\n\r\x1b[Kcatd eval: loading images (0 s)"
	if b.String() != want {
		t.Errorf("terminal got %q, want %q", b.String(), want)
	}
	p.end()
	var c lockedBuilder
	if _, err := (aboveProgress{&c}).Write([]byte("x\n")); err != nil || c.String() != "x\n" {
		t.Errorf("without a progress line: %q, %v", c.String(), err)
	}
}
