package conv

// The passes of batch norm in training over the activations, as kernels
// over a range of channels of every pixel: the batch statistics, the
// scale-and-shift with its ReLU, the gradient sums through the ReLU and
// the input gradient. The Go functions here are the reference loops; the
// assembly kernels (bnkern_amd64.s, bnkern_arm64.s) take whole vectors of
// channels across pixels, so that each channel's sums run over the pixels
// in the same order, and give the same bits: products and sums are
// rounded separately (no fused multiply-add; the explicit float32
// conversions keep Go from fusing them on arm64).
//
// Every kernel works on channels [c0, c0+n) of every pixel of c channels
// (n the length of its per-channel slices). The gradient sums run in
// float32 over runs of sumRun pixels, each run's sum then added into a
// float64 one.

// bnStatsGo adds Σ(x-shift) and Σ(x-shift)² over the pixels of src to s
// and ss, for the len(s) channels from c0, in float64 (the variance
// comes from their difference, which float32 sums would leave too
// coarse).
func bnStatsGo(s, ss []float64, src, shift []float32, c, c0 int) {
	n := len(s)
	ss, shift = ss[:n], shift[:n]
	for off := c0; off < len(src); off += c {
		x := src[off : off+n]
		for j, v := range x {
			d := float64(v) - float64(shift[j])
			s[j] += d
			ss[j] += float64(d * d)
		}
	}
}

// bnAffineGo writes dst = src*d + e, then max(·, 0) if relu, for the
// len(d) channels from c0. dst may be src.
func bnAffineGo(dst, src []float32, c, c0 int, d, e []float32, relu bool) {
	n := len(d)
	e = e[:n]
	for off := c0; off < len(src); off += c {
		x := src[off : off+n]
		y := dst[off : off+n]
		for j, v := range x {
			t := float32(v*d[j]) + e[j]
			if relu {
				t = max(t, 0)
			}
			y[j] = t
		}
	}
}

// bnGradSumsGo adds Σg and Σg·(x-mean) over the pixels of src to sg and
// sgx, for the len(sg) channels from c0, where g is the output gradient
// gy, or where y is not nil its ReLU's gradient: gy where the ReLU's
// output y > 0, else 0 (reluGrad).
func bnGradSumsGo(sg, sgx []float64, src, gy, y, mean []float32, c, c0 int) {
	n := len(sg)
	var s32A, sx32A [bnBlock]float32
	s32, sx32 := s32A[:n], sx32A[:n]
	sgx, mean = sgx[:n], mean[:n]
	for r0 := c0; r0 < len(src); r0 += sumRun * c {
		r1 := min(r0+sumRun*c, len(src))
		for off := r0; off < r1; off += c {
			x := src[off : off+n]
			g := gy[off : off+n]
			for j, v := range x {
				gj := g[j]
				if y != nil {
					gj = reluGrad(gj, y[off+j])
				}
				s32[j] += gj
				sx32[j] += float32(gj * (v - mean[j]))
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

// bnGradInputGo writes gx = (g*a + e) + x*k for the len(a) channels from
// c0, with g the gradient of bnGradSumsGo. gx may be gy (in place).
func bnGradInputGo(gx, gy, y, src []float32, c, c0 int, a, e, k []float32) {
	n := len(a)
	e, k = e[:n], k[:n]
	for off := c0; off < len(src); off += c {
		x := src[off : off+n]
		g := gy[off : off+n]
		d := gx[off : off+n]
		for j, v := range x {
			gj := g[j]
			if y != nil {
				gj = reluGrad(gj, y[off+j])
			}
			d[j] = float32(gj*a[j]) + e[j] + float32(v*k[j])
		}
	}
}

// bnKernels is one implementation of the four batch-norm kernels, with
// the arguments of their Go twins.
type bnKernels struct {
	name      string
	stats     func(s, ss []float64, src, shift []float32, c, c0 int)
	affine    func(dst, src []float32, c, c0 int, d, e []float32, relu bool)
	gradSums  func(sg, sgx []float64, src, gy, y, mean []float32, c, c0 int)
	gradInput func(gx, gy, y, src []float32, c, c0 int, a, e, k []float32)
}

// bnGoKernels is the Go implementation.
var bnGoKernels = bnKernels{"go", bnStatsGo, bnAffineGo, bnGradSumsGo, bnGradInputGo}
