// Package learnbench measures catd's on-device learning the way a
// household meets it: labels arrive over time in some order, and a
// learn.Learner trains rounds on a replay buffer as catd's daemon does
// (a learn.Pacer decides which ticks of the learn.every timer run a
// round). It reports how the model does on held-out test images of the
// same domain before and after, the test ROC AUC after every accepted
// round, and how much the model forgets of what it knew (balanced accuracy
// on another set, such as Tiny ImageNet's val split).
//
// Time is counted in ticks of learn.every, not measured: a run gives the
// same figures on a fast or a loaded machine.
package learnbench

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"catd/dataset"
	"catd/learn"
	"catd/metrics"
	"catd/model"
)

// Order is the order in which labels arrive.
type Order string

const (
	// ClassByClass gives every cat, then every non-cat: a user sorting a
	// folder of photos by class.
	ClassByClass Order = "class-by-class"
	// Interleaved alternates cat and non-cat (while both last).
	Interleaved Order = "interleaved"
	// Trickle gives the labels in random order, a few per tick: a user
	// labelling frames now and then.
	Trickle Order = "trickle"
)

// Orders are the orders a full benchmark runs.
var Orders = []Order{ClassByClass, Interleaved, Trickle}

// ParseOrder parses an Order's name.
func ParseOrder(s string) (Order, error) {
	for _, o := range Orders {
		if string(o) == s {
			return o, nil
		}
	}
	return "", fmt.Errorf("learnbench: unknown order %q (want class-by-class, interleaved or trickle)", s)
}

// Scenario is one run: the labels a user gives, in an order, and the test
// images of the same domain that measure what was learnt.
type Scenario struct {
	Name   string
	Labels *dataset.Set
	Test   *dataset.Set
	Order  Order
	// PerTick is how many labels arrive per tick of learn.every.
	PerTick int
	Seed    uint64
}

// Options are what every scenario shares.
type Options struct {
	// Net is the model labels fine-tune (batch norm folded) and Info its
	// description; runs only read its parameters, so that several may run
	// at once.
	Net  *model.Net
	Info model.Info
	// Learn and Replay configure the learner and its buffer as catd's
	// learn section does (Seed is set per scenario; Replay.Dir is empty:
	// the buffer is in memory, which trains as the one on disk does).
	Learn    learn.Config
	Replay   learn.ReplayOptions
	Patience int
	// MaxTicks ends a run whose rounds have not stopped (default: the
	// arrival's ticks plus 300).
	MaxTicks int
	// Forget, if set, is the set whose balanced accuracy measures what the
	// model forgets.
	Forget *dataset.Set
}

// Score is a model's figures on a test set: balanced accuracy at its
// decision threshold, and ROC AUC. Two more balanced accuracies tell a
// change of threshold from a change of the weights: at the threshold the
// run started with, and at the best threshold for this set (an oracle no
// household has).
type Score struct {
	BalAcc      float64 `json:"balanced_accuracy"`
	AUC         float64 `json:"roc_auc"`
	BalAccStart float64 `json:"balanced_accuracy_at_start_threshold"`
	BalAccBest  float64 `json:"balanced_accuracy_at_best_threshold"`
}

// Point is the test score after an accepted round.
type Point struct {
	Tick   int     `json:"tick"`
	Labels int     `json:"labels"` // labels given by then
	AUC    float64 `json:"roc_auc"`
	BalAcc float64 `json:"balanced_accuracy"`
}

// Outcome is what a run measured.
type Outcome struct {
	Scenario string `json:"scenario"`
	Order    Order  `json:"order"`
	Seed     uint64 `json:"seed"`
	Labels   int    `json:"labels"`
	Before   Score  `json:"before"`
	After    Score  `json:"after"`
	// ForgetBefore and ForgetAfter are the forgetting set's figures
	// before and after (zero without one). Its ROC AUC has no threshold
	// in it: what the weights forgot, apart from the threshold the
	// household's labels set.
	ForgetBefore Score         `json:"forget_before"`
	ForgetAfter  Score         `json:"forget_after"`
	Threshold    float32       `json:"threshold"` // the decision threshold after
	Rounds       int           `json:"rounds"`
	Accepted     int           `json:"accepted"`
	Ticks        int           `json:"ticks"`
	Curve        []Point       `json:"curve"`
	Trace        []Round       `json:"rounds_trace"`
	Took         time.Duration `json:"took_ns"`
}

// Round is one round of a run, as its trained event reports it.
type Round struct {
	Tick          int     `json:"tick"`
	Accepted      bool    `json:"accepted"`
	ValLoss       float64 `json:"val_loss"`
	ValLossBefore float64 `json:"val_loss_before"`
	ValAUC        float64 `json:"val_auc"`
	ValAUCBefore  float64 `json:"val_auc_before"`
	LR            float64 `json:"lr"`
	Reason        string  `json:"reason"`
}

// Arrival returns the order in which the labels of set arrive (indexes
// into it) for order and seed.
func Arrival(set *dataset.Set, order Order, seed uint64) []int {
	r := rand.New(rand.NewPCG(seed, 0xa77))
	var cats, nons []int
	for i, c := range set.Labels {
		if c {
			cats = append(cats, i)
		} else {
			nons = append(nons, i)
		}
	}
	r.Shuffle(len(cats), func(i, j int) { cats[i], cats[j] = cats[j], cats[i] })
	r.Shuffle(len(nons), func(i, j int) { nons[i], nons[j] = nons[j], nons[i] })
	switch order {
	case ClassByClass:
		return append(cats, nons...)
	case Interleaved:
		out := make([]int, 0, len(cats)+len(nons))
		for i := range max(len(cats), len(nons)) {
			if i < len(cats) {
				out = append(out, cats[i])
			}
			if i < len(nons) {
				out = append(out, nons[i])
			}
		}
		return out
	}
	all := append(cats, nons...)
	r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	return all
}

// Run runs one scenario: each tick, the next PerTick labels arrive in the
// replay buffer, and a round runs if the Pacer says so; the run ends when
// every label has arrived and no round is due for as long as the longest
// retry interval, or at MaxTicks.
func Run(ctx context.Context, sc Scenario, o Options) (Outcome, error) {
	start := time.Now()
	out := Outcome{Scenario: sc.Name, Order: sc.Order, Seed: sc.Seed, Labels: sc.Labels.Len()}
	if sc.Labels.W != o.Net.Arch.W || sc.Labels.H != o.Net.Arch.H {
		return out, fmt.Errorf("learnbench: %s: labels of %dx%d for a %dx%d model", sc.Name, sc.Labels.W, sc.Labels.H, o.Net.Arch.W, o.Net.Arch.H)
	}
	ro := o.Replay
	ro.W, ro.H, ro.Dir = sc.Labels.W, sc.Labels.H, ""
	replay, _, err := learn.OpenReplay(ro)
	if err != nil {
		return out, err
	}
	defer replay.Close()
	lc := o.Learn
	lc.Seed = sc.Seed
	l, err := learn.NewLearner(o.Net, o.Info, replay, lc)
	if err != nil {
		return out, err
	}
	// The model is shared by runs on other goroutines: measure with
	// this run's own copy, the model itself before (what the learner
	// publishes may be a mix with its anchor), then what it publishes.
	eval, err := l.InferenceNet()
	if err != nil {
		return out, err
	}
	copy(eval.Params, o.Net.Params)
	thr0 := o.Info.Threshold
	out.Before = score(eval, o.Info, thr0, sc.Test)
	if o.Forget != nil {
		out.ForgetBefore = score(eval, o.Info, thr0, o.Forget)
	}
	arrival := Arrival(sc.Labels, sc.Order, sc.Seed)
	per := max(sc.PerTick, 1)
	arrivalTicks := (len(arrival) + per - 1) / per
	maxTicks := o.MaxTicks
	if maxTicks <= 0 {
		maxTicks = arrivalTicks + 300
	}
	pacer := learn.Pacer{Patience: o.Patience}
	given, idle := 0, 0
	for tick := 0; tick < maxTicks; tick++ {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		n := 0
		for ; n < per && given < len(arrival); n++ {
			i := arrival[given]
			given++
			px := sc.Labels.Image(i)
			var seed [8]byte
			binary.LittleEndian.PutUint64(seed[:], uint64(i))
			ex := learn.Example{Cat: sc.Labels.Labels[i], Pixels: px, Hash: sha256.Sum256(append(seed[:], px...)),
				Time: time.Unix(int64(tick), 0)}
			if err := replay.Add(ex); err != nil {
				return out, err
			}
		}
		pacer.Labelled(n)
		if !pacer.Tick() {
			if given == len(arrival) {
				if idle++; idle > 64 { // longer than the longest retry interval
					break
				}
			}
			continue
		}
		idle = 0
		res, err := l.Round(ctx)
		if err != nil {
			return out, err
		}
		pacer.Done(res)
		out.Ticks = tick + 1
		if res.Skipped {
			continue
		}
		out.Rounds++
		out.Trace = append(out.Trace, Round{Tick: tick, Accepted: res.Accepted, ValLoss: res.ValLoss, ValLossBefore: res.ValLossBefore,
			ValAUC: res.ValAUC, ValAUCBefore: res.ValAUCBefore, LR: res.LR, Reason: res.Reason})
		if res.Accepted {
			out.Accepted++
			l.Publish(eval)
			s := score(eval, l.Info(), thr0, sc.Test)
			out.Curve = append(out.Curve, Point{Tick: tick, Labels: given, AUC: s.AUC, BalAcc: s.BalAcc})
		}
	}
	l.Publish(eval)
	out.After = score(eval, l.Info(), thr0, sc.Test)
	if o.Forget != nil {
		out.ForgetAfter = score(eval, l.Info(), thr0, o.Forget)
	}
	out.Threshold = l.Info().Threshold
	out.Took = time.Since(start)
	return out, nil
}

// score measures n (batch 1) on set at info's threshold (and at start's,
// and at the set's best).
func score(n *model.Net, info model.Info, start float32, set *dataset.Set) Score {
	x := make([]float32, n.InputLen())
	p := make([]float32, set.Len())
	for i := range set.Len() {
		info.NormalizePixels(x, set.Image(i))
		n.Predict(p[i:i+1], x)
	}
	s := Score{BalAcc: metrics.NewConfusion(p, set.Labels, info.Threshold).BalancedAccuracy(), AUC: math.NaN(),
		BalAccStart: metrics.NewConfusion(p, set.Labels, start).BalancedAccuracy()}
	if _, best, err := metrics.BestThreshold(p, set.Labels); err == nil {
		s.BalAccBest = best
	}
	if a, err := metrics.ROCAUC(p, set.Labels); err == nil {
		s.AUC = a
	}
	return s
}

// Summary is the worst and mean of a group of outcomes (a data set, or a
// data set and an order, over seeds).
type Summary struct {
	Runs                        int
	BeforeBalAcc, BeforeAUC     float64 // the same for every run
	MeanBalAcc, MinBalAcc       float64
	MeanAUC, MinAUC             float64
	MeanAccepted, MeanRounds    float64
	ForgetBefore, MaxForgetDrop float64
	MinBalAccGain, MinAUCGain   float64
	sumAcc, sumRounds           float64
	sumBal, sumAUC              float64
}

// Summarize groups outcomes by key (e.g. scenario, or scenario and order),
// in the order keys first appear.
func Summarize(outs []Outcome, key func(Outcome) string) (keys []string, by map[string]*Summary) {
	by = map[string]*Summary{}
	for _, o := range outs {
		k := key(o)
		s, ok := by[k]
		if !ok {
			s = &Summary{BeforeBalAcc: o.Before.BalAcc, BeforeAUC: o.Before.AUC, MinBalAcc: math.Inf(1), MinAUC: math.Inf(1),
				MinBalAccGain: math.Inf(1), MinAUCGain: math.Inf(1), ForgetBefore: o.ForgetBefore.BalAcc, MaxForgetDrop: math.Inf(-1)}
			by[k] = s
			keys = append(keys, k)
		}
		s.Runs++
		s.sumBal += o.After.BalAcc
		s.sumAUC += o.After.AUC
		s.sumAcc += float64(o.Accepted)
		s.sumRounds += float64(o.Rounds)
		s.MinBalAcc = min(s.MinBalAcc, o.After.BalAcc)
		s.MinAUC = min(s.MinAUC, o.After.AUC)
		s.MinBalAccGain = min(s.MinBalAccGain, o.After.BalAcc-o.Before.BalAcc)
		s.MinAUCGain = min(s.MinAUCGain, o.After.AUC-o.Before.AUC)
		s.MaxForgetDrop = max(s.MaxForgetDrop, o.ForgetBefore.BalAcc-o.ForgetAfter.BalAcc)
		s.MeanBalAcc, s.MeanAUC = s.sumBal/float64(s.Runs), s.sumAUC/float64(s.Runs)
		s.MeanAccepted, s.MeanRounds = s.sumAcc/float64(s.Runs), s.sumRounds/float64(s.Runs)
	}
	return keys, by
}
