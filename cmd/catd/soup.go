package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"catd/dataset"
	"catd/metrics"
	"catd/model"
	"catd/train"
)

// setupSoup is "catd soup": one model whose weights are the mean of
// several cat detectors fine-tuned from the same pretrained model (a
// model soup; see model.Net.Average), its threshold fitted on --val.
func setupSoup(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
	weightsFlag := fs.Float64Slice("weights", nil, "relative weight of each model, in order (default: equal)")
	val := fs.String("val", "", "labelled images to fit the threshold on and report: a folder (or .tar, or a folder inside one) with cat/ and noncat/ (required)")
	out := fs.String("out", "", "where to write the averaged model (required)")
	return func(ctx context.Context, e *env, args []string) error {
		if len(args) < 2 || *val == "" || *out == "" {
			return fmt.Errorf("soup needs two or more model files, --val and --out: %w", errUsage)
		}
		if *weightsFlag != nil && len(*weightsFlag) != len(args) {
			return fmt.Errorf("--weights: %d weights for %d models: %w", len(*weightsFlag), len(args), errUsage)
		}
		nets := make([]*model.Net, len(args))
		var info model.Info
		sources := make([]string, len(args))
		for i, path := range args {
			n, inf, err := model.ReadFile(path, model.Options{MaxBatch: 64}) // checks sizes before reading
			if err != nil {
				return err
			}
			digest, err := fileDigest(path)
			if err != nil {
				return err
			}
			if n.Arch.Outputs() != 1 {
				return fmt.Errorf("%s: %d outputs, want a cat detector's 1", path, n.Arch.Outputs())
			}
			if i == 0 {
				info = inf
			} else if n.Arch.String() != nets[0].Arch.String() {
				return fmt.Errorf("%s is %q, %s %q: only models of one architecture average", path, n.Arch, args[0], nets[0].Arch)
			} else if !slices.Equal(inf.Mean, info.Mean) || !slices.Equal(inf.Std, info.Std) {
				return fmt.Errorf("%s normalises its input by mean %v std %v, %s by %v %v: not models of one recipe",
					path, inf.Mean, inf.Std, args[0], info.Mean, info.Std)
			}
			nets[i], sources[i] = n, path+" sha256:"+digest
		}
		soup, err := model.New(nets[0].Arch, model.Options{MaxBatch: 64})
		if err != nil {
			return err
		}
		if err := soup.Average(nets, *weightsFlag); err != nil {
			return fmt.Errorf("--weights: %w", err) // the architectures were checked above
		}
		set, err := loadSet(e, *val, dataset.Options{W: soup.Arch.W, H: soup.Arch.H})
		if err != nil {
			return err
		}
		folded, err := soup.Folded(model.Options{MaxBatch: 64})
		if err != nil {
			return err
		}
		scores, _ := train.PredictSet(folded, &info, set, make([]float32, 64*folded.InputLen()))
		thr, _, err := metrics.BestThreshold(scores, set.Labels)
		if err != nil {
			return fmt.Errorf("--val %s: %w", *val, err)
		}
		rep, err := metrics.Evaluate(scores, set.Labels, thr)
		if err != nil {
			return fmt.Errorf("--val %s: %w", *val, err)
		}
		// The ingredients' own metadata (their recipes and figures) is
		// theirs; the soup names them by file and digest.
		info.Extra = map[string]string{
			"soup_of":      strings.Join(sources, ", "),
			"soup_command": commandLine("catd soup", fs) + " " + strings.Join(args, " "),
			"val":          *val,
		}
		info.Threshold = thr
		recordVal(info.Extra, &rep)
		if err := soup.WriteFile(*out, info); err != nil {
			return err
		}
		e.log.Info().Int("models", len(nets)).Float64("val_roc_auc", rep.ROCAUC).Float64("val_balanced_accuracy", rep.BalancedAccuracy).
			Float32("threshold", thr).Str("out", *out).Msg("soup written")
		fmt.Fprintf(e.stdout, "%d models averaged: val ROC AUC %.4f, balanced accuracy %.4f at threshold %.4f -> %s\n",
			len(nets), rep.ROCAUC, rep.BalancedAccuracy, thr, *out)
		return nil
	}
}

// fileDigest is the SHA-256 of the file at path, in hex, read as a stream.
func fileDigest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
