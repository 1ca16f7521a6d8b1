package model

import (
	"math"
	"strings"
	"testing"
)

func TestAverage(t *testing.T) {
	a, err := ParseArch("input 3x8x8; conv 4 k3 s1 p1; bn; relu; gap; flatten; dense 1")
	if err != nil {
		t.Fatal(err)
	}
	nets := make([]*Net, 3)
	for i := range nets {
		if nets[i], err = New(a, Options{MaxBatch: 1}); err != nil {
			t.Fatal(err)
		}
		for j := range nets[i].Params {
			nets[i].Params[j] = float32(i+1) * float32(j%7-3)
		}
		for j := range nets[i].Buffers {
			nets[i].Buffers[j] = float32(i+1) + float32(j)/8
		}
	}
	dst, err := New(a, Options{MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	// Weights 1, 2, 1: the mean is (1·1 + 2·2 + 1·3)/4 = 2 times model 1's.
	if err := dst.Average(nets, []float64{1, 2, 1}); err != nil {
		t.Fatal(err)
	}
	for j, v := range dst.Params {
		if want := 2 * nets[0].Params[j]; v != want {
			t.Fatalf("param %d: %v, want %v", j, v, want)
		}
	}
	for j, v := range dst.Buffers {
		want := 2 + float32(j)/8
		if math.Abs(float64(v-want)) > 1e-6 {
			t.Fatalf("buffer %d: %v, want %v", j, v, want)
		}
	}
	// The average is the model: its output is the averaged model's.
	x := make([]float32, dst.InputLen())
	for i := range x {
		x[i] = float32(i%5) / 5
	}
	ref, _ := New(a, Options{MaxBatch: 1})
	for j := range ref.Params {
		ref.Params[j] = 2 * nets[0].Params[j]
	}
	copy(ref.Buffers, dst.Buffers)
	if got, want := dst.Forward(x)[0], ref.Forward(x)[0]; got != want {
		t.Errorf("the average's output %v, want %v", got, want)
	}

	// Equal weights by default, and into one of the averaged models: the
	// mean of 1, 2 and 3 times the same weights is model 2.
	if err := nets[0].Average(nets, nil); err != nil {
		t.Fatal(err)
	}
	for j, v := range nets[0].Params {
		if want := nets[1].Params[j]; math.Abs(float64(v-want)) > 1e-6 {
			t.Fatalf("equal weights, param %d: %v, want %v", j, v, want)
		}
	}

	other, _ := ParseArch("input 3x8x8; conv 5 k3 s1 p1; bn; relu; gap; flatten; dense 1")
	odd, err := New(other, Options{MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		nets    []*Net
		weights []float64
		want    string
	}{
		{"none", nil, nil, "no models"},
		{"count", nets, []float64{1, 1}, "2 weights for 3 models"},
		{"negative", nets, []float64{1, -1, 1}, "want a finite number >= 0"},
		{"NaN", nets, []float64{1, math.NaN(), 1}, "want a finite number >= 0"},
		{"Inf", nets, []float64{1, math.Inf(1), 1}, "want a finite number >= 0"},
		{"zero", nets, []float64{0, 0, 0}, "all zero"},
		{"architecture", []*Net{nets[1], odd}, nil, "model 1 is"},
	} {
		if err := dst.Average(c.nets, c.weights); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.want)
		}
	}
}
