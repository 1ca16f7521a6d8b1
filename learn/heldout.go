package learn

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"catd/model"
)

// HeldOutLoss returns net's class-weighted binary cross-entropy (the mean
// of each class's mean, as rounds are judged) on the newest max held-out
// examples of each class in r, and how many of each it read. The daemon
// uses it to check a checkpoint before resuming from it. A model whose
// p(cat) is not a number gives a NaN loss. Without held-out examples of
// a class, that class is left out; with none at all the loss is NaN.
func HeldOutLoss(net *model.Net, info model.Info, r *Replay, max int) (loss float64, cats, nons int, err error) {
	if net.InputLen() != r.w*r.h*3 {
		return math.NaN(), 0, 0, fmt.Errorf("learn: the model takes %d inputs, the replay buffer holds %dx%d RGB images", net.InputLen(), r.w, r.h)
	}
	_, val := r.split()
	slices.SortFunc(val, func(a, b *entry) int { return int(b.seq - a.seq) }) // newest first
	px := make([]uint8, r.w*r.h*3)
	x := make([]float32, net.InputLen())
	var p [1]float32
	var sum [2]float64
	var n [2]int
	for _, e := range val {
		c := 0
		if e.Cat {
			c = 1
		}
		if n[c] >= max {
			continue
		}
		if err := r.readPixels(e, px); errors.Is(err, errGone) {
			continue
		} else if err != nil {
			return math.NaN(), n[1], n[0], err
		}
		info.NormalizePixels(x, px)
		net.Predict(p[:], x)
		sum[c] += exampleLoss(p[0], e.Cat)
		n[c]++
	}
	k := 0
	for c := range 2 {
		if n[c] > 0 {
			loss += sum[c] / float64(n[c])
			k++
		}
	}
	if k == 0 {
		return math.NaN(), 0, 0, nil
	}
	return loss / float64(k), n[1], n[0], nil
}
