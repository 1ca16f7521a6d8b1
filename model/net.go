package model

import (
	"fmt"
	"math"
	"math/rand/v2"

	"catd/conv"
)

// Options size a Net's buffers once, at construction.
type Options struct {
	// MaxBatch is the largest number of images one Forward call takes.
	MaxBatch int
	// Training allocates gradients and backward buffers; without it the
	// net only infers.
	Training bool
}

// Net is a sequential CNN built from an Arch. All parameters live in one
// flat slice, Params, and their gradients in Grads (nil unless built for
// training), so an optimizer updates them in one pass. Every buffer is
// allocated by New: Forward, Backward and Gradients allocate nothing.
//
// A Net is not safe for concurrent use; Forward's result and its saved
// activations are overwritten by the next call.
type Net struct {
	Arch   Arch
	Params []float32
	Grads  []float32

	maxBatch int
	layers   []layer
	input    []float32   // the batch Forward last saw (the caller's slice)
	acts     [][]float32 // acts[i]: output of layer i, maxBatch images
	work     []float32
	gbuf     [2][]float32 // activation gradients, ping-pong
	dlogits  []float32
}

// layer is one layer with its geometry and its views into Params/Grads.
type layer struct {
	Layer
	in, out shape
	conv    conv.Conv2D
	dense   conv.Dense
	w, b    []float32
	gw, gb  []float32
	wOff    int // offset of w in Params
}

// New builds a network for architecture a, which must be valid. Parameters
// start at zero: call Init or load weights.
func New(a Arch, opt Options) (*Net, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	if opt.MaxBatch < 1 || opt.MaxBatch > 4096 {
		return nil, fmt.Errorf("model: batch size %d, want 1..4096", opt.MaxBatch)
	}
	n := &Net{Arch: a, maxBatch: opt.MaxBatch, Params: make([]float32, a.ParamCount())}
	if opt.Training {
		n.Grads = make([]float32, len(n.Params))
		n.dlogits = make([]float32, opt.MaxBatch)
	}
	s := shape{h: a.H, w: a.W, c: a.C}
	off, work, maxAct := 0, 0, s.len()
	var prev []float32
	for i, l := range a.Layers {
		o, _ := l.outShape(s)
		ly := layer{Layer: l, in: s, out: o}
		switch l.Kind {
		case Conv:
			c, err := conv.NewConv2D(s.h, s.w, s.c, l.Out, l.K, l.Stride, l.Pad)
			if err != nil {
				return nil, fmt.Errorf("model: layer %d: %w", i, err)
			}
			ly.conv = c
			work = max(work, c.WorkLen())
		case Dense:
			ly.dense = conv.Dense{In: s.len(), Out: l.Out}
			work = max(work, ly.dense.WorkLen())
		}
		if pl := l.paramLen(s); pl > 0 {
			nb := l.Out
			ly.wOff = off
			ly.w, ly.b = n.Params[off:off+pl-nb:off+pl-nb], n.Params[off+pl-nb:off+pl:off+pl]
			if opt.Training {
				ly.gw, ly.gb = n.Grads[off:off+pl-nb:off+pl-nb], n.Grads[off+pl-nb:off+pl:off+pl]
			}
			off += pl
		}
		var buf []float32
		if (l.Kind == ReLU || l.Kind == Flatten) && prev != nil {
			buf = prev // in place: ReLU's backward needs only its output
		} else {
			buf = make([]float32, opt.MaxBatch*o.len())
		}
		n.acts = append(n.acts, buf)
		n.layers = append(n.layers, ly)
		prev = buf
		maxAct = max(maxAct, o.len())
		s = o
	}
	n.work = make([]float32, work)
	if opt.Training {
		for i := range n.gbuf {
			n.gbuf[i] = make([]float32, opt.MaxBatch*maxAct)
		}
	}
	return n, nil
}

// MaxBatch is the largest batch Forward accepts.
func (n *Net) MaxBatch() int { return n.maxBatch }

// InputLen is the number of floats in one input image (H*W*C, NHWC).
func (n *Net) InputLen() int { return n.Arch.C * n.Arch.H * n.Arch.W }

// WorkspaceBytes is the memory of the activation, gradient and scratch
// buffers (everything but parameters and their gradients), in bytes.
func (n *Net) WorkspaceBytes() int {
	b := len(n.work) + len(n.gbuf[0]) + len(n.gbuf[1]) + len(n.dlogits)
	for i, a := range n.acts {
		if i == 0 || &a[0] != &n.acts[i-1][0] {
			b += len(a)
		}
	}
	return 4 * b
}

// Init sets the weights to He-normal values (standard deviation
// sqrt(2/fan_in), suited to ReLU networks) drawn from r, and the biases to 0.
func (n *Net) Init(r *rand.Rand) {
	for _, l := range n.layers {
		if l.w == nil {
			continue
		}
		fanIn := len(l.w) / l.Out
		std := math.Sqrt(2 / float64(fanIn))
		for i := range l.w {
			l.w[i] = float32(r.NormFloat64() * std)
		}
		clear(l.b)
	}
}

func (n *Net) batch(x []float32) int {
	in := n.InputLen()
	if len(x) == 0 || len(x)%in != 0 || len(x)/in > n.maxBatch {
		panic(fmt.Sprintf("model: input length %d is not 1..%d whole images of %d floats", len(x), n.maxBatch, in))
	}
	return len(x) / in
}

// Forward runs the network on a batch of NHWC images (normalised as the
// model expects) and returns one logit per image. The result is a view into
// the Net, valid until the next call; x must stay unchanged until Backward.
func (n *Net) Forward(x []float32) []float32 {
	b := n.batch(x)
	n.input = x
	cur := x
	for i := range n.layers {
		cur = n.forwardLayer(i, b, cur)
	}
	return cur
}

// forwardLayer runs layer i on b images in cur and returns its output.
func (n *Net) forwardLayer(i, b int, cur []float32) []float32 {
	l := &n.layers[i]
	out := n.acts[i][:b*l.out.len()]
	switch l.Kind {
	case Conv:
		l.conv.Forward(out, cur, l.w, l.b, n.work)
	case ReLU:
		conv.ReLU(out, cur)
	case MaxPool:
		conv.MaxPool2{H: l.in.h, W: l.in.w, C: l.in.c}.Forward(out, cur)
	case GlobalAvgPool:
		conv.GlobalAvgPool{H: l.in.h, W: l.in.w, C: l.in.c}.Forward(out, cur)
	case Flatten:
		copy(out, cur) // the same buffer unless flatten comes first
	case Dense:
		l.dense.Forward(out, cur, l.w, l.b)
	}
	return out
}

// Predict writes p(cat) = sigmoid(logit) for each image of x into dst.
func (n *Net) Predict(dst, x []float32) {
	z := n.Forward(x)
	if len(dst) != len(z) {
		panic(fmt.Sprintf("model: Predict destination has length %d, want %d", len(dst), len(z)))
	}
	for i, v := range z {
		dst[i] = Sigmoid(v)
	}
}

// Backward adds to Grads the gradient of a loss whose gradient with respect
// to the logits of the last Forward is dlogits. The Net must be built with
// Training.
func (n *Net) Backward(dlogits []float32) {
	if n.Grads == nil {
		panic("model: Backward on a net built without Training")
	}
	b := len(n.input) / n.InputLen()
	if len(dlogits) != b {
		panic(fmt.Sprintf("model: %d logit gradients for a batch of %d", len(dlogits), b))
	}
	cur := 0
	g := n.gbuf[cur][:b]
	copy(g, dlogits)
	for i := len(n.layers) - 1; i >= 0; i-- {
		var done bool
		g, done = n.backwardLayer(i, b, g, &cur)
		if done {
			return
		}
	}
}

// backwardLayer takes the gradient g of layer i's output for b images and
// returns the gradient of its input, in the other ping-pong buffer (cur
// says which holds g) or in place. done reports that no earlier layer needs
// a gradient.
func (n *Net) backwardLayer(i, b int, g []float32, cur *int) (gin []float32, done bool) {
	l := &n.layers[i]
	src := n.input
	if i > 0 {
		src = n.acts[i-1][:b*l.in.len()]
		gin = n.gbuf[1-*cur][:b*l.in.len()]
	}
	switch l.Kind {
	case Conv:
		l.conv.Backward(gin, l.gw, l.gb, src, l.w, g, n.work)
	case Dense:
		l.dense.Backward(gin, l.gw, l.gb, src, l.w, g, n.work)
	case ReLU:
		conv.ReLUBackward(g, g, n.acts[i][:len(g)])
		return g, i == 0 // in place
	case Flatten:
		return g, i == 0
	case MaxPool:
		if gin != nil {
			conv.MaxPool2{H: l.in.h, W: l.in.w, C: l.in.c}.Backward(gin, g, src)
		}
	case GlobalAvgPool:
		if gin != nil {
			conv.GlobalAvgPool{H: l.in.h, W: l.in.w, C: l.in.c}.Backward(gin, g)
		}
	}
	if gin == nil {
		return nil, true
	}
	*cur = 1 - *cur
	return gin, false
}

// Gradients sets Grads to the gradient of the weighted binary cross-entropy
// of the batch x with labels y (see BCEWithLogits; w may be nil) and returns
// the loss. It is one training step without the update.
func (n *Net) Gradients(x, y, w []float32) float32 {
	clear(n.Grads)
	z := n.Forward(x)
	dz := n.dlogits[:len(z)]
	loss := BCEWithLogits(dz, z, y, w)
	n.Backward(dz)
	return loss
}

// Sigmoid is the logistic function 1/(1+e^-z), computed without overflow.
func Sigmoid(z float32) float32 {
	if z >= 0 {
		return float32(1 / (1 + math.Exp(-float64(z))))
	}
	e := math.Exp(float64(z))
	return float32(e / (1 + e))
}

// BCEWithLogits returns the binary cross-entropy of logits z against labels
// y (1 cat, 0 no cat; soft labels in between work too), each example
// weighted by w[i] (nil: all 1):
//
//	L = Σ w_i l_i / Σ w_i,  l_i = max(z_i,0) - z_i*y_i + log(1+e^-|z_i|)
//
// which is log(1+e^-z) for a cat without overflow for any z, and writes
// dL/dz_i = w_i (sigmoid(z_i) - y_i) / Σ w into dz. The sums run in float64.
func BCEWithLogits(dz, z, y, w []float32) float32 {
	if len(dz) != len(z) || len(y) != len(z) || (w != nil && len(w) != len(z)) {
		panic(fmt.Sprintf("model: BCEWithLogits lengths dz %d, z %d, y %d, w %d", len(dz), len(z), len(y), len(w)))
	}
	sumW, sumL := 0.0, 0.0
	for i, zi := range z {
		wi := 1.0
		if w != nil {
			wi = float64(w[i])
		}
		zf, yf := float64(zi), float64(y[i])
		sumL += wi * (max(zf, 0) - zf*yf + math.Log1p(math.Exp(-math.Abs(zf))))
		sumW += wi
	}
	if sumW <= 0 {
		panic("model: BCEWithLogits weights sum to zero or less")
	}
	for i, zi := range z {
		wi := float32(1)
		if w != nil {
			wi = w[i]
		}
		dz[i] = float32(float64(wi) * (float64(Sigmoid(zi)) - float64(y[i])) / sumW)
	}
	return float32(sumL / sumW)
}
