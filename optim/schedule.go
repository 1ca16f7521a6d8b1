package optim

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Schedule gives the learning rate η for each step.
type Schedule interface {
	// Rate returns η for step t, counted from 0 at the first step.
	Rate(t int64) float64

	// String returns the schedule in the syntax of [ParseSchedule], so that
	// ParseSchedule(s.String(), eta0) rebuilds s from the same eta0.
	String() string
}

// Constant is the schedule η = Eta at every step.
type Constant struct{ Eta float64 }

// Rate returns c.Eta.
func (c Constant) Rate(int64) float64 { return c.Eta }

// String returns "constant".
func (c Constant) String() string { return "constant" }

// Piecewise is a piecewise-constant schedule: η = Etas[i] for
// Steps[i] <= t < Steps[i+1], and η = Eta0 for t < Steps[0]. Steps must be
// strictly increasing and as long as Etas.
type Piecewise struct {
	Eta0  float64
	Steps []int64
	Etas  []float64
}

// Rate returns η for step t. It panics if len(p.Steps) != len(p.Etas).
func (p Piecewise) Rate(t int64) float64 {
	if len(p.Steps) != len(p.Etas) {
		panic(fmt.Sprintf("optim: Piecewise with %d steps and %d etas", len(p.Steps), len(p.Etas)))
	}
	// Number of steps <= t; the last of them is in force.
	i := sort.Search(len(p.Steps), func(i int) bool { return p.Steps[i] > t })
	if i == 0 {
		return p.Eta0
	}
	return p.Etas[i-1]
}

// String returns "piecewise:T1=ETA1,T2=ETA2,...".
func (p Piecewise) String() string {
	var b strings.Builder
	b.WriteString("piecewise:")
	for i, t := range p.Steps {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(t, 10))
		b.WriteByte('=')
		if i < len(p.Etas) {
			b.WriteString(formatFloat(p.Etas[i]))
		}
	}
	return b.String()
}

// Exponential is the schedule η = Eta0·exp(−Lambda·t). For large Lambda·t
// the rate underflows to 0.
type Exponential struct{ Eta0, Lambda float64 }

// Rate returns e.Eta0·exp(−e.Lambda·t).
func (e Exponential) Rate(t int64) float64 { return e.Eta0 * math.Exp(-e.Lambda*float64(t)) }

// String returns "exp:LAMBDA".
func (e Exponential) String() string { return "exp:" + formatFloat(e.Lambda) }

// formatFloat formats x so that strconv.ParseFloat gives x back exactly.
func formatFloat(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

// ParseSchedule parses the --schedule flag, with eta0 the --lr flag, which
// must be positive and finite. The syntax is one of
//
//	constant              η = eta0 (also the empty string)
//	piecewise:T1=E1,...   η = eta0 until step T1, then E1 until T2, ...
//	exp:LAMBDA            η = eta0·exp(−LAMBDA·t)
//
// Steps T are strictly increasing non-negative integers and rates E are
// positive and finite; a leading 0=E overrides eta0. LAMBDA is finite and
// non-negative. Spaces around the spec and around each item are ignored.
func ParseSchedule(spec string, eta0 float64) (Schedule, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("optim: schedule %q: "+format, append([]any{spec}, a...)...)
	}
	if !(eta0 > 0 && !math.IsInf(eta0, 1)) {
		return nil, bad("learning rate %v must be positive and finite", eta0)
	}
	kind, arg, hasArg := strings.Cut(strings.TrimSpace(spec), ":")
	switch kind {
	case "", "constant":
		if hasArg {
			return nil, bad("constant takes no argument")
		}
		return Constant{Eta: eta0}, nil

	case "piecewise":
		if strings.TrimSpace(arg) == "" {
			return nil, bad("piecewise needs T=ETA pairs")
		}
		items := strings.Split(arg, ",")
		p := Piecewise{Eta0: eta0, Steps: make([]int64, 0, len(items)), Etas: make([]float64, 0, len(items))}
		for _, item := range items {
			ts, es, ok := strings.Cut(item, "=")
			if !ok {
				return nil, bad("item %q is not T=ETA", strings.TrimSpace(item))
			}
			ts, es = strings.TrimSpace(ts), strings.TrimSpace(es)
			t, err := strconv.ParseInt(ts, 10, 64)
			if err != nil {
				return nil, bad("step %q: %w", ts, numErr(err))
			}
			if t < 0 {
				return nil, bad("step %d is negative", t)
			}
			if n := len(p.Steps); n > 0 && t <= p.Steps[n-1] {
				return nil, bad("steps must increase (%d after %d)", t, p.Steps[n-1])
			}
			eta, err := strconv.ParseFloat(es, 64)
			if err != nil {
				return nil, bad("rate %q: %w", es, numErr(err))
			}
			if !(eta > 0 && !math.IsInf(eta, 1)) {
				return nil, bad("rate %v at step %d must be positive and finite", eta, t)
			}
			p.Steps = append(p.Steps, t)
			p.Etas = append(p.Etas, eta)
		}
		return p, nil

	case "exp":
		as := strings.TrimSpace(arg)
		if !hasArg || as == "" {
			return nil, bad("exp needs a decay rate, as in exp:0.001")
		}
		lambda, err := strconv.ParseFloat(as, 64)
		if err != nil {
			return nil, bad("lambda %q: %w", as, numErr(err))
		}
		if !(lambda >= 0 && !math.IsInf(lambda, 1)) {
			return nil, bad("lambda %v must be non-negative and finite", lambda)
		}
		return Exponential{Eta0: eta0, Lambda: lambda}, nil
	}
	return nil, bad("unknown schedule %q (want constant, piecewise:T=ETA,... or exp:LAMBDA)", kind)
}

// numErr strips strconv's "strconv.ParseX: parsing ..." wrapping, which
// repeats what the caller's message already says.
func numErr(err error) error {
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		return ne.Err
	}
	return err
}
