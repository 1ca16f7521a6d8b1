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
// take: per-channel coefficients and a block of the diagonal matrices of
// diagProduct.
func (bn BatchNorm) WorkLen() int { return 3*bn.C + diagBlock*diagBlock }

// TrainForwardReLU is TrainForward followed by ReLU, dst = max(bn(src), 0),
// in one pass over the output, as a training step runs a batch norm and
// the ReLU after it: the same statistics, and the output computed as
// max(src*scale + (beta - mean*scale), 0) in vector registers (diagProduct;
// a NaN or infinity in src makes the other channels of its block of 8 NaN
// at that pixel), within float32 rounding of TrainForward's followed by
// ReLU. work holds at least WorkLen floats. Backward through both is
// BackwardReLU.
func (bn BatchNorm) TrainForwardReLU(dst, src, gamma, beta, runMean, runVar, saveMean, saveInvStd, work []float32) {
	bn.checkWork(work)
	bn.trainForward(dst, src, gamma, beta, runMean, runVar, saveMean, saveInvStd, true, work)
}

func (bn BatchNorm) checkWork(work []float32) {
	if len(work) < bn.WorkLen() {
		panic(fmt.Sprintf("conv: batch norm workspace has length %d, want at least %d", len(work), bn.WorkLen()))
	}
}

// trainForward is TrainForward, with ReLU if relu, in vector registers
// with a workspace work (else in scalar code).
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
		// Sums of x - shift, with shift the first pixel, so that a large
		// mean does not cancel away the variance.
		var shiftA [bnBlock]float32
		var sA, ssA [bnBlock]float64
		shift, s, ss := shiftA[:c1-c0], sA[:c1-c0], ssA[:c1-c0]
		copy(shift, src[c0:c1])
		for off := c0; off < len(src); off += c {
			row := src[off : off+len(s)]
			shift := shift[:len(row)]
			s, ss := s[:len(row)], ss[:len(row)]
			for j, v := range row {
				d := float64(v) - float64(shift[j])
				s[j] += d
				ss[j] += d * d
			}
		}
		var meanA, scaleA, betaA [bnBlock]float32
		mean, scale, bb := meanA[:len(s)], scaleA[:len(s)], betaA[:len(s)]
		var sh []float32
		if work != nil {
			sh = work[c+c0 : c+c1]
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
			mean[j] = float32(m)
			sc := inv * float64(gamma[ch])
			scale[j] = float32(sc)
			bb[j] = beta[ch]
			if sh != nil {
				sh[j] = float32(float64(beta[ch]) - m*sc)
			}
		}
		switch {
		case work != nil:
			// dst = src*scale + (beta - mean*scale), in vector registers.
			sc := work[c0:c1]
			copy(sc, scale)
			diagProduct(dst, src, c, c0, sc, sh, relu, work[3*c:])
		case relu:
			normaliseReLU(dst, src, c0, c, mean, scale, bb)
		default:
			normalise(dst, src, c0, c, mean, scale, bb)
		}
	}
}

// normaliseReLU is normalise followed by ReLU: dst = max((src-mean)*scale
// + beta, 0), exactly what ReLU makes of normalise's output.
func normaliseReLU(dst, src []float32, c0, c int, mean, scale, beta []float32) {
	n := len(mean)
	scale, beta = scale[:n], beta[:n]
	for off := c0; off < len(src); off += c {
		x := src[off : off+n]
		y := dst[off : off+n]
		for j, v := range x {
			y[j] = max((v-mean[j])*scale[j]+beta[j], 0)
		}
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
//	gx = gamma*invstd/P * (P*gy - Σ gy - xhat*Σ(gy*xhat)).
//
// Sums are accumulated in float64. gx may be gy (in place); otherwise gx
// must not alias the inputs.
func (bn BatchNorm) Backward(gx, ggamma, gbeta, src, gamma, saveMean, saveInvStd, gy []float32) {
	bn.backward(gx, ggamma, gbeta, src, gamma, saveMean, saveInvStd, gy, nil, nil)
}

// BackwardReLU is Backward through TrainForwardReLU: the gradient gy of
// the ReLU's output y (TrainForwardReLU's dst) goes through the ReLU
// (ReLUBackward: kept where y > 0, 0 elsewhere) and then through the batch
// norm, in the same two passes as Backward alone. It overwrites gy with
// the gradient of the ReLU's input, on the way. Unless gx is gy, gx is
// computed in vector registers, as gy*a + (b - k*mean) + src*k with the
// coefficients of Backward (diagProduct), within float32 rounding of
// Backward's. work holds at least WorkLen floats. gx may be gy (in place);
// otherwise gx must not alias the inputs, and y must not alias gx or gy.
func (bn BatchNorm) BackwardReLU(gx, ggamma, gbeta, src, gamma, saveMean, saveInvStd, gy, y, work []float32) {
	bn.check("ReLU output", len(y), len(src))
	bn.checkWork(work)
	bn.backward(gx, ggamma, gbeta, src, gamma, saveMean, saveInvStd, gy, y, work)
}

// backward is Backward, with the gradient masked by ReLU output y unless y
// is nil, and gx in vector registers with a workspace work.
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
		mean = mean[:len(sg)]
		if y == nil {
			bnSums(sg, sgx, src, gy, mean, c0, c)
		} else {
			bnSumsReLU(sg, sgx, src, gy, y, mean, c0, c)
		}
		// gx = a*gy + b + k*(x-mean) with a = gamma*invstd,
		// b = -a*Σgy/P, k = -a*invstd*Σ(gy*xhat)/P.
		var aA, bA, kA [bnBlock]float32
		a, b, k := aA[:len(sg)], bA[:len(sg)], kA[:len(sg)]
		for j := range sg {
			ch := c0 + j
			inv := float64(saveInvStd[ch])
			sgxhat := sgx[j] * inv
			gbeta[ch] += float32(sg[j])
			ggamma[ch] += float32(sgxhat)
			av := float64(gamma[ch]) * inv
			a[j] = float32(av)
			b[j] = float32(-av * sg[j] / float64(p))
			k[j] = float32(-av * inv * sgxhat / float64(p))
		}
		if gx == nil {
			continue
		}
		if work != nil && &gx[0] != &gy[0] {
			// gx = gy*a + (b - k*mean) + src*k, in vector registers.
			wa, we, wk := work[c0:c1], work[c+c0:c+c1], work[2*c+c0:2*c+c1]
			for j := range wa {
				wa[j], wk[j] = a[j], k[j]
				we[j] = float32(float64(b[j]) - float64(k[j])*float64(mean[j]))
			}
			diagProduct(gx, gy, c, c0, wa, we, false, work[3*c:])
			diagProduct(gx, src, c, c0, wk, nil, false, work[3*c:])
			continue
		}
		b, k = b[:len(a)], k[:len(a)]
		for off := c0; off < len(src); off += c {
			x := src[off : off+len(a)]
			g := gy[off : off+len(a)]
			d := gx[off : off+len(a)]
			for j := range a {
				d[j] = a[j]*g[j] + b[j] + k[j]*(x[j]-mean[j])
			}
		}
	}
}

// bnSums adds Σ gy and Σ gy*(src-mean) over the pixels of c channels to sg
// and sgx, for the len(sg) channels from c0.
func bnSums(sg, sgx []float64, src, gy, mean []float32, c0, c int) {
	for off := c0; off < len(src); off += c {
		x := src[off : off+len(sg)]
		g := gy[off : off+len(x)]
		sg, sgx, mean := sg[:len(x)], sgx[:len(x)], mean[:len(x)]
		for j, v := range x {
			gj := float64(g[j])
			sg[j] += gj
			sgx[j] += gj * (float64(v) - float64(mean[j]))
		}
	}
}

// bnSumsReLU is bnSums of the gradient gy masked by the ReLU output y,
// which it writes back into gy. The sums run in float32 over runs of
// sumRun pixels, each run then added into the float64 sums.
func bnSumsReLU(sg, sgx []float64, src, gy, y, mean []float32, c0, c int) {
	var s32A, sx32A [bnBlock]float32
	s32, sx32 := s32A[:len(sg)], sx32A[:len(sg)]
	mean = mean[:len(sg)]
	for r0 := c0; r0 < len(src); r0 += sumRun * c {
		r1 := min(r0+sumRun*c, len(src))
		for off := r0; off < r1; off += c {
			x := src[off : off+len(s32)]
			g := gy[off : off+len(x)]
			yr := y[off : off+len(x)]
			s32, sx32, mean := s32[:len(x)], sx32[:len(x)], mean[:len(x)]
			for j, v := range x {
				m := reluGrad(g[j], yr[j])
				g[j] = m
				s32[j] += m
				sx32[j] += m * (v - mean[j])
			}
		}
		for j := range s32 {
			sg[j] += float64(s32[j])
			sgx[j] += float64(sx32[j])
		}
		clear(s32)
		clear(sx32)
	}
}

// sumRun is how many pixels the float32 partial sums of bnSumsReLU run
// over: float32 arithmetic takes no conversions in the inner loop (a
// tenth less time than float64 sums at catsep64's sizes), and over 32
// values its rounding stays within a few float32 ulps of the run's exact
// sum.
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
