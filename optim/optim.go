package optim

import (
	"fmt"
	"math"
)

// Kind names an update rule.
type Kind string

// The update rules; see the package documentation for the formulas.
const (
	KindSGD      Kind = "sgd"
	KindMomentum Kind = "momentum"
	KindAdam     Kind = "adam"
)

// ParseKind returns the Kind named s: "sgd", "momentum" or "adam".
func ParseKind(s string) (Kind, error) {
	switch k := Kind(s); k {
	case KindSGD, KindMomentum, KindAdam:
		return k, nil
	}
	return "", fmt.Errorf("optim: unknown optimizer kind %q (want sgd, momentum or adam)", s)
}

// Config selects an update rule and its hyper-parameters. The learning rate
// is not part of it: it is passed to every [Optimizer.Step], usually from a
// [Schedule].
//
// Only the fields used by Kind are looked at. Start from [DefaultConfig]:
// zero values are not replaced by defaults (a zero Momentum is valid and
// makes the momentum rule plain SGD).
type Config struct {
	Kind Kind

	// Momentum is β of the momentum rule, in [0, 1).
	Momentum float64

	// Beta1 and Beta2 are Adam's decay rates for the first and second
	// moments, each in (0, 1); Eps (> 0) is added after the square root.
	Beta1, Beta2, Eps float64
}

// DefaultConfig returns the configuration for kind k with the usual
// defaults: Momentum 0.9, Beta1 0.9, Beta2 0.999, Eps 1e-8. All fields are
// filled whatever k is, so that changing only Kind gives a valid Config.
func DefaultConfig(k Kind) Config {
	return Config{Kind: k, Momentum: 0.9, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}
}

// Validate reports whether c names a known rule and the fields that rule
// uses are finite and in range: 0 <= Momentum < 1, 0 < Beta1 < 1,
// 0 < Beta2 < 1, Eps > 0 (and still so when rounded to float32).
func (c Config) Validate() error {
	switch c.Kind {
	case KindSGD:
		return nil
	case KindMomentum:
		if !(c.Momentum >= 0 && c.Momentum < 1) {
			return fmt.Errorf("optim: momentum: beta %v out of range [0, 1)", c.Momentum)
		}
		return nil
	case KindAdam:
		if !(c.Beta1 > 0 && c.Beta1 < 1) {
			return fmt.Errorf("optim: adam: beta1 %v out of range (0, 1)", c.Beta1)
		}
		if !(c.Beta2 > 0 && c.Beta2 < 1) {
			return fmt.Errorf("optim: adam: beta2 %v out of range (0, 1)", c.Beta2)
		}
		if e := float32(c.Eps); !(e > 0 && !math.IsInf(float64(e), 1)) {
			return fmt.Errorf("optim: adam: eps %v must be positive and finite in float32", c.Eps)
		}
		return nil
	}
	_, err := ParseKind(string(c.Kind))
	return err
}

// Names of the state vectors returned by [Optimizer.State].
const (
	StateMomentumV = "momentum.V" // V of the momentum rule
	StateAdamV     = "adam.v"     // Adam's first moment v
	StateAdamS     = "adam.s"     // Adam's second moment s
)

// NamedVector is one named state vector, as held in a checkpoint.
type NamedVector struct {
	Name string
	Data []float32
}

// Optimizer applies one update rule to a parameter vector of fixed length.
// It owns its state vectors (none for SGD, V for momentum, v and s for
// Adam) but not the parameters or gradients, which are passed to each
// [Optimizer.Step]. An Optimizer is not safe for concurrent use.
type Optimizer struct {
	cfg Config
	n   int
	t   int64
	v   []float32 // momentum V, or Adam's first moment v
	s   []float32 // Adam's second moment s
}

// New returns an Optimizer for nparams parameters with zeroed state and
// T() == 0. It fails if cfg is invalid or nparams is negative.
func New(cfg Config, nparams int) (*Optimizer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if nparams < 0 {
		return nil, fmt.Errorf("optim: negative parameter count %d", nparams)
	}
	o := &Optimizer{cfg: cfg, n: nparams}
	o.alloc()
	return o, nil
}

// alloc sets the state vectors to fresh zeroed ones for o.cfg.Kind and o.n.
func (o *Optimizer) alloc() {
	o.v, o.s = nil, nil
	switch o.cfg.Kind {
	case KindMomentum:
		o.v = make([]float32, o.n)
	case KindAdam:
		o.v = make([]float32, o.n)
		o.s = make([]float32, o.n)
	}
}

// Config returns the configuration in use.
func (o *Optimizer) Config() Config { return o.cfg }

// Len returns the number of parameters o updates.
func (o *Optimizer) Len() int { return o.n }

// T returns the number of steps taken since New, the last [Optimizer.Reset],
// a [Optimizer.Switch] to Adam, or the t given to [Optimizer.SetState]. For
// Adam the next step uses t = T()+1 in its bias correction.
func (o *Optimizer) T() int64 { return o.t }

// StateBytes returns the number of bytes of state allocated: 0 for SGD,
// 4n for momentum and 8n for Adam, with n = Len().
func (o *Optimizer) StateBytes() int { return 4 * (len(o.v) + len(o.s)) }

// Step applies one update to params in place, using the gradient grads and
// learning rate eta, and increments T. Both slices must have length Len();
// grads is only read and may not alias params. Step does not allocate.
func (o *Optimizer) Step(params, grads []float32, eta float32) {
	if len(params) != o.n || len(grads) != o.n {
		panic(fmt.Sprintf("optim: Step with %d params and %d grads, want %d", len(params), len(grads), o.n))
	}
	o.t++
	o.update(0, o.n, params, grads, eta)
}

// Group is a run of parameters updated with one learning rate by
// [Optimizer.StepGroups]: from the previous group's End (0 for the first)
// up to End.
type Group struct {
	End int
	Eta float32
}

// StepGroups is [Optimizer.Step] with a learning rate per group of
// parameters (PyTorch's parameter groups): one step, T incremented once,
// each group updated by the same rule with its own eta. The groups' Ends
// must increase and the last must be Len(). It does not allocate.
func (o *Optimizer) StepGroups(params, grads []float32, groups []Group) {
	if len(params) != o.n || len(grads) != o.n {
		panic(fmt.Sprintf("optim: StepGroups with %d params and %d grads, want %d", len(params), len(grads), o.n))
	}
	if len(groups) == 0 || groups[len(groups)-1].End != o.n {
		panic(fmt.Sprintf("optim: StepGroups groups must end at Len() = %d", o.n))
	}
	o.t++
	start := 0
	for _, g := range groups {
		if g.End < start {
			panic(fmt.Sprintf("optim: StepGroups group end %d before %d", g.End, start))
		}
		o.update(start, g.End, params[start:g.End], grads[start:g.End], g.Eta)
		start = g.End
	}
}

// update applies the rule to params[lo:hi] of the whole vector (whose state
// is v[lo:hi], s[lo:hi]) at step o.t.
func (o *Optimizer) update(lo, hi int, params, grads []float32, eta float32) {
	switch o.cfg.Kind {
	case KindSGD:
		sgd(params, grads, eta)
	case KindMomentum:
		momentum(params, grads, o.v[lo:hi], eta, float32(o.cfg.Momentum))
	case KindAdam:
		c := o.cfg
		t := float64(o.t)
		bc1 := 1 - math.Pow(c.Beta1, t)
		bc2 := 1 - math.Pow(c.Beta2, t)
		adam(params, grads, o.v[lo:hi], o.s[lo:hi], adamCoef{
			b1:      float32(c.Beta1),
			c1:      float32(1 - c.Beta1),
			b2:      float32(c.Beta2),
			c2:      float32(1 - c.Beta2),
			step:    float32(float64(eta) / bc1),
			bc2sqrt: float32(math.Sqrt(bc2)),
			eps:     float32(c.Eps),
		})
	default:
		panic("optim: Step on an Optimizer not made by New")
	}
}

// Reset zeroes the state and sets T to 0, keeping the configuration and
// the memory.
func (o *Optimizer) Reset() {
	clear(o.v)
	clear(o.s)
	o.t = 0
}

// Switch changes the update rule or its hyper-parameters, keeping the
// parameters (which o does not own) and Len. It fails, leaving o as it
// was, if cfg is invalid.
//
// If cfg.Kind is the current kind, only the hyper-parameters change: the
// state and T are kept. Otherwise the old kind's state is released and the
// new kind's state is allocated zeroed. T is reset to 0 on a switch to Adam
// from another kind, because Adam's bias correction assumes its moments
// started at zero at t = 0; on a switch to SGD or momentum T keeps counting.
// Callers that drive a [Schedule] with a step count that must survive a
// switch should keep their own counter.
func (o *Optimizer) Switch(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	old := o.cfg.Kind
	o.cfg = cfg
	if cfg.Kind == old {
		return nil
	}
	o.alloc()
	if cfg.Kind == KindAdam {
		o.t = 0
	}
	return nil
}

// State returns the state vectors under their checkpoint names: none for
// SGD, [StateMomentumV] for momentum, [StateAdamV] and [StateAdamS] for
// Adam. The Data slices are views of o's memory, not copies: they change
// with every Step and must be copied out (or written) before the next one.
func (o *Optimizer) State() []NamedVector {
	switch o.cfg.Kind {
	case KindMomentum:
		return []NamedVector{{StateMomentumV, o.v}}
	case KindAdam:
		return []NamedVector{{StateAdamV, o.v}, {StateAdamS, o.s}}
	}
	return nil
}

// SetState replaces the step count and state with t and copies of vecs, as
// read from a checkpoint. vecs must hold exactly the names [Optimizer.State]
// returns for the current kind, in any order, each with Len() finite values
// (and non-negative ones for Adam's second moment); t must be non-negative.
// On error o is unchanged.
func (o *Optimizer) SetState(t int64, vecs []NamedVector) error {
	if t < 0 {
		return fmt.Errorf("optim: set state: negative step count %d", t)
	}
	want := o.State()
	if len(vecs) != len(want) {
		return fmt.Errorf("optim: set state: %d vectors for %s, want %d", len(vecs), o.cfg.Kind, len(want))
	}
	for i, v := range vecs {
		j := indexName(want, v.Name)
		if j < 0 {
			return fmt.Errorf("optim: set state: unexpected vector %q for %s", v.Name, o.cfg.Kind)
		}
		if indexName(vecs[:i], v.Name) >= 0 {
			return fmt.Errorf("optim: set state: duplicate vector %q", v.Name)
		}
		if len(v.Data) != o.n {
			return fmt.Errorf("optim: set state: %q has length %d, want %d", v.Name, len(v.Data), o.n)
		}
		for k, x := range v.Data {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return fmt.Errorf("optim: set state: %q[%d] is %v", v.Name, k, x)
			}
			if x < 0 && v.Name == StateAdamS {
				return fmt.Errorf("optim: set state: %q[%d] is negative (%v)", v.Name, k, x)
			}
		}
	}
	for _, v := range vecs {
		copy(want[indexName(want, v.Name)].Data, v.Data)
	}
	o.t = t
	return nil
}

func indexName(vecs []NamedVector, name string) int {
	for i, v := range vecs {
		if v.Name == name {
			return i
		}
	}
	return -1
}

// CopyFrom makes o a copy of src: configuration, Len, T and state, for
// taking and restoring roll-back snapshots. It reuses o's memory, and so
// does not allocate, when o and src have the same kind and Len; otherwise
// o's state is reallocated. It panics if src is nil.
func (o *Optimizer) CopyFrom(src *Optimizer) {
	if src == nil {
		panic("optim: CopyFrom nil Optimizer")
	}
	if o == src {
		return
	}
	if o.cfg.Kind != src.cfg.Kind || o.n != src.n {
		o.cfg, o.n = src.cfg, src.n
		o.alloc()
	}
	o.cfg = src.cfg
	o.t = src.t
	copy(o.v, src.v)
	copy(o.s, src.s)
}
