package main

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"catd/model"
)

// TestSoup: two detectors fine-tuned from one model averaged with weights
// 1 and 3; the soup's weights and statistics are that mean, its threshold
// is fitted on --val, and it names its ingredients. Bad inputs are refused
// with an error naming them.
func TestSoup(t *testing.T) {
	dir, data, a, b := twoFineTunes(t)
	soup := filepath.Join(dir, "soup.safetensors")
	stdout, _, err := runCatd(t, "soup", "--val", data, "--weights", "1,3", "--out", soup, "--log-level", "error", a, b)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "2 models averaged: val ROC AUC") {
		t.Errorf("stdout %q does not report the soup's figures", stdout)
	}
	read := func(path string) (*model.Net, model.Info) {
		n, info, err := model.ReadFile(path, model.Options{MaxBatch: 1})
		if err != nil {
			t.Fatal(err)
		}
		return n, info
	}
	na, _ := read(a)
	nb, _ := read(b)
	ns, info := read(soup)
	differ := false
	for _, p := range [][3][]float32{{na.Params, nb.Params, ns.Params}, {na.Buffers, nb.Buffers, ns.Buffers}} {
		for i := range p[2] {
			want := (p[0][i] + 3*p[1][i]) / 4
			if d := p[2][i] - want; d > 1e-6 || d < -1e-6 {
				t.Fatalf("value %d of the soup is %v, want %v from %v and %v", i, p[2][i], want, p[0][i], p[1][i])
			}
			differ = differ || p[0][i] != p[1][i]
		}
	}
	if !differ {
		t.Fatal("the two ingredients are the same model: the test cannot tell a mean from either")
	}
	if !(info.Threshold > 0 && info.Threshold < 1) {
		t.Errorf("threshold %v, want one fitted on --val in (0, 1)", info.Threshold)
	}
	digest := func(path string) string {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(raw)
		return hex.EncodeToString(sum[:])
	}
	if s, want := info.Extra["soup_of"], a+" sha256:"+digest(a)+", "+b+" sha256:"+digest(b); s != want {
		t.Errorf("soup_of %q, want both ingredients with their digests: %q", s, want)
	}
	if auc, err := strconv.ParseFloat(info.Extra["val_roc_auc"], 64); err != nil || auc < 0.9 {
		t.Errorf("val_roc_auc %q (%v): the soup of two detectors of the toy set should rank it (>= 0.9)", info.Extra["val_roc_auc"], err)
	}
	if _, ok := info.Extra["train_command"]; ok {
		t.Errorf("the soup carries an ingredient's train_command %q as its own", info.Extra["train_command"])
	}
	for k, path := range []string{a, b} {
		_, in := read(path)
		key := "soup_train_command_" + strconv.Itoa(k+1)
		if got, want := info.Extra[key], in.Extra["train_command"]; got != want || !strings.Contains(got, "--seed "+strconv.Itoa(k+2)) {
			t.Errorf("%s %q, want %s's train_command %q", key, got, path, want)
		}
	}

	other := filepath.Join(dir, "other.safetensors")
	if _, _, err := runCatd(t, "train", "--data", data, "--arch", "input 3x16x16; conv 3 k3 s1 p1; relu; gap; flatten; dense 1",
		"--epochs", "1", "--batch", "4", "--out", other, "--log-level", "error"); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "x.safetensors")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--val", data, "--out", out, a}, "two or more model files"},
		{[]string{"--out", out, a, b}, "--val"},
		{[]string{"--val", data, a, b}, "--out"},
		{[]string{"--val", data, "--out", out, "--weights", "1", a, b}, "1 weights for 2 models"},
		{[]string{"--val", data, "--out", out, "--weights", "1,-2", a, b}, "want a finite number >= 0"},
		{[]string{"--val", data, "--out", out, "--weights", "1,1", "--greedy", a, b}, "--weights and --greedy"},
		{[]string{"--val", data, "--out", out, a, other}, other + " is"},
		{[]string{"--val", data, "--out", out, a, filepath.Join(dir, "absent.safetensors")}, "absent.safetensors"},
	} {
		if _, _, err := runCatd(t, append([]string{"soup", "--log-level", "error"}, c.args...)...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("soup %q: %v, want an error saying %q", c.args, err, c.want)
		}
	}
}

// TestSoupGreedy: a greedy soup keeps the detectors that help on --val and
// leaves out one that would spoil the soup, naming each step.
func TestSoupGreedy(t *testing.T) {
	dir, data, a, b := twoFineTunes(t)
	// bad is a with its head (dense 1 over 4 channels: the last 4 weights
	// and the bias) turned around and made ten times larger: alone it
	// ranks the set backwards, and in a soup it outweighs the others' heads.
	na, info, err := model.ReadFile(a, model.Options{MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	head := na.Params[len(na.Params)-5:]
	for i := range head {
		head[i] *= -10
	}
	bad := filepath.Join(dir, "bad.safetensors")
	if err := na.WriteFile(bad, info); err != nil {
		t.Fatal(err)
	}
	soup := filepath.Join(dir, "soup.safetensors")
	stdout, _, err := runCatd(t, "soup", "--val", data, "--greedy", "--out", soup, "--log-level", "error", bad, a, b)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "\nleft out "+bad+" (alone ") || !strings.Contains(stdout, "2 models averaged") {
		t.Errorf("stdout %q does not show the step that left the reversed detector out and the soup of two", stdout)
	}
	ns, sinfo, err := model.ReadFile(soup, model.Options{MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	steps := sinfo.Extra["soup_greedy"]
	if !strings.Contains(steps, "left out "+bad) {
		t.Errorf("soup_greedy %q does not leave out the reversed detector", steps)
	}
	if strings.Contains(sinfo.Extra["soup_of"], bad) {
		t.Errorf("soup_of %q names the model left out", sinfo.Extra["soup_of"])
	}
	if !strings.HasPrefix(steps, "start "+a) && !strings.HasPrefix(steps, "start "+b) {
		t.Errorf("soup_greedy %q does not start from a good detector", steps)
	}
	na, _, _ = model.ReadFile(a, model.Options{MaxBatch: 1})
	nb, _, err := model.ReadFile(b, model.Options{MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range ns.Params {
		if want := (na.Params[i] + nb.Params[i]) / 2; math.Abs(float64(v-want)) > 1e-6 {
			t.Fatalf("value %d of the greedy soup is %v, want the mean of the two good detectors %v", i, v, want)
		}
	}
	if auc, err := strconv.ParseFloat(sinfo.Extra["val_roc_auc"], 64); err != nil || auc < 0.9 {
		t.Errorf("val_roc_auc %q (%v), want the two good detectors' soup to rank the set (>= 0.9)", sinfo.Extra["val_roc_auc"], err)
	}
}

// TestSoupRecipe: the soup keeps each ingredient's train command, and the
// pretraining's only when every ingredient was fine-tuned from the same one.
func TestSoupRecipe(t *testing.T) {
	a := map[string]string{"train_command": "catd train --seed 1", "backbone_train_command": "catd train --pretrain", "backbone_val_accuracy": "0.28", "val_roc_auc": "0.94"}
	b := map[string]string{"train_command": "catd train --seed 2", "backbone_train_command": "catd train --pretrain", "backbone_val_accuracy": "0.28"}
	got := soupRecipe([]map[string]string{a, b})
	want := map[string]string{"soup_train_command_1": "catd train --seed 1", "soup_train_command_2": "catd train --seed 2",
		"backbone_train_command": "catd train --pretrain", "backbone_val_accuracy": "0.28"}
	if !maps.Equal(got, want) {
		t.Errorf("soupRecipe = %v, want %v", got, want)
	}
	c := map[string]string{"train_command": "catd train --seed 3", "backbone_train_command": "catd train --pretrain --camera-augment"}
	got = soupRecipe([]map[string]string{a, c})
	if _, ok := got["backbone_train_command"]; ok || got["soup_train_command_2"] != c["train_command"] {
		t.Errorf("soupRecipe of two pretrainings = %v, want both train commands and no backbone_ keys", got)
	}
	if got := soupRecipe([]map[string]string{{}, {}}); len(got) != 0 {
		t.Errorf("soupRecipe of ingredients without metadata = %v, want nothing", got)
	}
}

// twoFineTunes trains a toy detector and fine-tunes it twice for one epoch,
// with seeds 2 and 3, into a and b: two ingredients of one soup.
func twoFineTunes(t *testing.T) (dir, data, a, b string) {
	t.Helper()
	dir, data, common, start := startedDetector(t)
	a, b = filepath.Join(dir, "a.safetensors"), filepath.Join(dir, "b.safetensors")
	for i, out := range []string{a, b} {
		if _, _, err := runCatd(t, append(slices.Clone(common), "--epochs", "1", "--init", start, "--seed", strconv.Itoa(i+2), "--out", out)...); err != nil {
			t.Fatal(err)
		}
	}
	return dir, data, a, b
}
