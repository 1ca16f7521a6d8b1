package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/spf13/pflag"

	"catd/config"
	"catd/daemon"
	"catd/dataset"
	"catd/learn"
	"catd/learn/learnbench"
	"catd/model"
)

// setupBenchLearning is "catd bench-learning": on-device learning measured
// as catd's daemon does it, over data sets, label orders and seeds.
func setupBenchLearning(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
	modelPath := fs.String("model", "", "model file to fine-tune (default: the built-in model)")
	tiny := fs.String("tinyimagenet", "", "the Tiny ImageNet cat tar: adds the night-vision and cat-vs-dog sets and measures forgetting on its val/")
	pets := fs.String("pets", "", "a folder with train/ and test/ (each with cat/ and noncat/): adds the pets set")
	labelsDir := fs.String("labels", "", "your own labels (cat/ and noncat/ folders, or a tar); needs --test")
	testDir := fs.String("test", "", "test images of the same domain as --labels")
	forgetPath := fs.String("forget", "", "a folder or tar of cat/ and noncat/ whose balanced accuracy measures forgetting (default with --tinyimagenet: its val/)")
	orders := fs.String("orders", "class-by-class,interleaved,trickle", "label orders, comma-separated")
	seeds := fs.Int("seeds", 3, "seeds per set and order")
	burst := fs.Int("burst-ticks", 4, "class-by-class and interleaved: the labels arrive over this many rounds' time")
	trickle := fs.Int("trickle", 5, "trickle: labels per round's time (at least a 40th of the set, so that a run ends)")
	jobs := fs.Int("jobs", runtime.GOMAXPROCS(0), "runs at a time")
	out := fs.String("out", "", "folder for learning-bench.md, .json and .png (default: print the table only)")
	importance := fs.String("importance", "", "what weighs the anchor's pull per parameter: off, an importance file (catd importance), or images to measure it on (cat/ and noncat/); default: as catd run, the built-in model's or MODEL.importance.safetensors")
	configPath := fs.String("config", "", "a catd config file whose learn section to use (default: catd's defaults)")
	// The learner's stabilisers, to measure what each does (0: the
	// default, negative: off; see learn.Config).
	var ab learn.Config
	fs.Float64Var(&ab.BackboneLR, "backbone-lr", 0, "ablation: the backbone's learning rate as a multiple of the head's")
	fs.Float64Var(&ab.Prox, "prox", 0, "ablation: L2 pull toward the accepted weights")
	fs.Float64Var(&ab.Anchor, "anchor", 0, "ablation: L2 pull toward the starting weights (L2-SP)")
	fs.Float64Var(&ab.Average, "average", 0, "ablation: share of a round's last iterates averaged")
	fs.IntVar(&ab.HeadWarmup, "head-warmup", 0, "ablation: steps training the head alone at first")
	fs.Float64Var(&ab.Shrink, "shrink", 0, "ablation: learning-rate factor after a rejected round")
	fs.Float64Var(&ab.RecentShare, "recent-share", 0, "ablation: share of each class's draws from its newest labels")
	fs.Float64Var(&ab.Noise, "noise", 0, "ablation: standard errors of the paired held-out loss change an accepted round may rise by")
	fs.BoolVar(&ab.BestCut, "best-cut", false, "ablation: recalibrate the threshold to the held-out labels' best cut instead of a fitted calibration")
	fs.Float64Var(&ab.ThresholdPrior, "threshold-prior", 0, "ablation: labels' worth of weight the starting threshold keeps in each recalibration")
	fs.BoolVar(&ab.KeepThreshold, "keep-threshold", false, "ablation: keep the starting threshold (no recalibration)")
	fs.Float64Var(&ab.Wise, "wise", 0, "ablation: share of the trained weights in the published model, in (0, 1] (default: the learn section's learn.wise)")
	return func(ctx context.Context, e *env, args []string) error {
		if len(args) > 0 {
			return fmt.Errorf("%w: unexpected arguments %q", errUsage, args)
		}
		if *tiny == "" && *pets == "" && *labelsDir == "" {
			return fmt.Errorf("%w: give at least one of --tinyimagenet, --pets, --labels", errUsage)
		}
		if (*labelsDir == "") != (*testDir == "") {
			return fmt.Errorf("%w: --labels and --test go together", errUsage)
		}
		var ords []learnbench.Order
		for _, s := range strings.Split(*orders, ",") {
			o, err := learnbench.ParseOrder(strings.TrimSpace(s))
			if err != nil {
				return fmt.Errorf("%w: --orders: %v", errUsage, err)
			}
			ords = append(ords, o)
		}
		if *seeds < 1 || *burst < 1 || *trickle < 1 || *jobs < 1 {
			return fmt.Errorf("%w: --seeds, --burst-ticks, --trickle and --jobs must be at least 1", errUsage)
		}
		cfg := config.Default()
		if *configPath != "" {
			c, _, err := config.Load(*configPath)
			if err != nil {
				return err
			}
			cfg = c
		}
		net, info, name, err := loadModel(*modelPath, model.Options{MaxBatch: 1})
		if err != nil {
			return err
		}
		lc, err := daemon.LearnerConfig(cfg.Learn, 0)
		if err != nil {
			return err
		}
		// The ablation flags given replace the learn section's settings.
		lc.BackboneLR, lc.Prox, lc.Average, lc.HeadWarmup, lc.Shrink, lc.RecentShare = ab.BackboneLR, ab.Prox, ab.Average, ab.HeadWarmup, ab.Shrink, ab.RecentShare
		lc.BestCut, lc.Noise, lc.ThresholdPrior, lc.KeepThreshold = ab.BestCut, ab.Noise, ab.ThresholdPrior, ab.KeepThreshold
		if fs.Changed("anchor") {
			lc.Anchor = ab.Anchor
		}
		if fs.Changed("wise") {
			if !(ab.Wise > 0 && ab.Wise <= 1) {
				return fmt.Errorf("%w: --wise %g is not in (0, 1]", errUsage, ab.Wise)
			}
			lc.Wise = ab.Wise
		}
		if lc.Importance, err = benchImportance(*importance, *modelPath, net, info); err != nil {
			return err
		}
		opts := learnbench.Options{Net: net, Info: info, Learn: lc, Patience: cfg.Learn.Patience,
			Replay: learn.ReplayOptions{PerClass: cfg.Learn.ReplayPerClass, ValShare: cfg.Learn.ValShare}}
		w, h := net.Arch.W, net.Arch.H
		var sets []learnbench.Set
		if *pets != "" {
			s, err := learnbench.Folder("pets", filepath.Join(*pets, "train"), filepath.Join(*pets, "test"), w, h)
			if err != nil {
				return err
			}
			sets = append(sets, s)
		}
		if *tiny != "" {
			e.log.Info().Str("tar", *tiny).Msg("loading Tiny ImageNet")
			night, catdog, forget, err := learnbench.TinyImageNet(*tiny, w, h)
			if err != nil {
				return err
			}
			sets = append(sets, night, catdog)
			opts.Forget = forget
		}
		if *forgetPath != "" {
			f, _, err := dataset.Load(*forgetPath, dataset.Options{W: w, H: h, Limit: 1000})
			if err != nil {
				return err
			}
			opts.Forget = f
		}
		if *labelsDir != "" {
			s, err := learnbench.Folder("yours", *labelsDir, *testDir, w, h)
			if err != nil {
				return err
			}
			sets = append(sets, s)
		}
		var scs []learnbench.Scenario
		for _, s := range sets {
			for _, o := range ords {
				per := (s.Labels.Len() + *burst - 1) / *burst
				if o == learnbench.Trickle {
					per = max(*trickle, s.Labels.Len()/40)
				}
				for seed := 1; seed <= *seeds; seed++ {
					scs = append(scs, learnbench.Scenario{Name: s.Name, Labels: s.Labels, Test: s.Test, Order: o, PerTick: per, Seed: uint64(seed)})
				}
			}
		}
		e.log.Info().Str("model", name).Int("runs", len(scs)).Int("jobs", *jobs).Msg("learning benchmark")
		outs := make([]learnbench.Outcome, len(scs))
		errs := make([]error, len(scs))
		var wg sync.WaitGroup
		sem := make(chan struct{}, *jobs)
		for i, sc := range scs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					errs[i] = ctx.Err()
					return
				}
				defer func() { <-sem }()
				outs[i], errs[i] = learnbench.Run(ctx, sc, opts)
				if errs[i] == nil {
					o := outs[i]
					e.log.Info().Str("set", o.Scenario).Str("order", string(o.Order)).Uint64("seed", o.Seed).
						Float64("balanced_accuracy_before", round4(o.Before.BalAcc)).Float64("balanced_accuracy", round4(o.After.BalAcc)).
						Float64("auc_before", round4(o.Before.AUC)).Float64("auc", round4(o.After.AUC)).
						Int("rounds", o.Rounds).Int("accepted", o.Accepted).Dur("took", o.Took).Msg("run done")
				}
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
		rep := learnbench.Report{Model: name, Outcomes: outs, Orders: ords, Seeds: *seeds, BurstTicks: *burst, Trickle: *trickle, Learn: cfg.Learn}
		if _, err := fmt.Fprint(e.stdout, rep.Markdown()); err != nil {
			return err
		}
		if *out == "" {
			return nil
		}
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(*out, "learning-bench.md"), []byte(rep.Markdown()), 0o644); err != nil {
			return err
		}
		js, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(*out, "learning-bench.json"), js, 0o644); err != nil {
			return err
		}
		return rep.Figure().WritePNG(filepath.Join(*out, "learning-bench.png"))
	}
}

// benchImportance is the importance bench-learning weighs the anchor by:
// with flag "" what catd run would use for modelPath, "off" none, a
// ".safetensors" file that importance file, else the Fisher information
// measured on the labelled images flag names.
func benchImportance(flag, modelPath string, net *model.Net, info model.Info) ([]float32, error) {
	switch {
	case flag == "":
		imp, _, err := daemon.ModelImportance(modelPath, net)
		return imp, err
	case flag == "off":
		return nil, nil
	case strings.HasSuffix(flag, ".safetensors"):
		b, err := os.ReadFile(flag)
		if err != nil {
			return nil, err
		}
		return learn.DecodeImportance(b, net.Arch, net.Params)
	}
	const perClass = 1000
	set, _, err := dataset.Load(flag, dataset.Options{W: net.Arch.W, H: net.Arch.H, Limit: perClass})
	if err != nil {
		return nil, err
	}
	return learn.Importance(net, info, set, perClass, 1)
}
