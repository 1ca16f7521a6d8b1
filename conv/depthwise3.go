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
// but in tests)
// in runs of pixels with the same valid taps (the interior in one run, each
// border pixel alone).
func (d *DepthwiseConv2D) forward3(y, x, w, b []float32, relu bool, kern func(y, x, w, b []float32, a dw3Args)) {
	c, s, p := d.C, d.Stride, d.Pad
	xLo, xHi := interior(d.InW, 3, s, p, d.OutW)
	a := dw3Args{c: c, rowStride: d.InW * c, pixStep: s * c, relu: relu}
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
			kern(y, x, w, b, a)
		}
		// Border pixels one at a time, each with its own columns.
		cols := func(ox int) uint {
			var m uint
			for kx := range 3 {
				if ix := ox*s - p + kx; ix >= 0 && ix < d.InW {
					m |= 1 << kx
				}
			}
			return m
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

// dw3Kernel names one implementation of the 3×3 kernel, for tests.
type dw3Kernel struct {
	name string
	f    func(y, x, w, b []float32, a dw3Args)
}
