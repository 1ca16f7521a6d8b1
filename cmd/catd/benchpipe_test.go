package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestBenchPipelineJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the pipeline for 2 s and times each stage: slow under qemu")
	}
	procs := runtime.GOMAXPROCS(0)
	var out, errOut strings.Builder
	err := run(context.Background(), []string{"bench", "--pipeline", "--duration", "1s", "--json"}, &out, &errOut)
	if err != nil {
		t.Fatalf("bench --pipeline: %v\n%s", err, errOut.String())
	}
	if got := runtime.GOMAXPROCS(0); got != procs {
		t.Errorf("GOMAXPROCS is %d after the bench, want %d restored", got, procs)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(out.String()), &res); err != nil {
		t.Fatalf("bench --pipeline --json printed %q: %v", out.String(), err)
	}
	for _, key := range []string{"pipeline_fps", "frames", "latency_p50_us", "latency_p99_us", "allocs_per_frame",
		"bytes_per_frame", "jpeg_decode_us", "jpeg_decode_bytes", "jpeg_decode_allocs", "preprocess_us",
		"preprocess_allocs", "infer_us", "gomaxprocs"} {
		if _, ok := res[key].(float64); !ok {
			t.Errorf("no number %q in %s", key, out.String())
		}
	}
	for _, key := range []string{"source", "model", "goarch"} {
		if s, _ := res[key].(string); s == "" {
			t.Errorf("no string %q in %s", key, out.String())
		}
	}
	num := func(k string) float64 { v, _ := res[k].(float64); return v }
	for _, key := range []string{"frames", "pipeline_fps", "jpeg_decode_us", "preprocess_us", "infer_us", "jpeg_scale"} {
		if !(num(key) > 0) {
			t.Errorf("%s = %v, want > 0", key, res[key])
		}
	}
	for _, key := range []string{"preprocess_allocs", "jpeg_decode_allocs"} {
		if num(key) != 0 {
			t.Errorf("%s = %v, want 0", key, res[key])
		}
	}
	if num("jpeg_scale") != 4 {
		t.Errorf("jpeg_scale = %v, want 4 (640x480 cropped to 64x64)", res["jpeg_scale"])
	}
	if num("dropped_frames") != 0 {
		t.Errorf("dropped_frames = %v from the synthetic file played with fps=max, want 0", res["dropped_frames"])
	}
	if num("gomaxprocs") != 1 {
		t.Errorf("gomaxprocs = %v, want 1", res["gomaxprocs"])
	}
	if num("frame_width_px") != 640 || num("frame_height_px") != 480 {
		t.Errorf("representative frame %vx%v, want 640x480", res["frame_width_px"], res["frame_height_px"])
	}
	if p50, p99 := num("latency_p50_us"), num("latency_p99_us"); !(p50 > 0 && p99 >= p50) {
		t.Errorf("latency p50 %v µs, p99 %v µs", p50, p99)
	}
}

// With --int8 the pipeline runs the built-in int8 model, as detect.int8
// has the daemon do.
func TestBenchPipelineInt8(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the pipeline for 1.3 s and times each stage: slow under qemu")
	}
	var out, errOut strings.Builder
	err := run(context.Background(), []string{"bench", "--pipeline", "--int8", "--duration", "300ms", "--json"}, &out, &errOut)
	if err != nil {
		t.Fatalf("bench --pipeline --int8: %v\n%s", err, errOut.String())
	}
	var res struct {
		Model   string  `json:"model"`
		Frames  float64 `json:"frames"`
		InferUS float64 `json:"infer_us"`
		Allocs  float64 `json:"allocs_per_frame"`
	}
	if err := json.Unmarshal([]byte(out.String()), &res); err != nil {
		t.Fatalf("%q: %v", out.String(), err)
	}
	if !strings.Contains(res.Model, "int8") || !(res.Frames > 0) || !(res.InferUS > 0) {
		t.Errorf("model %q, %v frames, inference %v µs", res.Model, res.Frames, res.InferUS)
	}
}

func TestBenchPipelineRefusesBadInput(t *testing.T) {
	missing := "file:" + filepath.Join(t.TempDir(), "missing.mjpeg")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing file", []string{"--source", missing}, missing},
		{"unknown scheme", []string{"--source", "v4l3:/dev/video0"}, "v4l3:/dev/video0"},
		{"bad option", []string{"--source", "test:?fps=fast"}, "test:?fps=fast"},
		{"short duration", []string{"--duration", "1ms"}, "--duration 1ms"},
		{"rounds", []string{"--rounds", "3"}, "--rounds"},
		{"unknown model", []string{"--model", "catnet9000"}, "catnet9000"},
		{"int8 of another model", []string{"--int8", "--model", "catnet64"}, "--int8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"bench", "--pipeline", "--json"}, tc.args...)
			out, _, err := runCatd(t, args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %q", err, tc.want)
			}
			if out != "" {
				t.Errorf("printed %q on failure", out)
			}
		})
	}
	t.Run("source without pipeline", func(t *testing.T) {
		_, _, err := runCatd(t, "bench", "--source", "test:")
		if err == nil || !strings.Contains(err.Error(), "need --pipeline") {
			t.Fatalf("error %v, want one saying --pipeline is needed", err)
		}
	})
}
