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
	n, info, name, err = readFloatModel(path, opt)
	if err != nil {
		return nil, model.Info{}, "", err
	}
	f, err := n.Folded(opt)
	return f, info, name, err
}

// int8Flags are eval's and predict's flags for int8 inference.
type int8Flags struct {
	on    *bool
	calib calibFlags
}

func addInt8Flags(fs *pflag.FlagSet) int8Flags {
	return int8Flags{
		on:    fs.Bool("int8", false, "run the int8 model: --model's if it is an int8 file (catd quantize), else the float model quantized on --calib (default: the built-in int8 model)"),
		calib: addCalibFlags(fs, "with --int8 and a float model: labelled images to calibrate on, laid out like --data"),
	}
}

// check refuses calibration flags without --int8.
func (f int8Flags) check(fs *pflag.FlagSet) error {
	if *f.on {
		_, err := f.calib.options()
		return err
	}
	for _, name := range []string{"calib", "calib-limit", "ranges", "equalize"} {
		if fs.Changed(name) {
			return fmt.Errorf("--%s needs --int8: %w", name, errUsage)
		}
	}
	return nil
}

func setupEval(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
	modelPath := fs.String("model", "", "model file (default: the model built into catd)")
	data := fs.String("data", "", "labelled images: a folder (or .tar, or a folder inside a .tar) with cat/ and noncat/ subfolders (required)")
	threshold := fs.Float64("threshold", 0, "decision threshold on p(cat) (default: the model's own)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	i8 := addInt8Flags(fs)
	return func(ctx context.Context, e *env, args []string) error {
		if len(args) > 0 || *data == "" {
			return fmt.Errorf("eval needs --data and takes no arguments: %w", errUsage)
		}
		if fs.Changed("threshold") && !(*threshold > 0 && *threshold < 1) {
			return fmt.Errorf("--threshold %v: want a number between 0 and 1: %w", *threshold, errUsage)
		}
		if err := i8.check(fs); err != nil {
			return err
		}
		thr := float32(*threshold)
		if *i8.on {
			q, info, name, err := loadInt8(e, *modelPath, i8.calib, 64)
			if err != nil {
				return err
			}
			set, err := loadSet(e, *data, dataset.Options{W: q.Arch.W, H: q.Arch.H})
			if err != nil {
				return err
			}
			return printEval(e, predictInt8(q, set), set, info, name, *data, fs.Changed("threshold"), thr, *asJSON)
		}
		net, info, name, err := loadModel(*modelPath, model.Options{MaxBatch: 64})
		if err != nil {
			return err
		}
		set, err := loadSet(e, *data, dataset.Options{W: net.Arch.W, H: net.Arch.H})
		if err != nil {
			return err
		}
		scores, _ := train.PredictSet(net, &info, set, make([]float32, 64*net.InputLen()))
		return printEval(e, scores, set, info, name, *data, fs.Changed("threshold"), thr, *asJSON)
	}
}

// printEval prints the metrics of scores on set, at the model's threshold
// unless one is given.
func printEval(e *env, scores []float32, set *dataset.Set, info model.Info, name, data string, setThr bool, threshold float32, asJSON bool) error {
	thr := info.Threshold
	if setThr {
		thr = threshold
	}
	rep, err := metrics.Evaluate(scores, set.Labels, thr)
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(e.stdout).Encode(rep)
	}
	_, err = fmt.Fprintf(e.stdout, "model %s on %s\n%s", name, data, rep.String())
	return err
}

func setupPredict(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
	modelPath := fs.String("model", "", "model file (default: the model built into catd)")
	threshold := fs.Float64("threshold", 0, "decision threshold on p(cat) (default: the model's own)")
	i8 := addInt8Flags(fs)
	return func(ctx context.Context, e *env, args []string) error {
		if len(args) == 0 {
			return fmt.Errorf("predict needs image files: %w", errUsage)
		}
		if err := i8.check(fs); err != nil {
			return err
		}
		// predict runs either net: the int8 one on pixels, the float one on
		// normalised pixels.
		var (
			info  model.Info
			w, h  int
			infer func(p []float32, px []uint8)
		)
		if *i8.on {
			q, qinfo, _, err := loadInt8(e, *modelPath, i8.calib, 1)
			if err != nil {
				return err
			}
			info, w, h, infer = qinfo, q.Arch.W, q.Arch.H, q.Predict
		} else {
			net, finfo, _, err := loadModel(*modelPath, model.Options{MaxBatch: 1})
			if err != nil {
				return err
			}
			x := make([]float32, net.InputLen())
			info, w, h = finfo, net.Arch.W, net.Arch.H
			infer = func(p []float32, px []uint8) {
				info.NormalizePixels(x, px)
				net.Predict(p, x)
			}
		}
		thr := info.Threshold
		if fs.Changed("threshold") {
			thr = float32(*threshold)
		}
		set, rep, err := dataset.LoadFiles(args, dataset.Options{W: w, H: h})
		if err != nil && set == nil {
			return err
		}
		for _, sk := range rep.Skipped {
			fmt.Fprintf(e.stderr, "catd: %s: %s\n", sk.Path, sk.Reason)
		}
		p := make([]float32, 1)
		for i := range set.Len() {
			infer(p, set.Image(i))
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
