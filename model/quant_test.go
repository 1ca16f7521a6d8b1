package model

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestLayerOutput(t *testing.T) {
	a, err := ParseArch("input 3x6x6; conv 4 k3 s1 p1; relu; gap; flatten; dense 2")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := New(a, Options{MaxBatch: 3})
	n.Init(rand.New(rand.NewPCG(1, 2)))
	x := make([]float32, 2*n.InputLen())
	for i := range x {
		x[i] = float32(i%7) - 3
	}
	z := n.Forward(x)
	if got := n.LayerOutput(len(a.Layers) - 1); !slices.Equal(got, z) {
		t.Errorf("the last layer's output %v is not Forward's %v", got, z)
	}
	conv := n.LayerOutput(0)
	if len(conv) != 2*6*6*4 {
		t.Fatalf("conv output has %d values for 2 images", len(conv))
	}
	for _, v := range conv {
		if v < 0 {
			t.Fatal("the conv output read back before the in-place ReLU")
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("LayerOutput(5) of a 5-layer net did not panic")
		}
	}()
	n.LayerOutput(5)
}

func TestInfoMetadataRoundTrip(t *testing.T) {
	a, _ := ParseArch("input 3x6x6; gap; flatten; dense 1")
	info := Info{Name: "tiny", Mean: []float32{0.1, 0.2, 0.3}, Std: []float32{0.4, 0.5, 0.6}, Threshold: 0.37, Extra: map[string]string{"k": "v"}}
	md := InfoMetadata(info)
	got, err := ParseInfo(md, a)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != info.Name || !slices.Equal(got.Mean, info.Mean) || !slices.Equal(got.Std, info.Std) || got.Threshold != info.Threshold || got.Extra["k"] != "v" {
		t.Errorf("read back %+v, wrote %+v", got, info)
	}
	md["std"] = "1,0,1"
	if _, err := ParseInfo(md, a); err == nil {
		t.Error("a zero std was accepted")
	}
}
