package camera

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

var pngMagic = []byte("\x89PNG\r\n\x1a\n")

// sniff tells JPEG from PNG by the first bytes of data.
func sniff(data []byte) Format {
	switch {
	case len(data) >= 2 && data[0] == 0xFF && data[1] == 0xD8:
		return JPEG
	case bytes.HasPrefix(data, pngMagic):
		return PNG
	}
	return FormatUnknown
}

// imageExt reports whether name has a JPEG or PNG extension.
func imageExt(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jpg", ".jpeg", ".jpe", ".png":
		return true
	}
	return false
}

// checkImage reports whether data is one complete JPEG or PNG file and
// which: a JPEG must have a whole marker structure from SOI to an EOI that
// is its last two bytes, a PNG a chain of chunks ending with IEND at the end
// of data. The check is structural; the pixels are not decoded.
func checkImage(data []byte) (Format, error) {
	switch sniff(data) {
	case JPEG:
		return JPEG, checkJPEG(data)
	case PNG:
		return PNG, checkPNG(data)
	}
	return FormatUnknown, errors.New("neither JPEG nor PNG")
}

func checkJPEG(data []byte) error {
	if len(data) < 4 || data[len(data)-2] != 0xFF || data[len(data)-1] != 0xD9 {
		return errors.New("JPEG does not end with EOI (FFD9)")
	}
	var buf [64]byte // the walk looks at no more than 4 bytes at a time
	sp := MJPEGSplitter{r: bytes.NewReader(data), buf: buf[:], maxFrame: len(data), discard: true}
	if err := sp.findSOI(); err != nil || sp.rp != 0 {
		return errors.New("JPEG does not start with SOI")
	}
	_, err := sp.frame(nil)
	switch {
	case err == errRestart:
		return errors.New("JPEG holds a second SOI")
	case err == io.ErrUnexpectedEOF:
		return errors.New("JPEG is truncated")
	case err != nil:
		return err
	}
	if end := sp.off + int64(sp.rp); end != int64(len(data)) {
		return fmt.Errorf("JPEG ends at byte %d of %d", end, len(data))
	}
	return nil
}

func checkPNG(data []byte) error {
	i := len(pngMagic)
	for {
		if len(data)-i < 12 {
			return errors.New("PNG is truncated (no IEND)")
		}
		n := binary.BigEndian.Uint32(data[i:])
		typ := data[i+4 : i+8]
		if n > uint32(len(data)-i-12) {
			return errors.New("PNG is truncated")
		}
		i += 12 + int(n)
		if string(typ) == "IEND" {
			if i != len(data) {
				return fmt.Errorf("PNG has %d bytes after IEND", len(data)-i)
			}
			return nil
		}
	}
}

// readFileInto reads the regular file name into dst[:0], reusing its
// capacity; files larger than max bytes are refused. It returns the file's
// information as of opening.
func readFileInto(dst []byte, name string, max int) ([]byte, os.FileInfo, error) {
	fh, err := os.Open(name)
	if err != nil {
		return dst[:0], nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return dst[:0], nil, err
	}
	if !st.Mode().IsRegular() {
		return dst[:0], st, fmt.Errorf("%s is not a regular file", name)
	}
	if st.Size() > int64(max) {
		return dst[:0], st, fmt.Errorf("%s is %d bytes, over the limit of %d", name, st.Size(), max)
	}
	dst = slices.Grow(dst[:0], int(st.Size())+1)
	for {
		if len(dst) == cap(dst) {
			if len(dst) >= max {
				return dst[:0], st, fmt.Errorf("%s grew over the limit of %d bytes", name, max)
			}
			dst = slices.Grow(dst, 4096)
		}
		n, err := fh.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return dst, st, nil
		}
		if err != nil {
			return dst[:0], st, err
		}
	}
}
