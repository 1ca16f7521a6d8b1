package fixedpoint

import (
	"fmt"
	"math"

	"catd/conv"
	"catd/model"
)

// QParams are the quantization parameters of one int8 activation tensor:
// real = Scale * (q - ZP).
type QParams struct {
	Scale float32
	ZP    int32
}

// minScale is the smallest activation scale qParamsFor gives: a tensor
// whose calibrated range is narrower than 255*minScale (say, all zeros)
// still gets multipliers in range downstream.
const minScale = 1e-6

// qParamsFor returns the parameters that spread the real range [lo, hi],
// first widened to hold 0 (so that 0, ReLU's floor and the padding value,
// is exact), over the 256 int8 codes, as TFLite's converter does:
//
//	scale = (hi - lo) / 255   (at least 1e-6)
//	zp    = round(-128 - lo/scale), clamped to -128..127
//
// A ReLU output, lo = 0, gets zero point -128.
func qParamsFor(lo, hi float32) QParams {
	l, h := min(float64(lo), 0), max(float64(hi), 0)
	s := float32((h - l) / 255)
	if !(s >= minScale) || math.IsInf(float64(s), 0) {
		s = minScale
	}
	return QParams{Scale: s, ZP: int32(roundSat(-128-l/float64(s), math.MinInt8, math.MaxInt8))}
}

// check reports whether q can describe an int8 tensor: a finite positive
// scale and a zero point in -128..127.
func (q QParams) check(what string) error {
	if !(q.Scale > 0) || math.IsInf(float64(q.Scale), 0) {
		return fmt.Errorf("fixedpoint: %s scale %v, want a finite number above 0", what, q.Scale)
	}
	if q.ZP < math.MinInt8 || q.ZP > math.MaxInt8 {
		return fmt.Errorf("fixedpoint: %s zero point %d outside -128..127", what, q.ZP)
	}
	return nil
}

// Options size a Net's buffers once, at construction.
type Options struct {
	// MaxBatch is the largest number of images one Predict or Logits call
	// takes.
	MaxBatch int
}

// Net is an int8 network: a float model (package model) with its batch
// norms folded into its convolutions, quantized after training. It runs the
// layer kinds of catd's architectures:
//
//   - conv, dwconv and dense: int8 weights, symmetric per output channel;
//     int32 biases at scale s_in*s_w; a following relu fused as the output
//     clamp;
//   - maxpool 2 and flatten, which keep their input's scale and zero point;
//   - gap, requantized to its own calibrated range;
//   - relu elsewhere, as max(q, zp).
//
// Activations are int8 with one scale and zero point per tensor (QParams).
// The input is made from 8-bit RGB pixels by a lookup table that folds in
// the model's normalisation (fillInputLUT), so no float touches a frame. A
// final dense layer does not requantize: its int32 accumulators are scaled
// to float32 logits (s_in * s_w[o] * acc), which keeps the scores as finely
// graded as the accumulators, where an int8 logit would leave 256 distinct
// scores and ties that cost ROC AUC. Every other layer is one of this
// package's kernels, so the int8 path is bit-exact with TFLite's
// arithmetic.
//
// Build a Net with QuantizeNet from a float model, or load one with
// ReadFile, FromFile or Default. Every buffer is allocated then:
// Predict and Logits allocate nothing. A Net is not safe for concurrent
// use.
type Net struct {
	// Arch is the folded architecture the net computes (no batch norms).
	Arch model.Arch
	// Input are the parameters of the int8 input tensor.
	Input QParams

	maxBatch, inLen, outputs int
	layers                   []qlayer
	lut                      [3][256]int8
	x                        []int8    // the quantized input batch
	buf                      [2][]int8 // activations, ping-pong
	work8                    []int8
	work32                   []int32
	logits                   []float32
	out                      QParams // the last int8 tensor, dequantized when there is no dense head
}

// dims is the shape of one image's activations, NHWC.
type dims struct{ h, w, c int }

func (d dims) len() int { return d.h * d.w * d.c }

// layerParams are one layer's quantized parameters: what a file holds.
type layerParams struct {
	w      []int8    // kernel layout: OHWI (conv), [K][K][C] (dwconv), [Out][In] (dense)
	wScale []float32 // per output channel
	bias   []int32
	out    QParams // the output tensor, for layers that make one (hasOut)
}

// qlayer is one layer of a Net, built.
type qlayer struct {
	model.Layer
	layerParams
	in, outDims dims
	inQ, outQ   QParams
	fused       bool // a ReLU fused into the layer before it: nothing to do
	head        bool // the final dense layer, dequantized from int32
	headScale   []float64
	conv        *conv2D
	dw          *depthwiseConv2D
	dense       *dense
	pool        maxPool2
	gap         globalAvgPool
}

// hasOut reports whether layer i of a makes a new int8 tensor, with its
// own scale and zero point: conv, dwconv, gap, and dense unless it is the
// last layer (the dequantized head).
func hasOut(a model.Arch, i int) bool {
	switch a.Layers[i].Kind {
	case model.Conv, model.DWConv, model.GlobalAvgPool:
		return true
	case model.Dense:
		return i != len(a.Layers)-1
	}
	return false
}

// hasWeights reports whether a layer kind has weights and biases.
func hasWeights(k model.Kind) bool { return k == model.Conv || k == model.DWConv || k == model.Dense }

// reluFused reports whether layer i of a is a ReLU fused into layer i-1.
func reluFused(a model.Arch, i int) bool {
	return a.Layers[i].Kind == model.ReLU && i > 0 && hasOut(a, i-1) && a.Layers[i-1].Kind != model.GlobalAvgPool
}

// checkArch returns an error if a holds a layer the int8 net cannot run.
func checkArch(a model.Arch) error {
	if err := a.Validate(); err != nil {
		return err
	}
	if a.C != 3 {
		return fmt.Errorf("fixedpoint: %d input channels, the int8 input takes RGB (3)", a.C)
	}
	for i, l := range a.Layers {
		switch l.Kind {
		case model.Conv, model.DWConv, model.Dense, model.ReLU, model.MaxPool, model.GlobalAvgPool, model.Flatten:
		case model.BatchNorm:
			return fmt.Errorf("fixedpoint: layer %d is a batch norm: int8 nets take batch norms folded into the convolution before them (model.Net.Folded)", i)
		default:
			return fmt.Errorf("fixedpoint: layer %d (%s) has no int8 version", i, l.Kind)
		}
	}
	return nil
}

// inputQParams returns the input tensor's parameters for normalisation
// mean, std: the exact range of (v/255 - mean)/std over v in 0..255 and
// the channels, computed as fillInputLUT computes it.
func inputQParams(info model.Info) QParams {
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	for c := range 3 {
		s := 1 / (255 * info.Std[c])
		off := -info.Mean[c] / info.Std[c]
		lo = min(lo, off, float32(255)*s+off)
		hi = max(hi, off, float32(255)*s+off)
	}
	return qParamsFor(lo, hi)
}

// build assembles a Net from architecture a (checked), input parameters
// and each layer's quantized parameters (ps[i] for layer i; zero for layers
// without weights or output tensor), or returns an error naming the first
// bad value.
func build(a model.Arch, info model.Info, input QParams, ps []layerParams, opt Options) (*Net, error) {
	if err := checkArch(a); err != nil {
		return nil, err
	}
	if opt.MaxBatch < 1 || opt.MaxBatch > 4096 {
		return nil, fmt.Errorf("fixedpoint: batch size %d, want 1..4096", opt.MaxBatch)
	}
	if len(info.Mean) != 3 || len(info.Std) != 3 {
		return nil, fmt.Errorf("fixedpoint: normalisation of %d and %d channels, want 3", len(info.Mean), len(info.Std))
	}
	for c, s := range info.Std {
		if !(s > 0) || math.IsInf(float64(s), 0) || math.IsNaN(float64(info.Mean[c])) || math.IsInf(float64(info.Mean[c]), 0) {
			return nil, fmt.Errorf("fixedpoint: normalisation mean %v std %v of channel %d, want finite values and std above 0", info.Mean[c], s, c)
		}
	}
	if err := input.check("input"); err != nil {
		return nil, err
	}
	n := &Net{Arch: a, Input: input, maxBatch: opt.MaxBatch, inLen: a.C * a.H * a.W, outputs: a.Outputs()}
	fillInputLUT(&n.lut, [3]float32(info.Mean), [3]float32(info.Std), input.Scale, input.ZP)
	cur, q := dims{a.H, a.W, a.C}, input
	maxAct, work8, work32 := 0, 0, 0
	for i, l := range a.Layers {
		ql := qlayer{Layer: l, layerParams: ps[i], in: cur, inQ: q, outQ: q, outDims: cur}
		if hasOut(a, i) {
			if err := ql.out.check(fmt.Sprintf("layer %d output", i)); err != nil {
				return nil, err
			}
			ql.outQ = ql.out
		}
		var err error
		switch l.Kind {
		case model.Conv:
			err = ql.buildConv(i, reluNext(a, i))
		case model.DWConv:
			err = ql.buildDW(i, reluNext(a, i))
		case model.Dense:
			ql.head = i == len(a.Layers)-1
			err = ql.buildDense(i, reluNext(a, i))
		case model.MaxPool:
			ql.pool = maxPool2{H: cur.h, W: cur.w, C: cur.c}
			ql.outDims = dims{cur.h / 2, cur.w / 2, cur.c}
		case model.GlobalAvgPool:
			ql.gap, err = newGlobalAvgPool(cur.h, cur.w, cur.c, float64(q.Scale), q.ZP, float64(ql.out.Scale), ql.out.ZP)
			if err != nil {
				err = fmt.Errorf("layer %d (gap): %w", i, err)
			}
			ql.outDims = dims{1, 1, cur.c}
			work32 = max(work32, cur.c)
		case model.ReLU:
			ql.fused = reluFused(a, i)
		}
		if err != nil {
			return nil, err
		}
		if ql.conv != nil {
			work8 = max(work8, ql.conv.WorkLen())
		}
		if ql.dw != nil {
			work32 = max(work32, ql.dw.WorkLen())
		}
		n.layers = append(n.layers, ql)
		cur, q = ql.outDims, ql.outQ
		maxAct = max(maxAct, cur.len())
	}
	n.out = q
	n.x = make([]int8, opt.MaxBatch*n.inLen)
	for i := range n.buf {
		n.buf[i] = make([]int8, opt.MaxBatch*maxAct)
	}
	n.work8 = make([]int8, work8)
	n.work32 = make([]int32, work32)
	n.logits = make([]float32, opt.MaxBatch*n.outputs)
	return n, nil
}

// outDims returns the output dims of layer l of a valid architecture on
// an input of dims in.
func outDims(in dims, l model.Layer) dims {
	switch l.Kind {
	case model.Conv, model.DWConv:
		c := l.Out
		if l.Kind == model.DWConv {
			c = in.c
		}
		return dims{(in.h+2*l.Pad-l.K)/l.Stride + 1, (in.w+2*l.Pad-l.K)/l.Stride + 1, c}
	case model.MaxPool:
		return dims{in.h / 2, in.w / 2, in.c}
	case model.GlobalAvgPool:
		return dims{1, 1, in.c}
	case model.Dense:
		return dims{1, 1, l.Out}
	}
	return in
}

// reluNext reports whether layer i+1 of a is a ReLU.
func reluNext(a model.Arch, i int) bool {
	return i+1 < len(a.Layers) && a.Layers[i+1].Kind == model.ReLU
}

// requant returns the output stage of a layer with per-channel weight
// scales: multipliers s_in*s_w[c]/s_out, the output zero point, and the
// clamp (ReLU: from the zero point).
func (l *qlayer) requant(i int, relu bool) (requantParams, error) {
	rq := requantParams{Mult: make([]int32, len(l.wScale)), Shift: make([]int, len(l.wScale)), ZP: l.out.ZP, Min: math.MinInt8, Max: math.MaxInt8}
	if relu {
		rq.Min = int8(l.out.ZP)
	}
	for c, sw := range l.wScale {
		m := float64(l.inQ.Scale) * float64(sw) / float64(l.out.Scale)
		if !(m >= 0) || m >= 1<<31 {
			return requantParams{}, fmt.Errorf("fixedpoint: layer %d (%s) channel %d: multiplier %v = %v*%v/%v out of range", i, l.Kind, c, m, l.inQ.Scale, sw, l.out.Scale)
		}
		rq.Mult[c], rq.Shift[c] = quantizeMultiplier(m)
	}
	return rq, nil
}

// checkWeights checks the lengths and ranges of a layer's parameters for
// outC output channels and k weights each.
func (l *qlayer) checkWeights(i, outC, k int) error {
	switch {
	case len(l.w) != outC*k:
		return fmt.Errorf("fixedpoint: layer %d (%s) has %d weights, want %d", i, l.Kind, len(l.w), outC*k)
	case len(l.wScale) != outC || len(l.bias) != outC:
		return fmt.Errorf("fixedpoint: layer %d (%s) has %d weight scales and %d biases, want %d", i, l.Kind, len(l.wScale), len(l.bias), outC)
	}
	for c, s := range l.wScale {
		if !(s > 0) || math.IsInf(float64(s), 0) {
			return fmt.Errorf("fixedpoint: layer %d (%s) channel %d weight scale %v, want a finite number above 0", i, l.Kind, c, s)
		}
	}
	for j, v := range l.w {
		if v == math.MinInt8 {
			return fmt.Errorf("fixedpoint: layer %d (%s) weight %d is -128, want -127..127 (symmetric)", i, l.Kind, j)
		}
	}
	return nil
}

func (l *qlayer) buildConv(i int, relu bool) error {
	g, err := conv.NewConv2D(l.in.h, l.in.w, l.in.c, l.Out, l.K, l.Stride, l.Pad)
	if err != nil {
		return fmt.Errorf("fixedpoint: layer %d: %w", i, err)
	}
	if err := l.checkWeights(i, g.OutC, g.KH*g.KW*g.InC); err != nil {
		return err
	}
	rq, err := l.requant(i, relu)
	if err != nil {
		return err
	}
	if l.conv, err = newConv2D(g, l.w, l.bias, l.inQ.ZP, rq); err != nil {
		return fmt.Errorf("layer %d (conv): %w", i, err)
	}
	l.outDims = dims{g.OutH, g.OutW, g.OutC}
	return nil
}

func (l *qlayer) buildDW(i int, relu bool) error {
	g, err := conv.NewDepthwiseConv2D(l.in.h, l.in.w, l.in.c, l.K, l.Stride, l.Pad)
	if err != nil {
		return fmt.Errorf("fixedpoint: layer %d: %w", i, err)
	}
	if err := l.checkWeights(i, g.C, g.K*g.K); err != nil {
		return err
	}
	rq, err := l.requant(i, relu)
	if err != nil {
		return err
	}
	if l.dw, err = newDepthwiseConv2D(g, l.w, l.bias, l.inQ.ZP, rq); err != nil {
		return fmt.Errorf("layer %d (dwconv): %w", i, err)
	}
	l.outDims = dims{g.OutH, g.OutW, g.C}
	return nil
}

func (l *qlayer) buildDense(i int, relu bool) error {
	in := l.in.len()
	if in > maxPatch {
		return fmt.Errorf("fixedpoint: layer %d (dense) has %d inputs, want at most %d", i, in, maxPatch)
	}
	if err := l.checkWeights(i, l.Out, in); err != nil {
		return err
	}
	l.outDims = dims{1, 1, l.Out}
	if l.head {
		l.headScale = make([]float64, l.Out)
		for o, sw := range l.wScale {
			l.headScale[o] = float64(l.inQ.Scale) * float64(sw)
		}
		return nil
	}
	rq, err := l.requant(i, relu)
	if err != nil {
		return err
	}
	if l.dense, err = newDense(in, l.Out, l.w, l.bias, l.inQ.ZP, rq); err != nil {
		return fmt.Errorf("layer %d (dense): %w", i, err)
	}
	return nil
}

// MaxBatch is the largest batch Predict and Logits accept.
func (n *Net) MaxBatch() int { return n.maxBatch }

// InputLen is the number of bytes of one input image: H×W×3 RGB pixels.
func (n *Net) InputLen() int { return n.inLen }

// Outputs is the number of logits per image (1 for a cat detector).
func (n *Net) Outputs() int { return n.outputs }

// ParamBytes is the memory of the quantized parameters: int8 weights, int32
// biases and float32 weight scales, in bytes.
func (n *Net) ParamBytes() int {
	b := 0
	for _, l := range n.layers {
		b += len(l.w) + 4*len(l.bias) + 4*len(l.wScale)
	}
	return b
}

// Predict writes p(cat) = sigmoid(logit) for each image of px into dst.
// px holds 1..MaxBatch images of model-input RGB pixels (H×W×3 bytes each,
// as package preprocess makes them); dst one float per image. The net must
// have one output.
func (n *Net) Predict(dst []float32, px []uint8) {
	if n.outputs != 1 {
		panic(fmt.Sprintf("fixedpoint: Predict on a %d-class classifier", n.outputs))
	}
	b := n.batch(px)
	if len(dst) != b {
		panic(fmt.Sprintf("fixedpoint: Predict destination has length %d, want %d", len(dst), b))
	}
	z := n.logits[:b]
	n.Logits(z, px)
	for i, v := range z {
		dst[i] = model.Sigmoid(v)
	}
}

func (n *Net) batch(px []uint8) int {
	if len(px) == 0 || len(px)%n.inLen != 0 || len(px)/n.inLen > n.maxBatch {
		panic(fmt.Sprintf("fixedpoint: input length %d is not 1..%d whole images of %d bytes", len(px), n.maxBatch, n.inLen))
	}
	return len(px) / n.inLen
}

// Logits writes the float32 logits, Outputs() per image, of the images of
// px (see Predict) into dst. dst may be any caller buffer of the right
// length; it must not alias the Net's own.
func (n *Net) Logits(dst []float32, px []uint8) {
	b := n.batch(px)
	if len(dst) != b*n.outputs {
		panic(fmt.Sprintf("fixedpoint: Logits destination has length %d, want %d", len(dst), b*n.outputs))
	}
	x := n.x[:b*n.inLen]
	quantizeInput(x, px, &n.lut)
	cur := n.forward(b, x, len(n.layers), dst)
	if cur != nil {
		dequantize(dst, cur, n.out.Scale, n.out.ZP)
	}
}

// forward runs layers [0, upto) on the b quantized images x and returns
// the last int8 output, or nil when the dense head has written the logits
// into dst.
func (n *Net) forward(b int, x []int8, upto int, dst []float32) []int8 {
	cur, pp := x, 0
	for i := range n.layers[:upto] {
		l := &n.layers[i]
		var out []int8
		switch l.Kind {
		case model.Conv, model.DWConv, model.MaxPool, model.GlobalAvgPool, model.Dense:
			if l.head {
				l.headForward(dst, cur)
				return nil
			}
			out = n.buf[pp][:b*l.outDims.len()]
			pp ^= 1
		}
		switch l.Kind {
		case model.Conv:
			l.conv.Forward(out, cur, n.work8)
		case model.DWConv:
			l.dw.Forward(out, cur, n.work32)
		case model.MaxPool:
			l.pool.Forward(out, cur)
		case model.GlobalAvgPool:
			l.gap.Forward(out, cur, n.work32)
		case model.Dense:
			l.dense.Forward(out, cur)
		case model.ReLU:
			if !l.fused {
				zp := int8(l.inQ.ZP)
				for j, v := range cur {
					cur[j] = max(v, zp)
				}
			}
			out = cur
		case model.Flatten:
			out = cur
		}
		cur = out
	}
	return cur
}

// headForward computes the final dense layer in int32 and writes the
// logits s_in*s_w[o] * (bias[o] + Σ_i (x[i] - zp_in) * w[o,i]) into dst.
func (l *qlayer) headForward(dst []float32, src []int8) {
	in, out := l.in.len(), l.Out
	zp := l.inQ.ZP
	for r := range len(src) / in {
		x := src[r*in : (r+1)*in]
		for o := range out {
			w := l.w[o*in:][:len(x)]
			acc := l.bias[o]
			for i, v := range x {
				acc += (int32(v) - zp) * int32(w[i])
			}
			dst[r*out+o] = float32(float64(acc) * l.headScale[o])
		}
	}
}

// newNet quantizes folded, a float network whose batch norms are folded
// (model.Net.Folded), with the activation ranges of cal (from calibrate on
// the same network): weights to int8 per output channel (scale max|w|/127),
// biases to int32 at scale s_in*s_w, activations to int8 with qParamsFor
// their calibrated range, and the input to int8 over the exact range of
// info's normalisation. The result computes what folded computes, up to
// quantization error.
func newNet(folded *model.Net, info model.Info, cal *Calibration, opt Options) (*Net, error) {
	a := folded.Arch
	if err := checkArch(a); err != nil {
		return nil, err
	}
	if len(cal.Layers) != len(a.Layers) {
		return nil, fmt.Errorf("fixedpoint: calibration of %d layers for a %d-layer net", len(cal.Layers), len(a.Layers))
	}
	if len(info.Mean) != 3 || len(info.Std) != 3 {
		return nil, fmt.Errorf("fixedpoint: normalisation of %d and %d channels, want 3", len(info.Mean), len(info.Std))
	}
	floats := map[string][]float32{}
	for _, t := range folded.Tensors() {
		v, err := t.Float32s()
		if err != nil {
			return nil, fmt.Errorf("fixedpoint: %w", err)
		}
		floats[t.Name] = v
	}
	input := inputQParams(info)
	ps := make([]layerParams, len(a.Layers))
	cur, q := dims{a.H, a.W, a.C}, input
	for i, l := range a.Layers {
		p := &ps[i]
		if hasOut(a, i) {
			r := cal.Layers[i]
			if math.IsNaN(float64(r.Min)) || math.IsNaN(float64(r.Max)) || math.IsInf(float64(r.Min), 0) || math.IsInf(float64(r.Max), 0) {
				return nil, fmt.Errorf("fixedpoint: layer %d (%s) calibrated range [%v, %v] is not finite", i, l.Kind, r.Min, r.Max)
			}
			p.out = qParamsFor(r.Min, r.Max)
		}
		if hasWeights(l.Kind) {
			w, b := floats[fmt.Sprint(i, ".weight")], floats[fmt.Sprint(i, ".bias")]
			// Quantize in PyTorch's layouts, where each output channel's
			// weights are contiguous, then permute the codes.
			outC := outDims(cur, l).c
			tw, sw, qb := quantizeWeights(w, b, outC, len(w)/outC, q.Scale)
			p.w, p.wScale, p.bias = make([]int8, len(tw)), sw, qb
			switch l.Kind {
			case model.Conv:
				ohwiPermute(p.w, tw, outC, cur.c, l.K, false)
			case model.DWConv:
				dwPermute(p.w, tw, cur.c, l.K, false)
			case model.Dense:
				densePermute(p.w, tw, cur, l.Out, false)
			}
		}
		if hasOut(a, i) {
			q = p.out
		}
		cur = outDims(cur, l)
	}
	return build(a, info, input, ps, opt)
}

// quantizeWeights quantizes the rows of the outC×k matrix w symmetrically,
// row o at scale max|w[o]|/127 (1 for an all-zero row), and the biases b
// at scale sIn*s_w[o], rounding half away from zero and saturating.
func quantizeWeights(w, b []float32, outC, k int, sIn float32) ([]int8, []float32, []int32) {
	qw, sw, qb := make([]int8, len(w)), make([]float32, outC), make([]int32, outC)
	for o := range outC {
		row := w[o*k : (o+1)*k]
		m := float32(0)
		for _, v := range row {
			m = max(m, float32(math.Abs(float64(v))))
		}
		s := m / 127
		if !(s > 0) || math.IsInf(float64(s), 0) {
			s = 1
		}
		sw[o] = s
		for j, v := range row {
			qw[o*k+j] = int8(roundSat(float64(v)/float64(s), -127, 127))
		}
		qb[o] = int32(roundSat(float64(b[o])/(float64(sIn)*float64(s)), math.MinInt32, math.MaxInt32))
	}
	return qw, sw, qb
}
