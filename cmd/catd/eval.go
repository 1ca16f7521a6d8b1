package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"catd/dataset"
	"catd/metrics"
	"catd/model"
	"catd/preprocess"
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
		prog := startProgress(e.stderr, "catd eval")
		defer prog.end()
		if *i8.on {
			prog.set("loading the int8 model")
			q, info, name, err := loadInt8(e, *modelPath, i8.calib, 64)
			if err != nil {
				return err
			}
			prog.set("loading images from " + *data)
			set, err := loadSet(e, *data, dataset.Options{W: q.Arch.W, H: q.Arch.H})
			if err != nil {
				return err
			}
			prog.set(fmt.Sprintf("scoring %d images", set.Len()))
			scores := predictInt8(q, set)
			prog.end()
			return printEval(e, scores, set, info, name, *data, fs.Changed("threshold"), thr, *asJSON)
		}
		net, info, name, err := loadModel(*modelPath, model.Options{MaxBatch: 64})
		if err != nil {
			return err
		}
		prog.set("loading images from " + *data)
		set, err := loadSet(e, *data, dataset.Options{W: net.Arch.W, H: net.Arch.H})
		if err != nil {
			return err
		}
		prog.set(fmt.Sprintf("scoring %d images", set.Len()))
		scores, _ := train.PredictSet(net, &info, set, make([]float32, 64*net.InputLen()))
		prog.end()
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
	asJSON := fs.Bool("json", false, `print one JSON object per image: {"path":…,"p_cat":…,"cat":…}`)
	i8 := addInt8Flags(fs)
	return func(ctx context.Context, e *env, args []string) error {
		if len(args) == 0 {
			return fmt.Errorf("predict needs image files, folders of them, or - (an image on stdin): %w", errUsage)
		}
		if n := slices.Index(args, "-"); n >= 0 && slices.Index(args[n+1:], "-") >= 0 {
			return fmt.Errorf("predict: - (stdin) given twice: %w", errUsage)
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
		files, err := predictFiles(args)
		if err != nil {
			return err
		}
		out := predictPrinter{w: e.stdout, json: *asJSON, thr: thr}
		p := make([]float32, 1)
		failed, total := 0, 0
		if slices.Contains(args, "-") {
			total++
			px, err := stdinImage(e.stdin, w, h)
			if err != nil {
				fmt.Fprintf(e.stderr, "catd: -: %v\n", err)
				failed++
			} else {
				infer(p, px)
				if err := out.print("-", p[0]); err != nil {
					return err
				}
			}
		}
		if len(files) > 0 {
			set, rep, err := dataset.LoadFiles(files, dataset.Options{W: w, H: h})
			if err != nil && set == nil && len(rep.Skipped) == 0 {
				return err
			}
			for _, sk := range rep.Skipped {
				fmt.Fprintf(e.stderr, "catd: %s: %s\n", sk.Path, sk.Reason)
			}
			total += len(files)
			failed += len(rep.Skipped)
			for i := range set.Len() {
				infer(p, set.Image(i))
				if err := out.print(set.Paths[i], p[0]); err != nil {
					return err
				}
			}
		}
		if failed > 0 {
			return fmt.Errorf("%d of %d images could not be read", failed, total)
		}
		return nil
	}
}

// predictPrinter prints one line per image: tab-separated path, p(cat)
// and verdict, or a JSON object.
type predictPrinter struct {
	w    io.Writer
	json bool
	thr  float32
}

func (o predictPrinter) print(path string, p float32) error {
	if o.json {
		return json.NewEncoder(o.w).Encode(struct {
			Path string  `json:"path"`
			PCat float32 `json:"p_cat"`
			Cat  bool    `json:"cat"`
		}{path, p, p >= o.thr})
	}
	verdict := "no cat"
	if p >= o.thr {
		verdict = "cat"
	}
	_, err := fmt.Fprintf(o.w, "%s\t%.4f\t%s\n", path, p, verdict)
	return err
}

// predictFiles expands predict's arguments: a folder stands for the JPEG
// and PNG files under it (recursively, in name order); "-" (stdin) is left
// out; other arguments are kept as they are (files, or members of a tar).
func predictFiles(args []string) ([]string, error) {
	var files []string
	for _, a := range args {
		if a == "-" {
			continue
		}
		st, err := os.Stat(a)
		if err != nil || !st.IsDir() {
			files = append(files, a) // LoadFiles says what is wrong with it
			continue
		}
		n := len(files)
		err = filepath.WalkDir(a, func(path string, d iofs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() && imageName(d.Name()) {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("predict: %w", err)
		}
		if len(files) == n {
			return nil, fmt.Errorf("predict: folder %s has no .jpg, .jpeg or .png file", a)
		}
	}
	return files, nil
}

// imageName reports whether a file name looks like a JPEG or PNG.
func imageName(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jpg", ".jpeg", ".jpe", ".png":
		return !strings.HasPrefix(name, ".")
	}
	return false
}

// stdinImage reads one JPEG or PNG from r (at most
// dataset.DefaultMaxFileBytes) and preprocesses it as the loaders do.
func stdinImage(r io.Reader, w, h int) ([]uint8, error) {
	data, err := io.ReadAll(io.LimitReader(r, dataset.DefaultMaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > dataset.DefaultMaxFileBytes {
		return nil, fmt.Errorf("more than %d bytes", dataset.DefaultMaxFileBytes)
	}
	img, err := dataset.DecodeImage(bytes.NewReader(data), dataset.DefaultMaxPixels)
	if err != nil {
		return nil, err
	}
	rz := preprocess.NewResizer(w, h, preprocess.Options{})
	px := make([]uint8, rz.OutLen())
	if err := rz.Image(px, img); err != nil {
		return nil, err
	}
	return px, nil
}
