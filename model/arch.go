package model

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind is the kind of one layer of an architecture.
type Kind int

// The layer kinds. Their names in an architecture description follow the
// PyTorch modules they mirror: conv is Conv2d, maxpool MaxPool2d(2), gap
// AdaptiveAvgPool2d(1), flatten Flatten and dense Linear.
const (
	Conv Kind = iota + 1
	ReLU
	MaxPool
	GlobalAvgPool
	Flatten
	Dense
	DWConv    // depthwise convolution: Conv2d(C, C, k, groups=C)
	BatchNorm // BatchNorm2d over the channels
)

var kindNames = map[Kind]string{Conv: "conv", ReLU: "relu", MaxPool: "maxpool", GlobalAvgPool: "gap", Flatten: "flatten",
	Dense: "dense", DWConv: "dwconv", BatchNorm: "bn"}

func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Layer is one layer of an architecture. Out is the number of output
// channels (conv) or features (dense); K, Stride and Pad describe a conv
// kernel. Other kinds use none of them.
type Layer struct {
	Kind           Kind
	Out            int
	K, Stride, Pad int
}

// Arch describes a sequential network: an input of C channels of H×W
// pixels, then layers in order. Its text form, which model files carry in
// their metadata, is
//
//	input 3x64x64; conv 8 k3 s1 p1; relu; maxpool 2; ...; gap; flatten; dense 1
//
// with conv's k (kernel size, default 3), s (stride, default 1) and p
// (padding, default 0) optional. "dwconv k3 s2 p1" is a depthwise
// convolution (one k×k kernel per channel, PyTorch's groups=C) and "bn" a
// batch normalisation (BatchNorm2d, eps 1e-5, momentum 0.1). Layers are
// numbered from 0 in order, like the modules of a PyTorch nn.Sequential, and
// a layer's parameters are named "<index>.weight" and "<index>.bias" in
// model files, as in its state_dict (batch norm adds "<index>.running_mean"
// and "<index>.running_var").
//
// A cat detector ends in one logit per image (the cat score); a network
// ending in K > 1 outputs is a K-class classifier, used for pretraining.
type Arch struct {
	C, H, W int
	Layers  []Layer
}

// Limits on architectures, so that a hostile model file cannot make catd
// allocate without bound.
const (
	maxDim      = 1024
	maxChannels = 4096
	maxLayers   = 128
	maxParams   = 50 << 20
	maxActivity = 64 << 20 // floats in one layer's output for one image
)

// catnet64 is the reference architecture that catd benchmarks against
// PyTorch: 24,593 parameters, about 4.4 M multiply-adds per image.
const catnet64 = "input 3x64x64; conv 8 k3 s1 p1; relu; maxpool 2; conv 16 k3 s1 p1; relu; maxpool 2; " +
	"conv 32 k3 s1 p1; relu; maxpool 2; conv 64 k3 s1 p1; relu; gap; flatten; dense 1"

// catsep64 is catd's default detector: a MobileNet-style stack of
// depthwise-separable blocks (a 3×3 depthwise convolution, then a 1×1
// convolution mixing channels, each followed by batch norm and ReLU),
// halving the resolution and doubling the channels four times. About 18 M
// multiply-adds per 64×64 image: within a Raspberry Pi 4's budget at
// 10 frames/s, with far more capacity than catnet64.
var catsep64 = "input 3x64x64; conv 24 k3 s1 p1; bn; relu; " +
	sepBlock(48, 2) + sepBlock(48, 1) + sepBlock(96, 2) + sepBlock(96, 1) +
	sepBlock(192, 2) + sepBlock(192, 1) + sepBlock(384, 2) + sepBlock(384, 1) +
	"gap; flatten; dense 1"

func sepBlock(out, stride int) string {
	return fmt.Sprintf("dwconv k3 s%d p1; bn; relu; conv %d k1 s1 p0; bn; relu; ", stride, out)
}

var named = map[string]string{
	"catnet64": catnet64,
	"catsep64": catsep64,
}

// Names lists the built-in architectures.
func Names() []string {
	return []string{"catnet64", "catsep64"}
}

// ArchByName returns a built-in architecture by name, or parses s as an
// architecture description if it is not a name.
func ArchByName(s string) (Arch, error) {
	if spec, ok := named[s]; ok {
		return ParseArch(spec)
	}
	if !strings.Contains(s, ";") {
		return Arch{}, fmt.Errorf("model: unknown architecture %q (built in: %s)", s, strings.Join(Names(), ", "))
	}
	return ParseArch(s)
}

// ParseArch parses and validates an architecture description (see Arch).
func ParseArch(s string) (Arch, error) {
	var a Arch
	parts := strings.Split(s, ";")
	if len(parts) > maxLayers+1 {
		return Arch{}, fmt.Errorf("model: architecture has %d layers, more than %d", len(parts)-1, maxLayers)
	}
	for i, part := range parts {
		f := strings.Fields(part)
		if i == 0 {
			if len(f) != 2 || f[0] != "input" {
				return Arch{}, fmt.Errorf("model: architecture must start with \"input CxHxW\", got %q", strings.TrimSpace(part))
			}
			dims := strings.Split(f[1], "x")
			if len(dims) != 3 {
				return Arch{}, fmt.Errorf("model: input %q is not CxHxW", f[1])
			}
			var err error
			for j, p := range []*int{&a.C, &a.H, &a.W} {
				if *p, err = strconv.Atoi(dims[j]); err != nil {
					return Arch{}, fmt.Errorf("model: input %q is not CxHxW", f[1])
				}
			}
			continue
		}
		if len(f) == 0 {
			if i == len(parts)-1 {
				continue // a trailing ";"
			}
			return Arch{}, fmt.Errorf("model: layer %d is empty", i-1)
		}
		l, err := parseLayer(f)
		if err != nil {
			return Arch{}, fmt.Errorf("model: layer %d %q: %w", i-1, strings.TrimSpace(part), err)
		}
		a.Layers = append(a.Layers, l)
	}
	if err := a.Validate(); err != nil {
		return Arch{}, err
	}
	return a, nil
}

func parseLayer(f []string) (Layer, error) {
	var l Layer
	switch f[0] {
	case "conv", "dwconv":
		l = Layer{Kind: Conv, K: 3, Stride: 1}
		opts := f[1:]
		if f[0] == "dwconv" {
			l.Kind = DWConv
		} else {
			if len(f) < 2 {
				return l, fmt.Errorf("conv needs a channel count")
			}
			var err error
			if l.Out, err = strconv.Atoi(f[1]); err != nil {
				return l, fmt.Errorf("channel count %q is not a number", f[1])
			}
			opts = f[2:]
		}
		seen := map[byte]bool{}
		for _, o := range opts {
			if len(o) < 2 || !strings.Contains("ksp", o[:1]) || seen[o[0]] {
				return l, fmt.Errorf("unknown or repeated option %q (want k<size>, s<stride>, p<pad>)", o)
			}
			seen[o[0]] = true
			v, err := strconv.Atoi(o[1:])
			if err != nil {
				return l, fmt.Errorf("option %q is not a number", o)
			}
			switch o[0] {
			case 'k':
				l.K = v
			case 's':
				l.Stride = v
			case 'p':
				l.Pad = v
			}
		}
		return l, nil
	case "dense":
		if len(f) != 2 {
			return l, fmt.Errorf("dense needs exactly one feature count")
		}
		n, err := strconv.Atoi(f[1])
		if err != nil {
			return l, fmt.Errorf("feature count %q is not a number", f[1])
		}
		return Layer{Kind: Dense, Out: n}, nil
	case "maxpool":
		if len(f) != 2 || f[1] != "2" {
			return l, fmt.Errorf("only \"maxpool 2\" (2x2, stride 2) is supported")
		}
		return Layer{Kind: MaxPool}, nil
	case "relu", "gap", "flatten", "bn":
		if len(f) != 1 {
			return l, fmt.Errorf("%s takes no options", f[0])
		}
		return Layer{Kind: map[string]Kind{"relu": ReLU, "gap": GlobalAvgPool, "flatten": Flatten, "bn": BatchNorm}[f[0]]}, nil
	}
	return l, fmt.Errorf("unknown layer %q (want conv, dwconv, bn, relu, maxpool, gap, flatten or dense)", f[0])
}

// String returns the text form of a, which ParseArch reads back.
func (a Arch) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "input %dx%dx%d", a.C, a.H, a.W)
	for _, l := range a.Layers {
		b.WriteString("; ")
		b.WriteString(l.String())
	}
	return b.String()
}

// String returns the text form of one layer, e.g. "conv 8 k3 s1 p1".
func (l Layer) String() string {
	switch l.Kind {
	case Conv:
		return fmt.Sprintf("conv %d k%d s%d p%d", l.Out, l.K, l.Stride, l.Pad)
	case DWConv:
		return fmt.Sprintf("dwconv k%d s%d p%d", l.K, l.Stride, l.Pad)
	case Dense:
		return fmt.Sprintf("dense %d", l.Out)
	case MaxPool:
		return "maxpool 2"
	}
	return l.Kind.String()
}

// shape is the shape of one image's activations between layers.
type shape struct {
	h, w, c int
	flat    bool // after flatten: a vector of h*w*c features in NHWC order
}

func (s shape) len() int { return s.h * s.w * s.c }

// Validate checks that the layers fit together and stay within catd's
// limits, naming the first layer that does not.
func (a Arch) Validate() error {
	if a.C < 1 || a.H < 1 || a.W < 1 || a.C > maxChannels || a.H > maxDim || a.W > maxDim {
		return fmt.Errorf("model: input %dx%dx%d out of range (1..%d channels, 1..%d pixels)", a.C, a.H, a.W, maxChannels, maxDim)
	}
	if len(a.Layers) == 0 || len(a.Layers) > maxLayers {
		return fmt.Errorf("model: architecture has %d layers, want 1..%d", len(a.Layers), maxLayers)
	}
	s := shape{h: a.H, w: a.W, c: a.C}
	params := 0
	for i, l := range a.Layers {
		in := s
		var err error
		s, err = l.outShape(s)
		if err != nil {
			return fmt.Errorf("model: layer %d (%s) on %dx%dx%d: %w", i, l.Kind, in.c, in.h, in.w, err)
		}
		if s.len() > maxActivity {
			return fmt.Errorf("model: layer %d (%s) output of %d values is too large", i, l.Kind, s.len())
		}
		params += l.paramLen(in)
		if params > maxParams {
			return fmt.Errorf("model: more than %d parameters by layer %d", maxParams, i)
		}
	}
	if !s.flat && s.len() != 1 {
		return fmt.Errorf("model: network ends in a %dx%dx%d map, want logits (end with flatten and dense)", s.c, s.h, s.w)
	}
	return nil
}

// WithOutputs returns a copy of a whose final dense layer has k outputs:
// the same backbone as a classifier of k classes (or, k = 1, as a cat
// detector).
func (a Arch) WithOutputs(k int) (Arch, error) {
	if len(a.Layers) == 0 || a.Layers[len(a.Layers)-1].Kind != Dense {
		return Arch{}, fmt.Errorf("model: architecture %q does not end in a dense layer", a)
	}
	b := a
	b.Layers = append([]Layer(nil), a.Layers...)
	b.Layers[len(b.Layers)-1].Out = k
	return b, b.Validate()
}

// Outputs is the number of logits per image: 1 for a cat detector, the
// number of classes for a classifier.
func (a Arch) Outputs() int {
	s := shape{h: a.H, w: a.W, c: a.C}
	for _, l := range a.Layers {
		s, _ = l.outShape(s)
	}
	return s.len()
}

func (l Layer) outShape(s shape) (shape, error) {
	switch l.Kind {
	case Conv, DWConv:
		if l.Kind == DWConv {
			l.Out = s.c
		}
		switch {
		case s.flat:
			return s, fmt.Errorf("convolution after flatten")
		case l.Out < 1 || l.Out > maxChannels:
			return s, fmt.Errorf("%d output channels, want 1..%d", l.Out, maxChannels)
		case l.K < 1 || l.K > 15:
			return s, fmt.Errorf("kernel size %d, want 1..15", l.K)
		case l.Stride < 1 || l.Stride > 8:
			return s, fmt.Errorf("stride %d, want 1..8", l.Stride)
		case l.Pad < 0 || l.Pad >= l.K:
			return s, fmt.Errorf("padding %d, want 0..kernel size-1", l.Pad)
		case s.h+2*l.Pad < l.K || s.w+2*l.Pad < l.K:
			return s, fmt.Errorf("kernel %d larger than padded input", l.K)
		}
		return shape{h: (s.h+2*l.Pad-l.K)/l.Stride + 1, w: (s.w+2*l.Pad-l.K)/l.Stride + 1, c: l.Out}, nil
	case ReLU:
		return s, nil
	case BatchNorm:
		if s.flat {
			return s, fmt.Errorf("batch norm after flatten")
		}
		return s, nil
	case MaxPool:
		if s.flat || s.h < 2 || s.w < 2 {
			return s, fmt.Errorf("max pooling needs an image of at least 2x2")
		}
		return shape{h: s.h / 2, w: s.w / 2, c: s.c}, nil
	case GlobalAvgPool:
		if s.flat {
			return s, fmt.Errorf("average pooling after flatten")
		}
		return shape{h: 1, w: 1, c: s.c}, nil
	case Flatten:
		s.flat = true
		return s, nil
	case Dense:
		switch {
		case !s.flat:
			return s, fmt.Errorf("dense needs flatten before it")
		case l.Out < 1 || l.Out > maxChannels:
			return s, fmt.Errorf("%d output features, want 1..%d", l.Out, maxChannels)
		}
		return shape{h: 1, w: 1, c: l.Out, flat: true}, nil
	}
	return s, fmt.Errorf("unknown layer kind %d", int(l.Kind))
}

// paramLen is the number of weights and biases of l on an input of shape s.
func (l Layer) paramLen(s shape) int {
	switch l.Kind {
	case Conv:
		return l.K*l.K*s.c*l.Out + l.Out
	case DWConv:
		return l.K*l.K*s.c + s.c
	case BatchNorm:
		return 2 * s.c
	case Dense:
		return s.len()*l.Out + l.Out
	}
	return 0
}

// bufferCount is the number of non-trained values (batch-norm running
// statistics) of a valid architecture.
func (a Arch) bufferCount() int {
	s := shape{h: a.H, w: a.W, c: a.C}
	n := 0
	for _, l := range a.Layers {
		if l.Kind == BatchNorm {
			n += 2 * s.c
		}
		s, _ = l.outShape(s)
	}
	return n
}

// ParamCount is the number of trainable parameters of a valid architecture.
func (a Arch) ParamCount() int {
	s := shape{h: a.H, w: a.W, c: a.C}
	n := 0
	for _, l := range a.Layers {
		n += l.paramLen(s)
		s, _ = l.outShape(s)
	}
	return n
}

// MACs is the number of multiply-adds of one forward pass for one image.
func (a Arch) MACs() int {
	s := shape{h: a.H, w: a.W, c: a.C}
	n := 0
	for _, l := range a.Layers {
		o, _ := l.outShape(s)
		switch l.Kind {
		case Conv:
			n += o.h * o.w * o.c * l.K * l.K * s.c
		case DWConv:
			n += o.h * o.w * o.c * l.K * l.K
		case Dense:
			n += s.len() * l.Out
		}
		s = o
	}
	return n
}
