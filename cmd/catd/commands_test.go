package main

import (
	"bufio"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"catd/model"

	"catd/internal/testwait"
)

// writeImages writes n PNGs of 16x16 into dir, bright ones if bright.
func writeImages(t *testing.T, dir string, n int, bright bool) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(uint64(n), 1))
	for i := range n {
		img := image.NewRGBA(image.Rect(0, 0, 16, 16))
		for p := 0; p < len(img.Pix); p += 4 {
			v := uint8(20 + r.IntN(60))
			if bright {
				v += 150
			}
			img.Pix[p], img.Pix[p+1], img.Pix[p+2], img.Pix[p+3] = v, v, v, 255
		}
		f, err := os.Create(filepath.Join(dir, string(rune('a'+i))+".png"))
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
}

// brightModel writes a model whose p(cat) grows with brightness.
func brightModel(t *testing.T, path string) {
	t.Helper()
	a, err := model.ParseArch("input 3x8x8; gap; flatten; dense 1")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := model.New(a, model.Options{MaxBatch: 1})
	copy(n.Params, []float32{1, 1, 1, 0})
	info := model.DefaultInfo(a, "")
	info.Mean, info.Std = []float32{0.5, 0.5, 0.5}, []float32{0.25, 0.25, 0.25}
	if err := n.WriteFile(path, info); err != nil {
		t.Fatal(err)
	}
}

func TestTrainEvalPredict(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	writeImages(t, filepath.Join(data, "cat"), 12, true)
	writeImages(t, filepath.Join(data, "noncat"), 12, false)
	writeImages(t, filepath.Join(data, "other"), 2, false)
	out := filepath.Join(dir, "m.safetensors")
	_, _, err := runCatd(t, "train", "--data", data, "--val", data, "--arch",
		"input 3x16x16; conv 4 k3 s1 p1; relu; gap; flatten; dense 1", "--epochs", "4", "--batch", "4",
		"--lr", "0.05", "--out", out, "--plot", filepath.Join(dir, "c.png"), "--log-level", "error")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{out, filepath.Join(dir, "m.ckpt.safetensors"), filepath.Join(dir, "c.png")} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("train did not write %s: %v", f, err)
		}
	}
	js, _, err := runCatd(t, "eval", "--model", out, "--data", data, "--json", "--log-level", "error")
	if err != nil {
		t.Fatal(err)
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(js), &rep); err != nil {
		t.Fatalf("eval --json printed %q: %v", js, err)
	}
	keys := []string{"n", "n_cat", "n_noncat", "accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc", "threshold"}
	if len(rep) != len(keys) {
		t.Errorf("eval --json keys %v, want exactly %v", rep, keys)
	}
	for _, k := range keys {
		if _, ok := rep[k]; !ok {
			t.Errorf("eval --json lacks %q", k)
		}
	}
	if rep["n"].(float64) != 24 || rep["n_cat"].(float64) != 12 {
		t.Errorf("eval counted %v images, %v cats", rep["n"], rep["n_cat"])
	}
	if rep["roc_auc"].(float64) < 0.9 {
		t.Errorf("a model trained on this data has ROC AUC %v on it", rep["roc_auc"])
	}
	text, _, err := runCatd(t, "eval", "--model", out, "--data", data, "--log-level", "error")
	if err != nil || !strings.Contains(text, "ROC AUC") {
		t.Errorf("eval printed %q, %v", text, err)
	}
}

// TestTrainWiSE fine-tunes a model with --init and --wise: the saved model
// lies between the starting model and the trained one (and --wise without
// --init is a usage error).
func TestTrainWiSE(t *testing.T) {
	dir, _, common, start := startedDetector(t)
	// The same run twice, saving the trained weights and their midpoint
	// with the start (one epoch: the saved epoch is the last).
	full, half := filepath.Join(dir, "full.safetensors"), filepath.Join(dir, "half.safetensors")
	for _, c := range []struct{ out, wise string }{{full, "1"}, {half, "0.5"}} {
		if _, _, err := runCatd(t, append(slices.Clone(common), "--epochs", "1", "--init", start, "--wise", c.wise, "--out", c.out)...); err != nil {
			t.Fatal(err)
		}
	}
	read := func(path string) *model.Net {
		n, _, err := model.ReadFile(path, model.Options{MaxBatch: 1})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	s, f, h := read(start), read(full), read(half)
	moved := false
	for i := range h.Params {
		want := (s.Params[i] + f.Params[i]) / 2
		if d := h.Params[i] - want; d > 1e-5 || d < -1e-5 {
			t.Fatalf("--wise 0.5: weight %d is %v, want the midpoint %v of %v and %v", i, h.Params[i], want, s.Params[i], f.Params[i])
		}
		moved = moved || s.Params[i] != f.Params[i]
	}
	if !moved {
		t.Fatal("the fine-tuned weights equal the starting ones")
	}
	if _, _, err := runCatd(t, append(slices.Clone(common), "--wise", "0.5", "--out", filepath.Join(dir, "x.safetensors"))...); err == nil ||
		!strings.Contains(err.Error(), "--init") {
		t.Errorf("--wise without --init: %v", err)
	}
}

// TestAuxClassesTraining pretrains a classifier, then fine-tunes a detector
// from it with auxiliary class outputs: the class outputs start from the
// classifier's, the saved model is a plain one-output detector, and the
// run resumes from its (multi-output) checkpoint.
func TestAuxClassesTraining(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	writeImages(t, filepath.Join(data, "cat"), 12, true)
	writeImages(t, filepath.Join(data, "noncat"), 12, false)
	const arch = "input 3x16x16; conv 4 k3 s1 p1; bn; relu; gap; flatten; dense 1"
	pre := filepath.Join(dir, "pre.safetensors")
	if _, _, err := runCatd(t, "train", "--data", data, "--arch", arch, "--pretrain", "--epochs", "2", "--batch", "4",
		"--out", pre, "--log-level", "error"); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "m.safetensors")
	args := []string{"train", "--data", data, "--val", data, "--arch", arch, "--init-backbone", pre, "--aux-classes", "0.5",
		"--epochs", "3", "--batch", "4", "--lr", "0.05", "--out", out, "--log-json"}
	_, logs, err := runCatd(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs, "backbone and class outputs loaded") {
		t.Errorf("the class outputs did not start from the classifier's:\n%s", logs)
	}
	n, info, err := model.ReadFile(out, model.Options{MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	if k := n.Arch.Outputs(); k != 1 {
		t.Errorf("the saved detector has %d outputs, want 1", k)
	}
	// The model says how its backbone was trained, not only its last stage.
	if c := info.Extra["backbone_train_command"]; !strings.HasSuffix(c, " --pretrain") || !strings.Contains(c, "--out "+pre) ||
		!strings.Contains(c, "--arch '"+arch+"'") {
		t.Errorf("backbone_train_command %q does not give the pretraining run", c)
	}
	if info.Extra["backbone_val_accuracy"] != "" || info.Extra["backbone_trained_epochs"] != "2" {
		t.Errorf("backbone metadata %v: want the classifier's 2 epochs (and no val accuracy: it had no --val)", info.Extra)
	}
	js, _, err := runCatd(t, "eval", "--model", out, "--data", data, "--json", "--log-level", "error")
	if err != nil {
		t.Fatal(err)
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(js), &rep); err != nil {
		t.Fatal(err)
	}
	if rep["roc_auc"].(float64) < 0.9 {
		t.Errorf("a detector trained with auxiliary outputs has ROC AUC %v on its training data", rep["roc_auc"])
	}
	resumed := append(slices.Clone(args), "--resume", filepath.Join(dir, "m.ckpt.safetensors"), "--epochs", "4")
	if _, logs, err := runCatd(t, resumed...); err != nil || !strings.Contains(logs, `"epoch":4`) {
		t.Errorf("resuming the run: %v\n%s", err, logs)
	}
	if _, _, err := runCatd(t, "train", "--data", data, "--arch", arch, "--pretrain", "--aux-classes", "0.5",
		"--out", filepath.Join(dir, "x.safetensors")); err == nil || !strings.Contains(err.Error(), "--aux-classes") {
		t.Errorf("--aux-classes with --pretrain: %v", err)
	}
}

func TestPredictReportsBadFiles(t *testing.T) {
	dir := t.TempDir()
	brightModel(t, filepath.Join(dir, "m.safetensors"))
	writeImages(t, filepath.Join(dir, "img"), 2, true)
	bad := filepath.Join(dir, "broken.jpg")
	os.WriteFile(bad, []byte("not a jpeg"), 0o644)
	out, errOut, err := runCatd(t, "predict", "--model", filepath.Join(dir, "m.safetensors"),
		filepath.Join(dir, "img", "a.png"), bad, filepath.Join(dir, "img", "b.png"))
	if err == nil || !strings.Contains(err.Error(), "1 of 3 images") {
		t.Errorf("predict error %v, want one counting the unreadable image", err)
	}
	if !strings.Contains(errOut, "broken.jpg") {
		t.Errorf("stderr %q does not name the broken file", errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "a.png\t") || !strings.HasSuffix(lines[0], "\tcat") {
		t.Errorf("predict printed %q", out)
	}
}

func TestRunOnTestSource(t *testing.T) {
	dir := t.TempDir()
	brightModel(t, filepath.Join(dir, "m.safetensors"))
	ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
	defer cancel()
	var out, errOut strings.Builder
	err := run(ctx, []string{"run", "--model", filepath.Join(dir, "m.safetensors"), "--source", "test:?fps=30",
		"--stats-every", "1s", "--log-json", "--state-dir", dir}, &out, &errOut)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(errOut.String(), `"event":"stats"`) {
		t.Errorf("no stats event in the log:\n%s", errOut.String())
	}
}

func TestRunRefusesBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"bad source", []string{"run", "--source", "carrier-pigeon:", "--state-dir", t.TempDir()}, "carrier-pigeon"},
		{"bad model file", []string{"run", "--model", "/nonexistent/m.safetensors", "--source", "test:", "--state-dir", t.TempDir()}, "/nonexistent/m.safetensors"},
		{"bad roi", []string{"run", "--roi", "1,2,3", "--source", "test:", "--state-dir", t.TempDir()}, "--roi"},
		{"bad threshold", []string{"run", "--threshold", "1.5", "--source", "test:", "--state-dir", t.TempDir()}, "--threshold"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runCatd(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestDefaultModelOnSamplePhotos runs the built-in model on the CC0 sample
// photos, full-size pictures unlike its 64x64 training images: the cat
// must score above every non-cat.
func TestDefaultModelOnSamplePhotos(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "data", "samples")
	cats, _ := filepath.Glob(filepath.Join(dir, "cat", "*"))
	noncats, _ := filepath.Glob(filepath.Join(dir, "noncat", "*"))
	if len(cats) == 0 || len(noncats) == 0 {
		t.Skip("../shared/data/samples not present")
	}
	out, _, err := runCatd(t, append(append([]string{"predict"}, cats...), noncats...)...)
	if err != nil {
		t.Fatal(err)
	}
	p := map[string]float64{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, "\t")
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			t.Fatalf("predict printed %q", line)
		}
		p[f[0]] = v
	}
	t.Logf("p(cat): %v", p)
	for _, c := range cats {
		for _, n := range noncats {
			if p[c] <= p[n] {
				t.Errorf("the cat %s scores %.3f, not above %s at %.3f", filepath.Base(c), p[c], filepath.Base(n), p[n])
			}
		}
	}
}

// TestRunServesTheSerialConsole runs catd on the test: source with its
// serial console on a real pseudo-terminal and talks to it from the other
// end, as a laptop with picocom would.
func TestRunServesTheSerialConsole(t *testing.T) {
	master, slave, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer master.Close()
	defer slave.Close() // with no slave open, reading the master fails before catd opens it
	port := slave.Name()
	dir := t.TempDir()
	brightModel(t, filepath.Join(dir, "m.safetensors"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	var errOut lockedBuilder // written by catd's goroutines while the test reads it
	go func() {
		done <- run(ctx, []string{"run", "--model", filepath.Join(dir, "m.safetensors"), "--source", "test:?fps=20",
			"--stats-every", "1s", "--serial-port", port, "--log-json", "--state-dir", dir}, io.Discard, &errOut)
	}()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(master)
		for sc.Scan() {
			lines <- strings.TrimRight(sc.Text(), "\r")
		}
		close(lines)
	}()
	expect := func(prefix string) string {
		t.Helper()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("the port closed before %q", prefix)
				}
				if strings.HasPrefix(l, prefix) {
					return l
				}
			case <-ctx.Done():
				t.Fatalf("no %q line from the console\n%s", prefix, errOut.String())
			}
		}
	}
	expect("EVT stats")
	master.Write([]byte("threshold 0.97\r"))
	if l := expect("OK"); !strings.Contains(l, "0.97") {
		t.Errorf("threshold answered %q", l)
	}
	master.Write([]byte("status\r\n"))
	if l := expect("OK"); !strings.Contains(l, "threshold=0.970") || !strings.Contains(l, "learning=on") {
		t.Errorf("status answered %q, want the overridden threshold", l)
	}
	master.Write([]byte("label cat\r\n"))
	if l := expect("OK"); !strings.Contains(l, ", the latest (p(cat) ") || !strings.Contains(l, "labelled frame ") {
		t.Errorf("label answered %q", l)
	}
	master.Write([]byte("label noncat no-such-frame.jpg\r\n"))
	if l := expect("ERR"); !strings.Contains(l, "no review frame") {
		t.Errorf("label of a missing review frame answered %q", l)
	}
	master.Write([]byte("learn off\r\n"))
	if l := expect("OK"); !strings.Contains(l, "learning off") {
		t.Errorf("learn off answered %q", l)
	}
	master.Write([]byte("save\r\n"))
	// The reply and the event may come in either order.
	var reply, event string
	for reply == "" || event == "" {
		switch l := expect(""); {
		case strings.HasPrefix(l, "OK") || strings.HasPrefix(l, "ERR"):
			reply = l
		case strings.HasPrefix(l, "EVT checkpoint"):
			event = l
		}
	}
	if !strings.Contains(reply, "OK checkpoint saved") {
		t.Errorf("save answered %q", reply)
	}
	if !strings.Contains(event, filepath.Join(dir, "checkpoints", "checkpoint-00000001.safetensors")) {
		t.Errorf("checkpoint event %q", event)
	}
	if _, _, err := model.ReadFile(filepath.Join(dir, "checkpoints", "checkpoint-00000001.safetensors"), model.Options{MaxBatch: 1}); err != nil {
		t.Errorf("the checkpoint is not a model file: %v", err)
	}
	master.Write([]byte("reload\r\n"))
	if l := expect("ERR"); !strings.Contains(l, "no config file") {
		t.Errorf("reload without a config answered %q", l)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestStatusCommand(t *testing.T) {
	dir := t.TempDir()
	brightModel(t, filepath.Join(dir, "m.safetensors"))
	if _, _, err := runCatd(t, "status", "--runtime-dir", dir); err == nil || !strings.Contains(err.Error(), "is catd running") {
		t.Fatalf("status without a daemon: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"run", "--model", filepath.Join(dir, "m.safetensors"), "--source", "test:?fps=20",
			"--stats-every", "0", "--runtime-dir", dir, "--state-dir", dir, "--log-level", "error"}, io.Discard, io.Discard)
	}()
	var (
		out string
		err error
	)
	if !testwait.Until(15*time.Second, func() bool {
		out, _, err = runCatd(t, "status", "--runtime-dir", dir)
		return err == nil && strings.Contains(out, "watching") && !strings.Contains(out, "frames 0 ")
	}) {
		t.Fatalf("no status with frames: %q, %v", out, err)
	}
	if !strings.Contains(out, "source test:?fps=20") {
		t.Errorf("status printed %q", out)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// lockedBuilder is a strings.Builder safe for concurrent writes and reads.
type lockedBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuilder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startedDetector writes a toy data set of bright cats and dark non-cats
// in a temporary dir, and trains a small detector on it for one epoch
// (start). common is the train command line for more of the same.
func startedDetector(t *testing.T) (dir, data string, common []string, start string) {
	t.Helper()
	dir = t.TempDir()
	data = filepath.Join(dir, "data")
	writeImages(t, filepath.Join(data, "cat"), 12, true)
	writeImages(t, filepath.Join(data, "noncat"), 12, false)
	const arch = "input 3x16x16; conv 4 k3 s1 p1; bn; relu; gap; flatten; dense 1"
	start = filepath.Join(dir, "start.safetensors")
	common = []string{"train", "--data", data, "--val", data, "--arch", arch, "--batch", "4", "--lr", "0.05", "--log-level", "error"}
	if _, _, err := runCatd(t, append(slices.Clone(common), "--epochs", "1", "--out", start)...); err != nil {
		t.Fatal(err)
	}
	return dir, data, common, start
}
