package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"testing"
)

func runCatd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "no command given"},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"unknown flag", []string{"bench", "--frobnicate"}, "unknown flag: --frobnicate"},
		{"bad log level", []string{"version", "--log-level", "loud"}, `--log-level "loud"`},
		{"stray argument", []string{"version", "extra"}, "takes no arguments"},
		{"bad rounds", []string{"bench", "--rounds", "0"}, "--rounds 0"},
		{"unknown model", []string{"bench", "--model", "catnet9000", "--rounds", "1"}, `unknown architecture "catnet9000"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runCatd(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, _, err := runCatd(t, "frobnicate"); !errors.Is(err, errUsage) {
		t.Errorf("unknown command is not a usage error: %v", err)
	}
}

func TestVersion(t *testing.T) {
	out, _, err := runCatd(t, "version")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "catd ") || !strings.Contains(out, runtime.GOOS+"/"+runtime.GOARCH) {
		t.Errorf("version printed %q", out)
	}
}

func TestBenchJSON(t *testing.T) {
	out, _, err := runCatd(t, "bench", "--model", "catnet64", "--rounds", "2", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("bench --json printed %q: %v", out, err)
	}
	for _, key := range []string{"infer_b1_us", "train_sgdm_b1_us", "train_sgdm_b16_us", "train_adam_b1_us",
		"infer_allocs_per_op", "train_allocs_per_op", "params_bytes", "optimizer_state_bytes", "workspace_bytes", "workspace_b16_bytes"} {
		v, ok := res[key].(float64)
		if !ok {
			t.Errorf("bench --json has no number %q", key)
			continue
		}
		if strings.HasSuffix(key, "_us") && !(v > 0) {
			t.Errorf("%s = %v, want a positive time", key, v)
		}
	}
	if res["params_bytes"].(float64) != 4*24593 || res["optimizer_state_bytes"].(float64) != 4*24593 {
		t.Errorf("params_bytes %v, optimizer_state_bytes %v, want %d each", res["params_bytes"], res["optimizer_state_bytes"], 4*24593)
	}
	if ws, ws16 := res["workspace_bytes"].(float64), res["workspace_b16_bytes"].(float64); !(ws > 0 && ws16 > ws) {
		t.Errorf("workspace %v B at batch 1, %v B at batch 16: want more at 16", ws, ws16)
	}
	// Inference's layers are the folded net's: the training net's but for
	// the batch norms.
	infer, _ := res["inference_layers"].([]any)
	train, _ := res["layers"].([]any)
	bns, sum := 0, 0.0
	for _, l := range train {
		if l.(map[string]any)["layer"] == "bn" {
			bns++
		}
	}
	for _, l := range infer {
		sum += l.(map[string]any)["forward_us"].(float64)
	}
	if len(infer) == 0 || len(infer) != len(train)-bns || !(sum > 0) {
		t.Errorf("%d inference layers (%v µs in all) for %d training layers with %d batch norms", len(infer), sum, len(train), bns)
	}
	if res["infer_allocs_per_op"].(float64) != 0 || res["train_allocs_per_op"].(float64) != 0 {
		t.Errorf("allocations per op: inference %v, training %v", res["infer_allocs_per_op"], res["train_allocs_per_op"])
	}
}
