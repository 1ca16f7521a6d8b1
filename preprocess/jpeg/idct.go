package jpeg

import "math"

// The inverse DCT of ITU T.81 A.3.3, for one 8×8 block of dequantised
// coefficients F(v, u) (v vertical, u horizontal frequency):
//
//	f(y, x) = Σ_v Σ_u C(v)/2·cos((2y+1)vπ/16) · C(u)/2·cos((2x+1)uπ/16) · F(v, u) + 128
//
// with C(0) = 1/√2 and C(u) = 1 otherwise. Decoding at 1/k of the size
// (k = 8/N for an N×N output block) takes output pixel (y', x') to be the
// average of the k×k pixels f(y, x) it covers. The average of a sum is the
// sum of the averages, so the pixel is the same double sum with each
// cosine replaced by its mean over the k positions:
//
//	W_N[x'][u] = C(u)/2 · (1/k) Σ_{x = kx'}^{kx'+k-1} cos((2x+1)uπ/16)
//
// Over all 64 frequencies this is exactly the k×k box average of the full
// decode, which is what the scaled IDCTs compute: an N×8 matrix instead of
// an 8×8 one, and rows of zero coefficients (most rows of a camera frame's
// block) cost nothing. Keeping only the N×N lowest frequencies, as
// decoders that scale usually do, was measured at 3 to 4 levels of mean
// error against the box average on sharp test patterns. At N = 1 every
// u > 0 averages to 0 and the pixel is F(0,0)/8 + 128; at N = 8 W_8 is the
// IDCT itself.
//
// For N = 8 and 4 the sums run in float32 and round to nearest at the
// end, clamped to [0, 255]. Each matrix is symmetric about its middle row
// up to the sign (-1)^u (W_N[N-1-x'][u] = (-1)^u W_N[x'][u]), which the 8-
// and 4-point transforms use to halve their multiplications, and which
// for N = 2 and 1 lets the Huffman decoding sum the pixels as it goes
// (sums.go).
var (
	w8 = weights(8)
	w4 = weights(4)
)

func weights(n int) [8][8]float32 {
	var w [8][8]float32
	for x := range n {
		for u := range 8 {
			w[x][u] = float32(boxWeight(n, x, u))
		}
	}
	return w
}

// boxWeight is W_n[x][u] in float64.
func boxWeight(n, x, u int) float64 {
	k := 8 / n
	cu := 0.5
	if u == 0 {
		cu = 0.5 / math.Sqrt2
	}
	var s float64
	for i := k * x; i < k*(x+1); i++ {
		s += math.Cos(float64(2*i+1) * float64(u) * math.Pi / 16)
	}
	return cu * s / float64(k)
}

// idct writes the n×n pixels (n = 8 or 4) of blk (natural order) to dst,
// rows stride bytes apart, and clears blk. last is the zigzag index of the
// block's last nonzero coefficient (0: DC only, a flat block). Smaller
// blocks are decoded through sums instead (sums.go).
func idct(dst []uint8, stride int, blk *[64]int32, n, last int) {
	if last == 0 {
		p := pixel(float32(blk[0]) * 0.125)
		blk[0] = 0
		for y := range n {
			row := dst[y*stride : y*stride+n]
			for x := range row {
				row[x] = p
			}
		}
		return
	}
	rows := int(zzRows[last&63])
	if n == 8 {
		idct8(dst, stride, blk, rows)
	} else {
		idctBox(dst, stride, blk, &w4, 4, rows)
	}
	clear(blk[:8*rows]) // the rows below are zero
}

// pixel rounds v + 128 to the nearest level in [0, 255].
func pixel(v float32) uint8 {
	v += 128.5
	if v <= 0 {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return uint8(v)
}

// idct8 is the full 8×8 inverse DCT: rows, then columns, each as an
// even part (u = 0, 2, 4, 6) and an odd part (u = 1, 3, 5, 7).
func idct8(dst []uint8, stride int, blk *[64]int32, rows int) {
	var t [64]float32 // t[8v+x]: row v transformed along x
	w := &w8
	for v := range rows {
		in := blk[8*v : 8*v+8 : 8*v+8]
		out := t[8*v : 8*v+8 : 8*v+8]
		if in[1]|in[2]|in[3]|in[4]|in[5]|in[6]|in[7] == 0 {
			if in[0] != 0 {
				c := float32(in[0]) * w[0][0]
				for x := range out {
					out[x] = c
				}
			}
			continue
		}
		f0, f1, f2, f3 := float32(in[0]), float32(in[1]), float32(in[2]), float32(in[3])
		f4, f5, f6, f7 := float32(in[4]), float32(in[5]), float32(in[6]), float32(in[7])
		for x := range 4 {
			wx := &w[x]
			e := wx[0]*f0 + wx[2]*f2 + wx[4]*f4 + wx[6]*f6
			o := wx[1]*f1 + wx[3]*f3 + wx[5]*f5 + wx[7]*f7
			out[x], out[7-x] = e+o, e-o
		}
	}
	for x := range 8 {
		f0, f1, f2, f3 := t[x], t[8+x], t[16+x], t[24+x]
		f4, f5, f6, f7 := t[32+x], t[40+x], t[48+x], t[56+x]
		for y := range 4 {
			wy := &w[y]
			e := wy[0]*f0 + wy[2]*f2 + wy[4]*f4 + wy[6]*f6
			o := wy[1]*f1 + wy[3]*f3 + wy[5]*f5 + wy[7]*f7
			dst[y*stride+x] = pixel(e + o)
			dst[(7-y)*stride+x] = pixel(e - o)
		}
	}
}

// idctBox writes the n×n box averages (n = 4 or 2) from all 64
// frequencies: rows, then columns, with the even and odd frequencies summed
// apart so that each pair of mirrored outputs costs one set of products.
func idctBox(dst []uint8, stride int, blk *[64]int32, w *[8][8]float32, n, rows int) {
	var t [32]float32 // t[4v+x']: row v averaged along x
	h := n / 2
	for v := range rows {
		in := blk[8*v : 8*v+8 : 8*v+8]
		if in[1]|in[2]|in[3]|in[4]|in[5]|in[6]|in[7] == 0 {
			if in[0] != 0 {
				c := float32(in[0]) * w[0][0]
				for x := range n {
					t[4*v+x] = c
				}
			}
			continue
		}
		f0, f1, f2, f3 := float32(in[0]), float32(in[1]), float32(in[2]), float32(in[3])
		f4, f5, f6, f7 := float32(in[4]), float32(in[5]), float32(in[6]), float32(in[7])
		for x := range h {
			wx := &w[x]
			e := wx[0]*f0 + wx[2]*f2 + wx[4]*f4 + wx[6]*f6
			o := wx[1]*f1 + wx[3]*f3 + wx[5]*f5 + wx[7]*f7
			t[4*v+x], t[4*v+n-1-x] = e+o, e-o
		}
	}
	for x := range n {
		f0, f1, f2, f3 := t[x], t[4+x], t[8+x], t[12+x]
		f4, f5, f6, f7 := t[16+x], t[20+x], t[24+x], t[28+x]
		for y := range h {
			wy := &w[y]
			e := wy[0]*f0 + wy[2]*f2 + wy[4]*f4 + wy[6]*f6
			o := wy[1]*f1 + wy[3]*f3 + wy[5]*f5 + wy[7]*f7
			dst[y*stride+x] = pixel(e + o)
			dst[(n-1-y)*stride+x] = pixel(e - o)
		}
	}
}

// idct2Uses reports whether the 2×2 box averages read row or column i of
// a block: every even frequency but 0 averages to 0 over half a block
// (cos((2x+1)uπ/16) for even u > 0 sums to 0 over x = 0…3 and 4…7), so
// only rows and columns 0, 1, 3, 5 and 7 count.
func idct2Uses(i int) bool { return i < 2 || i&1 == 1 }
