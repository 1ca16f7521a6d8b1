package preprocess

import (
	"bytes"
	"fmt"
	"image"
	"math/rand/v2"
	"testing"
)

// TestWordTab checks the packed conversions against yuvToRGB and jfifToRGB
// for all 2^24 inputs.
func TestWordTab(t *testing.T) {
	for _, c := range []struct {
		name string
		tab  *wordTab
		conv func(y, cb, cr uint8) (uint8, uint8, uint8)
	}{
		{"limited", limitedWords, yuvToRGB},
		{"jfif", jfifWords, jfifToRGB},
	} {
		t.Run(c.name, func(t *testing.T) {
			for cb := range 256 {
				for cr := range 256 {
					crb, cg := c.tab.chroma(uint8(cb), uint8(cr))
					for y := range 256 {
						got := c.tab.word(uint8(y), crb, cg)
						if want := pack(c.conv(uint8(y), uint8(cb), uint8(cr))); got != want {
							t.Fatalf("word(%d, %d, %d) = %#x, want %#x", y, cb, cr, got, want)
						}
					}
				}
			}
		})
	}
}

// TestBoxMatchesRows: the box path gives the same bytes as resampleRows
// for every source type, over sizes that shrink by whole and fractional
// factors, with odd regions of interest (odd first columns and rows, which
// start inside a chroma pair) and letterbox bars.
func TestBoxMatchesRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	sizes := [][2]int{{640, 480}, {64, 64}, {65, 67}, {97, 61}, {128, 100}, {300, 257}}
	outs := [][2]int{{64, 64}, {20, 12}, {7, 9}, {1, 1}}
	opts := []Options{{}, {Fit: Letterbox}, {Fit: Stretch}, {ROI: image.Rect(3, 1, 60, 50), Fit: Stretch}}
	boxed := 0
	for _, f := range rawFormats {
		for _, sz := range sizes {
			w, h := sz[0], sz[1]
			stride := 0
			if f.row != nil {
				stride = f.row(w) + 2
			}
			frame := noise(rng, f.size(w, h, stride))
			for _, o := range outs {
				for _, opt := range opts {
					name := fmt.Sprintf("%s/%dx%d/to%dx%d/%v%v", f.name, w, h, o[0], o[1], opt.Fit, opt.ROI)
					box, rows := NewResizer(o[0], o[1], opt), NewResizer(o[0], o[1], opt)
					rows.noBox = true
					got, want := make([]uint8, box.OutLen()), make([]uint8, box.OutLen())
					if err := f.call(box, got, frame, w, h, stride); err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if err := f.call(rows, want, frame, w, h, stride); err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if box.box {
						boxed++
					}
					if !bytes.Equal(got, want) {
						t.Errorf("%s: box path differs from resampleRows", name)
					}
				}
			}
		}
	}
	if boxed == 0 {
		t.Fatal("no case took the box path")
	}
	// The camera's case takes it.
	r := NewResizer(64, 64, Options{})
	if err := r.Gray(make([]uint8, r.OutLen()), make([]uint8, 640*480), 640, 480, 640); err != nil {
		t.Fatal(err)
	}
	if !r.box {
		t.Error("640x480 to 64x64 does not take the box path")
	}
}
