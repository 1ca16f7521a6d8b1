// Package jpeg decodes the baseline JPEG frames of MJPEG cameras for
// package preprocess, straight at 1/1, 1/2, 1/4 or 1/8 of their size in the
// DCT domain, into planes it reuses from frame to frame: after the first
// frame of a given size it allocates nothing.
//
// It lives under preprocess because it is one half of the frame path: a
// camera frame goes from JPEG bytes to the model's input pixels, and the
// scale is chosen by the resize that follows (the smallest decode that
// still covers the model input over the region of interest, see
// preprocess.Resizer.JPEG). It is not a general JPEG package: it reads what
// cameras send, Huffman-coded sequential 8-bit JPEG (SOF0, SOF1) with one
// interleaved scan, greyscale or Y'CbCr 4:4:4, 4:2:2, 4:4:0 and 4:2:0,
// restart markers, and frames without Huffman tables (UVC webcams leave
// out the standard tables of ITU T.81 Annex K.3, which are then assumed).
// Everything else, progressive, arithmetic-coded, 12-bit, lossless, CMYK,
// RGB or multi-scan files, gives an error wrapping ErrUnsupported, and the
// caller decodes it with image/jpeg instead. Corrupt and truncated data
// give other errors; no input makes it panic.
//
// The reference is ITU T.81 (ISO/IEC 10918-1): marker syntax (Annex B),
// Huffman tables (Annex C, F.2.2.3), and the inverse DCT (A.3.3), which
// is evaluated at the centres of the coarser pixel grid when scaling (see
// idct.go).
package jpeg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"image"
)

// ErrUnsupported is wrapped by the errors of Decoder.DecodeHeader for valid
// JPEG files that this package does not decode (progressive, arithmetic
// coding, 12-bit samples, CMYK, RGB, several scans…); image/jpeg may.
var ErrUnsupported = errors.New("unsupported JPEG")

// ErrTooLarge is wrapped by the error for a frame of more pixels than
// Decoder.MaxPixels.
var ErrTooLarge = errors.New("too large")

// DefaultMaxPixels is the limit when Decoder.MaxPixels is 0: as for images
// that catd reads (dataset.DefaultMaxPixels).
const DefaultMaxPixels = 40_000_000

// Config describes the frame DecodeHeader read.
type Config struct {
	Width, Height int // pixels, at full size
	Components    int // 1 (greyscale) or 3 (Y'CbCr)
	// Subsample is the chroma subsampling of a Y'CbCr frame (4:4:4, 4:2:2,
	// 4:4:0 or 4:2:0); 4:4:4 for greyscale.
	Subsample image.YCbCrSubsampleRatio
}

// Decoder decodes frames one after the other, keeping its tables and
// planes. The zero value is ready to use. It is not safe for concurrent use.
type Decoder struct {
	// MaxPixels refuses frames of more pixels (0: DefaultMaxPixels).
	MaxPixels int

	data []byte // the frame being decoded
	pos  int    // next unread byte of data

	cfg   Config
	ncomp int
	comp  [3]component
	hmax  int // largest horizontal and vertical sampling factors
	vmax  int
	mcusX int
	mcusY int
	ri    int // restart interval in MCUs (0: none)
	qt    [4][64]int32
	qset  [4]bool
	// Huffman tables by class (0 DC, 1 AC) and id: those of the frame's
	// DHT segments, or nil. A table is rebuilt only when its segment's
	// bytes differ from the last ones (a camera sends the same each frame).
	huff    [2][4]*huffTable
	built   [2][4]huffTable
	spec    [2][4][16 + 256]byte
	specLen [2][4]int
	jfif    bool
	adobe   bool
	ready   bool // a header was read and its scan not yet decoded

	// The scan's bit reader (scan.go).
	acc uint64 // bits, most significant first
	n   uint   // valid bits in acc
	pad int    // zero bytes added past the end of the entropy-coded segment
	// Blocks whose AC coefficients are all zero still to come (an EOBn
	// symbol, which baseline frames do not use).
	eobRun uint16

	// blk holds one block's coefficients, natural order (scales 1/1 and
	// 1/2).
	blk [64]int32
	// wsum holds the weights of scanSums by quantisation table (scales
	// 1/4 and 1/8), set by Decode.
	wsum [4][64]int64
	// flat holds scanSums' tables of flat blocks, for up to 3 pairs of
	// Huffman tables; hgen counts the Huffman tables built, which makes
	// those of the tables before out of date.
	flat [3]flatLUT
	hgen uint64

	// inspect, when set (by tests), sees each block's dequantised
	// coefficients before its inverse DCT, at 1/1 and 1/2 (at 1/4 and 1/8
	// no block is stored).
	inspect func(blk *[64]int32)

	planes [3][]uint8
	ycc    image.YCbCr
	gray   image.Gray
}

// component is one image component of the frame and its scan setup.
type component struct {
	id     uint8
	h, v   int // sampling factors
	tq     int // quantisation table
	td, ta int // DC and AC Huffman tables of the scan
	pred   int32
}

// Markers (ITU T.81 Table B.1).
const (
	mSOF0 = 0xC0
	mSOF1 = 0xC1
	mDHT  = 0xC4
	mRST0 = 0xD0
	mSOI  = 0xD8
	mEOI  = 0xD9
	mSOS  = 0xDA
	mDQT  = 0xDB
	mDNL  = 0xDC
	mDRI  = 0xDD
	mAPP0 = 0xE0
	mAPPE = 0xEE
)

func formatErr(format string, args ...any) error {
	return fmt.Errorf("jpeg: "+format, args...)
}

func unsupported(what string) error {
	return fmt.Errorf("jpeg: %s: %w", what, ErrUnsupported)
}

// DecodeHeader reads data's markers up to its first scan: the frame
// header, quantisation and Huffman tables, the restart interval. data is
// kept, unchanged, until Decode or the next DecodeHeader; the caller must
// not change it in between.
func (d *Decoder) DecodeHeader(data []byte) (Config, error) {
	d.data, d.pos, d.ready = data, 0, false
	d.cfg, d.ncomp, d.ri, d.jfif, d.adobe = Config{}, 0, 0, false, false
	d.qset, d.huff = [4]bool{}, [2][4]*huffTable{}
	if len(data) < 2 || data[0] != 0xFF || data[1] != mSOI {
		return Config{}, formatErr("missing SOI marker")
	}
	d.pos = 2
	for {
		m, err := d.marker()
		if err != nil {
			return Config{}, err
		}
		switch {
		case m == mEOI:
			return Config{}, formatErr("EOI before any scan")
		case m >= mRST0 && m <= mRST0+7:
			// Stand-alone; out of place here, but image/jpeg passes over
			// them too.
			continue
		}
		if d.pos+2 > len(data) {
			return Config{}, formatErr("truncated marker 0xff%02x", m)
		}
		n := int(binary.BigEndian.Uint16(data[d.pos:]))
		if n < 2 || d.pos+n > len(data) {
			return Config{}, formatErr("marker 0xff%02x: length %d runs past the %d-byte frame", m, n, len(data))
		}
		seg := data[d.pos+2 : d.pos+n]
		d.pos += n
		switch {
		case m == mSOF0 || m == mSOF1:
			if d.ncomp != 0 {
				return Config{}, formatErr("second frame header")
			}
			err = d.frameHeader(seg)
		case m >= 0xC0 && m <= 0xCF && m != mDHT && m != 0xC8 && m != 0xCC:
			return Config{}, unsupported(sofName(m))
		case m == 0xCC:
			return Config{}, unsupported("arithmetic coding conditioning (DAC)")
		case m == mDHT:
			err = d.huffmanTables(seg)
		case m == mDQT:
			err = d.quantTables(seg)
		case m == mDRI:
			if len(seg) != 2 {
				return Config{}, formatErr("DRI of length %d", len(seg)+2)
			}
			d.ri = int(binary.BigEndian.Uint16(seg))
		case m == mAPP0:
			d.jfif = d.jfif || len(seg) >= 5 && string(seg[:5]) == "JFIF\x00"
		case m == mAPPE:
			d.adobe = d.adobe || len(seg) >= 5 && string(seg[:5]) == "Adobe"
		case m == mDNL:
			return Config{}, unsupported("DNL marker")
		case m == mSOS:
			if d.ncomp == 0 {
				return Config{}, formatErr("scan before the frame header")
			}
			if err := d.scanHeader(seg); err != nil {
				return Config{}, err
			}
			d.ready = true
			return d.cfg, nil
		}
		// Other APPn, COM, JPG and reserved markers are skipped.
		if err != nil {
			return Config{}, err
		}
	}
}

// marker reads the next marker code at d.pos, skipping fill bytes. Like
// image/jpeg (and libjpeg), it passes over stray bytes before a marker,
// 0xFF00 included.
func (d *Decoder) marker() (byte, error) {
	data := d.data
	for {
		for d.pos < len(data) && data[d.pos] != 0xFF {
			d.pos++
		}
		for d.pos+1 < len(data) && data[d.pos+1] == 0xFF {
			d.pos++
		}
		if d.pos+1 >= len(data) {
			return 0, formatErr("truncated before the first scan (%d bytes)", len(data))
		}
		m := data[d.pos+1]
		d.pos += 2
		if m != 0 {
			return m, nil
		}
	}
}

func sofName(m byte) string {
	switch m {
	case 0xC2:
		return "progressive JPEG (SOF2)"
	case 0xC3:
		return "lossless JPEG (SOF3)"
	case 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF:
		return fmt.Sprintf("arithmetic-coded JPEG (SOF%d)", m-0xC0)
	}
	return fmt.Sprintf("hierarchical JPEG (SOF%d)", m-0xC0)
}

// frameHeader reads SOF0/SOF1 (ITU T.81 B.2.2).
func (d *Decoder) frameHeader(seg []byte) error {
	if len(seg) < 6 {
		return formatErr("frame header of %d bytes", len(seg))
	}
	if seg[0] != 8 {
		return unsupported(fmt.Sprintf("%d-bit samples", seg[0]))
	}
	h, w := int(binary.BigEndian.Uint16(seg[1:])), int(binary.BigEndian.Uint16(seg[3:]))
	nc := int(seg[5])
	if h == 0 {
		return unsupported("height defined by DNL")
	}
	if w == 0 {
		return formatErr("frame of width 0")
	}
	max := d.MaxPixels
	if max <= 0 {
		max = DefaultMaxPixels
	}
	if int64(w)*int64(h) > int64(max) {
		return fmt.Errorf("jpeg: frame of %dx%d pixels is over the limit of %d pixels: %w", w, h, max, ErrTooLarge)
	}
	if nc != 1 && nc != 3 {
		if nc == 4 {
			return unsupported("4 components (CMYK or YCCK)")
		}
		return formatErr("frame with %d components", nc)
	}
	if len(seg) != 6+3*nc {
		return formatErr("frame header of %d bytes for %d components", len(seg), nc)
	}
	d.ncomp = nc
	for i := range nc {
		p := seg[6+3*i:]
		c := &d.comp[i]
		c.id, c.h, c.v, c.tq = p[0], int(p[1]>>4), int(p[1]&15), int(p[2])
		if c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4 || c.tq > 3 {
			return formatErr("component %d: sampling %dx%d, quantisation table %d", i, c.h, c.v, c.tq)
		}
		for j := range i {
			if d.comp[j].id == c.id {
				return formatErr("component id %d repeated", c.id)
			}
		}
	}
	d.cfg = Config{Width: w, Height: h, Components: nc, Subsample: image.YCbCrSubsampleRatio444}
	if nc == 1 {
		// One component is one non-interleaved scan: its MCU is one block
		// whatever the sampling factors say (A.2.2).
		d.comp[0].h, d.comp[0].v = 1, 1
	} else {
		y, cb, cr := d.comp[0], d.comp[1], d.comp[2]
		if cb.h != 1 || cb.v != 1 || cr.h != 1 || cr.v != 1 || y.h > 2 || y.v > 2 {
			return unsupported(fmt.Sprintf("sampling factors %dx%d, %dx%d, %dx%d", y.h, y.v, cb.h, cb.v, cr.h, cr.v))
		}
		d.cfg.Subsample = [2][2]image.YCbCrSubsampleRatio{
			{image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio440},
			{image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420},
		}[y.h-1][y.v-1]
	}
	d.hmax, d.vmax = d.comp[0].h, d.comp[0].v
	d.mcusX = (w + 8*d.hmax - 1) / (8 * d.hmax)
	d.mcusY = (h + 8*d.vmax - 1) / (8 * d.vmax)
	return nil
}

// quantTables reads DQT (B.2.4.1); tables are kept in zigzag order.
func (d *Decoder) quantTables(seg []byte) error {
	for len(seg) > 0 {
		pq, tq := seg[0]>>4, int(seg[0]&15)
		if pq > 1 || tq > 3 {
			return formatErr("DQT precision %d, table %d", pq, tq)
		}
		n := 64 << pq
		if len(seg) < 1+n {
			return formatErr("DQT table %d truncated", tq)
		}
		q := &d.qt[tq]
		for k := range 64 {
			if pq == 0 {
				q[k] = int32(seg[1+k])
			} else {
				q[k] = int32(binary.BigEndian.Uint16(seg[1+2*k:]))
			}
		}
		d.qset[tq] = true
		seg = seg[1+n:]
	}
	return nil
}

// huffmanTables reads DHT (B.2.4.2).
func (d *Decoder) huffmanTables(seg []byte) error {
	for len(seg) > 0 {
		if len(seg) < 17 {
			return formatErr("DHT truncated")
		}
		tc, th := seg[0]>>4, int(seg[0]&15)
		if tc > 1 || th > 3 {
			return formatErr("DHT class %d, table %d", tc, th)
		}
		var counts [16]uint8
		copy(counts[:], seg[1:17])
		total := 0
		for _, c := range counts {
			total += int(c)
		}
		if total == 0 || total > 256 || len(seg) < 17+total {
			return formatErr("DHT table %d/%d: %d codes in %d bytes", tc, th, total, len(seg)-17)
		}
		spec := seg[1 : 17+total]
		if d.specLen[tc][th] != len(spec) || string(d.spec[tc][th][:len(spec)]) != string(spec) {
			d.specLen[tc][th] = 0
			d.hgen++
			if err := d.built[tc][th].build(&counts, seg[17:17+total], tc == 1); err != nil {
				return formatErr("DHT table %d/%d: %v", tc, th, err)
			}
			d.specLen[tc][th] = copy(d.spec[tc][th][:], spec)
		}
		d.huff[tc][th] = &d.built[tc][th]
		seg = seg[17+total:]
	}
	return nil
}

// scanHeader reads SOS (B.2.3). Only one scan of every component, in the
// frame's order, is supported; frames without Huffman tables get those of
// Annex K.3.
func (d *Decoder) scanHeader(seg []byte) error {
	if len(seg) < 1 {
		return formatErr("empty scan header")
	}
	ns := int(seg[0])
	if len(seg) != 4+2*ns {
		return formatErr("scan header of %d bytes for %d components", len(seg), ns)
	}
	if d.ncomp == 3 {
		// image/jpeg's rules: an Adobe APP14 segment may mean RGB (transform
		// 0) or YCbCr, and without JFIF component ids R, G, B mean RGB.
		if d.adobe {
			return unsupported("Adobe colour transform")
		}
		if !d.jfif && d.comp[0].id == 'R' && d.comp[1].id == 'G' && d.comp[2].id == 'B' {
			return unsupported("RGB components")
		}
	}
	if ns != d.ncomp {
		return unsupported(fmt.Sprintf("scan of %d of %d components", ns, d.ncomp))
	}
	for i := range ns {
		c := &d.comp[i]
		if seg[1+2*i] != c.id {
			return unsupported("scan components out of frame order")
		}
		c.td, c.ta = int(seg[2+2*i]>>4), int(seg[2+2*i]&15)
		if c.td > 3 || c.ta > 3 {
			return formatErr("scan component %d: Huffman tables %d, %d", i, c.td, c.ta)
		}
		if !d.qset[c.tq] {
			// image/jpeg decodes with a table of zeros (a flat grey
			// component); so does this, rather than with the table of an
			// earlier frame.
			d.qt[c.tq] = [64]int32{}
			d.qset[c.tq] = true
		}
		if d.huff[0][c.td] == nil {
			if c.td > 1 {
				return formatErr("component %d: DC Huffman table %d missing", i, c.td)
			}
			d.huff[0][c.td] = &stdTables[c.td]
		}
		if d.huff[1][c.ta] == nil {
			if c.ta > 1 {
				return formatErr("component %d: AC Huffman table %d missing", i, c.ta)
			}
			d.huff[1][c.ta] = &stdTables[2+c.ta]
		}
	}
	// Spectral selection and approximation (the last 3 bytes) must be
	// 0-63 and 0 in a sequential scan; like image/jpeg, the decoder takes
	// them as that whatever they say.
	return nil
}
