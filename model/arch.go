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
)

var kindNames = map[Kind]string{Conv: "conv", ReLU: "relu", MaxPool: "maxpool", GlobalAvgPool: "gap", Flatten: "flatten", Dense: "dense"}

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
// (padding, default 0) optional. Layers are numbered from 0 in order, like
// the modules of a PyTorch nn.Sequential, and a layer's parameters are named
// "<index>.weight" and "<index>.bias" in model files, as in its state_dict.
// The network's output must be one logit per image (the cat score).
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

var named = map[string]string{
	"catnet64": catnet64,
}

// Names lists the built-in architectures.
func Names() []string {
	return []string{"catnet64"}
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
	case "conv":
		l = Layer{Kind: Conv, K: 3, Stride: 1}
		if len(f) < 2 {
			return l, fmt.Errorf("conv needs a channel count")
		}
		var err error
		if l.Out, err = strconv.Atoi(f[1]); err != nil {
			return l, fmt.Errorf("channel count %q is not a number", f[1])
		}
		seen := map[byte]bool{}
		for _, o := range f[2:] {
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
	case "relu", "gap", "flatten":
		if len(f) != 1 {
			return l, fmt.Errorf("%s takes no options", f[0])
		}
		return Layer{Kind: map[string]Kind{"relu": ReLU, "gap": GlobalAvgPool, "flatten": Flatten}[f[0]]}, nil
	}
	return l, fmt.Errorf("unknown layer %q (want conv, relu, maxpool, gap, flatten or dense)", f[0])
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
	if s.len() != 1 {
		return fmt.Errorf("model: network ends in %d values per image, want 1 (the cat logit)", s.len())
	}
	return nil
}

func (l Layer) outShape(s shape) (shape, error) {
	switch l.Kind {
	case Conv:
		switch {
		case s.flat:
			return s, fmt.Errorf("conv after flatten")
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
	case Dense:
		return s.len()*l.Out + l.Out
	}
	return 0
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
		case Dense:
			n += s.len() * l.Out
		}
		s = o
	}
	return n
}
