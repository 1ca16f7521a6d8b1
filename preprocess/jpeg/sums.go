package jpeg

import "fmt"

// At 1/4 and 1/8 of the size (output blocks of 2×2 and 1×1 pixels) the
// inverse DCT is folded into the Huffman decoding. W_2, the matrix of
// idct2, is symmetric up to the sign, W_2[1][u] = (-1)^u·W_2[0][u], and
// W_2[0][u] is 0 for even u > 0 (idct.go), so with a_u = W_2[0][u] pixel
// (y, x) of a 2×2 block is
//
//	f(y, x) = Σ_v Σ_u F(v, u)·a_v·a_u·(-1)^(v·y)·(-1)^(u·x) + 128
//	        = S_ee + (-1)^x·S_eo + (-1)^y·S_oe + (-1)^(x+y)·S_oo + 128
//
// where S_pq sums F(v, u)·a_v·a_u over the coefficients whose row v has
// parity p and column u parity q. Each decoded coefficient is one multiply,
// by a weight that holds its dequantisation and both a's (sumWeights, one
// table per quantisation table), and one add into one of four sums: nothing
// is stored, cleared or transformed afterwards, and a coefficient idct2
// would not read has weight 0. At 1/8 the pixel is S_ee of the DC
// coefficient alone, F(0, 0)/8 + 128, and every other weight is 0.
//
// The sums are fixed point with sumBits fractional bits in int64. Rounding
// a weight moves it by at most 2^-(sumBits+1), so the 64 coefficients of a
// block (each within ±2^15) move a pixel by less than 2^-4 of a level
// before its one rounding to a level, against the float64 reference
// (TestSums).
const sumBits = 24

// sumClass[k] is the sum (0 S_ee, 1 S_eo, 2 S_oe, 3 S_oo) of the
// coefficient of zigzag index k.
var sumClass = func() (c [64]uint8) {
	for k, z := range unzig {
		c[k] = (z/8&1)<<1 | z%8&1
	}
	return c
}()

// a2 are the a_u of the 2×2 sums: W_2[0][u] in float64, 0 where idct2
// reads nothing.
var a2 = func() (a [8]float64) {
	for u := range a {
		if idct2Uses(u) {
			a[u] = boxWeight(2, 0, u)
		}
	}
	return a
}()

// sumWeights sets w to the weights of the sums for output blocks of n×n
// pixels (n = 1 or 2) and dequantisation table q (zigzag order): for
// zigzag index k of row v and column u, q[k]·a_v·a_u·2^sumBits rounded.
func sumWeights(w *[64]int64, q *[64]int32, n int) {
	const one = 1 << sumBits
	*w = [64]int64{}
	if n == 1 {
		w[0] = int64(q[0]) * one / 8 // exact
		return
	}
	for k, z := range unzig {
		v := float64(q[k]) * a2[z/8] * a2[z%8] * one
		if v < 0 {
			v -= 0.5
		} else {
			v += 0.5
		}
		w[k] = int64(v)
	}
}

// flatLUT resolves, for one DC and one AC Huffman table, the next lutBits
// bits of the scan when they hold a whole flat block: a DC code, its
// difference bits and EOB. Its entries are resolved(total, 0, 0, DC
// difference), or 0. Most blocks of a camera frame are flat; this takes
// one lookup for them instead of two.
type flatLUT struct {
	dc, ac *huffTable
	gen    uint64 // Decoder.hgen when built
	lut    [1 << lutBits]lutEntry
}

func (f *flatLUT) build(dc, ac *huffTable, gen uint64) {
	f.dc, f.ac, f.gen = dc, ac, gen
	for i, e := range dc.lut {
		f.lut[i] = 0
		if t := e.total(); t != 0 {
			// When EOB fits in the bits after the DC difference, its entry
			// does not depend on the bits after those.
			a := ac.lut[i<<t&(1<<lutBits-1)]
			if a.total() != 0 && a.sym() == eobRun && t+a.codeLen() <= lutBits {
				f.lut[i] = resolved(t+a.codeLen(), 0, 0, e.value())
			}
		}
	}
}

// flatFor returns the flatLUT of a DC and an AC table, building it in
// d.flat[slot] unless one of d.flat already holds it.
func (d *Decoder) flatFor(dc, ac *huffTable, slot int) *flatLUT {
	for i := range d.flat {
		if f := &d.flat[i]; f.dc == dc && f.ac == ac && f.gen == d.hgen {
			return f
		}
	}
	d.flat[slot].build(dc, ac, d.hgen)
	return &d.flat[slot]
}

// sumBlock is one block of an MCU as scanSums decodes it.
type sumBlock struct {
	c        *component
	w        *[64]int64 // the weights of its quantisation table
	dct, act *huffTable
	flat     *flatLUT
	plane    []uint8
	stride   int
	// Its top left pixel in plane is at my·mcuRow + off + mx·mcuCol for
	// MCU (mx, my).
	mcuRow, mcuCol, off int
}

// scanSums is scan for n = 1 and 2: it decodes each block's coefficients
// (F.2.2) as block does, but adds them into the four sums above as they
// come, and writes each block's n×n pixels from them.
func (d *Decoder) scanSums(n int, stride *[3]int) error {
	var blocks [10]sumBlock // A.2.2: at most 10 blocks an MCU (here 6)
	nb := 0
	for i := range d.ncomp {
		c := &d.comp[i]
		sumWeights(&d.wsum[c.tq], &d.qt[c.tq], n)
		st := stride[i]
		for v := range c.v {
			for h := range c.h {
				blocks[nb] = sumBlock{c: c, w: &d.wsum[c.tq], dct: d.huff[0][c.td], act: d.huff[1][c.ta], flat: d.flatFor(d.huff[0][c.td], d.huff[1][c.ta], i),
					plane: d.planes[i], stride: st, mcuRow: c.v * st * n, mcuCol: c.h * n, off: (v*st + h) * n}
				nb++
			}
		}
	}
	var pos [10]int // of each block of the MCU in its plane
	cls := &sumClass
	acc, bits := uint64(0), uint(0) // the bit reader, as d.acc and d.n
	rst := 0
	for my := range d.mcusY {
		for bi := range blocks[:nb] {
			pos[bi] = my*blocks[bi].mcuRow + blocks[bi].off
		}
		for mx := range d.mcusX {
			if d.ri > 0 && (my*d.mcusX+mx) > 0 && (my*d.mcusX+mx)%d.ri == 0 {
				if err := d.restart(rst); err != nil {
					return err
				}
				acc, bits = 0, 0
				rst = (rst + 1) & 7
			}
			for bi := range blocks[:nb] {
				b := &blocks[bi]
				c, w := b.c, b.w
				dst := b.plane[pos[bi]:]
				pos[bi] += b.mcuCol
				if bits < 32 {
					var ok bool
					if acc, bits, d.pos, ok = fill8(d.data, d.pos, acc, bits); !ok {
						acc, bits = d.refill(acc, bits)
					}
				}
				const bias = 128<<sumBits + 1<<(sumBits-1) // 128, and rounding half up
				if f := b.flat.lut[acc>>(64-lutBits)]; f != 0 && d.eobRun == 0 {
					acc <<= f & 63
					bits -= f.total()
					c.pred += f.value()
					p := level(int64(c.pred)*w[0] + bias)
					if n == 1 {
						dst[0] = p
						continue
					}
					d0, d1 := dst[:2:2], dst[b.stride:b.stride+2:b.stride+2]
					d0[0], d0[1], d1[0], d1[1] = p, p, p, p
					continue
				}
				// DC: the size category, then that many bits of difference.
				if e := b.dct.lut[acc>>(64-lutBits)]; e.total() != 0 {
					acc <<= e & 63
					bits -= e.total()
					c.pred += e.value()
				} else {
					var diff int32
					var err error
					if acc, bits, diff, err = dcDiff(b.dct, e, acc, bits); err != nil {
						return d.mcuErr(err, my, mx, b)
					}
					c.pred += diff
				}
				dc := int64(c.pred)*w[0] + bias

				// AC: run/size symbols until EOB or the last coefficient.
				var e lutEntry
				flat := d.eobRun > 0 // within a run of blocks without AC coefficients
				if flat {
					d.eobRun--
				} else {
					if bits < 32 {
						var ok bool
						if acc, bits, d.pos, ok = fill8(d.data, d.pos, acc, bits); !ok {
							acc, bits = d.refill(acc, bits)
						}
					}
					e = b.act.lut[acc>>(64-lutBits)]
					if e.total() != 0 && e.sym() == eobRun {
						// EOB first: a flat block, the most common kind in
						// a camera frame.
						acc <<= e.codeLen()
						bits -= e.codeLen()
						flat = true
					}
				}
				if flat {
					p := level(dc)
					if n == 1 {
						dst[0] = p
						continue
					}
					d0, d1 := dst[:2:2], dst[b.stride:b.stride+2:b.stride+2]
					d0[0], d0[1], d1[0], d1[1] = p, p, p, p
					continue
				}
				sum := [4]int64{dc}
				act := b.act
				for k := 1; ; {
					if e.total() != 0 {
						// Code and extra bits resolved by the table (or EOB,
						// or ZRL as 15 zeros and a zero).
						k += int(e.sym())
						if k > 63 {
							// EOB, or a run past the end: stop there without
							// reading the extra bits, as block does.
							acc <<= e.codeLen()
							bits -= e.codeLen()
							break
						}
						acc <<= e & 63
						bits -= e.total()
						sum[cls[k&63]&3] += int64(e.value()) * w[k&63]
						k++
					} else {
						var sym uint8
						if e != 0 {
							acc <<= e.codeLen()
							bits -= e.codeLen()
							sym = e.sym()
						} else {
							var l uint
							var ok bool
							if sym, l, ok = slowCode(act, acc); !ok {
								return d.mcuErr(formatErr("bad Huffman code"), my, mx, b)
							}
							acc <<= l
							bits -= l
						}
						r, s := int(sym>>4), uint(sym&15)
						if s == 0 {
							if r != 15 {
								if r != 0 {
									// A progressive scan's run of blocks
									// without AC coefficients, as in block.
									d.eobRun = uint16(1<<r|acc>>(64-uint(r))) - 1
									acc <<= uint(r)
									bits -= uint(r)
								}
								break // EOB
							}
							k += 16 // ZRL
						} else {
							k += r
							if k > 63 {
								break
							}
							v := extend(int32(acc>>(64-s)), s)
							acc <<= s
							bits -= s
							sum[cls[k]&3] += int64(v) * w[k]
							k++
						}
					}
					if k > 63 {
						break
					}
					if bits < 32 {
						var ok bool
						if acc, bits, d.pos, ok = fill8(d.data, d.pos, acc, bits); !ok {
							acc, bits = d.refill(acc, bits)
						}
					}
					e = act.lut[acc>>(64-lutBits)]
				}
				if n == 1 {
					dst[0] = level(sum[0])
					continue
				}
				e0, e1 := sum[0]+sum[2], sum[0]-sum[2] // rows 0 and 1, even columns
				o0, o1 := sum[1]+sum[3], sum[1]-sum[3] // odd columns
				d0, d1 := dst[:2:2], dst[b.stride:b.stride+2:b.stride+2]
				d0[0], d0[1] = level(e0+o0), level(e0-o0)
				d1[0], d1[1] = level(e1+o1), level(e1-o1)
			}
			// The MCU must not have used the zeros put in place of missing
			// data after the segment's end.
			if bits < 8*uint(d.pad) {
				return formatErr("entropy-coded data ends inside MCU %d of %dx%d (truncated or corrupt frame)", my*d.mcusX+mx, d.mcusX, d.mcusY)
			}
		}
	}
	return nil
}

// mcuErr adds to err where in the scan it happened: MCU (mx, my), and the
// component of block b.
func (d *Decoder) mcuErr(err error, my, mx int, b *sumBlock) error {
	i := 0
	for i < d.ncomp && &d.comp[i] != b.c {
		i++
	}
	return fmt.Errorf("%w (MCU %d of %dx%d, component %d)", err, my*d.mcusX+mx, d.mcusX, d.mcusY, i)
}

// level rounds down a sum of sumBits fractional bits and clamps it to
// [0, 255] (with a branch: most pixels need no clamping).
func level(v int64) uint8 {
	v >>= sumBits
	if uint64(v) > 255 {
		v = ^(v >> 63) & 255
	}
	return uint8(v)
}
