package conv

import (
	"fmt"
	"math"
)

// BatchNorm is batch normalisation of NHWC activations with C channels,
// PyTorch's BatchNorm2d: each channel is normalised with statistics over all
// N×H×W pixels of the batch, then scaled by gamma and shifted by beta,
//
//	y = (x - mean) / sqrt(var + Eps) * gamma + beta.
//
// Training (TrainForward) uses the batch mean and the biased batch variance
// and moves the running statistics towards them by Momentum, using the
// unbiased variance for the running variance, as PyTorch does; inference
// (InferForward) uses the running statistics. The kernels take any whole
// number of pixels, so the same BatchNorm serves every batch size and image
// size; per-channel arrays (gamma, beta, running and saved statistics, their
// gradients) have C floats. NewBatchNorm gives PyTorch's defaults.
type BatchNorm struct {
	C        int
	Eps      float32 // added to the variance; PyTorch's default is 1e-5
	Momentum float32 // weight of the batch in the running statistics; default 0.1
}

// NewBatchNorm returns batch normalisation of c channels with PyTorch's
// defaults, Eps 1e-5 and Momentum 0.1.
func NewBatchNorm(c int) BatchNorm { return BatchNorm{C: c, Eps: 1e-5, Momentum: 0.1} }

// bnBlock is how many channels the kernels work on at a time: their
// per-channel sums and coefficients live in arrays of this size on the
// stack. Every block is one more pass over the activations, so it covers
// the widest layers of the built-in architectures (384 channels) at once.
const bnBlock = 512

// Pixels returns how many pixels (N×H×W) the activations src hold,
// panicking unless len(src) is a whole number of at least one.
func (bn BatchNorm) Pixels(src []float32) int {
	if bn.C < 1 || len(src) == 0 || len(src)%bn.C != 0 {
		panic(fmt.Sprintf("conv: batch norm input length %d is not a whole number of %d-channel pixels", len(src), bn.C))
	}
	return len(src) / bn.C
}

func (bn BatchNorm) check(name string, got, want int) {
	if got != want {
		panic(fmt.Sprintf("conv: batch norm %s has length %d, want %d", name, got, want))
	}
}

func (bn BatchNorm) checkChannels(names string, s ...[]float32) {
	for _, v := range s {
		if len(v) != bn.C {
			panic(fmt.Sprintf("conv: batch norm %s: a length is %d, want %d channels", names, len(v), bn.C))
		}
	}
}

// TrainForward normalises src with its own batch statistics and writes the
// result to dst (overwritten). It moves runMean and runVar (updated in
// place) towards the batch mean and unbiased variance by bn.Momentum, and
// writes the batch mean and 1/sqrt(biased variance + Eps) to saveMean and
// saveInvStd for Backward. Statistics are accumulated in float64. src must
// hold at least two pixels (PyTorch refuses one value per channel). dst must
// not alias src: Backward needs src.
func (bn BatchNorm) TrainForward(dst, src, gamma, beta, runMean, runVar, saveMean, saveInvStd []float32) {
	bn.trainForward(dst, src, gamma, beta, runMean, runVar, saveMean, saveInvStd, false, nil)
}

// WorkLen is the length of the workspace TrainForwardReLU and BackwardReLU
// take: their per-channel coefficients.
func (bn BatchNorm) WorkLen() int { return 3 * bn.C }

// TrainForwardReLU is TrainForward followed by ReLU, dst = max(bn(src), 0),
// in one pass over the output, as a training step runs a batch norm and
// the ReLU after it. work holds at least WorkLen floats. Backward through
// both is BackwardReLU.
func (bn BatchNorm) TrainForwardReLU(dst, src, gamma, beta, runMean, runVar, saveMean, saveInvStd, work []float32) {
	bn.checkWork(work)
	bn.trainForward(dst, src, gamma, beta, runMean, runVar, saveMean, saveInvStd, true, work)
}

func (bn BatchNorm) checkWork(work []float32) {
	if len(work) < bn.WorkLen() {
		panic(fmt.Sprintf("conv: batch norm workspace has length %d, want at least %d", len(work), bn.WorkLen()))
	}
}

// trainForward is TrainForward, with ReLU if relu. The statistics are
// sums of x - shift, with shift near the mean (bnShift), so that neither a
// large mean nor an outlying pixel cancels away the variance, in float64
// (bnStatsGo); the output is computed
// as src*scale + (beta - mean*scale) (bnAffineGo), within float32
// rounding of (src-mean)*scale + beta. work, if not nil, holds the
// per-channel coefficients; else they live on the stack.
func (bn BatchNorm) trainForward(dst, src, gamma, beta, runMean, runVar, saveMean, saveInvStd []float32, relu bool, work []float32) {
	p := bn.Pixels(src)
	if p < 2 {
		panic(fmt.Sprintf("conv: batch norm training needs at least 2 pixels per channel, got %d", p))
	}
	bn.check("output", len(dst), len(src))
	bn.checkChannels("gamma, beta, running or saved statistics", gamma, beta, runMean, runVar, saveMean, saveInvStd)
	c := bn.C
	mom := float64(bn.Momentum)
	unbias := float64(p) / float64(p-1)
	for c0 := 0; c0 < c; c0 += bnBlock {
		c1 := min(c0+bnBlock, c)
		var sA, ssA [bnBlock]float64
		var shiftA [bnBlock]float32
		s, ss, shift := sA[:c1-c0], ssA[:c1-c0], shiftA[:c1-c0]
		bnShift(shift, src, c, c0)
		bnStats(s, ss, src, shift, c, c0)
		var scaleA, shA [bnBlock]float32
		scale, sh := scaleA[:len(s)], shA[:len(s)]
		if work != nil {
			scale, sh = work[c0:c1], work[c+c0:c+c1]
		}
		for j := range s {
			ch := c0 + j
			m := s[j] / float64(p)
			v := max(ss[j]/float64(p)-m*m, 0)
			m += float64(shift[j])
			inv := 1 / math.Sqrt(v+float64(bn.Eps))
			saveMean[ch] = float32(m)
			saveInvStd[ch] = float32(inv)
			runMean[ch] = float32((1-mom)*float64(runMean[ch]) + mom*m)
			runVar[ch] = float32((1-mom)*float64(runVar[ch]) + mom*v*unbias)
			sc := inv * float64(gamma[ch])
			scale[j] = float32(sc)
			sh[j] = float32(float64(beta[ch]) - m*sc)
		}
		bnAffine(dst, src, c, c0, scale, sh, relu)
	}
}

// bnShift sets shift to the mean of up to sumRun pixels of src spread
// evenly over it, for the len(shift) channels from c0: the point the
// statistics are summed around. The first pixel alone would do for data
// whose mean is small next to its spread, but the first pixel of an image
// is a corner, where a convolution's padding can put it far from the
// rest, and the variance cancels away.
func bnShift(shift, src []float32, c, c0 int) {
	p := len(src) / c
	n := min(p, sumRun)
	var sA [bnBlock]float64
	s := sA[:len(shift)]
	for i := range n {
		off := i*(p/n)*c + c0
		for j, v := range src[off : off+len(s)] {
			s[j] += float64(v)
		}
	}
	for j := range s {
		shift[j] = float32(s[j] / float64(n))
	}
}

// normalise writes dst = (src-mean)*scale + beta for the channels c0,
// c0+len(mean) of every pixel of c channels.
func normalise(dst, src []float32, c0, c int, mean, scale, beta []float32) {
	n := len(mean)
	scale, beta = scale[:n], beta[:n]
	for off := c0; off < len(src); off += c {
		x := src[off : off+n]
		y := dst[off : off+n]
		for j, v := range x {
			y[j] = (v-mean[j])*scale[j] + beta[j]
		}
	}
}

// InferForward normalises src with the running statistics and writes the
// result to dst: dst = (src-runMean)/sqrt(runVar+Eps)*gamma + beta. dst may
// be src (in place); otherwise they must not overlap.
func (bn BatchNorm) InferForward(dst, src, gamma, beta, runMean, runVar []float32) {
	bn.Pixels(src)
	bn.check("output", len(dst), len(src))
	bn.checkChannels("gamma, beta or running statistics", gamma, beta, runMean, runVar)
	c := bn.C
	for c0 := 0; c0 < c; c0 += bnBlock {
		c1 := min(c0+bnBlock, c)
		var scaleA [bnBlock]float32
		scale := scaleA[:c1-c0]
		for j := range scale {
			ch := c0 + j
			scale[j] = float32(float64(gamma[ch]) / math.Sqrt(float64(runVar[ch])+float64(bn.Eps)))
		}
		normalise(dst, src, c0, c, runMean[c0:c1], scale, beta[c0:c1])
	}
}

// Backward computes the training-mode gradients of a loss L given gy =
// dL/d(output) for the batch src that TrainForward saw, with the saveMean
// and saveInvStd it wrote. With xhat = (src-mean)*invstd and P pixels, it
// adds Σ gy*xhat to ggamma and Σ gy to gbeta, and overwrites gx (unless
// nil) with the gradient through the batch statistics,
//
//	gx = gamma*invstd/P * (P*gy - Σ gy - xhat*Σ(gy*xhat)),
//
// computed as gy*a + (b - k*mean) + src*k with per-channel coefficients a,
// b and k (bnGradInputGo), within float32 rounding of the formula. The
// sums are taken in float32 over runs of sumRun pixels and in float64
// across runs (bnGradSumsGo). gx may be gy (in place); otherwise gx must
// not alias the inputs.
func (bn BatchNorm) Backward(gx, ggamma, gbeta, src, gamma, saveMean, saveInvStd, gy []float32) {
	bn.backward(gx, ggamma, gbeta, src, gamma, saveMean, saveInvStd, gy, nil, nil)
}

// BackwardReLU is Backward through TrainForwardReLU: the gradient gy of
// the ReLU's output y (TrainForwardReLU's dst) goes through the ReLU
// (ReLUBackward: kept where y > 0, 0 elsewhere) and then through the batch
// norm, in the same two passes as Backward alone; gy is left as it is
// unless gx is gy. work holds at least WorkLen floats. gx may be gy (in
// place); otherwise gx must not alias the inputs, and y must not alias gx
// or gy.
func (bn BatchNorm) BackwardReLU(gx, ggamma, gbeta, src, gamma, saveMean, saveInvStd, gy, y, work []float32) {
	bn.check("ReLU output", len(y), len(src))
	bn.checkWork(work)
	bn.backward(gx, ggamma, gbeta, src, gamma, saveMean, saveInvStd, gy, y, work)
}

// backward is Backward, with the gradient masked by ReLU output y unless y
// is nil, and the coefficients in work unless it is nil (else on the
// stack).
func (bn BatchNorm) backward(gx, ggamma, gbeta, src, gamma, saveMean, saveInvStd, gy, y, work []float32) {
	p := bn.Pixels(src)
	bn.check("output gradient", len(gy), len(src))
	if gx != nil {
		bn.check("input gradient", len(gx), len(src))
	}
	bn.checkChannels("gamma, its gradient, beta's gradient or saved statistics", ggamma, gbeta, gamma, saveMean, saveInvStd)
	c := bn.C
	for c0 := 0; c0 < c; c0 += bnBlock {
		c1 := min(c0+bnBlock, c)
		var sgA, sgxA [bnBlock]float64
		sg, sgx := sgA[:c1-c0], sgxA[:c1-c0]
		mean := saveMean[c0:c1]
		bnGradSums(sg, sgx, src, gy, y, mean, c, c0)
		// gx = a*gy + b + k*(x-mean) with a = gamma*invstd,
		// b = -a*Σgy/P, k = -a*invstd*Σ(gy*xhat)/P.
		var aA, eA, kA [bnBlock]float32
		a, e, k := aA[:len(sg)], eA[:len(sg)], kA[:len(sg)]
		if work != nil {
			a, e, k = work[c0:c1], work[c+c0:c+c1], work[2*c+c0:2*c+c1]
		}
		for j := range sg {
			ch := c0 + j
			inv := float64(saveInvStd[ch])
			sgxhat := sgx[j] * inv
			gbeta[ch] += float32(sg[j])
			ggamma[ch] += float32(sgxhat)
			av := float64(gamma[ch]) * inv
			b := float32(-av * sg[j] / float64(p))
			a[j] = float32(av)
			k[j] = float32(-av * inv * sgxhat / float64(p))
			e[j] = float32(float64(b) - float64(k[j])*float64(mean[j]))
		}
		if gx != nil {
			bnGradInput(gx, gy, y, src, c, c0, a, e, k)
		}
	}
}

// sumRun is how many pixels the float32 partial sums of the batch-norm
// kernels run over: float32 arithmetic takes no conversions in the inner
// loop and fills twice the vector lanes of float64, and over 32 values
// its rounding stays within a few float32 ulps of the run's exact sum.
const sumRun = 32

// FoldBatchNorm folds an inference-mode batch normalisation (gamma, beta,
// running mean and variance, eps) that follows a convolution into that
// convolution's weights w and bias b, in place, so that the convolution
// alone computes both:
//
//	w[..., c] *= gamma[c]/sqrt(variance[c]+eps)
//	b[c]       = (b[c]-mean[c])*gamma[c]/sqrt(variance[c]+eps) + beta[c]
//
// It works on any weights whose last (fastest) index is the output channel:
// Conv2D's HWIO weights [KH][KW][InC][OutC] and DepthwiseConv2D's
// [K][K][C] alike. len(w) must be a multiple of len(b), and every
// per-channel slice has len(b) floats. Arithmetic is in float64.
func FoldBatchNorm(w, b, gamma, beta, mean, variance []float32, eps float32) {
	c := len(b)
	if c == 0 || len(w)%c != 0 || len(gamma) != c || len(beta) != c || len(mean) != c || len(variance) != c {
		panic(fmt.Sprintf("conv: FoldBatchNorm weights %d, bias %d, gamma %d, beta %d, mean %d, variance %d: want a multiple of C and C = len(bias) >= 1",
			len(w), len(b), len(gamma), len(beta), len(mean), len(variance)))
	}
	for ch := range c {
		s := float64(gamma[ch]) / math.Sqrt(float64(variance[ch])+float64(eps))
		for i := ch; i < len(w); i += c {
			w[i] = float32(float64(w[i]) * s)
		}
		b[ch] = float32((float64(b[ch])-float64(mean[ch]))*s + float64(beta[ch]))
	}
}
