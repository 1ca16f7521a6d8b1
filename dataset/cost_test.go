package dataset

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"runtime"
	"strings"
	"testing"
)

// progressiveJPEG is the start of a progressive JPEG of w×h pixels with
// three components sampled hv each (0x11 for 4:4:4): tables, the frame
// header, the first DC scan and a little of its data, then the end. The
// standard decoder allocates the whole image and every coefficient at that
// first scan, before it finds the data short.
func progressiveJPEG(w, h uint16, hv byte) []byte {
	b := []byte{0xff, 0xd8}
	dqt := append([]byte{0xff, 0xdb, 0, 67, 0}, bytes.Repeat([]byte{1}, 64)...)
	b = append(b, dqt...)
	b = append(b, 0xff, 0xc2, 0, 17, 8)
	b = binary.BigEndian.AppendUint16(b, h)
	b = binary.BigEndian.AppendUint16(b, w)
	b = append(b, 3, 1, hv, 0, 2, 0x11, 0, 3, 0x11, 0)
	dht := append([]byte{0xff, 0xc4, 0, 20, 0x00, 1}, make([]byte, 15)...)
	b = append(append(b, dht...), 0) // one code of 1 bit: symbol 0 (no difference)
	b = append(b, 0xff, 0xda, 0, 12, 3, 1, 0, 2, 0, 3, 0, 0, 0, 0)
	b = append(b, make([]byte, 64)...)
	return append(b, 0xff, 0xd9)
}

// deepPNG is a PNG of w×h pixels of the given bit depth and color type
// with a valid header and a few rows of zero pixels: the standard decoder
// allocates the whole image before it finds the data short.
func deepPNG(w, h uint32, depth, ctype byte) []byte {
	chunk := func(b []byte, typ string, data []byte) []byte {
		b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
		c := append([]byte(typ), data...)
		b = append(b, c...)
		return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(c))
	}
	b := []byte("\x89PNG\r\n\x1a\n")
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	b = chunk(b, "IHDR", append(ihdr, depth, ctype, 0, 0, 0))
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(make([]byte, 4*(1+int(w)*8)))
	zw.Close()
	b = chunk(b, "IDAT", z.Bytes())
	return chunk(b, "IEND", nil)
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// TestHostileImagesStayBounded: images under the pixel limit whose
// decoding takes hundreds of megabytes (the adversarial round's
// progressive 4:4:4 JPEG of 6320x6320, ~605 MB, and 16-bit RGBA PNG of
// 6300x6300, 330 MB) are refused from their header, naming the cost,
// having allocated less than 64 MB; through DecodeImage (streams) and
// decodeBytes (files in memory).
func TestHostileImagesStayBounded(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"progressive 4:4:4 JPEG", progressiveJPEG(6320, 6320, 0x11), "progressive JPEG, 4:4:4 of 6320x6320 needs about 572 MB"},
		{"progressive 4:2:0 JPEG", progressiveJPEG(6000, 4000, 0x22), "progressive JPEG, 4:2:0 of 6000x4000 needs about 172 MB"},
		{"16-bit RGBA PNG", deepPNG(6300, 6300, 16, 6), "16-bit PNG of 6300x6300 needs about 304 MB"},
		{"8-bit RGB PNG", deepPNG(4000, 4000, 8, 2), "8-bit PNG of 4000x4000 needs about 62 MB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			n := allocated(func() { _, err = DecodeImage(bytes.NewReader(tc.data), 0) })
			if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "over the 48 MB") {
				t.Errorf("DecodeImage: %v, want ErrTooLarge saying %q", err, tc.want)
			}
			if n > 64<<20 {
				t.Errorf("DecodeImage allocated %d MB", n>>20)
			}
			t.Logf("%d bytes: refused having allocated %d kB", len(tc.data), n>>10)
			n = allocated(func() { _, err = decodeBytes(tc.data, 0) })
			if !errors.Is(err, ErrTooLarge) {
				t.Errorf("decodeBytes: %v, want ErrTooLarge", err)
			}
			if n > 64<<20 {
				t.Errorf("decodeBytes allocated %d MB", n>>20)
			}
		})
	}
}

// TestDecodeCostMatchesTheDecoder: the estimate is close to what the
// standard decoders allocate on images small enough to decode (within
// 10%, plus their fixed buffers), so the budget means what it says.
func TestDecodeCostMatchesTheDecoder(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"progressive 4:4:4 JPEG", progressiveJPEG(640, 480, 0x11)},
		{"progressive 4:2:0 JPEG", progressiveJPEG(640, 480, 0x22)},
		{"16-bit RGBA PNG", deepPNG(640, 480, 16, 6)},
		{"8-bit RGB PNG", deepPNG(640, 480, 8, 2)},
		{"16-bit grey PNG", deepPNG(640, 480, 16, 0)},
		{"baseline JPEG", encodeJPEG(t, pattern(640, 480, 3))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, _ := sniff(tc.data[:sniffLen])
			c, err := f.decodeConfig(bytes.NewReader(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			est, _, err := decodeCost(f, tc.data, c)
			if err != nil {
				t.Fatal(err)
			}
			got := allocated(func() { f.decode(bytes.NewReader(tc.data)) })
			if float64(est) < 0.9*float64(got)-256<<10 || float64(est) > 1.1*float64(got) {
				t.Errorf("estimated %d bytes, the decoder allocated %d", est, got)
			}
		})
	}
}

func TestJPEGFrameHeader(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "start marker"},
		{"no marker", []byte{0xff, 0xd8, 0x12, 0x34}, "no marker at byte 2"},
		{"ends", []byte{0xff, 0xd8, 0xff, 0xd9}, "ends before"},
		{"short segment", []byte{0xff, 0xd8, 0xff, 0xe0, 0, 40, 1}, "not found"},
		{"zero length", []byte{0xff, 0xd8, 0xff, 0xe0, 0, 0}, "not found"},
	} {
		if _, err := jpegFrameHeader(tc.b); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	sof, err := jpegFrameHeader(progressiveJPEG(10, 20, 0x22))
	if err != nil || sof[0] != 0xc2 || binary.BigEndian.Uint16(sof[2:]) != 20 || binary.BigEndian.Uint16(sof[4:]) != 10 {
		t.Errorf("frame header % x, %v", sof, err)
	}
}

// FuzzDecodeCost: any header bytes give an estimate or an error, never a
// panic, and an estimate is never negative.
func FuzzDecodeCost(f *testing.F) {
	f.Add(progressiveJPEG(64, 48, 0x22), true)
	f.Add(deepPNG(64, 48, 16, 6), false)
	f.Fuzz(func(t *testing.T, b []byte, isJPEG bool) {
		fm := formatPNG
		if isJPEG {
			fm = formatJPEG
		}
		n, _, err := decodeCost(fm, b, imageConfig(b))
		if err == nil && n < 0 {
			t.Fatalf("negative cost %d", n)
		}
	})
}

// imageConfig is a Config with dimensions taken from b (at most 65535 a
// side, as checkConfig would let through at most its pixel limit).
func imageConfig(b []byte) image.Config {
	if len(b) < 24 {
		return image.Config{Width: 1, Height: 1}
	}
	return image.Config{Width: int(binary.BigEndian.Uint16(b[18:])), Height: int(binary.BigEndian.Uint16(b[22:]))}
}
