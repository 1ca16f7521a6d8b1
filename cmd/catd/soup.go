package main

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
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
	greedy := fs.Bool("greedy", false, "a greedy soup: take the models in order of their own val ROC AUC, keep each one that does not lower the soup's")
	return func(ctx context.Context, e *env, args []string) error {
		if len(args) < 2 || *val == "" || *out == "" {
			return fmt.Errorf("soup needs two or more model files, --val and --out: %w", errUsage)
		}
		if *weightsFlag != nil && len(*weightsFlag) != len(args) {
			return fmt.Errorf("--weights: %d weights for %d models: %w", len(*weightsFlag), len(args), errUsage)
		}
		if *weightsFlag != nil && *greedy {
			return fmt.Errorf("--weights and --greedy: a greedy soup weighs the models it keeps equally: %w", errUsage)
		}
		nets := make([]*model.Net, len(args))
		var info model.Info
		sources := make([]string, len(args))
		recipes := make([]map[string]string, len(args))
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
			nets[i], sources[i], recipes[i] = n, path+" sha256:"+digest, inf.Extra
		}
		soup, err := model.New(nets[0].Arch, model.Options{MaxBatch: 64})
		if err != nil {
			return err
		}
		set, err := loadSet(e, *val, dataset.Options{W: soup.Arch.W, H: soup.Arch.H})
		if err != nil {
			return err
		}
		buf := make([]float32, 64*soup.InputLen())
		// judge averages the models with the given weights into soup and
		// reports it on --val at the threshold that fits it best.
		judge := func(weights []float64) (metrics.Report, float32, error) {
			if err := soup.Average(nets, weights); err != nil {
				return metrics.Report{}, 0, fmt.Errorf("--weights: %w", err) // the architectures were checked above
			}
			folded, err := soup.Folded(model.Options{MaxBatch: 64})
			if err != nil {
				return metrics.Report{}, 0, err
			}
			scores, _ := train.PredictSet(folded, &info, set, buf)
			thr, _, err := metrics.BestThreshold(scores, set.Labels)
			if err != nil {
				return metrics.Report{}, 0, fmt.Errorf("--val %s: %w", *val, err)
			}
			rep, err := metrics.Evaluate(scores, set.Labels, thr)
			if err != nil {
				return metrics.Report{}, 0, fmt.Errorf("--val %s: %w", *val, err)
			}
			return rep, thr, nil
		}
		weights := *weightsFlag
		var steps []string
		if *greedy {
			if weights, steps, err = greedySoup(args, judge, e); err != nil {
				return err
			}
		}
		rep, thr, err := judge(weights)
		if err != nil {
			return err
		}
		used := sources[:0:0]
		var usedRecipes []map[string]string
		for i, src := range sources {
			if weights == nil || weights[i] > 0 {
				used, usedRecipes = append(used, src), append(usedRecipes, recipes[i])
			}
		}
		// The ingredients' own figures are theirs; the soup names them by
		// file and digest and keeps how each was made.
		info.Extra = soupRecipe(usedRecipes)
		info.Extra["soup_of"] = strings.Join(used, ", ")
		info.Extra["soup_command"] = commandLine("catd soup", fs) + " " + strings.Join(args, " ")
		info.Extra["val"] = *val
		if *greedy {
			info.Extra["soup_greedy"] = strings.Join(steps, "; ")
		}
		info.Threshold = thr
		recordVal(info.Extra, &rep)
		if err := soup.WriteFile(*out, info); err != nil {
			return err
		}
		e.log.Info().Int("models", len(used)).Float64("val_roc_auc", rep.ROCAUC).Float64("val_balanced_accuracy", rep.BalancedAccuracy).
			Float32("threshold", thr).Str("out", *out).Msg("soup written")
		for _, step := range steps {
			fmt.Fprintln(e.stdout, step)
		}
		fmt.Fprintf(e.stdout, "%d models averaged: val ROC AUC %.4f, balanced accuracy %.4f at threshold %.4f -> %s\n",
			len(used), rep.ROCAUC, rep.BalancedAccuracy, thr, *out)
		return nil
	}
}

// soupRecipe is the recipe of a soup's ingredients, from their metadata:
// each one's train_command as soup_train_command_K (K counting from 1 in
// the order of soup_of), and the backbone_* keys of the pretraining they
// share when all of them name the same one.
func soupRecipe(ingredients []map[string]string) map[string]string {
	extra := map[string]string{}
	for k, in := range ingredients {
		if c, ok := in["train_command"]; ok {
			extra["soup_train_command_"+strconv.Itoa(k+1)] = c
		}
	}
	first := ingredients[0]["backbone_train_command"]
	for _, in := range ingredients {
		if first == "" || in["backbone_train_command"] != first {
			return extra
		}
	}
	for key, v := range ingredients[0] {
		if strings.HasPrefix(key, "backbone_") {
			extra[key] = v
		}
	}
	return extra
}

// greedySoup chooses the ingredients of a greedy soup (Wortsman et al.,
// "Model soups", 2022): it ranks the models by their own ROC AUC on --val,
// starts from the best and adds each of the others in turn, keeping it
// when the equal-weight soup's ROC AUC on --val does not fall. It returns
// the weights (1 for a kept model, 0 for a left one) and a line for each
// step.
func greedySoup(paths []string, judge func([]float64) (metrics.Report, float32, error), e *env) ([]float64, []string, error) {
	alone := make([]float64, len(paths))
	w := make([]float64, len(paths))
	for i := range paths {
		clear(w)
		w[i] = 1
		rep, _, err := judge(w)
		if err != nil {
			return nil, nil, err
		}
		alone[i] = rep.ROCAUC
	}
	order := make([]int, len(paths))
	for i := range order {
		order[i] = i
	}
	// Best first; ties keep the order given.
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(alone[b], alone[a]) })
	clear(w)
	w[order[0]] = 1
	best := alone[order[0]]
	steps := []string{fmt.Sprintf("start %s (ROC AUC %.4f)", paths[order[0]], best)}
	for _, i := range order[1:] {
		w[i] = 1
		rep, _, err := judge(w)
		if err != nil {
			return nil, nil, err
		}
		verdict := "kept"
		if rep.ROCAUC >= best {
			best = rep.ROCAUC
		} else {
			w[i], verdict = 0, "left out"
		}
		steps = append(steps, fmt.Sprintf("%s %s (alone %.4f, soup %.4f)", verdict, paths[i], alone[i], rep.ROCAUC))
		e.log.Info().Str("model", paths[i]).Float64("alone_roc_auc", alone[i]).Float64("soup_roc_auc", rep.ROCAUC).
			Bool("kept", w[i] > 0).Msg("greedy soup step")
	}
	return w, steps, nil
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
