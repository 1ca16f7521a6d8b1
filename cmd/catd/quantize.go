package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"catd/dataset"
	"catd/fixedpoint"
	"catd/metrics"
	"catd/model"
	"catd/safetensors"
	"catd/train"
)

// calibFlags are the flags that say how to quantize a float model:
// quantize's, and eval's and predict's for --int8 with a float model.
type calibFlags struct {
	path     *string
	limit    *int
	ranges   *string
	equalize *float64
}

func addCalibFlags(fs *pflag.FlagSet, pathHelp string) calibFlags {
	d := fixedpoint.DefaultCalibrateOptions
	return calibFlags{
		path:     fs.String("calib", "", pathHelp),
		limit:    fs.Int("calib-limit", 500, "calibration images at most, half of them cats where there are enough"),
		ranges:   fs.String("ranges", "mse", "activation ranges: mse (least squared error), minmax, or a percentile such as 99.99"),
		equalize: fs.Float64("equalize", d.Equalize, "channel range equalization exponent, 0 to 1 (0: none)"),
	}
}

// options checks the flags and returns the calibration options.
func (c calibFlags) options() (fixedpoint.CalibrateOptions, error) {
	opt := fixedpoint.DefaultCalibrateOptions
	opt.Equalize = *c.equalize
	switch r := *c.ranges; r {
	case "mse":
	case "minmax":
		opt.MSE = false
	default:
		p, err := strconv.ParseFloat(r, 64)
		if err != nil || !(p > 50 && p < 100) {
			return opt, fmt.Errorf("--ranges %q: want mse, minmax or a percentile between 50 and 100: %w", r, errUsage)
		}
		opt.MSE, opt.Percentile = false, p
	}
	if !(opt.Equalize >= 0 && opt.Equalize <= 1) {
		return opt, fmt.Errorf("--equalize %v: want 0 to 1: %w", opt.Equalize, errUsage)
	}
	if *c.limit < 1 {
		return opt, fmt.Errorf("--calib-limit %d: want at least 1: %w", *c.limit, errUsage)
	}
	return opt, nil
}

// describe says how the calibration was done, for metadata and output.
func describeCalib(opt fixedpoint.CalibrateOptions) string {
	r := "minmax"
	switch {
	case opt.MSE:
		r = "mse"
	case opt.Percentile > 0 && opt.Percentile < 100:
		r = "p" + strconv.FormatFloat(opt.Percentile, 'g', -1, 64)
	}
	return fmt.Sprintf("ranges %s, equalize %g, head bias corrected %v", r, opt.Equalize, opt.HeadBias)
}

// quantizeFloat calibrates net, the model read from path ("": the
// built-in one) and called name, on the images of calib (at most limit,
// balanced) and returns the int8 net, its Info (the float model's, with
// the calibration recorded in Extra) and the calibration set.
func quantizeFloat(e *env, net *model.Net, info model.Info, path, name string, c calibFlags, maxBatch int) (*fixedpoint.Net, model.Info, *dataset.Set, error) {
	opt, err := c.options()
	if err != nil {
		return nil, model.Info{}, nil, err
	}
	set, err := loadSet(e, *c.path, dataset.Options{W: net.Arch.W, H: net.Arch.H, Limit: (*c.limit + 1) / 2})
	if err != nil {
		return nil, model.Info{}, nil, err
	}
	imgs := make([][]uint8, min(set.Len(), *c.limit))
	for i := range imgs {
		imgs[i] = set.Image(i)
	}
	q, _, err := fixedpoint.QuantizeNet(net, info, imgs, opt, fixedpoint.Options{MaxBatch: maxBatch})
	if err != nil {
		return nil, model.Info{}, nil, err
	}
	qinfo := info
	qinfo.Extra = map[string]string{}
	for k, v := range info.Extra {
		qinfo.Extra[k] = v
	}
	qinfo.Extra["float_model"] = name
	if sum, err := floatModelSum(path); err == nil {
		qinfo.Extra["float_model_sha256"] = sum
	}
	qinfo.Extra["calib_data"] = *c.path
	qinfo.Extra["calib_images"] = strconv.Itoa(len(imgs))
	qinfo.Extra["calib_method"] = describeCalib(opt)
	return q, qinfo, set, nil
}

// floatModelSum returns the SHA-256 of the float model file at path (the
// built-in model's when path is empty), in hex.
func floatModelSum(path string) (string, error) {
	b := model.DefaultBytes()
	if path != "" {
		var err error
		if b, err = os.ReadFile(path); err != nil {
			return "", err
		}
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// predictInt8 returns p(cat) for every image of s.
func predictInt8(q *fixedpoint.Net, s *dataset.Set) []float32 {
	scores := make([]float32, s.Len())
	in := q.InputLen()
	for lo := 0; lo < s.Len(); lo += q.MaxBatch() {
		hi := min(lo+q.MaxBatch(), s.Len())
		q.Predict(scores[lo:hi], s.Pixels[lo*in:hi*in])
	}
	return scores
}

// agreement compares float and int8 scores on labelled images.
type agreement struct {
	N, Differ         int
	Agree             float64 // share of images with the same decision
	AUCFloat, AUCInt8 float64
	MaxDiff           float64 // largest |p_float - p_int8|
	Threshold         float32
}

func compareScores(fs, qs []float32, labels []bool, thr float32) (agreement, error) {
	a := agreement{N: len(fs), Threshold: thr}
	for i := range fs {
		if (fs[i] >= thr) != (qs[i] >= thr) {
			a.Differ++
		}
		a.MaxDiff = max(a.MaxDiff, math.Abs(float64(fs[i]-qs[i])))
	}
	a.Agree = 1 - float64(a.Differ)/float64(max(1, a.N))
	var err error
	if a.AUCFloat, err = metrics.ROCAUC(fs, labels); err != nil {
		return a, err
	}
	a.AUCInt8, err = metrics.ROCAUC(qs, labels)
	return a, err
}

func (a agreement) String() string {
	return fmt.Sprintf("int8 agrees with float32 on %.2f%% of %d images (%d differ) at threshold %.3f; ROC AUC float32 %.4f, int8 %.4f (%+.4f); p(cat) differs by at most %.3f",
		100*a.Agree, a.N, a.Differ, a.Threshold, a.AUCFloat, a.AUCInt8, a.AUCInt8-a.AUCFloat, a.MaxDiff)
}

func setupQuantize(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
	modelPath := fs.String("model", "", "float model file (default: the model built into catd)")
	cf := addCalibFlags(fs, "calibration images: a folder (or .tar, or a folder inside a .tar) with cat/ and noncat/ subfolders (required)")
	out := fs.String("out", "", "where to write the int8 model (required)")
	val := fs.String("val", "", "labelled images, laid out like --calib, to compare float32 and int8 on (default: the calibration images)")
	return func(ctx context.Context, e *env, args []string) error {
		if len(args) > 0 || *cf.path == "" || *out == "" {
			return fmt.Errorf("quantize needs --calib and --out and takes no arguments: %w", errUsage)
		}
		if _, err := cf.options(); err != nil {
			return err
		}
		opt := model.Options{MaxBatch: 64}
		net, info, name, err := readFloatModel(*modelPath, opt)
		if err != nil {
			return err
		}
		q, qinfo, set, err := quantizeFloat(e, net, info, *modelPath, name, cf, 64)
		if err != nil {
			return err
		}
		if *val != "" {
			if set, err = loadSet(e, *val, dataset.Options{W: net.Arch.W, H: net.Arch.H}); err != nil {
				return err
			}
		}
		folded, err := net.Folded(opt)
		if err != nil {
			return err
		}
		fsc, _ := train.PredictSet(folded, &info, set, make([]float32, 64*folded.InputLen()))
		ag, err := compareScores(fsc, predictInt8(q, set), set.Labels, info.Threshold)
		if err != nil {
			return fmt.Errorf("comparing on %s: %w", orDefault(*val, *cf.path), err)
		}
		qinfo.Extra["compared_on"] = orDefault(*val, *cf.path)
		qinfo.Extra["int8_agreement"] = strconv.FormatFloat(ag.Agree, 'f', 4, 64)
		qinfo.Extra["float_roc_auc"] = strconv.FormatFloat(ag.AUCFloat, 'f', 4, 64)
		qinfo.Extra["int8_roc_auc"] = strconv.FormatFloat(ag.AUCInt8, 'f', 4, 64)
		if err := q.WriteFile(*out, qinfo); err != nil {
			return err
		}
		st, err := os.Stat(*out)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "quantized %s to %s (%d bytes, %d of them parameters)\ncalibration: %s images from %s, %s\non %s: %s\n",
			name, *out, st.Size(), q.ParamBytes(), qinfo.Extra["calib_images"], *cf.path, qinfo.Extra["calib_method"], orDefault(*val, *cf.path), ag)
		return nil
	}
}

// orDefault returns a if it is set, else b.
func orDefault(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// builtinName is how commands name the built-in float model.
const builtinName = "built-in default model"

// readFloatModel reads a float model file, or the built-in model when
// path is empty, as it is (batch norms not folded), with the name to show.
func readFloatModel(path string, opt model.Options) (*model.Net, model.Info, string, error) {
	if path == "" {
		n, info, err := model.Default(opt)
		return n, info, builtinName, err
	}
	n, info, err := model.ReadFile(path, opt)
	if err != nil && strings.Contains(err.Error(), fixedpoint.FormatInt8Model) {
		err = fmt.Errorf("%w (an int8 model: use --int8)", err)
	}
	return n, info, path, err
}

// loadInt8 returns the int8 network eval and predict --int8 run: the
// built-in int8 model when path is empty and no --calib is given; an int8
// model file as it is; a float model file (or, with --calib, the built-in
// float model) quantized on --calib's images.
func loadInt8(e *env, path string, cf calibFlags, maxBatch int) (*fixedpoint.Net, model.Info, string, error) {
	opt := fixedpoint.Options{MaxBatch: maxBatch}
	if path == "" && *cf.path == "" {
		q, info, err := fixedpoint.Default(opt)
		return q, info, "built-in int8 model", err
	}
	if path != "" {
		f, err := safetensors.ReadFile(path, model.MaxFileBytes)
		if err != nil {
			return nil, model.Info{}, "", fmt.Errorf("model: %w", err)
		}
		if f.Metadata["format"] == fixedpoint.FormatInt8Model {
			if *cf.path != "" {
				return nil, model.Info{}, "", fmt.Errorf("%s is already an int8 model: --calib is for float models: %w", path, errUsage)
			}
			q, info, err := fixedpoint.FromFile(f, opt)
			if err != nil {
				return nil, model.Info{}, "", fmt.Errorf("%s: %w", path, err)
			}
			return q, info, path, nil
		}
		if *cf.path == "" {
			return nil, model.Info{}, "", fmt.Errorf("%s is a float model: --int8 needs --calib PATH (labelled images to calibrate on) to quantize it, or an int8 model made by catd quantize: %w", path, errUsage)
		}
	}
	net, info, name, err := readFloatModel(path, model.Options{MaxBatch: 64})
	if err != nil {
		return nil, model.Info{}, "", err
	}
	q, qinfo, _, err := quantizeFloat(e, net, info, path, name, cf, maxBatch)
	if err != nil {
		return nil, model.Info{}, "", err
	}
	return q, qinfo, name + " quantized on " + *cf.path, nil
}

// benchInt8 quantizes net on random images and times batch-1 int8
// inference as bench times float inference.
func benchInt8(res *benchResult, net *model.Net, warm, rounds int) error {
	r := rand.New(rand.NewPCG(5, 6))
	imgs := make([][]uint8, 16)
	for i := range imgs {
		imgs[i] = make([]uint8, net.InputLen())
		for j := range imgs[i] {
			imgs[i][j] = uint8(r.IntN(256))
		}
	}
	q, _, err := fixedpoint.QuantizeNet(net, model.DefaultInfo(net.Arch, ""), imgs, fixedpoint.DefaultCalibrateOptions, fixedpoint.Options{MaxBatch: 1})
	if err != nil {
		return err
	}
	p := make([]float32, 1)
	us := medianUS(warm, rounds, func() { q.Predict(p, imgs[0]) })
	allocs := allocsPerOp(rounds, func() { q.Predict(p, imgs[0]) })
	res.InferInt8B1, res.InferInt8Allocs = &us, &allocs
	return nil
}

// int8Line is bench's line for int8 inference (--int8).
func int8Line(r *benchResult) string {
	return fmt.Sprintf("int8 inference, batch 1:     %9.1f µs  (%.0f allocs/op, %.2fx float32's speed)", *r.InferInt8B1, *r.InferInt8Allocs, r.InferB1 / *r.InferInt8B1)
}
