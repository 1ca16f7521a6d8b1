package train

import (
	"fmt"
	"maps"
	"strconv"
	"strings"

	"catd/model"
	"catd/optim"
	"catd/safetensors"
)

// A checkpoint is a model file (see package model) with the training state
// added, so that training resumes where it stopped: the optimizer's state
// vectors as tensors named "optim.<name>" (e.g. "optim.momentum.V",
// "optim.adam.v", "optim.adam.s"; "optim.ema" is the moving average of the
// weights and batch-norm statistics when training keeps one), and in the
// metadata
//
//	format      "catd-checkpoint"
//	optimizer   sgd, momentum or adam, with momentum, beta1, beta2, eps
//	optim_t     the optimizer's step count t (Adam's bias correction)
//	step        the trainer's step count (the schedule's position)
//	epoch       epochs completed
//	schedule    the learning-rate schedule, e.g. "exp:0.001", and lr its eta0
//
// The model loader reads a checkpoint as a plain model.

// CheckpointState is the training state a checkpoint holds besides the
// model.
type CheckpointState struct {
	Optim    optim.Config
	OptimT   int64
	Step     int64
	Epoch    int
	Schedule string
	LR       float64
	Vectors  []optim.NamedVector
	// EMA is the moving average of the weights then the batch-norm
	// statistics (nil: none kept).
	EMA []float32
	// Trained is the weights training goes on from, all of the network's
	// parameters, when the checkpoint's model is not them: on-device
	// learning publishes a mix of them and the model it started from
	// (learn.Config.Wise). Nil: the model's own.
	Trained []float32
}

// emaTensor names the weight average's tensor in a checkpoint, and
// trainedTensor the weights training goes on from.
const (
	emaTensor     = "optim.ema"
	trainedTensor = "optim.trained"
)

var checkpointKeys = []string{"optimizer", "momentum", "beta1", "beta2", "eps", "optim_t", "step", "epoch", "schedule", "lr"}

// SaveCheckpoint writes the trainer's network and training state to path
// atomically.
func (t *Trainer) SaveCheckpoint(path string, info model.Info) error {
	md, ts := checkpointParts(t.Net(), info, t.opt, CheckpointState{Step: t.step, Epoch: t.epoch,
		Schedule: t.cfg.Schedule.String(), LR: t.cfg.LR})
	if t.ema != nil {
		avg := append(append(make([]float32, 0, len(t.ema.Params)+len(t.ema.Buffers)), t.ema.Params...), t.ema.Buffers...)
		ts = append(ts, safetensors.FromFloat32(emaTensor, []int{len(avg)}, avg))
	}
	model.Seal(md, ts)
	return safetensors.WriteFile(path, md, ts)
}

// EncodeCheckpoint returns a checkpoint of net and opt as a file's bytes;
// st gives the step, epoch, schedule and lr (its Optim, OptimT and Vectors
// are taken from opt). The daemon checkpoints its on-device learning with
// it.
func EncodeCheckpoint(net *model.Net, info model.Info, opt *optim.Optimizer, st CheckpointState) ([]byte, error) {
	md, ts := checkpointParts(net, info, opt, st)
	model.Seal(md, ts)
	return safetensors.Marshal(md, ts)
}

func checkpointParts(net *model.Net, info model.Info, opt *optim.Optimizer, st CheckpointState) (map[string]string, []safetensors.Tensor) {
	md := net.Metadata(info)
	md["format"] = model.FormatCheckpoint
	c := opt.Config()
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	md["optimizer"] = string(c.Kind)
	md["momentum"], md["beta1"], md["beta2"], md["eps"] = f(c.Momentum), f(c.Beta1), f(c.Beta2), f(c.Eps)
	md["optim_t"] = strconv.FormatInt(opt.T(), 10)
	md["step"] = strconv.FormatInt(st.Step, 10)
	md["epoch"] = strconv.Itoa(st.Epoch)
	md["schedule"] = st.Schedule
	md["lr"] = f(st.LR)
	ts := net.Tensors()
	for _, v := range opt.State() {
		ts = append(ts, safetensors.FromFloat32("optim."+v.Name, []int{len(v.Data)}, v.Data))
	}
	if st.Trained != nil {
		ts = append(ts, safetensors.FromFloat32(trainedTensor, []int{len(st.Trained)}, st.Trained))
	}
	return md, ts
}

// ReadCheckpoint loads a checkpoint: the network (built with opt), its
// Info and the training state. A plain model file is read as a checkpoint
// with no training state (nil).
func ReadCheckpoint(path string, opt model.Options) (*model.Net, model.Info, *CheckpointState, error) {
	f, err := safetensors.ReadFile(path, model.MaxFileBytes)
	if err != nil {
		return nil, model.Info{}, nil, fmt.Errorf("train: %w", err)
	}
	net, info, st, err := fromCheckpoint(f, opt)
	if err != nil {
		return nil, model.Info{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	return net, info, st, nil
}

// DecodeCheckpoint is ReadCheckpoint on a file's bytes.
func DecodeCheckpoint(data []byte, opt model.Options) (*model.Net, model.Info, *CheckpointState, error) {
	f, err := safetensors.Parse(data)
	if err != nil {
		return nil, model.Info{}, nil, fmt.Errorf("train: %w", err)
	}
	return fromCheckpoint(f, opt)
}

func fromCheckpoint(f *safetensors.File, opt model.Options) (*model.Net, model.Info, *CheckpointState, error) {
	net, info, err := model.FromFile(f, opt)
	if err != nil {
		return nil, model.Info{}, nil, err
	}
	if f.Metadata["format"] != model.FormatCheckpoint {
		return net, info, nil, nil
	}
	st, err := parseState(f)
	if err != nil {
		return nil, model.Info{}, nil, err
	}
	info.Extra = maps.Clone(info.Extra)
	for _, k := range checkpointKeys {
		delete(info.Extra, k)
	}
	return net, info, st, nil
}

func parseState(f *safetensors.File) (*CheckpointState, error) {
	md := f.Metadata
	kind, err := optim.ParseKind(md["optimizer"])
	if err != nil {
		return nil, fmt.Errorf("train: checkpoint optimizer: %w", err)
	}
	st := &CheckpointState{Optim: optim.DefaultConfig(kind), Schedule: md["schedule"]}
	for _, p := range []struct {
		key string
		dst *float64
	}{{"momentum", &st.Optim.Momentum}, {"beta1", &st.Optim.Beta1}, {"beta2", &st.Optim.Beta2}, {"eps", &st.Optim.Eps}, {"lr", &st.LR}} {
		if s, ok := md[p.key]; ok {
			if *p.dst, err = strconv.ParseFloat(s, 64); err != nil {
				return nil, fmt.Errorf("train: checkpoint %s %q is not a number", p.key, s)
			}
		}
	}
	if err := st.Optim.Validate(); err != nil {
		return nil, fmt.Errorf("train: checkpoint: %w", err)
	}
	for _, p := range []struct {
		key string
		dst *int64
	}{{"optim_t", &st.OptimT}, {"step", &st.Step}} {
		if *p.dst, err = strconv.ParseInt(md[p.key], 10, 64); err != nil || *p.dst < 0 {
			return nil, fmt.Errorf("train: checkpoint %s %q is not a step count", p.key, md[p.key])
		}
	}
	if st.Epoch, err = strconv.Atoi(md["epoch"]); err != nil || st.Epoch < 0 {
		return nil, fmt.Errorf("train: checkpoint epoch %q is not a count", md["epoch"])
	}
	for _, ts := range f.Tensors {
		if ts.Name == trainedTensor {
			if st.Trained, err = ts.Float32s(); err != nil {
				return nil, fmt.Errorf("train: %w", err)
			}
			continue
		}
		name, ok := strings.CutPrefix(ts.Name, "optim.")
		if !ok {
			continue
		}
		v, err := ts.Float32s()
		if err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
		if ts.Name == emaTensor {
			st.EMA = v
			continue
		}
		st.Vectors = append(st.Vectors, optim.NamedVector{Name: name, Data: v})
	}
	return st, nil
}
