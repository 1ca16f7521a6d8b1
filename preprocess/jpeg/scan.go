package jpeg

import (
	"encoding/binary"
	"fmt"
	"image"
	"slices"
)

// unzig maps the zigzag index of a coefficient (the order of the scan and
// of DQT) to its index in natural row-major order (ITU T.81 Figure A.6).
var unzig = [64]uint8{
	0, 1, 8, 16, 9, 2, 3, 10,
	17, 24, 32, 25, 18, 11, 4, 5,
	12, 19, 26, 33, 40, 48, 41, 34,
	27, 20, 13, 6, 7, 14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36,
	29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46,
	53, 60, 61, 54, 47, 55, 62, 63,
}

// Decode decodes the scan of the frame DecodeHeader read, at 1/scale of
// its size in each direction (scale 1, 2, 4 or 8; other values panic).
// The image is ceil(Width/scale) × ceil(Height/scale) pixels: an
// *image.YCbCr for colour frames, an *image.Gray for greyscale ones. It
// and its pixels belong to d and stay valid until the next call of
// DecodeHeader. Each pixel at a reduced scale is the average of the
// scale×scale pixels of the full decode it stands for, computed in the DCT
// domain (idct.go; at 1/4 and 1/8 while the Huffman codes are decoded,
// sums.go).
func (d *Decoder) Decode(scale int) (image.Image, error) {
	n := 8 / scale
	if scale < 1 || scale > 8 || n*scale != 8 {
		panic(fmt.Sprintf("jpeg: scale %d: want 1, 2, 4 or 8", scale))
	}
	if !d.ready {
		return nil, formatErr("Decode without a header")
	}
	d.ready = false
	var stride [3]int
	for i := range d.ncomp {
		c := &d.comp[i]
		stride[i] = d.mcusX * c.h * n
		d.planes[i] = grow(d.planes[i], stride[i]*d.mcusY*c.v*n)
		c.pred = 0
	}
	if err := d.scan(n, &stride); err != nil {
		return nil, err
	}
	r := image.Rect(0, 0, (d.cfg.Width+scale-1)/scale, (d.cfg.Height+scale-1)/scale)
	if d.ncomp == 1 {
		d.gray = image.Gray{Pix: d.planes[0], Stride: stride[0], Rect: r}
		return &d.gray, nil
	}
	d.ycc = image.YCbCr{Y: d.planes[0], Cb: d.planes[1], Cr: d.planes[2], YStride: stride[0], CStride: stride[1],
		SubsampleRatio: d.cfg.Subsample, Rect: r}
	return &d.ycc, nil
}

// grow returns b resized to n bytes, reusing its memory when it can.
func grow(b []uint8, n int) []uint8 {
	if cap(b) < n {
		return slices.Grow(b[:0], n)[:n]
	}
	return b[:n]
}

// scan decodes the entropy-coded segment MCU by MCU, each block straight
// into its component's plane as n×n pixels.
func (d *Decoder) scan(n int, stride *[3]int) error {
	d.acc, d.n, d.pad, d.eobRun = 0, 0, 0, 0
	if n <= 2 {
		return d.scanSums(n, stride)
	}
	rst := 0
	for my := range d.mcusY {
		for mx := range d.mcusX {
			if d.ri > 0 && (my*d.mcusX+mx) > 0 && (my*d.mcusX+mx)%d.ri == 0 {
				if err := d.restart(rst); err != nil {
					return err
				}
				rst = (rst + 1) & 7
			}
			for i := range d.ncomp {
				c := &d.comp[i]
				q, dct, act := &d.qt[c.tq], d.huff[0][c.td], d.huff[1][c.ta]
				plane, st := d.planes[i], stride[i]
				for v := range c.v {
					for h := range c.h {
						off := ((my*c.v+v)*st + mx*c.h + h) * n
						last, err := d.block(c, q, dct, act)
						if err != nil {
							return fmt.Errorf("%w (MCU %d of %dx%d, component %d)", err, my*d.mcusX+mx, d.mcusX, d.mcusY, i)
						}
						if d.inspect != nil {
							d.inspect(&d.blk)
						}
						idct(plane[off:], st, &d.blk, n, last)
					}
				}
			}
			// The MCU must not have used the zeros put in place of missing
			// data after the segment's end.
			if d.n < 8*uint(d.pad) {
				return formatErr("entropy-coded data ends inside MCU %d of %dx%d (truncated or corrupt frame)", my*d.mcusX+mx, d.mcusX, d.mcusY)
			}
		}
	}
	return nil
}

// restart goes past the RSTn marker that ends a restart interval (F.1.2.3)
// and resets the bit reader and the DC predictions. As in image/jpeg, data
// before the marker is skipped; another marker is an error.
func (d *Decoder) restart(want int) error {
	for {
		if d.pos+1 >= len(d.data) {
			return formatErr("missing RST%d marker (truncated frame)", want)
		}
		if d.data[d.pos] != 0xFF {
			d.pos++
			continue
		}
		m := d.data[d.pos+1]
		switch {
		case m == mRST0+byte(want):
			d.pos += 2
			d.acc, d.n, d.pad, d.eobRun = 0, 0, 0, 0
			for i := range d.ncomp {
				d.comp[i].pred = 0
			}
			return nil
		case m == 0xFF:
			d.pos++
		case m == 0x00:
			d.pos += 2
		default:
			return formatErr("marker 0xff%02x where RST%d was expected", m, want)
		}
	}
}

// refill adds bytes of entropy-coded data to the bit buffer acc (n valid
// bits, most significant first) until it holds more than 56 bits. Stuffed
// 0xFF00 is 0xFF; at a marker or the end of data it adds zero bytes
// instead, counted in d.pad, and stays there. The common case, 8 bytes
// without 0xFF, is done inline in block (see fill8).
func (d *Decoder) refill(acc uint64, n uint) (uint64, uint) {
	data, pos := d.data, d.pos
	for n <= 56 {
		var b uint64
		switch {
		case pos >= len(data):
			d.pad++
		case data[pos] != 0xFF:
			b = uint64(data[pos])
			pos++
		case pos+1 < len(data) && data[pos+1] == 0x00:
			b = 0xFF
			pos += 2
		default:
			d.pad++ // a marker (or fill bytes before one)
		}
		acc |= b << (56 - n)
		n += 8
	}
	d.pos = pos
	return acc, n
}

// fill8 is refill's fast path: when the next 8 bytes hold no 0xFF, it
// loads as many whole bytes as fit in acc at once.
func fill8(data []byte, pos int, acc uint64, n uint) (uint64, uint, int, bool) {
	if pos+8 > len(data) {
		return acc, n, pos, false
	}
	v := binary.BigEndian.Uint64(data[pos:])
	if x := ^v; (x-0x0101010101010101)&^x&0x8080808080808080 != 0 {
		return acc, n, pos, false
	}
	k := (64 - n) >> 3
	return acc | v>>(64-8*k)<<(64-n-8*k), n + 8*k, pos + int(k), true
}

// zzRows[k] is the number of coefficient rows that hold the coefficients
// of zigzag index 0…k: for a block whose last coefficient is k, the rows
// below them are zero.
var zzRows = func() (r [64]uint8) {
	var mr uint8
	for k, z := range unzig {
		mr = max(mr, z/8+1)
		r[k] = mr
	}
	return r
}()

// block decodes one block's coefficients (F.2.2) into d.blk, dequantised,
// in natural order, and returns the zigzag index of the last one (0 when
// only DC). d.blk must be zero on entry, and is zero again after idct.
func (d *Decoder) block(c *component, q *[64]int32, dct, act *huffTable) (int, error) {
	acc, n := d.acc, d.n
	if n < 32 {
		var ok bool
		if acc, n, d.pos, ok = fill8(d.data, d.pos, acc, n); !ok {
			acc, n = d.refill(acc, n)
		}
	}
	// DC: the size category, then that many bits of difference.
	if e := dct.lut[acc>>(64-lutBits)]; e.total() != 0 {
		acc <<= e & 63
		n -= e.total()
		c.pred += e.value()
	} else {
		var diff int32
		var err error
		if acc, n, diff, err = dcDiff(dct, e, acc, n); err != nil {
			d.acc, d.n = acc, n
			return 0, err
		}
		c.pred += diff
	}
	blk := &d.blk
	blk[0] = c.pred * q[0]

	// AC: run/size symbols until EOB or the last coefficient.
	if d.eobRun > 0 {
		d.eobRun--
		d.acc, d.n = acc, n
		return 0, nil
	}
	last := 0
	for k := 1; k < 64; {
		if n < 32 {
			var ok bool
			if acc, n, d.pos, ok = fill8(d.data, d.pos, acc, n); !ok {
				acc, n = d.refill(acc, n)
			}
		}
		e := act.lut[acc>>(64-lutBits)]
		if e.total() != 0 {
			// Code and extra bits resolved by the table (or EOB, or ZRL
			// as 15 zeros and a zero).
			k += int(e.sym())
			if k > 63 {
				// EOB, or a run past the end: image/jpeg stops the block
				// there without reading the extra bits; so does this.
				acc <<= e.codeLen()
				n -= e.codeLen()
				break
			}
			acc <<= e & 63
			n -= e.total()
			blk[unzig[k&63]&63] = e.value() * q[k&63]
			last = k
			k++
			continue
		}
		var sym uint8
		if e != 0 {
			acc <<= e.codeLen()
			n -= e.codeLen()
			sym = e.sym()
		} else {
			var l uint
			var ok bool
			if sym, l, ok = slowCode(act, acc); !ok {
				d.acc, d.n = acc, n
				return 0, formatErr("bad Huffman code")
			}
			acc <<= l
			n -= l
		}
		r, s := int(sym>>4), uint(sym&15)
		if s == 0 {
			if r == 15 {
				k += 16 // ZRL
				continue
			}
			if r != 0 {
				// Not a baseline symbol: a progressive scan's run of
				// 2^r + (r bits) - 1 more blocks without AC coefficients.
				// image/jpeg reads it so in any scan; so does this.
				d.eobRun = uint16(1<<r|acc>>(64-uint(r))) - 1
				acc <<= uint(r)
				n -= uint(r)
			}
			break // EOB
		}
		k += r
		if k > 63 {
			break
		}
		v := extend(int32(acc>>(64-s)), s)
		acc <<= s
		n -= s
		blk[unzig[k]&63] = v * q[k]
		last = k
		k++
	}
	d.acc, d.n = acc, n
	return last, nil
}

// dcDiff decodes a DC difference that entry e of t.lut did not resolve
// (F.2.2.1): a code of e's length and symbol, or longer than lutBits when
// e is 0, then its extra bits. acc holds at least 32 valid bits, n of them.
func dcDiff(t *huffTable, e lutEntry, acc uint64, n uint) (uint64, uint, int32, error) {
	var s uint
	if e != 0 {
		acc <<= e.codeLen()
		n -= e.codeLen()
		s = uint(e.sym())
	} else {
		sym, l, ok := slowCode(t, acc)
		if !ok {
			return acc, n, 0, formatErr("bad Huffman code")
		}
		acc <<= l
		n -= l
		s = uint(sym)
	}
	if s > 16 {
		return acc, n, 0, unsupported(fmt.Sprintf("DC difference of %d bits", s))
	}
	if s == 0 {
		return acc, n, 0, nil
	}
	return acc << s, n - s, extend(int32(acc>>(64-s)), s), nil
}

// slowCode decodes a code longer than lutBits from the top 16 bits of acc
// (F.2.2.3), returning its symbol and length, or !ok for a bit pattern that
// is no code.
func slowCode(t *huffTable, acc uint64) (sym uint8, l uint, ok bool) {
	c := uint32(acc >> 48)
	for l := lutBits + 1; l <= 16; l++ {
		if c < t.maxcode[l] {
			i := t.valptr[l] + int32(c>>(16-l)) - t.mincode[l]
			return t.vals[uint8(i)], uint(l), true
		}
	}
	return 0, 0, false
}
