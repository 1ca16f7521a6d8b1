package model

import (
	"errors"
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
	// WeightsOnly allocates the parameters and batch-norm statistics but
	// no activations: the net can be loaded, saved, copied and folded, not
	// run (Forward panics). For a copy kept only to be saved.
	WeightsOnly bool
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
	// Buffers holds state that is not trained by gradients: the running
	// means and variances of the batch-norm layers.
	Buffers []float32

	maxBatch int
	outputs  int // logits per image, Arch.Outputs()
	layers   []layer
	input    []float32   // the batch Forward last saw (the caller's slice)
	acts     [][]float32 // acts[i]: output of layer i, maxBatch images
	work     []float32
	gbuf     [2][]float32 // activation gradients, ping-pong
	dlogits  []float32

	// convPerImage runs the convolutions of a training step image by
	// image (Conv2D.Forward and Backward) instead of batched
	// (ForwardBatch and BackwardBatch): the step as it was before
	// batching, which tests hold the batched one to.
	convPerImage bool
}

// layer is one layer with its geometry and its views into Params/Grads.
type layer struct {
	Layer
	in, out shape
	conv    conv.Conv2D
	dw      conv.DepthwiseConv2D
	bn      conv.BatchNorm
	dense   conv.Dense
	w, b    []float32 // weights and biases (batch norm: gamma and beta)
	gw, gb  []float32
	wOff    int // offset of w in Params

	// reluNext marks a conv, dwconv or batch norm whose ReLU, the next
	// layer, it applies itself as it writes its output (their buffers are
	// one, since ReLU runs in place); reluDone marks that ReLU, which then
	// has nothing left to do forward. A batch norm also takes the ReLU's
	// backward pass into its own (BackwardReLU in training), as does a max
	// pool after a ReLU (reluPrev); gradDone marks such a ReLU, whose
	// backward pass is then nothing either.
	reluNext, reluDone, gradDone, reluPrev bool

	// Batch norm: running statistics (views into Buffers) and the batch
	// statistics saved by a training forward pass for backward.
	runMean, runVar      []float32
	saveMean, saveInvStd []float32
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
	if opt.WeightsOnly && opt.Training {
		return nil, errors.New("model: a weights-only net cannot train")
	}
	n := &Net{Arch: a, maxBatch: opt.MaxBatch, outputs: a.Outputs(), Params: make([]float32, a.ParamCount()), Buffers: make([]float32, a.bufferCount())}
	if opt.Training {
		n.Grads = make([]float32, len(n.Params))
		n.dlogits = make([]float32, opt.MaxBatch*n.outputs)
	}
	boff := 0
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
			if opt.Training {
				work = max(work, c.WorkLen(), c.BatchWorkLen(1))
			} else {
				work = max(work, c.ForwardWorkLen())
			}
		case DWConv:
			d, err := conv.NewDepthwiseConv2D(s.h, s.w, s.c, l.K, l.Stride, l.Pad)
			if err != nil {
				return nil, fmt.Errorf("model: layer %d: %w", i, err)
			}
			ly.dw = d
		case BatchNorm:
			ly.bn = conv.NewBatchNorm(s.c)
			ly.runMean, ly.runVar = n.Buffers[boff:boff+s.c:boff+s.c], n.Buffers[boff+s.c:boff+2*s.c:boff+2*s.c]
			for j := range ly.runVar {
				ly.runVar[j] = 1 // PyTorch's initial running variance
			}
			boff += 2 * s.c
			ly.saveMean, ly.saveInvStd = make([]float32, s.c), make([]float32, s.c)
			if opt.Training {
				work = max(work, ly.bn.WorkLen())
			}
		case Dense:
			ly.dense = conv.Dense{In: s.len(), Out: l.Out}
			work = max(work, ly.dense.WorkLen())
		}
		if pl := l.paramLen(s); pl > 0 {
			nb := o.c // biases: one per output channel or feature
			ly.wOff = off
			ly.w, ly.b = n.Params[off:off+pl-nb:off+pl-nb], n.Params[off+pl-nb:off+pl:off+pl]
			if opt.Training {
				ly.gw, ly.gb = n.Grads[off:off+pl-nb:off+pl-nb], n.Grads[off+pl-nb:off+pl:off+pl]
			}
			off += pl
		}
		var buf []float32
		switch {
		case opt.WeightsOnly:
		case (l.Kind == ReLU || l.Kind == Flatten) && prev != nil:
			buf = prev // in place: ReLU's backward needs only its output
		default:
			buf = make([]float32, opt.MaxBatch*o.len())
		}
		if !opt.WeightsOnly {
			n.acts = append(n.acts, buf)
		}
		n.layers = append(n.layers, ly)
		prev = buf
		maxAct = max(maxAct, o.len())
		s = o
	}
	if !opt.WeightsOnly {
		n.work = make([]float32, work)
		n.fuseReLUs()
	}
	if opt.Training {
		for i := range n.gbuf {
			n.gbuf[i] = make([]float32, opt.MaxBatch*maxAct)
		}
	}
	return n, nil
}

// fuseReLUs lets every convolution or batch norm followed by a ReLU apply
// it as it writes its output, in training as in inference: the ReLU runs
// in place, so the layer's own output is never kept; a convolution's
// backward pass needs only its input, and a batch norm's takes the ReLU's
// mask from the output. A max pool after a ReLU takes the ReLU's backward
// pass into its own.
func (n *Net) fuseReLUs() {
	for i := 0; i+1 < len(n.layers); i++ {
		l, next := &n.layers[i], &n.layers[i+1]
		if (l.Kind == Conv || l.Kind == DWConv || l.Kind == BatchNorm) && next.Kind == ReLU && &n.acts[i][0] == &n.acts[i+1][0] {
			l.reluNext, next.reluDone = true, true
			next.gradDone = l.Kind == BatchNorm
		}
	}
	for i := 1; i < len(n.layers); i++ {
		if l, prev := &n.layers[i], &n.layers[i-1]; l.Kind == MaxPool && prev.Kind == ReLU && !prev.gradDone {
			l.reluPrev, prev.gradDone = true, true
		}
	}
}

// CopyBackbone copies the weights and batch-norm statistics of every layer
// but the last from src, whose architecture must be n's but for the number
// of outputs of its final dense layer: how a classifier pretrained on many
// classes becomes the starting point of a cat detector. n's last layer is
// left as it is.
func (n *Net) CopyBackbone(src *Net) error {
	a, err := src.Arch.WithOutputs(n.Arch.Outputs())
	if err != nil {
		return err
	}
	if a.String() != n.Arch.String() {
		return fmt.Errorf("model: backbone %q does not match %q", src.Arch, n.Arch)
	}
	last := len(n.layers) - 1
	for i := range last {
		d, s := &n.layers[i], &src.layers[i]
		copy(d.w, s.w)
		copy(d.b, s.b)
		copy(d.runMean, s.runMean)
		copy(d.runVar, s.runVar)
	}
	return nil
}

// CopyOutputs copies count outputs of src's final dense layer, starting at
// its output src0, into n's final dense layer from output dst0 on: their
// weights and biases. src's architecture must be n's but for the number of
// outputs. It is how a detector trained with auxiliary class outputs
// becomes a one-output detector, and how those outputs start from a
// pretrained classifier's.
func (n *Net) CopyOutputs(dst0 int, src *Net, src0, count int) error {
	a, err := src.Arch.WithOutputs(n.Arch.Outputs())
	if err != nil {
		return err
	}
	if a.String() != n.Arch.String() {
		return fmt.Errorf("model: %q does not match %q but for its outputs", src.Arch, n.Arch)
	}
	dOut, sOut := n.Arch.Outputs(), src.Arch.Outputs()
	if count < 0 || dst0 < 0 || src0 < 0 || dst0+count > dOut || src0+count > sOut {
		return fmt.Errorf("model: cannot copy %d outputs from %d of %d to %d of %d", count, src0, sOut, dst0, dOut)
	}
	d, s := &n.layers[len(n.layers)-1], &src.layers[len(src.layers)-1]
	in := d.dense.In
	for i := range in { // W is stored [In][Out]
		copy(d.w[i*dOut+dst0:i*dOut+dst0+count], s.w[i*sOut+src0:i*sOut+src0+count])
	}
	copy(d.b[dst0:dst0+count], s.b[src0:src0+count])
	return nil
}

// WeightRanges returns the [start, end) offsets in Params of the
// convolution, depthwise and dense weights: the parameters weight decay
// applies to (biases and batch-norm scales and shifts are left alone, as
// is usual).
func (n *Net) WeightRanges() [][2]int {
	var r [][2]int
	for i := range n.layers {
		l := &n.layers[i]
		if l.w != nil && l.Kind != BatchNorm {
			r = append(r, [2]int{l.wOff, l.wOff + len(l.w)})
		}
	}
	return r
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
// sqrt(2/fan_in), suited to ReLU networks) drawn from r, the biases to 0,
// and batch norms to the identity (gamma 1, beta 0, running mean 0 and
// variance 1).
func (n *Net) Init(r *rand.Rand) {
	for _, l := range n.layers {
		if l.Kind == BatchNorm {
			for i := range l.w {
				l.w[i], l.b[i], l.runMean[i], l.runVar[i] = 1, 0, 0, 1
			}
			continue
		}
		if l.w == nil {
			continue
		}
		fanIn := len(l.w) / l.out.c
		if l.Kind == DWConv {
			fanIn = l.K * l.K
		}
		std := math.Sqrt(2 / float64(fanIn))
		for i := range l.w {
			l.w[i] = float32(r.NormFloat64() * std)
		}
		clear(l.b)
	}
}

func (n *Net) batch(x []float32) int {
	if n.acts == nil {
		panic("model: running a weights-only net (Options.WeightsOnly)")
	}
	in := n.InputLen()
	if len(x) == 0 || len(x)%in != 0 || len(x)/in > n.maxBatch {
		panic(fmt.Sprintf("model: input length %d is not 1..%d whole images of %d floats", len(x), n.maxBatch, in))
	}
	return len(x) / in
}

// Forward runs the network for inference on a batch of NHWC images
// (normalised as the model expects) and returns the logits, Outputs() per
// image (one for a cat detector). Batch norms use their running statistics.
// The result is a view into the Net, valid until the next call.
func (n *Net) Forward(x []float32) []float32 { return n.forward(x, false) }

// forward runs every layer; train selects batch statistics in batch norms
// (and updates their running statistics), as PyTorch's train mode does. x
// must stay unchanged until Backward.
func (n *Net) forward(x []float32, train bool) []float32 {
	b := n.batch(x)
	n.input = x
	cur := x
	for i := range n.layers {
		cur = n.forwardLayer(i, b, cur, train)
	}
	return cur
}

// forwardLayer runs layer i on b images in cur and returns its output.
func (n *Net) forwardLayer(i, b int, cur []float32, train bool) []float32 {
	l := &n.layers[i]
	out := n.acts[i][:b*l.out.len()]
	if train && l.Kind == Conv && !n.convPerImage {
		l.conv.ForwardBatch(out, cur, l.w, l.b, n.work, l.reluNext)
		return out
	}
	switch l.Kind {
	case Conv:
		if l.reluNext {
			l.conv.ForwardReLU(out, cur, l.w, l.b, n.work)
		} else {
			l.conv.Forward(out, cur, l.w, l.b, n.work)
		}
	case DWConv:
		if l.reluNext {
			l.dw.ForwardReLU(out, cur, l.w, l.b)
		} else {
			l.dw.Forward(out, cur, l.w, l.b)
		}
	case BatchNorm:
		switch {
		case train && l.reluNext:
			l.bn.TrainForwardReLU(out, cur, l.w, l.b, l.runMean, l.runVar, l.saveMean, l.saveInvStd, n.work)
		case train:
			l.bn.TrainForward(out, cur, l.w, l.b, l.runMean, l.runVar, l.saveMean, l.saveInvStd)
		default:
			l.bn.InferForward(out, cur, l.w, l.b, l.runMean, l.runVar)
			if l.reluNext {
				conv.ReLU(out, out)
			}
		}
	case ReLU:
		if !l.reluDone {
			conv.ReLU(out, cur)
		}
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
	if n.outputs != 1 {
		panic(fmt.Sprintf("model: Predict on a %d-class classifier", n.outputs))
	}
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
	if len(dlogits) != b*n.outputs {
		panic(fmt.Sprintf("model: %d logit gradients for a batch of %d", len(dlogits), b))
	}
	cur := 0
	g := n.gbuf[cur][:len(dlogits)]
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
		if n.convPerImage {
			l.conv.Backward(gin, l.gw, l.gb, src, l.w, g, n.work)
		} else {
			l.conv.BackwardBatch(gin, l.gw, l.gb, src, l.w, g, n.work)
		}
	case DWConv:
		l.dw.Backward(gin, l.gw, l.gb, src, l.w, g)
	case BatchNorm:
		if gin == nil {
			gin = n.gbuf[1-*cur][:b*l.in.len()] // gamma and beta still need it
		}
		if l.reluNext {
			l.bn.BackwardReLU(gin, l.gw, l.gb, src, l.w, l.saveMean, l.saveInvStd, g, n.acts[i][:len(g)], n.work)
		} else {
			l.bn.Backward(gin, l.gw, l.gb, src, l.w, l.saveMean, l.saveInvStd, g)
		}
		if i == 0 {
			return nil, true
		}
	case Dense:
		l.dense.Backward(gin, l.gw, l.gb, src, l.w, g, n.work)
	case ReLU:
		if !l.gradDone {
			conv.ReLUBackward(g, g, n.acts[i][:len(g)])
		}
		return g, i == 0 // in place
	case Flatten:
		return g, i == 0
	case MaxPool:
		switch p := (conv.MaxPool2{H: l.in.h, W: l.in.w, C: l.in.c}); {
		case gin != nil && l.reluPrev:
			p.BackwardReLU(gin, g, src, n.acts[i][:len(g)])
		case gin != nil:
			p.Backward(gin, g, src)
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

// Gradients sets Grads to the gradient of the loss of the batch x with
// labels y, per-example weights w (nil: all 1), and returns the loss: the
// binary cross-entropy on logits (BCEWithLogits) for a cat detector, the
// softmax cross-entropy (SoftmaxCrossEntropy, y holding class indices) for
// a classifier. Batch norms run in training mode. It is one training step
// without the update.
func (n *Net) Gradients(x, y, w []float32) float32 {
	clear(n.Grads)
	return n.AddGradients(x, y, w, 1)
}

// AddGradients adds scale times the gradient of the batch's loss to Grads
// and returns the loss. A batch larger than MaxBatch is processed in chunks
// this way: with each chunk's scale its share of the total weight, Grads
// ends up holding the gradient of the whole batch's loss.
func (n *Net) AddGradients(x, y, w []float32, scale float32) float32 {
	if n.Grads == nil {
		panic("model: AddGradients on a net built without Training")
	}
	z := n.forward(x, true)
	dz := n.dlogits[:len(z)]
	var loss float32
	if k := n.outputs; k == 1 {
		loss = BCEWithLogits(dz, z, y, w)
	} else {
		loss = SoftmaxCrossEntropy(dz, z, y, w, k)
	}
	if scale != 1 {
		for i := range dz {
			dz[i] *= scale
		}
	}
	n.Backward(dz)
	return loss
}

// AddGradientsWith adds the gradient of a loss of the caller's own to
// Grads: loss gets the batch's logits z (Outputs per example) and writes
// dL/dz into dz; its result is returned. Batch norms run in training mode.
func (n *Net) AddGradientsWith(x []float32, loss func(dz, z []float32) float32) float32 {
	if n.Grads == nil {
		panic("model: AddGradientsWith on a net built without Training")
	}
	z := n.forward(x, true)
	dz := n.dlogits[:len(z)]
	l := loss(dz, z)
	n.Backward(dz)
	return l
}

// BCEWithAux is the loss of a cat detector trained with auxiliary class
// outputs: each example has 1+k logits, the cat logit first, then one per
// image class (such as the 200 ImageNet classes its photos come from). It
// is the weighted binary cross-entropy of the cat logit (BCEWithLogits)
// plus lambda times the softmax cross-entropy of the class logits against
// class indices cls:
//
//	L = Σ w_i bce_i / wSum + lambda Σ ce_i / count
//
// wSum and count normalise the sums: the whole step's total weight and
// number of examples, so that chunks of a step add up to the step's loss.
// It writes dL/dz into dz and returns this chunk's part of L.
func BCEWithAux(dz, z, y, w, cls []float32, k int, lambda float32, wSum float64, count int) float32 {
	n, s := len(y), 1+k
	if k < 2 || len(z) != n*s || len(dz) != len(z) || len(cls) != n || (w != nil && len(w) != n) || !(wSum > 0) || count < 1 {
		panic(fmt.Sprintf("model: BCEWithAux lengths dz %d, z %d, y %d, w %d, cls %d for %d classes (weight %v, count %d)",
			len(dz), len(z), len(y), len(w), len(cls), k, wSum, count))
	}
	lam := float64(lambda)
	sum := 0.0
	for i := range n {
		wi := 1.0
		if w != nil {
			wi = float64(w[i])
		}
		zi, di := z[i*s:(i+1)*s], dz[i*s:(i+1)*s]
		z0, y0 := float64(zi[0]), float64(y[i])
		sum += wi * (max(z0, 0) - z0*y0 + math.Log1p(math.Exp(-math.Abs(z0)))) / wSum
		di[0] = float32(wi * (float64(Sigmoid(zi[0])) - y0) / wSum)

		c := int(cls[i])
		if c < 0 || c >= k || float32(c) != cls[i] {
			panic(fmt.Sprintf("model: class label %v is not an index below %d", cls[i], k))
		}
		sum += lam * softmaxCE(di[1:], zi[1:], c, lam/float64(count)) / float64(count)
	}
	return float32(sum)
}

// softmaxCE returns the cross-entropy -log softmax(z)[c] of one example's
// logits, computed with the maximum subtracted, and writes
// scale*(softmax(z) - onehot(c)) into dz.
func softmaxCE(dz, z []float32, c int, scale float64) float64 {
	m := z[0]
	for _, v := range z {
		m = max(m, v)
	}
	s := 0.0
	for j, v := range z {
		e := math.Exp(float64(v - m))
		dz[j] = float32(e)
		s += e
	}
	for j := range dz {
		dz[j] = float32(scale * float64(dz[j]) / s)
	}
	dz[c] -= float32(scale)
	return math.Log(s) + float64(m) - float64(z[c])
}

// SoftmaxCrossEntropy returns the cross-entropy of k-class logits z (k per
// example) against class indices y (as float32), each example weighted by
// w[i] (nil: all 1),
//
//	L = Σ w_i (log Σ_j e^{z_ij} - z_{i,y_i}) / Σ w_i,
//
// computed with the maximum subtracted, and writes dL/dz = w_i (softmax(z_i)
// - onehot(y_i)) / Σ w into dz.
func SoftmaxCrossEntropy(dz, z, y, w []float32, k int) float32 {
	n := len(y)
	if k < 2 || len(z) != n*k || len(dz) != len(z) || (w != nil && len(w) != n) {
		panic(fmt.Sprintf("model: SoftmaxCrossEntropy lengths dz %d, z %d, y %d, w %d for %d classes", len(dz), len(z), len(y), len(w), k))
	}
	sumW, sumL := 0.0, 0.0
	for i := range n {
		wi := 1.0
		if w != nil {
			wi = float64(w[i])
		}
		c := int(y[i])
		if c < 0 || c >= k || float32(c) != y[i] {
			panic(fmt.Sprintf("model: class label %v is not an index below %d", y[i], k))
		}
		sumL += wi * softmaxCE(dz[i*k:(i+1)*k], z[i*k:(i+1)*k], c, wi)
		sumW += wi
	}
	if sumW <= 0 {
		panic("model: SoftmaxCrossEntropy weights sum to zero or less")
	}
	inv := float32(1 / sumW)
	for j := range dz {
		dz[j] *= inv
	}
	return float32(sumL / sumW)
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

// Average sets n's weights and batch-norm statistics to the weighted mean
// of those of nets, which must have n's architecture: a "model soup" of
// models fine-tuned from one pretrained model, which stay close enough in
// weight space for their mean to work as one model (and often better than
// each). weights are relative (nil: equal); they must be finite, not
// negative, and not all zero. n may be one of nets.
func (n *Net) Average(nets []*Net, weights []float64) error {
	if len(nets) == 0 {
		return errors.New("model: an average of no models")
	}
	if weights == nil {
		weights = make([]float64, len(nets))
		for i := range weights {
			weights[i] = 1
		}
	}
	if len(weights) != len(nets) {
		return fmt.Errorf("model: %d weights for %d models", len(weights), len(nets))
	}
	total := 0.0
	for i, w := range weights {
		if !(w >= 0) || math.IsInf(w, 0) {
			return fmt.Errorf("model: weight %v of model %d, want a finite number >= 0", w, i)
		}
		total += w
	}
	if total == 0 {
		return errors.New("model: the weights of an average are all zero")
	}
	for i, m := range nets {
		if m.Arch.String() != n.Arch.String() {
			return fmt.Errorf("model: model %d is %q, not %q: only models of one architecture average", i, m.Arch, n.Arch)
		}
	}
	// Summed in float64, a stretch at a time on the stack: every model's
	// values are read before n's are written, so n may be one of nets.
	var acc [256]float64
	for _, pick := range [2]func(*Net) []float32{
		func(m *Net) []float32 { return m.Params },
		func(m *Net) []float32 { return m.Buffers },
	} {
		out := pick(n)
		for lo := 0; lo < len(out); lo += len(acc) {
			a := acc[:min(len(acc), len(out)-lo)]
			clear(a)
			for k, m := range nets {
				w := weights[k] / total
				for i, v := range pick(m)[lo : lo+len(a)] {
					a[i] += w * float64(v)
				}
			}
			for i, v := range a {
				out[lo+i] = float32(v)
			}
		}
	}
	return nil
}
