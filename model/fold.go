package model

import (
	"fmt"

	"catd/conv"
)

// Folded returns an inference-only copy of n in which every batch norm that
// directly follows a convolution (conv or dwconv) is folded into that
// convolution's weights and bias (conv.FoldBatchNorm), so inference skips a
// pass over every such activation. Its Forward equals n's Forward up to
// float rounding. The copy has no batch-norm layers after convolutions, so
// its parameters are not laid out like n's: save n, not the copy.
func (n *Net) Folded(opt Options) (*Net, error) {
	opt.Training = false
	var a Arch
	a.C, a.H, a.W = n.Arch.C, n.Arch.H, n.Arch.W
	keep := make([]bool, len(n.layers))
	for i, l := range n.layers {
		fold := l.Kind == BatchNorm && i > 0 && (n.layers[i-1].Kind == Conv || n.layers[i-1].Kind == DWConv)
		if !fold {
			keep[i] = true
			a.Layers = append(a.Layers, l.Layer)
		}
	}
	f, err := New(a, opt)
	if err != nil {
		return nil, fmt.Errorf("model: folding batch norms: %w", err)
	}
	j := 0
	for i, l := range n.layers {
		if !keep[i] {
			continue
		}
		d := &f.layers[j]
		copy(d.w, l.w)
		copy(d.b, l.b)
		copy(d.runMean, l.runMean)
		copy(d.runVar, l.runVar)
		if i+1 < len(n.layers) && !keep[i+1] {
			bn := &n.layers[i+1]
			conv.FoldBatchNorm(d.w, d.b, bn.w, bn.b, bn.runMean, bn.runVar, bn.bn.Eps)
		}
		j++
	}
	return f, nil
}
