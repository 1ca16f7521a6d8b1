package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/pflag"

	"catd/dataset"
	"catd/learn"
	"catd/model"
)

// setupImportance is "catd importance": how much each parameter of a
// model matters to its cat detection (the Fisher information, see
// learn.Importance), saved for on-device learning to hold those
// parameters and free the others.
func setupImportance(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
	modelPath := fs.String("model", "", "model file (default: the built-in model)")
	data := fs.String("data", "", "labelled images the model was trained on: a folder (or .tar, or a folder inside one) with cat/ and noncat/ (required)")
	perClass := fs.Int("per-class", 1000, "images of each class to measure on: a fixed spread of the folder's (the same each run)")
	out := fs.String("out", "", "where to write the importance file (required); catd run uses MODEL.importance.safetensors next to a model file")
	return func(ctx context.Context, e *env, args []string) error {
		if len(args) > 0 {
			return fmt.Errorf("%w: unexpected arguments %q", errUsage, args)
		}
		if *data == "" || *out == "" {
			return fmt.Errorf("%w: --data and --out are required", errUsage)
		}
		if *perClass < 1 {
			return fmt.Errorf("%w: --per-class must be at least 1", errUsage)
		}
		net, info, name, err := loadModel(*modelPath, model.Options{MaxBatch: 1})
		if err != nil {
			return err
		}
		set, report, err := dataset.Load(*data, dataset.Options{W: net.Arch.W, H: net.Arch.H, Limit: *perClass})
		if err != nil {
			return err
		}
		for _, s := range report.Skipped {
			e.log.Warn().Str("file", s.Path).Str("reason", s.Reason).Msg("image skipped")
		}
		fisher, err := learn.Importance(net, info, set, *perClass, 1)
		if err != nil {
			return err
		}
		cats := 0
		for _, c := range set.Labels {
			if c {
				cats++
			}
		}
		md := map[string]string{"model": name, "data": *data, "images": strconv.Itoa(set.Len()),
			"cats": strconv.Itoa(cats), "per_class": strconv.Itoa(*perClass)}
		if err := learn.WriteImportance(*out, net, fisher, md); err != nil {
			return err
		}
		e.log.Info().Str("model", name).Int("images", set.Len()).Int("cats", cats).Str("out", *out).Msg("importance written")
		return nil
	}
}
