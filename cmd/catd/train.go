package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"catd/dataset"
	"catd/metrics"
	"catd/model"
	"catd/optim"
	"catd/plot"
	"catd/train"
)

// defaultArch is the architecture of the model built into catd, what
// catd runs by default, and so what bench times and train trains unless
// told otherwise.
const defaultArch = "catsep64"

func setupTrain(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
	data := fs.String("data", "", "training images: a folder (or .tar, or a folder inside a .tar) with cat/ and noncat/ subfolders (required)")
	val := fs.String("val", "", "validation images, laid out like --data; the best epoch by ROC AUC is kept")
	arch := fs.String("arch", defaultArch, "architecture: a built-in name ("+strings.Join(model.Names(), ", ")+") or a description (default: the architecture of the model catd runs)")
	epochs := fs.Int("epochs", 20, "passes over the training set")
	batch := fs.Int("batch", 32, "examples per step (B)")
	mode := fs.String("mode", "minibatch", "sampling: minibatch (shuffled epochs of B), sgd (B uniformly sampled examples per step) or batch (the whole set per step)")
	optName := fs.String("optimizer", "momentum", "sgd, momentum or adam")
	lr := fs.Float64("lr", 0.01, "learning rate eta (eta0 of a schedule)")
	mom := fs.Float64("momentum", 0.9, "momentum beta")
	beta1 := fs.Float64("beta1", 0.9, "Adam beta1")
	beta2 := fs.Float64("beta2", 0.999, "Adam beta2")
	wd := fs.Float64("weight-decay", 0, "L2 weight decay lambda on convolution and dense weights (e.g. 5e-4; 0: none)")
	ema := fs.Float64("ema", 0, "validate and save a moving average of the weights with this decay per step (e.g. 0.999; 0: the weights themselves)")
	wise := fs.Float64("wise", 0, "with --init, validate and save the weights interpolated from the --init model's toward the trained ones by this share (WiSE-FT; e.g. 0.5; 0: the trained weights)")
	schedule := fs.String("schedule", "constant", "learning-rate schedule over steps: constant, piecewise:STEP=LR,... or exp:LAMBDA")
	balance := fs.String("balance", "weight", "class balancing: weight (loss weights), sample (equal draws) or none")
	noAug := fs.Bool("no-augment", false, "train on the images as they are (no crops, flips or colour jitter)")
	minScale := fs.Float64("crop-scale", train.DefaultAugment.MinScale, "smallest random crop, as a fraction of the image area")
	hardNeg := fs.String("hard-negatives", "", "comma-separated image classes (file-name prefixes such as n02085620) of non-cats to weigh more: dogs and other animals a camera confuses with cats")
	hardWeight := fs.Float64("hard-weight", 3, "with --hard-negatives, their loss weight as a multiple of the other non-cats' (the non-cats' total weight stays)")
	cameraAug := fs.Bool("camera-augment", false, "also make images look like camera frames: white balance, grey and night-vision frames, blur, sensor noise, JPEG compression at quality 30-95")
	cameraSpec := fs.String("camera", "", "with --camera-augment, its strengths changed from the defaults, e.g. 'grey=0,wb=0.1' (keys: wb, grey, blur, noise, jpeg, quality, and clean: the share of images left as they are)")
	seed := fs.Uint64("seed", 1, "random seed: the same seed and data give the same model")
	initModel := fs.String("init", "", "start from this model's weights (same architecture)")
	initBackbone := fs.String("init-backbone", "", "start from this model's weights for every layer but the last (e.g. a --pretrain classifier); the last layer starts fresh")
	pretrain := fs.Bool("pretrain", false, "train a classifier over the image classes (file-name prefixes such as n02123045, else folder names) instead of cat/noncat, to use with --init-backbone")
	aux := fs.Float64("aux-classes", 0, "also train outputs for the image classes (as --pretrain names them) on the same features, their loss weighted by this (e.g. 0.5; 0: off); the saved model keeps the cat output only")
	resume := fs.String("resume", "", "continue a run from its checkpoint (weights, optimizer state, step, epoch)")
	out := fs.String("out", "", "where to write the best model (required); the checkpoint goes next to it as NAME.ckpt.safetensors")
	plotPath := fs.String("plot", "", "draw loss and validation metrics per epoch into this PNG")
	workers := fs.Int("workers", 0, "replicas computing gradients in parallel (0: one per core, at most 4)")
	limit := fs.Int("limit", 0, "use at most this many images per class (0: all)")
	return func(ctx context.Context, e *env, args []string) error {
		if len(args) > 0 {
			return fmt.Errorf("train takes flags only, got %q: %w", args, errUsage)
		}
		if *data == "" || *out == "" {
			return fmt.Errorf("train needs --data and --out: %w", errUsage)
		}
		kind, err := optim.ParseKind(*optName)
		if err != nil {
			return err
		}
		ocfg := optim.DefaultConfig(kind)
		ocfg.Momentum, ocfg.Beta1, ocfg.Beta2 = *mom, *beta1, *beta2
		sched, err := optim.ParseSchedule(*schedule, *lr)
		if err != nil {
			return err
		}
		md, err := train.ParseMode(*mode)
		if err != nil {
			return err
		}
		bal, err := train.ParseBalance(*balance)
		if err != nil {
			return err
		}
		aug := train.DefaultAugment
		aug.MinScale = *minScale
		if *cameraAug {
			if aug.Camera, err = train.ParseCamera(*cameraSpec); err != nil {
				return fmt.Errorf("--camera: %w", err)
			}
		} else if *cameraSpec != "" {
			return fmt.Errorf("--camera without --camera-augment: %w", errUsage)
		}
		if *noAug {
			if *cameraAug {
				return fmt.Errorf("--no-augment and --camera-augment contradict each other: %w", errUsage)
			}
			aug = train.NoAugment
		}
		cfg := train.Config{Epochs: *epochs, Batch: *batch, Mode: md, Balance: bal, Optim: ocfg, LR: *lr, WeightDecay: *wd, EMA: *ema,
			Schedule: sched, Augment: aug, Seed: *seed, Workers: *workers, AuxWeight: *aux}
		if *hardNeg != "" {
			cfg.HardNegatives, cfg.HardWeight = strings.Split(*hardNeg, ","), *hardWeight
		}
		if *aux != 0 && *pretrain {
			return fmt.Errorf("--aux-classes is for training a cat detector, not with --pretrain: %w", errUsage)
		}
		if *wise != 0 {
			// The model the weights are interpolated from: --init's, also
			// when the run resumes from a checkpoint.
			if *initModel == "" {
				return fmt.Errorf("--wise needs --init (the model the weights are interpolated from): %w", errUsage)
			}
			if cfg.WiSEFrom, _, _, err = train.ReadCheckpoint(*initModel, model.Options{MaxBatch: 1}); err != nil {
				return fmt.Errorf("--wise: %w", err)
			}
			cfg.WiSE = *wise
		}
		if err := cfg.Validate(); err != nil {
			return err
		}

		// The images first: a classifier's size depends on their classes.
		a, err := model.ArchByName(*arch)
		if err != nil {
			return err
		}
		dopt := dataset.Options{W: a.W, H: a.H, Limit: *limit}
		trainSet, err := loadSet(e, *data, dopt)
		if err != nil {
			return err
		}
		var valSet *dataset.Set
		if *val != "" {
			if valSet, err = loadSet(e, *val, dopt); err != nil {
				return err
			}
		}
		if *pretrain {
			cfg.Classes = classNames(trainSet)
			if a, err = a.WithOutputs(len(cfg.Classes)); err != nil {
				return err
			}
			if valSet != nil {
				valSet = onlyClasses(valSet, cfg.Classes)
			}
			e.log.Info().Int("classes", len(cfg.Classes)).Msg("pretraining a classifier")
		}
		if *aux > 0 {
			cfg.AuxClasses = classNames(trainSet)
			if a, err = a.WithOutputs(1 + len(cfg.AuxClasses)); err != nil {
				return err
			}
			e.log.Info().Int("classes", len(cfg.AuxClasses)).Float64("weight", *aux).Msg("training auxiliary class outputs")
		}

		// The network: fresh, from --init or --init-backbone, or from --resume.
		maxBatch := *batch
		if md == train.Batch {
			maxBatch = 64
		}
		opts := model.Options{MaxBatch: maxBatch, Training: true}
		var (
			net   *model.Net
			info  model.Info
			state *train.CheckpointState
		)
		switch {
		case *resume != "":
			if net, info, state, err = train.ReadCheckpoint(*resume, opts); err != nil {
				return err
			}
			if state == nil {
				return fmt.Errorf("--resume %s: a model file, not a checkpoint (use --init to start from its weights)", *resume)
			}
		case *initModel != "":
			if net, info, _, err = train.ReadCheckpoint(*initModel, opts); err != nil {
				return err
			}
		default:
			if net, err = model.New(a, opts); err != nil {
				return err
			}
			net.Init(rand.New(rand.NewPCG(*seed, 0x5eed)))
			name := ""
			if _, ok := builtinArch(*arch); ok && !*pretrain {
				name = *arch
			}
			info = model.DefaultInfo(a, name)
			if *initBackbone != "" {
				src, srcInfo, _, err := train.ReadCheckpoint(*initBackbone, model.Options{MaxBatch: 1})
				if err != nil {
					return err
				}
				if err := net.CopyBackbone(src); err != nil {
					return fmt.Errorf("--init-backbone %s: %w", *initBackbone, err)
				}
				// The recipe of the weights this run starts from goes
				// into the model it makes, so a model file says how all
				// of it was trained, not only its last stage.
				for _, k := range []string{"train_command", "val_accuracy", "trained_epochs"} {
					if v := srcInfo.Extra[k]; v != "" {
						if info.Extra == nil {
							info.Extra = map[string]string{}
						}
						info.Extra["backbone_"+k] = v
					}
				}
				// Auxiliary class outputs start from the classifier's own
				// when it was pretrained on the same classes.
				if k := len(cfg.AuxClasses); k > 0 && srcInfo.Extra["classes"] == strings.Join(cfg.AuxClasses, ",") {
					if err := net.CopyOutputs(1, src, 0, k); err != nil {
						return fmt.Errorf("--init-backbone %s: %w", *initBackbone, err)
					}
					e.log.Info().Str("from", *initBackbone).Msg("backbone and class outputs loaded; the cat output starts fresh")
				} else {
					e.log.Info().Str("from", *initBackbone).Msg("backbone weights loaded; the last layer starts fresh")
				}
			}
		}
		if net.Arch.W != a.W || net.Arch.H != a.H {
			return fmt.Errorf("the model takes %dx%d images, --arch %dx%d", net.Arch.W, net.Arch.H, a.W, a.H)
		}

		tr, err := train.New(net, info, cfg)
		if err != nil {
			return err
		}
		if state != nil {
			if err := tr.Resume(state); err != nil {
				return fmt.Errorf("--resume %s: %w", *resume, err)
			}
		}
		ckpt := strings.TrimSuffix(*out, ".safetensors") + ".ckpt.safetensors"
		bar := newProgressBar(e.stderr)
		tr.OnProgress = bar.update
		var hist history
		e.log.Info().Str("arch", net.Arch.String()).Int("params", len(net.Params)).Int("train", trainSet.Len()).
			Int("train_cats", trainSet.NumCat()).Str("optimizer", string(kind)).Float64("lr", *lr).Str("schedule", sched.String()).
			Str("mode", md.String()).Int("batch", *batch).Str("balance", balanceLabel(bal, *pretrain)).Str("camera", aug.Camera.String()).Msg("training")
		err = tr.Run(ctx, trainSet, valSet, func(st train.EpochStats) error {
			bar.done()
			logEpoch(e.log, st)
			hist.add(st)
			if st.Best {
				best := info
				best.Extra = cloneExtra(info.Extra)
				if *pretrain {
					best.Extra["classes"] = strings.Join(cfg.Classes, ",")
					if valSet != nil {
						best.Extra["val_accuracy"] = strconv.FormatFloat(st.ValAccuracy, 'f', 4, 64)
					}
				}
				if st.Val != nil {
					best.Threshold = st.Threshold
					recordVal(best.Extra, st.Val)
				}
				best.Extra["trained_epochs"] = strconv.Itoa(st.Epoch)
				best.Extra["train_command"] = commandLine("catd train", fs)
				if err := tr.Detector().WriteFile(*out, best); err != nil {
					return fmt.Errorf("saving the model: %w", err)
				}
				e.log.Info().Str("path", *out).Int("epoch", st.Epoch).Msg("best model saved")
			}
			if err := tr.SaveCheckpoint(ckpt, info); err != nil {
				return fmt.Errorf("saving the checkpoint: %w", err)
			}
			if *plotPath != "" {
				if err := hist.plot(*plotPath); err != nil {
					e.log.Warn().Err(err).Msg("plot not drawn")
				}
			}
			return nil
		})
		bar.done()
		if errors.Is(err, context.Canceled) {
			// Interrupted: keep what the last whole step reached.
			if serr := tr.SaveCheckpoint(ckpt, info); serr != nil {
				return fmt.Errorf("interrupted, and saving the checkpoint failed: %w", serr)
			}
			if _, serr := os.Stat(*out); serr != nil {
				if serr := tr.Detector().WriteFile(*out, info); serr != nil {
					return fmt.Errorf("interrupted, and saving the model failed: %w", serr)
				}
			}
			e.log.Warn().Str("checkpoint", ckpt).Str("model", *out).Int64("step", tr.Step()).
				Msg("interrupted: checkpoint saved; continue with --resume")
			return nil
		}
		return err
	}
}

// balanceLabel is how classes are balanced, for the log: a classifier's
// classes all count once.
// commandLine is the command that sets the flags of fs that were given,
// as a user would type it (flags in name order, values quoted for a
// shell where they need it): the recipe a model file records.
func commandLine(cmd string, fs *pflag.FlagSet) string {
	var b strings.Builder
	b.WriteString(cmd)
	fs.Visit(func(f *pflag.Flag) {
		v := f.Value.String()
		if f.Value.Type() == "bool" {
			if v == "true" {
				fmt.Fprintf(&b, " --%s", f.Name)
			} else {
				fmt.Fprintf(&b, " --%s=%s", f.Name, v)
			}
			return
		}
		if strings.ContainsAny(v, " \t\n'\"$`\\*?[]{}()<>|&;#~") || v == "" {
			v = "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
		}
		fmt.Fprintf(&b, " --%s %s", f.Name, v)
	})
	return b.String()
}

func balanceLabel(b train.Balance, pretrain bool) string {
	if pretrain {
		return "none (classifier)"
	}
	return b.String()
}

// classNames lists the classes of a set, sorted.
func classNames(s *dataset.Set) []string {
	seen := map[string]bool{}
	for _, c := range s.Classes {
		seen[c] = true
	}
	names := make([]string, 0, len(seen))
	for c := range seen {
		names = append(names, c)
	}
	slices.Sort(names)
	return names
}

// onlyClasses keeps the images of s whose class is one of names.
func onlyClasses(s *dataset.Set, names []string) *dataset.Set {
	var idx []int
	for i, c := range s.Classes {
		if _, ok := slices.BinarySearch(names, c); ok {
			idx = append(idx, i)
		}
	}
	return s.Subset(idx)
}

func builtinArch(name string) (string, bool) {
	for _, n := range model.Names() {
		if n == name {
			return n, true
		}
	}
	return "", false
}

func cloneExtra(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+4)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// loadSet loads a labelled set and logs what it skipped.
func loadSet(e *env, path string, opt dataset.Options) (*dataset.Set, error) {
	start := time.Now()
	s, rep, err := dataset.Load(path, opt)
	if err != nil {
		return nil, err
	}
	for name, n := range rep.Ignored {
		e.log.Info().Str("data", path).Str("folder", name).Int("files", n).Msg("folder is not a label (cat/, noncat/): skipped")
	}
	for _, sk := range rep.Skipped {
		e.log.Warn().Str("file", sk.Path).Str("reason", sk.Reason).Msg("image skipped")
	}
	e.log.Info().Str("data", path).Int("images", s.Len()).Int("cats", s.NumCat()).
		Dur("took", time.Since(start)).Msg("images loaded")
	return s, nil
}

func logEpoch(log zerolog.Logger, st train.EpochStats) {
	ev := log.Info().Int("epoch", st.Epoch).Float64("loss", round4(st.TrainLoss)).Float64("lr", st.LR).
		Float64("examples_per_s", float64(int(float64(st.Examples)/st.Duration.Seconds())))
	if st.ValAccuracy > 0 {
		ev = ev.Float64("val_loss", round4(st.ValLoss)).Float64("val_accuracy", round4(st.ValAccuracy))
	}
	if st.Val != nil {
		ev = ev.Float64("val_loss", round4(st.ValLoss)).Float64("roc_auc", round4(st.Val.ROCAUC)).
			Float64("balanced_accuracy", round4(st.Val.BalancedAccuracy)).Float64("precision", round4(st.Val.Precision)).
			Float64("recall", round4(st.Val.Recall)).Float64("threshold", round4(float64(st.Threshold)))
	}
	ev.Bool("best", st.Best).Msg("epoch")
}

func round4(v float64) float64 { return float64(int64(v*1e4+0.5*sign(v))) / 1e4 }

func sign(v float64) float64 {
	if v < 0 {
		return -1
	}
	return 1
}

// history keeps per-epoch figures for the plot.
type history struct {
	epochs             []int
	trainLoss, valLoss []float64
	auc, balAcc, f1    []float64
	acc                []float64 // a classifier's top-1 validation accuracy
}

func (h *history) add(st train.EpochStats) {
	h.epochs = append(h.epochs, st.Epoch)
	h.trainLoss = append(h.trainLoss, st.TrainLoss)
	nan := math.NaN
	switch {
	case st.Val != nil:
		h.valLoss = append(h.valLoss, st.ValLoss)
		h.auc = append(h.auc, st.Val.ROCAUC)
		h.balAcc = append(h.balAcc, st.Val.BalancedAccuracy)
		h.f1 = append(h.f1, st.Val.F1)
	case st.ValAccuracy > 0:
		h.valLoss = append(h.valLoss, st.ValLoss)
		h.acc = append(h.acc, st.ValAccuracy)
	default:
		h.valLoss, h.auc = append(h.valLoss, nan()), append(h.auc, nan())
		h.balAcc, h.f1 = append(h.balAcc, nan()), append(h.f1, nan())
	}
}

func (h *history) plot(path string) error {
	m := map[string][]float64{"roc_auc": h.auc, "balanced_accuracy": h.balAcc, "f1": h.f1}
	if len(h.acc) > 0 {
		m = map[string][]float64{"top1_accuracy": h.acc}
	}
	fig := plot.TrainingCurves(h.epochs, h.trainLoss, h.valLoss, m)
	return fig.WritePNG(path)
}

// progressBar draws one line per epoch that redraws in place on a
// terminal, and prints a plain line every 15 seconds otherwise.
type progressBar struct {
	w     io.Writer
	tty   bool
	last  time.Time
	drawn bool
}

func newProgressBar(w io.Writer) *progressBar {
	f, ok := w.(*os.File)
	return &progressBar{w: w, tty: ok && term.IsTerminal(int(f.Fd()))}
}

func (b *progressBar) update(p train.Progress) {
	now := time.Now()
	if !b.tty && now.Sub(b.last) < 15*time.Second && p.Step != p.Steps {
		return
	}
	if b.tty && now.Sub(b.last) < 100*time.Millisecond && p.Step != p.Steps {
		return
	}
	b.last = now
	rate := float64(p.Examples) / p.Elapsed.Seconds()
	eta := time.Duration(float64(p.Elapsed) / float64(p.Step) * float64(p.Steps-p.Step)).Round(time.Second)
	const width = 30
	fill := width * p.Step / p.Steps
	line := fmt.Sprintf("epoch %d/%d [%s%s] %3d%% %6.0f ex/s loss %.4f ETA %s",
		p.Epoch, p.Epochs, strings.Repeat("=", fill), strings.Repeat(" ", width-fill), 100*p.Step/p.Steps, rate, p.Loss, eta)
	if b.tty {
		fmt.Fprintf(b.w, "\r%s\x1b[K", line)
		b.drawn = true
		return
	}
	fmt.Fprintln(b.w, line)
}

// done ends the bar's line on a terminal.
func (b *progressBar) done() {
	if b.tty && b.drawn {
		fmt.Fprintln(b.w)
		b.drawn = false
	}
}

// recordVal writes a detector's figures on its validation set into a
// model file's metadata (the keys the built-in model's test reads back).
func recordVal(extra map[string]string, rep *metrics.Report) {
	extra["val_roc_auc"] = strconv.FormatFloat(rep.ROCAUC, 'f', 4, 64)
	extra["val_balanced_accuracy"] = strconv.FormatFloat(rep.BalancedAccuracy, 'f', 4, 64)
}
