package optim

import (
	"encoding/binary"
	"encoding/json"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"testing"
)

// sgdRef is the definition of sgd.
func sgdRef(p, g []float32, eta float32) {
	for i := range p {
		p[i] -= float32(eta * g[i])
	}
}

// momentumRef is the definition of momentum.
func momentumRef(p, g, v []float32, eta, beta float32) {
	for i := range p {
		v[i] = float32(beta*v[i]) + g[i]
		p[i] -= float32(eta * v[i])
	}
}

// adamRef is the definition of adam.
func adamRef(p, g, v, s []float32, c adamCoef) {
	for i := range p {
		v[i] = float32(c.b1*v[i]) + float32(c.c1*g[i])
		s[i] = float32(c.b2*s[i]) + float32(c.c2*g[i]*g[i])
		p[i] -= float32(c.step*v[i]) / (sqrt32(s[i])/c.bc2sqrt + c.eps)
	}
}

// guarded returns a slice of n random values inside a buffer whose guard
// bands on both sides hold NaN, and a check that the bands are untouched.
func guarded(rng *rand.Rand, n int, positive bool) ([]float32, func(t *testing.T, name string)) {
	const guard = 8
	buf := make([]float32, n+2*guard)
	nan := float32(math.NaN())
	for i := range buf {
		buf[i] = nan
	}
	x := buf[guard : guard+n : guard+n]
	for i := range x {
		x[i] = float32(rng.NormFloat64())
		if positive {
			x[i] *= x[i]
		}
	}
	return x, func(t *testing.T, name string) {
		t.Helper()
		for i, b := range buf {
			if (i < guard || i >= guard+n) && math.Float32bits(b) != math.Float32bits(nan) {
				t.Fatalf("%s: guard band element %d overwritten with %v", name, i-guard, b)
			}
		}
	}
}

func clone(x []float32) []float32 { return append([]float32(nil), x...) }

// TestKernelsMatchRef requires the unrolled kernels to give bit-identical
// results to their plain twins at every size around the unroll factor, and
// to stay inside their slices.
func TestKernelsMatchRef(t *testing.T) {
	sizes := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 1001}
	c := adamCoef{b1: 0.9, c1: 0.1, b2: 0.999, c2: 0.001, step: 1e-3 / 0.271, bc2sqrt: float32(math.Sqrt(0.003)), eps: 1e-8}
	for _, n := range sizes {
		rng := rand.New(rand.NewPCG(uint64(n), 99))
		t.Run("sgd/n="+itoa(n), func(t *testing.T) {
			p, checkP := guarded(rng, n, false)
			g, checkG := guarded(rng, n, false)
			want := clone(p)
			sgd(p, g, 0.37)
			sgdRef(want, g, 0.37)
			assertSameVec(t, "θ", p, want)
			checkP(t, "θ")
			checkG(t, "g")
		})
		t.Run("momentum/n="+itoa(n), func(t *testing.T) {
			p, checkP := guarded(rng, n, false)
			g, checkG := guarded(rng, n, false)
			v, checkV := guarded(rng, n, false)
			wantP, wantV := clone(p), clone(v)
			momentum(p, g, v, 0.37, 0.9)
			momentumRef(wantP, g, wantV, 0.37, 0.9)
			assertSameVec(t, "θ", p, wantP)
			assertSameVec(t, "V", v, wantV)
			checkP(t, "θ")
			checkG(t, "g")
			checkV(t, "V")
		})
		t.Run("adam/n="+itoa(n), func(t *testing.T) {
			p, checkP := guarded(rng, n, false)
			g, checkG := guarded(rng, n, false)
			v, checkV := guarded(rng, n, false)
			s, checkS := guarded(rng, n, true)
			wantP, wantV, wantS := clone(p), clone(v), clone(s)
			adam(p, g, v, s, c)
			adamRef(wantP, g, wantV, wantS, c)
			assertSameVec(t, "θ", p, wantP)
			assertSameVec(t, "v", v, wantV)
			assertSameVec(t, "s", s, wantS)
			checkP(t, "θ")
			checkG(t, "g")
			checkV(t, "v")
			checkS(t, "s")
		})
	}
}

// goldenFile is testdata/torch_golden.json, written by
// testdata/torch_golden.py from PyTorch's own optimizers.
type goldenFile struct {
	Torch string `json:"torch"`
	Cases []struct {
		Name   string `json:"name"`
		Config struct {
			Kind                        Kind
			Momentum, Beta1, Beta2, Eps float64
		} `json:"config"`
		LR    float64   `json:"lr"`
		Init  []float32 `json:"init"`
		Steps []struct {
			Grad   []float32 `json:"grad"`
			Params []float32 `json:"params"`
		} `json:"steps"`
	} `json:"cases"`
}

// TestTorchGolden replays the gradients PyTorch saw and compares the
// parameters after every step. Regenerate the file with
//
//	/usr/bin/python3 testdata/torch_golden.py --update
func TestTorchGolden(t *testing.T) {
	data, err := os.ReadFile("testdata/torch_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var gf goldenFile
	if err := json.Unmarshal(data, &gf); err != nil {
		t.Fatalf("testdata/torch_golden.json: %v", err)
	}
	if len(gf.Cases) == 0 {
		t.Fatal("testdata/torch_golden.json has no cases")
	}
	for _, gc := range gf.Cases {
		t.Run(gc.Name, func(t *testing.T) {
			cfg := Config{Kind: gc.Config.Kind, Momentum: gc.Config.Momentum, Beta1: gc.Config.Beta1, Beta2: gc.Config.Beta2, Eps: gc.Config.Eps}
			o, err := New(cfg, len(gc.Init))
			if err != nil {
				t.Fatal(err)
			}
			p := clone(gc.Init)
			// Tolerance 1e-6 relative to the largest |θ_i| along PyTorch's
			// trajectory: PyTorch's kernels fuse multiply-adds where Go on
			// amd64 does not, so each step may differ by an ulp of the
			// quantities involved, and a θ that passes near zero would show
			// that as a huge difference relative to itself.
			scale := make([]float64, len(p))
			for i, x := range gc.Init {
				scale[i] = math.Abs(float64(x))
				for _, st := range gc.Steps {
					scale[i] = max(scale[i], math.Abs(float64(st.Params[i])))
				}
			}
			var worst float64
			for k, st := range gc.Steps {
				o.Step(p, st.Grad, float32(gc.LR))
				for i := range p {
					want := float64(st.Params[i])
					d := math.Abs(float64(p[i])-want) / scale[i]
					worst = max(worst, d)
					if d > 1e-6 {
						t.Errorf("step %d: θ[%d] = %v, torch %s gives %v", k+1, i, p[i], gf.Torch, want)
					}
				}
			}
			t.Logf("torch %s, %d steps: worst relative difference %.3g", gf.Torch, len(gc.Steps), worst)
		})
	}
}

// TestSameBitsEverywhere runs each rule for 30 steps on inputs made with
// integer arithmetic only and compares a hash of the resulting θ and state
// with the value recorded on linux/amd64. It fails on an architecture where
// the compiler fused a multiply-add the kernels meant to keep apart.
func TestSameBitsEverywhere(t *testing.T) {
	want := map[string]uint64{
		// Recorded on linux/amd64; also holds on arm64 and arm (qemu).
		"sgd":                 0xddb5c927b81a6229,
		"momentum0.9":         0x3e6158bee710fe73,
		"momentum0.5":         0x61a6ec0d05a5f0b0,
		"adam0.9,0.999,1e-08": 0x75bf21fee6982cfc,
		"adam0.8,0.99,1e-06":  0xb8116f5086078d05,
	}
	for _, cfg := range allConfigs() {
		name := cfgName(cfg)
		t.Run(name, func(t *testing.T) {
			const n = 103
			rng := rand.New(rand.NewPCG(42, 43))
			// Uniform in [-4, 4) with 24 random bits: exact, no math calls.
			vec := func() []float32 {
				v := make([]float32, n)
				for i := range v {
					v[i] = float32(int32(rng.Uint32()>>8)-1<<23) / (1 << 21)
				}
				return v
			}
			o, _ := New(cfg, n)
			p := vec()
			for k := 0; k < 30; k++ {
				o.Step(p, vec(), 0.01)
			}
			h := fnv.New64a()
			var b [4]byte
			put := func(xs []float32) {
				for _, x := range xs {
					binary.LittleEndian.PutUint32(b[:], math.Float32bits(x))
					h.Write(b[:])
				}
			}
			put(p)
			for _, nv := range o.State() {
				put(nv.Data)
			}
			got := h.Sum64()
			if w, ok := want[name]; !ok || got != w {
				t.Errorf("hash %#x, recorded %#x (ok=%v)", got, w, ok)
			}
		})
	}
}
