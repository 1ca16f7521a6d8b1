package conv

// The direct 3×3 depthwise kernel: every output pixel's nine taps are
// summed in vector registers across a block of channels (8 on amd64 with
// AVX2, 4 on arm64), the weights of the block held in registers for a
// whole run of pixels. It takes any stride and any padding; the taps that
// fall outside the image are switched off by a mask instead of being read,
// so the borders run in the same kernel as the interior.

// dw3Args describes one call of the 3×3 kernel: n output pixels of one
// output row, starting at y[yOff], every pixel's window with the same
// valid taps. Offsets and strides count floats. The top-left tap of pixel
// p's window is x[xOff+p*pixStep] (xOff may be negative when that tap is
// outside the image: it is then not in taps, and is never read); tap
// (r, kx) is rowStride*r + c*kx further on. Bit r*3+kx of taps says tap
// (r, kx) is inside the image; the assembly kernels take a fast path
// without tests when all nine are (taps = 0x1ff).
type dw3Args struct {
	yOff, xOff         int
	n, c               int
	rowStride, pixStep int
	taps               uint
	relu               bool
}

// dw3Generic is the plain kernel: it computes channels [c0, c1) of the
// call's pixels with exactly this loop (act(v) is 0 if relu and v < 0,
// else v):
//
//	for p := 0; p < n; p++ {
//		for ch := c0; ch < c1; ch++ {
//			s := b[ch]
//			for t := 0; t < 9; t++ {
//				if taps&(1<<t) != 0 {
//					r, kx := t/3, t%3
//					s += x[xOff+p*pixStep+r*rowStride+kx*c+ch] * w[t*c+ch]
//				}
//			}
//			y[yOff+p*c+ch] = act(s)
//		}
//	}
//
// The fast kernels are held to it within rounding (they fuse the
// multiply-adds).
func dw3Generic(y, x, w, b []float32, a dw3Args, c0, c1 int) {
	c := a.c
	for p := 0; p < a.n; p++ {
		out := y[a.yOff+p*c+c0 : a.yOff+p*c+c1]
		copy(out, b[c0:c1])
		base := a.xOff + p*a.pixStep
		for t := range 9 {
			if a.taps&(1<<t) == 0 {
				continue
			}
			o := base + (t/3)*a.rowStride + (t%3)*c
			xs := x[o+c0 : o+c1]
			ws := w[t*c+c0 : t*c+c1]
			xs, ws = xs[:len(out)], ws[:len(out)]
			for i := range out {
				out[i] += xs[i] * ws[i]
			}
		}
		if a.relu {
			reluInPlace(out)
		}
	}
}

// forward3 is forward for 3×3 kernels: each output row goes to kern (dw3
// but in tests) in runs of pixels with the same valid taps (the interior
// in one run, each border pixel alone).
func (d *DepthwiseConv2D) forward3(y, x, w, b []float32, relu bool, kern func(y, x, w, b []float32, a dw3Args)) {
	d.runs3(func(a dw3Args) {
		a.relu = relu
		kern(y, x, w, b, a)
	})
}

// backward3 is backward for 3×3 kernels, run by kern (dw3Back but in
// tests): it adds one image's weight gradient to gw and its input gradient
// to gx (skipped if nil), which the caller has cleared.
func (d *DepthwiseConv2D) backward3(gx, gw, x, w, g []float32, kern func(gx, gw, x, w, gy []float32, a dw3Args)) {
	d.runs3(func(a dw3Args) { kern(gx, gw, x, w, g, a) })
}

// dw3Kernel names one implementation of the 3×3 kernel, for tests.
type dw3Kernel struct {
	name string
	f    func(y, x, w, b []float32, a dw3Args)
}

// dw3BackGeneric is the plain backward kernel: for channels [c0, c1) of
// the call's pixels (whose gradient is gy, at the call's output offset)
// it adds the weight gradient to gw and, unless gx is nil, the input
// gradient to gx (laid out like x, at the call's input offsets), with
// exactly this loop:
//
//	for p := 0; p < n; p++ {
//		for ch := c0; ch < c1; ch++ {
//			g := gy[yOff+p*c+ch]
//			for t := 0; t < 9; t++ {
//				if taps&(1<<t) != 0 {
//					r, kx := t/3, t%3
//					i := xOff + p*pixStep + r*rowStride + kx*c + ch
//					gw[t*c+ch] += x[i] * g
//					gx[i] += w[t*c+ch] * g
//				}
//			}
//		}
//	}
//
// The fast kernels sum each call's weight gradient in registers before
// adding it to gw, so they are held to it within rounding.
func dw3BackGeneric(gx, gw, x, w, gy []float32, a dw3Args, c0, c1 int) {
	c := a.c
	for p := 0; p < a.n; p++ {
		g := gy[a.yOff+p*c+c0 : a.yOff+p*c+c1]
		base := a.xOff + p*a.pixStep
		for t := range 9 {
			if a.taps&(1<<t) == 0 {
				continue
			}
			o := base + (t/3)*a.rowStride + (t%3)*c
			axpyMul(gw[t*c+c0:t*c+c1], x[o+c0:o+c1], g)
			if gx != nil {
				axpyMul(gx[o+c0:o+c1], w[t*c+c0:t*c+c1], g)
			}
		}
	}
}

// runs3 calls f for every run of output pixels of d (3×3) whose windows
// have the same valid taps: per output row, each border pixel alone and
// the interior in one run. The dw3Args it passes have relu false.
func (d *DepthwiseConv2D) runs3(f func(a dw3Args)) {
	c, s, p := d.C, d.Stride, d.Pad
	xLo, xHi := interior(d.InW, 3, s, p, d.OutW)
	a := dw3Args{c: c, rowStride: d.InW * c, pixStep: s * c}
	cols := func(ox int) uint {
		var m uint
		for kx := range 3 {
			if ix := ox*s - p + kx; ix >= 0 && ix < d.InW {
				m |= 1 << kx
			}
		}
		return m
	}
	for oy := range d.OutH {
		y0 := oy*s - p
		var rows uint
		for r := range 3 {
			if iy := y0 + r; iy >= 0 && iy < d.InH {
				rows |= 0b111 << (3 * r)
			}
		}
		run := func(ox0, ox1 int, cols uint) {
			if ox0 >= ox1 {
				return
			}
			a.yOff = (oy*d.OutW + ox0) * c
			a.xOff = y0*a.rowStride + (ox0*s-p)*c
			a.n = ox1 - ox0
			a.taps = rows & (cols * 0b1001001)
			f(a)
		}
		for ox := 0; ox < min(xLo, d.OutW); ox++ {
			run(ox, ox+1, cols(ox))
		}
		run(xLo, xHi, 0b111)
		for ox := max(xHi, xLo); ox < d.OutW; ox++ {
			run(ox, ox+1, cols(ox))
		}
	}
}

// dw3BackKernel names one implementation of the 3×3 backward kernel, for
// tests.
type dw3BackKernel struct {
	name string
	f    func(gx, gw, x, w, gy []float32, a dw3Args)
}
