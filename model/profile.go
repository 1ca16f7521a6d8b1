package model

import (
	"fmt"
	"slices"
	"time"
)

// LayerTime is the median time one layer took in Profile.
type LayerTime struct {
	Index    int
	Layer    string        // e.g. "conv 8 k3 s1 p1"
	Forward  time.Duration // median forward time for the batch
	Backward time.Duration // median backward time; 0 for an inference net
}

// Profile runs forward (and, for a training net, backward with labels y)
// rounds times on the batch x and returns each layer's median times. It
// allocates; it is for benchmarks, not for the hot path.
func (n *Net) Profile(x, y []float32, rounds int) []LayerTime {
	b := n.batch(x)
	if rounds < 1 {
		panic(fmt.Sprintf("model: Profile with %d rounds", rounds))
	}
	fw := make([][]time.Duration, len(n.layers))
	bw := make([][]time.Duration, len(n.layers))
	for range rounds {
		n.input = x
		cur := x
		for i := range n.layers {
			t0 := time.Now()
			cur = n.forwardLayer(i, b, cur, n.Grads != nil)
			fw[i] = append(fw[i], time.Since(t0))
		}
		if n.Grads == nil {
			continue
		}
		clear(n.Grads)
		dz := n.dlogits[:len(cur)]
		if k := n.outputs; k == 1 {
			BCEWithLogits(dz, cur, y, nil)
		} else {
			SoftmaxCrossEntropy(dz, cur, y, nil, k)
		}
		c := 0
		g := n.gbuf[c][:len(dz)]
		copy(g, dz)
		for i := len(n.layers) - 1; i >= 0; i-- {
			t0 := time.Now()
			var done bool
			g, done = n.backwardLayer(i, b, g, &c)
			bw[i] = append(bw[i], time.Since(t0))
			if done {
				break
			}
		}
	}
	out := make([]LayerTime, len(n.layers))
	for i, l := range n.layers {
		out[i] = LayerTime{Index: i, Layer: l.Layer.String(), Forward: median(fw[i]), Backward: median(bw[i])}
	}
	return out
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[len(d)/2]
}
