package camera

import (
	"bytes"
	"image"
	"image/jpeg"
	"testing"
)

func TestInsertHuffmanTables(t *testing.T) {
	tests := []struct {
		name string
		w, h int
	}{
		{"small", 16, 16},
		{"odd", 37, 23},
		{"larger", 160, 120},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			orig := makeJPEG(t, tc.w, tc.h, 1)
			stripped := stripDHT(t, orig)
			if bytes.Contains(stripped[:bytes.Index(stripped, []byte{0xFF, 0xDA})], []byte{0xFF, 0xC4}) {
				t.Fatal("stripDHT left a DHT")
			}
			if _, err := jpeg.Decode(bytes.NewReader(stripped)); err == nil {
				t.Fatal("image/jpeg decoded a JPEG without Huffman tables; the test proves nothing")
			}
			fixed := InsertHuffmanTables(nil, stripped)
			got, err := jpeg.Decode(bytes.NewReader(fixed))
			if err != nil {
				t.Fatalf("decode after InsertHuffmanTables: %v", err)
			}
			want, err := jpeg.Decode(bytes.NewReader(orig))
			if err != nil {
				t.Fatal(err)
			}
			if !sameImage(got, want) {
				t.Error("decoded pixels differ from the original encoding")
			}
			if err := checkJPEG(fixed); err != nil {
				t.Errorf("result is not a well-formed JPEG: %v", err)
			}
			// With tables present it is an unchanged copy.
			again := InsertHuffmanTables(make([]byte, 3), fixed)
			if !bytes.Equal(again, fixed) {
				t.Error("a JPEG with a DHT was changed")
			}
		})
	}
}

func TestInsertHuffmanTablesBadInput(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"not jpeg", []byte("hello world")},
		{"soi only", []byte{0xFF, 0xD8}},
		{"truncated segment", []byte{0xFF, 0xD8, 0xFF, 0xDB, 0x00}},
		{"zero length", []byte{0xFF, 0xD8, 0xFF, 0xDB, 0x00, 0x00, 0xFF, 0xDA}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := InsertHuffmanTables(nil, tc.in); !bytes.Equal(got, tc.in) {
				t.Errorf("got % x, want an unchanged copy", got)
			}
		})
	}
}

func TestInsertHuffmanTablesAllocs(t *testing.T) {
	stripped := stripDHT(t, makeJPEG(t, 64, 48, 1))
	dst := make([]byte, 0, len(stripped)+len(stdDHT))
	if n := testing.AllocsPerRun(50, func() { dst = InsertHuffmanTables(dst, stripped) }); n != 0 {
		t.Errorf("%v allocations, want 0", n)
	}
	if len(stdDHT) != 420 {
		t.Errorf("standard DHT segment is %d bytes, want 420 (marker + length 0x01A2)", len(stdDHT))
	}
}

func sameImage(a, b image.Image) bool {
	if a.Bounds() != b.Bounds() {
		return false
	}
	for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y++ {
		for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x++ {
			r1, g1, b1, a1 := a.At(x, y).RGBA()
			r2, g2, b2, a2 := b.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 || a1 != a2 {
				return false
			}
		}
	}
	return true
}

// FuzzInsertHuffmanTables checks that bad input never panics and that the
// result is the input with at most the standard DHT inserted.
func FuzzInsertHuffmanTables(f *testing.F) {
	f.Add(makeJPEG(f, 8, 8, 1))
	f.Add(stripDHT(f, makeJPEG(f, 8, 8, 1)))
	f.Fuzz(func(t *testing.T, in []byte) {
		out := InsertHuffmanTables(nil, in)
		switch len(out) - len(in) {
		case 0:
			if !bytes.Equal(out, in) {
				t.Fatal("same length but changed")
			}
		case len(stdDHT):
			at := dhtInsertPoint(in)
			if at < 0 || !bytes.Equal(out[:at], in[:at]) || !bytes.Equal(out[at+len(stdDHT):], in[at:]) {
				t.Fatal("insertion is not a pure insertion before SOS")
			}
		default:
			t.Fatalf("output grew by %d bytes", len(out)-len(in))
		}
	})
}
