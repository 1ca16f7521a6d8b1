package learnbench

import (
	"fmt"
	"math"
	"strings"

	"catd/config"
	"catd/plot"
)

// Report is a whole benchmark: its settings and every run's outcome.
type Report struct {
	Model      string       `json:"model"`
	Orders     []Order      `json:"orders"`
	Seeds      int          `json:"seeds"`
	BurstTicks int          `json:"burst_ticks"`
	Trickle    int          `json:"trickle_per_tick"`
	Learn      config.Learn `json:"learn"`
	Outcomes   []Outcome    `json:"outcomes"`
}

// Markdown is the report as a table per data set and order (over seeds:
// the mean, and the worst run), then one summary line per data set.
func (r *Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Learning benchmark: %s; learn: %s lr %g, batch %d, %d steps per round, patience %d; %d seeds; bursts over %d rounds, trickle %d labels per round.\n\n",
		r.Model, r.Learn.Optimizer, r.Learn.LR, r.Learn.Batch, r.Learn.Steps, r.Learn.Patience, r.Seeds, r.BurstTicks, r.Trickle)
	b.WriteString("| set | order | labels | balanced accuracy before → after (mean; worst) | ROC AUC before → after (mean; worst) | rounds accepted / run | forgetting: val balanced accuracy drop (worst) |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	keys, by := Summarize(r.Outcomes, func(o Outcome) string { return o.Scenario + "\x00" + string(o.Order) })
	for _, k := range keys {
		s := by[k]
		set, order, _ := strings.Cut(k, "\x00")
		labels := 0
		for _, o := range r.Outcomes {
			if o.Scenario == set {
				labels = o.Labels
				break
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %.3f → %.3f; %.3f | %.3f → %.3f; %.3f | %.1f / %.1f | %s |\n",
			set, order, labels, s.BeforeBalAcc, s.MeanBalAcc, s.MinBalAcc, s.BeforeAUC, s.MeanAUC, s.MinAUC,
			s.MeanAccepted, s.MeanRounds, forgetting(s))
	}
	b.WriteString("\n")
	keys, by = Summarize(r.Outcomes, func(o Outcome) string { return o.Scenario })
	for _, k := range keys {
		s := by[k]
		fmt.Fprintf(&b, "- %s, every order and seed (%d runs): balanced accuracy %.3f → worst %.3f (gain ≥ %+.3f), ROC AUC %.3f → worst %.3f (gain ≥ %+.3f); forgetting %s\n",
			k, s.Runs, s.BeforeBalAcc, s.MinBalAcc, s.MinBalAccGain, s.BeforeAUC, s.MinAUC, s.MinAUCGain, forgetting(s))
	}
	return b.String()
}

func forgetting(s *Summary) string {
	if s.ForgetBefore == 0 {
		return "not measured"
	}
	return fmt.Sprintf("%.3f → worst drop %+.3f", s.ForgetBefore, -s.MaxForgetDrop)
}

// Figure plots, per data set, the test ROC AUC after each accepted round
// against the labels given by then, one line per order (the first seed),
// with the built-in model's AUC dashed.
func (r *Report) Figure() *plot.Figure {
	f := &plot.Figure{Title: "On-device learning: test ROC AUC after each accepted round", Columns: 1}
	keys, by := Summarize(r.Outcomes, func(o Outcome) string { return o.Scenario })
	for _, k := range keys {
		p := plot.Panel{Title: k, XLabel: "rounds' time (ticks of learn.every)", YLabel: "test ROC AUC"}
		var last int
		for _, o := range r.Outcomes {
			if o.Scenario == k {
				last = max(last, o.Ticks)
			}
		}
		for i, ord := range r.Orders {
			for _, o := range r.Outcomes {
				if o.Scenario != k || o.Order != ord || o.Seed != 1 {
					continue
				}
				x := []float64{0}
				y := []float64{o.Before.AUC}
				for _, pt := range o.Curve {
					x = append(x, float64(pt.Tick+1))
					y = append(y, pt.AUC)
				}
				p.Series = append(p.Series, plot.Series{Name: string(ord), X: x, Y: y, Color: plot.Palette[i%len(plot.Palette)]})
			}
		}
		base := by[k].BeforeAUC
		if !math.IsNaN(base) {
			p.Series = append(p.Series, plot.Series{Name: "built-in model", X: []float64{0, float64(max(last, 1))}, Y: []float64{base, base},
				Color: plot.Palette[7], Dashed: true})
		}
		f.Panels = append(f.Panels, p)
	}
	return f
}
