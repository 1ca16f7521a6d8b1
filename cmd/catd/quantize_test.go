package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"catd/fixedpoint"
	"catd/model"
)

// convModel writes a model with a convolution whose p(cat) grows with
// brightness: positive 3×3 weights, ReLU, average, a negative bias.
func convModel(t *testing.T, path string) {
	t.Helper()
	a, err := model.ParseArch("input 3x8x8; conv 2 k3 s1 p1; bn; relu; gap; flatten; dense 1")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := model.New(a, model.Options{MaxBatch: 1})
	for i := range n.Params {
		n.Params[i] = 0.05 // conv weights and biases
	}
	p := n.Params[54+2:]                     // after the conv: bn gamma, beta
	copy(p, []float32{1, 0.5, 0, 0.1})       // gamma, beta
	copy(p[4:], []float32{1, 0.5, -1})       // dense weights, bias
	copy(n.Buffers, []float32{0, 0.2, 1, 2}) // running mean, variance
	info := model.DefaultInfo(a, "")
	info.Mean, info.Std = []float32{0.5, 0.5, 0.5}, []float32{0.25, 0.25, 0.25}
	if err := n.WriteFile(path, info); err != nil {
		t.Fatal(err)
	}
}

func TestQuantizeEvalPredictInt8(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	writeImages(t, filepath.Join(data, "cat"), 10, true)
	writeImages(t, filepath.Join(data, "noncat"), 10, false)
	m, m8 := filepath.Join(dir, "m.safetensors"), filepath.Join(dir, "m8.safetensors")
	convModel(t, m)

	out, _, err := runCatd(t, "quantize", "--model", m, "--calib", data, "--calib-limit", "8", "--out", m8, "--log-level", "error")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"quantized " + m + " to " + m8, "calibration: 8 images", "agrees with float32 on 100.00% of 8 images", "ROC AUC float32 1.0000, int8 1.0000"} {
		if !strings.Contains(out, want) {
			t.Errorf("quantize printed %q, want %q in it", out, want)
		}
	}
	q, info, err := fixedpoint.ReadFile(m8, fixedpoint.Options{MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	if info.Extra["float_model"] != m || info.Extra["calib_images"] != "8" || info.Extra["int8_agreement"] != "1.0000" || len(info.Extra["float_model_sha256"]) != 64 {
		t.Errorf("int8 model metadata %v", info.Extra)
	}
	if q.Arch.String() != "input 3x8x8; conv 2 k3 s1 p1; relu; gap; flatten; dense 1" {
		t.Errorf("int8 model architecture %q, want the folded one", q.Arch)
	}

	for _, tc := range []struct {
		name string
		args []string
	}{
		{"int8 file", []string{"--model", m8}},
		{"float file quantized on the fly", []string{"--model", m, "--calib", data, "--ranges", "99.9", "--equalize", "0"}},
	} {
		t.Run("eval "+tc.name, func(t *testing.T) {
			js, _, err := runCatd(t, append([]string{"eval", "--int8", "--data", data, "--json", "--log-level", "error"}, tc.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			var rep map[string]any
			if err := json.Unmarshal([]byte(js), &rep); err != nil {
				t.Fatalf("eval --int8 --json printed %q: %v", js, err)
			}
			if rep["n"].(float64) != 20 || rep["roc_auc"].(float64) != 1 || rep["accuracy"].(float64) != 1 {
				t.Errorf("eval --int8: %v", rep)
			}
		})
	}
	out, _, err = runCatd(t, "predict", "--int8", "--model", m8, filepath.Join(data, "cat", "a.png"), filepath.Join(data, "noncat", "b.png"))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err != nil || len(lines) != 2 || !strings.HasSuffix(lines[0], "\tcat") || !strings.HasSuffix(lines[1], "\tno cat") {
		t.Errorf("predict --int8 printed %q, %v", out, err)
	}
	// The built-in int8 model, with no flags.
	out, _, err = runCatd(t, "predict", "--int8", filepath.Join(data, "cat", "a.png"))
	if err != nil || !strings.HasPrefix(out, filepath.Join(data, "cat", "a.png")+"\t") {
		t.Errorf("predict --int8 with the built-in model printed %q, %v", out, err)
	}
}

func TestInt8FlagErrors(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	writeImages(t, filepath.Join(data, "cat"), 2, true)
	writeImages(t, filepath.Join(data, "noncat"), 2, false)
	m, m8 := filepath.Join(dir, "m.safetensors"), filepath.Join(dir, "m8.safetensors")
	convModel(t, m)
	if _, _, err := runCatd(t, "quantize", "--model", m, "--calib", data, "--out", m8, "--log-level", "error"); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(data, "cat", "a.png")
	for _, tc := range []struct {
		name  string
		args  []string
		want  string
		usage bool
	}{
		{"float model without calibration", []string{"eval", "--int8", "--model", m, "--data", data}, "is a float model: --int8 needs --calib", true},
		{"int8 model without --int8", []string{"predict", "--model", m8, img}, "use --int8", false},
		{"int8 model with --calib", []string{"predict", "--int8", "--model", m8, "--calib", data, img}, "already an int8 model", true},
		{"--calib without --int8", []string{"eval", "--model", m, "--calib", data, "--data", data}, "--calib needs --int8", true},
		{"bad ranges", []string{"quantize", "--model", m, "--calib", data, "--out", m8, "--ranges", "max"}, `--ranges "max"`, true},
		{"bad equalize", []string{"eval", "--int8", "--model", m, "--calib", data, "--data", data, "--equalize", "2"}, "--equalize 2", true},
		{"quantize without --out", []string{"quantize", "--calib", data}, "needs --calib and --out", true},
		{"bench --int8 --pipeline of another model", []string{"bench", "--int8", "--pipeline", "--model", m}, "--int8 with --pipeline runs the built-in int8 model", true},
		{"calibration data missing", []string{"quantize", "--model", m, "--calib", filepath.Join(dir, "nothing"), "--out", m8}, "nothing", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runCatd(t, append(tc.args, "--log-level", "error")...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if errors.Is(err, errUsage) != tc.usage {
				t.Errorf("usage error: %v, want %v", errors.Is(err, errUsage), tc.usage)
			}
		})
	}
	if _, err := os.Stat(m8); err != nil {
		t.Errorf("a failed quantize removed %s: %v", m8, err)
	}
}

func TestBenchInt8(t *testing.T) {
	out, _, err := runCatd(t, "bench", "--model", "input 3x16x16; conv 4 k3 s1 p1; bn; relu; gap; flatten; dense 1", "--rounds", "3", "--int8", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("bench --int8 --json printed %q: %v", out, err)
	}
	if v, ok := res["infer_int8_b1_us"].(float64); !ok || v <= 0 {
		t.Errorf("infer_int8_b1_us = %v", res["infer_int8_b1_us"])
	}
	if v, ok := res["infer_int8_allocs_per_op"].(float64); !ok || v != 0 {
		t.Errorf("infer_int8_allocs_per_op = %v, want 0", res["infer_int8_allocs_per_op"])
	}
	out, _, err = runCatd(t, "bench", "--model", "catnet64", "--rounds", "2", "--json")
	if err != nil || strings.Contains(out, "int8") {
		t.Errorf("bench without --int8 printed %q, %v", out, err)
	}
	text, _, err := runCatd(t, "bench", "--model", "input 3x8x8; gap; flatten; dense 1", "--rounds", "2", "--int8")
	if err != nil || !strings.Contains(text, "int8 inference, batch 1:") {
		t.Errorf("bench --int8 printed %q, %v", text, err)
	}
}
