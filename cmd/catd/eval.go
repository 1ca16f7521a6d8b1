package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/pflag"

	"catd/dataset"
	"catd/metrics"
	"catd/model"
	"catd/train"
)

// loadModel reads a model file, or the model built into catd when path is
// empty, and returns it ready for inference, batch norms folded.
func loadModel(path string, opt model.Options) (*model.Net, model.Info, string, error) {
	name := path
	var (
		n    *model.Net
		info model.Info
		err  error
	)
	if path == "" {
		name = "built-in default model"
		n, info, err = model.Default(opt)
	} else {
		n, info, err = model.ReadFile(path, opt)
	}
	if err != nil {
		return nil, model.Info{}, "", err
	}
	f, err := n.Folded(opt)
	return f, info, name, err
}

func setupEval(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
	modelPath := fs.String("model", "", "model file (default: the model built into catd)")
	data := fs.String("data", "", "labelled images: a folder (or .tar, or a folder inside a .tar) with cat/ and noncat/ subfolders (required)")
	threshold := fs.Float64("threshold", 0, "decision threshold on p(cat) (default: the model's own)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	return func(ctx context.Context, e *env, args []string) error {
		if len(args) > 0 || *data == "" {
			return fmt.Errorf("eval needs --data and takes no arguments: %w", errUsage)
		}
		if fs.Changed("threshold") && !(*threshold > 0 && *threshold < 1) {
			return fmt.Errorf("--threshold %v: want a number between 0 and 1: %w", *threshold, errUsage)
		}
		net, info, name, err := loadModel(*modelPath, model.Options{MaxBatch: 64})
		if err != nil {
			return err
		}
		set, err := loadSet(e, *data, dataset.Options{W: net.Arch.W, H: net.Arch.H})
		if err != nil {
			return err
		}
		thr := info.Threshold
		if fs.Changed("threshold") {
			thr = float32(*threshold)
		}
		scores, _ := train.PredictSet(net, &info, set, make([]float32, 64*net.InputLen()))
		rep, err := metrics.Evaluate(scores, set.Labels, thr)
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(e.stdout).Encode(rep)
		}
		fmt.Fprintf(e.stdout, "model %s on %s\n%s", name, *data, rep.String())
		return nil
	}
}

func setupPredict(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
	modelPath := fs.String("model", "", "model file (default: the model built into catd)")
	threshold := fs.Float64("threshold", 0, "decision threshold on p(cat) (default: the model's own)")
	return func(ctx context.Context, e *env, args []string) error {
		if len(args) == 0 {
			return fmt.Errorf("predict needs image files: %w", errUsage)
		}
		net, info, _, err := loadModel(*modelPath, model.Options{MaxBatch: 1})
		if err != nil {
			return err
		}
		thr := info.Threshold
		if fs.Changed("threshold") {
			thr = float32(*threshold)
		}
		set, rep, err := dataset.LoadFiles(args, dataset.Options{W: net.Arch.W, H: net.Arch.H})
		if err != nil && set == nil {
			return err
		}
		for _, sk := range rep.Skipped {
			fmt.Fprintf(e.stderr, "catd: %s: %s\n", sk.Path, sk.Reason)
		}
		x := make([]float32, net.InputLen())
		p := make([]float32, 1)
		for i := range set.Len() {
			info.NormalizePixels(x, set.Image(i))
			net.Predict(p, x)
			verdict := "no cat"
			if p[0] >= thr {
				verdict = "cat"
			}
			fmt.Fprintf(e.stdout, "%s\t%.4f\t%s\n", set.Paths[i], p[0], verdict)
		}
		if len(rep.Skipped) > 0 {
			return fmt.Errorf("%d of %d images could not be read", len(rep.Skipped), len(args))
		}
		return nil
	}
}
