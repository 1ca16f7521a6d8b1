package learn

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"catd/dataset"
	"catd/model"
)

// Importance returns how much each of net's parameters matters to what
// the network already does on set: the diagonal of the Fisher information
// of its cat output,
//
//	F_i = E_x[ p(x)(1-p(x)) (dz(x)/dtheta_i)^2 ]
//
// (z the cat logit, p its sigmoid), the expected squared gradient of the
// log-likelihood with the label drawn from the model itself. It is taken
// over up to perClass images of each class of set, drawn at random with
// seed, so that the rarer class (cats) counts as much as the other.
//
// The Learner's Anchor, weighted by it (Config.Importance), holds the
// parameters that detect cats in general where they are, and leaves the
// rest free to learn a household: elastic weight consolidation (Kirkpatrick
// et al., 2017) for a one-output model.
func Importance(net *model.Net, info model.Info, set *dataset.Set, perClass int, seed uint64) ([]float32, error) {
	if net.Arch.Outputs() != 1 {
		return nil, fmt.Errorf("learn: importance of a %d-output model: a cat detector has one", net.Arch.Outputs())
	}
	if set.W != net.Arch.W || set.H != net.Arch.H {
		return nil, fmt.Errorf("learn: importance on %dx%d images for a %dx%d model", set.W, set.H, net.Arch.W, net.Arch.H)
	}
	if perClass < 1 {
		return nil, errors.New("learn: importance needs at least one image of each class")
	}
	tn, err := model.New(net.Arch, model.Options{MaxBatch: 1, Training: true})
	if err != nil {
		return nil, err
	}
	copy(tn.Params, net.Params)
	var cats, nons []int
	for i, c := range set.Labels {
		if c {
			cats = append(cats, i)
		} else {
			nons = append(nons, i)
		}
	}
	if len(cats) == 0 || len(nons) == 0 {
		return nil, fmt.Errorf("learn: importance needs images of both classes, have %d cats and %d non-cats", len(cats), len(nons))
	}
	r := rand.New(rand.NewPCG(seed, 0xf15e))
	pick := func(idx []int) []int {
		r.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		return idx[:min(perClass, len(idx))]
	}
	cats, nons = pick(cats), pick(nons)

	fisher := make([]float64, len(tn.Params))
	x := make([]float32, tn.InputLen())
	// Each class's images weigh 1/2 in all, whatever their number.
	accumulate := func(idx []int) {
		w := 0.5 / float64(len(idx))
		for _, i := range idx {
			info.NormalizePixels(x, set.Image(i))
			clear(tn.Grads)
			tn.AddGradientsWith(x, func(dz, z []float32) float32 {
				p := 1 / (1 + math.Exp(-float64(z[0])))
				dz[0] = float32(math.Sqrt(p * (1 - p)))
				return 0
			})
			for j, g := range tn.Grads {
				fisher[j] += w * float64(g) * float64(g)
			}
		}
	}
	accumulate(cats)
	accumulate(nons)
	out := make([]float32, len(fisher))
	for i, f := range fisher {
		out[i] = float32(f)
	}
	return out, nil
}

// importanceWeights turns a Fisher diagonal into the Anchor's weight per
// parameter: F_i over its mean, so that Anchor keeps its scale (the mean
// pull is that of a plain L2 anchor), between MinImportance and
// MaxImportance times the mean: no parameter is quite free, and none is
// pulled so hard that a step overshoots.
func importanceWeights(dst []uint16, fisher []float32) error {
	if len(fisher) != len(dst) {
		return fmt.Errorf("learn: importance of %d parameters for %d trained ones", len(fisher), len(dst))
	}
	mean, err := importanceMean(fisher)
	if err != nil {
		return err
	}
	w := make([]float32, len(fisher))
	for i, f := range fisher {
		w[i] = float32(min(max(float64(f)/mean, MinImportance), MaxImportance))
	}
	toBfloat16(dst, w)
	return nil
}

// importanceMean checks a Fisher diagonal (finite, non-negative, not all
// zero) and returns its mean.
func importanceMean(fisher []float32) (float64, error) {
	var sum float64
	for i, f := range fisher {
		if !(f >= 0) || math.IsInf(float64(f), 0) {
			return 0, fmt.Errorf("learn: importance %v of parameter %d: not a finite, non-negative number", f, i)
		}
		sum += float64(f)
	}
	if !(sum > 0) {
		return 0, errors.New("learn: importance all zero")
	}
	return sum / float64(len(fisher)), nil
}

// The bounds of a parameter's anchor weight, as multiples of the mean.
const (
	MinImportance = 0.01
	MaxImportance = 100
)
