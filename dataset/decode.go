package dataset

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"strings"
)

// ErrNotImage is wrapped by the errors of DecodeImage for data that is
// neither JPEG nor PNG (judged by its first bytes, not by a file name).
var ErrNotImage = errors.New("not a JPEG or PNG image")

// ErrTooLarge is wrapped by the errors of DecodeImage for images whose
// header declares more pixels than the limit, and by Load for files over
// the byte limit.
var ErrTooLarge = errors.New("too large")

// format is one of the two image formats catd reads.
type format struct {
	name         string
	decode       func(io.Reader) (image.Image, error)
	decodeConfig func(io.Reader) (image.Config, error)
}

var (
	formatJPEG = &format{"JPEG", jpeg.Decode, jpeg.DecodeConfig}
	formatPNG  = &format{"PNG", png.Decode, png.DecodeConfig}
)

// sniffLen is how many leading bytes sniff and precheck look at: a PNG's
// signature and IHDR chunk up to its dimensions.
const sniffLen = 24

// sniff picks the format from the magic bytes at the start of the data.
func sniff(head []byte) (*format, error) {
	switch {
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return formatPNG, nil
	case bytes.HasPrefix(head, []byte{0xff, 0xd8, 0xff}):
		return formatJPEG, nil
	case len(head) == 0:
		return nil, fmt.Errorf("dataset: empty file: %w", ErrNotImage)
	}
	// The data itself is not quoted: it may be anything (a label folder
	// can be made to hold a file from elsewhere), and errors end up in logs.
	return nil, fmt.Errorf("dataset: %w", ErrNotImage)
}

// precheck rejects a PNG whose IHDR declares more than maxPixels pixels
// before the png package sees it: on 32-bit targets png.DecodeConfig
// itself refuses a large image with a "dimension overflow" error that
// would not say why.
func precheck(f *format, head []byte, maxPixels int) error {
	if f != formatPNG || len(head) < 24 || string(head[12:16]) != "IHDR" {
		return nil
	}
	w, h := binary.BigEndian.Uint32(head[16:]), binary.BigEndian.Uint32(head[20:])
	if w == 0 || h == 0 || uint64(w)*uint64(h) <= uint64(maxPixels) {
		return nil // let the decoder judge
	}
	return tooManyPixels(f, uint64(w), uint64(h), maxPixels)
}

func tooManyPixels(f *format, w, h uint64, maxPixels int) error {
	return fmt.Errorf("dataset: %s of %dx%d = %d pixels is over the limit of %d pixels: %w",
		f.name, w, h, w*h, maxPixels, ErrTooLarge)
}

// checkConfig rejects images with no pixels or more than maxPixels pixels.
func checkConfig(f *format, c image.Config, maxPixels int) error {
	if c.Width <= 0 || c.Height <= 0 {
		return fmt.Errorf("dataset: %s declares an empty %dx%d image", f.name, c.Width, c.Height)
	}
	// int64: on 32-bit targets an int product could overflow.
	if n := int64(c.Width) * int64(c.Height); n > int64(maxPixels) {
		return tooManyPixels(f, uint64(c.Width), uint64(c.Height), maxPixels)
	}
	return nil
}

// checkCost refuses an image whose decoding would take more than
// MaxDecodeBytes.
func checkCost(f *format, head []byte, c image.Config) error {
	n, kind, err := decodeCost(f, head, c)
	if err != nil {
		return err
	}
	if n > MaxDecodeBytes {
		return fmt.Errorf("dataset: %s of %dx%d needs about %d MB to decode, over the %d MB catd allows for one image (save it smaller%s): %w",
			kind, c.Width, c.Height, (n+1<<20-1)>>20, MaxDecodeBytes>>20, map[bool]string{true: ", or as a baseline JPEG"}[strings.HasPrefix(kind, "progressive")],
			errTooCostly{})
	}
	return nil
}

// DecodeImage decodes one JPEG or PNG image from r, recognised by its
// magic bytes. It first reads only the header (image.DecodeConfig) and
// refuses, with an error wrapping ErrTooLarge, an image of more than
// maxPixels pixels (maxPixels <= 0 means DefaultMaxPixels) or one whose
// decoding would take more than MaxDecodeBytes of memory, so a small file
// declaring a 20000x20000 image never makes it allocate gigabytes. Data of
// another kind gives an error wrapping ErrNotImage; corrupt or truncated
// data gives the decoder's error. DecodeImage does not limit how many bytes
// it reads: wrap r in an io.LimitReader for untrusted streams.
func DecodeImage(r io.Reader, maxPixels int) (image.Image, error) {
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	var magic [sniffLen]byte
	n, err := io.ReadFull(r, magic[:])
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, fmt.Errorf("dataset: read image: %w", err)
	}
	f, err := sniff(magic[:n])
	if err != nil {
		return nil, err
	}
	if err := precheck(f, magic[:n], maxPixels); err != nil {
		return nil, err
	}
	// Whatever the header decoder reads is kept in head and replayed to
	// the full decoder.
	rest := io.MultiReader(bytes.NewReader(magic[:n]), r)
	var head bytes.Buffer
	c, err := f.decodeConfig(io.TeeReader(rest, &head))
	if err != nil {
		return nil, fmt.Errorf("dataset: decode %s header: %w", f.name, err)
	}
	if err := checkConfig(f, c, maxPixels); err != nil {
		return nil, err
	}
	if err := checkCost(f, head.Bytes(), c); err != nil {
		return nil, err
	}
	img, err := f.decode(io.MultiReader(&head, rest))
	if err != nil {
		return nil, fmt.Errorf("dataset: decode %s: %w", f.name, err)
	}
	return img, nil
}

// decodeBytes is DecodeImage for data held in memory; it reads b twice
// instead of buffering.
func decodeBytes(b []byte, maxPixels int) (image.Image, error) {
	f, err := sniff(b[:min(len(b), sniffLen)])
	if err != nil {
		return nil, err
	}
	if err := precheck(f, b[:min(len(b), sniffLen)], maxPixels); err != nil {
		return nil, err
	}
	c, err := f.decodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("dataset: decode %s header: %w", f.name, err)
	}
	if err := checkConfig(f, c, maxPixels); err != nil {
		return nil, err
	}
	if err := checkCost(f, b, c); err != nil {
		return nil, err
	}
	img, err := f.decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("dataset: decode %s: %w", f.name, err)
	}
	return img, nil
}
