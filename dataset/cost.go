package dataset

import (
	"encoding/binary"
	"errors"
	"fmt"
	"image"
)

// MaxDecodeBytes is the most memory DecodeImage lets a decoder take for
// one image, as estimated from its header. The pixel limit alone does not
// bound memory: a 40-megapixel progressive JPEG keeps every DCT
// coefficient as an int32 while it decodes (about 15 bytes a pixel at
// 4:4:4, 600 MB), a 16-bit RGBA PNG decodes into 8 bytes a pixel. Under a
// service's memory limit such a file, dropped as a label or sent as a
// frame, would get catd killed. 48 MiB takes a 30-megapixel baseline JPEG
// from a phone (4:2:0, 1.5 bytes a pixel) and an 11-megapixel PNG photo.
const MaxDecodeBytes = 48 << 20

// ErrTooCostly is wrapped (with ErrTooLarge) by the errors of DecodeImage
// for an image under the pixel limit whose decoding would take more than
// MaxDecodeBytes: a baseline JPEG among them can still be decoded scaled
// down in the DCT domain (preprocess.Resizer.JPEG), which takes a fraction
// of that.
var ErrTooCostly = errors.New("too costly to decode whole")

// errTooCostly is both ErrTooLarge and ErrTooCostly, and reads as the
// former.
type errTooCostly struct{}

func (errTooCostly) Error() string        { return ErrTooLarge.Error() }
func (errTooCostly) Is(target error) bool { return target == ErrTooLarge || target == ErrTooCostly }

// decodeCost returns the bytes the standard library's decoder allocates
// for the image whose header is at the start of head (what DecodeConfig
// read, which ends at the JPEG frame header or PNG's IHDR chunk), and a
// short description of the kind of image ("progressive JPEG, 4:4:4").
func decodeCost(f *format, head []byte, c image.Config) (int64, string, error) {
	if f == formatPNG {
		return pngCost(head, c)
	}
	return jpegCost(head)
}

// pngCost: the image the png package decodes into (its type follows the
// color type and bit depth), half again for an interlaced image (each
// pass is decoded into an image of its own before it is copied), and the
// two rows the filters need.
func pngCost(head []byte, c image.Config) (int64, string, error) {
	if len(head) < 29 || string(head[12:16]) != "IHDR" {
		return 0, "", errors.New("dataset: PNG without its IHDR chunk")
	}
	depth, ctype, interlaced := int64(head[24]), head[25], head[28] != 0
	var perPixel int64
	switch ctype {
	case 0: // grey: Gray or Gray16
		perPixel = max(1, depth/8)
	case 3: // paletted
		perPixel = 1
	case 2, 4, 6: // RGB, grey+alpha, RGBA: RGBA/NRGBA or their 16-bit twins
		perPixel = 4 * max(1, depth/8)
	default:
		return 0, "", fmt.Errorf("dataset: PNG color type %d", ctype)
	}
	px := int64(c.Width) * int64(c.Height)
	n := px * perPixel
	kind := fmt.Sprintf("%d-bit PNG", depth)
	if interlaced {
		n += n / 2
		kind = "interlaced " + kind
	}
	rowBytes := int64(c.Width)*perPixel*2 + 2
	return n + 2*rowBytes, kind, nil
}

// jpegCost: the planes of the decoded image (component by component, at
// their sampling, in whole MCUs); for four components twice that (the
// decoder converts to CMYK after decoding); and for a progressive JPEG
// every block's 64 coefficients as int32 (4 bytes a pixel of each plane)
// until the last scan.
func jpegCost(head []byte) (int64, string, error) {
	sof, err := jpegFrameHeader(head)
	if err != nil {
		return 0, "", err
	}
	marker, body := sof[0], sof[1:]
	if len(body) < 6 {
		return 0, "", errors.New("dataset: JPEG frame header too short")
	}
	h, w, nc := int64(binary.BigEndian.Uint16(body[1:])), int64(binary.BigEndian.Uint16(body[3:])), int(body[5])
	if nc == 0 || len(body) < 6+3*nc {
		return 0, "", errors.New("dataset: JPEG frame header too short for its components")
	}
	hmax, vmax := int64(1), int64(1)
	for i := range nc {
		hv := body[6+3*i+1]
		hmax, vmax = max(hmax, int64(hv>>4)), max(vmax, int64(hv&15))
	}
	mxx, myy := (w+8*hmax-1)/(8*hmax), (h+8*vmax-1)/(8*vmax)
	var planes int64
	for i := range nc {
		hv := body[6+3*i+1]
		planes += mxx * myy * int64(hv>>4) * int64(hv&15) * 64
	}
	n := planes
	if nc == 4 {
		n *= 2
	}
	kind := "JPEG"
	if progressive := marker == 0xc2 || marker == 0xc6 || marker == 0xca || marker == 0xce; progressive {
		n += 4 * planes
		kind = "progressive JPEG"
	}
	if nc == 3 {
		kind += ", " + subsampling(body[6+1], hmax, vmax)
	}
	return n, kind, nil
}

// subsampling names the chroma subsampling of a frame whose luma is
// sampled hv (the usual names; others as factors).
func subsampling(hv byte, hmax, vmax int64) string {
	if int64(hv>>4) != hmax || int64(hv&15) != vmax {
		return "unusual sampling"
	}
	switch [2]int64{hmax, vmax} {
	case [2]int64{1, 1}:
		return "4:4:4"
	case [2]int64{2, 1}:
		return "4:2:2"
	case [2]int64{2, 2}:
		return "4:2:0"
	case [2]int64{1, 2}:
		return "4:4:0"
	case [2]int64{4, 1}:
		return "4:1:1"
	}
	return fmt.Sprintf("%dx%d chroma subsampling", hmax, vmax)
}

// jpegFrameHeader finds the first frame header (SOFn) in JPEG data and
// returns its marker byte followed by its body (without the length).
func jpegFrameHeader(b []byte) ([]byte, error) {
	if len(b) < 2 || b[0] != 0xff || b[1] != 0xd8 {
		return nil, errors.New("dataset: JPEG without its start marker")
	}
	for i := 2; i+1 < len(b); {
		if b[i] != 0xff {
			return nil, fmt.Errorf("dataset: JPEG: no marker at byte %d", i)
		}
		m := b[i+1]
		switch {
		case m == 0xff: // fill byte
			i++
			continue
		case m == 0x01 || m >= 0xd0 && m <= 0xd8: // no length
			i += 2
			continue
		case m == 0xd9:
			return nil, errors.New("dataset: JPEG ends before its frame header")
		}
		if i+4 > len(b) {
			break
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if n < 2 || i+2+n > len(b) {
			break
		}
		if m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc {
			return append([]byte{m}, b[i+4:i+2+n]...), nil
		}
		i += 2 + n
	}
	return nil, errors.New("dataset: JPEG frame header not found")
}
