package fixedpoint

import (
	"fmt"
	"math"
	"strconv"

	"catd/model"
	"catd/safetensors"
)

// equalize returns a copy of folded, a float network with its batch norms
// folded, that computes the same function but whose activation channels
// have more even ranges, so that one int8 scale per tensor serves them
// better (a form of cross-layer equalization, Nagel et al. 2019). For
// every layer P with weights (conv, dwconv, dense) whose output reaches the
// next layer with weights C only through ReLU, max pooling, global average
// pooling and flatten (all of which commute with a positive per-channel
// scale), channel c of P's output is divided by
//
//	s_c = clamp((r_c / max_c' r_c')^alpha, 0.01, 1)
//
// (P's row c of weights and its bias divided by s_c) and C's weights on
// that channel multiplied by s_c, where r_c is the largest value channel c
// takes over images. alpha = 1 gives every channel the range of the
// widest; alpha = 0.5 goes half way (in log scale), which leaves C's
// per-row weight scales less lopsided. The float function is unchanged up
// to rounding.
func equalize(folded *model.Net, info model.Info, images [][]uint8, alpha float64) (*model.Net, error) {
	a := folded.Arch
	if err := checkArch(a); err != nil {
		return nil, err
	}
	if !(alpha > 0 && alpha <= 1) {
		return nil, fmt.Errorf("fixedpoint: equalization exponent %v, want 0 < alpha <= 1", alpha)
	}
	if len(images) == 0 {
		return nil, fmt.Errorf("fixedpoint: no images to equalize on")
	}
	in := folded.InputLen()
	ds := make([]dims, len(a.Layers)) // output dims of each layer
	cur := dims{a.H, a.W, a.C}
	for i, l := range a.Layers {
		cur = outDims(cur, l)
		ds[i] = cur
	}
	// The per-channel maxima of every layer's output (after an in-place
	// ReLU).
	chMax := make([][]float32, len(a.Layers))
	for i := range chMax {
		chMax[i] = make([]float32, ds[i].c)
	}
	x := make([]float32, folded.MaxBatch()*in)
	for lo := 0; lo < len(images); lo += folded.MaxBatch() {
		hi := min(lo+folded.MaxBatch(), len(images))
		for j := lo; j < hi; j++ {
			if len(images[j]) != in {
				return nil, fmt.Errorf("fixedpoint: image %d has %d bytes, want %d", j, len(images[j]), in)
			}
			info.NormalizePixels(x[(j-lo)*in:(j-lo+1)*in], images[j])
		}
		folded.Forward(x[:(hi-lo)*in])
		for i := range a.Layers {
			m, c := chMax[i], ds[i].c
			for j, v := range folded.LayerOutput(i) {
				m[j%c] = max(m[j%c], v)
			}
		}
	}
	ts := folded.Tensors()
	byName := map[string][]float32{}
	for _, t := range ts {
		v, err := t.Float32s()
		if err != nil {
			return nil, fmt.Errorf("fixedpoint: %w", err)
		}
		byName[t.Name] = v
	}
	for p, l := range a.Layers {
		if !hasWeights(l.Kind) {
			continue
		}
		c := p + 1
		for c < len(a.Layers) && passesScale(a.Layers[c].Kind) {
			c++
		}
		if c == len(a.Layers) || !hasWeights(a.Layers[c].Kind) {
			continue
		}
		r := chMax[p]
		top := float32(0)
		for _, v := range r {
			top = max(top, v)
		}
		if !(top > 0) {
			continue
		}
		s := make([]float64, len(r))
		for ch, v := range r {
			s[ch] = min(max(math.Pow(float64(v/top), alpha), 0.01), 1)
		}
		pw, pb := byName[strconv.Itoa(p)+".weight"], byName[strconv.Itoa(p)+".bias"]
		k := len(pw) / len(r) // PyTorch layouts: each output channel's weights are contiguous
		for ch, f := range s {
			for j := range k {
				pw[ch*k+j] = float32(float64(pw[ch*k+j]) / f)
			}
			pb[ch] = float32(float64(pb[ch]) / f)
		}
		cw := byName[strconv.Itoa(c)+".weight"]
		var cin dims // the consumer's input
		if c > 0 {
			cin = ds[c-1]
		}
		switch a.Layers[c].Kind {
		case model.Conv: // [Out][In][K][K]
			kk := a.Layers[c].K * a.Layers[c].K
			for o := range a.Layers[c].Out {
				for ch, f := range s {
					for t := range kk {
						j := (o*len(s)+ch)*kk + t
						cw[j] = float32(float64(cw[j]) * f)
					}
				}
			}
		case model.DWConv: // [C][1][K][K]
			kk := a.Layers[c].K * a.Layers[c].K
			for ch, f := range s {
				for t := range kk {
					cw[ch*kk+t] = float32(float64(cw[ch*kk+t]) * f)
				}
			}
		case model.Dense: // [Out][C*H*W], inputs in CHW order
			hw := cin.h * cin.w
			n := cin.len()
			for o := range a.Layers[c].Out {
				for ch, f := range s {
					for q := range hw {
						j := o*n + ch*hw + q
						cw[j] = float32(float64(cw[j]) * f)
					}
				}
			}
		}
	}
	out := &safetensors.File{}
	for _, t := range ts {
		out.Tensors = append(out.Tensors, safetensors.FromFloat32(t.Name, t.Shape, byName[t.Name]))
	}
	e, err := model.New(a, model.Options{MaxBatch: folded.MaxBatch()})
	if err != nil {
		return nil, err
	}
	if err := e.SetTensors(out); err != nil {
		return nil, fmt.Errorf("fixedpoint: equalizing: %w", err)
	}
	return e, nil
}

// passesScale reports whether a layer kind commutes with a positive scale
// per channel, so that equalize can look through it.
func passesScale(k model.Kind) bool {
	return k == model.ReLU || k == model.MaxPool || k == model.GlobalAvgPool || k == model.Flatten
}
