package learn

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"catd/metrics"
	"catd/model"
	"catd/optim"
	"catd/train"
)

// Config is how the Learner trains. Zero values take the defaults noted;
// for the stabilisers (BackboneLR, Prox, Average, HeadWarmup, Shrink) a
// negative value turns them off.
type Config struct {
	Optim    optim.Config   // default: SGD with momentum 0.9
	LR       float64        // eta, or eta0 of Schedule (default 0.002)
	Schedule optim.Schedule // over the learner's steps (default constant LR)
	Batch    int            // examples per step (default 16)
	Steps    int            // steps per round (default 40)
	// TrainLast, if positive, trains only the last TrainLast layers with
	// parameters; the optimizer then keeps state for those alone.
	TrainLast int
	// Margin is how much the held-out loss may rise in a round that is
	// still accepted, as a fraction (default 0.02), plus MarginAbs (default
	// 0.005: a loss near zero may move by noise alone).
	Margin, MarginAbs float64
	// Noise is how many standard errors of the held-out loss's change the
	// loss may also rise in an accepted round (default 1). The change is
	// measured example by example (the candidate's loss minus the accepted
	// model's on the same held-out labels), so its standard error is that
	// of the paired differences: with a few dozen held-out labels a
	// candidate no worse than the accepted model is then rarely refused
	// for the luck of the draw that made the accepted one look good.
	Noise float64
	// AUCMargin is how much the held-out ROC AUC may fall in an accepted
	// round; 0 means the default, 0.25/sqrt(n) for n held-out examples of
	// the smaller class, at most 0.05: about half the AUC's standard error,
	// so that a handful of held-out labels does not veto every round.
	AUCMargin float64
	// Each step's batch is half cats and half non-cats whatever order the
	// labels came in; RecentShare of each half (default 0.5) is drawn from
	// the class's Recent newest training examples (default 32), so that new
	// labels are learnt fast while the rest of the buffer keeps old
	// knowledge.
	Recent      int
	RecentShare float64
	// MinPerClass is the fewest training examples of each class a round
	// needs (default 4); with fewer, or without a held-out example of each
	// class, rounds are skipped.
	MinPerClass int
	// BackboneLR is the learning rate of every trained layer but the last,
	// as a multiple of the last's (default 0.3): the pretrained features
	// move slowly, the cat/no-cat head fast.
	BackboneLR float64
	// Prox pulls the weights toward the last accepted ones: lambda of an
	// L2 term lambda/2 |theta - theta_accepted|^2 added to the loss
	// (default 1e-3; "L2-SP").
	Prox float64
	// Anchor pulls the weights toward the ones learning started from (the
	// built-in model, or the model file): lambda of an L2 term, as in
	// L2-SP (default 0.5; catd run's learn.anchor is 2, weighted by
	// Importance). It bounds how far rounds drift from what the model
	// knew, so that learning a household forgets less of the rest.
	Anchor float64
	// Importance, if set, weighs Anchor's pull parameter by parameter: the
	// Fisher information of the starting model (see Importance), one value
	// per parameter of the network, all of them. The weights are scaled to
	// a mean of 1, so Anchor keeps its meaning; the parameters the model's
	// cat detection rests on are held, the others learn freely.
	Importance []float32
	// Average is the share of a round's last steps whose iterates are
	// averaged into the candidate the held-out labels judge (default 0.5):
	// the average is a steadier estimate than the last, noisy iterate.
	Average float64
	// HeadWarmup is how many accepted steps train the last layer alone at
	// first (default 40: one round), so that a new head does not send
	// large gradients into the backbone.
	HeadWarmup int
	// Shrink multiplies the learning rate after a rejected round (default
	// 0.5, down to 1/16 of the configured rate); an accepted round doubles
	// it back, so that a round after a rejection takes a smaller step
	// instead of repeating the same draw.
	Shrink float64
	// BestCut recalibrates the decision threshold to the held-out labels'
	// best cut (metrics.BestThreshold) instead of a fitted calibration
	// (metrics.CalibratedThreshold), which varies less with few labels.
	BestCut bool
	// ThresholdPrior is how many labels' worth of weight the threshold
	// learning started with (the model's own, fitted on far more images
	// than a household labels) keeps when the held-out labels recalibrate
	// it (default 20; negative: none). A few labels move it a little, many
	// as far as they need: a household's cats against its dogs alone
	// would call for a stricter threshold than what the model knew about
	// cats needs.
	ThresholdPrior float64
	// KeepThreshold keeps the starting threshold: no recalibration.
	KeepThreshold bool
	// Wise is the share of the trained weights in the model the learner
	// publishes: anchor + Wise·(trained − anchor), the weight
	// interpolation of WiSE-FT (Wortsman et al.), with the anchor of
	// Anchor. Training, and the held-out labels' judgement of each round,
	// go on with the trained weights; the daemon runs the mix, and the
	// decision threshold is fitted to its scores. In (0, 1]; 0 takes the
	// default (1); 1 publishes the trained weights.
	Wise    float64
	Augment train.Augment // default train.DefaultAugment
	Seed    uint64
	// Explode is the factor over the round's first loss (at least ln 2,
	// a guess's loss) that counts as blowing up (default 20).
	Explode float64
	// Chunk is how many examples' gradients are computed between two
	// calls of Learner.Yield (default 2): the grain at which training
	// makes way for inference.
	Chunk int
}

func (c *Config) defaults() {
	if c.Optim.Kind == "" {
		c.Optim = optim.DefaultConfig(optim.KindMomentum)
	}
	if c.LR == 0 {
		c.LR = 0.002
	}
	if c.Schedule == nil {
		c.Schedule = optim.Constant{Eta: c.LR}
	}
	if c.Batch <= 0 {
		c.Batch = 16
	}
	if c.Steps <= 0 {
		c.Steps = 40
	}
	if c.Margin == 0 {
		c.Margin = 0.02
	}
	if c.MarginAbs == 0 {
		c.MarginAbs = 0.005
	}
	if c.Recent <= 0 {
		c.Recent = 32
	}
	if c.RecentShare == 0 {
		c.RecentShare = 0.5
	}
	if c.MinPerClass <= 0 {
		c.MinPerClass = 4
	}
	def := func(v *float64, d float64) {
		switch {
		case *v == 0:
			*v = d
		case *v < 0:
			*v = 0
		}
	}
	def(&c.BackboneLR, 0.3)
	if c.BackboneLR == 0 {
		c.BackboneLR = 1 // off: the same rate everywhere
	}
	def(&c.Prox, 1e-3)
	def(&c.Anchor, 0.5)
	def(&c.Average, 0.5)
	def(&c.Shrink, 0.5)
	def(&c.ThresholdPrior, 20)
	def(&c.Noise, 1)
	if c.Wise <= 0 || c.Wise > 1 {
		c.Wise = 1
	}
	switch {
	case c.HeadWarmup == 0:
		c.HeadWarmup = 40
	case c.HeadWarmup < 0:
		c.HeadWarmup = 0
	}
	if c.Augment == (train.Augment{}) {
		c.Augment = train.DefaultAugment
	}
	if c.Explode == 0 {
		c.Explode = 20
	}
	if c.Chunk <= 0 {
		c.Chunk = 2
	}
}

// Result is what one round did. The held-out labels (ValCat and
// ValNonCat of them) judge both the accepted model before the round
// (ValLossBefore, ValAUCBefore) and the candidate the round trained
// (ValLoss, ValAUC); the loss is class-weighted (the mean of each class's
// mean BCE), and an AUC is NaN when it could not be measured.
type Result struct {
	Steps         int
	Loss          float64 // mean training loss of the round
	ValLoss       float64 // the candidate's held-out loss
	ValAUC        float64 // the candidate's held-out ROC AUC
	ValLossBefore float64 // the accepted model's, before the round
	ValAUCBefore  float64
	ValBalAcc     float64 // the published model's balanced accuracy at its threshold
	// PublishedLoss and PublishedAUC are the held-out figures of the
	// model an accepted round publishes when it is a mix (Wise below 1);
	// NaN otherwise.
	PublishedLoss, PublishedAUC float64
	ValCat                      int // held-out labels of each class
	ValNonCat                   int
	Threshold                   float32 // the recalibrated decision threshold (accepted rounds)
	Accepted                    bool
	// Gain is an accepted round that did clearly better on the held-out
	// labels than the accepted model, beyond their noise (see gain): what
	// keeps rounds going.
	Gain    bool
	Reason  string  // why the round was accepted, rolled back or skipped
	LR      float64 // the learning rate at the round's last step
	Skipped bool    // not enough labels yet
	// Duration is the round's time, pauses (Yield) included.
	Duration time.Duration
}

// Learner fine-tunes a network on a Replay. Its network has no batch norm
// (train the folded network: batch statistics of a handful of labels would
// wreck the running ones). It is not safe for concurrent use; Round runs on
// one goroutine and the others ask it for copies.
type Learner struct {
	cfg    Config
	net    *model.Net
	info   model.Info
	opt    *optim.Optimizer
	off    int // first trained parameter
	head   int // first parameter of the last layer, at least off
	replay *Replay

	// The last accepted weights, restored on a rollback and the anchor of
	// Prox; avg is the running average of a round's iterates.
	goodParams []float32
	avg        []float32
	// anchor is the trained parameters' starting point (Anchor) in
	// bfloat16: a pull toward it needs no more precision, and it takes
	// half the memory.
	anchor []uint16
	// anchorNet is the anchor in full precision, a weights-only network,
	// when the learner publishes a mix with it (Wise below 1): the
	// published weights are a model of their own, not a pull's target.
	// Nil otherwise.
	anchorNet *model.Net
	// anchorThreshold is the decision threshold of the model anchor's
	// weights come from: the prior of each recalibration.
	anchorThreshold float32
	// importance is Anchor's weight per trained parameter (bfloat16), nil
	// for the same weight everywhere.
	importance []uint16
	groups     [2]optim.Group

	step    int64
	lrScale float64
	r       *rand.Rand
	x, y, w []float32
	px      []uint8
	// The accepted model on the held-out labels, while they are the ones
	// listed in accSig (NaN loss: not measured).
	acc    validation
	accSig uint64
	// best is the lowest held-out loss accepted on those labels: each
	// round may be a margin worse than the last accepted one, but not
	// than the best, so that accepted rounds cannot drift away a margin
	// at a time.
	best validation
	// Yield, if set, is called after each Chunk of examples with the time
	// it took; the daemon waits there so that training leaves the CPU to
	// inference.
	Yield func(chunk time.Duration)
}

// NewLearner returns a Learner training a copy of net (any Net of the
// architecture; its parameters are copied) on r.
func NewLearner(net *model.Net, info model.Info, r *Replay, cfg Config) (*Learner, error) {
	cfg.defaults()
	for _, l := range net.Arch.Layers {
		if l.Kind == model.BatchNorm {
			return nil, errors.New("learn: the network has batch norm: fold it first (model.Net.Folded)")
		}
	}
	if net.Arch.Outputs() != 1 {
		return nil, fmt.Errorf("learn: a cat detector has one output, not %d", net.Arch.Outputs())
	}
	if r.w != net.Arch.W || r.h != net.Arch.H || net.Arch.C != 3 {
		return nil, fmt.Errorf("learn: replay of %dx%d images for a %dx%dx%d model", r.w, r.h, net.Arch.C, net.Arch.H, net.Arch.W)
	}
	// Gradients are computed Chunk examples at a time: the network needs
	// activations for a chunk, not for a whole batch.
	tn, err := model.New(net.Arch, model.Options{MaxBatch: min(cfg.Chunk, cfg.Batch), Training: true})
	if err != nil {
		return nil, err
	}
	copy(tn.Params, net.Params)
	off := 0
	if cfg.TrainLast > 0 {
		wr := tn.WeightRanges()
		if cfg.TrainLast < len(wr) {
			off = wr[len(wr)-cfg.TrainLast][0]
		}
	}
	opt, err := optim.New(cfg.Optim, len(tn.Params)-off)
	if err != nil {
		return nil, err
	}
	wr := tn.WeightRanges()
	head := max(off, wr[len(wr)-1][0])
	in := net.InputLen()
	l := &Learner{cfg: cfg, net: tn, info: info, opt: opt, off: off, head: head, replay: r,
		goodParams: slices.Clone(tn.Params), avg: make([]float32, len(tn.Params)-off),
		anchor:  make([]uint16, len(tn.Params)-off),
		lrScale: 1, r: rand.New(rand.NewPCG(cfg.Seed, 0x1ea2)),
		x: make([]float32, min(cfg.Chunk, cfg.Batch)*in), y: make([]float32, cfg.Chunk), w: make([]float32, cfg.Chunk),
		px: make([]uint8, in), acc: validation{loss: math.NaN()}}
	toBfloat16(l.anchor, tn.Params[off:])
	if cfg.Wise != 1 {
		if l.anchorNet, err = model.New(net.Arch, model.Options{MaxBatch: 1, WeightsOnly: true}); err != nil {
			return nil, err
		}
		copy(l.anchorNet.Params, tn.Params)
	}
	l.anchorThreshold = info.Threshold
	if cfg.Importance != nil {
		if len(cfg.Importance) != len(tn.Params) {
			return nil, fmt.Errorf("learn: importance of %d parameters for a network of %d", len(cfg.Importance), len(tn.Params))
		}
		l.importance = make([]uint16, len(tn.Params)-off)
		if err := importanceWeights(l.importance, cfg.Importance[off:]); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// SetAnchor sets the weights Anchor pulls toward (the network's parameters,
// all of them, as in Net().Params) and the threshold recalibrations start
// from (Config.ThresholdPrior; outside (0, 1): none, 0.5 is used): those
// of the model a checkpoint was
// fine-tuned from, when the learner starts from the checkpoint.
func (l *Learner) SetAnchor(params []float32, threshold float32) error {
	if len(params) != len(l.net.Params) {
		return fmt.Errorf("learn: anchor of %d parameters for a network of %d", len(params), len(l.net.Params))
	}
	toBfloat16(l.anchor, params[l.off:])
	if l.anchorNet != nil {
		copy(l.anchorNet.Params[l.off:], params[l.off:])
	}
	l.anchorThreshold = threshold
	return nil
}

// Reconfigured returns a learner with the settings cfg (on the replay r)
// that goes on from where l is: its trained weights, decision threshold,
// anchor and, unless cfg brings its own, importance. The optimizer state
// starts afresh. (Turning Wise on where l had it off mixes with the
// anchor in l's bfloat16.)
func (l *Learner) Reconfigured(r *Replay, cfg Config) (*Learner, error) {
	keepImportance := cfg.Importance == nil && l.importance != nil
	nl, err := NewLearner(l.net, l.info, r, cfg)
	if err != nil {
		return nil, err
	}
	nl.anchorThreshold = l.anchorThreshold
	// The anchor covers the trained parameters, from off on; parameters
	// l did not train are still at their starting value.
	from := max(nl.off, l.off)
	for i := from; i < len(l.net.Params); i++ {
		nl.anchor[i-nl.off] = l.anchor[i-l.off]
		if nl.anchorNet != nil {
			nl.anchorNet.Params[i] = l.anchorAt(i)
		}
	}
	if keepImportance {
		nl.importance = make([]uint16, len(nl.anchor))
		one := uint16(math.Float32bits(1) >> 16) // the mean weight, where l measured none
		for i := range nl.importance {
			if j := i + nl.off - l.off; j >= 0 {
				nl.importance[i] = l.importance[j]
			} else {
				nl.importance[i] = one
			}
		}
	}
	return nl, nil
}

// toBfloat16 rounds src to bfloat16 (the high half of a float32, rounded
// to nearest even) in dst.
func toBfloat16(dst []uint16, src []float32) {
	for i, v := range src[:len(dst)] {
		b := math.Float32bits(v)
		dst[i] = uint16((b + 0x7fff + (b>>16)&1) >> 16)
	}
}

func fromBfloat16(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// Net returns the network being trained (the accepted state between rounds).
func (l *Learner) Net() *model.Net { return l.net }

// Info returns the model's Info, with the threshold of the last accepted
// round.
func (l *Learner) Info() model.Info { return l.info }

// Optimizer returns the optimizer.
func (l *Learner) Optimizer() *optim.Optimizer { return l.opt }

// Step returns the steps taken in accepted rounds (the schedule's t).
func (l *Learner) Step() int64 { return l.step }

// Memory returns the bytes the learner holds besides the model's
// parameters: the optimizer state and the training workspace (gradients,
// activations of a chunk, the accepted weights kept for rollbacks, the
// average of a round's iterates, the anchor and its importance, the batch).
func (l *Learner) Memory() (optimizer, workspace int) {
	optimizer = l.opt.StateBytes()
	workspace = l.net.WorkspaceBytes() + 4*(len(l.net.Grads)+len(l.goodParams)+len(l.avg)+len(l.x)+len(l.y)+len(l.w)) + 2*(len(l.anchor)+len(l.importance)) + len(l.px)
	if l.anchorNet != nil {
		workspace += 4 * len(l.anchorNet.Params)
	}
	return optimizer, workspace
}

// TrainedParams is how many parameters are trained.
func (l *Learner) TrainedParams() int { return len(l.net.Params) - l.off }

// SetOptim switches the optimizer keeping the weights (SGD, momentum or
// Adam; Adam's state vectors exist only while it is on).
func (l *Learner) SetOptim(c optim.Config) error {
	if err := l.opt.Switch(c); err != nil {
		return err
	}
	l.cfg.Optim = c
	return nil
}

// SetSchedule changes the learning rate and its schedule.
func (l *Learner) SetSchedule(lr float64, s optim.Schedule) {
	l.cfg.LR, l.cfg.Schedule, l.lrScale = lr, s, 1
}

// Restore sets the training state from a checkpoint (the network's
// parameters come with it: call after building the Learner from the
// checkpoint's network; the trained weights, if the checkpoint kept them
// beside a published mix, replace them).
func (l *Learner) Restore(st *train.CheckpointState) error {
	if st == nil {
		return nil
	}
	if err := l.restoreTrained(st); err != nil {
		return err
	}
	if st.Optim.Kind != l.opt.Config().Kind {
		return nil // a different rule now: start its state afresh
	}
	if err := l.opt.SetState(st.OptimT, st.Vectors); err != nil {
		return fmt.Errorf("learn: checkpoint optimizer state: %w", err)
	}
	l.step = st.Step
	return nil
}

// restoreTrained sets the trained weights a checkpoint kept beside its
// published model (train.CheckpointState.Trained).
func (l *Learner) restoreTrained(st *train.CheckpointState) error {
	if st.Trained == nil {
		return nil
	}
	if len(st.Trained) != len(l.net.Params) {
		return fmt.Errorf("learn: checkpoint's trained weights hold %d parameters, the network %d", len(st.Trained), len(l.net.Params))
	}
	for i, v := range st.Trained {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("learn: checkpoint's trained weight %d is %v", i, v)
		}
	}
	copy(l.net.Params, st.Trained)
	copy(l.goodParams, st.Trained)
	return nil
}

// Checkpoint returns the accepted state as a checkpoint file (a model file
// with the optimizer state), with extra metadata.
func (l *Learner) Checkpoint(extra map[string]string) ([]byte, error) {
	info := l.info
	info.Extra = make(map[string]string, len(l.info.Extra)+len(extra))
	for k, v := range l.info.Extra {
		info.Extra[k] = v
	}
	for k, v := range extra {
		info.Extra[k] = v
	}
	net, st := l.net, train.CheckpointState{Step: l.step, Schedule: l.cfg.Schedule.String(), LR: l.cfg.LR}
	if l.cfg.Wise != 1 {
		// The file's model is the published one, what catd runs and eval
		// measures; training resumes from the trained weights beside it.
		pub, err := l.InferenceNet()
		if err != nil {
			return nil, err
		}
		net, st.Trained = pub, l.net.Params
	}
	return train.EncodeCheckpoint(net, info, l.opt, st)
}

// InferenceNet returns a new batch-1 network with the published weights:
// the accepted ones mixed with the anchor (Wise).
func (l *Learner) InferenceNet() (*model.Net, error) {
	n, err := model.New(l.net.Arch, model.Options{MaxBatch: 1})
	if err != nil {
		return nil, err
	}
	l.Publish(n)
	return n, nil
}

// Publish sets dst's parameters (a network of the architecture) to the
// model the accepted weights publish: their mean with the anchor,
// weighted 1 − Wise and Wise (a soup of two, model.Net.Average).
func (l *Learner) Publish(dst *model.Net) {
	if l.anchorNet == nil {
		copy(dst.Params, l.net.Params)
		return
	}
	if err := dst.Average([]*model.Net{l.anchorNet, l.net}, []float64{1 - l.cfg.Wise, l.cfg.Wise}); err != nil {
		panic(err) // one architecture, and Wise in (0, 1)
	}
}

// anchorAt is the anchor of parameter i (trained from off on), in full
// precision if the learner keeps it.
func (l *Learner) anchorAt(i int) float32 {
	if l.anchorNet != nil {
		return l.anchorNet.Params[i]
	}
	return fromBfloat16(l.anchor[i-l.off])
}

// validatePublished is validate of the published model (Wise): the mix
// goes into the network for the held-out scores and the trained weights
// come back after (l.avg holds them meanwhile: it is the round's scratch).
func (l *Learner) validatePublished(val []*entry) (validation, error) {
	if l.cfg.Wise == 1 {
		return l.validate(val)
	}
	params := l.net.Params[l.off:]
	copy(l.avg, params)
	l.Publish(l.net)
	defer copy(params, l.avg)
	return l.validate(val)
}

// Round trains one round of Steps minibatch steps, each on a batch
// balanced by class, from the accepted weights; the candidate is the
// average of the round's last iterates (Average). The held-out labels
// judge it against the accepted model: it is kept if its class-weighted
// loss did not rise by more than Margin and its ROC AUC did not fall by
// more than AUCMargin. Otherwise, or if the loss became NaN, Inf or
// exploded, the weights go back to the accepted ones, the optimizer's
// state starts afresh and the learning rate shrinks (Shrink). An accepted
// round recalibrates the decision threshold on the held-out labels (for
// balanced accuracy; see BestCut).
func (l *Learner) Round(ctx context.Context) (Result, error) {
	start := time.Now()
	trainSet, valSet := l.replay.split()
	cats, nons := byClass(trainSet)
	vc, vn := countCats(valSet)
	res := Result{ValAUC: math.NaN(), ValAUCBefore: math.NaN(), ValLoss: math.NaN(), ValLossBefore: math.NaN(),
		ValBalAcc: math.NaN(), PublishedLoss: math.NaN(), PublishedAUC: math.NaN(), ValCat: vc, ValNonCat: vn}
	if len(cats) < l.cfg.MinPerClass || len(nons) < l.cfg.MinPerClass || vc == 0 || vn == 0 {
		res.Skipped = true
		res.Reason = fmt.Sprintf("need %d training labels of each class and one held out of each: have %d+%d cat, %d+%d noncat (training+held out)",
			l.cfg.MinPerClass, len(cats), vc, len(nons), vn)
		return res, nil
	}
	if sig := signature(valSet); sig != l.accSig || math.IsNaN(l.acc.loss) {
		v, err := l.validate(valSet)
		if err != nil {
			res.Skipped, res.Reason = true, err.Error()
			return res, nil
		}
		l.acc, l.accSig, l.best = v, sig, v
	}
	res.ValLossBefore, res.ValAUCBefore = l.acc.loss, l.acc.auc

	fail, blowUp := l.train(ctx, cats, nons, &res)
	if fail == "" {
		v, err := l.validate(valSet)
		res.ValLoss, res.ValAUC = v.loss, v.auc
		if err != nil {
			fail = err.Error()
		} else if fail, blowUp = l.judge(v, vc, vn); fail == "" {
			pub := v
			if l.cfg.Wise != 1 {
				if pub, err = l.validatePublished(valSet); err != nil {
					pub = v
				}
			}
			l.accept(v, pub, &res)
			res.Duration = time.Since(start)
			return res, nil
		}
	}
	res.Reason = fail
	if blowUp && l.cfg.Shrink == 0 {
		l.lrScale /= 2 // a blow-up halves the rate even without Shrink
	}
	if l.cfg.Shrink > 0 {
		l.lrScale = max(l.lrScale*l.cfg.Shrink, 1.0/16)
	}
	if l.lrScale != 1 {
		res.Reason += fmt.Sprintf("; rolled back, learning rate now x%g", l.lrScale)
	} else {
		res.Reason += "; rolled back"
	}
	l.rollback()
	res.Duration = time.Since(start)
	return res, nil
}

// judge returns why the candidate the held-out labels (vc cats, vn
// non-cats) scored as v is refused, "" if it is accepted, and whether it
// blew up. Its held-out loss may be at most a margin (Margin, MarginAbs,
// and Noise paired standard errors) above the accepted model's and above
// the best accepted on these labels; its ROC AUC may fall by at most
// aucMargin.
func (l *Learner) judge(v validation, vc, vn int) (fail string, blowUp bool) {
	aucTol := l.aucMargin(vc, vn)
	above := func(ref validation) bool {
		return v.loss > ref.loss*(1+l.cfg.Margin)+l.cfg.MarginAbs+l.cfg.Noise*pairedSE(ref, v)
	}
	switch {
	case math.IsNaN(v.loss) || math.IsInf(v.loss, 0):
		return fmt.Sprintf("held-out loss %v", v.loss), true
	case above(l.acc):
		return fmt.Sprintf("held-out loss rose from %.4f to %.4f (margin %.0f%% + %g standard errors of %.4f)",
			l.acc.loss, v.loss, 100*l.cfg.Margin, l.cfg.Noise, pairedSE(l.acc, v)), false
	case v.auc < l.acc.auc-aucTol:
		return fmt.Sprintf("held-out ROC AUC fell from %.4f to %.4f (margin %.3f)", l.acc.auc, v.auc, aucTol), false
	case above(l.best):
		return fmt.Sprintf("held-out loss %.4f is above the best accepted on these labels, %.4f, by more than the margin: rounds would drift",
			v.loss, l.best.loss), false
	}
	return "", false
}

// accept keeps the candidate the held-out labels judged as v, and fits
// the decision threshold to the scores of the model it publishes, pub.
func (l *Learner) accept(v, pub validation, res *Result) {
	res.Accepted = true
	res.Gain = gain(l.acc, v, l.aucMargin(res.ValCat, res.ValNonCat))
	res.Reason = fmt.Sprintf("held-out loss %.4f -> %.4f, ROC AUC %.4f -> %.4f", l.acc.loss, v.loss, l.acc.auc, v.auc)
	l.step += int64(res.Steps)
	if thr, err := l.threshold(pub); err == nil {
		l.info.Threshold = thr
		res.ValBalAcc = metrics.NewConfusion(pub.p, pub.labels, thr).BalancedAccuracy()
	} else {
		res.ValBalAcc = pub.bal
	}
	if l.cfg.Wise != 1 {
		res.PublishedLoss, res.PublishedAUC = pub.loss, pub.auc
		res.Reason += fmt.Sprintf("; published (wise %g): held-out loss %.4f, ROC AUC %.4f", l.cfg.Wise, pub.loss, pub.auc)
	}
	res.Threshold = l.info.Threshold
	if l.cfg.Shrink > 0 {
		l.lrScale = min(1, l.lrScale/l.cfg.Shrink)
	}
	l.acc = v
	if v.loss < l.best.loss {
		l.best = v
	}
	copy(l.goodParams, l.net.Params)
}

// threshold is the decision threshold the held-out scores v call for
// (balanced accuracy): a calibration fitted to them, or with BestCut the
// best cut.
func (l *Learner) threshold(v validation) (float32, error) {
	prior := l.anchorThreshold
	if !(prior > 0 && prior < 1) {
		prior = 0.5 // a model without a fitted threshold
	}
	if l.cfg.KeepThreshold {
		return prior, nil
	}
	if !l.cfg.BestCut {
		if t, err := metrics.CalibratedThresholdNear(v.p, v.labels, prior, l.cfg.ThresholdPrior); err == nil {
			return t, nil
		}
	}
	t, _, err := metrics.BestThreshold(v.p, v.labels)
	return t, err
}

// train runs the round's steps from the accepted weights and leaves the
// candidate in the network. It returns why it stopped early, if it did,
// and whether that was a loss blowing up.
func (l *Learner) train(ctx context.Context, cats, nons []*entry, res *Result) (fail string, blowUp bool) {
	params := l.net.Params[l.off:]
	clear(l.avg)
	avgFrom := l.cfg.Steps - max(1, int(math.Round(l.cfg.Average*float64(l.cfg.Steps))))
	if l.cfg.Average == 0 {
		avgFrom = l.cfg.Steps - 1
	}
	navg := 0
	var sum float64
	first := math.NaN()
	for s := range l.cfg.Steps {
		if ctx.Err() != nil {
			return "stopped", false
		}
		loss, err := l.gradients(s, cats, nons)
		if err != nil {
			return err.Error(), false
		}
		if s == 0 {
			first = loss
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) || loss > l.cfg.Explode*max(first, math.Ln2) {
			return fmt.Sprintf("loss %v at step %d", loss, s+1), true
		}
		lr := l.cfg.Schedule.Rate(l.step+int64(s)) * l.lrScale
		l.step1(lr, l.step+int64(s) < int64(l.cfg.HeadWarmup))
		if s >= avgFrom {
			navg++
			for i, p := range params {
				l.avg[i] += (p - l.avg[i]) / float32(navg)
			}
		}
		sum += loss
		res.Steps++
		res.LR = lr
	}
	res.Loss = sum / float64(res.Steps)
	copy(params, l.avg)
	return "", false
}

// pool is what example i of step s's batch is drawn from: the classes
// alternate (so an odd batch favours neither over the steps), and the
// first RecentShare of each class's draws come from its Recent newest
// examples (cats and nons are in order of arrival).
func (l *Learner) pool(i, s int, cats, nons []*entry) []*entry {
	from := cats
	if (i+s)%2 == 1 {
		from = nons
	}
	if float64(i/2) < l.cfg.RecentShare*float64(l.cfg.Batch/2) {
		from = from[max(0, len(from)-l.cfg.Recent):]
	}
	return from
}

// step1 applies one optimizer step at rate lr to the gradients in the
// network, with the pull toward the accepted weights (Prox) and the
// backbone's smaller rate; headOnly leaves the backbone as it is.
func (l *Learner) step1(lr float64, headOnly bool) {
	params, grads := l.net.Params[l.off:], l.net.Grads[l.off:]
	if lambda, mu := float32(l.cfg.Prox), float32(l.cfg.Anchor); lambda > 0 || mu > 0 {
		good := l.goodParams[l.off:]
		anchor := l.anchor[:len(params)]
		good = good[:len(params)]
		if imp := l.importance; imp != nil {
			imp = imp[:len(params)]
			// A weight's pull is at most 1/lr: the pull's part of a step
			// then takes it at most back to the anchor, not past it, and
			// the step stays stable whatever learn.lr and the importance.
			most := float32(1 / max(lr, 1e-12))
			for i, p := range params {
				grads[i] += lambda*(p-good[i]) + min(mu*fromBfloat16(imp[i]), most)*(p-fromBfloat16(anchor[i]))
			}
		} else {
			for i, p := range params {
				grads[i] += lambda*(p-good[i]) + mu*(p-fromBfloat16(anchor[i]))
			}
		}
	}
	h := l.head - l.off
	if headOnly {
		clear(grads[:h])
	}
	l.groups[0] = optim.Group{End: h, Eta: float32(lr * l.cfg.BackboneLR)}
	l.groups[1] = optim.Group{End: len(params), Eta: float32(lr)}
	l.opt.StepGroups(params, grads, l.groups[:])
}

// gain reports whether the candidate v did clearly better than the
// accepted model a on the held-out labels: its loss lower by 1% (and
// 0.001) and by more than the standard error of the change, or its ROC AUC
// higher by more than aucTol and 0.005. A change within the noise of a few
// dozen held-out labels is no gain: rounds that only redraw the noise
// would otherwise go on without end, and drift.
func gain(a, v validation, aucTol float64) bool {
	return a.loss-v.loss > max(0.01*a.loss+1e-3, pairedSE(a, v)) || v.auc-a.auc > max(aucTol, 0.005)
}

// pairedSE is the standard error of the change of the class-weighted
// held-out loss from a to b, from the example-by-example differences (0 if
// a and b were not measured on the same examples).
func pairedSE(a, b validation) float64 {
	if len(a.p) != len(b.p) {
		return 0
	}
	var n [2]int
	var sum, sq [2]float64
	for i, pa := range a.p {
		if a.labels[i] != b.labels[i] {
			return 0
		}
		c := 0
		if a.labels[i] {
			c = 1
		}
		d := exampleLoss(b.p[i], b.labels[i]) - exampleLoss(pa, a.labels[i])
		n[c]++
		sum[c] += d
		sq[c] += d * d
	}
	var v float64
	for c := range 2 {
		if n[c] < 2 {
			continue
		}
		m := sum[c] / float64(n[c])
		variance := (sq[c] - float64(n[c])*m*m) / float64(n[c]-1)
		v += 0.25 * max(variance, 0) / float64(n[c])
	}
	return math.Sqrt(v)
}

// exampleLoss is the BCE of score p for a cat (or not).
func exampleLoss(p float32, cat bool) float64 {
	q := math.Min(math.Max(float64(p), 1e-7), 1-1e-7)
	if cat {
		return -math.Log(q)
	}
	return -math.Log(1 - q)
}

// aucMargin is how much the held-out AUC may fall: AUCMargin, or by
// default 0.25/sqrt(n) for n held-out examples of the smaller class, at
// most 0.05.
func (l *Learner) aucMargin(vc, vn int) float64 {
	if l.cfg.AUCMargin > 0 {
		return l.cfg.AUCMargin
	}
	return min(0.05, 0.25/math.Sqrt(float64(min(vc, vn))))
}

// byClass splits examples by class, keeping their order.
func byClass(es []*entry) (cats, nons []*entry) {
	for _, e := range es {
		if e.Cat {
			cats = append(cats, e)
		} else {
			nons = append(nons, e)
		}
	}
	return cats, nons
}

func countCats(es []*entry) (cats, nons int) {
	for _, e := range es {
		if e.Cat {
			cats++
		} else {
			nons++
		}
	}
	return cats, nons
}

// signature identifies a list of examples (by their arrival numbers), so
// that the accepted model is measured again only when the held-out labels
// changed.
func signature(es []*entry) uint64 {
	h := uint64(len(es)) * 0x9e3779b97f4a7c15
	for _, e := range es {
		x := e.seq * 0xbf58476d1ce4e5b9
		h ^= x ^ (x >> 31)
		h *= 0x94d049bb133111eb
	}
	return h
}

// gradients draws step s's batch (Batch examples, see pool) and computes
// its gradient into the net's Grads, Chunk examples at a time with Yield
// between: only a chunk's inputs are held at once. It returns the batch's
// mean loss.
func (l *Learner) gradients(s int, cats, nons []*entry) (float64, error) {
	clear(l.net.Grads)
	b, in := l.cfg.Batch, l.net.InputLen()
	var loss float64
	for i := 0; i < b; i += l.cfg.Chunk {
		t0 := time.Now()
		j := min(i+l.cfg.Chunk, b)
		for k := i; k < j; k++ {
			e, err := l.draw(l.pool(k, s, cats, nons))
			if err != nil {
				return 0, err
			}
			l.cfg.Augment.Apply(l.x[(k-i)*in:(k-i+1)*in], l.px, l.net.Arch.W, l.net.Arch.H, &l.info, l.r)
			l.y[k-i], l.w[k-i] = 0, 1
			if e.Cat {
				l.y[k-i] = 1
			}
		}
		n := j - i
		scale := float64(n) / float64(b)
		loss += scale * float64(l.net.AddGradients(l.x[:n*in], l.y[:n], l.w[:n], float32(scale)))
		if l.Yield != nil {
			l.Yield(time.Since(t0))
		}
	}
	return loss, nil
}

// rollback restores the accepted weights; the optimizer's state, which
// belongs to the rejected steps, starts afresh.
func (l *Learner) rollback() {
	copy(l.net.Params, l.goodParams)
	l.opt.Reset()
}

// draw picks a training example from from, uniformly, and reads its
// pixels into l.px. An example that has left the buffer since the round
// listed it is drawn again.
func (l *Learner) draw(from []*entry) (*entry, error) {
	for range 16 {
		e := from[l.r.IntN(len(from))]
		err := l.replay.readPixels(e, l.px)
		if err == nil {
			return e, nil
		}
		if !errors.Is(err, errGone) {
			return nil, err
		}
	}
	return nil, errors.New("learn: the labels changed under the round")
}

// scores returns p(cat) for each validation example, and its label;
// examples that have left the buffer since the round listed them are left
// out.
func (l *Learner) scores(val []*entry) (p []float32, labels []bool, err error) {
	in := l.net.InputLen()
	b := l.net.MaxBatch()
	p = make([]float32, len(val))
	labels = make([]bool, len(val))
	n := 0
	for i := 0; i < len(val); {
		k := 0
		for ; k < b && i < len(val); i++ {
			e := val[i]
			err := l.replay.readPixels(e, l.px)
			if errors.Is(err, errGone) {
				continue
			}
			if err != nil {
				return nil, nil, err
			}
			l.info.NormalizePixels(l.x[k*in:(k+1)*in], l.px)
			labels[n+k] = e.Cat
			k++
		}
		l.net.Predict(p[n:n+k], l.x[:k*in])
		n += k
	}
	return p[:n], labels[:n], nil
}

// validation is how the model does on the held-out labels.
type validation struct {
	loss, auc, bal float64
	p              []float32 // p(cat) of each example that could be read
	labels         []bool
}

// validate returns the class-weighted BCE on val (the mean of each
// class's mean), its ROC AUC (NaN without both classes) and balanced
// accuracy at the current threshold, with the scores and labels they come
// from.
func (l *Learner) validate(val []*entry) (validation, error) {
	p, labels, err := l.scores(val)
	if err != nil {
		return validation{}, err
	}
	var sum [2]float64
	var n [2]int
	for i, pc := range p {
		c := 0
		if labels[i] {
			c = 1
		}
		sum[c] += exampleLoss(pc, labels[i])
		n[c]++
	}
	if n[0]+n[1] == 0 {
		return validation{}, errors.New("learn: no held-out label could be read")
	}
	var loss float64
	var k int
	for c := range 2 {
		if n[c] > 0 {
			loss += sum[c] / float64(n[c])
			k++
		}
	}
	v := validation{loss: loss / float64(k), auc: math.NaN(), p: p, labels: labels}
	if a, err := metrics.ROCAUC(p, labels); err == nil {
		v.auc = a
	}
	c := metrics.NewConfusion(p, labels, l.info.Threshold)
	v.bal = c.BalancedAccuracy()
	return v, nil
}
