package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"catd/config"
	"catd/learn"
	"catd/model"
	"catd/optim"
)

// benchResult is what "catd bench --json" prints. The timing keys mean
// what they mean in the PyTorch reference benchmark
// (shared/bench/torch_catnet.py): the median over many runs, after warm-up,
// of one batch-1 inference, one SGD-momentum training step (forward,
// backward, update) at batch 1 and 16, and one Adam step at batch 1.
type benchResult struct {
	Model               string   `json:"model"`
	Params              int      `json:"params"`
	MACs                int      `json:"macs"`
	InferB1             float64  `json:"infer_b1_us"`
	TrainSGDMB1         float64  `json:"train_sgdm_b1_us"`
	TrainSGDMB16        float64  `json:"train_sgdm_b16_us"`
	TrainAdamB1         float64  `json:"train_adam_b1_us"`
	InferAllocs         float64  `json:"infer_allocs_per_op"`
	InferInt8B1         *float64 `json:"infer_int8_b1_us,omitempty"`
	InferInt8Allocs     *float64 `json:"infer_int8_allocs_per_op,omitempty"`
	TrainAllocs         float64  `json:"train_allocs_per_op"`
	ParamsBytes         int      `json:"params_bytes"`
	OptimizerStateBytes int      `json:"optimizer_state_bytes"`
	AdamStateBytes      int      `json:"adam_state_bytes"`
	// On-device learning as catd run does it (learn section defaults):
	// the replay buffer full, the optimizer state with its rollback copy,
	// the learner's workspace, and one learning step (batch 16, folded net,
	// gradients two examples at a time).
	LearnReplayBytes         int          `json:"learn_replay_bytes"`
	LearnReplayDiskBytes     int64        `json:"learn_replay_disk_bytes"`
	LearnOptimizerStateBytes int          `json:"learn_optimizer_state_bytes"`
	LearnWorkspaceBytes      int          `json:"learn_workspace_bytes"`
	LearnStepB16             float64      `json:"learn_step_b16_us"`
	WorkspaceBytes           int          `json:"workspace_bytes"`
	WorkspaceB16Bytes        int          `json:"workspace_b16_bytes"`
	GOARCH                   string       `json:"goarch"`
	Layers                   []layerBench `json:"layers"` // the training net's, forward and backward
	// InferLayers is inference's per-layer time, batch 1, batch norms
	// folded (the net catd runs): where the inference time goes.
	InferLayers []layerBench `json:"inference_layers"`
}

type layerBench struct {
	Index      int     `json:"index"`
	Layer      string  `json:"layer"`
	ForwardUS  float64 `json:"forward_us"`
	BackwardUS float64 `json:"backward_us"`
}

func setupBench(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
	name := fs.String("model", defaultArch, "built-in architecture name, architecture description, or model file (default: the architecture of the model catd runs)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	rounds := fs.Int("rounds", 300, "timed runs per measurement (batch 16: a third of them)")
	pipeline := fs.Bool("pipeline", false, "run the daemon's whole pipeline on one core instead (default model: the built-in one)")
	source := fs.String("source", "", "with --pipeline: frame source URI (default: a synthetic 640x480 MJPEG file)")
	duration := fs.Duration("duration", 10*time.Second, "with --pipeline: how long to run after a 1 s warm-up")
	int8 := fs.Bool("int8", false, "also time int8 inference (infer_int8_b1_us): the net quantized on random images; with --pipeline, run the built-in int8 model")
	return func(ctx context.Context, e *env, args []string) error {
		if len(args) > 0 {
			return fmt.Errorf("bench takes no arguments: %w", errUsage)
		}
		if *int8 && *pipeline && fs.Changed("model") {
			return fmt.Errorf("--int8 with --pipeline runs the built-in int8 model, not --model: %w", errUsage)
		}
		if *pipeline {
			if fs.Changed("rounds") {
				return fmt.Errorf("--rounds does not apply to --pipeline (use --duration): %w", errUsage)
			}
			if *duration < 100*time.Millisecond {
				return fmt.Errorf("--duration %v: want at least 100ms: %w", *duration, errUsage)
			}
			opt := pipeOptions{source: *source, duration: *duration, warmup: time.Second, int8: *int8}
			if fs.Changed("model") {
				opt.model = *name
			}
			res, err := benchPipeline(ctx, e, opt)
			if err != nil {
				return err
			}
			if *asJSON {
				return json.NewEncoder(e.stdout).Encode(res)
			}
			return printPipeBench(e, res)
		}
		if fs.Changed("source") || fs.Changed("duration") {
			return fmt.Errorf("--source and --duration need --pipeline: %w", errUsage)
		}
		if *rounds < 1 {
			return fmt.Errorf("--rounds %d: want at least 1: %w", *rounds, errUsage)
		}
		prog := startProgress(e.stderr, "catd bench "+*name)
		res, err := bench(ctx, *name, *rounds, *int8, prog)
		prog.end()
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(e.stdout)
			return enc.Encode(res)
		}
		return printBench(e, res)
	}
}

// loadNet builds a net for benchmarking from a built-in name, an
// architecture description or a model file.
func loadNet(name string, opt model.Options) (*model.Net, string, error) {
	if _, err := os.Stat(name); err == nil {
		n, info, err := model.ReadFile(name, opt)
		if err != nil {
			return nil, "", err
		}
		label := name
		if info.Name != "" {
			label = info.Name + " (" + name + ")"
		}
		return n, label, nil
	}
	a, err := model.ArchByName(name)
	if err != nil {
		return nil, "", err
	}
	n, err := model.New(a, opt)
	if err != nil {
		return nil, "", err
	}
	n.Init(rand.New(rand.NewPCG(1, 2)))
	return n, name, nil
}

// bench times name's inference and training steps, saying on prog (nil:
// nowhere) which it is at.
func bench(ctx context.Context, name string, rounds int, int8 bool, prog *progress) (*benchResult, error) {
	n1, label, err := loadNet(name, model.Options{MaxBatch: 1, Training: true})
	if err != nil {
		return nil, err
	}
	n16, _, err := loadNet(name, model.Options{MaxBatch: 16, Training: true})
	if err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, 16*n1.InputLen())
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	x1 := x[:n1.InputLen()]
	y := slices.Repeat([]float32{1}, 16)
	p := make([]float32, 1)
	res := &benchResult{
		Model: label, Params: len(n1.Params), MACs: n1.Arch.MACs(),
		ParamsBytes: 4 * len(n1.Params), WorkspaceBytes: n1.WorkspaceBytes(), GOARCH: runtime.GOARCH,
	}
	warm := max(1, rounds/10)

	// Inference as catd runs it: batch norms folded into the convolutions.
	inf, err := n1.Folded(model.Options{MaxBatch: 1})
	if err != nil {
		return nil, err
	}
	prog.set("inference, batch 1")
	res.InferB1 = medianUS(warm, rounds, func() { inf.Predict(p, x1) })
	res.InferAllocs = allocsPerOp(rounds, func() { inf.Predict(p, x1) })
	for _, lt := range inf.Profile(x1, nil, rounds) {
		res.InferLayers = append(res.InferLayers, layerBench{Index: lt.Index, Layer: lt.Layer, ForwardUS: us(lt.Forward)})
	}
	if int8 {
		prog.set("int8: quantizing and timing inference")
		if err := benchInt8(res, n1, warm, rounds); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	sgdm := func(n *model.Net, xb []float32) (func(), int) {
		opt, _ := optim.New(optim.DefaultConfig(optim.KindMomentum), len(n.Params))
		return func() {
			n.Gradients(xb, y[:len(xb)/n.InputLen()], nil)
			opt.Step(n.Params, n.Grads, 0.01)
		}, opt.StateBytes()
	}
	prog.set("training step, SGD + momentum, batch 1")
	step1, stateBytes := sgdm(n1, x1)
	res.OptimizerStateBytes = stateBytes
	res.TrainSGDMB1 = medianUS(warm, rounds, step1)
	res.TrainAllocs = allocsPerOp(rounds, step1)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	prog.set("training step, SGD + momentum, batch 16")
	step16, _ := sgdm(n16, x)
	res.TrainSGDMB16 = medianUS(max(1, warm/3), max(1, rounds/3), step16)
	res.WorkspaceB16Bytes = n16.WorkspaceBytes()

	prog.set("training step, Adam, batch 1")
	adam, _ := optim.New(optim.DefaultConfig(optim.KindAdam), len(n1.Params))
	res.AdamStateBytes = adam.StateBytes()
	res.TrainAdamB1 = medianUS(warm, rounds, func() {
		n1.Gradients(x1, y[:1], nil)
		adam.Step(n1.Params, n1.Grads, 1e-3)
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	prog.set("per-layer profile")
	for _, lt := range n1.Profile(x1, y[:1], rounds) {
		res.Layers = append(res.Layers, layerBench{
			Index: lt.Index, Layer: lt.Layer,
			ForwardUS: us(lt.Forward), BackwardUS: us(lt.Backward),
		})
	}
	// Re-measure the net's workspace: the batch-1 training net's buffers.
	res.WorkspaceBytes = n1.WorkspaceBytes()
	prog.set("on-device learning rounds")
	if err := benchLearning(ctx, res, inf, max(1, rounds/30)); err != nil {
		return nil, err
	}
	return res, nil
}

// benchLearning fills in the learning figures for the folded net inf with
// the config's learn defaults.
func benchLearning(ctx context.Context, res *benchResult, inf *model.Net, rounds int) error {
	if inf.Arch.Outputs() != 1 || inf.Arch.C != 3 {
		return nil // a classifier: not a detector the daemon would fine-tune
	}
	c := config.Default().Learn
	a := inf.Arch
	res.LearnReplayBytes = 2 * c.ReplayPerClass * learn.EntryBytes
	res.LearnReplayDiskBytes = int64(2*c.ReplayPerClass) * int64(learn.RecordBytes(a.W, a.H))
	r, _, err := learn.OpenReplay(learn.ReplayOptions{W: a.W, H: a.H})
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 40 {
		ex := learn.Example{Cat: i%2 == 0, Pixels: make([]uint8, a.H*a.W*3)}
		for j := range ex.Pixels {
			ex.Pixels[j] = uint8(rng.IntN(256))
		}
		ex.Hash[0], ex.Hash[31] = byte(i), byte(i*53)
		r.Add(ex)
	}
	info := model.DefaultInfo(a, "")
	l, err := learn.NewLearner(inf, info, r, learn.Config{LR: c.LR, Batch: c.Batch, Steps: 1, Margin: 1e9, AUCMargin: 1})
	if err != nil {
		return err
	}
	res.LearnOptimizerStateBytes, res.LearnWorkspaceBytes = l.Memory()
	times := make([]float64, 0, rounds)
	for range rounds {
		if err := ctx.Err(); err != nil {
			return err
		}
		start := time.Now()
		l.Round(ctx) // one step, plus listing and validating 40 examples
		times = append(times, us(time.Since(start)))
	}
	slices.Sort(times)
	res.LearnStepB16 = times[len(times)/2]
	return nil
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

// medianUS runs f warm times, then times rounds runs and returns the median
// in microseconds, as the PyTorch reference benchmark does.
func medianUS(warm, rounds int, f func()) float64 {
	for range warm {
		f()
	}
	ts := make([]time.Duration, rounds)
	for i := range ts {
		t0 := time.Now()
		f()
		ts[i] = time.Since(t0)
	}
	slices.Sort(ts)
	return us(ts[len(ts)/2])
}

// allocsPerOp counts heap allocations per call of f, like
// testing.AllocsPerRun.
func allocsPerOp(rounds int, f func()) float64 {
	f()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	for range rounds {
		f()
	}
	runtime.ReadMemStats(&b)
	return float64(b.Mallocs-a.Mallocs) / float64(rounds)
}

func printBench(e *env, r *benchResult) error {
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(e.stdout, "model %s: %d parameters, %.2f M multiply-adds per image, %s\n\n", r.Model, r.Params, float64(r.MACs)/1e6, r.GOARCH)
	fmt.Fprintln(w, "inference layer (batch norms folded)\t\tµs\t")
	for _, l := range r.InferLayers {
		fmt.Fprintf(w, "%d\t%s\t%.1f\t\n", l.Index, l.Layer, l.ForwardUS)
	}
	fmt.Fprintln(w, "\t\t\t")
	fmt.Fprintln(w, "training layer\t\tforward µs\tbackward µs\t")
	for _, l := range r.Layers {
		fmt.Fprintf(w, "%d\t%s\t%.1f\t%.1f\t\n", l.Index, l.Layer, l.ForwardUS, l.BackwardUS)
	}
	w.Flush()
	lines := []string{
		fmt.Sprintf("inference, batch 1:          %9.1f µs  (%.0f allocs/op)", r.InferB1, r.InferAllocs),
		fmt.Sprintf("SGD-momentum step, batch 1:  %9.1f µs  (%.0f allocs/op)", r.TrainSGDMB1, r.TrainAllocs),
		fmt.Sprintf("SGD-momentum step, batch 16: %9.1f µs", r.TrainSGDMB16),
		fmt.Sprintf("Adam step, batch 1:          %9.1f µs", r.TrainAdamB1),
		fmt.Sprintf("memory: parameters %d B, momentum state %d B, Adam state %d B, workspace %d B (batch 16: %d B)",
			r.ParamsBytes, r.OptimizerStateBytes, r.AdamStateBytes, r.WorkspaceBytes, r.WorkspaceB16Bytes),
	}
	if r.LearnReplayBytes > 0 {
		lines = append(lines,
			fmt.Sprintf("on-device learning step, batch 16: %9.1f µs (with a round's bookkeeping)", r.LearnStepB16),
			fmt.Sprintf("on-device learning memory: replay %d B (full; its pixels are %d B on disk), optimizer state %d B (with rollback copy), workspace %d B",
				r.LearnReplayBytes, r.LearnReplayDiskBytes, r.LearnOptimizerStateBytes, r.LearnWorkspaceBytes))
	}
	if r.InferInt8B1 != nil {
		lines = slices.Insert(lines, 1, int8Line(r))
	}
	_, err := fmt.Fprintln(e.stdout, "\n"+strings.Join(lines, "\n"))
	return err
}
