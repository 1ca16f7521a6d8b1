package train

import (
	"fmt"
	"math/rand/v2"
)

// Mode is how a step picks its examples — the three classic flavours of
// gradient descent.
type Mode int

const (
	// Minibatch is minibatch SGD: each epoch visits the examples in a new
	// random order, B at a time, and each step follows the average
	// gradient of its B examples.
	Minibatch Mode = iota
	// SGD is stochastic gradient descent on uniformly sampled examples:
	// each step draws B examples uniformly at random, with replacement
	// (B = 1 is the textbook SGD). An epoch is N/B steps.
	SGD
	// Batch is batch gradient descent: every step follows the gradient of
	// the whole training set (computed in chunks); an epoch is one step.
	Batch
)

// ParseMode reads "minibatch", "sgd" or "batch".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "minibatch", "":
		return Minibatch, nil
	case "sgd":
		return SGD, nil
	case "batch":
		return Batch, nil
	}
	return 0, fmt.Errorf("train: sampling mode %q: want minibatch, sgd or batch", s)
}

func (m Mode) String() string {
	switch m {
	case SGD:
		return "sgd"
	case Batch:
		return "batch"
	}
	return "minibatch"
}

// Balance is how unbalanced classes (far more non-cats than cats) are
// evened out.
type Balance int

const (
	// Weighted weights each example's loss by N/(2*N_class), so both
	// classes count equally in the gradient.
	Weighted Balance = iota
	// Sampled draws cats and non-cats with equal probability (with
	// replacement within a class); it applies to the minibatch and sgd
	// modes.
	Sampled
	// Unbalanced counts every example once.
	Unbalanced
)

// ParseBalance reads "weight", "sample" or "none".
func ParseBalance(s string) (Balance, error) {
	switch s {
	case "weight", "":
		return Weighted, nil
	case "sample":
		return Sampled, nil
	case "none":
		return Unbalanced, nil
	}
	return 0, fmt.Errorf("train: class balance %q: want weight, sample or none", s)
}

func (b Balance) String() string {
	switch b {
	case Sampled:
		return "sample"
	case Unbalanced:
		return "none"
	}
	return "weight"
}

// sampler yields the example indices of each step of an epoch.
type sampler struct {
	mode    Mode
	balance Balance
	batch   int
	n       int
	perm    []int
	byClass [2][]int // indices of non-cats and cats
	pos     int
	idx     []int // the current step's indices
}

func newSampler(mode Mode, balance Balance, batch int, labels []bool) *sampler {
	s := &sampler{mode: mode, balance: balance, batch: batch, n: len(labels), perm: make([]int, len(labels))}
	for i, l := range labels {
		s.perm[i] = i
		c := 0
		if l {
			c = 1
		}
		s.byClass[c] = append(s.byClass[c], i)
	}
	if mode == Batch {
		s.batch = len(labels)
	}
	s.idx = make([]int, 0, s.batch)
	return s
}

// stepsPerEpoch is the number of steps in one epoch.
func (s *sampler) stepsPerEpoch() int {
	if s.mode == Batch {
		return 1
	}
	return (s.n + s.batch - 1) / s.batch
}

// startEpoch reshuffles for a new epoch.
func (s *sampler) startEpoch(r *rand.Rand) {
	s.pos = 0
	for i := range s.perm {
		s.perm[i] = i // each epoch's order depends only on its own seed
	}
	if s.mode == Minibatch && s.balance != Sampled {
		r.Shuffle(len(s.perm), func(i, j int) { s.perm[i], s.perm[j] = s.perm[j], s.perm[i] })
	}
}

// next returns the indices of the next step (a view valid until the next
// call).
func (s *sampler) next(r *rand.Rand) []int {
	s.idx = s.idx[:0]
	switch {
	case s.mode == Batch:
		s.idx = append(s.idx, s.perm...)
	case s.balance == Sampled && len(s.byClass[0]) > 0 && len(s.byClass[1]) > 0:
		for range s.batch {
			cls := s.byClass[r.IntN(2)]
			s.idx = append(s.idx, cls[r.IntN(len(cls))])
		}
	case s.mode == SGD || s.balance == Sampled:
		for range s.batch {
			s.idx = append(s.idx, r.IntN(s.n))
		}
	default:
		end := min(s.pos+s.batch, s.n)
		s.idx = append(s.idx, s.perm[s.pos:end]...)
		s.pos = end
	}
	return s.idx
}
